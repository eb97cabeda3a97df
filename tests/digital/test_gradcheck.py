"""Finite-difference checks: the error measure refuses what would make it NaN."""

from __future__ import annotations

import numpy as np
import pytest

from digital.gradcheck import relative_error


def test_relative_error_by_hand() -> None:
    assert relative_error(np.array([1.0, 0.0]), np.array([1.5, 0.0])) == pytest.approx(1 / 3)
    assert relative_error(np.array([1e-12]), np.array([0.0]), floor=1.0) == pytest.approx(1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"analytic": np.array([np.nan])}, ValueError, "analytic holds 1 NaN"),
        ({"numeric": np.array([np.inf])}, ValueError, "numeric holds 1 NaN or infinite"),
        ({"floor": float("nan")}, ValueError, r"floor=nan must be a finite number ≥ 0"),
        ({"floor": -1.0}, ValueError, r"floor=-1\.0 must be a finite number ≥ 0"),
        ({"floor": "x"}, TypeError, r"floor='x' must be a number ≥ 0"),
        ({"analytic": np.array(["a"])}, TypeError, "analytic must hold numbers; got dtype <U1"),
    ],
)
def test_relative_error_refuses_what_makes_it_nan(
    kwargs: dict, error: type[Exception], match: str
) -> None:
    """A NaN gradient, value or floor returned NaN - which passes neither ``< tol`` nor
    ``> tol`` - and floor='x' was a raw ufunc error."""
    args = {"analytic": np.array([1.0]), "numeric": np.array([1.0]), **kwargs}
    floor = args.pop("floor", 0.0)
    with pytest.raises(error, match=match):
        relative_error(args["analytic"], args["numeric"], floor=floor)
