"""Finite-difference checks: the error measure refuses what would make it NaN."""

from __future__ import annotations

import numpy as np
import pytest

from digital.gradcheck import gradcheck, gradient_metrics, relative_error
from digital.network import MLP
from photonic.mesh import Phases


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


# -- gradient_metrics: whole gradients by direction and size --------------------------


def test_metrics_of_a_gradient_against_itself_its_negative_and_an_orthogonal_one() -> None:
    g = np.array([0.3, -1.2, 0.5, 2.0])
    same = gradient_metrics(g, g)
    assert same["epsilon"] == pytest.approx(0.0, abs=1e-15)
    assert same["cosine"] == pytest.approx(1.0)
    assert same["relative_error"] == 0.0
    assert same["sign_agreement"] == 1.0
    flipped = gradient_metrics(-g, g)
    assert flipped["epsilon"] == pytest.approx(2.0)
    assert flipped["cosine"] == pytest.approx(-1.0)
    assert flipped["relative_error"] == pytest.approx(2.0)
    assert flipped["sign_agreement"] == 0.0
    ortho = gradient_metrics(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert ortho["epsilon"] == pytest.approx(1.0)
    assert ortho["relative_error"] == pytest.approx(np.sqrt(2.0))


def test_epsilon_ignores_scale_but_relative_error_does_not() -> None:
    g = np.array([1.0, 2.0, -3.0])
    m = gradient_metrics(3.0 * g, g)
    assert m["epsilon"] == pytest.approx(0.0, abs=1e-15)
    assert m["relative_error"] == pytest.approx(2.0)
    # A measured gradient of 0 has no direction: cosine 0, ε 1, relative error 1.
    zero = gradient_metrics(np.zeros(3), g)
    assert (zero["cosine"], zero["epsilon"], zero["relative_error"]) == (0.0, 1.0, 1.0)


def test_epsilon_of_gradients_equal_to_rounding_is_never_negative() -> None:
    """1 − cos of a vector with itself rounds to −2.2e-16 for this one (and for a quarter
    of random vectors): ε must be ≥ 0, exact agreement 0, and cosine = 1 − ε ≤ 1."""
    g = np.random.default_rng(0).normal(size=12)
    assert gradient_metrics(g, g)["epsilon"] == 0.0
    assert gradient_metrics(g, g)["cosine"] == 1.0
    rng = np.random.default_rng(1)
    for _ in range(50):
        g = rng.normal(size=12)
        m = g * (1.0 + 1e-15 * rng.normal(size=12))  # equal up to rounding-size errors
        got = gradient_metrics(m, g)
        assert 0.0 <= got["epsilon"] < 1e-28
        assert got["cosine"] <= 1.0 and got["cosine"] == 1.0 - got["epsilon"]
    # Away from 0 it is still 1 − cos.
    a, b = np.array([1.0, 2.0, 0.5]), np.array([0.3, -1.0, 2.0])
    cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert gradient_metrics(a, b)["epsilon"] == pytest.approx(1.0 - cos, rel=1e-14)


def test_sign_agreement_skips_exactly_vanishing_components() -> None:
    """The Pai network's output phases have zero gradient; their noisy sign must not count."""
    g = np.array([1.0, -2.0, 1e-20, 0.0])
    measured = np.array([0.9, -2.1, -0.01, 0.02])
    assert gradient_metrics(measured, g)["sign_agreement"] == 1.0


def test_metrics_accept_phases_and_dicts() -> None:
    p = Phases(np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0, 7.0]))
    assert gradient_metrics(p, p.to_vector())["epsilon"] == pytest.approx(0.0, abs=1e-15)
    d = {"b": np.array([1.0, 2.0]), "a": np.array([[3.0]])}
    same = {"a": np.array([[3.0]]), "b": np.array([1.0, 2.0])}
    assert gradient_metrics(d, same)["relative_error"] == 0.0


def test_metrics_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="zero"):
        gradient_metrics(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="components"):
        gradient_metrics(np.ones(3), np.ones(4))


def test_complex_gradients_are_compared_as_real_pairs() -> None:
    """A complex entry is two real components: ε of g and i·g is 1 (orthogonal in ℝ²ⁿ),
    where the complex square of the old formula gave ε = 0 and a complex sign."""
    g = np.array([1.0 + 2.0j, -0.5 + 0.25j])
    assert gradient_metrics(g, g)["epsilon"] == 0.0
    turned = gradient_metrics(1j * g, g)
    assert turned["epsilon"] == pytest.approx(1.0)
    assert turned["relative_error"] == pytest.approx(np.sqrt(2.0))
    flipped_im = gradient_metrics(np.conj(g), g)
    pairs = np.array([1.0, 2.0, -0.5, 0.25])
    expected = gradient_metrics(pairs * [1, -1, 1, -1], pairs)
    assert flipped_im == expected
    assert flipped_im["sign_agreement"] == 0.5


@pytest.mark.parametrize(
    ("measured", "exact", "error", "match"),
    [
        (np.array([1.0, np.nan]), np.ones(2), ValueError, "measured"),
        (np.ones(2), np.array([np.inf, 1.0]), ValueError, "exact"),
        ({"a": np.ones(2)}, {"b": np.ones(2)}, ValueError, r"keys \['a'\]; exact has \['b'\]"),
        (np.array(["a", "b"]), np.ones(2), TypeError, "measured must hold numbers"),
        (
            {"out": np.zeros(1), "phi": np.ones(1), "theta": np.full(1, 2.0)},
            Phases(np.full(1, 2.0), np.ones(1), np.zeros(1)),
            ValueError,
            "measured is a dict and exact a Phases",
        ),
        (
            Phases(np.ones(1), np.ones(1), np.ones(1)),
            {"theta": np.ones(3)},
            ValueError,
            "exact is a dict and measured a Phases",
        ),
        (  # a flat array is no safer: to_vector() order against sorted keys (review)
            {"out": np.zeros(1), "phi": np.ones(1), "theta": np.full(1, 2.0)},
            np.array([2.0, 1.0, 0.0]),
            ValueError,
            "measured is a dict and exact a ndarray",
        ),
    ],
)
def test_metrics_refuse_what_would_make_them_meaningless(
    measured: object, exact: object, error: type[Exception], match: str
) -> None:
    """NaN came out as ε = NaN, silently; two dicts of other parameters were compared;
    a dict (sorted keys: out, phi, theta) against ``Phases`` (θ, φ, out) compared θ with
    out: the first pair here, the same gradient, gave ε = 0.8."""
    with pytest.raises(error, match=match):
        gradient_metrics(measured, exact)  # type: ignore[arg-type]
