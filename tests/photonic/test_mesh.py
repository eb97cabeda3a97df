"""MZI meshes: layouts, unitarity, power, exact phase gradients vs finite differences."""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kstest, uniform

from photonic.imperfections import Chip, phase_noise
from photonic.mesh import MAX_PORTS, Mesh, Phases, haar_unitary
from photonic.mzi import mzi_halves

TOPOLOGIES = ("clements", "reck")


def make(topology: str, n: int) -> Mesh:
    return Mesh.clements(n) if topology == "clements" else Mesh.reck(n)


def fields(rng: np.random.Generator, n_samples: int, n: int) -> np.ndarray:
    return rng.normal(size=(n_samples, n)) + 1j * rng.normal(size=(n_samples, n))


def lossy_chip(mesh: Mesh, seed: int = 5) -> Chip:
    return Chip.draw(
        mesh,
        np.random.default_rng(seed),
        splitting_error_std_rad=0.05,
        loss_db_per_mzi=0.3,
        phase_offset_std_rad=0.1,
    )


# -- layouts -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8])
def test_clements_layout_by_the_formula(n: int) -> None:
    mesh = Mesh.clements(n)
    expected = [(c, t) for c in range(n) for t in range(c % 2, n - 1, 2)]
    assert list(zip(mesh.column.tolist(), mesh.top.tolist(), strict=True)) == expected
    assert mesh.n_mzis == n * (n - 1) // 2


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8])
def test_reck_layout_by_the_formula(n: int) -> None:
    mesh = Mesh.reck(n)
    expected = [
        (c, t)
        for c in range(2 * n - 3)
        for t in range(n - 1)
        if t % 2 == c % 2 and t <= c and t <= 2 * n - 4 - c
    ]
    assert list(zip(mesh.column.tolist(), mesh.top.tolist(), strict=True)) == expected
    assert mesh.n_mzis == n * (n - 1) // 2


def test_four_port_clements_by_hand() -> None:
    mesh = Mesh.clements(4)
    assert mesh.column.tolist() == [0, 0, 1, 2, 2, 3]
    assert mesh.top.tolist() == [0, 2, 1, 0, 2, 1]


def test_four_port_reck_by_hand() -> None:
    """The triangle of DESIGN.md §4.1 drawn out: diagonals (0,0)→(1,1)→(2,2), (2,0)→(3,1), (4,0)."""
    mesh = Mesh.reck(4)
    assert mesh.column.tolist() == [0, 1, 2, 2, 3, 4]
    assert mesh.top.tolist() == [0, 1, 0, 2, 1, 0]


def test_matrix_of_a_two_port_mesh_by_hand() -> None:
    """One MZI then the output phases: W = diag(e^{i out}) T(θ, φ)."""
    theta, phi, out = 0.7, 1.9, np.array([0.3, -1.2])
    mesh = Mesh.clements(2)
    w = mesh.matrix(Phases([theta], [phi], out))
    b = np.array([[1, 1j], [1j, 1]]) / np.sqrt(2)
    d = np.diag
    expected = d(np.exp(1j * out)) @ b @ d([np.exp(1j * theta), 1]) @ b @ d([np.exp(1j * phi), 1])
    np.testing.assert_allclose(w, expected, rtol=0, atol=1e-15)


# -- physics invariants ---------------------------------------------------------------


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("n", [2, 3, 16, 64, 256])
def test_lossless_mesh_is_unitary(topology: str, n: int) -> None:
    mesh = make(topology, n)
    w = mesh.matrix(mesh.random_phases(np.random.default_rng(n), init="uniform"))
    assert np.max(np.abs(w @ w.conj().T - np.eye(n))) <= 1e-12


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 2**32 - 1), topology=st.sampled_from(TOPOLOGIES))
def test_power_conserved_lossless_and_strictly_lost_lossy(n: int, seed: int, topology: str) -> None:
    rng = np.random.default_rng(seed)
    mesh = make(topology, n)
    phases = mesh.random_phases(rng, init="uniform")
    x = fields(rng, 4, n)
    p_in = np.sum(np.abs(x) ** 2, axis=1)
    p_ideal = np.sum(np.abs(mesh.forward(phases, x)) ** 2, axis=1)
    np.testing.assert_allclose(p_ideal, p_in, rtol=1e-12)
    p_lossy = np.sum(np.abs(mesh.forward(phases, x, lossy_chip(mesh, seed % 1000))) ** 2, axis=1)
    assert np.all(p_lossy < p_in)
    assert np.all(p_lossy > 0.5 * p_in * 10 ** (-0.1 * 2 * n))  # no more than ~the worst path


def test_splitting_errors_alone_keep_unitarity() -> None:
    mesh = Mesh.clements(8)
    chip = Chip.ideal(mesh).with_(
        splitting_error_rad=np.random.default_rng(0).normal(0, 0.05, (mesh.n_mzis, 2))
    )
    w = mesh.matrix(mesh.random_phases(np.random.default_rng(1)), chip)
    np.testing.assert_allclose(w @ w.conj().T, np.eye(8), rtol=0, atol=1e-12)


def test_haar_initialisation_statistics() -> None:
    """|W₀₀|² of a Haar unitary is Beta(1, N−1): mean 1/N, variance (N−1)/(N²(N+1))."""
    n, draws = 4, 1500
    rng = np.random.default_rng(11)
    mesh = Mesh.clements(n)
    p00 = np.array([abs(mesh.matrix(mesh.random_phases(rng))[0, 0]) ** 2 for _ in range(draws)])
    mean_se = np.sqrt((n - 1) / (n**2 * (n + 1)) / draws)
    assert abs(p00.mean() - 1 / n) < 4 * mean_se
    assert abs(p00.var() - (n - 1) / (n**2 * (n + 1))) < 0.15 * (n - 1) / (n**2 * (n + 1))


def test_uniform_initialisation_covers_the_full_phase_range() -> None:
    """``init="uniform"``: every phase (θ, φ and the output column alike) uniform on
    [0, 2π) — a Kolmogorov–Smirnov test against that law, not just the range (θ drawn
    on [0, π), the range of a decomposition's θ, stays inside it)."""
    rng = np.random.default_rng(17)
    mesh = Mesh.clements(8)
    draws = [mesh.random_phases(rng, init="uniform") for _ in range(20)]
    for name in ("theta_rad", "phi_rad", "out_rad"):
        values = np.concatenate([getattr(p, name) for p in draws])
        assert np.all((values >= 0) & (values < 2 * np.pi))
        assert kstest(values, uniform(loc=0, scale=2 * np.pi).cdf).pvalue > 1e-4


def test_haar_unitary_is_unitary_and_seeded() -> None:
    u = haar_unitary(6, np.random.default_rng(3))
    np.testing.assert_allclose(u @ u.conj().T, np.eye(6), rtol=0, atol=1e-13)
    np.testing.assert_array_equal(u, haar_unitary(6, np.random.default_rng(3)))


def test_haar_unitary_has_the_moments_of_the_haar_measure() -> None:
    """Haar measure is invariant under U → e^{iα}U, so E[U] = 0; and E|tr U|² = 1 for
    every n ≥ 1 (Diaconis & Shahshahani 1994). A plain QR of a Ginibre matrix without
    Mezzadri's phase fix has unitary columns too but is not Haar: E[tr U] ≈ −1 at n = 3.
    """
    n, draws = 3, 2000
    rng = np.random.default_rng(21)
    us = np.stack([haar_unitary(n, rng) for _ in range(draws)])
    # each entry has E|u_ij|² = 1/n: its sample mean has standard error sqrt(1/(n·draws))
    assert np.max(np.abs(us.mean(axis=0))) < 5 * np.sqrt(1 / (n * draws))
    traces = np.trace(us, axis1=1, axis2=2)
    assert abs(traces.mean()) < 5 * np.sqrt(1 / draws)
    # Var|tr U|² = E|tr U|⁴ − 1 = 2 − 1 for n ≥ 2: standard error sqrt(1/draws)
    assert abs(np.mean(np.abs(traces) ** 2) - 1.0) < 5 * np.sqrt(1 / draws)


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_haar_init_programs_the_drawn_unitary_on_this_layout(topology: str) -> None:
    """``init="haar"`` decomposes a Haar draw onto *this* mesh's own layout.

    Its phases must program, on this very mesh, the unitary that ``haar_unitary``
    draws from the same seed (N = 5: the Clements and Reck layouts differ, so phases
    decomposed for the other layout give another matrix).
    """
    n, seed = 5, 8
    mesh = make(topology, n)
    phases = mesh.random_phases(np.random.default_rng(seed))
    expected = haar_unitary(n, np.random.default_rng(seed))
    np.testing.assert_allclose(mesh.matrix(phases), expected, rtol=0, atol=1e-10)


# -- propagation paths agree --------------------------------------------------------


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("chip_kind", ["ideal", "lossy"])
def test_forward_and_adjoint_paths_agree(topology: str, chip_kind: str) -> None:
    rng = np.random.default_rng(2)
    mesh = make(topology, 7)
    chip = None if chip_kind == "ideal" else lossy_chip(mesh)
    phases = mesh.random_phases(rng)
    x, d = fields(rng, 5, 7), fields(rng, 5, 7)
    w = mesh.matrix(phases, chip)
    np.testing.assert_allclose(mesh.forward(phases, x, chip), x @ w.T, rtol=0, atol=1e-13)
    np.testing.assert_allclose(
        mesh.forward(phases, x, chip, method="per_sample"), x @ w.T, rtol=0, atol=1e-13
    )
    np.testing.assert_allclose(
        mesh.adjoint(phases, d, chip, method="per_sample"), d @ w, rtol=0, atol=1e-13
    )


def test_per_sample_phases_match_one_matrix_per_sample() -> None:
    rng = np.random.default_rng(4)
    mesh = Mesh.reck(5)
    base = mesh.random_phases(rng)
    per = Phases(
        base.theta_rad + rng.normal(0, 0.1, (3, mesh.n_mzis)),
        base.phi_rad + rng.normal(0, 0.1, (3, mesh.n_mzis)),
        base.out_rad + rng.normal(0, 0.1, (3, 5)),
    )
    x = fields(rng, 3, 5)
    y = mesh.forward(per, x)
    for b in range(3):
        one = Phases(per.theta_rad[b], per.phi_rad[b], per.out_rad[b])
        np.testing.assert_allclose(y[b], mesh.matrix(one) @ x[b], rtol=0, atol=1e-13)


# -- exact phase gradients ------------------------------------------------------------


def finite_difference(mesh: Mesh, phases: Phases, x, c, chip, h: float = 1e-6) -> np.ndarray:
    """dL/dphase for L = Re Σ c·y by central differences."""
    v = phases.to_vector()
    grad = np.empty_like(v)
    for i in range(v.size):
        e = np.zeros_like(v)
        e[i] = h
        up = np.real(np.sum(c * mesh.forward(Phases.from_vector(v + e, mesh.n_mzis), x, chip)))
        dn = np.real(np.sum(c * mesh.forward(Phases.from_vector(v - e, mesh.n_mzis), x, chip)))
        grad[i] = (up - dn) / (2 * h)
    return grad


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("chip_kind", ["ideal", "lossy"])
@pytest.mark.parametrize("n", [2, 3, 6])
def test_phase_gradients_match_finite_differences(topology: str, chip_kind: str, n: int) -> None:
    rng = np.random.default_rng(n)
    mesh = make(topology, n)
    chip = None if chip_kind == "ideal" else lossy_chip(mesh)
    phases = mesh.random_phases(rng)
    x, c = fields(rng, 4, n), fields(rng, 4, n)
    # L = Re Σ c·y  ⇒  δ = ∂L/∂Re y − i ∂L/∂Im y = c.
    exact = mesh.phase_gradients(phases, x, c, chip).to_vector()
    numeric = finite_difference(mesh, phases, x, c, chip)
    assert np.max(np.abs(exact - numeric)) <= 1e-7 * np.max(np.abs(numeric))
    transfer = mesh.transfer(phases, chip)
    back = transfer.phase_gradients_from_outputs(transfer.forward(x), c).to_vector()
    assert np.max(np.abs(back - numeric)) <= 1e-7 * np.max(np.abs(numeric))


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(2, 16),
    n_samples=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
    topology=st.sampled_from(TOPOLOGIES),
    lossy=st.booleans(),
)
def test_correlation_sweep_equals_per_sample_path(
    n: int, n_samples: int, seed: int, topology: str, lossy: bool
) -> None:
    rng = np.random.default_rng(seed)
    mesh = make(topology, n)
    chip = lossy_chip(mesh, seed % 997) if lossy else None
    phases = mesh.random_phases(rng, init="uniform")
    x, d = fields(rng, n_samples, n), fields(rng, n_samples, n)
    fast = mesh.phase_gradients(phases, x, d, chip, method="correlation").to_vector()
    slow = mesh.phase_gradients(phases, x, d, chip, method="per_sample").to_vector()
    assert np.max(np.abs(fast - slow)) <= 1e-10 * max(1.0, np.max(np.abs(slow)))
    transfer = mesh.transfer(phases, chip)  # the sweep back from the output fields
    back = transfer.phase_gradients_from_outputs(transfer.forward(x), d).to_vector()
    assert np.max(np.abs(back - slow)) <= 1e-10 * max(1.0, np.max(np.abs(slow)))


def oracle_device(phases: Phases, chip: Chip | None):
    """The halves S₁, S₂ of every MZI and the output phases, from the chip's own fields."""
    if chip is None:
        return (*mzi_halves(phases.theta_rad, phases.phi_rad), phases.out_rad)
    s1, s2 = mzi_halves(
        phases.theta_rad + chip.theta_offset_rad,
        phases.phi_rad + chip.phi_offset_rad,
        splitting_error_rad=chip.splitting_error_rad,
        loss_db=chip.coupler_loss_db,
    )
    return s1, s2, phases.out_rad + chip.out_offset_rad


def dense_taps(mesh: Mesh, phases: Phases, x: np.ndarray, chip: Chip | None):
    """Oracle: one sample, MZI by MZI in layout order (disjoint pairs within a column)."""
    s1, s2, out_rad = oracle_device(phases, chip)
    f = x.astype(complex).copy()
    theta, phi = np.empty(mesh.n_mzis, complex), np.empty(mesh.n_mzis, complex)
    for k, top in enumerate(mesh.top):
        pair = slice(top, top + 2)
        phi[k] = f[top]
        f[pair] = s1[k] @ f[pair]
        theta[k] = f[top]
        f[pair] = s2[k] @ f[pair]
    return theta, phi, f * np.exp(1j * out_rad)


def dense_adjoint_taps(mesh: Mesh, phases: Phases, delta: np.ndarray, chip: Chip | None):
    """Oracle: δ from the outputs back through every MZI's transposed halves, last first."""
    s1, s2, out_rad = oracle_device(phases, chip)
    f = delta.astype(complex) * np.exp(1j * out_rad)
    theta, phi = np.empty(mesh.n_mzis, complex), np.empty(mesh.n_mzis, complex)
    for k in reversed(range(mesh.n_mzis)):
        pair = slice(mesh.top[k], mesh.top[k] + 2)
        f[pair] = s2[k].T @ f[pair]
        theta[k] = f[mesh.top[k]]
        f[pair] = s1[k].T @ f[pair]
        phi[k] = f[mesh.top[k]]
    return theta, phi, f


def per_sample_copies(phases: Phases, rng: np.random.Generator, n_samples: int) -> Phases:
    """Every sample its own phases, as per-pass phase noise makes them (σ = 0.2 rad)."""
    return Phases(
        *(
            p + rng.normal(0, 0.2, (n_samples, p.size))
            for p in (phases.theta_rad, phases.phi_rad, phases.out_rad)
        )
    )


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("per_sample", [False, True])
def test_tap_fields_and_powers_against_a_dense_oracle(topology: str, per_sample: bool) -> None:
    rng = np.random.default_rng(11)
    mesh = make(topology, 5)
    chip = lossy_chip(mesh)
    base = mesh.random_phases(rng)
    x = fields(rng, 3, 5)
    if per_sample:
        phases = per_sample_copies(base, rng, 3)
        one = [Phases(phases.theta_rad[b], phases.phi_rad[b], phases.out_rad[b]) for b in range(3)]
    else:
        phases, one = base, [base] * 3
    passes = (
        (mesh.tap_fields, mesh.tap_powers, dense_taps),
        (mesh.adjoint_tap_fields, mesh.adjoint_tap_powers, dense_adjoint_taps),
    )
    for tap_fields, tap_powers, oracle in passes:
        taps = tap_fields(phases, x, chip)
        powers = tap_powers(phases, x, chip)
        for b in range(3):
            theta, phi, port = oracle(mesh, one[b], x[b], chip)
            np.testing.assert_allclose(taps.theta[b], theta, rtol=0, atol=1e-13)
            np.testing.assert_allclose(taps.phi[b], phi, rtol=0, atol=1e-13)
            np.testing.assert_allclose(taps.port[b], port, rtol=0, atol=1e-13)
        for name in ("theta", "phi", "out"):
            np.testing.assert_allclose(getattr(powers, name), np.abs(getattr(taps, name)) ** 2)
        np.testing.assert_allclose(powers.port, taps.port)


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("direction", ["forward", "adjoint"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_tap_sums_read_every_column_as_the_pass_reaches_it(
    topology: str, direction: str, per_sample: bool
) -> None:
    """``tap_sums`` = the batch sums of the stored taps; ``read`` sees them in pass order."""
    rng = np.random.default_rng(12)
    mesh = make(topology, 6)
    chip = lossy_chip(mesh)
    phases = mesh.random_phases(rng)
    if per_sample:
        phases = per_sample_copies(phases, rng, 4)
    x = fields(rng, 4, 6)
    stored = (mesh.tap_fields if direction == "forward" else mesh.adjoint_tap_fields)(
        phases, x, chip
    )
    ideal = mesh.tap_sums(phases, x, chip, direction=direction)  # type: ignore[arg-type]
    for name in ("theta", "phi", "out"):
        want = np.sum(np.abs(getattr(stored, name)) ** 2, axis=0)
        np.testing.assert_allclose(getattr(ideal, name), want, rtol=1e-12)
    np.testing.assert_allclose(ideal.port, stored.port, rtol=0, atol=1e-13)

    seen: list[np.ndarray] = []

    def read(rows: np.ndarray) -> np.ndarray:
        seen.append(rows.copy())
        return np.sum(np.abs(rows), axis=1)

    got = mesh.tap_sums(phases, x, chip, direction=direction, read=read)  # type: ignore[arg-type]
    for name in ("theta", "phi", "out"):
        want = np.sum(np.abs(getattr(stored, name)), axis=0)
        np.testing.assert_allclose(getattr(got, name), want, rtol=1e-12)
    order = []  # (plane, MZIs or ports) in the order light reaches them
    for a, b, _ in mesh.columns if direction == "forward" else reversed(mesh.columns):
        planes = ("phi", "theta") if direction == "forward" else ("theta", "phi")
        order += [(plane, slice(a, b)) for plane in planes]
    out = ("out", slice(None))
    order = [*order, out] if direction == "forward" else [out, *order]
    assert len(seen) == len(order)
    for rows, (plane, which) in zip(seen, order, strict=True):
        np.testing.assert_allclose(rows, getattr(stored, plane)[:, which].T, rtol=0, atol=1e-13)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 9),
    n_samples=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    topology=st.sampled_from(TOPOLOGIES),
    direction=st.sampled_from(["forward", "adjoint"]),
    per_sample=st.booleans(),
)
def test_tap_sums_are_the_summed_tap_powers_for_any_size(
    n: int, n_samples: int, seed: int, topology: str, direction: str, per_sample: bool
) -> None:
    """Odd N, two ports, one sample: the column-by-column sums equal the stored powers'."""
    rng = np.random.default_rng(seed)
    mesh = make(topology, n)
    chip = lossy_chip(mesh, seed % 1000)
    phases = mesh.random_phases(rng)
    if per_sample:
        phases = per_sample_copies(phases, rng, n_samples)
    x = fields(rng, n_samples, n)
    stored = (mesh.tap_powers if direction == "forward" else mesh.adjoint_tap_powers)(
        phases, x, chip
    )
    sums = mesh.tap_sums(phases, x, chip, direction=direction)  # type: ignore[arg-type]
    for name in ("theta", "phi", "out"):
        got, want = getattr(sums, name), getattr(stored, name).sum(axis=0)
        assert got.dtype == np.float64 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(sums.port, stored.port, rtol=0, atol=1e-12)


def one_imperfection(mesh: Mesh, kind: str) -> Chip:
    """A chip with only splitting errors and phase offsets (lossless, yet not ideal),
    or with only arm losses (exact 50:50 couplers)."""
    rng = np.random.default_rng(9)
    ideal = Chip.ideal(mesh)
    if kind == "splitting_only":
        return ideal.with_(
            splitting_error_rad=rng.normal(0, 0.08, (mesh.n_mzis, 2)),
            theta_offset_rad=rng.normal(0, 0.1, mesh.n_mzis),
            out_offset_rad=rng.normal(0, 0.1, mesh.n_ports),
        )
    return ideal.with_(coupler_loss_db=rng.uniform(0.05, 0.5, (mesh.n_mzis, 2, 2)))


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("kind", ["splitting_only", "loss_only"])
def test_one_kind_of_imperfection_at_a_time(topology: str, kind: str) -> None:
    """Each imperfection alone, against the MZI-by-MZI oracle and finite differences.

    A lossless chip is not the ideal one: its couplers' errors must reach W (the
    lossless shortcut may skip inverting, never the chip). A loss-only chip has exact
    couplers: only its loss makes it non-unitary, and its gradients need the true
    inverses.
    """
    rng = np.random.default_rng(13)
    mesh = make(topology, 4)
    chip = one_imperfection(mesh, kind)
    assert chip.is_lossless == (kind == "splitting_only")
    phases = mesh.random_phases(rng)
    w = mesh.matrix(phases, chip)
    # column j of W is the oracle's output for the input e_j
    oracle = np.stack([dense_taps(mesh, phases, e, chip)[2] for e in np.eye(4)], axis=1)
    np.testing.assert_allclose(w, oracle, rtol=0, atol=1e-13)
    assert np.max(np.abs(w - mesh.matrix(phases))) > 1e-2  # the imperfection is felt
    x, c = fields(rng, 3, 4), fields(rng, 3, 4)
    exact = mesh.phase_gradients(phases, x, c, chip).to_vector()
    numeric = finite_difference(mesh, phases, x, c, chip)
    assert np.max(np.abs(exact - numeric)) <= 1e-7 * np.max(np.abs(numeric))
    transfer = mesh.transfer(phases, chip)
    back = transfer.phase_gradients_from_outputs(transfer.forward(x), c).to_vector()
    assert np.max(np.abs(back - numeric)) <= 1e-7 * np.max(np.abs(numeric))


def test_power_loss_gradient_sign() -> None:
    """Gradient descent on L = −|y₀|² must route the light to port 0."""
    rng = np.random.default_rng(0)
    mesh = Mesh.clements(4)
    phases = mesh.random_phases(rng)
    x = np.array([[0, 0, 1, 0]], dtype=complex)
    for _ in range(300):
        y = mesh.forward(phases, x)
        delta = np.zeros_like(y)
        delta[:, 0] = -2 * np.conj(y[:, 0])  # L = −|y₀|²: ∂L/∂Re − i ∂L/∂Im = −2 conj(y₀)
        g = mesh.phase_gradients(phases, x, delta)
        phases = Phases(
            phases.theta_rad - 0.2 * g.theta_rad,
            phases.phi_rad - 0.2 * g.phi_rad,
            phases.out_rad - 0.2 * g.out_rad,
        )
    assert abs(mesh.forward(phases, x)[0, 0]) ** 2 > 0.999


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 0, -3, 2.5, True, MAX_PORTS + 1, 100_000])
def test_bad_port_count(n: object) -> None:
    """Too large is refused at once, before the layout fills the memory."""
    for build in (Mesh.clements, Mesh.reck):
        with pytest.raises(ValueError, match=rf"n_ports={n!r} must be an int in 2 … {MAX_PORTS}"):
            build(n)  # type: ignore[arg-type]


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_a_mesh_is_its_port_count_and_topology(topology: str) -> None:
    """The layout follows from ``(n_ports, topology)``: the constructor takes no
    other layout, so no MZI can sit on ports a mesh does not have, and equal pairs
    make equal, equally hashed meshes whose layout arrays are read-only."""
    mesh = Mesh(5, topology)  # type: ignore[arg-type]
    built = make(topology, 5)
    assert mesh == built and hash(mesh) == hash(built) and repr(mesh) == repr(built)
    assert mesh != make(topology, 6)
    assert mesh != Mesh(5, "reck" if topology == "clements" else "clements")
    np.testing.assert_array_equal(mesh.top, built.top)
    for copied in (mesh, pickle.loads(pickle.dumps(mesh)), copy.deepcopy(mesh)):
        assert copied == built
        for arr in (copied.column, copied.top):
            with pytest.raises(ValueError, match="read-only"):
                arr[0] = 3
    with pytest.raises(TypeError):
        Mesh(4, topology, np.array([0, 0]), np.array([0, 5]))  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"topology='rect' is not allowed"):
        Mesh(4, "rect")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"n_ports=1 must be an int in 2"):
        Mesh(1, topology)  # type: ignore[arg-type]


def test_phases_compare_by_value_and_are_unhashable() -> None:
    """``==`` is exact equality of every phase (not identity, and no ambiguous-array
    error); phases of other sizes are simply unequal; like arrays, no hash."""
    rng = np.random.default_rng(8)
    a = Mesh.clements(4).random_phases(rng)
    assert a == a.copy() and not a != a.copy()
    moved = Phases(a.theta_rad, a.phi_rad, a.out_rad + 1e-12)
    assert a != moved and moved != a
    assert a != Mesh.clements(5).random_phases(rng)  # other shapes: unequal, no error
    assert a != "phases"  # another type: unequal
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)


def test_per_sample_phases_error_names_the_method_asked_for() -> None:
    rng = np.random.default_rng(9)
    mesh = Mesh.clements(4)
    per = per_sample_copies(mesh.random_phases(rng), rng, 3)
    x = fields(rng, 3, 4)
    with pytest.raises(ValueError, match=r"method='correlation' needs one phase set"):
        mesh.phase_gradients(per, x, x, method="correlation")
    with pytest.raises(ValueError, match=r"method='matmul' needs one phase set"):
        mesh.forward(per, x, method="matmul")


def test_bad_phases_and_fields() -> None:
    mesh = Mesh.clements(4)
    good = mesh.random_phases(np.random.default_rng(0))
    with pytest.raises(ValueError, match="6 MZIs"):
        mesh.matrix(Phases(np.zeros(5), np.zeros(5), np.zeros(4)))
    with pytest.raises(ValueError, match="4 ports"):
        mesh.matrix(Phases(good.theta_rad, good.phi_rad, np.zeros(3)))
    with pytest.raises(ValueError, match="NaN"):
        Phases(np.full(6, np.nan), np.zeros(6), np.zeros(4))
    with pytest.raises(ValueError, match="theta_rad must be real"):
        Phases(np.zeros(6) + 1j, np.zeros(6), np.zeros(4))  # not silently cast
    with pytest.raises(ValueError, match="leading axes must match"):
        Phases(np.zeros(6), np.zeros(6), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"x must have shape \(n_samples, 4\)"):
        mesh.forward(good, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="method='bogus'"):
        mesh.forward(good, np.zeros((2, 4)), method="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="init='gauss'"):
        mesh.random_phases(np.random.default_rng(0), init="gauss")  # type: ignore[arg-type]
    for init in ("haar", "uniform"):
        with pytest.raises(TypeError, match=r"rng=0 must be a numpy\.random\.Generator"):
            mesh.random_phases(0, init=init)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot hold the phases of 6 MZIs"):
        Phases.from_vector(good.to_vector()[:12], mesh.n_mzis)  # no output phases left
    with pytest.raises(ValueError, match="must be 1-D"):
        Phases.from_vector(good.to_vector()[None, :], mesh.n_mzis)
    with pytest.raises(ValueError, match="6 MZIs"):
        mesh.halves(Phases(np.zeros(5), np.zeros(5), np.zeros(4)))
    with pytest.raises(ValueError, match="4 ports"):
        mesh.output_phases(Phases(good.theta_rad, good.phi_rad, np.zeros(5)))
    with pytest.raises(ValueError, match="chip has"):
        mesh.matrix(good, Chip.ideal(Mesh.clements(5)))
    with pytest.raises(TypeError, match=r"x must hold numbers .complex fields.; got dtype <U1"):
        mesh.forward(good, np.array([["1", "2", "3", "4"]]))
    with pytest.raises(TypeError, match=r"x must hold numbers .complex fields.; got an object"):
        mesh.forward(good, np.array([[None, 1, 2, 3]]))
    numbers = np.array([[1 + 1j, 0.5, 2, 0]], dtype=object)  # e.g. pandas .values
    np.testing.assert_array_equal(
        mesh.forward(good, numbers), mesh.forward(good, numbers.astype(complex))
    )
    with pytest.raises(TypeError, match=r"chip is a Generator; expected a photonic\.imperfections"):
        mesh.forward(good, np.zeros((2, 4)), np.random.default_rng(0))  # type: ignore[arg-type]
    for n in (0, 2.5):
        with pytest.raises(ValueError, match=rf"n={n!r} must be an int > 0"):
            haar_unitary(n, np.random.default_rng(0))  # type: ignore[arg-type]
    transfer = mesh.transfer(good)
    held = transfer.phases
    for arr in (transfer.matrix, transfer.s1, transfer.s2, transfer.t, transfer.out_phasors):
        with pytest.raises(ValueError, match="read-only"):  # a value, cannot go stale
            arr[0] = 0
    for arr in (held.theta_rad, held.phi_rad, held.out_rad):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0
    assert transfer.made_for(good, None) and good.theta_rad.flags.writeable  # a copy
    w = mesh.matrix(good)
    w *= 2  # the caller's own array
    np.testing.assert_allclose(w, 2 * transfer.matrix, rtol=0, atol=1e-15)


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_transfer_is_the_same_physics_composed_once(topology: str) -> None:
    rng = np.random.default_rng(12)
    mesh = make(topology, 24)  # large enough for the blocked kernels
    chip = lossy_chip(mesh)
    phases = mesh.random_phases(rng)
    x, d = fields(rng, 40, 24), fields(rng, 40, 24)
    transfer = mesh.transfer(phases, chip)
    np.testing.assert_array_equal(transfer.matrix, mesh.matrix(phases, chip))
    # against the column-by-column propagation, not against W itself
    per_sample = mesh.forward(phases, x, chip, method="per_sample")
    np.testing.assert_allclose(transfer.forward(x), per_sample, rtol=0, atol=1e-12)
    adjoint = mesh.adjoint(phases, d, chip, method="per_sample")
    np.testing.assert_allclose(transfer.adjoint(d), adjoint, rtol=0, atol=1e-12)
    reference = mesh.phase_gradients(phases, x, d, chip, method="per_sample").to_vector()
    fast = transfer.phase_gradients(x, d).to_vector()
    assert np.max(np.abs(fast - reference)) <= 1e-10 * np.max(np.abs(reference))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_fields_rejected_by_name(bad: float) -> None:
    """A NaN or infinite field would poison every output and gradient: refuse it and
    name the argument (DESIGN.md §2), on the matmul and the per-sample paths alike."""
    mesh = Mesh.clements(4)
    phases = mesh.random_phases(np.random.default_rng(0))
    good = fields(np.random.default_rng(1), 3, 4)
    bad_field = good.copy()
    bad_field[1, 2] = bad
    for method in ("matmul", "per_sample"):
        with pytest.raises(ValueError, match=r"x holds 1 NaN or infinite"):
            mesh.forward(phases, bad_field, method=method)
        with pytest.raises(ValueError, match=r"delta holds 1 NaN or infinite"):
            mesh.adjoint(phases, bad_field, method=method)
    with pytest.raises(ValueError, match=r"x holds 1 NaN or infinite"):
        mesh.phase_gradients(phases, bad_field, good)
    with pytest.raises(ValueError, match=r"delta holds 1 NaN or infinite"):
        mesh.phase_gradients(phases, good, bad_field)
    with pytest.raises(ValueError, match=r"x holds 1 NaN or infinite"):
        mesh.tap_fields(phases, bad_field)


@pytest.mark.parametrize("method", ["correlation", "per_sample"])
@pytest.mark.parametrize("chip_kind", ["ideal", "lossy"])
def test_overflowing_gradients_are_blamed_on_the_fields_not_the_phases(
    method: str, chip_kind: str
) -> None:
    """Fields of 1e200 are finite but their products overflow: the error said
    "theta_rad holds 6 NaN or infinite value(s)", blaming phases the caller never gave."""
    mesh = Mesh.clements(4)
    phases = mesh.random_phases(np.random.default_rng(0))
    chip = lossy_chip(mesh) if chip_kind == "lossy" else None
    big = np.full((2, 4), 1e200)
    match = (
        r"x and delta are too large: the phase gradients.* overflow float64 "
        r"\(largest \|x\| = 1e\+200, largest \|delta\| = 1e\+200\)"
    )
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(ValueError, match=match):
        mesh.phase_gradients(phases, big, big, chip, method=method)
    scaled_down = mesh.phase_gradients(phases, big * 1e-200, big * 1e-200, chip, method=method)
    assert np.all(np.isfinite(scaled_down.to_vector()))


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("chip_kind", ["ideal", "lossy"])
@pytest.mark.parametrize("n", [2, 5, 24, 64])
def test_gradients_from_the_outputs_are_those_from_the_inputs(
    topology: str, chip_kind: str, n: int
) -> None:
    """The sweep back from ``y = forward(x)`` against the sweep forward from ``x``: the
    same correlation met from the other side, output screen and lossy MZIs included."""
    rng = np.random.default_rng(70 + n)
    mesh = make(topology, n)
    chip = lossy_chip(mesh) if chip_kind == "lossy" else None
    phases = mesh.random_phases(rng)
    x, d = fields(rng, 2 * n + 1, n), fields(rng, 2 * n + 1, n)
    transfer = mesh.transfer(phases, chip)
    y = transfer.forward(x)
    forward = transfer.phase_gradients(x, d).to_vector()
    back = transfer.phase_gradients_from_outputs(y, d).to_vector()
    assert np.max(np.abs(back - forward)) <= 1e-10 * np.max(np.abs(forward))
    # any outputs are some input's: those of y W⁻ᵀ
    y_any = fields(rng, 3, n)
    x_any = np.linalg.solve(transfer.matrix, y_any.T).T
    d_any = fields(rng, 3, n)
    expected = transfer.phase_gradients(x_any, d_any).to_vector()
    got = transfer.phase_gradients_from_outputs(y_any, d_any).to_vector()
    assert np.max(np.abs(got - expected)) <= 1e-9 * np.max(np.abs(expected))


def test_gradients_from_the_outputs_name_y_in_their_errors() -> None:
    mesh = Mesh.clements(4)
    transfer = mesh.transfer(mesh.random_phases(np.random.default_rng(0)))
    y = fields(np.random.default_rng(1), 3, 4)
    with pytest.raises(ValueError, match=r"y must have shape \(n_samples, 4\); got \(3, 5\)"):
        transfer.phase_gradients_from_outputs(np.ones((3, 5)), y)
    bad = y.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"y holds 1 NaN or infinite"):
        transfer.phase_gradients_from_outputs(bad, y)
    with pytest.raises(ValueError, match=r"delta has shape \(2, 4\); y has \(3, 4\)"):
        transfer.phase_gradients_from_outputs(y, y[:2])
    big = np.full((2, 4), 1e200)
    match = r"y and delta are too large: .*\(largest \|y\| = 1e\+200, largest \|delta\|"
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(ValueError, match=match):
        transfer.phase_gradients_from_outputs(big, big)


@pytest.mark.parametrize("method", ["correlation", "per_sample"])
def test_overflowing_gradients_name_the_largest_x_and_delta_each(method: str) -> None:
    """|x| = 1e200 and |delta| = 1e150: the message tells the caller which of the two to
    scale and by how much, so each largest value must be the one of its own field."""
    mesh = Mesh.clements(4)
    phases = mesh.random_phases(np.random.default_rng(0))
    x, delta = np.full((2, 4), 1e200), np.full((2, 4), 1e150)
    match = r"\(largest \|x\| = 1e\+200, largest \|delta\| = 1e\+150\)"
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(ValueError, match=match):
        mesh.phase_gradients(phases, x, delta, method=method)


@pytest.mark.parametrize("n_sets", [1, 2, 4])
def test_per_sample_phases_must_have_one_set_per_sample(n_sets: int) -> None:
    """Per-sample phases (per-pass noise) are one set per sample of a batch of 3.

    One set for three samples would silently broadcast (every sample the same
    "noise"), two or four sets cannot be matched to the samples: both are refused.
    """
    rng = np.random.default_rng(3)
    mesh = Mesh.reck(4)
    per = per_sample_copies(mesh.random_phases(rng), rng, n_sets)
    x = fields(rng, 3, 4)
    match = rf"per-sample phases have leading axis {n_sets}; the batch has 3 samples"
    with pytest.raises(ValueError, match=match):
        mesh.forward(per, x)
    with pytest.raises(ValueError, match=match):
        mesh.phase_gradients(per, x, x)
    with pytest.raises(ValueError, match=match):
        mesh.tap_sums(per, x)


def test_one_phase_set_where_one_matrix_is_asked_for() -> None:
    """``matrix``/``transfer`` compose one W: per-sample phases have no single matrix."""
    rng = np.random.default_rng(4)
    mesh = Mesh.clements(4)
    per = per_sample_copies(mesh.random_phases(rng), rng, 2)
    for compose in (mesh.matrix, mesh.transfer):
        with pytest.raises(ValueError, match=r"phases have leading axes \(2,\); allowed: none"):
            compose(per)


def test_transfer_is_made_for_one_phase_setting_on_one_chip() -> None:
    """A composed transfer may be reused only for equal phases on the *same* chip:
    another device (even the ideal one) has another matrix."""
    rng = np.random.default_rng(6)
    mesh = Mesh.clements(4)
    phases = mesh.random_phases(rng)
    chip = lossy_chip(mesh)
    transfer = mesh.transfer(phases, chip)
    assert transfer.made_for(phases.copy(), chip)
    assert not transfer.made_for(phases, None)
    assert not transfer.made_for(phases, lossy_chip(mesh, seed=6))
    moved = Phases(phases.theta_rad, phases.phi_rad, phases.out_rad + 1e-3)
    assert not transfer.made_for(moved, chip)
    assert mesh.transfer(phases).made_for(phases, None)


def test_phases_add_entry_by_entry() -> None:
    """``a + b`` adds each shifter's phase to the same shifter's: the vector of the sum
    is the sum of the vectors."""
    rng = np.random.default_rng(7)
    mesh = Mesh.clements(5)
    a, b = mesh.random_phases(rng, init="uniform"), mesh.random_phases(rng, init="uniform")
    np.testing.assert_array_equal((a + b).to_vector(), a.to_vector() + b.to_vector())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda m, p, x: m.matrix(None),
            TypeError,
            r"phases=None must be a photonic\.mesh\.Phases",
        ),
        (lambda m, p, x: m.forward(None, x), TypeError, r"phases=None must be a photonic"),
        (lambda m, p, x: m.tap_fields("p", x), TypeError, r"phases='p' must be a photonic"),
        (lambda m, p, x: m.phase_gradients(None, x, x), TypeError, r"phases=None must be a"),
        (lambda m, p, x: m.tap_sums(p, x, read=3), TypeError, r"read=3 must be a tap detector"),
        (lambda m, p, x: p + 1, TypeError, r"unsupported operand type\(s\) for \+: 'Phases'"),
        (
            lambda m, p, x: p + Mesh.clements(3).random_phases(np.random.default_rng(1)),
            ValueError,
            r"cannot add phases with theta_rad of shape \(6,\) and \(3,\)",
        ),
        (
            lambda m, p, x: Phases.from_vector(p.to_vector(), -1),
            ValueError,
            r"n_mzis=-1 must be an int > 0",
        ),
        (lambda m, p, x: Phases.from_vector(p.to_vector(), 2.5), ValueError, r"n_mzis=2\.5"),
        (lambda m, p, x: Phases.from_vector("x", 6), TypeError, r"vector='x' must hold real"),
        (lambda m, p, x: Phases.from_vector(np.full(16, np.nan), 6), ValueError, r"vector holds"),
        (lambda m, p, x: Phases(None, p.phi_rad, p.out_rad), TypeError, r"theta_rad=None must"),
        (lambda m, p, x: Phases(p.theta_rad, "a", p.out_rad), TypeError, r"phi_rad='a' must"),
        # scalars were accepted, then failed elsewhere ("zero-dimensional arrays cannot
        # be concatenated" from to_vector, "have length ()" from the mesh)
        (
            lambda m, p, x: Phases(0.0, 0.0, 0.0),
            ValueError,
            r"theta_rad=0\.0 is a scalar; it must be an array of one phase per MZI, \(n_mzis,\)",
        ),
        (
            lambda m, p, x: Phases(p.theta_rad, np.float64(1.0), p.out_rad),
            ValueError,
            r"phi_rad=.*1\.0.* is a scalar",
        ),
        (
            lambda m, p, x: Phases(p.theta_rad, p.phi_rad, np.array(0.5)),
            ValueError,
            r"out_rad=.* is a scalar; .* one phase per port, \(n_ports,\)",
        ),
    ],
)
def test_wrong_phases_are_named(call: object, error: type[Exception], match: str) -> None:
    """Each reached an AttributeError ('NoneType' object has no attribute 'theta_rad'),
    a float() or slicing error, or a message about an internal field (None became a
    NaN theta_rad; from_vector(v, -1) blamed the theta/phi shapes, not n_mzis)."""
    mesh = Mesh.clements(4)
    phases = mesh.random_phases(np.random.default_rng(0))
    x = np.ones((2, 4), dtype=complex)
    with pytest.raises(error, match=match):
        call(mesh, phases, x)  # type: ignore[operator]


def test_check_phases_allows_a_leading_axis_only_when_asked() -> None:
    mesh = Mesh.clements(4)
    one = mesh.random_phases(np.random.default_rng(0))
    per_sample = Phases(
        np.tile(one.theta_rad, (3, 1)), np.tile(one.phi_rad, (3, 1)), np.tile(one.out_rad, (3, 1))
    )
    mesh.check_phases(one)
    mesh.check_phases(per_sample, leading="per_sample")
    with pytest.raises(ValueError, match=r"leading axes \(3,\); allowed: none"):
        mesh.check_phases(per_sample)
    with pytest.raises(ValueError, match="leading='batch'"):
        mesh.check_phases(one, leading="batch")  # type: ignore[arg-type]


def test_output_phases_checks_its_chip_like_halves() -> None:
    from photonic.imperfections import Chip

    mesh = Mesh.clements(4)
    phases = mesh.random_phases(np.random.default_rng(0))
    other = Chip.ideal(Mesh.clements(6))
    for call in (mesh.halves, mesh.output_phases):
        with pytest.raises(ValueError, match="chip has 6 ports"):
            call(phases, other)
        with pytest.raises(TypeError, match="chip is a int"):
            call(phases, 3)  # type: ignore[arg-type]


def test_phases_edited_in_place_to_nan_are_refused_at_the_next_call() -> None:
    """Phases checks its arrays when built but keeps the caller's arrays; a NaN written
    into them afterwards went through the unchecked MZI core and came out as NaN
    fields with no error."""
    mesh = Mesh.clements(4)
    theta = np.zeros(6)
    phases = Phases(theta, np.zeros(6), np.zeros(4))
    theta[0] = np.nan
    x = np.ones((2, 4))
    for call in (
        lambda: mesh.forward(phases, x),
        lambda: mesh.matrix(phases),
        lambda: mesh.phase_gradients(phases, x, x),
    ):
        with pytest.raises(ValueError, match=r"theta_rad holds 1 NaN or infinite value"):
            call()


@pytest.mark.parametrize("name", ["theta_rad", "phi_rad", "out_rad"])
def test_phases_edited_in_place_are_refused_by_the_tap_and_halves_methods(name: str) -> None:
    """forward, matrix and phase_gradients rebuild their Phases and so re-check it, but
    halves, output_phases and the tap methods use the caller's arrays as they are: a NaN
    written into any of the three after construction came out as NaN taps and halves
    with no error."""
    mesh = Mesh.clements(4)
    phases = Phases(np.zeros(6), np.zeros(6), np.zeros(4))
    getattr(phases, name)[-1] = np.inf
    x = np.ones((2, 4))
    for call in (
        lambda: mesh.halves(phases),
        lambda: mesh.output_phases(phases),
        lambda: mesh.tap_fields(phases, x),
        lambda: mesh.tap_powers(phases, x),
    ):
        with pytest.raises(ValueError, match=rf"{name} holds 1 NaN or infinite value"):
            call()


@pytest.mark.parametrize("method", ["matmul", "per_sample"])
def test_forward_and_adjoint_refuse_fields_whose_outputs_overflow(method: str) -> None:
    """Finite fields of 1.5e308, phased to add up in one port, give |y| > float64's
    limit: Mesh.forward and Mesh.adjoint returned inf with only a RuntimeWarning."""
    mesh = Mesh.clements(4)
    phases = mesh.random_phases(np.random.default_rng(0))
    w = mesh.matrix(phases)
    assert np.sum(np.abs(w[0])) * 1.5 > 1.8 and np.sum(np.abs(w[:, 0])) * 1.5 > 1.8
    x = 1.5e308 * (np.conj(w[0]) / np.abs(w[0]))[None, :]  # y₀ = 1.5e308 · Σ_j |W₀ⱼ|
    delta = 1.5e308 * (np.conj(w[:, 0]) / np.abs(w[:, 0]))[None, :]  # x̂₀ likewise
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused by name, not warned about
        with pytest.raises(ValueError, match=r"x is too large: the output fields .*1\.5e\+308"):
            mesh.forward(phases, x, method=method)
        with pytest.raises(ValueError, match=r"delta is too large: the fields leaving .*1\.5e"):
            mesh.adjoint(phases, delta, method=method)
        # a hundred times smaller is fine, and exact: the check refuses only overflow
        y = mesh.forward(phases, x * 1e-2, method=method)
        np.testing.assert_allclose(y, x * 1e-2 @ w.T, rtol=1e-12)
        np.testing.assert_allclose(
            mesh.adjoint(phases, delta * 1e-2, method=method), delta * 1e-2 @ w, rtol=1e-12
        )


def test_indexing_phases_picks_per_pass_sets_for_matrix() -> None:
    """phase_noise gives per-pass sets that Mesh.matrix refuses whole; phases[k] is the
    k-th (users wrote Phases(p.theta_rad[k], p.phi_rad[k], p.out_rad[k]) by hand)."""
    mesh = Mesh.clements(4)
    phases = mesh.random_phases(np.random.default_rng(0))
    chip = Chip.draw(mesh, np.random.default_rng(1))
    noisy = phase_noise(phases, chip, np.random.default_rng(2), n_samples=3)
    for k in range(3):
        by_hand = Phases(noisy.theta_rad[k], noisy.phi_rad[k], noisy.out_rad[k])
        np.testing.assert_array_equal(mesh.matrix(noisy[k], chip), mesh.matrix(by_hand, chip))
    assert noisy[1:].theta_rad.shape == (2, mesh.n_mzis)
    assert noisy[np.array([True, False, True])] == Phases(
        noisy.theta_rad[[0, 2]], noisy.phi_rad[[0, 2]], noisy.out_rad[[0, 2]]
    )
    with pytest.raises(ValueError, match=r"phases\[k\] is the k-th set"):
        mesh.matrix(noisy)
    with pytest.raises(TypeError, match="these phases have 0"):
        phases[0]
    with pytest.raises(TypeError, match="only leading axes can be indexed"):
        noisy[0, 1]
    with pytest.raises(IndexError):
        noisy[3]
    with pytest.raises(TypeError, match="only leading axes"):  # a mask over the phase axis too
        noisy[noisy.theta_rad > 0]
