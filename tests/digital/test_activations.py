"""Activations: derivatives against finite differences, complex Wirtinger rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digital.activations import (
    ACTIVATIONS,
    COMPLEX_ACTIVATIONS,
    REAL_ACTIVATIONS,
    get_activation,
    modrelu,
)

H = 1e-6


def _real_grid() -> np.ndarray:
    z = np.linspace(-4.0, 4.0, 81)
    return z[np.abs(z) > 1e-3]  # ReLU and |z| have a kink at 0


@pytest.mark.parametrize("name", REAL_ACTIVATIONS)
def test_real_derivative_matches_central_difference(name: str) -> None:
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


@settings(max_examples=50, deadline=None)
@given(
    mag=st.floats(min_value=1e-3, max_value=10.0),
    angle=st.floats(min_value=-np.pi, max_value=np.pi),
    bias=st.floats(min_value=-2.0, max_value=0.0),
)
def test_modrelu_keeps_phase_and_shifts_modulus(mag: float, angle: float, bias: float) -> None:
    z = np.array([mag * np.exp(1j * angle)])
    out = modrelu(bias)(z)
    np.testing.assert_allclose(np.abs(out), [max(mag + bias, 0.0)], atol=1e-12)
    if mag + bias > 1e-9:
        np.testing.assert_allclose(np.angle(out), [angle], atol=1e-9)


def test_unknown_activation_names_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"activation='nope'.*tanh"):
        get_activation("nope")
