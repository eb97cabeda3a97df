"""Tests of photonic.decompose: unitary → mesh phases, and SVD layers."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.stats import ortho_group, unitary_group

from photonic.constants import TWO_PI
from photonic.decompose import SVDLayers, decompose, fidelity, svd_layers
from photonic.imperfections import NO_IMPERFECTIONS, Chip, phase_noise
from photonic.mesh import Mesh, Phases
from photonic.mzi import mzi

Array = NDArray[Any]
TOPOLOGIES = ("clements", "reck")
ROUND_TRIP_TOL = 1e-10


def haar(n: int, seed: int) -> Array:
    """Haar-random ``(n, n)`` unitary from a seeded Generator."""
    return np.asarray(unitary_group.rvs(n, random_state=np.random.default_rng(seed)))


def round_trip_error(u: Array, topology: str) -> float:
    mesh, phases = decompose(u, topology=topology)  # type: ignore[arg-type]
    return float(np.max(np.abs(mesh.matrix(phases) - u)))


def assert_phases_in_range(phases: Phases) -> None:
    for x in (phases.theta_rad, phases.phi_rad, phases.out_rad):
        assert np.all(x >= 0.0)
        assert np.all(x < TWO_PI)


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 16, 33, 64])
def test_round_trip_haar(n: int, topology: str) -> None:
    u = haar(n, seed=1000 + n)
    mesh, phases = decompose(u, topology=topology)  # type: ignore[arg-type]
    assert np.max(np.abs(mesh.matrix(phases) - u)) <= ROUND_TRIP_TOL
    assert phases.theta_rad.shape == phases.phi_rad.shape == (n * (n - 1) // 2,)
    assert phases.out_rad.shape == (n,)
    assert_phases_in_range(phases)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=12),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    topology=st.sampled_from(TOPOLOGIES),
)
def test_round_trip_property(n: int, seed: int, topology: str) -> None:
    assert round_trip_error(haar(n, seed), topology) <= ROUND_TRIP_TOL


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_matches_independent_composition(topology: str) -> None:
    """Decomposed phases reproduce u under the closed form of DESIGN.md §4.1, too."""

    def t(theta: float, phi: float) -> Array:
        s, c = np.sin(theta / 2), np.cos(theta / 2)
        e = np.exp(1j * phi)
        return 1j * np.exp(1j * theta / 2) * np.array([[e * s, c], [e * c, -s]])

    n = 6
    u = haar(n, seed=7)
    mesh, phases = decompose(u, topology=topology)  # type: ignore[arg-type]
    w = np.eye(n, dtype=np.complex128)
    for k in np.lexsort((mesh.top, mesh.column)):  # column by column
        p = int(mesh.top[k])
        w[p : p + 2] = t(phases.theta_rad[k], phases.phi_rad[k]) @ w[p : p + 2]
    w = np.exp(1j * phases.out_rad)[:, None] * w
    assert np.max(np.abs(w - u)) <= ROUND_TRIP_TOL


def test_commutation_identity() -> None:
    """T(θ,φ)⁻¹·diag(e^{iα},e^{iβ}) = diag(e^{i(β−φ−θ+π)}, e^{i(β−θ+π)})·T(θ, α−β)."""
    rng = np.random.default_rng(3)
    for theta, phi, alpha, beta in rng.uniform(0, TWO_PI, (20, 4)):
        lhs = np.linalg.inv(mzi(theta, phi)) @ np.diag(np.exp(1j * np.array([alpha, beta])))
        d = np.exp(1j * np.array([beta - phi - theta + np.pi, beta - theta + np.pi]))
        rhs = np.diag(d) @ mzi(theta, alpha - beta)
        np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- edge cases


def _edge_cases(n: int) -> list[Array]:
    rng = np.random.default_rng(n)
    eye = np.eye(n)
    phase = np.exp(1j * rng.uniform(0, TWO_PI, n))
    cases = [
        eye,
        -eye,
        1j * eye,
        np.diag(phase),
        eye[::-1],  # reversal
        np.roll(eye, 1, axis=0),  # cyclic shift
        np.roll(eye, 1, axis=0) * phase[:, None],
        np.asarray(ortho_group.rvs(n, random_state=rng)),
        np.fft.fft(eye) / np.sqrt(n),  # DFT: no zeros, all moduli equal
    ]
    if n % 2 == 0:  # block diagonal: many exact zeros
        cases.append(np.kron(np.eye(n // 2), np.array([[1, 1], [1, -1]]) / np.sqrt(2)))
    return cases


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("n", [2, 3, 4, 5, 8])
def test_edge_cases(n: int, topology: str) -> None:
    for u in _edge_cases(n):
        mesh, phases = decompose(u, topology=topology)  # type: ignore[arg-type]
        assert np.max(np.abs(mesh.matrix(phases) - u)) <= ROUND_TRIP_TOL
        assert_phases_in_range(phases)


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("n", [2, 3, 4])
def test_all_permutations(n: int, topology: str) -> None:
    eye = np.eye(n)
    for perm in itertools.permutations(range(n)):
        u = eye[list(perm)]
        assert round_trip_error(u, topology) <= ROUND_TRIP_TOL


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_theta_at_cross_and_bar_states(topology: str) -> None:
    """Meshes with every θ at exactly 0 or π (pure routing) round-trip."""
    rng = np.random.default_rng(11)
    mesh = Mesh.clements(6) if topology == "clements" else Mesh.reck(6)
    for _ in range(10):
        phases = Phases(
            theta_rad=rng.choice([0.0, np.pi], mesh.n_mzis),
            phi_rad=rng.uniform(0, TWO_PI, mesh.n_mzis),
            out_rad=rng.uniform(0, TWO_PI, mesh.n_ports),
        )
        u = mesh.matrix(phases)
        assert round_trip_error(u, topology) <= ROUND_TRIP_TOL


def test_accepts_real_input_and_lists() -> None:
    mesh, phases = decompose([[0, 1], [1, 0]])
    np.testing.assert_allclose(mesh.matrix(phases), [[0, 1], [1, 0]], rtol=0, atol=ROUND_TRIP_TOL)


def test_input_not_modified_and_deterministic() -> None:
    u = haar(5, seed=2)
    before = u.copy()
    _, p1 = decompose(u)
    _, p2 = decompose(u)
    np.testing.assert_array_equal(u, before)
    for name in ("theta_rad", "phi_rad", "out_rad"):
        np.testing.assert_array_equal(getattr(p1, name), getattr(p2, name))


def test_nearly_unitary_within_atol() -> None:
    """Accepted iff within atol; a uniformly scaled unitary yields the unitary itself."""
    u = haar(4, seed=5)
    almost = u * (1 + 1e-11)
    assert round_trip_error(almost, "clements") <= ROUND_TRIP_TOL
    with pytest.raises(ValueError, match="unitary"):
        decompose(u * (1 + 1e-6))
    mesh, phases = decompose(u * (1 + 1e-6), atol=1e-5)
    assert np.max(np.abs(mesh.matrix(phases) - u)) <= 1e-10


def test_scalar_mzi_matches_mzi() -> None:
    """The decompositions' unchecked 2×2 is ``mzi`` to the last bit or two, so seeded
    Haar phases stay what they were."""
    from photonic.mzi import scalar_mzi

    rng = np.random.default_rng(0)
    edges = [0.0, np.pi, -np.pi, TWO_PI, np.pi / 2, 1e-300, 50.0]
    pairs = list(itertools.product(edges, edges)) + [tuple(p) for p in rng.uniform(-7, 7, (500, 2))]
    for theta, phi in pairs:
        np.testing.assert_allclose(scalar_mzi(theta, phi), mzi(theta, phi), rtol=0, atol=4e-16)


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_cost_per_mzi_is_a_few_calls(topology: str) -> None:
    """One nulling step must not pay ``mzi``'s argument checks (≈ 170 calls, ≈ 80 µs):
    ``Mesh.random_phases`` decomposes a Haar unitary, and at N = 256 those checks alone
    took seconds, far more than a training step of the mesh. Counted, not timed."""
    import sys

    n = 24
    u = haar(n, seed=3)
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        decompose(u, topology=topology)  # type: ignore[arg-type]
    finally:
        sys.setprofile(None)
    assert calls / (n * (n - 1) // 2) < 50


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_returned_mesh_layout(n: int, topology: str) -> None:
    mesh, phases = decompose(haar(n, seed=n), topology=topology)  # type: ignore[arg-type]
    assert isinstance(mesh, Mesh)
    assert isinstance(phases, Phases)
    assert mesh.topology == topology
    assert mesh.n_ports == n
    assert mesh.n_mzis == n * (n - 1) // 2
    if topology == "clements":  # DESIGN.md §4.1, written out independently
        layout = [(c, t) for c in range(n) for t in range(c % 2, n - 1, 2)]
    else:
        layout = [
            (c, t)
            for c in range(2 * n - 3)
            for t in range(c % 2, n - 1, 2)
            if t <= c and t <= 2 * n - 4 - c
        ]
    assert list(zip(mesh.column.tolist(), mesh.top.tolist(), strict=True)) == layout


# --------------------------------------------------------------------------- SVD layers


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("n", [2, 4, 16, 64])
def test_svd_layers_complex_gaussian(n: int, topology: str) -> None:
    rng = np.random.default_rng(500 + n)
    m = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    layers = svd_layers(m, topology=topology)  # type: ignore[arg-type]
    assert isinstance(layers, SVDLayers)
    assert np.max(np.abs(layers.scale * layers.matrix() - m)) <= ROUND_TRIP_TOL * layers.scale
    assert layers.scale == pytest.approx(np.linalg.norm(m, 2), rel=1e-12)
    assert layers.sigma.shape == (n,)
    assert np.max(layers.sigma) == 1.0
    assert np.all((layers.sigma >= 0) & (layers.sigma <= 1))
    assert layers.n_ports == n
    assert layers.u_mesh.topology == layers.v_mesh.topology == topology
    u = layers.u_mesh.matrix(layers.u_phases)
    vh = layers.v_mesh.matrix(layers.v_phases)
    np.testing.assert_allclose(u @ u.conj().T, np.eye(n), rtol=0, atol=1e-12)
    np.testing.assert_allclose(vh @ vh.conj().T, np.eye(n), rtol=0, atol=1e-12)


def test_svd_layers_real_and_rank_deficient() -> None:
    rng = np.random.default_rng(9)
    real = rng.normal(size=(5, 5))
    layers = svd_layers(real)
    assert np.max(np.abs(layers.scale * layers.matrix() - real)) <= ROUND_TRIP_TOL * layers.scale
    rank1 = np.outer(rng.normal(size=4), rng.normal(size=4) + 1j)
    layers = svd_layers(rank1, topology="reck")
    assert np.max(np.abs(layers.scale * layers.matrix() - rank1)) <= ROUND_TRIP_TOL * layers.scale
    assert np.count_nonzero(layers.sigma > 1e-12) == 1


def test_svd_layers_is_frozen() -> None:
    layers = svd_layers(np.diag([2.0, 1.0]))
    np.testing.assert_allclose(layers.sigma, [1.0, 0.5])
    assert layers.scale == pytest.approx(2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        layers.scale = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        layers.sigma[0] = 0.5


def test_svd_layers_validates_fields() -> None:
    layers = svd_layers(np.diag([2.0, 1.0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dataclasses.replace(layers, sigma=np.array([1.0, 1.5]))
    with pytest.raises(ValueError, match="n_ports"):
        dataclasses.replace(layers, sigma=np.ones(3))
    with pytest.raises(ValueError, match="scale"):
        dataclasses.replace(layers, scale=0.0)


# --------------------------------------------------------------------------- bad input


def test_non_unitary_rejected() -> None:
    with pytest.raises(ValueError, match="unitary") as info:
        decompose(2 * np.eye(3))
    assert "svd_layers" in str(info.value)
    assert "= 3" in str(info.value)  # how far: max|u u† − I| = 3


@pytest.mark.parametrize("func", [decompose, svd_layers])
def test_non_square_rejected(func: Any) -> None:
    with pytest.raises(ValueError, match="square"):
        func(np.ones((2, 3)))


@pytest.mark.parametrize(("func", "name"), [(decompose, "u"), (svd_layers, "m")])
@pytest.mark.parametrize("shape", [(1, 1), (0, 0)])
def test_too_few_ports_rejected(func: Any, name: str, shape: tuple[int, int]) -> None:
    """Refused up front, naming the caller's argument (DESIGN.md §2), not by a mesh
    built later from it (a 1×1 matrix is even unitary, so nothing else would stop it)."""
    with pytest.raises(ValueError, match=rf"{name} must have n_ports >= 2, got shape"):
        func(np.ones(shape))


@pytest.mark.parametrize("func", [decompose, svd_layers])
@pytest.mark.parametrize("shape", [(4,), (2, 2, 2), ()])
def test_wrong_ndim_rejected(func: Any, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="2-D"):
        func(np.ones(shape))


@pytest.mark.parametrize("func", [decompose, svd_layers])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_rejected(func: Any, bad: float) -> None:
    u = np.eye(3, dtype=complex)
    u[1, 2] = bad
    with pytest.raises(ValueError, match="finite"):
        func(u)


@pytest.mark.parametrize("func", [decompose, svd_layers])
def test_non_numeric_rejected(func: Any) -> None:
    with pytest.raises(TypeError, match="numeric"):
        func(np.array([["a", "b"], ["c", "d"]]))


@pytest.mark.parametrize("func", [decompose, svd_layers])
def test_unknown_topology_rejected(func: Any) -> None:
    with pytest.raises(ValueError, match="topology") as info:
        func(np.eye(2), topology="hexagonal")
    assert "clements" in str(info.value) and "reck" in str(info.value)


def test_zero_matrix_rejected() -> None:
    with pytest.raises(ValueError, match="zero"):
        svd_layers(np.zeros((3, 3)))


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_zero_atol_accepts_exactly_unitary_matrices(topology: str) -> None:
    """``atol=0`` is the strictest check, not a bad value: matrices whose entries are
    0, ±1 and ±i are unitary in floating point exactly (u u† − I is 0.0), so they pass."""
    rng = np.random.default_rng(4)
    n = 5
    phases = rng.choice(np.array([1, -1, 1j, -1j]), size=n)
    u = np.eye(n)[rng.permutation(n)] * phases[:, None]
    assert np.max(np.abs(u @ u.conj().T - np.eye(n))) == 0.0
    mesh, programmed = decompose(u, topology=topology, atol=0)  # type: ignore[arg-type]
    assert np.max(np.abs(mesh.matrix(programmed) - u)) <= ROUND_TRIP_TOL
    with pytest.raises(ValueError, match="not unitary within atol=0"):
        decompose(u * (1 + 1e-15), topology=topology, atol=0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("atol", [-1.0, np.nan, np.inf])
def test_bad_atol_rejected(atol: float) -> None:
    with pytest.raises(ValueError, match="atol"):
        decompose(np.eye(2), atol=atol)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 12),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e3),
    phase=st.floats(0, 2 * np.pi),
)
def test_fidelity_ignores_global_phase_and_uniform_loss_only(
    n: int, seed: int, scale: float, phase: float
) -> None:
    rng = np.random.default_rng(seed)
    u = unitary_group.rvs(n, random_state=rng)
    w = unitary_group.rvs(n, random_state=rng)
    assert float(fidelity(scale * np.exp(1j * phase) * u, u)) == pytest.approx(1.0, abs=1e-12)
    f = float(fidelity(w, u))
    assert 0.0 <= f <= 1.0
    assert f == pytest.approx(float(fidelity(u, w)), rel=1e-12)  # symmetric
    lossy = u * np.linspace(0.5, 1.0, n)  # a loss that is not the same on every path
    assert float(fidelity(lossy, u)) < 1.0 - 1e-6
    stack = fidelity(np.stack([u, w, lossy]), u)
    np.testing.assert_allclose(stack, [fidelity(m, u) for m in (u, w, lossy)], rtol=1e-14)


@pytest.mark.parametrize(("n", "topology"), [(8, "clements"), (8, "reck"), (12, "clements")])
def test_fidelity_under_phase_noise_falls_as_n_minus_1_sigma_squared(n: int, topology: str) -> None:
    """Each of the n² phase shifters (θ, φ of n(n−1)/2 MZIs, n output phases) puts a
    phase δ on one mode between two unitaries, so Tr(U†W) = n − 1 + e^{iδ} and
    1 − F = (n − 1)δ²/n² to second order: independent errors of std σ add up to
    E[1 − F] = (n − 1)σ², whatever the mesh."""
    mesh = Mesh.clements(n) if topology == "clements" else Mesh.reck(n)
    rng = np.random.default_rng(0)
    phases = mesh.random_phases(rng)
    sigma = 1e-3
    chip = Chip.draw(mesh, rng, **{**NO_IMPERFECTIONS, "phase_noise_rad": sigma})
    draws = phase_noise(phases, chip, rng, n_samples=2000)
    realized = np.stack([mesh.matrix(draws[k]) for k in range(2000)])
    infidelity = 1.0 - fidelity(realized, mesh.matrix(phases))
    # one draw's 1 − F has a std of about 2σ², so the mean of 2000 is good to 0.05σ²
    # (under 1 % of (n − 1)σ²): 4 % is 5 of its standard deviations or more
    assert np.mean(infidelity) / sigma**2 == pytest.approx(n - 1, rel=0.04)


@pytest.mark.parametrize(
    ("realized", "target", "error", "match"),
    [
        (np.eye(3), np.eye(4), ValueError, "realized is 3×3 but target is 4×4"),
        (np.ones((2, 3)), np.eye(3), ValueError, r"realized must be square matrices"),
        (np.zeros((3, 3)), np.eye(3), ValueError, "realized holds a zero matrix"),
        (np.eye(3), np.full((3, 3), np.nan), ValueError, "target holds"),
        (np.stack([np.eye(3)] * 2), np.stack([np.eye(3)] * 3), ValueError, "must broadcast"),
        (np.array([["a"]]), np.eye(1), TypeError, "realized must be a real or complex"),
    ],
)
def test_fidelity_refuses_what_has_no_answer(
    realized: Any, target: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        fidelity(realized, target)
