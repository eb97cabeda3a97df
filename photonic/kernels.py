"""The hot loops of the mesh simulation, as pure functions of per-MZI 2×2 matrices.

A mesh is described here only by its columns: ``columns`` is a tuple of
``(first, stop, lo)`` — MZIs ``first … stop−1`` form one column and act on the port
pairs ``(lo, lo+1), (lo+2, lo+3), …`` in order. ``t`` holds the transfer matrix
of every MZI, ``(n_mzis, 2, 2)``.

* :func:`compose` — the mesh matrix ``C_last ⋯ C_1 C_0``, optionally times an output screen;
* :func:`correlation_sweep` — carries the batch correlation ``M = Σ_b a_b â_bᵀ``
  from the input plane through every column as ``M ← C M C⁻¹`` (``C⁻¹`` made of the
  per-MZI ``t_inv``) and returns the 2×2 diagonal block of ``M`` at the input of
  every MZI, and the diagonal of ``M`` after the last column — or, for unitary MZIs,
  of ``M``'s anti-Hermitian part, which holds every gradient and costs half;
* :func:`correlation_sweep_back` — the same sweep run back from the output plane,
  ``M ← C⁻¹ M C``, returning the block at the output of every MZI;
* :func:`shifter_gradients`, :func:`shifter_gradients_at_outputs` — every shifter's
  gradient from those blocks;
* :func:`tap_power_pass` — the per-sample pass of a batch through the mesh that
  records every tap's batch-summed power on an ideal detector (the in-situ
  measurement's passes, O(N²B)).

The compose and the two sweeps cost O(N³) whatever the batch size (DESIGN.md §4.3).
:func:`compose_reference` and :func:`correlation_sweep_reference` are the plain NumPy
implementations (one batched 2×2 product per column, N Python-level steps on N×N
arrays); they are the oracle of the tests. :func:`compose` and the sweeps run the same
column-by-column algorithm compiled by Numba: a column is a few hundred short loops
over rows, which NumPy can only issue as separate calls, each costing more in
overhead than in arithmetic at N ≤ 256.

How the compiled loops are laid out
-----------------------------------
*Real and imaginary parts apart.* Every loop body is a complex 2×2 mix written out in
real arithmetic on separate real and imaginary arrays, so that a run of a row is a
run of SIMD lanes (fused multiply-adds; see *Explicit SIMD*).

*Rows.* Mixing rows ``p, p+1`` (``C M``) runs along two contiguous rows.
:func:`compose` starts from the identity, in which ``c`` columns spread a port to at
most ``c`` neighbours on each side, so it mixes only that band of each row. The tap
pass mixes the port-first fields of the batch the same way, row by row.

*Columns.* Mixing columns ``p, p+1`` (``M C⁻¹``) would pair neighbouring entries of
every row. The sweep therefore stores ``M``'s columns even ports first, then odd
ports: a column's pairs ``(lo + 2i, lo + 2i + 1)`` are then two contiguous runs of a
row, and ``M C⁻¹`` is, like ``C M``, one loop over contiguous memory.

*Explicit SIMD.* The 2×2 mixes are emitted as LLVM vector code, four entries at a
time (``LANES`` entries per vector step; see the intrinsics below), rather than
left to LLVM's loop vectoriser, whose overlap checks cost more than a short row.

*One pass per column.* The rows of one MZI and the columns of another meet in a
2×2 block; the sweep applies ``t`` on the left and ``t_inv`` on the right to each block
in one pass over ``M`` (rows and columns in no MZI of the column get one side only).

*Cost.* 12·N³ (compose, on the band) and at most 32·N³ (sweep; about half of that for
the anti-Hermitian part, its upper triangle) flops on one core, no
Python-level step per column. The loops release the GIL. The first call in a
process loads them from Numba's on-disk cache (``__pycache__``), or compiles them
(a few seconds) if there is none yet.

Threads
-------
The kernels run on one core, on purpose. In a training step they follow BLAS
products (the forward pass, ``XᵀΔ``), and after every call OpenBLAS's worker
threads spin for about 0.1 s (110 ms of CPU time in a 0.2 s sleep after one
N = 64 matmul, 2-core machine): a second thread of ours would share a core with
them. Measured on that machine, right after a matmul, N = 64 (with the kernels as
they were before the mixes became explicit SIMD, which made one core's sweep 1.8×
faster):

- the sweep from both ends of the mesh at once (the first half of the columns
  forward from ``M₀``, the second backward from ``W₀ M₀ W₀⁻¹``, on two Python
  threads): gradient 1.26 ms against 1.04 ms on one thread (best of 60); at
  N = 256, B = 1024, 31 ms against 28 ms;
- Numba's ``parallel=True`` over a column's MZIs: median 3.6 ms against 0.58 ms.

Without the spinning (``OPENBLAS_THREAD_TIMEOUT=4``) the two-thread sweep gained
nothing at N = 64 either (1.07 against 1.02 ms); it gained 1.26× at N = 256.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
from numpy.typing import NDArray

from digital.validation import check_choice
from photonic.jit import CONTRACT, compiled, inline, readonly
from photonic.mzi import inverse_2x2

Array = NDArray[Any]
Columns = tuple[tuple[int, int, int], ...]
#: What a correlation sweep carries: all of ``M``, or its anti-Hermitian part.
Part = Literal["whole", "anti_hermitian"]
#: How far from 1 a screen entry's modulus may be for ``part="anti_hermitian"``.
_PHASOR_ATOL = 1e-12

_jit = compiled()
# ... and for the batch sums of tap powers, also reassociation: a sum is vectorised
# only if it may be added up in another order (the difference is rounding).
_jit_sums = compiled(CONTRACT | {"reassoc"})
_inline = inline


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


# -- compiled implementations ---------------------------------------------------------


def compose(columns: Columns, t: Array, n_ports: int, *, screen: Array | None = None) -> Array:
    """Product of the MZI columns, ``(n_ports, n_ports)`` complex.

    Same result as :func:`compose_reference` (to rounding), compiled (module docstring).

    Parameters
    ----------
    columns
        ``(first, stop, lo)`` of every column, in propagation order.
    t
        Per-MZI transfer matrices ``(n_mzis, 2, 2)``.
    n_ports
        N.
    screen
        A diagonal applied after the last column, ``(n_ports,)`` complex (the output
        phasors): ``W = diag(screen) · C_last ⋯ C_0``, scaled while the product is
        assembled from its real and imaginary parts rather than in a pass of its own.
        ``None``: no screen.

    Returns
    -------
    numpy.ndarray
        ``W``, ``(n_ports, n_ports)`` complex.

    Raises
    ------
    ValueError
        If ``n_ports``, ``t`` or ``screen`` do not fit the columns (the compiled loop
        does not check its indices).
    """
    n = int(n_ports)
    t = _frozen(t)
    _check_extent(columns, n, t)
    if screen is None:
        screen = _ones(n)[0]
    elif np.shape(screen) != (n,):
        raise ValueError(f"screen has shape {np.shape(screen)}; it must be ({n},)")
    return _compose(_column_table(columns), t, n, _frozen(screen))


def correlation_sweep(
    columns: Columns,
    t: Array,
    t_inv: Array | None,
    corr: Array,
    *,
    assume: Literal["nothing", "unitary"] = "nothing",
    part: Part = "whole",
) -> tuple[Array, Array]:
    """Diagonal 2×2 blocks of the correlation at every MZI input, and the final diagonal.

    Same results as :func:`correlation_sweep_reference` (to rounding): column by
    column ``M ← t M t_inv``, compiled (module docstring). Only the entries of ``M``
    that a later block or the final diagonal depends on are carried: a column moves
    a row or column index by at most one, so before the last ``r`` columns only
    ``|i − j| ≤ 2r`` matters (the band is narrower than the mesh over a Clements
    mesh's last half: about 16 % of the entry updates are skipped, 4–7 % of the time
    measured, as the cost per MZI stays; on a Reck mesh, none).

    Parameters
    ----------
    columns
        ``(first, stop, lo)`` of every column, in propagation order.
    t, t_inv
        Per-MZI transfer matrices and their inverses, ``(n_mzis, 2, 2)``. ``t`` may be
        non-unitary (lossy); ``t_inv`` is used as given (it need not be the inverse:
        any right factors work, e.g. ``tᴴ`` to carry ``Σ a aᴴ``). ``t_inv=None``
        means the inverses of ``t``.
    corr
        ``M₀ = Σ_b a_b â_bᵀ`` at the input plane, ``(N, N)``; overwritten.
    assume
        ``"unitary"``: the caller knows that every ``t`` is unitary (a lossless chip),
        so ``t_inv=None`` is taken as ``tᴴ`` instead of inverting ``t``. ``t_inv`` must
        then be ``None``. Not verified: on lossy MZIs the result is wrong.
        ``"nothing"``: ``t_inv=None`` inverts every ``t``.
    part
        ``"whole"``: carry ``M``. ``"anti_hermitian"`` (with ``assume="unitary"``
        only): carry ``A = (M − Mᴴ)/2``, about half the work. A unitary similarity
        maps ``A`` to the anti-Hermitian part of the new ``M``, so ``A`` is
        Hermitian-skew at every plane and only its upper triangle is mixed. A
        gradient needs nothing else: ``Im (r M rᴴ) = Im (r A rᴴ)`` for any row ``r``
        (``r (M + Mᴴ) rᴴ`` is real), so :func:`shifter_gradients` gives the same
        values from ``A``'s blocks, and the imaginary part of the final diagonal
        is ``M``'s.

    Returns
    -------
    blocks : numpy.ndarray
        ``(n_mzis, 2, 2)``: ``M[top:top+2, top:top+2]`` (of ``A`` for
        ``part="anti_hermitian"``) at the input of each MZI.
    diagonal : numpy.ndarray
        ``(N,)``: the diagonal of ``M`` (``A``) after the last column. (``corr`` is
        used as scratch: afterwards only its diagonal is that of ``M`` (``A``).)

    Raises
    ------
    ValueError
        If ``assume="unitary"`` comes with a ``t_inv``, ``part="anti_hermitian"``
        without ``assume="unitary"``, or ``corr``, ``t`` or ``t_inv`` do not fit the
        columns (the compiled loop does not check its indices).
    """
    return _run_sweep(columns, t, t_inv, corr, assume, part, direction="forward")


def correlation_sweep_back(
    columns: Columns,
    t: Array,
    t_inv: Array | None,
    corr: Array,
    *,
    assume: Literal["nothing", "unitary"] = "nothing",
    part: Part = "whole",
    screen: Array | None = None,
) -> Array:
    """Diagonal 2×2 blocks of the correlation at every MZI *output*, swept back from
    the output plane.

    :func:`correlation_sweep` run the other way: from the last column to the first,
    ``M ← t_inv M t``, each MZI's block read before its column is undone (the
    same light cone and compiled loop). For a correlation known at the output plane,
    such as ``Yᵀ Δ`` of a forward pass's outputs.

    Parameters
    ----------
    columns
        ``(first, stop, lo)`` of every column, in propagation order (walked backwards).
    t, t_inv
        Per-MZI transfer matrices and their inverses, ``(n_mzis, 2, 2)``, as for
        :func:`correlation_sweep` (``t_inv`` now the left factors, ``t`` the right).
    corr
        ``M`` after the last column, ``(N, N)``; overwritten (scratch).
    assume
        As for :func:`correlation_sweep`: ``"unitary"`` takes ``t_inv=None`` as ``tᴴ``
        (read from ``t``, nothing formed).
    part
        As for :func:`correlation_sweep`: ``"anti_hermitian"`` carries ``(M − Mᴴ)/2``,
        with ``assume="unitary"`` and a ``screen`` of phasors (``|screen| = 1``).
        :func:`shifter_gradients_at_outputs` gives the same values from its blocks.
    screen
        A diagonal ``D = diag(screen)`` after the last column, ``(N,)`` complex without
        zeros: ``corr`` is then ``M`` after it, and the sweep starts from
        ``D⁻¹ · corr · D``, scaled as ``corr`` is read in. ``None``: no screen.

    Returns
    -------
    numpy.ndarray
        ``(n_mzis, 2, 2)``: ``M[top:top+2, top:top+2]`` (of ``(M − Mᴴ)/2`` for
        ``part="anti_hermitian"``) at the output of each MZI.

    Raises
    ------
    ValueError
        As :func:`correlation_sweep`; also if ``screen`` has another shape than
        ``(N,)``, a zero or non-finite entry, or (with ``part="anti_hermitian"``) an
        entry whose modulus differs from 1 by more than ``1e-12``.
    """
    return _run_sweep(columns, t, t_inv, corr, assume, part, direction="back", screen=screen)[0]


def _run_sweep(
    columns: Columns,
    t: Array,
    t_inv: Array | None,
    corr: Array,
    assume: str,
    part: str,
    *,
    direction: Literal["forward", "back"],
    screen: Array | None = None,
) -> tuple[Array, Array]:
    """:func:`correlation_sweep` or :func:`correlation_sweep_back`: their checks, the
    factors' order, and ``corr`` as the compiled loop needs it."""
    check_choice(assume, "assume", ("nothing", "unitary"))
    check_choice(part, "part", ("whole", "anti_hermitian"))
    if assume == "unitary" and t_inv is not None:
        raise ValueError("assume='unitary' means t_inv = tᴴ; pass t_inv=None")
    skew = part == "anti_hermitian"
    if skew and assume != "unitary":
        raise ValueError(
            f"part='anti_hermitian' needs assume='unitary' (got assume={assume!r}): only a "
            "unitary similarity keeps M − Mᴴ anti-Hermitian"
        )
    t = _frozen(t)
    if t_inv is None and assume == "nothing":
        t_inv = inverse_2x2(t)
    # None left: the inverses are tᴴ, read from t itself (the `adjoint` flags)
    inv, unitary = (t, True) if t_inv is None else (_frozen(t_inv), False)
    n = np.shape(corr)[0] if np.ndim(corr) == 2 else -1
    if np.shape(corr) != (n, n):
        raise ValueError(f"corr has shape {np.shape(corr)}; it must be square (N, N)")
    _check_extent(columns, n, t, inv)
    if screen is None:
        scale = _ones(n)
    elif np.shape(screen) != (n,):
        raise ValueError(f"screen has shape {np.shape(screen)}; it must be ({n},)")
    else:
        scale, invertible, deviation = _screen_factors(_frozen(screen))
        if not invertible:
            raise ValueError("screen must hold finite, nonzero factors (it is inverted)")
        if skew and deviation > _PHASOR_ATOL:
            raise ValueError(
                "part='anti_hermitian' needs a screen of phasors (|screen| = 1 within "
                f"{_PHASOR_ATOL:g}); largest deviation {deviation:.3g}"
            )
        scale.flags.writeable = False
    if direction == "forward":  # M ← t M t⁻¹, first column first
        table, left, right, adjoint = _column_table(columns), t, inv, (False, unitary)
    else:  # M ← t⁻¹ M t, last column first
        table, left, right, adjoint = _column_table(columns, "back"), inv, t, (unitary, False)
    # a strided view or another dtype: work on a copy, written back below
    in_place = corr.flags.c_contiguous and corr.dtype == np.complex128
    work = corr if in_place else np.array(corr, dtype=np.complex128, order="C")
    blocks = _sweep(table, left, right, adjoint, work, scale, skew)
    if work is not corr:
        corr[...] = work
    return blocks, np.diagonal(work).copy()


@_jit
def _screen_factors(screen):
    """``(2, n)``: ``1/screen`` and ``screen``, the scale factors of a sweep from behind a
    screen; whether every entry and its inverse are finite (no entry 0, NaN, inf or so
    small that its inverse overflows); and the largest ``| |screen| − 1 |``. One loop:
    the same in NumPy (divide, isfinite, abs twice, max) took 6 µs at N = 64."""
    n = screen.shape[0]
    scale = np.empty((2, n), np.complex128)
    invertible = True
    deviation = 0.0
    for i in range(n):
        s = screen[i]
        inverse = 1.0 / s if s != 0 else complex(np.inf, 0.0)
        for x in (s.real, s.imag, inverse.real, inverse.imag):
            invertible &= np.isfinite(x)
        deviation = max(deviation, abs(abs(s) - 1.0))  # (NaN: the test above fails)
        scale[0, i], scale[1, i] = inverse, s
    return scale, invertible, deviation


def _check_extent(columns: Columns, n: int, *factors: Array) -> None:
    """A ``ValueError`` unless ``n`` ports and the per-MZI ``factors`` (``t``, then
    ``t_inv``) cover every port and MZI of ``columns``: the compiled loops index
    them without bounds checks."""
    n_ports, n_mzis = _extent(columns)
    if n < n_ports:
        raise ValueError(f"the columns reach port {n_ports - 1}; got N = {n} ports")
    for name, f in zip(("t", "t_inv"), factors, strict=False):
        if f.ndim != 3 or f.shape[0] < n_mzis or f.shape[1:] != (2, 2):
            raise ValueError(f"{name} has shape {f.shape}; it must be (n_mzis ≥ {n_mzis}, 2, 2)")


@functools.lru_cache(maxsize=64)
def _extent(columns: Columns) -> tuple[int, int]:
    """The ports and MZIs ``columns`` reach: ``(1 + last port, 1 + last MZI)``."""
    ports = max((lo + 2 * (stop - first) for first, stop, lo in columns), default=0)
    return ports, max((stop for _, stop, _ in columns), default=0)


@functools.lru_cache(maxsize=16)
def _ones(n: int) -> Array:
    """``(2, n)`` complex ones, read-only: no screen (:func:`compose`), no scaling
    (:func:`_run_sweep`)."""
    return _frozen(np.ones((2, n), dtype=np.complex128))


def shifter_gradients(blocks: Array, s1: Array, s1_inv: Array | None) -> tuple[Array, Array]:
    """``dL/dθ`` and ``dL/dφ`` of every MZI from its block of :func:`correlation_sweep`.

    A phase screen's gradient is ``−Im`` of the correlation's diagonal entry at its
    plane: φ's at the MZI input (``−Im M[0, 0]``), θ's after ``S₁ = B₁D(φ)``
    (``−Im (S₁ M S₁⁻¹)[0, 0]``, the row ``S₁[0, :]`` times ``M`` times the column
    ``S₁⁻¹[:, 0]``, as :func:`photonic.mzi.sandwich_2x2`). One compiled loop: in
    NumPy (the conjugate of a strided row, :func:`~photonic.mzi.sandwich_2x2` and
    three imaginary parts) the 2016 MZIs of N = 64 took 40 µs.

    Parameters
    ----------
    blocks
        ``(n_mzis, 2, 2)``: ``M`` at the input of each MZI.
    s1
        ``S₁`` of every MZI, ``(n_mzis, 2, 2)``.
    s1_inv
        Their inverses, ``(n_mzis, 2, 2)``; ``None``: ``S₁`` is unitary (a lossless
        chip) and ``S₁ᴴ`` is used.

    Returns
    -------
    theta, phi : numpy.ndarray
        ``(n_mzis,)`` each, loss units per rad.
    """
    s1 = _frozen(s1)
    right = s1 if s1_inv is None else _frozen(s1_inv)
    return _shifter_gradients(_frozen(blocks), s1, right, s1_inv is None)


def shifter_gradients_at_outputs(
    blocks: Array, s2: Array, t: Array, inverses: tuple[Array, Array] | None
) -> tuple[Array, Array]:
    """``dL/dθ`` and ``dL/dφ`` of every MZI from ``M`` at its *output*.

    For the sweep back from the output plane (:func:`correlation_sweep_back`), which
    records each MZI's block before undoing the MZI. ``T = S₂S₁`` with ``S₂ = B₂D(θ)``,
    so the θ plane (after ``S₁``) holds ``S₂⁻¹ M S₂`` and the φ plane (the MZI input)
    ``T⁻¹ M T``; each gradient is ``−Im`` of that ``[0, 0]`` entry, the row
    ``S₂⁻¹[0, :]`` (``T⁻¹[0, :]``) times ``M`` times the column ``S₂[:, 0]``
    (``T[:, 0]``).

    Parameters
    ----------
    blocks
        ``(n_mzis, 2, 2)``: ``M`` at the output of each MZI.
    s2, t
        ``S₂`` and ``T`` of every MZI, ``(n_mzis, 2, 2)`` each.
    inverses
        ``(S₂⁻¹, T⁻¹)``, ``(n_mzis, 2, 2)`` each; ``None``: both are unitary (a
        lossless chip) and their conjugate transposes are used.

    Returns
    -------
    theta, phi : numpy.ndarray
        ``(n_mzis,)`` each, loss units per rad.
    """
    s2, t = _frozen(s2), _frozen(t)
    s2_inv, t_inv = (s2, t) if inverses is None else (_frozen(inverses[0]), _frozen(inverses[1]))
    return _shifter_gradients_at_outputs(_frozen(blocks), s2, t, s2_inv, t_inv, inverses is None)


def tap_power_pass(
    columns: Columns,
    rows3: Array,
    field: Array,
    *,
    direction: Literal["forward", "adjoint"],
) -> tuple[Array, Array]:
    """Propagate a batch through the columns in place; return its summed tap powers.

    The per-sample pass of :meth:`photonic.mesh.Mesh.tap_sums` for one phase set and
    an ideal detector, compiled: per MZI, ``Σ_b |tap|²`` at the θ shifter (the row
    ``rows3[m, 0]`` applied to the pair) and at the φ shifter (the top port of the
    pair: before the MZI going forward, after it going back), then the pair
    ``← rows3[m, 1:]`` · pair.

    Parameters
    ----------
    columns
        ``(first, stop, lo)`` of every column, in mesh order (``"adjoint"`` runs them
        backwards).
    rows3
        ``(n_mzis, 3, 2)`` complex: per MZI the θ tap row, then the 2×2 block to apply.
    field
        Port-first fields ``(n_ports, n_samples)``, complex128, C-contiguous;
        overwritten with the fields leaving the last column passed.
    direction
        ``"forward"`` or ``"adjoint"``.

    Returns
    -------
    theta, phi : numpy.ndarray
        ``(n_mzis,)`` batch-summed tap powers.

    Raises
    ------
    ValueError
        If ``field`` is not a C-contiguous complex128 array, or ``field`` or ``rows3``
        does not fit the columns (the compiled loop does not check its indices).
    """
    check_choice(direction, "direction", ("forward", "adjoint"))
    if not (field.flags.c_contiguous and field.dtype == np.complex128):
        raise ValueError("field must be a C-contiguous complex128 (n_ports, n_samples) array")
    _check_extent(columns, field.shape[0] if field.ndim == 2 else -1)
    n_mzis = _extent(columns)[1]
    if rows3.ndim != 3 or rows3.shape[0] < n_mzis or rows3.shape[1:] != (3, 2):
        raise ValueError(f"rows3 has shape {rows3.shape}; it must be (n_mzis ≥ {n_mzis}, 3, 2)")
    re = np.ascontiguousarray(field.real)
    im = np.ascontiguousarray(field.imag)
    theta, phi = _tap_power_pass(
        _column_table(columns), _frozen(rows3), re, im, direction == "forward"
    )
    field.real = re
    field.imag = im
    return theta, phi


def _frozen(a: Array) -> Array:
    """``a`` as read-only complex128 (:func:`photonic.jit.readonly`)."""
    return readonly(a, np.complex128)


@functools.lru_cache(maxsize=64)
def _column_table(columns: Columns, order: Literal["forward", "back"] = "forward") -> Array:
    """``columns`` as a read-only ``(n_columns, 3)`` int64 array, for the compiled loops;
    ``"back"``: last column first."""
    check_choice(order, "order", ("forward", "back"))
    table = np.array(columns if order == "forward" else columns[::-1], dtype=np.int64)
    table = table.reshape(-1, 3)
    table.flags.writeable = False
    return table


@_inline
def _pair(i, h):
    """Storage column of port ``i`` when even ports come first (``h`` of them)."""
    return i // 2 if i % 2 == 0 else h + i // 2


@_inline
def _left(t, m):
    """``t[m]`` as 8 reals: ``(Re, Im)`` of ``t00, t01, t10, t11``."""
    return (
        t[m, 0, 0].real, t[m, 0, 0].imag, t[m, 0, 1].real, t[m, 0, 1].imag,
        t[m, 1, 0].real, t[m, 1, 0].imag, t[m, 1, 1].real, t[m, 1, 1].imag,
    )  # fmt: skip


@_inline
def _left_adjoint(t, m):
    """``t[m]ᴴ`` as :func:`_left` gives ``t[m]``."""
    return (
        t[m, 0, 0].real, -t[m, 0, 0].imag, t[m, 1, 0].real, -t[m, 1, 0].imag,
        t[m, 0, 1].real, -t[m, 0, 1].imag, t[m, 1, 1].real, -t[m, 1, 1].imag,
    )  # fmt: skip


# -- the 2×2 mixes as explicit SIMD ----------------------------------------------------
#
# LLVM vectorises a plain loop over rows only behind runtime checks that the arrays
# it writes do not overlap those it reads: for the sweep's 16 arrays about 860
# instructions before every loop, more than a 32-entry loop itself costs. The mixes
# below are written as Numba intrinsics that emit the vector arithmetic directly
# (LLVM ``<LANES x double>``, which AVX runs as one instruction and older x86 as
# two), ``LANES`` entries per call, with no such checks: the callers pass distinct
# rows or disjoint runs of one row, and every load of a call precedes its stores.
# The ``_one`` forms do one entry (the rest of a row). Interleaved A/B at N = 64:
# the correlation sweep 521 → 289 µs.

#: Entries per vector step of the mixes.
LANES = 4


def _complex_pair(builder, x, y, first, second):
    """IR for ``first·x + second·y`` (complex numbers as ``(Re, Im)`` pairs of values)."""
    (xr, xi), (yr, yi), (ar, ai), (br, bi) = x, y, first, second
    re = _signed_sum(builder, ((ar, xr), (ai, xi), (br, yr), (bi, yi)), (+1, -1, +1, -1))
    im = _signed_sum(builder, ((ar, xi), (ai, xr), (br, yi), (bi, yr)), (+1, +1, +1, +1))
    return re, im


def _signed_sum(builder, products, signs):
    """IR for ``Σ sign·a·b`` over ``products`` ``(a, b)``; the first sign is +1."""
    acc = builder.fmul(*products[0], flags=_IR_FLAGS)
    for (a, b), sign in zip(products[1:], signs[1:], strict=True):
        term = builder.fmul(a, b, flags=_IR_FLAGS)
        acc = (builder.fadd if sign > 0 else builder.fsub)(acc, term, flags=_IR_FLAGS)
    return acc


def _mix_pair_ir(builder, x, y, c):
    """IR for rows ``(x, y) ← (c00 x + c01 y, c10 x + c11 y)``; ``c`` 8 (Re, Im) values
    of ``c00, c01, c10, c11``, and ``x``, ``y`` (Re, Im) pairs."""
    c00, c01, c10, c11 = (c[0], c[1]), (c[2], c[3]), (c[4], c[5]), (c[6], c[7])
    return _complex_pair(builder, x, y, c00, c01), _complex_pair(builder, x, y, c10, c11)


_IR_FLAGS = ("contract",)  # a·b + c may be fused, as in the plain loops (CONTRACT)


class _Lanes:
    """Loads and stores ``lanes`` consecutive float64 entries of C-contiguous 1-D arrays."""

    def __init__(self, context, builder, lanes):
        self.context, self.builder, self.lanes = context, builder, lanes
        double = ir.DoubleType()
        self.type = double if lanes == 1 else ir.VectorType(double, lanes)

    def pointers(self, arrays_type, arrays, j):
        ptrs = []
        for i, array_type in enumerate(arrays_type):
            value = self.builder.extract_value(arrays, i)
            data = self.context.make_array(array_type)(self.context, self.builder, value=value).data
            ptrs.append(self.builder.bitcast(self.builder.gep(data, [j]), self.type.as_pointer()))
        return ptrs

    def intp(self, value):
        """An ``intp`` constant."""
        return ir.Constant(self.context.get_value_type(types.intp), value)

    def entry(self, array_type, array, row, col):
        """Pointer to ``array[row, col]`` (``intp`` indices) of a C-contiguous 2-D array."""
        arr = self.context.make_array(array_type)(self.context, self.builder, value=array)
        n_cols = self.builder.extract_value(arr.shape, 1)
        index = self.builder.add(self.builder.mul(row, n_cols), col)
        return self.builder.bitcast(self.builder.gep(arr.data, [index]), self.type.as_pointer())

    def load(self, ptrs):
        return [self.builder.load(p, align=8) for p in ptrs]

    def store(self, values, ptrs):
        for v, p in zip(values, ptrs, strict=True):
            self.builder.store(v, p, align=8)

    def splat(self, scalars, n):
        """The ``n`` floats of the tuple ``scalars``, each in every lane."""
        out = []
        for i in range(n):
            x = self.builder.extract_value(scalars, i)
            if self.lanes > 1:
                undef = ir.Constant(self.type, ir.Undefined)
                x = self.builder.insert_element(undef, x, ir.Constant(ir.IntType(32), 0))
                mask = ir.Constant(ir.VectorType(ir.IntType(32), self.lanes), [0] * self.lanes)
                x = self.builder.shuffle_vector(x, undef, mask)
            out.append(x)
        return out


def _check_lane_args(*args):
    """Whether the arguments of a mix intrinsic have the types it emits code for: each
    ``(tuple type, length, kind)`` a tuple of that many floats (``"floats"``) or
    C-contiguous 1-D float64 arrays, writable ones (``"rows"``, written in place) or
    any (``"arrays"``, read). If not, Numba reports a typing error at the call."""
    for value, n, kind in args:
        if not (isinstance(value, types.UniTuple) and value.count == n):
            return False
        item = value.dtype
        if kind == "floats":
            if item != types.float64:
                return False
        elif not (
            isinstance(item, types.Array)
            and (item.ndim, item.layout, item.dtype) == (1, "C", types.float64)
            and (item.mutable or kind == "arrays")
        ):
            return False
    return True


def _pair_intrinsic(lanes, side):
    """Intrinsic: :func:`_mix_rows` (``side="left"``) or :func:`_mix_columns`
    (``side="right"``) on entries ``j … j + lanes − 1``.

    Arguments ``(rows, c, j)``: 4 arrays; then 8 floats (:func:`_left`) for the left
    factor, or 8 arrays (``u``, entry ``j`` in MZI ``j``) for the right one; an index.
    """

    def typer(typingctx, rows, c, j):
        kind = "floats" if side == "left" else "arrays"
        if _check_lane_args((rows, 4, "rows"), (c, 8, kind)):
            return types.void(rows, c, j), codegen
        return None

    def codegen(context, builder, signature, args):
        io = _Lanes(context, builder, lanes)
        ptrs = io.pointers(signature.args[0], args[0], args[2])
        xr, xi, yr, yi = io.load(ptrs)
        if side == "left":
            c = io.splat(args[1], 8)
        else:
            c = _transposed(io.load(io.pointers(signature.args[1], args[1], args[2])))
        x, y = _mix_pair_ir(builder, (xr, xi), (yr, yi), c)
        io.store([*x, *y], ptrs)
        return context.get_dummy_value()

    return intrinsic(typer)


def _both_intrinsic(lanes):
    """Intrinsic: :func:`_mix_both` on pairs ``j … j + lanes − 1``.

    Arguments ``(planes, at, c, u, j)``: the real and imaginary parts of ``M``, two
    writable C-contiguous 2-D arrays; ``(p, q, cp, cq, uo)``, 5 ints; 8 floats
    (:func:`_left`); the right factors, a C-contiguous ``(8, n_mzis)`` array, row
    ``2e`` (``2e + 1``) the real (imaginary) part of ``u00, u01, u10, u11``; an index.
    Pair ``j`` is the 2×2 block of rows ``p, q`` and columns ``cp + j, cq + j``, mixed
    by ``u[:, uo + j]`` on the right. The entries are addressed from the arrays
    themselves: 16 one-row views per MZI (the mix's arguments before) took 5 % of
    the N = 64 sweep.
    """

    def typer(typingctx, planes, at, c, u, j):
        if (
            isinstance(planes, types.UniTuple)
            and planes.count == 2
            and _is_plane(planes.dtype, writable=True)
            and isinstance(at, types.UniTuple)
            and at.count == 5
            and isinstance(at.dtype, types.Integer)
            and isinstance(j, types.Integer)
            and _check_lane_args((c, 8, "floats"))
            and _is_plane(u, writable=False)
        ):
            return types.void(planes, at, c, u, j), codegen
        return None

    def codegen(context, builder, signature, args):
        io = _Lanes(context, builder, lanes)
        planes_type, at_type, _, u_type, j_type = signature.args
        planes, at, c_value, u_value, j = args
        p, q, cp, cq, uo = (
            context.cast(builder, builder.extract_value(at, i), at_type.dtype, types.intp)
            for i in range(5)
        )
        j = context.cast(builder, j, j_type, types.intp)
        re, im = (builder.extract_value(planes, i) for i in range(2))
        ptrs = [
            io.entry(planes_type.dtype, plane, row, builder.add(col, j))
            for row, col in ((p, cp), (p, cq), (q, cp), (q, cq))
            for plane in (re, im)
        ]
        pPr, pPi, pQr, pQi, qPr, qPi, qQr, qQi = io.load(ptrs)
        column = builder.add(uo, j)
        u = io.load([io.entry(u_type, u_value, io.intp(e), column) for e in range(8)])
        c = io.splat(c_value, 8)
        # left: rows p, q of columns P, then of columns Q
        lpP, lqP = _mix_pair_ir(builder, (pPr, pPi), (qPr, qPi), c)
        lpQ, lqQ = _mix_pair_ir(builder, (pQr, pQi), (qQr, qQi), c)
        # right: columns P, Q of row p, then of row q
        pP, pQ = _mix_pair_ir(builder, lpP, lpQ, _transposed(u))
        qP, qQ = _mix_pair_ir(builder, lqP, lqQ, _transposed(u))
        io.store([*pP, *pQ, *qP, *qQ], ptrs)
        return context.get_dummy_value()

    return intrinsic(typer)


def _is_plane(value, *, writable):
    """Whether ``value`` is the type of a C-contiguous 2-D float64 array (and writable)."""
    return (
        isinstance(value, types.Array)
        and (value.ndim, value.layout, value.dtype) == (2, "C", types.float64)
        and (value.mutable or not writable)
    )


def _transposed(u):
    """``(Re, Im)`` of ``u00, u01, u10, u11`` → of ``u00, u10, u01, u11``: the right
    factor ``(x, y) ← (x u00 + y u10, x u01 + y u11)`` as a left mix."""
    return (u[0], u[1], u[4], u[5], u[2], u[3], u[6], u[7])


_rows_lanes, _rows_one = _pair_intrinsic(LANES, "left"), _pair_intrinsic(1, "left")
_columns_lanes, _columns_one = _pair_intrinsic(LANES, "right"), _pair_intrinsic(1, "right")
_both_lanes, _both_one = _both_intrinsic(LANES), _both_intrinsic(1)


@_inline
def _mix_rows(rp, ip, rq, iq, c):
    """Rows ``(x, y) ← (c00 x + c01 y, c10 x + c11 y)`` for one MZI; ``c`` from :func:`_left`."""
    rows = (rp, ip, rq, iq)
    n = rp.shape[0]
    j = 0
    while j + LANES <= n:
        _rows_lanes(rows, c, j)
        j += LANES
    while j < n:
        _rows_one(rows, c, j)
        j += 1


@_inline
def _mix_columns(rp, ip, rq, iq, u):
    """Column pairs ``(x, y) ← (x u00 + y u10, x u01 + y u11)``, MZI ``j`` at entry ``j``.

    ``u``: 8 arrays, ``(Re, Im)`` of ``u00, u01, u10, u11`` of every MZI of the column.
    """
    rows = (rp, ip, rq, iq)
    n = rp.shape[0]
    j = 0
    while j + LANES <= n:
        _columns_lanes(rows, u, j)
        j += LANES
    while j < n:
        _columns_one(rows, u, j)
        j += 1


@_inline
def _mix_both(planes, at, c, u, a, b):
    """:func:`_mix_rows` then :func:`_mix_columns` on the 2×2 blocks where they meet:
    pairs ``a … b − 1`` of rows ``p, q`` at columns ``cp + j``, ``cq + j`` of ``planes``
    (``M``'s real and imaginary parts), right factors ``u[:, uo + j]``; ``at = (p, q,
    cp, cq, uo)`` (:func:`_both_intrinsic`)."""
    j = a
    while j + LANES <= b:
        _both_lanes(planes, at, c, u, j)
        j += LANES
    while j < b:
        _both_one(planes, at, c, u, j)
        j += 1


@_jit
def _compose(columns, t, n, screen):
    """:func:`compose` on the column table; ``t`` and ``screen`` C-contiguous complex128."""
    wr = np.zeros((n, n))
    wi = np.zeros((n, n))
    for i in range(n):
        wr[i, i] = 1.0
    for c in range(columns.shape[0]):
        first, lo = columns[c, 0], columns[c, 2]
        for m in range(first, columns[c, 1]):
            p = lo + 2 * (m - first)
            # after c columns a row reaches at most c ports to either side
            j0, j1 = max(0, p - c), min(n, p + c + 2)
            _mix_rows(wr[p, j0:j1], wi[p, j0:j1], wr[p + 1, j0:j1], wi[p + 1, j0:j1], _left(t, m))
    w = np.empty((n, n), np.complex128)
    for i in range(n):
        sr, si = screen[i].real, screen[i].imag
        for j in range(n):
            w[i, j] = complex(sr * wr[i, j] - si * wi[i, j], sr * wi[i, j] + si * wr[i, j])
    return w


@_jit
def _sweep(columns, left, right, adjoint, corr, scale, skew):
    """The sweeps on the column table: ``M ← l M r`` column by column, from
    ``M = diag(scale[0]) · corr · diag(scale[1])``. The left factors ``l`` are ``left``
    (``leftᴴ`` if ``adjoint[0]``), the right ones ``right`` (``rightᴴ`` if
    ``adjoint[1]``). Overwrites ``corr``.

    ``skew``: carry ``A = (M − Mᴴ)/2`` instead, as its upper triangle (ports
    ``i ≤ j``; ``A[j, i] = −conj(A[i, j])``), for ``r = lᴴ`` unitary. Only the upper
    triangle is read: the mixes that would only update the lower one are skipped
    (those widened to whole vector steps write some of it, unread), and each MZI's
    own diagonal block is completed from its upper entry first."""
    n = corr.shape[0]
    h = (n + 1) // 2
    n_mzis = left.shape[0]
    # right factors as rows of reals: (Re, Im) of u00, u01, u10, u11 (u = tᴴ: ū of tᵀ)
    u = np.empty((8, n_mzis))
    for m in range(n_mzis):
        for e in range(4):
            r, s = e // 2, e % 2
            v = np.conj(right[m, s, r]) if adjoint[1] else right[m, r, s]
            u[2 * e, m] = v.real
            u[2 * e + 1, m] = v.imag
    mr = np.empty((n, n))
    mi = np.empty((n, n))
    col_r = np.empty(n)  # the column factors in storage order
    col_i = np.empty(n)
    for j in range(n):
        col_r[_pair(j, h)] = scale[1, j].real
        col_i[_pair(j, h)] = scale[1, j].imag
    for i in range(n):
        if skew:  # A = (corr − corrᴴ)/2, scaled below as M is: for phasors D, D⁻¹AD is
            for j in range(n):  # the anti-Hermitian part of D⁻¹ corr D
                x = 0.5 * (corr[i, j] - np.conj(corr[j, i]))
                mr[i, _pair(j, h)] = x.real
                mi[i, _pair(j, h)] = x.imag
        else:
            for j in range(n):
                mr[i, _pair(j, h)] = corr[i, j].real
                mi[i, _pair(j, h)] = corr[i, j].imag
        row_r, row_i = scale[0, i].real, scale[0, i].imag
        for j in range(n):  # (a loop of its own: vectorised, where the scattered one is not)
            fr = row_r * col_r[j] - row_i * col_i[j]
            fi = row_r * col_i[j] + row_i * col_r[j]
            x, y = mr[i, j], mi[i, j]
            mr[i, j] = x * fr - y * fi
            mi[i, j] = x * fi + y * fr
    blocks = np.empty((n_mzis, 2, 2), np.complex128)
    for c in range(columns.shape[0]):
        first, stop, lo = columns[c, 0], columns[c, 1], columns[c, 2]
        k = stop - first
        cp, cq = _pair(lo, h), _pair(lo + 1, h)  # storage of the pairs' columns: cp + i, cq + i
        for m in range(first, stop):
            p, i = lo + 2 * (m - first), m - first
            blocks[m, 0, 0] = mr[p, cp + i] + 1j * mi[p, cp + i]
            blocks[m, 0, 1] = mr[p, cq + i] + 1j * mi[p, cq + i]
            if skew:  # the lower entry from the upper one, before it is read anywhere
                mr[p + 1, cp + i], mi[p + 1, cp + i] = -mr[p, cq + i], mi[p, cq + i]
            blocks[m, 1, 0] = mr[p + 1, cp + i] + 1j * mi[p + 1, cp + i]
            blocks[m, 1, 1] = mr[p + 1, cq + i] + 1j * mi[p + 1, cq + i]
        uc = (
            u[0, first:stop], u[1, first:stop], u[2, first:stop], u[3, first:stop],
            u[4, first:stop], u[5, first:stop], u[6, first:stop], u[7, first:stop],
        )  # fmt: skip
        # storage columns in no MZI of this column: [0, s0), [s0 + k, s1), [s1 + k, n);
        # [0, s0) and [h, s1) are ports below lo, the others ports above the column
        s0, s1 = min(cp, cq), max(cp, cq)
        # (skew: the ranges above the column only; an empty third keeps one tuple type)
        free = ((s0 + k, h), (s1 + k, n), (0, 0)) if skew else ((0, s0), (s0 + k, s1), (s1 + k, n))
        # Light cone: a column moves a row or column index by at most 1, so after this
        # one only entries with |i − j| ≤ reach (the blocks of the columns left, |i − j|
        # ≤ 1 each, and the final diagonal) are read again: the 2×2 blocks of row pair
        # p and column pair lo + 2i need mixing only for |p − lo − 2i| ≤ reach + 1 (the
        # run is then widened to whole vector steps, into entries not read again).
        reach = 2 * (columns.shape[0] - 1 - c)
        for m in range(first, stop):
            p = lo + 2 * (m - first)
            q = p + 1
            tc = _left_adjoint(left, m) if adjoint[0] else _left(left, m)
            # (skew: from the MZI's own block on, the upper triangle)
            a = m - first if skew else max(0, (p - lo - reach) // 2)
            b = min(k, (p - lo + reach + 1) // 2 + 1)
            short = -(b - a) % LANES  # whole vector steps: widen into entries not read again
            grow = min(short, k - b)
            b += grow
            a = max(0, a - (short - grow))
            _mix_both((mr, mi), (p, q, cp, cq, first), tc, u, a, b)
            for j0, j1 in free:
                if j1 > j0:
                    _mix_rows(mr[p, j0:j1], mi[p, j0:j1], mr[q, j0:j1], mi[q, j0:j1], tc)
        for r in range(n):  # rows in no MZI of this column (skew: those above it)
            if r < lo or (r >= lo + 2 * k and not skew):
                _mix_columns(
                    mr[r, cp : cp + k], mi[r, cp : cp + k], mr[r, cq : cq + k],
                    mi[r, cq : cq + k], uc,
                )  # fmt: skip
    for i in range(n):
        for j in range(n):
            if skew and j < i:
                corr[i, j] = -mr[j, _pair(i, h)] + 1j * mi[j, _pair(i, h)]
            else:
                corr[i, j] = mr[i, _pair(j, h)] + 1j * mi[i, _pair(j, h)]
    return blocks


@_inline
def _minus_imag_form(block, row_col):
    """``−Im(row · block · col)`` for the 2×2 block as its entries ``(b00, b01, b10, b11)``
    and ``row_col = (r0, r1, c0, c1)``: the row ``(r0, r1)``, the column ``(c0, c1)``."""
    b00, b01, b10, b11 = block
    r0, r1, c0, c1 = row_col
    return -(r0 * (b00 * c0 + b01 * c1) + r1 * (b10 * c0 + b11 * c1)).imag


@_inline
def _entries(blocks, m):
    return blocks[m, 0, 0], blocks[m, 0, 1], blocks[m, 1, 0], blocks[m, 1, 1]


@_jit
def _shifter_gradients(blocks, s1, right, adjoint):
    """:func:`shifter_gradients`; the column ``S₁⁻¹[:, 0]`` is ``conj(S₁[0, :])`` if
    ``adjoint`` (``right`` is then ``S₁``), else ``right[:, :, 0]``."""
    n = blocks.shape[0]
    theta = np.empty(n)
    phi = np.empty(n)
    for m in range(n):
        r0, r1 = s1[m, 0, 0], s1[m, 0, 1]
        if adjoint:
            c0, c1 = np.conj(r0), np.conj(r1)
        else:
            c0, c1 = right[m, 0, 0], right[m, 1, 0]
        theta[m] = _minus_imag_form(_entries(blocks, m), (r0, r1, c0, c1))
        phi[m] = -blocks[m, 0, 0].imag
    return theta, phi


@_jit
def _shifter_gradients_at_outputs(blocks, s2, t, s2_inv, t_inv, adjoint):
    """:func:`shifter_gradients_at_outputs`: ``−Im (f⁻¹ M f)[0, 0]`` for ``f = S₂`` (θ) and
    ``f = T`` (φ), the row ``f⁻¹[0, :]`` (``conj(f[:, 0])`` if ``adjoint``, ``s2_inv`` and
    ``t_inv`` then being placeholders) times ``M`` times the column ``f[:, 0]``."""
    n = blocks.shape[0]
    theta = np.empty(n)
    phi = np.empty(n)
    if adjoint:  # (two loops: a test inside one kept it from being vectorised)
        for m in range(n):
            block = _entries(blocks, m)
            theta[m] = _minus_imag_form(block, _conj_row_col(s2, m))
            phi[m] = _minus_imag_form(block, _conj_row_col(t, m))
    else:
        for m in range(n):
            block = _entries(blocks, m)
            theta[m] = _minus_imag_form(block, _inverse_row_col(s2, s2_inv, m))
            phi[m] = _minus_imag_form(block, _inverse_row_col(t, t_inv, m))
    return theta, phi


@_inline
def _conj_row_col(f, m):
    """The row ``conj(f[m, :, 0])`` (of ``f[m]⁻¹`` if unitary) and the column ``f[m, :, 0]``."""
    c0, c1 = f[m, 0, 0], f[m, 1, 0]
    return np.conj(c0), np.conj(c1), c0, c1


@_inline
def _inverse_row_col(f, f_inv, m):
    """The row ``f_inv[m, 0, :]`` and the column ``f[m, :, 0]``."""
    return f_inv[m, 0, 0], f_inv[m, 0, 1], f[m, 0, 0], f[m, 1, 0]


@_jit_sums
def _tap_power_pass(columns, rows3, re, im, forward):
    """:func:`tap_power_pass` on the real and imaginary parts of the fields."""
    n_mzis = rows3.shape[0]
    theta = np.zeros(n_mzis)
    phi = np.zeros(n_mzis)
    blocks = rows3[:, 1:, :]  # the 2×2 block of every MZI, below its tap row
    n_columns = columns.shape[0]
    for step in range(n_columns):
        c = step if forward else n_columns - 1 - step
        first, lo = columns[c, 0], columns[c, 2]
        for m in range(first, columns[c, 1]):
            p = lo + 2 * (m - first)
            theta[m], phi[m] = _tap_and_mix(
                re[p], im[p], re[p + 1], im[p + 1], _left(rows3, m)[:4], _left(blocks, m), forward
            )
    return theta, phi


@_inline
def _tap_and_mix(xr, xi, yr, yi, row, c, forward):
    """One MZI of :func:`_tap_power_pass`, in one pass over the samples: ``Σ|tap|²`` of
    the θ tap ``row · (x, y)`` and ``Σ|x|²`` of the top port (before the mix going
    forward, after it going back), and the pair ``(x, y) ← c · (x, y)``."""
    r0r, r0i, r1r, r1i = row
    a0, b0, a1, b1, a2, b2, a3, b3 = c
    theta = 0.0
    phi = 0.0
    for j in range(xr.shape[0]):
        pr, pi, qr, qi = xr[j], xi[j], yr[j], yi[j]
        tr = r0r * pr - r0i * pi + r1r * qr - r1i * qi
        ti = r0r * pi + r0i * pr + r1r * qi + r1i * qr
        theta += tr * tr + ti * ti
        nr = a0 * pr - b0 * pi + a1 * qr - b1 * qi
        ni = a0 * pi + b0 * pr + a1 * qi + b1 * qr
        xr[j] = nr
        xi[j] = ni
        yr[j] = a2 * pr - b2 * pi + a3 * qr - b3 * qi
        yi[j] = a2 * pi + b2 * pr + a3 * qi + b3 * qr
        phi += (pr * pr + pi * pi) if forward else (nr * nr + ni * ni)
    return theta, phi
