"""Fast mesh kernels (banded BLAS + band carry) against the plain per-column references."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from photonic import kernels
from photonic.mesh import Mesh
from photonic.mzi import inverse_2x2

Columns = tuple[tuple[int, int, int], ...]
SIZES = (2, 3, 4, 5, 7, 8, 16, 17, 33, 64, 100)
RTOL = 1e-11


@pytest.fixture(autouse=True)
def _fast_path_everywhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the fast kernels even for tiny meshes (normally they fall back to the reference)."""
    monkeypatch.setattr(kernels, "_MIN_FAST_PORTS", 2)
    kernels._plan.cache_clear()
    yield
    kernels._plan.cache_clear()


def mesh_columns(topology: str, n: int) -> Columns:
    mesh = Mesh.clements(n) if topology == "clements" else Mesh.reck(n)
    return mesh._columns


def random_t(rng: np.random.Generator, n_mzis: int, lossy: bool) -> tuple[np.ndarray, np.ndarray]:
    """Random 2×2 transfer matrices and their inverses: unitary, or unitary·loss·unitary."""
    z = rng.normal(size=(n_mzis, 2, 2)) + 1j * rng.normal(size=(n_mzis, 2, 2))
    u, _ = np.linalg.qr(z)
    if lossy:
        z2 = rng.normal(size=(n_mzis, 2, 2)) + 1j * rng.normal(size=(n_mzis, 2, 2))
        v, _ = np.linalg.qr(z2)
        loss = rng.uniform(0.5, 1.0, size=(n_mzis, 2))
        u = (u * loss[:, None, :]) @ v
    return u, inverse_2x2(u)


def random_corr(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))


def assert_close(fast: np.ndarray, ref: np.ndarray) -> None:
    scale = float(np.abs(ref).max()) if ref.size else 1.0
    np.testing.assert_allclose(fast, ref, rtol=0, atol=RTOL * scale)


def assert_sweep_is_the_reference(
    columns: Columns,
    t: np.ndarray,
    t_inv: np.ndarray,
    corr: np.ndarray,
    *,
    sweep_t: np.ndarray | None = None,
    groups: kernels.Groups | None = None,
) -> None:
    """Blocks and final correlation of the fast sweep (run with ``sweep_t``, default
    ``t``, and ``groups``) equal the reference sweep's with ``t``."""
    ref = kernels.correlation_sweep_reference(columns, t, t_inv, corr.copy())
    given = t if sweep_t is None else sweep_t
    fast = kernels.correlation_sweep(columns, given, t_inv, corr.copy(), groups=groups)
    assert_close(fast[0], ref[0])
    assert_close(fast[1], ref[1])


def check(columns: Columns, n: int, t: np.ndarray, t_inv: np.ndarray, corr: np.ndarray) -> None:
    """Both kernels against their references.

    ``t_inv`` must be the inverse of ``t``: the sweep runs with it and with
    ``t_inv=None``, each with and without compose's groups; for unitary ``t`` also
    with ``assume="unitary"``.
    """
    w_ref = kernels.compose_reference(columns, t, n)
    assert_close(kernels.compose(columns, t, n), w_ref)
    w, groups = kernels.compose_groups(columns, t, n)
    assert_close(w, w_ref)
    blocks_ref, final_ref = kernels.correlation_sweep_reference(columns, t, t_inv, corr.copy())
    unitary = np.allclose(np.conj(np.swapaxes(t, -1, -2)) @ t, np.eye(2), rtol=0, atol=1e-14)
    runs = [(right, "nothing") for right in (t_inv, None)] + [(None, "unitary")] * unitary
    for right, assume in runs:
        for shared in (None, groups):
            blocks, final = kernels.correlation_sweep(
                columns, t, right, corr.copy(), groups=shared, assume=assume
            )
            assert blocks.shape == blocks_ref.shape
            assert_close(blocks, blocks_ref)
            assert_close(final, final_ref)


@pytest.mark.parametrize("lossy", [False, True], ids=["lossless", "lossy"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("topology", ["clements", "reck"])
def test_fast_kernels_match_reference(topology: str, n: int, lossy: bool) -> None:
    rng = np.random.default_rng(1000 * n + lossy)
    columns = mesh_columns(topology, n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy)
    check(columns, n, t, t_inv, random_corr(rng, n))


@pytest.mark.parametrize("params", [(2, 2), (4, 4), (4, 8), (16, 16)])
@pytest.mark.parametrize("n", [5, 17, 33])
@pytest.mark.parametrize("topology", ["clements", "reck"])
def test_group_and_block_sizes(
    monkeypatch: pytest.MonkeyPatch, topology: str, n: int, params: tuple[int, int]
) -> None:
    monkeypatch.setattr(kernels, "_params", lambda _n: params)
    rng = np.random.default_rng(n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=True)
    check(mesh_columns(topology, n), n, t, t_inv, random_corr(rng, n))


@pytest.mark.parametrize("topology", ["clements", "reck"])
def test_groups_processed_in_chunks(monkeypatch: pytest.MonkeyPatch, topology: str) -> None:
    monkeypatch.setattr(kernels, "_CHUNK_ELEMENTS", 2000)  # a few groups per chunk
    monkeypatch.setattr(kernels, "_params", lambda _n: (4, 4))
    n = 40
    plan = kernels._plan(mesh_columns(topology, n), n, n * (n - 1) // 2, 4, 4)
    assert len(plan.sweep_chunks) > 2 and len(plan.compose_chunks) > 2
    rng = np.random.default_rng(7)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=True)
    check(mesh_columns(topology, n), n, t, t_inv, random_corr(rng, n))


def test_irregular_columns() -> None:
    """Repeated parities, short columns, gaps and unsorted MZI indices."""
    n = 11
    columns: Columns = ((0, 2, 1), (2, 5, 1), (5, 6, 4), (6, 8, 0), (8, 10, 6), (10, 15, 0))
    rng = np.random.default_rng(3)
    t, t_inv = random_t(rng, 15, lossy=True)
    check(columns, n, t, t_inv, random_corr(rng, n))
    order = (3, 0, 5, 1, 4, 2)
    check(tuple(columns[i] for i in order), n, t, t_inv, random_corr(rng, n))


def test_reversed_columns_and_transposed_matrices() -> None:
    """The adjoint use in insitu: columns backwards, ``tᵀ`` (a strided view) and ``t̄``."""
    n = 21
    columns = mesh_columns("clements", n)[::-1]
    rng = np.random.default_rng(4)
    t, _ = random_t(rng, n * (n - 1) // 2, lossy=True)
    t_t = np.swapaxes(t, -1, -2)
    check(columns, n, t_t, inverse_2x2(t_t), random_corr(rng, n))


def test_correlation_is_overwritten_and_returned() -> None:
    n = 20
    rng = np.random.default_rng(5)
    columns = mesh_columns("clements", n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=False)
    corr = random_corr(rng, n)
    expected = kernels.correlation_sweep_reference(columns, t, t_inv, corr.copy())[1]
    _, final = kernels.correlation_sweep(columns, t, t_inv, corr)
    assert final is corr
    assert_close(corr, expected)


def test_sweep_after_compose_with_a_changed_t() -> None:
    """Nothing compose computed may leak into a following sweep (shared scratch space)."""
    n = 30
    rng = np.random.default_rng(8)
    columns = mesh_columns("clements", n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=True)
    corr = random_corr(rng, n)
    kernels.compose(columns, t, n)
    t[3] = t[3] @ np.diag([0.5, 1.2])  # in place, after compose
    t_inv = inverse_2x2(t)
    assert_sweep_is_the_reference(columns, t, t_inv, corr)


def test_one_lossy_mzi_among_lossless_ones() -> None:
    """G⁻¹ = Gᴴ is used only if every t_inv is tᴴ."""
    n = 26
    rng = np.random.default_rng(9)
    t, _ = random_t(rng, n * (n - 1) // 2, lossy=False)
    t[-1] *= 0.9
    check(mesh_columns("clements", n), n, t, inverse_2x2(t), random_corr(rng, n))


def test_meshes_sharing_work_arrays() -> None:
    """Consecutive meshes of 60 and 64 ports share padded work arrays (N padded to 64)."""
    rng = np.random.default_rng(10)
    for n in (64, 60, 64, 61):
        columns = mesh_columns("reck", n)
        t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=True)
        check(columns, n, t, t_inv, random_corr(rng, n))


@pytest.mark.parametrize("n", [24, 50])  # group depths 4 and 8
def test_barely_lossy_mzis_are_inverted_not_adjointed(n: int) -> None:
    """``t_inv=None`` takes ``tᴴ`` as the inverse only if ``t`` is unitary to rounding.

    An MZI losing 1e-5 dB on one arm (field factor 1 − 1.15e-6) is not unitary: ``tᴴ``
    is then off the inverse by ~1e-6, which the sweep would carry into every block —
    far above rounding. The sweep must equal the reference run with the true inverses.
    """
    rng = np.random.default_rng(30 + n)
    columns = mesh_columns("clements", n)
    t, _ = random_t(rng, n * (n - 1) // 2, lossy=False)
    t = t * np.array([1.0, 10 ** (-1e-5 / 20)])[None, :, None]  # bottom output arm
    corr = random_corr(rng, n)
    ref = kernels.correlation_sweep_reference(columns, t, inverse_2x2(t), corr.copy())
    blocks, final = kernels.correlation_sweep(columns, t, None, corr.copy())
    assert_close(blocks, ref[0])
    assert_close(final, ref[1])


@pytest.mark.parametrize("right", ["adjoint", "conjugate", "other"])
@pytest.mark.parametrize("n", [24, 41])
def test_right_factors_that_are_not_inverses(n: int, right: str) -> None:
    """The sweep is ``M ← t M t_inv`` for any ``t_inv``: insitu passes ``tᴴ`` of lossy MZIs.

    ``t̄`` (conjugated, not transposed) is another right factor: the ``G′ = Gᴴ``
    shortcut must take it for what it is (``Gᴴ`` is the product of the ``tᴴ``, not of
    the ``t̄``: the same only for symmetric ``t``, which these, like MZIs, are not).
    """
    rng = np.random.default_rng(n)
    t, _ = random_t(rng, n * (n - 1) // 2, lossy=True)
    if right == "adjoint":
        factor = np.conj(np.swapaxes(t, -1, -2))
    elif right == "conjugate":
        factor = np.conj(t)
    else:
        factor = 0.8 * random_t(rng, n * (n - 1) // 2, lossy=True)[0]
    for columns in (mesh_columns("clements", n), mesh_columns("reck", n)[::-1]):
        corr = random_corr(rng, n)
        groups = kernels.compose_groups(columns, t, n)[1]
        for shared in (None, groups):
            assert_sweep_is_the_reference(columns, t, factor, corr, groups=shared)


@pytest.mark.parametrize("n", [6, 24])  # the reference fallback and the fast kernel
def test_assume_unitary_is_a_promise_not_a_check(n: int) -> None:
    """``assume="unitary"`` takes ``tᴴ`` as the inverse unchecked; misuse is refused."""
    rng = np.random.default_rng(n)
    columns = mesh_columns("clements", n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=True)
    corr = random_corr(rng, n)
    with mock.patch.object(kernels, "_MIN_FAST_PORTS", 12):
        ref = kernels.correlation_sweep_reference(columns, t, t_inv, corr.copy())
        checked = kernels.correlation_sweep(columns, t, None, corr.copy())
        assert_close(checked[0], ref[0])
        # a lossy t breaks the promise: no check catches it, and the blocks are wrong
        promised = kernels.correlation_sweep(columns, t, None, corr.copy(), assume="unitary")
        assert float(np.abs(promised[0] - ref[0]).max()) > 1e-3 * float(np.abs(ref[0]).max())
        with pytest.raises(ValueError, match="pass t_inv=None"):
            kernels.correlation_sweep(columns, t, t_inv, corr.copy(), assume="unitary")
        with pytest.raises(ValueError, match="assume"):
            kernels.correlation_sweep(columns, t, None, corr.copy(), assume="lossless")  # type: ignore[arg-type]


def test_groups_own_their_arrays() -> None:
    """Groups stay valid after other meshes are composed (no shared scratch space)."""
    rng = np.random.default_rng(11)
    n = 33
    columns = mesh_columns("clements", n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=True)
    corr = random_corr(rng, n)
    _, groups = kernels.compose_groups(columns, t, n)
    for _ in range(3):  # same plan, other matrices: reuses every scratch array
        kernels.compose_groups(columns, random_t(rng, n * (n - 1) // 2, lossy=True)[0], n)
        kernels.correlation_sweep(columns, random_t(rng, len(t), False)[0], t_inv, corr.copy())
    assert_sweep_is_the_reference(columns, t, t_inv, corr, groups=groups)


def test_groups_cannot_go_stale() -> None:
    """Groups hold a read-only copy of t: equal values pass, changed ones are refused."""
    rng = np.random.default_rng(12)
    n = 24
    columns = mesh_columns("clements", n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=False)
    _, groups = kernels.compose_groups(columns, t, n)
    assert groups is not None and not groups.t.flags.writeable
    assert not groups.blocks.flags.writeable
    corr = random_corr(rng, n)
    assert_sweep_is_the_reference(columns, t, t_inv, corr, sweep_t=t.copy(), groups=groups)
    t[5] = t[5] @ np.diag([1.0, -1.0])  # the caller changes its array after composing
    with pytest.raises(ValueError, match="groups were built from other MZI matrices"):
        kernels.correlation_sweep(columns, t, t_inv, corr.copy(), groups=groups)
    reck = mesh_columns("reck", n)
    with pytest.raises(ValueError, match="or columns"):
        kernels.correlation_sweep(reck, groups.t, t_inv, corr.copy(), groups=groups)


def test_small_meshes_use_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "_MIN_FAST_PORTS", 12)
    n = 6
    rng = np.random.default_rng(6)
    columns = mesh_columns("reck", n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=True)
    corr = random_corr(rng, n)
    np.testing.assert_array_equal(
        kernels.compose(columns, t, n), kernels.compose_reference(columns, t, n)
    )
    ref = kernels.correlation_sweep_reference(columns, t, t_inv, corr.copy())
    fast = kernels.correlation_sweep(columns, t, t_inv, corr.copy())
    np.testing.assert_array_equal(fast[0], ref[0])
    np.testing.assert_array_equal(fast[1], ref[1])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(min_value=2, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    topology=st.sampled_from(["clements", "reck"]),
    lossy=st.booleans(),
    params=st.sampled_from([(2, 2), (4, 4), (8, 8), (4, 8), (6, 6)]),
)
def test_property_matches_reference(
    n: int, seed: int, topology: str, lossy: bool, params: tuple[int, int]
) -> None:
    with mock.patch.object(kernels, "_params", lambda _n: params):
        rng = np.random.default_rng(seed)
        t, t_inv = random_t(rng, n * (n - 1) // 2, lossy)
        check(mesh_columns(topology, n), n, t, t_inv, random_corr(rng, n))
