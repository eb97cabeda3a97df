"""Compiled mesh kernels against the plain NumPy per-column references."""

from __future__ import annotations

import subprocess
import sys

import numba
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
    columns: Columns, t: np.ndarray, t_inv: np.ndarray, corr: np.ndarray
) -> None:
    """Blocks and final diagonal of the compiled sweep equal the reference sweep's."""
    ref = kernels.correlation_sweep_reference(columns, t, t_inv, corr.copy())
    fast = kernels.correlation_sweep(columns, t, t_inv, corr.copy())
    assert_close(fast[0], ref[0])
    assert_close(fast[1], np.diagonal(ref[1]))


def check(columns: Columns, n: int, t: np.ndarray, t_inv: np.ndarray, corr: np.ndarray) -> None:
    """Both kernels against their references.

    ``t_inv`` must be the inverse of ``t``: the sweep runs with it and with
    ``t_inv=None``; for unitary ``t`` also with ``assume="unitary"``.
    """
    assert_close(kernels.compose(columns, t, n), kernels.compose_reference(columns, t, n))
    screen = np.exp(1j * np.linspace(0.1, 3.0, n)) * np.linspace(0.5, 1.0, n)
    composed = kernels.compose(columns, t, n, screen=screen)
    assert_close(composed, screen[:, None] * kernels.compose_reference(columns, t, n))
    blocks_ref, final_ref = kernels.correlation_sweep_reference(columns, t, t_inv, corr.copy())
    unitary = np.allclose(np.conj(np.swapaxes(t, -1, -2)) @ t, np.eye(2), rtol=0, atol=1e-14)
    runs = [(right, "nothing") for right in (t_inv, None)] + [(None, "unitary")] * unitary
    for right, assume in runs:
        blocks, final = kernels.correlation_sweep(columns, t, right, corr.copy(), assume=assume)
        assert blocks.shape == blocks_ref.shape
        assert_close(blocks, blocks_ref)
        assert_close(final, np.diagonal(final_ref))
    # back from the output plane: the reference on the reversed columns, M ← t⁻¹ M t
    back_ref = kernels.correlation_sweep_reference(columns[::-1], t_inv, t, corr.copy())[0]
    for right, assume in runs:
        back = kernels.correlation_sweep_back(columns, t, right, corr.copy(), assume=assume)
        assert_close(back, back_ref)


@pytest.mark.parametrize("lossy", [False, True], ids=["lossless", "lossy"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("topology", ["clements", "reck"])
def test_compiled_kernels_match_reference(topology: str, n: int, lossy: bool) -> None:
    rng = np.random.default_rng(1000 * n + lossy)
    columns = mesh_columns(topology, n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy)
    check(columns, n, t, t_inv, random_corr(rng, n))


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


@pytest.mark.parametrize("layout", ["contiguous", "transposed view", "complex64"])
def test_any_correlation_layout_is_swept(layout: str) -> None:
    """Also a ``corr`` the compiled loops cannot run on in place (a view, another
    dtype); afterwards it holds the final correlation near its diagonal."""
    n = 20
    rng = np.random.default_rng(5)
    columns = mesh_columns("clements", n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=False)
    corr = random_corr(rng, n)
    if layout == "transposed view":
        corr = corr.T
        assert not corr.flags.c_contiguous
    elif layout == "complex64":
        corr = corr.astype(np.complex64)
    blocks_ref, final_ref = kernels.correlation_sweep_reference(
        columns, t, t_inv, corr.astype(np.complex128)
    )
    blocks, diagonal = kernels.correlation_sweep(columns, t, t_inv, corr)
    assert_close(blocks, blocks_ref)
    assert_close(diagonal, np.diagonal(final_ref))
    if layout != "complex64":  # (written back rounded to complex64 otherwise)
        assert_close(np.diagonal(corr), np.diagonal(final_ref))


def test_the_sweep_carries_only_what_later_columns_read() -> None:
    """Before the last r columns only |i − j| ≤ 2r is carried: far from the diagonal the
    scratch ``corr`` is left behind (the work saved), next to it it is exact."""
    n = 40
    rng = np.random.default_rng(8)
    columns = mesh_columns("clements", n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=False)
    corr = random_corr(rng, n)
    final_ref = kernels.correlation_sweep_reference(columns, t, t_inv, corr.copy())[1]
    kernels.correlation_sweep(columns, t, t_inv, corr)
    off = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    assert_close(corr[off == 0], final_ref[off == 0])
    assert np.abs(corr - final_ref)[off > n // 2].min() > 1e-3


@pytest.mark.parametrize("n", [5, 50])
def test_barely_lossy_mzis_are_inverted_not_adjointed(n: int) -> None:
    """``t_inv=None`` inverts ``t``: ``tᴴ`` is not the inverse of a barely lossy MZI.

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
    assert_close(final, np.diagonal(ref[1]))


@pytest.mark.parametrize("right", ["adjoint", "conjugate", "other"])
@pytest.mark.parametrize("n", [24, 41])
def test_right_factors_that_are_not_inverses(n: int, right: str) -> None:
    """The sweep is ``M ← t M t_inv`` for any ``t_inv``: insitu passes ``tᴴ`` of lossy MZIs.

    ``t̄`` (conjugated, not transposed) is another right factor, not to be confused
    with ``tᴴ`` (the same only for symmetric ``t``, which these, like MZIs, are not).
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
        assert_sweep_is_the_reference(columns, t, factor, random_corr(rng, n))


def test_assume_unitary_is_a_promise_not_a_check() -> None:
    """``assume="unitary"`` takes ``tᴴ`` as the inverse unchecked; misuse is refused."""
    n = 24
    rng = np.random.default_rng(n)
    columns = mesh_columns("clements", n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy=True)
    corr = random_corr(rng, n)
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


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(min_value=2, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    topology=st.sampled_from(["clements", "reck"]),
    lossy=st.booleans(),
)
def test_property_matches_reference(n: int, seed: int, topology: str, lossy: bool) -> None:
    rng = np.random.default_rng(seed)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy)
    check(mesh_columns(topology, n), n, t, t_inv, random_corr(rng, n))


def tap_power_pass_reference(
    columns: Columns, rows3: np.ndarray, field: np.ndarray, direction: str
) -> tuple[np.ndarray, np.ndarray]:
    """The pass MZI by MZI in NumPy: ``(theta, phi)`` sums; ``field`` propagated in place."""
    theta = np.zeros(len(rows3))
    phi = np.zeros(len(rows3))
    for a, b, lo in columns if direction == "forward" else columns[::-1]:
        for m in range(a, b):
            pair = field[lo + 2 * (m - a) : lo + 2 * (m - a) + 2]
            if direction == "forward":
                phi[m] = np.sum(np.abs(pair[0]) ** 2)
            theta[m] = np.sum(np.abs(rows3[m, 0] @ pair) ** 2)
            pair[...] = rows3[m, 1:] @ pair
            if direction == "adjoint":
                phi[m] = np.sum(np.abs(pair[0]) ** 2)
    return theta, phi


@pytest.mark.parametrize("direction", ["forward", "adjoint"])
@pytest.mark.parametrize("n_samples", [1, 7, 64])
@pytest.mark.parametrize(("topology", "n"), [("clements", 2), ("clements", 9), ("reck", 8)])
def test_tap_power_pass_matches_reference(
    topology: str, n: int, n_samples: int, direction: str
) -> None:
    rng = np.random.default_rng(n * n_samples)
    columns = mesh_columns(topology, n)
    n_mzis = n * (n - 1) // 2
    t, _ = random_t(rng, n_mzis, lossy=True)
    rows3 = np.concatenate([random_t(rng, n_mzis, lossy=True)[0][:, :1], t], axis=1)
    field = rng.normal(size=(n, n_samples)) + 1j * rng.normal(size=(n, n_samples))
    want_field = field.copy()
    want = tap_power_pass_reference(columns, rows3, want_field, direction)
    got = kernels.tap_power_pass(columns, rows3, field, direction=direction)  # type: ignore[arg-type]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    assert_close(field, want_field)


def test_tap_power_pass_refuses_a_field_it_cannot_overwrite_in_place() -> None:
    columns = mesh_columns("clements", 4)
    rows3 = np.zeros((6, 3, 2), dtype=np.complex128)
    with pytest.raises(ValueError, match="C-contiguous complex128"):
        kernels.tap_power_pass(columns, rows3, np.ones((3, 4)).T + 0j, direction="forward")
    with pytest.raises(ValueError, match="direction"):
        kernels.tap_power_pass(columns, rows3, np.ones((4, 3), complex), direction="back")  # type: ignore[arg-type]


def test_kernels_work_without_a_writable_numba_cache() -> None:
    """Where Numba finds no folder to cache in, importing warns once and the kernels
    compile in the process (Numba raises at decoration time otherwise)."""
    script = """
import warnings
import numba.core.caching as caching
caching.CacheImpl._locator_classes = []  # as with a read-only install and home
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("default")
    from photonic import kernels
messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
assert len(messages) == 1 and "NUMBA_CACHE_DIR" in messages[0], messages
import subprocess
import sys

import numba
import numpy as np
t = np.tile(np.eye(2, dtype=complex), (1, 1, 1))
assert np.array_equal(kernels.compose(((0, 1, 0),), t, 2), np.eye(2))
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# -- the explicit-SIMD mixes ------------------------------------------------------------


@numba.njit
def _apply_mixes(re, im, c, u, planes, u_rows):
    """Each mix of the kernels: on rows of ``re``/``im`` ``(8, n)``, rows 0–1 by
    ``_mix_rows`` and 4–5 by ``_mix_columns`` (``u``: 8 arrays); on ``planes``
    ``(2, 2, 2n)`` (rows p, q; columns P = 0 … n−1, Q = n … 2n−1), ``_mix_both``
    (``u_rows``: those arrays as one ``(8, n)``)."""
    kernels._mix_rows(re[0], im[0], re[1], im[1], c)
    kernels._mix_columns(re[4], im[4], re[5], im[5], u)
    kernels._mix_both((planes[0], planes[1]), (0, 1, 0, re.shape[1], 0), c, u_rows, 0, re.shape[1])


@pytest.mark.parametrize("n", range(11))  # 0 … 2 vector steps and every remainder
def test_simd_mixes_are_the_complex_2x2_products(n: int) -> None:
    """Each row mix is ``t @ (x, y)``; each column mix is ``(x, y) @ u`` per entry;
    the fused mix is both, on the 2×2 blocks ``[[row p col P, p Q], [q P, q Q]]``."""
    rng = np.random.default_rng(n)
    z = rng.normal(size=(8, n)) + 1j * rng.normal(size=(8, n))
    t = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
    u = rng.normal(size=(n, 2, 2)) + 1j * rng.normal(size=(n, 2, 2))
    re, im = np.ascontiguousarray(z.real), np.ascontiguousarray(z.imag)
    c = tuple(float(v) for e in t.ravel() for v in (e.real, e.imag))
    u_rows = tuple(
        np.ascontiguousarray(part(u[:, r, s])) for r in range(2) for s in range(2)
        for part in (np.real, np.imag)
    )  # fmt: skip
    # the fused mix on blocks [[p P, p Q], [q P, q Q]]: rows 2, 3 (p), 6, 7 (q) of z
    blocks = np.concatenate([z[[2, 6]], z[[3, 7]]], axis=1)  # (p, q) × (P…, Q…)
    planes = np.ascontiguousarray(np.stack([blocks.real, blocks.imag]))
    _apply_mixes(re, im, c, u_rows, planes, np.stack(u_rows))
    expected = z.copy()
    expected[0:2] = t @ z[0:2]
    expected[4:6] = np.einsum("jr,jrs->sj", z[4:6].T, u)
    np.testing.assert_allclose((re + 1j * im)[[0, 1, 4, 5]], expected[[0, 1, 4, 5]], atol=1e-13)
    for j in range(n):
        block = np.array([[z[2, j], z[3, j]], [z[6, j], z[7, j]]])
        mixed = planes[0] + 1j * planes[1]
        got = np.array([[mixed[0, j], mixed[0, n + j]], [mixed[1, j], mixed[1, n + j]]])
        np.testing.assert_allclose(got, t @ block @ u[j], rtol=0, atol=1e-13)


def test_simd_mixes_refuse_strided_and_read_only_rows() -> None:
    """The intrinsics read consecutive memory and write the rows in place, so a
    strided row or a read-only one is a typing error (read-only factors are fine)."""
    re = np.zeros((8, 8))
    c = (1.0,) + (0.0,) * 7
    u = tuple(np.zeros(8) for _ in range(8))
    planes = np.zeros((2, 2, 16))
    with pytest.raises(numba.core.errors.TypingError):
        _apply_mixes(re[:, ::2], re[:, ::2], c, u, planes, np.zeros((8, 4)))
    with pytest.raises(numba.core.errors.TypingError):
        _apply_mixes(re, re, c, u, planes[:, :, ::2], np.zeros((8, 8)))
    frozen = re.copy()
    frozen.flags.writeable = False
    with pytest.raises(numba.core.errors.TypingError):
        _apply_mixes(frozen, frozen, c, u, planes, np.zeros((8, 8)))
    frozen_planes = planes.copy()
    frozen_planes.flags.writeable = False
    with pytest.raises(numba.core.errors.TypingError):
        _apply_mixes(re, re, c, u, frozen_planes, np.zeros((8, 8)))
    for factor in u:
        factor.flags.writeable = False
    u_rows = np.zeros((8, 8))
    u_rows.flags.writeable = False
    _apply_mixes(re.copy(), re.copy(), c, u, planes, u_rows)


@pytest.mark.parametrize("chip", ["lossless", "lossy"])
def test_shifter_gradients_read_the_blocks_through_s1(chip: str) -> None:
    """``dL/dφ = −Im M[0,0]``, ``dL/dθ = −Im (S₁ M S₁⁻¹)[0,0]``, written with full
    2×2 products; lossless ``S₁`` are inverted as ``S₁ᴴ`` when no inverse is given."""
    rng = np.random.default_rng(11)
    n = 37
    blocks = rng.normal(size=(n, 2, 2)) + 1j * rng.normal(size=(n, 2, 2))
    if chip == "lossless":
        s1 = np.linalg.qr(rng.normal(size=(n, 2, 2)) + 1j * rng.normal(size=(n, 2, 2)))[0]
        theta, phi = kernels.shifter_gradients(blocks, s1, None)
    else:
        s1 = rng.normal(size=(n, 2, 2)) + 1j * rng.normal(size=(n, 2, 2))
        theta, phi = kernels.shifter_gradients(blocks, s1, inverse_2x2(s1))
    mid = s1 @ blocks @ np.linalg.inv(s1)
    np.testing.assert_allclose(theta, -mid[:, 0, 0].imag, rtol=0, atol=1e-13)
    np.testing.assert_allclose(phi, -blocks[:, 0, 0].imag, rtol=0, atol=0)


@pytest.mark.parametrize("lossy", [False, True], ids=["lossless", "lossy"])
@pytest.mark.parametrize(("topology", "n"), [("clements", 9), ("clements", 64), ("reck", 12)])
def test_the_back_sweep_meets_the_forward_sweep_at_every_mzi(
    topology: str, n: int, lossy: bool
) -> None:
    """Two directions, one correlation: ``M`` carried forward from the inputs and back
    from the outputs must agree at every MZI, ``t⁻¹ · (block at its output) · t`` =
    (block at its input); an output screen ``D`` is undone as ``D⁻¹ M D``."""
    rng = np.random.default_rng(50 + n + lossy)
    columns = mesh_columns(topology, n)
    t, t_inv = random_t(rng, n * (n - 1) // 2, lossy)
    corr_in = random_corr(rng, n)
    w = kernels.compose_reference(columns, t, n)
    # not on the unit circle: 1/s, not conj(s), undoes it
    screen = np.exp(1j * rng.uniform(0, 2 * np.pi, n)) * rng.uniform(0.5, 2.0, n)
    corr_out = screen[:, None] * (w @ corr_in @ np.linalg.inv(w)) / screen[None, :]
    blocks_in, _ = kernels.correlation_sweep(columns, t, t_inv, corr_in.copy())
    blocks_out = kernels.correlation_sweep_back(
        columns, t, t_inv if lossy else None, corr_out, screen=screen,
        assume="nothing" if lossy else "unitary",
    )  # fmt: skip
    assert_close(t_inv @ blocks_out @ t, blocks_in)


def test_screens_of_the_wrong_shape_or_with_zeros_are_refused() -> None:
    columns = mesh_columns("clements", 4)
    t, t_inv = random_t(np.random.default_rng(0), 6, lossy=False)
    corr = random_corr(np.random.default_rng(1), 4)
    with pytest.raises(ValueError, match=r"screen has shape \(3,\); it must be \(4,\)"):
        kernels.compose(columns, t, 4, screen=np.ones(3))
    with pytest.raises(ValueError, match=r"screen has shape \(4, 1\); it must be \(4,\)"):
        kernels.correlation_sweep_back(columns, t, t_inv, corr, screen=np.ones((4, 1)))
    for bad in (0.0, np.nan, np.inf):
        screen = np.array([1.0, bad, 1.0, 1.0])
        with pytest.raises(ValueError, match="screen must hold finite, nonzero factors"):
            kernels.correlation_sweep_back(columns, t, t_inv, corr.copy(), screen=screen)


def test_sizes_that_do_not_fit_the_columns_are_refused() -> None:
    """The compiled loops index without bounds checks: a 3-port correlation for a
    4-port mesh read and wrote past its rows, silently."""
    columns = mesh_columns("clements", 4)  # 6 MZIs on ports 0 … 3
    t, t_inv = random_t(np.random.default_rng(0), 6, lossy=False)
    small = random_corr(np.random.default_rng(1), 3)
    for sweep in (kernels.correlation_sweep, kernels.correlation_sweep_back):
        with pytest.raises(ValueError, match=r"the columns reach port 3; got N = 3 ports"):
            sweep(columns, t, t_inv, small)
        with pytest.raises(ValueError, match=r"corr has shape \(4, 3\); it must be square"):
            sweep(columns, t, t_inv, np.ones((4, 3), dtype=complex))
        with pytest.raises(ValueError, match=r"t has shape \(5, 2, 2\); it must be \(n_mzis ≥ 6"):
            sweep(columns, t[:5], None, random_corr(np.random.default_rng(2), 4))
        with pytest.raises(ValueError, match=r"t_inv has shape \(6, 2\)"):
            sweep(columns, t, t_inv[:, 0], random_corr(np.random.default_rng(2), 4))
    with pytest.raises(ValueError, match=r"the columns reach port 3; got N = 3 ports"):
        kernels.compose(columns, t, 3)
    field = np.ones((4, 5), dtype=complex)
    with pytest.raises(ValueError, match=r"rows3 has shape \(5, 3, 2\)"):
        kernels.tap_power_pass(
            columns, np.ones((5, 3, 2), dtype=complex), field, direction="forward"
        )
    with pytest.raises(ValueError, match=r"the columns reach port 3; got N = 2 ports"):
        kernels.tap_power_pass(
            columns, np.ones((6, 3, 2), dtype=complex), field[:2].copy(), direction="forward"
        )


@pytest.mark.parametrize("chip", ["lossless", "lossy"])
def test_shifter_gradients_at_outputs_read_the_blocks_back_through_the_mzi(chip: str) -> None:
    """From a block at the MZI output: ``dL/dθ = −Im (S₂⁻¹ M S₂)[0,0]`` (the plane after
    ``S₁``), ``dL/dφ = −Im (T⁻¹ M T)[0,0]`` (the input), written with full 2×2 products;
    lossless halves are inverted as their conjugate transposes when no inverses are given."""
    rng = np.random.default_rng(12)
    n = 37
    blocks = rng.normal(size=(n, 2, 2)) + 1j * rng.normal(size=(n, 2, 2))
    if chip == "lossless":
        s1, s2 = (
            np.linalg.qr(rng.normal(size=(n, 2, 2)) + 1j * rng.normal(size=(n, 2, 2)))[0]
            for _ in range(2)
        )
        theta, phi = kernels.shifter_gradients_at_outputs(blocks, s2, s2 @ s1, None)
    else:
        s1, s2 = (rng.normal(size=(n, 2, 2)) + 1j * rng.normal(size=(n, 2, 2)) for _ in range(2))
        inverses = (inverse_2x2(s2), inverse_2x2(s2 @ s1))
        theta, phi = kernels.shifter_gradients_at_outputs(blocks, s2, s2 @ s1, inverses)
    t = s2 @ s1
    mid = np.linalg.inv(s2) @ blocks @ s2
    inp = np.linalg.inv(t) @ blocks @ t
    np.testing.assert_allclose(theta, -mid[:, 0, 0].imag, rtol=0, atol=1e-12)
    np.testing.assert_allclose(phi, -inp[:, 0, 0].imag, rtol=0, atol=1e-12)


def anti_hermitian(m: np.ndarray) -> np.ndarray:
    """``(M − Mᴴ)/2`` over the last two axes."""
    return (m - np.conj(np.swapaxes(m, -1, -2))) / 2


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    topology=st.sampled_from(["clements", "reck"]),
    direction=st.sampled_from(["forward", "back"]),
)
def test_the_anti_hermitian_sweep_carries_exactly_that_part(
    n: int, seed: int, topology: str, direction: str
) -> None:
    """``part="anti_hermitian"`` mixes only the upper triangle: its blocks must be
    ``(B − Bᴴ)/2`` of the whole sweep's blocks ``B`` at every MZI (the lower entry of
    each block rebuilt from the upper one), the imaginary part of its final diagonal
    the whole ``M``'s (``corr`` afterwards holds only the diagonal of either), and the
    gradients read from its blocks those of the whole ``M``."""
    rng = np.random.default_rng(seed)
    columns = mesh_columns(topology, n)
    t, _ = random_t(rng, n * (n - 1) // 2, lossy=False)
    corr = random_corr(rng, n)
    skew_corr = corr.copy()
    if direction == "forward":
        whole, whole_diagonal = kernels.correlation_sweep(columns, t, None, corr, assume="unitary")
        skew, skew_diagonal = kernels.correlation_sweep(
            columns, t, None, skew_corr, assume="unitary", part="anti_hermitian"
        )
        assert_close(skew_diagonal.imag, whole_diagonal.imag)
        s1 = np.linalg.qr(rng.normal(size=t.shape) + 1j * rng.normal(size=t.shape))[0]
        grads = [kernels.shifter_gradients(b, s1, None) for b in (whole, skew)]
    else:
        screen = np.exp(1j * rng.uniform(0, 2 * np.pi, n))
        whole, skew = (
            kernels.correlation_sweep_back(
                columns, t, None, c, assume="unitary", part=part, screen=screen
            )
            for c, part in ((corr, "whole"), (skew_corr, "anti_hermitian"))
        )
        s2 = np.linalg.qr(rng.normal(size=t.shape) + 1j * rng.normal(size=t.shape))[0]
        grads = [kernels.shifter_gradients_at_outputs(b, s2, t, None) for b in (whole, skew)]
    assert_close(skew, anti_hermitian(whole))
    assert_close(np.diagonal(skew_corr).imag, np.diagonal(corr).imag)
    for g_whole, g_skew in zip(*grads, strict=True):
        assert_close(g_skew, g_whole)


def test_the_anti_hermitian_sweep_needs_a_unitary_similarity() -> None:
    """Without ``assume="unitary"`` (inverses computed or given), or with a screen off
    the unit circle, ``M − Mᴴ`` would not stay anti-Hermitian: refused, naming the
    requirement. (``assume="unitary"`` itself is a promise, not checked.)"""
    columns = mesh_columns("clements", 4)
    t, t_inv = random_t(np.random.default_rng(0), 6, lossy=False)
    corr = random_corr(np.random.default_rng(1), 4)
    for sweep in (kernels.correlation_sweep, kernels.correlation_sweep_back):
        with pytest.raises(ValueError, match="part='anti_hermitian' needs assume='unitary'"):
            sweep(columns, t, t_inv, corr.copy(), part="anti_hermitian")
        with pytest.raises(ValueError, match="part"):
            sweep(columns, t, None, corr.copy(), assume="unitary", part="hermitian")  # type: ignore[arg-type]
    screen = np.array([1.0, 1.0, 1.0 + 1e-9, 1.0])
    with pytest.raises(ValueError, match=r"screen of phasors .* largest deviation 1e-09"):
        kernels.correlation_sweep_back(
            columns, t, None, corr.copy(), assume="unitary", part="anti_hermitian", screen=screen
        )
