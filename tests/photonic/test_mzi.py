"""2×2 building blocks: closed forms, unitarity, loss, broadcasting."""

from __future__ import annotations

import re

import numba
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import photonic.mzi as mzi_module
from photonic.mzi import (
    amplitude_factor,
    coupler,
    inverse_2x2,
    mzi,
    mzi_halves,
    phase_screen,
    phasor,
    product_2x2,
    sandwich_2x2,
    unchecked_mzi_halves,
    unchecked_mzi_matrices,
)

angles = st.floats(min_value=-2 * np.pi, max_value=2 * np.pi, allow_nan=False)


def test_ideal_coupler_is_the_design_matrix() -> None:
    np.testing.assert_allclose(
        coupler(), np.array([[1, 1j], [1j, 1]]) / np.sqrt(2), rtol=0, atol=1e-15
    )


@settings(max_examples=50, deadline=None)
@given(theta=angles, phi=angles)
def test_mzi_closed_form_and_unitarity(theta: float, phi: float) -> None:
    t = mzi(theta, phi)
    half = theta / 2
    closed = (
        1j
        * np.exp(1j * half)
        * np.array(
            [
                [np.exp(1j * phi) * np.sin(half), np.cos(half)],
                [np.exp(1j * phi) * np.cos(half), -np.sin(half)],
            ]
        )
    )
    np.testing.assert_allclose(t, closed, rtol=0, atol=1e-14)
    np.testing.assert_allclose(t @ t.conj().T, np.eye(2), rtol=0, atol=1e-14)


def test_cross_and_bar_states() -> None:
    np.testing.assert_allclose(np.abs(mzi(0.0, 0.3)), [[0, 1], [1, 0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.abs(mzi(np.pi, 0.3)), [[1, 0], [0, 1]], rtol=0, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(eps=st.floats(min_value=-0.3, max_value=0.3), theta=angles, phi=angles)
def test_splitting_error_keeps_unitarity_and_changes_split(
    eps: float, theta: float, phi: float
) -> None:
    b = coupler(eps)
    np.testing.assert_allclose(b @ b.conj().T, np.eye(2), rtol=0, atol=1e-14)
    assert abs(b[0, 0]) ** 2 == pytest.approx(np.sin(np.pi / 4 + eps) ** 2)
    t = mzi(theta, phi, splitting_error_rad=[eps, -eps])
    np.testing.assert_allclose(t @ t.conj().T, np.eye(2), rtol=0, atol=1e-14)


def test_loss_scales_power_per_arm() -> None:
    assert amplitude_factor(3.0) ** 2 == pytest.approx(10 ** (-0.3))
    b = coupler(0.0, [1.0, 2.0])
    np.testing.assert_allclose(np.sum(np.abs(b) ** 2, axis=1), [10**-0.1, 10**-0.2])
    t = mzi(0.4, 1.0, loss_db=0.5)  # every arm of both couplers: power × 10^(-0.1)
    np.testing.assert_allclose(t @ t.conj().T, 10**-0.1 * np.eye(2), rtol=0, atol=1e-14)


def test_halves_compose_to_mzi_and_broadcast() -> None:
    rng = np.random.default_rng(0)
    theta, phi = rng.uniform(0, 6, (3, 5)), rng.uniform(0, 6, (3, 5))
    eps = rng.normal(0, 0.05, (3, 5, 2))
    loss = rng.uniform(0, 0.3, (3, 5, 2, 2))
    s1, s2 = mzi_halves(theta, phi, splitting_error_rad=eps, loss_db=loss)
    t = mzi(theta, phi, splitting_error_rad=eps, loss_db=loss)
    assert t.shape == (3, 5, 2, 2)
    np.testing.assert_allclose(s2 @ s1, t)
    i, j = 2, 3
    single = mzi(theta[i, j], phi[i, j], splitting_error_rad=eps[i, j], loss_db=loss[i, j])
    np.testing.assert_allclose(t[i, j], single)
    np.testing.assert_allclose(phase_screen(np.zeros(4)), np.broadcast_to(np.eye(2), (4, 2, 2)))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 300),
    chip=st.sampled_from(["ideal", "shared scalars", "per MZI"]),
    seed=st.integers(0, 2**32 - 1),
)
@example(n=300, chip="per MZI", seed=1)  # the tangent route, every time
@example(n=0, chip="ideal", seed=0)
def test_compiled_mzi_matrices_are_the_numpy_ones(n: int, chip: str, seed: int) -> None:
    """The compiled ``(S₁, S₂, T)`` of a phase set equal the NumPy halves and their
    product, for the ideal chip, errors shared by every MZI and errors per MZI
    (from n = 256 MZIs on the NumPy phasor takes its tangent route instead of ``exp``)."""
    rng = np.random.default_rng(seed)
    theta, phi = rng.uniform(-7, 7, n), rng.uniform(-7, 7, n)
    if chip == "ideal":
        eps, loss = np.zeros(()), np.zeros(())
    elif chip == "shared scalars":
        eps, loss = np.array(rng.normal(0, 0.05)), np.array(rng.uniform(0, 0.5))
    else:
        eps, loss = rng.normal(0, 0.05, (n, 2)), rng.uniform(0, 0.5, (n, 2, 2))
    s1, s2, t = unchecked_mzi_matrices(theta, phi, eps, loss)
    ref1, ref2 = unchecked_mzi_halves(theta, phi, eps, loss)
    assert s1.shape == s2.shape == t.shape == (n, 2, 2)
    for got, ref in ((s1, ref1), (s2, ref2), (t, product_2x2(ref2, ref1))):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-15)


@numba.njit
def _compiled_cos_sin(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cos, sin = np.empty_like(x), np.empty_like(x)
    mzi_module._cos_sin(x, cos, sin)
    return cos, sin


@settings(max_examples=60, deadline=None)
@given(
    x=st.lists(
        st.one_of(
            st.floats(-10, 10),
            st.floats(-1e7, 1e7),  # beyond 2**20 the libm route
            st.integers(-4000, 4000).map(lambda k: k * np.pi / 4),  # quadrant edges
            st.sampled_from([0.0, -0.0, 2.0**20, -(2.0**20), np.nextafter(2.0**20, 0)]),
        ),
        max_size=40,
    )
)
def test_compiled_cos_sin_within_4p5e_16_of_libm(x: list[float]) -> None:
    """The vectorised ``cos``/``sin`` of the compiled MZI matrices agree with NumPy's
    within 4.5e-16 (absolute, as a phasor's error is) everywhere: quadrant edges,
    reduced and libm routes."""
    phases = np.array(x, dtype=np.float64)
    cos, sin = _compiled_cos_sin(phases)
    np.testing.assert_allclose(cos, np.cos(phases), rtol=0, atol=4.5e-16)
    np.testing.assert_allclose(sin, np.sin(phases), rtol=0, atol=4.5e-16)


def test_compiled_cos_sin_keeps_nan_for_non_finite_phases() -> None:
    """NaN and ±inf give NaN (the public functions refuse them before this point)."""
    cos, sin = _compiled_cos_sin(np.array([np.nan, np.inf, -np.inf]))
    assert np.isnan(cos).all() and np.isnan(sin).all()


def test_compiled_mzi_matrices_per_mzi_errors_sit_at_their_mzi() -> None:
    """Each MZI takes its own row of errors and losses (not the first MZI's)."""
    theta, phi = np.array([0.3, 1.1, 2.0]), np.array([0.5, -0.4, 3.0])
    eps = np.array([[0.0, 0.0], [0.1, -0.05], [0.02, 0.07]])
    loss = np.array([np.zeros((2, 2)), [[0.1, 0.3], [0.2, 0.0]], [[1.0, 0.0], [0.0, 2.0]]])
    _, _, t = unchecked_mzi_matrices(theta, phi, eps, loss)
    for m in range(3):
        expected = _by_hand_mzi(theta[m], phi[m], eps[m], loss[m])
        np.testing.assert_allclose(t[m], expected, rtol=0, atol=1e-15)


def _by_hand_mzi(theta: float, phi: float, eps: np.ndarray, loss_db: np.ndarray) -> np.ndarray:
    """``T = L₂B(ε₂)D(θ)L₁B(ε₁)D(φ)`` written from parameters.md, not from photonic.mzi.

    ``eps = (ε₁, ε₂)`` of the (first, second) coupler; ``loss_db[k] = (top, bottom)``
    power loss of coupler k's output arms, applied as field factors 10^(−dB/20).
    """

    def b(e: float) -> np.ndarray:
        s, c = np.sin(np.pi / 4 + e), np.cos(np.pi / 4 + e)
        return np.array([[s, 1j * c], [1j * c, s]])

    def arms(db: np.ndarray) -> np.ndarray:
        return np.diag(10.0 ** (-db / 20.0))

    def d(x: float) -> np.ndarray:
        return np.diag([np.exp(1j * x), 1.0])

    return arms(loss_db[1]) @ b(eps[1]) @ d(theta) @ arms(loss_db[0]) @ b(eps[0]) @ d(phi)


def test_coupler_errors_and_arm_losses_sit_where_the_model_says() -> None:
    """Each coupler's own ε and its output arms' own losses, against a by-hand product.

    All four losses and both ε differ, so swapping couplers, arms or input and
    output arms changes the matrix.
    """
    rng = np.random.default_rng(11)
    theta, phi = rng.uniform(0, 2 * np.pi, size=(2, 6))
    eps = rng.uniform(-0.2, 0.2, size=(6, 2))
    loss = rng.uniform(0.0, 3.0, size=(6, 2, 2))
    expected = np.stack([_by_hand_mzi(theta[i], phi[i], eps[i], loss[i]) for i in range(6)])
    s1, s2 = mzi_halves(theta, phi, splitting_error_rad=eps, loss_db=loss)
    np.testing.assert_allclose(s2 @ s1, expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(
        mzi(theta, phi, splitting_error_rad=eps, loss_db=loss), expected, rtol=0, atol=1e-14
    )
    by_coupler = (
        coupler(eps[:, 1], loss[:, 1])
        @ phase_screen(theta)
        @ coupler(eps[:, 0], loss[:, 0])
        @ phase_screen(phi)
    )
    np.testing.assert_allclose(by_coupler, expected, rtol=0, atol=1e-14)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.sampled_from([1, 300]))
def test_phasor_is_exp_ix(x: float, size: int) -> None:
    """Both routes (exp for small arrays, the tangent for large ones) give e^{ix}."""
    got = phasor(np.full(size, x))
    assert np.abs(got - np.exp(1j * x)).max() <= 4e-16
    assert np.abs(np.abs(got) - 1.0).max() <= 5e-16


@pytest.mark.parametrize("reps", [1, 50])  # 6 phases (exp) and 300 (tangent)
def test_phasor_at_the_awkward_phases_and_any_shape(reps: int) -> None:
    # x = ±π makes tan(x/2) ≈ ±1.6e16: the formula must still land on −1
    x = np.tile([[0.0, np.pi, -np.pi], [np.pi / 2, 2 * np.pi, 3 * np.pi]], (reps, 1))
    got = phasor(x)
    assert got.shape == x.shape and got.dtype == np.complex128
    np.testing.assert_allclose(got, np.exp(1j * x), rtol=0, atol=4e-16)
    assert phasor(0.0) == 1.0 and np.shape(phasor(0.0)) == ()
    with pytest.raises(TypeError, match="x_rad must be real"):
        phasor(np.ones(reps * 6, dtype=complex))


def test_inverse_2x2() -> None:
    rng = np.random.default_rng(1)
    m = rng.normal(size=(7, 2, 2)) + 1j * rng.normal(size=(7, 2, 2))
    np.testing.assert_allclose(
        inverse_2x2(m) @ m, np.broadcast_to(np.eye(2), (7, 2, 2)), rtol=0, atol=1e-12
    )


def test_product_2x2_is_matmul() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(5, 3, 2, 2)) + 1j * rng.normal(size=(5, 3, 2, 2))
    b = rng.normal(size=(3, 2, 2)) + 1j * rng.normal(size=(3, 2, 2))
    np.testing.assert_allclose(product_2x2(a, b), a @ b, rtol=0, atol=1e-14)


def test_sandwich_2x2_is_row_matrix_column() -> None:
    rng = np.random.default_rng(3)
    row = rng.normal(size=(4, 3, 2)) + 1j * rng.normal(size=(4, 3, 2))
    m = rng.normal(size=(3, 2, 2)) + 1j * rng.normal(size=(3, 2, 2))
    col = rng.normal(size=(4, 3, 2)) + 1j * rng.normal(size=(4, 3, 2))
    expected = (row[..., None, :] @ m @ col[..., :, None])[..., 0, 0]
    np.testing.assert_allclose(sandwich_2x2(row, m, col), expected, rtol=0, atol=1e-14)
    # one stack of strided views, as the in-situ code passes them (no copy made)
    s1 = rng.normal(size=(5, 2, 2)) + 1j * rng.normal(size=(5, 2, 2))
    m5 = rng.normal(size=(5, 2, 2))  # real: promoted
    expected = (s1[:, None, 0, :] @ m5 @ s1[:, :, 0, None])[:, 0, 0]
    np.testing.assert_allclose(sandwich_2x2(s1[:, 0, :], m5, s1[:, :, 0]), expected, atol=1e-14)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_mzi_refuses_non_finite_phases_by_name(bad: float) -> None:
    """A NaN phase would give an all-NaN matrix (DESIGN.md §2: never a silent NaN)."""
    with pytest.raises(ValueError, match=r"theta_rad holds 1 NaN or infinite"):
        mzi(np.array([0.1, bad]), 0.0)
    with pytest.raises(ValueError, match=r"phi_rad holds 1 NaN or infinite"):
        mzi(0.0, bad)


def test_splitting_error_is_a_coupler_pair_per_mzi_never_one_value_per_mzi() -> None:
    """``(n,)`` for n MZIs was read as one (first, second) pair: its first two values
    went to every MZI and the rest were dropped, silently."""
    with pytest.raises(
        ValueError, match=r"splitting_error_rad has shape \(3,\); allowed: .*\(n, 2\)"
    ):
        mzi(np.zeros(3), np.zeros(3), splitting_error_rad=np.array([0, 0, 0.3]))
    with pytest.raises(ValueError, match=r"splitting_error_rad has shape \(3, 3\)"):
        mzi_halves(np.zeros(3), np.zeros(3), splitting_error_rad=np.zeros((3, 3)))
    eps = np.array([[0.0, 0.0], [0.0, 0.0], [0.3, -0.1]])
    t = mzi(np.zeros(3), np.zeros(3), splitting_error_rad=eps)
    np.testing.assert_allclose(t[2], mzi(0.0, 0.0, splitting_error_rad=eps[2]), rtol=0, atol=0)
    assert not np.allclose(t[2], t[0])


def test_a_1d_pair_of_splitting_errors_is_shared_by_every_mzi() -> None:
    """The documented convention: the last axis is the coupler pair, also for 2 MZIs."""
    t = mzi(np.zeros(2), np.zeros(2), splitting_error_rad=[0.1, 0.2])
    one = mzi(0.0, 0.0, splitting_error_rad=[0.1, 0.2])
    np.testing.assert_array_equal(t, np.stack([one, one]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_splitting_errors_and_losses_are_refused_by_name(bad: float) -> None:
    """They gave an all-NaN matrix (DESIGN.md §2: never a silent NaN)."""
    loss_pairs = np.array([[0.1, 0.2], [0.3, bad]])  # [coupler, arm]
    for call, loss in (
        (lambda **kw: mzi(0.5, 0.2, **kw), loss_pairs),
        (lambda **kw: mzi_halves(0.5, 0.2, **kw), loss_pairs),
        (lambda **kw: coupler(**kw), loss_pairs[1]),  # [arm]
    ):
        with pytest.raises(ValueError, match=r"splitting_error_rad holds 1 NaN or infinite"):
            call(splitting_error_rad=bad)
        with pytest.raises(ValueError, match=r"loss_db holds 1 NaN or infinite"):
            call(loss_db=loss)


def test_non_finite_loss_in_a_full_array_is_refused() -> None:
    loss = np.zeros((3, 2, 2))
    loss[1, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"loss_db holds 1 NaN or infinite"):
        mzi(np.zeros(3), np.zeros(3), loss_db=loss)


def test_negative_loss_is_refused_not_a_gain() -> None:
    """A negative loss made the MZI amplify: T Tᴴ = 10^(0.6) I for loss_db=-3."""
    with pytest.raises(
        ValueError, match=r"loss_db holds negative value\(s\) \(min -3.0\).* ≥ 0 dB"
    ):
        mzi(0.5, 0.2, loss_db=-3)
    loss = np.full((3, 2, 2), 0.2)
    loss[2, 1, 0] = -0.1
    with pytest.raises(ValueError, match=r"loss_db holds negative value\(s\) \(min -0.1\)"):
        mzi_halves(np.zeros(3), np.zeros(3), loss_db=loss)
    with pytest.raises(ValueError, match=r"loss_db holds negative value\(s\)"):
        coupler(0.0, [0.5, -1.0])
    np.testing.assert_allclose(mzi(0.5, 0.2, loss_db=0.0), mzi(0.5, 0.2), rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(3,), (2,), (3, 2), (3, 2, 3)])
def test_a_loss_of_the_wrong_shape_is_refused_by_name(shape: tuple[int, ...]) -> None:
    """``(3,)`` gave a bare IndexError; ``(3, 2)`` silently used ``loss[0]`` and
    ``loss[1]`` as the two couplers of every MZI."""
    with pytest.raises(ValueError, match=rf"loss_db has shape {re.escape(str(shape))}; allowed"):
        mzi(np.zeros(3), np.zeros(3), loss_db=np.zeros(shape))


def test_coupler_loss_must_end_in_the_arms() -> None:
    with pytest.raises(ValueError, match=r"loss_db has shape \(3,\); allowed: .*\(n, 2\)"):
        coupler(np.zeros(3), np.zeros(3))
    both = coupler(np.zeros(3), np.full((3, 1), 1.0))
    np.testing.assert_allclose(both, coupler(np.zeros(3), np.full((3, 2), 1.0)), rtol=0, atol=0)


def test_shapes_that_do_not_broadcast_are_named() -> None:
    with pytest.raises(ValueError, match=r"theta_rad \(3,\), phi_rad \(4,\)"):
        mzi(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"splitting_error_rad \(4, 2\)"):
        mzi(np.zeros(3), np.zeros(3), splitting_error_rad=np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"loss_db \(4, 2, 2\)"):
        mzi_halves(np.zeros(3), np.zeros(3), loss_db=np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match=r"splitting_error_rad \(3,\), loss_db \(4, 2\)"):
        coupler(np.zeros(3), np.zeros((4, 2)))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"splitting_error_rad": 0.1j}, "splitting_error_rad"),
        ({"loss_db": "1"}, "loss_db"),
        ({"loss_db": None}, "loss_db"),
    ],
)
def test_non_real_errors_and_losses_are_refused_by_name(kwargs: dict, name: str) -> None:
    with pytest.raises(TypeError, match=rf"{name}=.* must hold real numbers"):
        mzi(0.5, 0.2, **kwargs)


def test_scalar_mzi_gives_mzis_bits() -> None:
    """The decompositions' fast path is mzi's arithmetic in mzi's order: the same bits
    (a cos(π/4) for sin(π/4), one ulp apart, would pass any tolerance)."""
    from photonic.mzi import scalar_mzi

    rng = np.random.default_rng(0)
    for theta, phi in [(0.0, 0.0), (np.pi / 2, -1.0), *rng.uniform(-7, 7, size=(20, 2))]:
        got = scalar_mzi(float(theta), float(phi))
        assert got.shape == (2, 2) and got.dtype == np.complex128
        np.testing.assert_array_equal(got, mzi(theta, phi))


def test_compiled_mzi_matrices_refuse_phase_arrays_of_different_lengths() -> None:
    """The compiled loop writes one row per phase: a longer phi would write past it."""
    with pytest.raises(ValueError, match="phi_rad has shape"):
        unchecked_mzi_matrices(np.zeros(3), np.zeros(5), np.zeros(()), np.zeros(()))
