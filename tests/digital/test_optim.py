"""Optimizers: by-hand steps, convergence on a quadratic, complex descent direction."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from digital.optim import SGD, Adam, Momentum, make_optimizer


def test_sgd_step_by_hand() -> None:
    new = SGD(lr=0.5).step({"w": np.array([1.0, 2.0])}, {"w": np.array([2.0, -2.0])})
    np.testing.assert_allclose(new["w"], [0.0, 3.0])


def test_momentum_accumulates() -> None:
    opt = Momentum(lr=1.0, beta=0.5)
    p = {"w": np.array([0.0])}
    p = opt.step(p, {"w": np.array([1.0])})  # v = 1
    p = opt.step(p, {"w": np.array([1.0])})  # v = 1.5
    np.testing.assert_allclose(p["w"], [-2.5])


def test_adam_first_step_is_lr_times_sign() -> None:
    new = Adam(lr=0.1).step({"w": np.array([0.0, 0.0])}, {"w": np.array([3.0, -0.01])})
    np.testing.assert_allclose(new["w"], [-0.1, 0.1], rtol=1e-6)


def test_adam_second_step_by_hand() -> None:
    """Bias correction at t = 2: gradients 1 then 3, β₁ = 0.9, β₂ = 0.999, lr = 0.1.

    m₂ = 0.9·0.1 + 0.1·3 = 0.39, m̂ = 0.39 / (1 − 0.9²) = 2.05263…;
    v₂ = 0.999·0.001 + 0.001·9 = 0.009999, v̂ = 0.009999 / (1 − 0.999²) = 5.00200…;
    w = −0.1 (first step) − 0.1·m̂/√v̂ = −0.19178….
    """
    opt = Adam(lr=0.1)
    p = opt.step({"w": np.array([0.0])}, {"w": np.array([1.0])})
    p = opt.step(p, {"w": np.array([3.0])})
    np.testing.assert_allclose(p["w"], [-0.1917781104876678], rtol=1e-7)


def test_adam_complex_steps_follow_the_textbook_recursion() -> None:
    """Three steps on complex parameters against Adam's formulas written out here,
    with the descent direction ``conj(g)`` and ``v`` of ``|g|²``; the moments are
    updated in place, so the caller's gradients and an earlier ``state()`` must stay
    as they were."""
    rng = np.random.default_rng(7)
    grads = [rng.normal(size=3) + 1j * rng.normal(size=3) for _ in range(3)]
    kept = [g.copy() for g in grads]
    opt = Adam(lr=0.05)
    p = {"w": np.array([0.5 + 1j, -1.0, 2j])}
    w, m, v = p["w"].copy(), np.zeros(3, complex), np.zeros(3)
    for t, g in enumerate(grads, start=1):
        p = opt.step(p, {"w": g})
        if t == 1:
            first_state = opt.state()
        m = 0.9 * m + 0.1 * np.conj(g)
        v = 0.999 * v + 0.001 * np.abs(g) ** 2
        w = w - 0.05 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(p["w"], w, rtol=1e-13, atol=1e-15)
    for g, before in zip(grads, kept, strict=True):
        np.testing.assert_array_equal(g, before)
    np.testing.assert_allclose(first_state["m/w"], 0.1 * np.conj(grads[0]), rtol=1e-15)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("dtype", [float, complex])
def test_converges_on_quadratic(name: str, dtype: type) -> None:
    """L = |w − c|² has gradient g = 2 conj(w − c) in our convention; all must find c."""
    c = np.array([1.0 - 2.0j, 0.5 + 0.0j]) if dtype is complex else np.array([1.0, -2.0])
    opt = make_optimizer(name, lr=0.05)
    p = {"w": np.zeros(2, dtype=dtype)}
    for _ in range(2000):
        g = 2 * np.conj(p["w"] - c) if dtype is complex else 2 * (p["w"] - c)
        p = opt.step(p, {"w": g})
    np.testing.assert_allclose(p["w"], c, rtol=0, atol=1e-3)


def test_inputs_are_not_modified() -> None:
    p = {"w": np.array([1.0])}
    Adam(lr=0.1).step(p, {"w": np.array([1.0])})
    assert p["w"][0] == 1.0


@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan")])
def test_non_positive_lr_raises(lr: float) -> None:
    for cls in (SGD, Momentum, Adam):
        with pytest.raises(ValueError, match="lr="):
            cls(lr=lr)


def test_bad_step_inputs_raise() -> None:
    opt = SGD(lr=0.1)
    with pytest.raises(ValueError, match="keys"):
        opt.step({"w": np.zeros(2)}, {"v": np.zeros(2)})
    with pytest.raises(ValueError, match="shape"):
        opt.step({"w": np.zeros(2)}, {"w": np.zeros(3)})
    with pytest.raises(ValueError, match="NaN"):
        opt.step({"w": np.zeros(2)}, {"w": np.array([np.nan, 0.0])})
    with pytest.raises(ValueError, match=r"optimizer='rmsprop'.*adam"):
        make_optimizer("rmsprop", lr=0.1)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda b: Momentum(lr=0.1, beta=b), "beta"),
        (lambda b: Adam(lr=0.1, beta1=b), "beta1"),
        (lambda b: Adam(lr=0.1, beta2=b), "beta2"),
    ],
)
@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5])
def test_decay_rates_outside_0_1_are_refused(make: Any, name: str, bad: float) -> None:
    """β = 1 is not a decay: momentum's v = Σ g never forgets, and Adam's bias
    correction 1 − β^t is 0, a division by zero. Only [0, 1) is allowed."""
    with pytest.raises(ValueError, match=f"{name}="):
        make(bad)
    make(0.0)  # the closed end is allowed


@pytest.mark.parametrize("make", [SGD, Momentum, Adam])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_step_refuses_non_finite_params(make: Any, bad: float) -> None:
    """Only the gradients were checked: a NaN parameter came back NaN, silently."""
    with pytest.raises(ValueError, match=r"params\['w'\] holds 1 NaN or infinite"):
        make().step({"w": np.array([bad, 1.0])}, {"w": np.array([0.1, 0.1])})


@pytest.mark.parametrize("make", [SGD, Momentum, Adam])
def test_step_refuses_what_is_not_a_dict_of_numbers(make: Any) -> None:
    opt = make()
    with pytest.raises(TypeError, match="params is a NoneType; expected a dict"):
        opt.step(None, {"w": np.zeros(1)})
    with pytest.raises(TypeError, match=r"grads\['w'\] must hold numbers; got dtype <U1"):
        opt.step({"w": np.zeros(1)}, {"w": np.array(["a"])})
    # lists of numbers are arrays: the step works on them
    np.testing.assert_allclose(opt.step({"w": [1.0]}, {"w": [0.0]})["w"], [1.0])


@pytest.mark.parametrize("make", [SGD, Momentum, Adam])
def test_a_complex_gradient_of_a_real_parameter_is_refused(make: Any) -> None:
    """It made the parameter complex, which set_params then refused far from the cause."""
    with pytest.raises(TypeError, match=r"grads\['w'\] is complex but params\['w'\] is real"):
        make().step({"w": np.zeros(2)}, {"w": np.array([1.0 + 1.0j, 0.5])})
    complex_step = make().step({"w": np.zeros(1, complex)}, {"w": np.array([1.0 + 0.0j])})
    assert np.iscomplexobj(complex_step["w"])


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda b: Momentum(beta=b), "beta"),
        (lambda b: Adam(beta1=b), "beta1"),
        (lambda b: Adam(beta2=b), "beta2"),
    ],
)
def test_decay_rates_must_be_numbers(make: Any, name: str) -> None:
    """'x' reached a raw '<=' TypeError that named no parameter."""
    with pytest.raises(TypeError, match=rf"{name}='x' must be a number in \[0, 1\)"):
        make("x")


@pytest.mark.parametrize("make", [Momentum, Adam])
def test_load_state_refuses_what_state_did_not_return(make: Any) -> None:
    with pytest.raises(TypeError, match="state is a NoneType"):
        make().load_state(None)
    if make is Adam:
        with pytest.raises(ValueError, match="state has no step count 't'"):
            Adam().load_state({})


@pytest.mark.parametrize("make", [lambda: Adam(lr=0.1), lambda: Momentum(lr=0.1)])
def test_an_optimizer_reused_for_another_network_is_refused_by_name(make: Any) -> None:
    """Its state is keyed by parameter name: a second network of another size failed
    with "operands could not be broadcast together with shapes (6,) (15,)"."""
    opt = make()
    small = {"layer1.theta_rad": np.zeros(6)}
    opt.step(small, {"layer1.theta_rad": np.ones(6)})
    large = {"layer1.theta_rad": np.zeros(15)}
    shape = r"holds \w+\['layer1.theta_rad'\] of shape \(6,\); params has \(15,\)"
    with pytest.raises(ValueError, match=shape):
        opt.step(large, {"layer1.theta_rad": np.ones(15)})
    other = {"W1": np.zeros(6)}
    names = r"holds state for parameters \['layer1.theta_rad'\], not \['W1'\]"
    with pytest.raises(ValueError, match=names):
        opt.step(other, {"W1": np.ones(6)})
    opt.step(small, {"layer1.theta_rad": np.ones(6)})  # the same network goes on


@pytest.mark.parametrize("make", [lambda: Adam(lr=0.1), lambda: Momentum(lr=0.1)])
def test_an_optimizer_reused_for_a_deeper_network_is_refused_by_name(make: Any) -> None:
    """A second network with the first one's layer (same name and shape) and one more:
    its first layer would go on with the other network's momentum while the new layer
    started from rest, with no error."""
    opt = make()
    opt.step({"layer1.theta_rad": np.zeros(6)}, {"layer1.theta_rad": np.ones(6)})
    deeper = {"layer1.theta_rad": np.zeros(6), "layer2.theta_rad": np.zeros(6)}
    names = r"holds state for parameters \['layer1.theta_rad'\], not \['layer1.theta_rad', 'layer2"
    with pytest.raises(ValueError, match=names):
        opt.step(deeper, {key: np.ones(6) for key in deeper})


def test_adam_promotes_loaded_moments_of_a_narrower_dtype() -> None:
    """Moments restored as integers (or real for a complex parameter) are promoted on
    the next step, as the out-of-place recursion did, not refused by an in-place add."""
    opt = Adam(lr=0.1)
    opt.load_state({"m/w": np.array([0, 0]), "v/w": np.array([0, 0]), "t": 0})
    new = opt.step({"w": np.array([1.0 + 0j, 0j])}, {"w": np.array([2.0 + 1j, 1.0])})
    fresh = Adam(lr=0.1).step({"w": np.array([1.0 + 0j, 0j])}, {"w": np.array([2.0 + 1j, 1.0])})
    np.testing.assert_allclose(new["w"], fresh["w"], rtol=1e-15)
    assert np.iscomplexobj(opt.state()["m/w"])
