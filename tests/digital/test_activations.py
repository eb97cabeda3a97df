"""Activations: derivatives against finite differences, complex Wirtinger rules."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digital.activations import (
    ACTIVATIONS,
    COMPLEX_ACTIVATIONS,
    REAL_ACTIVATIONS,
    Activation,
    electro_optic,
    get_activation,
    modrelu,
)

H = 1e-6


def _real_grid() -> np.ndarray:
    z = np.linspace(-4.0, 4.0, 81)
    return z[np.abs(z) > 1e-3]  # ReLU and |z| have a kink at 0


@pytest.mark.parametrize("name", [*REAL_ACTIVATIONS, "abs", "abs2"])
def test_real_derivative_matches_central_difference(name: str) -> None:
    """Also |z| and |z|² on real input, where f' = ∂f/∂z + ∂f/∂z̄ (sign z, 2z)."""
    act = ACTIVATIONS[name]
    z = _real_grid()
    numeric = (act(z + H) - act(z - H)) / (2 * H)
    np.testing.assert_allclose(act.derivative(z), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "name",
    [n for n in (*REAL_ACTIVATIONS, *COMPLEX_ACTIVATIONS) if ACTIVATIONS[n].complex_input],
)
def test_backward_follows_complex_gradient_convention(name: str) -> None:
    """g_z = ∂L/∂Re z − i ∂L/∂Im z for L = Re(c · f(z)) with a fixed complex c."""
    act = ACTIVATIONS[name]
    rng = np.random.default_rng(3)
    z = rng.normal(size=20) + 1j * rng.normal(size=20)
    c = rng.normal(size=20) + 1j * rng.normal(size=20)
    if act.real_output:
        c = c.real

    def loss(zz: np.ndarray) -> np.ndarray:
        return np.real(c * act(zz))

    d_re = (loss(z + H) - loss(z - H)) / (2 * H)
    d_im = (loss(z + 1j * H) - loss(z - 1j * H)) / (2 * H)
    # L = Re(c a) ⇒ g_a = ∂L/∂Re a − i ∂L/∂Im a = c.
    np.testing.assert_allclose(act.backward(z, c), d_re - 1j * d_im, rtol=1e-6, atol=1e-8)


def test_known_values() -> None:
    z = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(ACTIVATIONS["relu"](z), [0.0, 0.0, 2.0])
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"](np.array([0.0])), [0.5])
    np.testing.assert_allclose(ACTIVATIONS["softplus"](np.array([0.0])), [np.log(2.0)])
    np.testing.assert_allclose(ACTIVATIONS["abs2"](np.array([3 + 4j])), [25.0])
    np.testing.assert_allclose(ACTIVATIONS["abs"](np.array([3 + 4j])), [5.0])


def test_sigmoid_and_softplus_are_stable_for_large_inputs() -> None:
    z = np.array([-1000.0, 1000.0])
    assert np.all(np.isfinite(ACTIVATIONS["sigmoid"](z)))
    np.testing.assert_allclose(ACTIVATIONS["softplus"](z), [0.0, 1000.0])


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "swish", "mish"])
def test_complex_activations_do_not_overflow_for_large_real_parts(name: str) -> None:
    """e^{±z} overflows beyond |Re z| ≈ 709; the results must stay finite and right."""
    act = ACTIVATIONS[name]
    z = np.array([-800.0 + 0.1j, 800.0 + 0.1j, -1000.0 - 2.0j, 1000.0 + 7.0j])
    with np.errstate(over="raise", invalid="raise"):
        out, grad = act(z), act.backward(z, np.ones(4, dtype=complex))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    # Limits: sigmoid → 0 / 1, swish and mish → 0 / z, softplus → 0 / z on the principal
    # branch (Im wrapped to (−π, π]).
    top = z[1::2]
    principal = top.real + 1j * np.angle(np.exp(1j * top.imag))
    high = {"sigmoid": np.ones(2), "softplus": principal, "swish": top, "mish": top}[name]
    np.testing.assert_allclose(out[0::2], 0.0, rtol=0, atol=1e-300)
    np.testing.assert_allclose(out[1::2], high, rtol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "softplus"])
def test_complex_stable_forms_equal_the_textbook_formulas(name: str) -> None:
    """Principal branch: log1p(exp z) and 1/(1 + exp(−z)) where those do not overflow."""
    rng = np.random.default_rng(5)
    z = rng.normal(scale=5.0, size=2000) + 1j * rng.normal(scale=10.0, size=2000)
    textbook = {"sigmoid": 1.0 / (1.0 + np.exp(-z)), "softplus": np.log1p(np.exp(z))}[name]
    np.testing.assert_allclose(ACTIVATIONS[name](z), textbook, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["abs", "abs2", "modrelu", "electro_optic"])
def test_derivative_refuses_non_holomorphic_complex_input(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}.*not holomorphic"):
        ACTIVATIONS[name].derivative(np.array([1.0 + 1.0j]))


def test_abs_gradient_is_finite_at_subnormal_moduli() -> None:
    z = np.array([1e-320 + 1e-320j, -3e-315j, 0j])
    with np.errstate(all="raise"):
        grad = ACTIVATIONS["abs"].backward(z, np.ones(3))
    # g_z = g_a·conj(z)/|z| for real g_a = 1: the conjugate unit phasor (0 at z = 0).
    np.testing.assert_allclose(grad, [np.exp(-1j * np.pi / 4), 1j, 0.0], rtol=0, atol=1e-3)


def test_modrelu_gradient_at_its_threshold() -> None:
    """Zero just below |z| = −b, the smooth branch just above; no 1/|z|³ warnings."""
    b = -0.1
    act, rng = modrelu(b), np.random.default_rng(11)
    angle = rng.uniform(-np.pi, np.pi, size=8)
    for mag, active in ((0.1 - 1e-3, False), (0.1 + 1e-3, True), (1e-120, False)):
        z = mag * np.exp(1j * angle)
        c = rng.normal(size=8) + 1j * rng.normal(size=8)
        with np.errstate(all="raise"):
            grad = act.backward(z, c)
        h = 1e-7

        def loss(zz: np.ndarray, c: np.ndarray = c) -> np.ndarray:
            return np.real(c * act(zz))

        numeric = (loss(z + h) - loss(z - h)) / (2 * h) - 1j * (
            loss(z + 1j * h) - loss(z - 1j * h)
        ) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
        assert np.all(grad != 0) if active else np.all(grad == 0)


@settings(max_examples=50, deadline=None)
@given(
    mag=st.floats(min_value=1e-3, max_value=10.0),
    angle=st.floats(min_value=-np.pi, max_value=np.pi),
    bias=st.floats(min_value=-2.0, max_value=0.0),
)
def test_modrelu_keeps_phase_and_shifts_modulus(mag: float, angle: float, bias: float) -> None:
    z = np.array([mag * np.exp(1j * angle)])
    out = modrelu(bias)(z)
    np.testing.assert_allclose(np.abs(out), [max(mag + bias, 0.0)], rtol=0, atol=1e-12)
    if mag + bias > 1e-9:
        np.testing.assert_allclose(np.angle(out), [angle], rtol=0, atol=1e-9)


def test_unknown_activation_names_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"activation='nope'.*tanh"):
        get_activation("nope")


def test_real_sigmoid_family_never_overflows() -> None:
    """σ(z) = 1/(1 + e^{−z}) written naively computes e^{1000} = inf for z = −1000: the
    value comes out right (1/inf = 0) but raises under np.errstate(over="raise"),
    which callers use to catch divergence. The stable forms must not overflow, and
    must still give σ(−1000) = 0, σ(1000) = 1, swish/mish ≈ 0 / z and softplus ≈ z
    at the ends."""
    z = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise"):  # underflow to 0 is harmless
        s = ACTIVATIONS["sigmoid"](z)
        ds = ACTIVATIONS["sigmoid"].derivative(z)
        sw = ACTIVATIONS["swish"](z)
        dsw = ACTIVATIONS["swish"].derivative(z)
        mi = ACTIVATIONS["mish"](z)
        dmi = ACTIVATIONS["mish"].derivative(z)
        sp = ACTIVATIONS["softplus"](z)
    np.testing.assert_allclose(s, [0.0, np.exp(-40.0), 0.5, 1.0, 1.0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(ds[[0, 2, 4]], [0.0, 0.25, 0.0], rtol=0, atol=1e-300)
    np.testing.assert_allclose(sw[[2, 3, 4]], [0.0, 40.0, 1000.0], rtol=1e-12)
    assert np.all(np.isfinite(dsw))
    np.testing.assert_allclose(mi[[2, 3, 4]], [0.0, 40.0, 1000.0], rtol=1e-12)
    assert np.all(np.isfinite(dmi))
    np.testing.assert_allclose(sp[[3, 4]], [40.0, 1000.0], rtol=1e-12)


def test_electro_optic_power_transmission_and_tap_range() -> None:
    """|f(z)|²/|z|² = (1 − α)·cos²((g|z|² + φ_b)/2) (Williamson et al.). With φ_b = π it
    is 0 for a vanishing field and 1 − α at |z|² = π/g; in between, at |z|² = π/(2g),
    it is (1 − α)/2. α = 1 would tap all the light (f ≡ 0), so α must be in [0, 1)."""
    alpha, g = 0.1, 0.05 * np.pi
    act = electro_optic(alpha=alpha, gain_rad=g, bias_rad=np.pi)
    power = np.array([1e-6, np.pi / (2 * g), np.pi / g, 3.7])
    z = np.sqrt(power) * np.exp(1j * 0.3)
    transmission = np.abs(act(z)) ** 2 / power
    expected = (1 - alpha) * np.cos((g * power + np.pi) / 2) ** 2
    np.testing.assert_allclose(transmission, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(transmission[1:3], [(1 - alpha) / 2, 1 - alpha], rtol=1e-12)
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="alpha="):
            electro_optic(alpha=bad)


@pytest.mark.parametrize("name", COMPLEX_ACTIVATIONS)
def test_networks_with_every_complex_activation_pickle(name: str) -> None:
    """A network goes to a process pool or Dask worker by pickle: the parameterised
    activations (modReLU, electro-optic) must not be closures. The copy computes the
    same outputs."""
    from digital.network import MLP
    from photonic.network import PhotonicNetwork

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2))
    mlp = MLP([2, 4, 2], activation=[name, "abs2"], dtype=complex, rng=rng)
    net = PhotonicNetwork(4, 2, n_features=2, activation=name, rng=rng)
    for model in (mlp, net):
        copy = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(copy.forward(x), model.forward(x))
    custom = electro_optic(alpha=0.2, gain_rad=3.0)
    z = rng.normal(size=5) + 1j * rng.normal(size=5)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(custom))(z), custom(z))


@pytest.mark.parametrize(
    ("make", "name", "bad", "error"),
    [
        (lambda v: modrelu(bias=v), "bias", float("nan"), ValueError),
        (lambda v: modrelu(bias=v), "bias", float("-inf"), ValueError),
        (lambda v: modrelu(bias=v), "bias", "x", TypeError),
        (lambda v: electro_optic(gain_rad=v), "gain_rad", float("nan"), ValueError),
        (lambda v: electro_optic(gain_rad=v), "gain_rad", None, TypeError),
        (lambda v: electro_optic(bias_rad=v), "bias_rad", float("inf"), ValueError),
        (lambda v: electro_optic(alpha=v), "alpha", float("nan"), ValueError),
        (lambda v: electro_optic(alpha=v), "alpha", "x", TypeError),
    ],
)
def test_activation_settings_must_be_finite_numbers(
    make: Any, name: str, bad: object, error: type[Exception]
) -> None:
    """A NaN setting would make every output NaN with no error; a string must be
    refused by name, not by a float() or '<=' deep inside."""
    with pytest.raises(error, match=f"{name}="):
        make(bad)
    assert np.all(np.isfinite(make(0.5)(np.array([1.0 + 1.0j, 0.1]))))


def test_a_users_derivatives_that_are_not_a_pair_are_refused_by_name() -> None:
    """derivatives(z) returning a bare f'(z) was unpacked along its first axis: for a
    batch of two, row 0 became ∂f/∂z and row 1 ∂f/∂z̄, a wrong gradient without an
    error; other batches gave a bare 'too many values to unpack'."""
    from digital.activations import Activation
    from digital.network import MLP

    bare = Activation(
        "my_tanh", np.tanh, lambda z: 1 - np.tanh(z) ** 2, complex_input=False, real_output=False
    )
    net = MLP([2, 2, 2], activation=[bare, "identity"], rng=np.random.default_rng(1))
    net.forward(np.ones((2, 2)))
    with pytest.raises(
        TypeError, match=r"activation 'my_tanh': derivatives\(z\) must return a pair"
    ):
        net.backward(np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"must return a pair .*; got ndarray of shape \(2,\)$"):
        bare.derivative(np.ones(2))
    wrong = Activation(
        "w", np.tanh, lambda z: (np.ones(5), None), complex_input=False, real_output=False
    )
    with pytest.raises(ValueError, match=r"gave ∂f/∂z of shape \(5,\) for z of shape \(3, 2\)"):
        wrong.backward(np.ones((3, 2)), np.ones((3, 2)))
    scalar = Activation("twice", lambda z: 2 * z, lambda z: (2.0, None), True, False)
    np.testing.assert_array_equal(scalar.backward(np.ones((3, 2)), np.ones((3, 2))), 2.0)


def test_a_users_derivatives_must_give_df_dz_of_zs_shape() -> None:
    """Only ∂f/∂z̄ may be None (zero); a ∂f/∂z of None, or of a shape that z broadcasts
    up to (not down from), is refused by name, not multiplied into a wrong gradient."""
    from digital.activations import Activation

    none = Activation("n", np.tanh, lambda z: (None, None), complex_input=False, real_output=False)
    with pytest.raises(ValueError, match=r"activation 'n': derivatives\(z\) gave ∂f/∂z of None"):
        none.backward(np.ones((3, 2)), np.ones((3, 2)))
    wider = Activation(
        "w", np.tanh, lambda z: (np.ones((4, 3, 2)), None), complex_input=False, real_output=False
    )
    with pytest.raises(
        ValueError, match=r"gave ∂f/∂z of shape \(4, 3, 2\) for z of shape \(3, 2\)"
    ):
        wider.backward(np.ones((3, 2)), np.ones((3, 2)))
    bar = Activation("b", np.tanh, lambda z: (np.ones_like(z), np.ones((4, 3, 2))), True, False)
    with pytest.raises(ValueError, match=r"gave ∂f/∂z̄ of shape \(4, 3, 2\)"):
        bar.backward(np.ones((3, 2)), np.ones((3, 2)))


def test_settings_are_the_partials_keywords_numbers_as_floats_others_by_repr() -> None:
    """A user's activation built from a partial: numbers as floats, anything else by
    its repr (a string keeps its quotes), sorted by name; a plain function has none."""
    import functools

    from digital.activations import Activation

    def f(z: Any, scale: float, mode: str) -> Any:
        return scale * z

    act = Activation(
        "mine",
        functools.partial(f, scale=np.float32(2), mode="fast"),
        lambda z: (np.ones_like(z), None),
        complex_input=False,
        real_output=False,
    )
    assert act.settings() == {"mode": "'fast'", "scale": 2.0}
    assert list(act.settings()) == ["mode", "scale"]
    assert type(act.settings()["scale"]) is float
    plain = Activation("p", np.tanh, lambda z: (np.ones_like(z), None), False, False)
    assert plain.settings() == {}


@pytest.mark.parametrize("shape", [(1, 3), (4, 1), (3,), (), (0, 3), (2, 4, 3)])
def test_backward_refuses_grad_a_of_another_shape_than_z(shape: tuple[int, ...]) -> None:
    """grad_a of shape (1, 3) for z of shape (4, 3) was broadcast over the batch: one
    sample's gradient silently taken for every sample's (an empty z gave a bare NumPy
    broadcast error)."""
    z = np.linspace(-1, 1, 12).reshape(4, 3)
    for name in ("tanh", "abs"):
        with pytest.raises(ValueError, match=rf"activation '{name}': grad_a has shape"):
            ACTIVATIONS[name].backward(z, np.ones(shape))
    with pytest.raises(ValueError, match=r"grad_a has shape \(4, 3\) but z has \(0, 3\)"):
        ACTIVATIONS["tanh"].backward(np.zeros((0, 3)), np.ones((4, 3)))


def test_an_activation_of_your_own_under_a_built_in_name_is_refused() -> None:
    """It was accepted, and a checkpoint of the built-in resumed into it without a word
    (checkpoints tell activations apart by name and settings)."""
    from digital.network import MLP
    from photonic.network import PhotonicNetwork

    builtin = ACTIVATIONS["abs"]
    impostor = Activation("abs", lambda z: np.tanh(np.abs(z)), builtin.derivatives, True, True)
    with pytest.raises(ValueError, match="'abs' is the name of a built-in activation"):
        get_activation(impostor)
    with pytest.raises(ValueError, match="'abs' is the name of a built-in activation"):
        PhotonicNetwork(4, 2, n_features=2, activation=impostor, rng=np.random.default_rng(0))
    renamed = Activation("tanh_abs", impostor.forward, builtin.derivatives, True, True)
    assert get_activation(renamed) is renamed
    # the built-ins themselves, and copies with other settings, are theirs
    for act in (*ACTIVATIONS.values(), modrelu(0.3), electro_optic(alpha=0.2)):
        assert get_activation(act) is act
    with pytest.raises(TypeError, match="activation=b'tanh' must be a name"):
        MLP([2, 3, 2], activation=b"tanh", rng=np.random.default_rng(0))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_bool_and_integer_input_is_computed_as_float64(name: str) -> None:
    """Before, tanh of a bool array was float16, abs and identity stayed bool, and
    sigmoid raised NumPy's 'boolean negative'."""
    act = get_activation(name)
    as_float = np.array([1.0, 0.0, -2.0])
    for z in (np.array([True, False]), np.array([1, 0, -2]), np.array([1, 0], np.uint8)):
        expected = act(as_float[: z.size])
        got = act(z)
        assert got.dtype == expected.dtype and got.dtype.kind in "fc"
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(act.derivative(z), act.derivative(as_float[: z.size]))
    with pytest.raises(TypeError, match="dtype <U1; an activation takes real or complex"):
        act(np.array(["a"]))
