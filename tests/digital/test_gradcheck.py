"""Finite-difference checks: the error measure refuses what would make it NaN."""

from __future__ import annotations

import numpy as np
import pytest

from digital.gradcheck import gradcheck, relative_error
from digital.network import MLP


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


def test_a_check_leaves_the_networks_recorded_trace_alone() -> None:
    """gradcheck's hundreds of perturbed passes were recorded into the network's trace:
    simulated after a sanity check, the trace was charged for all of them."""
    from digital.gradcheck import numerical_gradients
    from photonic.network import PhotonicNetwork
    from sim.ops import Recorder

    x = np.random.default_rng(1).normal(size=(4, 2))
    t = np.arange(4) % 2
    for net in (
        MLP([2, 3, 2], rng=np.random.default_rng(0)),
        PhotonicNetwork(4, 2, n_features=2, rng=np.random.default_rng(0)),
    ):
        recorder = Recorder()
        net.recorder = recorder  # type: ignore[union-attr]
        assert gradcheck(net, x, t, "softmax_cross_entropy") < 1e-6
        numerical_gradients(net, x, t, "softmax_cross_entropy")
        assert len(recorder) == 0
        assert net.recorder is recorder  # put back: the next training step is recorded
        net.forward(x)
        assert len(recorder) > 0
