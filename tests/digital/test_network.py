"""The reference MLP: the seeds' worked example, gradients, shapes, input checks."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digital.activations import COMPLEX_ACTIVATIONS, REAL_ACTIVATIONS
from digital.gradcheck import gradcheck, relative_error
from digital.losses import LOSSES, half_squared_error
from digital.network import MLP, Network
from sim.ops import Recorder

GRADCHECK_TOL = 1e-6


def test_seed_example_linear_neuron() -> None:
    """Seeds: y = x1 w1 + x2 w2 on the case (1, 1, 0) gives E = (w1 + w2)².

    Our loss is half the squared error, so 2·E_half = (w1 + w2)² and its
    gradient is 2(w1 + w2)·(1, 1).
    """
    net = MLP([2, 1], activation="identity", bias="none", rng=np.random.default_rng(0))
    w1, w2 = 0.3, -1.1
    net.set_params({"W1": np.array([[w1, w2]])})
    y = net.forward(np.array([[1.0, 1.0]]))
    loss, dloss = half_squared_error(y, np.array([[0.0]]))
    assert 2 * loss == pytest.approx((w1 + w2) ** 2)
    grads = net.backward(dloss)
    np.testing.assert_allclose(2 * grads["W1"], [[2 * (w1 + w2), 2 * (w1 + w2)]])


def test_matrix_form_by_hand() -> None:
    """One hidden tanh layer, biases on a constant input, computed by hand."""
    net = MLP([1, 1, 1], activation=["tanh", "identity"], rng=np.random.default_rng(0))
    net.set_params({"W1": np.array([[2.0, 0.5]]), "W2": np.array([[3.0, -1.0]])})
    x = np.array([[0.25]])
    z1 = 2.0 * 0.25 + 0.5
    a1 = np.tanh(z1)
    y = 3.0 * a1 - 1.0
    np.testing.assert_allclose(net.forward(x), [[y]])
    g = net.backward(np.array([[1.0]]))
    np.testing.assert_allclose(g["W2"], [[a1, 1.0]])
    delta1 = (1 - a1**2) * 3.0
    np.testing.assert_allclose(g["W1"], [[delta1 * 0.25, delta1]])


@pytest.mark.parametrize(("activation", "loss"), list(itertools.product(REAL_ACTIVATIONS, LOSSES)))
def test_gradcheck_real(activation: str, loss: str) -> None:
    rng = np.random.default_rng(1)
    net = MLP([3, 5, 4, 3], activation=activation, rng=rng)
    x, t = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    assert gradcheck(net, x, t, loss) <= GRADCHECK_TOL


@pytest.mark.parametrize(
    ("activation", "loss"),
    list(itertools.product([*COMPLEX_ACTIVATIONS, "tanh", "identity"], LOSSES)),
)
@pytest.mark.parametrize("readout", ["abs", "abs2"])
def test_gradcheck_complex(activation: str, loss: str, readout: str) -> None:
    rng = np.random.default_rng(2)
    net = MLP([3, 4, 3], activation=[activation, readout], rng=rng, dtype=complex)
    x, t = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    assert gradcheck(net, x, t, loss) <= GRADCHECK_TOL


def test_gradcheck_detects_a_wrong_gradient() -> None:
    """The checker itself must fail a network whose backward is off by a factor."""

    class Broken(MLP):
        def backward(self, grad_output: np.ndarray) -> dict[str, np.ndarray]:
            return {k: 1.01 * g for k, g in super().backward(grad_output).items()}

    rng = np.random.default_rng(0)
    net = Broken([2, 3, 2], rng=rng)
    assert (
        gradcheck(net, rng.normal(size=(4, 2)), np.array([0, 1, 1, 0]), "half_squared_error") > 1e-3
    )


def test_gradcheck_error_is_relative_to_the_gradient_s_size() -> None:
    """A right gradient of a loss ×1e6 passes; 1 % off on gradients of ~1e-6 fails."""
    rng = np.random.default_rng(1)
    net, x, t = MLP([2, 3, 2], rng=rng), rng.normal(size=(4, 2)), np.array([0, 1, 1, 0])

    def scaled(factor: float) -> Any:
        def loss(y: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = half_squared_error(y, t)
            return factor * value, factor * grad

        return loss

    assert gradcheck(net, x, t, scaled(1e6)) < 1e-6
    assert relative_error(np.array([1.01e-6]), np.array([1e-6])) == pytest.approx(0.01 / 1.01)
    assert relative_error(np.array([1e6 + 1e-3]), np.array([1e6])) < 1e-8


def test_gradcheck_restores_parameters() -> None:
    rng = np.random.default_rng(0)
    net = MLP([2, 3, 2], rng=rng, dtype=complex, activation=["modrelu", "abs2"])
    before = net.params()
    gradcheck(net, rng.normal(size=(3, 2)), np.array([0, 1, 1]), "softmax_cross_entropy")
    for k, v in net.params().items():
        np.testing.assert_array_equal(v, before[k])


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    n_samples=st.integers(1, 7),
)
def test_shapes_any_depth(sizes: list[int], n_samples: int) -> None:
    rng = np.random.default_rng(0)
    net = MLP(sizes, rng=rng)
    assert isinstance(net, Network)
    y = net.forward(rng.normal(size=(n_samples, sizes[0])))
    assert y.shape == (n_samples, sizes[-1])
    grads = net.backward(np.ones_like(y))
    for key, p in net.params().items():
        assert grads[key].shape == p.shape
    assert len(grads) == len(sizes) - 1


def test_params_are_copies() -> None:
    net = MLP([2, 2], rng=np.random.default_rng(0))
    p = net.params()
    p["W1"][:] = 99.0
    assert not np.any(net.params()["W1"] == 99.0)


def test_recorder_gets_one_op_per_layer_per_pass() -> None:
    net = MLP([4, 8, 3], rng=np.random.default_rng(0))
    net.recorder = Recorder()
    y = net.forward(np.zeros((5, 4)))
    net.backward(np.ones_like(y))
    kinds = [(op.kind, op.layer, op.direction) for op in net.recorder.ops]
    assert kinds == [
        ("digital_compute", 0, "forward"),
        ("digital_compute", 1, "forward"),
        ("digital_compute", 1, "backward"),
        ("digital_compute", 0, "backward"),
    ]
    first = net.recorder.ops[0]
    assert first.flops == 2 * 5 * (4 + 1) * 8  # bias input counts as a column
    assert first.n_samples == 5 and first.n_ports == 8
    # backward: δᵀa and δW above the first layer; the first layer skips δW
    backward = {op.layer: op.flops for op in net.recorder.ops if op.direction == "backward"}
    assert backward == {1: 2 * (2 * 5 * (8 + 1) * 3), 0: 2 * 5 * (4 + 1) * 8}


def test_no_recorder_by_default() -> None:
    assert MLP([2, 2], rng=np.random.default_rng(0)).recorder is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layer_sizes": [2]}, "layer_sizes"),
        ({"layer_sizes": [2, 0]}, "layer_sizes"),
        ({"activation": "nope"}, r"activation='nope'.*tanh"),
        ({"activation": ["tanh"]}, "one per layer"),
        ({"dtype": np.float32}, "dtype"),
        ({"bias": "yes"}, "bias='yes'"),
        ({"activation": "abs2"}, "complex"),
        ({"activation": "relu", "dtype": complex}, "relu"),
        ({"activation": "tanh", "dtype": complex}, "last activation"),
        ({"layer_sizes": [True, 2]}, r"layer_sizes=\[True, 2\]"),
        ({"layer_sizes": [2, "x"]}, "layer_sizes=.*positive ints"),
        ({"layer_sizes": 5}, "layer_sizes=5"),
        ({"activation": None}, "activation=None must be a name"),
        ({"init_scale": float("nan")}, "init_scale=nan"),
        ({"init_scale": 0.0}, "init_scale=0.0"),
        ({"init_scale": "1"}, "init_scale='1'"),
    ],
)
def test_bad_construction_raises(kwargs: dict, match: str) -> None:
    args = {"layer_sizes": [2, 3, 2], "rng": np.random.default_rng(0), **kwargs}
    sizes = args.pop("layer_sizes")
    with pytest.raises((ValueError, TypeError), match=match):
        MLP(sizes, **args)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros((3, 4)), "3 columns|2 columns"),
        (np.zeros(2), "2-D"),
        (np.array([[np.nan, 0.0]]), "NaN"),
        (np.array([[np.inf, 0.0]]), "infinite"),
    ],
)
def test_bad_forward_input_raises(x: np.ndarray, match: str) -> None:
    net = MLP([2, 3, 2], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=match):
        net.forward(x)


def test_bad_params_raise() -> None:
    net = MLP([2, 3, 2], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="keys"):
        net.set_params({"W1": np.zeros((3, 3))})
    bad = net.params()
    bad["W2"] = np.zeros((5, 5))
    with pytest.raises(ValueError, match=r"params\['W2'\] has shape"):
        net.set_params(bad)
    bad = net.params()
    bad["W1"][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net.set_params(bad)


def test_backward_before_forward_raises() -> None:
    with pytest.raises(RuntimeError, match="forward"):
        MLP([2, 2], rng=np.random.default_rng(0)).backward(np.ones((1, 2)))


def test_backward_after_set_params_needs_a_new_forward() -> None:
    """The cached activations belong to the old weights: mixing them is refused."""
    rng = np.random.default_rng(0)
    net = MLP([2, 3, 2], rng=rng)
    x = rng.normal(size=(4, 2))
    y = net.forward(x)
    net.set_params({k: v + 0.1 for k, v in net.params().items()})
    with pytest.raises(RuntimeError, match="forward"):
        net.backward(np.ones_like(y))
    with pytest.raises(TypeError, match="x must be real; got complex"):
        net.forward(x + 1j)
    y = net.forward(x)
    with pytest.raises(TypeError, match="grad_output must be real"):
        net.backward(np.ones_like(y) + 1j)
