"""The reference MLP: the seeds' worked example, gradients, shapes, input checks."""

from __future__ import annotations

import itertools
from pathlib import Path
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


def test_recorder_gets_the_products_and_activations_of_every_layer_and_pass() -> None:
    net = MLP([4, 8, 3], rng=np.random.default_rng(0))
    net.recorder = Recorder()
    y = net.forward(np.zeros((5, 4)))
    net.backward(np.ones_like(y))
    kinds = [(op.kind, op.layer, op.direction) for op in net.recorder.ops]
    assert kinds == [
        ("digital_compute", 0, "forward"),  # W a
        ("digital_compute", 0, "forward"),  # tanh
        ("digital_compute", 1, "forward"),
        ("digital_compute", 1, "forward"),
        ("digital_compute", 1, "backward"),  # tanh' applied to δ
        ("digital_compute", 1, "backward"),  # δᵀa, δW
        ("digital_compute", 0, "backward"),
        ("digital_compute", 0, "backward"),  # δᵀa
    ]
    products = [net.recorder.ops[i] for i in (0, 2, 5, 7)]
    first = products[0]
    assert first.flops == 2 * 5 * (4 + 1) * 8  # bias input counts as a column
    assert first.n_samples == 5 and first.n_ports == 8
    # backward: δᵀa and δW above the first layer; the first layer skips δW
    backward = {op.layer: op.flops for op in products if op.direction == "backward"}
    assert backward == {1: 2 * (2 * 5 * (8 + 1) * 3), 0: 2 * 5 * (4 + 1) * 8}


def test_activations_are_recorded_as_the_photonic_network_records_its_own() -> None:
    """The MLP recorded only its matrix products, while PhotonicNetwork records every
    host activation and derivative (sim.ops.activation_op): the digital side of a
    comparison did less work than it does. Now both use the one definition:
    ACTIVATION_FLOPS per element, one array read and one written (float64 for real
    weights, complex128 for complex); identity does no work and records nothing."""
    import photonic.network
    from sim.ops import ACTIVATION_FLOPS, activation_op

    assert photonic.network.activation_op is activation_op
    for dtype, word in ((float, 8), (complex, 16)):
        net = MLP([4, 8, 3], rng=np.random.default_rng(0), activation=["abs", "abs"], dtype=dtype)
        net.recorder = Recorder()
        net.backward(np.ones_like(net.forward(np.ones((5, 4)))))
        acts = [net.recorder.ops[i] for i in (1, 3, 4, 6)]
        assert [(op.layer, op.direction) for op in acts] == [
            (0, "forward"),
            (1, "forward"),
            (1, "backward"),
            (0, "backward"),
        ]
        for op in acts:
            width = 8 if op.layer == 0 else 3
            values = "complex" if dtype is complex else "real"
            expected = activation_op(
                op.layer, op.direction, n_ports=width, n_samples=5, values=values
            )
            assert op == expected
            assert (op.flops, op.bytes) == (ACTIVATION_FLOPS * 5 * width, word * 2 * 5 * width)
    logits = MLP([4, 8, 3], rng=np.random.default_rng(0), activation=["tanh", "identity"])
    logits.recorder = Recorder()
    logits.backward(np.ones_like(logits.forward(np.ones((5, 4)))))
    assert len(logits.recorder.ops) == 6  # 4 products, tanh and tanh'; no identity


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
        ({"dtype": "foo"}, r"dtype='foo' is not allowed; choose float or complex"),
        ({"dtype": [1, 2]}, r"dtype=\[1, 2\] is not allowed"),
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
    with pytest.raises(TypeError, match=r"params is a NoneType; expected a dict"):
        net.set_params(None)  # was: 'NoneType' object is not iterable
    bad = net.params()
    bad["W1"] = np.full((3, 3), "a")
    with pytest.raises(TypeError, match=r"params\['W1'\] must hold numbers; got dtype <U1"):
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


@pytest.mark.parametrize("dtype", [float, complex])
def test_gradcheck_without_bias_in_a_deep_network(dtype: type) -> None:
    """bias="none": δ travels back through every column of W (there is no bias column
    to drop), so a hidden layer's gradient needs all of W^l; checked by finite
    differences on a three-layer network, real and complex."""
    rng = np.random.default_rng(5)
    acts = ["tanh", "tanh", "identity"] if dtype is float else ["modrelu", "tanh", "abs2"]
    net = MLP([3, 4, 4, 3], activation=acts, rng=rng, dtype=dtype, bias="none")
    x, t = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    assert gradcheck(net, x, t, "softmax_cross_entropy") <= GRADCHECK_TOL


@pytest.mark.parametrize("dtype", [float, complex])
@pytest.mark.parametrize(("bias", "extra"), [("input", 1), ("none", 0)])
def test_initial_weight_variance_counts_the_bias_input(dtype: type, bias: str, extra: int) -> None:
    """Weights are N(0, s²/fan_in) with fan_in = n_in + 1 for the bias input (docstring).

    With n_in = 3 that is s²/4 with a bias and s²/3 without, a 33 % difference; the
    sample mean of |w|² over 6000 × 4 = 24 000 (without bias 18 000) draws has a
    relative standard error √(2/N) ≈ 0.9–1.05 % (complex: √(1/N)), so a 6 % tolerance
    is ≥ 5.7 of them and still separates the two. Complex weights split the
    variance: Var Re = Var Im = s²/(2 fan_in), so E|w|² is the same s²/fan_in.
    """
    scale, n_in = 1.5, 3
    net = MLP(
        [n_in, 6000],
        activation="identity" if dtype is float else "abs",
        rng=np.random.default_rng(7),
        dtype=dtype,
        bias=bias,  # type: ignore[arg-type]
        init_scale=scale,
    )
    w = net.params()["W1"]
    expected = scale**2 / (n_in + extra)
    np.testing.assert_allclose(np.mean(np.abs(w) ** 2), expected, rtol=0.06)
    if dtype is complex:
        np.testing.assert_allclose(np.var(w.real), expected / 2, rtol=0.06)
        np.testing.assert_allclose(np.var(w.imag), expected / 2, rtol=0.06)


def test_set_params_copies_its_input() -> None:
    """set_params installs copies (docstring): changing the caller's arrays afterwards,
    as an optimizer updating in place would, must not change the network."""
    net = MLP([2, 3, 2], rng=np.random.default_rng(0))
    new = {k: v + 1.0 for k, v in net.params().items()}
    net.set_params(new)
    kept = {k: v.copy() for k, v in new.items()}
    for v in new.values():
        v[...] = 42.0
    for k, v in net.params().items():
        np.testing.assert_array_equal(v, kept[k])


def test_recorder_counts_complex_work() -> None:
    """Complex: one multiply-add is 4 real multiplies and 4 real adds = 8 FLOPs, and a
    word is 16 bytes. A layer of weight shape (n_out, n_in) on n samples does
    n·n_in·n_out multiply-adds per product and moves the weights once plus, per
    product, n·(n_in + n_out) words of operands and results."""
    n, sizes = 5, [4, 8, 3]
    net = MLP(sizes, rng=np.random.default_rng(0), dtype=complex, activation=["tanh", "abs"])
    net.recorder = Recorder()
    y = net.forward(np.ones((n, sizes[0])))
    net.backward(np.ones_like(y))
    shapes = {0: (8, 4 + 1), 1: (3, 8 + 1)}  # (n_out, n_in + bias)
    products = [net.recorder.ops[i] for i in (0, 2, 5, 7)]  # between them: activations
    assert len(net.recorder.ops) == 8
    for op in products:
        n_out, n_in = shapes[op.layer]
        products = 2 if (op.direction == "backward" and op.layer > 0) else 1
        assert op.flops == 8 * n * n_in * n_out * products
        assert op.bytes == 16 * (n_out * n_in + n * (n_in + n_out) * products)


def test_relative_error_is_the_worst_entry() -> None:
    """gradcheck reports the worst entry, not an average that one bad entry hides in:
    entries (1, 1, 1, 2) against (1, 1, 1, 1) have errors 0, 0, 0 and |2 − 1|/2."""
    a, n = np.array([[1.0, 1.0], [1.0, 2.0]]), np.ones((2, 2))
    assert relative_error(a, n) == pytest.approx(0.5)
    assert relative_error(n, a) == pytest.approx(0.5)  # symmetric in a and n


def test_gradcheck_flags_a_wrong_gradient_far_above_round_off() -> None:
    """Entries below the floor FLOOR_FACTOR·ε·|L|/h (10⁷ finite-difference resolution
    units ε·|L|/h) are judged absolutely. A loss with a large constant offset (|L| =
    1000 × the largest gradient entry; the offset changes no gradient) puts that floor
    at ≈ 0.022 × the largest entry for h = 1e-4, so a backward that doubles every
    gradient is wrong by ≈ 45 floors on the largest entries and must be reported
    (error ≈ 1/2)."""

    class Doubled(MLP):
        def backward(self, grad_output: np.ndarray) -> dict[str, np.ndarray]:
            return {k: 2.0 * g for k, g in super().backward(grad_output).items()}

    rng = np.random.default_rng(4)
    net = Doubled([2, 3, 2], rng=rng)
    x, t = rng.normal(size=(4, 2)), np.array([0, 1, 1, 0])
    loss0, dloss = half_squared_error(net.forward(x), t)
    g_max = max(float(np.max(np.abs(g))) for g in MLP.backward(net, dloss).values())
    offset = 1e3 * g_max - loss0

    def offset_loss(y: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = half_squared_error(y, t)
        return value + offset, grad

    assert gradcheck(net, x, t, offset_loss) > 0.4


def test_a_forward_that_fails_leaves_nothing_for_backward() -> None:
    """A failed forward() kept the previous batch's cache (the complex-output check even
    ran after storing it), so backward() went on with a batch the caller no longer had."""
    net = MLP([2, 3, 2], rng=np.random.default_rng(0))
    y = net.forward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="x"):
        net.forward(np.full((3, 2), np.nan))
    with pytest.raises(RuntimeError, match=r"backward\(\) needs a forward\(\) first"):
        net.backward(np.ones_like(y))


def test_resuming_with_other_activations_is_refused(tmp_path: Path) -> None:
    """An MLP described nothing of itself to a checkpoint: a run checkpointed with tanh
    resumed silently with relu (same weight shapes), or with modReLU of another bias."""
    from digital.activations import modrelu
    from digital.datasets import load
    from digital.optim import Adam
    from digital.train import Checkpoint, train

    data = load("moons", n_samples=40, rng=np.random.default_rng(0))
    path = tmp_path / "ckpt.npz"

    def fit(net: MLP, epochs: int, existing: str) -> None:
        train(
            net,
            data,
            loss="softmax_cross_entropy",
            optimizer=Adam(lr=0.01),
            epochs=epochs,
            batch_size=16,
            rng=np.random.default_rng(2),
            progress="off",
            checkpoint=Checkpoint(path, existing=existing),  # type: ignore[arg-type]
        )

    fit(MLP([2, 4, 2], activation="tanh", rng=np.random.default_rng(1)), 1, "refuse")
    with pytest.raises(ValueError, match=r"belongs to another run: network\.activations"):
        fit(MLP([2, 4, 2], activation="relu", rng=np.random.default_rng(1)), 2, "resume")
    fit(MLP([2, 4, 2], activation="tanh", rng=np.random.default_rng(1)), 2, "resume")

    def complex_mlp(bias: float) -> MLP:
        return MLP(
            [2, 3, 2],
            activation=[modrelu(bias), "abs"],
            dtype=complex,
            rng=np.random.default_rng(1),
        )

    assert complex_mlp(-0.1).checkpoint_settings() != complex_mlp(-0.3).checkpoint_settings()
    assert complex_mlp(-0.1).checkpoint_settings()["activation_settings"] == [{"bias": -0.1}, {}]
    assert complex_mlp(-0.1).checkpoint_settings()["dtype"] == "complex128"
    real = MLP([2, 3, 2], rng=np.random.default_rng(1)).checkpoint_settings()
    assert real["dtype"] == "float64"


def test_not_recording_puts_the_recorder_back_even_when_the_block_raises() -> None:
    """The one take-off-and-restore of a recorder (train's evaluation, gradcheck)."""
    from digital.network import not_recording

    net = MLP([2, 3, 2], rng=np.random.default_rng(0))
    recorder = Recorder()
    net.recorder = recorder
    with pytest.raises(ValueError, match="x"), not_recording(net):
        assert net.recorder is None
        net.forward(np.ones((2, 2)))  # not recorded
        net.forward(np.full((2, 2), np.nan))  # fails inside the block
    assert net.recorder is recorder and recorder.ops == []
    net.recorder = None
    with not_recording(net):  # nothing to take off: left as it is
        net.forward(np.ones((2, 2)))
    assert net.recorder is None
