"""The two hot loops of the mesh simulation, as pure functions of per-MZI 2×2 matrices.

A mesh is described here only by its columns: ``columns`` is a tuple of
``(first, stop, lo)`` — MZIs ``first … stop−1`` form one column and act on the port
pairs ``(lo, lo+1), (lo+2, lo+3), …`` in order. ``t`` holds the transfer matrix
of every MZI, ``(n_mzis, 2, 2)``.

* :func:`compose` — the mesh matrix ``C_last ⋯ C_1 C_0`` (no output phases);
  :func:`compose_groups` also returns the column groups' matrices it built
  (:class:`Groups`), which a sweep with the same ``t`` can reuse.
* :func:`correlation_sweep` — carries the batch correlation ``M = Σ_b a_b â_bᵀ``
  from the input plane through every column as ``M ← C M C⁻¹`` (``C⁻¹`` made of the
  per-MZI ``t_inv``) and returns the 2×2 diagonal block of ``M`` at the input of
  every MZI, and ``M`` after the last column.

Both cost O(N³) whatever the batch size (DESIGN.md §4.3). :func:`compose_reference`
and :func:`correlation_sweep_reference` are the plain implementations (one batched
2×2 product per column, N Python-level steps on N×N arrays); they are the oracle of
the tests. :func:`compose` and :func:`correlation_sweep` compute the same thing with
the O(N³) work in large BLAS calls.

Algorithm of the fast kernels
-----------------------------
*Canonical columns.* Identity columns are inserted so that the pair parity
(``lo mod 2``) alternates 0, 1, 0, … and the column count is a multiple of the group
depth ``g`` (even); missing MZIs are identity matrices, ports are padded to
``n_pad`` (a multiple of the block size ``s``). Nothing of this changes the result.

*Groups are banded.* In ``g`` consecutive columns light moves at most ``g`` ports, so a
group's transfer matrix ``G`` is banded: ``G[i, j] = 0`` for ``|i − j| > g``. With
port blocks of ``s ≥ g`` ports it is block-tridiagonal.

*Band build (elementwise, all groups at once).* The bands of all groups are built
together, one column level at a time: each level is 3 vectorised passes over an
array ``band[d, parity, x]`` (``d`` = diagonal offset ``j − i``, ``x`` = pair slot of
every group), touching only the current support (width ``2l+2`` at level ``l``).
Cost O(N²·g) elementwise, ``g`` Python steps.

*Banded BLAS.* ``W ← G W`` is one stacked matmul ``(nb, s, 3s) @ (nb, 3s, N)`` over
overlapping row windows of ``W`` (strided views, no copies); the sweep's boundary step
``M ← G M G′`` is two of them, where ``G′ = t_inv(first) ⋯ t_inv(last)`` is the
product of the given right factors, built like ``G`` (``G⁻¹`` in the training step;
nothing assumes it, so lossy meshes and other right factors are handled exactly as
the reference does). Cost 24·N²·g flops per group and side, i.e. 24·N³ for
:func:`compose` and 48·N³ for :func:`correlation_sweep`.

*Blocks inside a group (centered two-sided carry).* ``M`` is known exactly at the
group boundaries (every ``g`` columns). The diagonal 2×2 blocks at the ``g/2`` planes
after a boundary are obtained by carrying only a band of ``M`` forward
(``M ← t M t_inv`` column by column, left and right pair mixing, elementwise), those
at the ``g/2`` planes before the next boundary by carrying that boundary's band
backward (``M ← t⁻¹ M t_inv⁻¹``: ``t_inv`` and ``t`` themselves when ``t_inv`` is the
inverse, as in the training step, else their inverses — insitu passes ``tᴴ`` of
lossy MZIs). A 2×2 block needs half-width 1 and every column widens the
dependence by 2, so the band starts at half-width ``g + 1`` and shrinks by 2 per
step. Forward and backward halves of all groups run in the same vectorised passes
(the backward half is stored shifted by one port so both have the same parity).
Cost O(N²·g) elementwise, ``g/2`` Python steps.

*Shortcuts.* If ``t_inv`` is ``tᴴ`` to rounding (lossless MZIs; insitu's power
sweeps) the sweep uses ``G′ = Gᴴ`` instead of building it (the result differs at the
rounding level only). With ``t_inv=None`` (the inverses) one check decides whether
``tᴴ`` is the inverse. Given the :class:`Groups` that :func:`compose_groups` built
from the same ``t``, the sweep does not build ``G`` at all.
No result is carried from one call to the next: what compose built reaches the sweep
only as an explicit :class:`Groups` value, which owns its arrays. Only work arrays of
up to 4 MB are kept per thread and reused as scratch space
(every call initialises what it reads): at small N, page faults of fresh allocations
would cost as much as the arithmetic.

*Cost.* 24·N³ (compose) and 48·N³ (sweep) flops in BLAS plus O(N²·g) elementwise
work and O(N/g + g) Python-level steps, instead of O(N³) elementwise work in N steps.
Memory is bounded by processing groups in chunks (a single chunk up to N ≈ 300). The group
depth and block size (:func:`_params`) were chosen by timing on a 2-core machine;
meshes with fewer than ``_MIN_FAST_PORTS`` ports use the reference kernels.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from digital.validation import check_choice
from photonic.mzi import inverse_2x2

Array = NDArray[Any]
Columns = tuple[tuple[int, int, int], ...]

_ITEM = 16  # bytes per complex128 element
# Upper bound on the elements of the largest per-chunk work array (16 MB of complex128).
_CHUNK_ELEMENTS = 1 << 20
# Below this port count the reference kernels are faster (few columns, tiny arrays).
_MIN_FAST_PORTS = 20
# Work arrays up to this many elements (4 MB) are kept per thread and reused: fresh
# allocations of that size cost page faults that dominate small meshes. Larger arrays
# are allocated per call (NumPy backs them with huge pages).
_SCRATCH_MAX = 1 << 18
_SCRATCH_TOTAL = 1 << 22  # at most 64 MB kept per thread; the oldest arrays go first
# t_inv=None: tᴴ is taken as the inverse if ‖tᴴt − 1‖max ≤ this (unitary to rounding).
_UNITARY_TOL = 1e-13


# -- reference implementations (test oracle) ------------------------------------------


def compose_reference(columns: Columns, t: Array, n_ports: int) -> Array:
    """Product of the MZI columns, ``(n_ports, n_ports)`` complex; one step per column.

    Parameters
    ----------
    columns
        ``(first, stop, lo)`` of every column, in propagation order.
    t
        Per-MZI transfer matrices ``(n_mzis, 2, 2)``.
    n_ports
        N.

    Returns
    -------
    numpy.ndarray
        ``W``, ``(n_ports, n_ports)`` complex.
    """
    w = np.eye(n_ports, dtype=np.complex128)
    for a, b, lo in columns:
        hi = lo + 2 * (b - a)
        w[lo:hi] = (t[a:b] @ w[lo:hi].reshape(b - a, 2, n_ports)).reshape(hi - lo, n_ports)
    return w


def correlation_sweep_reference(
    columns: Columns, t: Array, t_inv: Array, corr: Array
) -> tuple[Array, Array]:
    """Diagonal 2×2 blocks of the correlation at every MZI input, and the final correlation.

    One step per column on the full ``(N, N)`` correlation.

    Parameters
    ----------
    columns
        ``(first, stop, lo)`` of every column, in propagation order.
    t, t_inv
        Per-MZI transfer matrices and their inverses, ``(n_mzis, 2, 2)``.
    corr
        ``M₀ = Σ_b a_b â_bᵀ`` at the input plane, ``(N, N)``; overwritten.

    Returns
    -------
    blocks : numpy.ndarray
        ``(n_mzis, 2, 2)``: ``M[top:top+2, top:top+2]`` at the input of each MZI.
    corr : numpy.ndarray
        ``M`` after the last column, ``(N, N)``.
    """
    n = corr.shape[0]
    blocks = np.empty((t.shape[0], 2, 2), dtype=np.complex128)
    for a, b, lo in columns:
        k = b - a
        hi = lo + 2 * k
        j = np.arange(k)
        blocks[a:b] = corr[lo:hi, lo:hi].reshape(k, 2, k, 2)[j, :, j, :]
        corr[lo:hi] = (t[a:b] @ corr[lo:hi].reshape(k, 2, n)).reshape(2 * k, n)
        right = corr[:, lo:hi].reshape(n, k, 2).transpose(1, 0, 2) @ t_inv[a:b]
        corr[:, lo:hi] = right.transpose(1, 0, 2).reshape(n, 2 * k)
    return blocks, corr


# -- fast implementations -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Groups:
    """The banded transfer matrices of a mesh's column groups, as :func:`compose_groups` built them.

    A value (its arrays are its own and read-only): :func:`correlation_sweep` takes it
    to skip building the same ``G`` again when it sweeps with the matrices the mesh
    was composed from.

    Attributes
    ----------
    columns
        The columns they group.
    t
        The per-MZI matrices they were built from, ``(n_mzis, 2, 2)``, read-only (the
        sweep checks that it is given these values; passing this very array makes
        the check free).
    blocks
        ``(n_groups, nb, s, 3s)``: block-tridiagonal form of every group's matrix
        (module docstring).
    """

    columns: Columns
    t: Array
    blocks: Array


def compose(columns: Columns, t: Array, n_ports: int) -> Array:
    """Product of the MZI columns, ``(n_ports, n_ports)`` complex.

    Same result as :func:`compose_reference` (to rounding). The columns are grouped
    ``g`` at a time; every group's banded transfer matrix is built elementwise (all
    groups at once) and applied to ``W`` with one stacked block-tridiagonal matmul
    (module docstring). Cost ≈ 24·N³ flops in BLAS plus O(N²·g) elementwise work and
    O(N/g + g) Python steps; the reference kernel is used for tiny meshes.

    Parameters
    ----------
    columns
        ``(first, stop, lo)`` of every column, in propagation order.
    t
        Per-MZI transfer matrices ``(n_mzis, 2, 2)``.
    n_ports
        N.

    Returns
    -------
    numpy.ndarray
        ``W``, ``(n_ports, n_ports)`` complex.
    """
    return _compose(columns, np.asarray(t, dtype=np.complex128), n_ports, keep=None)


def compose_groups(columns: Columns, t: Array, n_ports: int) -> tuple[Array, Groups | None]:
    """:func:`compose`, and the group matrices it built, for :func:`correlation_sweep`.

    The groups cost ``48·N²`` bytes of memory (3 MB at N = 256) and are ``None`` for
    meshes small enough for the reference kernel. A read-only complex128 ``t`` is kept
    as it is; any other is copied, so that the groups cannot go stale.

    Parameters
    ----------
    columns, t, n_ports
        As for :func:`compose`.

    Returns
    -------
    w : numpy.ndarray
        As :func:`compose`.
    groups : Groups or None
        The group matrices and the (read-only) ``t`` they were built from.
    """
    t = np.asarray(t, dtype=np.complex128)
    if n_ports < _MIN_FAST_PORTS or not columns:
        return compose_reference(columns, t, n_ports), None
    if t.flags.writeable:
        t = t.copy()
        t.flags.writeable = False
    g, s = _params(n_ports)
    plan = _plan(columns, n_ports, t.shape[0], g, s)
    n_groups = plan.compose_chunks[-1].k1
    blocks = np.empty((n_groups, plan.n_pad // s, s, 3 * s), dtype=np.complex128)
    w = _compose(columns, t, n_ports, keep=blocks)
    blocks.flags.writeable = False
    return w, Groups(columns, t, blocks)


def _compose(columns: Columns, t: Array, n_ports: int, *, keep: Array | None) -> Array:
    """:func:`compose`; the group blocks go to ``keep`` (all groups) if given, else to scratch."""
    if n_ports < _MIN_FAST_PORTS or not columns:
        return compose_reference(columns, t, n_ports)
    g, s = _params(n_ports)
    plan = _plan(columns, n_ports, t.shape[0], g, s)
    n_pad, n = plan.n_pad, n_ports
    nb = n_pad // s
    src = _source("c.src", [t])
    # W with s zero rows above and below, so that every block's 3s-row window exists
    # (the padding is never written, so reused buffers keep it zero).
    w_a = _scratch(plan.key + "c.w_a", (n_pad + 2 * s, n))
    w_b = _scratch(plan.key + "c.w_b", (n_pad + 2 * s, n))
    first = True
    for chunk in plan.compose_chunks:
        kc = chunk.k1 - chunk.k0
        band = _build(plan, _gather(plan.key + "c.coef", src, chunk.build).reshape(g, 2, 2, -1))
        out = None if keep is None else keep[chunk.k0 : chunk.k1]
        tri = _tri(plan, band, 0, kc, plan.key + "c.tri", out=out)
        for k in range(kc):
            if first:  # W = G₀: scatter its blocks (the same places every call)
                rl = n_pad + 2 * s
                dense = _scratch(plan.key + "c.dense", (n_pad, rl))
                _view(dense, 0, (nb, s, 3 * s), (s * rl + s, rl, 1))[...] = tri[0]
                w_a[s : s + n_pad] = dense[:, s : s + n]
                first = False
                continue
            windows = _view(w_a, 0, (nb, 3 * s, n), (s * n, n, 1))
            np.matmul(tri[k], windows, out=w_b[s : s + n_pad].reshape(nb, s, n))
            w_a, w_b = w_b, w_a
    return w_a[s : s + n].copy()


def correlation_sweep(
    columns: Columns,
    t: Array,
    t_inv: Array | None,
    corr: Array,
    *,
    groups: Groups | None = None,
    assume: Literal["nothing", "unitary"] = "nothing",
) -> tuple[Array, Array]:
    """Diagonal 2×2 blocks of the correlation at every MZI input, and the final correlation.

    Same results as :func:`correlation_sweep_reference` (to rounding): column by
    column ``M ← t M t_inv``. ``M`` is carried exactly from group boundary to group
    boundary (every ``g`` columns) by two stacked block-tridiagonal matmuls,
    ``M ← (G M) G′``; the blocks at the planes inside a group are read from narrow
    bands of ``M`` carried elementwise ``g/2`` columns forward from the boundary before
    and backward from the boundary after (module docstring). Cost ≈ 48·N³ flops in BLAS
    plus O(N²·g) elementwise work and O(N/g + g) Python steps; the reference kernel is
    used for tiny meshes.

    Parameters
    ----------
    columns
        ``(first, stop, lo)`` of every column, in propagation order.
    t, t_inv
        Per-MZI transfer matrices and their inverses, ``(n_mzis, 2, 2)``. ``t`` may be
        non-unitary (lossy); ``t_inv`` is used as given (it need not be the inverse:
        any invertible right factors work, e.g. ``tᴴ`` to carry ``Σ a aᴴ``).
        ``t_inv=None`` means the inverses of ``t``: the sweep then takes ``tᴴ`` if
        every ``t`` is unitary to rounding (``‖tᴴt − 1‖ ≤ 1e-13``), else inverts them.
    corr
        ``M₀ = Σ_b a_b â_bᵀ`` at the input plane, ``(N, N)``; overwritten.
    groups
        ``compose_groups(columns, t, N)[1]`` for these ``t``, if the caller has it:
        then the sweep does not build ``G`` again (its cost is then ≈ 48·N³ flops in
        BLAS plus the carry inside the groups). The values of ``t`` are checked
        (free when ``t`` is ``groups.t`` itself).
    assume
        ``"unitary"``: the caller knows that every ``t`` is unitary (a lossless chip),
        so ``t_inv=None`` is ``tᴴ`` without the check, which costs 0.1–0.7 matmuls
        of the training step (N = 256 … 64). ``t_inv`` must then be ``None``. Not
        verified: on lossy MZIs the result is wrong. ``"nothing"``: check.

    Returns
    -------
    blocks : numpy.ndarray
        ``(n_mzis, 2, 2)``: ``M[top:top+2, top:top+2]`` at the input of each MZI.
    corr : numpy.ndarray
        ``M`` after the last column, ``(N, N)`` (the input array, overwritten).

    Raises
    ------
    ValueError
        If ``groups`` were built from another ``t`` or for other columns.
    """
    check_choice(assume, "assume", ("nothing", "unitary"))
    if assume == "unitary" and t_inv is not None:
        raise ValueError("assume='unitary' means t_inv = tᴴ; pass t_inv=None")
    t = np.asarray(t, dtype=np.complex128)
    n_t = t.shape[0]
    if groups is not None and (
        groups.columns != columns or not (groups.t is t or np.array_equal(groups.t, t))
    ):
        raise ValueError(
            "groups were built from other MZI matrices or columns; pass the groups "
            "compose_groups returned for these t, or groups=None"
        )
    n = corr.shape[0]
    if n < _MIN_FAST_PORTS or not columns:
        if t_inv is None:
            t_inv = np.conj(np.swapaxes(t, -1, -2)) if assume == "unitary" else inverse_2x2(t)
        return correlation_sweep_reference(columns, t, np.asarray(t_inv, np.complex128), corr)
    g, s = _params(n)
    plan = _plan(columns, n, n_t, g, s)
    n_pad, h1, hw = plan.n_pad, plan.h1, plan.hw
    nb = n_pad // s
    pad = max(s, hw + 2)
    rl = n_pad + 2 * pad
    if t_inv is None:  # the inverses: tᴴ if that is one (known or checked), else inverted
        t_inv = np.conj(np.swapaxes(t, -1, -2))
        src = _source("s.src", [t, t_inv])
        unitary = assume == "unitary" or _is_inverse(src.reshape(4, -1), n_t, tol=_UNITARY_TOL)
        if not unitary:
            t_inv = inverse_2x2(t)
            src = _source("s.src", [t, t_inv])
        inverse = True
    else:
        t_inv = np.asarray(t_inv, dtype=np.complex128)
        src = _source("s.src", [t, t_inv])
        # G′ = Gᴴ if t_inv = tᴴ: then only G is built.
        unitary = _inverse_is_adjoint(src.reshape(4, -1), n_t)
        inverse = _is_inverse(src.reshape(4, -1), n_t)
    # M in two zero-padded buffers: the left product goes a → b, the right one b → a.
    # Only the n×n corner and the padding ports of a are ever written (the latter with
    # zeros, but a reused buffer may come from a mesh with more ports: clear them).
    m_a = _scratch(plan.key + "s.m_a", (rl, rl))
    m_b = _scratch(plan.key + "s.m_b", (rl, rl))
    m_a[pad : pad + n, pad : pad + n] = corr
    m_a[pad + n : pad + n_pad, pad : pad + n_pad] = 0.0
    m_a[pad : pad + n, pad + n : pad + n_pad] = 0.0
    inner_a = m_a[pad : pad + n_pad, pad : pad + n_pad]
    out_left = m_b[pad : pad + n_pad, pad : pad + n_pad].reshape(nb, s, n_pad)
    out_right = inner_a.reshape(n_pad, nb, s).transpose(1, 0, 2)
    left_win = _view(m_a, (pad - s) * rl + pad, (nb, 3 * s, n_pad), (s * rl, rl, 1))
    right_win = _view(m_b, pad * rl + pad - s, (nb, n_pad, 3 * s), (s, rl, 1))
    # Band of M as the carry stores it: [e, parity, m] = M[2m+parity, 2m+parity+e-hw];
    # the backward copy is shifted by one port (so both halves share the pair parity).
    b_shape, b_strides = (2 * hw + 1, 2, h1), (1, rl + 1, 2 * rl + 2)
    band_fwd = _view(m_a, pad * rl + pad - hw, b_shape, b_strides)
    band_bwd = _view(m_a, (pad - 1) * rl + pad - 1 - hw, b_shape, b_strides)
    blocks = np.empty((n_t, 2, 2), dtype=np.complex128)
    # To build: G unless given, and G′ᵀ unless G′ = Gᴴ (stack 0 of the plan's build
    # indices is G, stack 1 is G′ᵀ).
    stacks = ([] if groups is not None else [0]) + ([] if unitary else [1])
    src_back: Array | None = None
    for chunk in plan.sweep_chunks:
        kc = chunk.k1 - chunk.k0
        xc = kc * h1
        if stacks:
            index = chunk.build[:, :, stacks[0] * xc : (stacks[-1] + 1) * xc]
            coef = _gather(plan.key + f"s.coef{len(stacks)}", src, index)
            band = _build(plan, coef.reshape(g, 2, 2, -1))
        if groups is None:
            tri_g = _tri(plan, band, 0, kc, plan.key + "s.tri_g")
        else:
            tri_g = groups.blocks[chunk.k0 : chunk.k1]
        if unitary:
            tri_gi = np.conjugate(tri_g, out=_scratch(plan.key + "s.tri_ginv", tri_g.shape))
        else:
            tri_gi = _tri(plan, band, len(stacks) - 1, kc, plan.key + "s.tri_ginv")
        tri_ginv = tri_gi.transpose(0, 1, 3, 2)  # blocks of G′ = (G′ᵀ)ᵀ
        # Outside the bands written below the carry holds finite leftovers (zeros when
        # new); the carry never reads them into the entries it returns.
        carry = _scratch(plan.key + "s.carry", (2 * hw + 2, 2, 2 * xc))
        for k in range(kc):
            carry[: 2 * hw + 1, :, k * h1 : (k + 1) * h1] = band_fwd
            if k:
                carry[: 2 * hw + 1, :, xc + (k - 1) * h1 : xc + k * h1] = band_bwd
            np.matmul(tri_g[k], left_win, out=out_left)
            np.matmul(right_win, tri_ginv[k], out=out_right)
        carry[: 2 * hw + 1, :, 2 * xc - h1 :] = band_bwd
        if inverse:
            left = _gather(plan.key + "s.left", src, chunk.left)
            right = _gather(plan.key + "s.right", src, chunk.right)
        else:  # the backward half undoes the columns: it needs t⁻¹ and t_inv⁻¹
            if src_back is None:
                src_back = _source("s.src_back", [inverse_2x2(t_inv), inverse_2x2(t)])
            left = _scratch(plan.key + "s.left", chunk.left.shape)
            right = _scratch(plan.key + "s.right", chunk.right.shape)
            split = (xc, plan.pad_r + xc)
            for out, index, at in ((left, chunk.left, split[0]), (right, chunk.right, split[1])):
                np.take(src, index[:, :, :at], out=out[:, :, :at], mode="wrap")
                np.take(src_back, index[:, :, at:], out=out[:, :, at:], mode="wrap")
        table = _carry(plan, carry, left, right, xc)
        if chunk.every_mzi:
            blocks = table.reshape(-1, 2, 2)[chunk.slots]
        else:
            blocks[chunk.mzis] = table.reshape(-1, 2, 2)[chunk.slots]
    corr[...] = inner_a[:n, :n]
    return blocks, corr


# -- parameters and plans -------------------------------------------------------------


def _params(n: int) -> tuple[int, int]:
    """Group depth ``g`` and port block ``s`` for ``n`` ports.

    Chosen by timing compose + sweep (2-core machine, OpenBLAS): deeper groups mean
    fewer, larger BLAS calls but more elementwise band work (∝ g); the three choices
    were within a few per cent of the best tried at N = 16 … 512.
    """
    if n <= 40:
        return 4, 4
    if n <= 96:
        return 8, 8
    return 16, 16


@dataclass(frozen=True)
class _Chunk:
    """Groups ``k0 … k1−1`` and the source indices of their coefficients."""

    k0: int
    k1: int
    build: Array  # (g, 4, S·kc·h1): 2×2 entries of the band-build columns
    left: Array  # (g/2, 4, 2·kc·h1): row mixing of the carry (forward | backward half)
    right: Array  # (g/2, 4, 2·kc·h1 + 2·pad_r): column mixing, identity-padded
    mzis: Array  # MZIs whose blocks this chunk yields
    slots: Array  # their rows in the chunk's block table
    every_mzi: bool = False  # mzis is 0 … n_mzis−1: the table gives the whole result


@dataclass(frozen=True)
class _Plan:
    """Index bookkeeping for one (columns, N, g, s); cached."""

    key: str  # prefix of the scratch arrays: their invariants hold per (g, s, n_pad)
    g: int
    s: int
    n_pad: int  # padded port count, a multiple of s
    h1: int  # pair slots per group: n_pad/2 + one identity slot
    off: int  # band storage: d = j − i + off
    ld: int  # extent of d
    hw: int  # half-width of the carried band of M
    pad_r: int  # identity padding of the column-mixing coefficients
    compose_chunks: tuple[_Chunk, ...]
    sweep_chunks: tuple[_Chunk, ...]


_AB = np.arange(4)
_AB_T = np.array([0, 2, 1, 3])


def _entries(mzi: Array, base: int, eye: int, transpose: bool, row: int) -> Array:
    """Source indices ``(..., 4)`` of the 2×2 entries of MZIs ``mzi`` (identity where < 0).

    The source (:func:`_source`) is entry-major, ``src[ab, i]`` flattened with rows of
    length ``row``, so that neighbouring MZIs are gathered from neighbouring addresses;
    ``base`` is the column of the matrix set, ``eye`` that of the identity;
    ``transpose`` reads the entries transposed.
    """
    order = _AB_T if transpose else _AB
    picked = np.where(mzi[..., None] >= 0, order * row + base + mzi[..., None], _AB * row + eye)
    return picked.astype(np.intp)


@functools.lru_cache(maxsize=8)
def _plan(columns: Columns, n: int, n_t: int, g: int, s: int) -> _Plan:
    """Canonical columns, padding, chunks and all gather indices (module docstring)."""
    canon: list[tuple[int, int, int] | None] = []
    for column in columns:
        if len(canon) % 2 != column[2] % 2:
            canon.append(None)  # identity column: keeps the parity alternating
        canon.append(column)
    n_cols = -(-len(canon) // g) * g
    canon.extend([None] * (n_cols - len(canon)))
    n_groups = n_cols // g
    n_pad = -(-n // s) * s
    h1 = n_pad // 2 + 1
    # MZI at (canonical column, pair slot m) (−1: none), and where every MZI sits.
    mzi_at = np.full((n_cols, h1), -1, dtype=np.intp)
    col_of = np.full(n_t, -1, dtype=np.intp)
    pair_of = np.zeros(n_t, dtype=np.intp)
    for c, col in enumerate(canon):
        if col is not None and col[1] > col[0]:
            a, b, lo = col
            m0 = (lo - c % 2) // 2
            mzi_at[c, m0 : m0 + b - a] = np.arange(a, b)
            col_of[a:b] = c
            pair_of[a:b] = m0 + np.arange(b - a)
    by_group = mzi_at.reshape(n_groups, g, h1)
    off = max(2 * s - 1, g + 1)
    ld = off + max(2 * s, g + 2)
    hw = g + 3
    pad_r = g // 2 + 4
    half_j = g // 2
    t_inv_at, eye_at, row = n_t, 2 * n_t, 2 * n_t + 1  # sweep source: [t, t_inv, 1]
    tri_size = n_pad * 3 * s

    def chunks(per_group: int) -> list[tuple[int, int]]:
        kc = max(1, min(n_groups, _CHUNK_ELEMENTS // per_group))
        return [(k0, min(n_groups, k0 + kc)) for k0 in range(0, n_groups, kc)]

    none = np.zeros(0, dtype=np.intp)
    compose_chunks = []
    for k0, k1 in chunks(max(2 * ld * h1, tri_size, 4 * g * h1)):
        levels = by_group[k0:k1].transpose(1, 0, 2)  # (g, kc, h1)
        build = _entries(levels, 0, n_t, False, n_t + 1).reshape(g, -1, 4).transpose(0, 2, 1)
        compose_chunks.append(_Chunk(k0, k1, np.ascontiguousarray(build), none, none, none, none))

    sweep_chunks = []
    slot_m = np.arange(h1)
    for k0, k1 in chunks(max(4 * ld * h1, 2 * tri_size, 8 * g * h1, 4 * (2 * hw + 2) * h1)):
        kc = k1 - k0
        xc = kc * h1
        levels = by_group[k0:k1].transpose(1, 0, 2)
        build = np.concatenate(
            [
                _entries(levels, 0, eye_at, False, row),
                _entries(levels, t_inv_at, eye_at, True, row),
            ],
            axis=1,
        ).reshape(g, 2 * xc, 4)
        left = np.empty((half_j, 2, kc, h1, 4), dtype=np.intp)
        right = np.empty((half_j, 2, kc, h1, 4), dtype=np.intp)
        for j in range(half_j):
            # forward half: column j of the group, M ← t M t_inv
            fwd = by_group[k0:k1, j]
            left[j, 0] = _entries(fwd, 0, eye_at, False, row)
            right[j, 0] = _entries(fwd, t_inv_at, eye_at, True, row)
            # backward half: column g−1−j, M ← t⁻¹ M t_inv⁻¹, stored one port down; the
            # indices read t_inv (left) and t (right), the sweep swaps in the inverses of
            # t and t_inv if t_inv is not t⁻¹
            m_orig = slot_m + j % 2 - 1
            ok = (m_orig >= 0) & (m_orig < h1)
            bwd_col = by_group[k0:k1, g - 1 - j][:, np.clip(m_orig, 0, h1 - 1)]
            bwd = np.where(ok[None, :], bwd_col, -1)
            left[j, 1] = _entries(bwd, t_inv_at, eye_at, False, row)
            right[j, 1] = _entries(bwd, 0, eye_at, True, row)
        right_padded = np.empty((half_j, 4, 2 * xc + 2 * pad_r), dtype=np.intp)
        right_padded[...] = (_AB * row + eye_at)[None, :, None]
        right_padded[:, :, pad_r : pad_r + 2 * xc] = right.reshape(half_j, 2 * xc, 4).transpose(
            0, 2, 1
        )
        # Block table rows: (half, step j, slot x) with x = k·h1 + m (forward) and the
        # backward half one port down, read after its step j = g − level − 1.
        mzis = np.flatnonzero((col_of >= k0 * g) & (col_of < k1 * g))
        k_loc, lev = np.divmod(col_of[mzis] - k0 * g, g)
        m = pair_of[mzis]
        back = g - 1 - lev
        slots = np.where(
            lev < half_j,
            lev * xc + k_loc * h1 + m,
            (half_j + back) * xc + k_loc * h1 + m - back % 2 + 1,
        )
        sweep_chunks.append(
            _Chunk(
                k0,
                k1,
                np.ascontiguousarray(build.transpose(0, 2, 1)),
                np.ascontiguousarray(left.reshape(half_j, 2 * xc, 4).transpose(0, 2, 1)),
                right_padded,
                mzis,
                slots,
                bool(np.array_equal(mzis, np.arange(n_t))),
            )
        )
    return _Plan(
        f"{g},{s},{n_pad}/",
        g,
        s,
        n_pad,
        h1,
        off,
        ld,
        hw,
        pad_r,
        tuple(compose_chunks),
        tuple(sweep_chunks),
    )


# -- building blocks ------------------------------------------------------------------


class _Scratch(threading.local):
    """Per-thread store of reusable work arrays, keyed by name and shape."""

    def __init__(self) -> None:
        self.arrays: dict[tuple[str, tuple[int, ...]], Array] = {}


_SCRATCH = _Scratch()


def _scratch(name: str, shape: tuple[int, ...]) -> Array:
    """A complex work array: zeros when new, else what the previous call left in it.

    Arrays of at most ``_SCRATCH_MAX`` elements are kept (per thread) for the next call
    with the same name and shape; callers initialise what they read.
    """
    key = (name, shape)
    arrays = _SCRATCH.arrays
    arr = arrays.get(key)
    if arr is None:
        arr = np.zeros(shape, dtype=np.complex128)
        if arr.size <= _SCRATCH_MAX:
            arrays[key] = arr
            total = sum(a.size for a in arrays.values())
            while total > _SCRATCH_TOTAL:
                total -= arrays.pop(next(iter(arrays))).size  # forget the oldest
    return arr


def _source(name: str, mats: list[Array]) -> Array:
    """Flat gather source: ``src[ab, k·n + i]`` = entry ``ab`` of ``mats[k][i]``, then 1."""
    n_t = mats[0].shape[0]
    src = _scratch(name, (4, len(mats) * n_t + 1))
    for k, m in enumerate(mats):
        src[:, k * n_t : (k + 1) * n_t] = m.reshape(n_t, 4).T
    src[:, -1] = (1.0, 0.0, 0.0, 1.0)
    return src.reshape(-1)


def _gather(name: str, src: Array, index: Array) -> Array:
    """``src[index]`` into a reused work array."""
    out = _scratch(name, index.shape)
    # mode="wrap": the indices are valid by construction, and "raise" with out= buffers
    np.take(src, index, out=out, mode="wrap")
    return out


def _view(owner: Array, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> Array:
    """Strided view of the C-contiguous complex array ``owner``; offset, strides in elements.

    ``numpy.ndarray`` checks that the view stays inside the buffer.
    """
    return np.ndarray(
        shape,
        dtype=np.complex128,
        buffer=owner,
        offset=offset * _ITEM,
        strides=tuple(st * _ITEM for st in strides),
    )


def _slices(n: int) -> list[slice]:
    """A small first slice (early exit), then slices of 16384."""
    first = min(n, 16)
    return [slice(0, first)] + [slice(a, a + (1 << 14)) for a in range(first, n, 1 << 14)]


def _inverse_is_adjoint(src: Array, n_t: int) -> bool:
    """Whether ``t_inv`` equals ``tᴴ`` to rounding: then ``G′ = Π t_inv = Gᴴ``.

    ``src`` is the sweep's entry-major source ``(4, 2·n_t + 1)`` of ``[t, t_inv, 1]``.
    Using ``Gᴴ`` instead of the product of the ``t_inv`` changes the result only at the
    rounding level (≲ 1e-13 relative).
    """
    t, t_inv = src[:, :n_t], src[:, n_t : 2 * n_t]
    tol = 1e-13 * max(1.0, float(np.abs(t[:, :16]).max()))
    transpose = [0, 2, 1, 3]
    for part in _slices(n_t):
        if float(np.abs(t_inv[:, part] - np.conj(t[transpose, part])).max()) > tol:
            return False
    return True


def _is_inverse(src: Array, n_t: int, *, tol: float = 1e-11) -> bool:
    """Whether ``t_inv[k] @ t[k]`` is the identity to ``tol`` (max abs) for every MZI.

    ``src`` is the sweep's entry-major source ``(4, 2·n_t + 1)`` of ``[t, t_inv, 1]``.
    """
    t, t_inv = src[:, :n_t], src[:, n_t : 2 * n_t]
    eye = np.eye(2)[:, :, None]
    for part in _slices(n_t):
        # [t_inv t]_ik = t_inv_i0 t_0k + t_inv_i1 t_1k; rows of src are the entries 00 01 10 11
        product = t_inv[0::2, None, part] * t[None, 0:2, part]
        product += t_inv[1::2, None, part] * t[None, 2:4, part]
        product -= eye
        if float(np.abs(product).max()) > tol:
            return False
    return True


def _pair_view(arr: Array, d0: int, width: int, parity: int, x0: int, x1: int) -> Array:
    """Rows of the port pairs of one parity in a d-major band ``arr[d, parity, x]``.

    Returns the view ``(2, width, x1−x0−1)``: ``[0]`` the top rows of the pairs at
    offsets ``d0 …``, ``[1]`` their bottom rows at ``d0−1 …`` (the same matrix
    columns). Row ``2x+p`` lives at ``[:, p, x]``, so for parity 1 the bottom row of
    pair ``x`` is ``[:, 0, x+1]``.
    """
    x = arr.shape[2]
    a_stride = (1 - 3 * x) if parity else -x
    return _view(arr, d0 * 2 * x + parity * x + x0, (2, width, x1 - x0 - 1), (a_stride, 2 * x, 1))


def _mix(view: Array, coef: Array, buf: Array) -> None:
    """``view[a] ← Σ_b coef[a, b] · view[b]`` in place, in three passes.

    ``view`` is ``(2, width, X)`` (a pair view), ``coef`` ``(2, 2, X)`` is broadcast over
    the width axis; ``buf`` provides two scratch arrays of the size of ``view``.
    """
    shape = (2, *view.shape[1:])
    size = shape[0] * shape[1] * shape[2]
    t0 = buf[0, :size].reshape(shape)
    t1 = buf[1, :size].reshape(shape)
    np.multiply(coef[:, 0, None, :], view[0], out=t0)
    np.multiply(coef[:, 1, None, :], view[1], out=t1)
    np.add(t0, t1, out=view)


def _build(plan: _Plan, coef: Array) -> Array:
    """Bands of the products of ``g`` columns for every group (and stack) at once.

    Parameters
    ----------
    plan
        The plan.
    coef
        ``(g, 2, 2, X)``: at level ``l``, the 2×2 matrix of pair slot ``x``.

    Returns
    -------
    numpy.ndarray
        ``band[d, p, x] = G[i, i + d − off]`` for row ``i = 2m + p`` of the group and stack
        of slot ``x`` (pair slot ``m``). Level ``l`` only touches the support, offsets
        ``|j − i| ≤ l+1``: O(g²) work per slot in ``g`` steps of three passes.
    """
    g, off = plan.g, plan.off
    x = coef.shape[-1]
    band = _scratch(plan.key + "band", (plan.ld, 2, x))
    # Identity; only offsets |d − off| ≤ g+1 are ever written, the rest stays zero.
    band[off - g - 1 : off + g + 2] = 0.0
    band[off] = 1.0
    buf = _scratch(plan.key + "band.buf", (2, 4 * g * x))
    for lev in range(g):
        view = _pair_view(band, off - lev, 2 * lev + 2, lev % 2, 0, x)
        _mix(view, coef[lev, :, :, : x - 1], buf)
    return band


def _tri(
    plan: _Plan, band: Array, stack: int, kc: int, name: str, *, out: Array | None = None
) -> Array:
    """Block-tridiagonal form ``(kc, nb, s, 3s)`` of the bands of one stack.

    Block ``[k, I]`` holds rows ``[I·s, I·s+s)`` and columns ``[I·s−s, I·s+2s)`` of
    group ``k``'s matrix (contiguous, ready for BLAS). Written to ``out`` if given,
    else to the scratch array ``name``.
    """
    s, off, h1 = plan.s, plan.off, plan.h1
    x = band.shape[2]
    nb = plan.n_pad // s
    if out is None:
        out = _scratch(name, (kc, nb, s, 3 * s))
    for p in (0, 1):
        base = (off - s - p) * 2 * x + p * x + stack * kc * h1
        out[:, :, p::2, :] = _view(
            band, base, (kc, nb, s // 2, 3 * s), (h1, s // 2, 1 - 4 * x, 2 * x)
        )
    return out


def _carry(plan: _Plan, carry: Array, left: Array, right: Array, xc: int) -> Array:
    """Diagonal 2×2 blocks inside the groups from the bands of ``M`` at their boundaries.

    Parameters
    ----------
    plan
        The plan.
    carry
        ``(2·hw+2, 2, 2·xc)``: band of ``M`` (offsets ``−hw … hw``) at the start of every
        group (slots ``[0, xc)``) and at its end, shifted one port down
        (``[xc, 2·xc)``); modified.
    left, right
        ``(g/2, 4, 2·xc)`` and ``(g/2, 4, 2·xc + 2·pad_r)``: entries of the row-mixing
        (left) and of the transposed, identity-padded column-mixing (right) 2×2 matrices
        of every step and pair slot.
    xc
        Pair slots per half.

    Returns
    -------
    numpy.ndarray
        ``(2, g/2, xc, 2, 2)``: block of pair slot ``x`` of the forward half before
        step ``j`` and of the backward half after step ``j``.
    """
    g, hw, pad_r = plan.g, plan.hw, plan.pad_r
    half_j = g // 2
    x2 = 2 * xc
    left = left.reshape(half_j, 2, 2, x2)
    n_right = right.shape[-1]
    table = _scratch(plan.key + "carry.table", (2, half_j, xc, 2, 2))
    buf = _scratch(plan.key + "carry.buf", (2, 4 * (hw + 2) * x2))
    table[0, 0, : xc - 1] = _pair_view(carry, hw, 2, 0, 0, xc).transpose(2, 0, 1)
    for j in range(half_j):
        p = j % 2
        r = g - 1 - 2 * j  # half-width still needed after this step
        x0 = 0 if j < half_j - 1 else xc  # the forward half needs one step less
        # rows: M ← L M (pairs of rows; top rows at offsets −r+1 … r, bottom rows at
        # −r … r−1, i.e. the columns τ−r+1 … τ+r of pair τ). The ranges of both mixes
        # are the narrowest the tests accept: one entry less changes the blocks.
        rows = _pair_view(carry, hw - r + 1, 2 * r, p, x0, x2)
        _mix(rows, left[j, :, :, x0 : x2 - 1], buf)
        # columns: M ← M R. In row 2m+q the column pair (τ, τ+1), τ ≡ p, sits at
        # offsets e, e+1 with e ≡ p − q + hw, and its matrix is that of slot
        # m + (e − hw − p + q)/2: a skewed (stride-1) view of the coefficient rows.
        e0 = hw - r - 2
        e0 -= (e0 - p - hw) % 2
        nv = r + 2
        shape = (2, 2, nv, x2 - x0)
        cols = _view(carry, e0 * 2 * x2 + x0, shape, (-x2, 2 * x2, 4 * x2, 1))
        at = j * 4 * n_right + pad_r + (e0 - hw - p) // 2 + x0
        coef = _view(right, at, shape, (2 * n_right, n_right, 1, 1))
        size = 4 * nv * (x2 - x0)
        t0 = buf[0, :size].reshape(shape)
        t1 = buf[1, :size].reshape(shape)
        np.multiply(coef[None, :, 0], cols[:, None, 0], out=t0)
        np.multiply(coef[None, :, 1], cols[:, None, 1], out=t1)
        np.add(t0, t1, out=cols)
        if j + 1 < half_j:
            block = _pair_view(carry, hw, 2, (j + 1) % 2, 0, xc)
            table[0, j + 1, : xc - 1] = block.transpose(2, 0, 1)
        table[1, j, : xc - 1] = _pair_view(carry, hw, 2, p, xc, x2).transpose(2, 0, 1)
    return table
