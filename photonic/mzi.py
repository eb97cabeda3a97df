"""2×2 transfer matrices of couplers, phase screens and Mach-Zehnder interferometers.

Pure array functions; every argument broadcasts over leading axes and every result
has shape ``(..., 2, 2)`` (complex128). Convention of Pai et al. 2023 and the
neurophox family (DESIGN.md §4.1), acting on column vectors ``(top, bottom)``:

* coupler ``B(ε) = [[sin(π/4+ε), i cos(π/4+ε)], [i cos(π/4+ε), sin(π/4+ε)]]``,
  the ideal ``B = (1/√2)[[1, i], [i, 1]]`` at ``ε = 0``; a lossy coupler is followed
  by the amplitude factor ``10^(−loss_db/20)`` on each output arm;
* phase screen on the top arm ``D(x) = diag(e^{ix}, 1)``;
* MZI ``T(θ, φ) = B₂ · D(θ) · B₁ · D(φ)``: the external phase φ on the input side,
  the internal phase θ between the couplers; θ = 0 is the cross state, θ = π the
  bar state.

This module is the one place these matrices are written down: as NumPy functions
of any shape, and once more compiled for the one phase set of a mesh that every
training step needs (:func:`unchecked_mzi_matrices`, tested against the NumPy ones).
"""

from __future__ import annotations

import cmath
import functools
import math
import reprlib
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from digital.validation import check_finite
from photonic.constants import BALANCED_SPLIT_RAD, DB_PER_AMPLITUDE_DECADE
from photonic.jit import compiled, inline, readonly

Array = NDArray[Any]


def amplitude_factor(loss_db: ArrayLike) -> Array:
    """Field amplitude transmitted through a power loss of ``loss_db`` dB (any shape).

    A unit conversion only: a negative ``loss_db`` gives an amplitude > 1 (a gain). The
    device models that call it (:func:`coupler`, :func:`mzi_halves`, a ``Chip``) refuse
    negative losses themselves.

    Parameters
    ----------
    loss_db
        Power loss, dB, any shape.

    Returns
    -------
    numpy.ndarray
        ``10^(−loss_db/20)``, the shape of ``loss_db``.
    """
    return np.power(10.0, -np.asarray(loss_db, dtype=np.float64) / DB_PER_AMPLITUDE_DECADE)


def coupler(splitting_error_rad: ArrayLike = 0.0, loss_db: ArrayLike = 0.0) -> Array:
    """Directional coupler ``diag(l_top, l_bot) · B(ε)``.

    Parameters
    ----------
    splitting_error_rad
        ``ε``, shape ``(...)``, rad, finite; 0 is a perfect 50:50 split.
    loss_db
        Power loss of each output arm, dB ≥ 0 (finite): a scalar (both arms), or shape
        ``(..., 2)`` (top, bottom) or ``(..., 1)`` (both arms), its leading axes
        broadcasting with ``splitting_error_rad``. The last axis is always the arms:
        for ``n`` couplers give ``(n, 2)`` or ``(n, 1)``, not ``(n,)``.

    Returns
    -------
    numpy.ndarray
        ``(..., 2, 2)`` complex, the leading axes of both arguments broadcast.

    Raises
    ------
    TypeError
        If an argument does not hold real numbers.
    ValueError
        If an argument is NaN or infinite, ``loss_db`` is negative (a gain: the coupler
        would not be passive), or the shapes are not the ones above.
    """
    eps = _finite_real(splitting_error_rad, "splitting_error_rad", "coupler errors in rad")
    loss = _loss(loss_db, "dB ≥ 0 on each output arm")
    if loss.ndim and loss.shape[-1] not in (1, 2):
        raise ValueError(
            f"loss_db has shape {loss.shape}; allowed: a scalar (both arms) or (..., 2) "
            "(top, bottom arm) or (..., 1): the last axis is the arms, so for n couplers "
            "(n, 2) or (n, 1), not (n,)"
        )
    _check_broadcast(
        {"splitting_error_rad": eps.shape, "loss_db": loss.shape},
        [eps.shape, loss.shape[:-1]],
        "splitting_error_rad and the leading axes of loss_db (all but the arms) must broadcast",
    )
    s = np.sin(BALANCED_SPLIT_RAD + eps)
    c = 1j * np.cos(BALANCED_SPLIT_RAD + eps)
    b = np.stack([np.stack([s + 0j, c], axis=-1), np.stack([c, s + 0j], axis=-1)], axis=-2)
    arm = amplitude_factor(np.full(2, loss) if loss.ndim == 0 else loss)  # (..., 2)
    return b * arm[..., :, None]


#: Below this many phases :func:`phasor` calls ``exp``: the tangent route has a fixed
#: cost of a few NumPy calls and only wins on larger arrays (2-core machine: ≈ 256).
_PHASOR_EXP_BELOW = 256


def phasor(x_rad: ArrayLike) -> Array:
    """``e^{ix}`` of real phases, computed from one tangent for large arrays.

    NumPy evaluates a complex ``exp`` one element at a time (about 35 ns each on the
    2-core reference machine); ``tan`` is vectorised. With ``t = tan(x/2)``,
    ``e^{ix} = ((1 − t²) + 2it) / (1 + t²)`` costs about 3 ns per phase. At ``x = π``
    (``t`` ≈ 1.6e16) it still gives ``−1 + 1.2e-16i``, as ``exp`` does. Arrays of
    fewer than ``_PHASOR_EXP_BELOW`` phases go through ``exp``.

    Parameters
    ----------
    x_rad
        Phases in rad, any shape; real.

    Returns
    -------
    numpy.ndarray
        ``e^{ix}``, same shape, complex128; within 4e-16 (absolute) of the exact value.

    Raises
    ------
    TypeError
        If ``x_rad`` is complex.
    """
    if np.iscomplexobj(x_rad):
        raise TypeError("x_rad must be real phases in rad; got complex values")
    x = np.asarray(x_rad, dtype=np.float64)
    if x.size < _PHASOR_EXP_BELOW:
        return np.asarray(np.exp(1j * x), dtype=np.complex128)
    t = np.tan(0.5 * x)
    t_sq = np.square(t)
    scale = 1.0 / (1.0 + t_sq)
    out = np.empty(x.shape, dtype=np.complex128)
    out.real = (1.0 - t_sq) * scale
    out.imag = 2.0 * t * scale
    return out


def phase_screen(x_rad: ArrayLike) -> Array:
    """``D(x) = diag(e^{ix}, 1)``: a phase shifter on the top arm.

    Parameters
    ----------
    x_rad
        Phases, rad, any shape ``(...)``.

    Returns
    -------
    numpy.ndarray
        ``(..., 2, 2)`` complex.
    """
    x = np.asarray(x_rad, dtype=np.float64)
    d = np.zeros((*x.shape, 2, 2), dtype=np.complex128)
    d[..., 0, 0] = phasor(x)
    d[..., 1, 1] = 1.0
    return d


def mzi_halves(
    theta_rad: ArrayLike,
    phi_rad: ArrayLike,
    *,
    splitting_error_rad: ArrayLike = 0.0,
    loss_db: ArrayLike = 0.0,
) -> tuple[Array, Array]:
    """The two halves of an MZI: ``S₁ = B₁ · D(φ)`` and ``S₂ = B₂ · D(θ)``.

    Parameters
    ----------
    theta_rad, phi_rad
        Internal and external phase, rad, finite; shapes ``(...)`` that broadcast.
    splitting_error_rad
        Errors ε of the (first, second) coupler, rad, finite: a scalar (the same ε at
        every coupler) or shape ``(..., 2)``, its leading axes broadcasting with the
        phases. The last axis is always the coupler pair, never the MZIs: for ``n``
        MZIs give ``(n, 2)``; a 1-D ``[ε₁, ε₂]`` is one pair shared by every MZI (also
        when there happen to be 2 MZIs), and ``(n,)`` for ``n ≠ 2`` is refused.
    loss_db
        Arm losses, dB ≥ 0, finite: a scalar (every arm of both couplers) or shape
        ``(..., 2, 2)`` indexed ``[coupler, arm]``, its leading axes broadcasting with
        the phases (for ``n`` MZIs: ``(n, 2, 2)``).

    Returns
    -------
    (S1, S2)
        Each ``(..., 2, 2)`` complex128, the leading axes of all four arguments
        broadcast; the MZI is ``T = S2 @ S1``.

    Raises
    ------
    TypeError
        If an argument does not hold real numbers.
    ValueError
        If an argument is NaN or infinite (its matrix would be NaN: never silently),
        ``loss_db`` is negative (a gain: the MZI would not be passive), or the shapes
        are not the ones above.

    Notes
    -----
    Written out entry by entry (``B(ε)`` times ``diag(e^{ix}, 1)``, rows scaled by
    the arm losses) rather than as stacked 2×2 products: this runs once per
    parameter set for every MZI of a mesh, and stacked tiny matmuls are slow.
    """
    theta = _finite_real(theta_rad, "theta_rad", "phases in rad")
    phi = _finite_real(phi_rad, "phi_rad", "phases in rad")
    eps = _finite_real(splitting_error_rad, "splitting_error_rad", "coupler errors in rad")
    if eps.ndim and eps.shape[-1] != 2:
        raise ValueError(
            f"splitting_error_rad has shape {eps.shape}; allowed: a scalar (every coupler) "
            "or (..., 2), the errors of the (first, second) coupler of each MZI: for n "
            "MZIs (n, 2), not (n,)"
        )
    loss = _loss(loss_db, "dB ≥ 0 on each arm")
    if loss.ndim and loss.shape[-2:] != (2, 2):
        raise ValueError(
            f"loss_db has shape {loss.shape}; allowed: a scalar (every arm) or (..., 2, 2) "
            "indexed [coupler, arm]: for n MZIs (n, 2, 2)"
        )
    _check_broadcast(
        {
            "theta_rad": theta.shape,
            "phi_rad": phi.shape,
            "splitting_error_rad": eps.shape,
            "loss_db": loss.shape,
        },
        [theta.shape, phi.shape, eps.shape[:-1], loss.shape[:-2]],
        "the phases and the leading axes of splitting_error_rad (all but the coupler pair) "
        "and loss_db (all but [coupler, arm]) must broadcast",
    )
    return unchecked_mzi_halves(theta, phi, eps, loss)


def unchecked_mzi_halves(
    theta_rad: Array, phi_rad: Array, splitting_error_rad: Array, loss_db: Array
) -> tuple[Array, Array]:
    """:func:`mzi_halves` without its checks, for callers whose arrays are already checked.

    The mesh calls it with phases that :meth:`~photonic.mesh.Mesh.check_phases` found
    finite on that call (a cheap O(n_mzis) check: the arrays of a ``Phases`` can be
    edited in place after it was built) and the read-only arrays of a
    :class:`~photonic.imperfections.Chip`, checked when it was built.

    Parameters
    ----------
    theta_rad, phi_rad
        Finite float64 phases, rad, shapes that broadcast.
    splitting_error_rad
        Finite float64, shape ``()`` or ``(..., 2)`` (as for :func:`mzi_halves`).
    loss_db
        Finite float64 ≥ 0, shape ``()`` or ``(..., 2, 2)`` (as for :func:`mzi_halves`).

    Returns
    -------
    (S1, S2)
        As for :func:`mzi_halves`.
    """
    eps = np.asarray(splitting_error_rad, dtype=np.float64)
    eps = np.broadcast_to(eps, (*eps.shape, 2)) if eps.ndim == 0 else eps
    loss = np.asarray(loss_db, dtype=np.float64)
    arm = amplitude_factor(np.broadcast_to(loss, (2, 2)) if loss.ndim == 0 else loss)
    halves = []
    for k, x in ((0, phi_rad), (1, theta_rad)):
        split = BALANCED_SPLIT_RAD + eps[..., k]
        sin, icos = np.sin(split), 1j * np.cos(split)
        phase = phasor(x)
        shape = np.broadcast_shapes(np.shape(phase), np.shape(split), np.shape(arm)[:-2])
        half = np.empty((*shape, 2, 2), dtype=np.complex128)
        top, bottom = arm[..., k, 0], arm[..., k, 1]
        half[..., 0, 0] = sin * phase * top
        half[..., 0, 1] = icos * top
        half[..., 1, 0] = icos * phase * bottom
        half[..., 1, 1] = sin * bottom
        halves.append(half)
    return halves[0], halves[1]


def unchecked_mzi_matrices(
    theta_rad: Array, phi_rad: Array, splitting_error_rad: Array, loss_db: Array
) -> tuple[Array, Array, Array]:
    """``S₁``, ``S₂`` and ``T = S₂ S₁`` of every MZI of one phase set, compiled.

    The same matrices as :func:`unchecked_mzi_halves` and :func:`product_2x2` (to
    rounding: ``e^{ix}`` from a vectorised ``cos`` and ``sin``, within 4.5e-16), in one
    compiled loop over the MZIs: a mesh needs them at every training step, and NumPy
    spends most of the time of ~30 small array operations on their overhead (N = 64:
    2016 MZIs, 230 µs against 55 µs compiled, 2-core machine). Unchecked, as
    :func:`unchecked_mzi_halves`.

    Parameters
    ----------
    theta_rad, phi_rad
        Finite float64 phases, rad, ``(n,)`` each.
    splitting_error_rad
        Finite float64, ``()`` (every coupler) or ``(n, 2)`` (first, second coupler).
    loss_db
        Finite float64 ≥ 0, ``()`` (every arm) or ``(n, 2, 2)`` indexed ``[coupler, arm]``.

    Returns
    -------
    (S1, S2, T)
        Each ``(n, 2, 2)`` complex128.
    """
    theta = readonly(theta_rad, np.float64)
    n = theta.shape[0]
    if np.shape(phi_rad) != theta.shape:  # the compiled loop writes one row per phase
        raise ValueError(f"phi_rad has shape {np.shape(phi_rad)}; theta_rad has {theta.shape}")
    eps, loss = (
        _one_row(float(a), shape)
        if np.ndim(a) == 0
        else readonly(np.reshape(a, (n, *shape)), np.float64)
        for a, shape in ((splitting_error_rad, (2,)), (loss_db, (2, 2)))
    )
    # the constants as arguments: Numba would compile module globals in, and its cache
    # notices edits of this file only, not of constants.py
    return _mzi_matrices(
        theta, readonly(phi_rad, np.float64), eps, loss, BALANCED_SPLIT_RAD, DB_PER_AMPLITUDE_DECADE
    )


@functools.lru_cache(maxsize=16)
def _one_row(value: float, shape: tuple[int, ...]) -> Array:
    """``value`` as a read-only ``(1, *shape)`` float64 array: one coupler error or arm
    loss shared by every MZI (the ideal chip's zeros at every training step)."""
    return readonly(np.full((1, *shape), value), np.float64)


#: π/2 in three parts for :func:`_cos_sin` (Cody and Waite's reduction): the first two
#: have 31 and 32 significant bits, so ``k·part`` is exact for ``|k| < 2²¹``; the three
#: add up to π/2 within 1.01e-37.
_HALF_PI_PARTS = (
    float.fromhex("0x1.921fb544p+0"),
    float.fromhex("0x1.0b4611a6p-34"),
    float.fromhex("0x1.3198a2e037073p-69"),
)
#: :func:`_cos_sin` reduces phases smaller than this in magnitude (rad); larger ones
#: (never met in training: a phase drifts by ~lr per step) go to ``math.cos``/``sin``.
_COS_SIN_REDUCED_BELOW = 2.0**20
#: Taylor coefficients in ``r²`` of ``sin(r)/r`` (to ``r¹⁴``) and ``cos(r)`` (to ``r¹⁶``),
#: highest power first: on ``|r| ≤ π/4`` the first terms left out are below 7e-17.
_SIN_TAYLOR = tuple((-1) ** n / math.factorial(2 * n + 1) for n in range(7, -1, -1))
_COS_TAYLOR = tuple((-1) ** n / math.factorial(2 * n) for n in range(8, -1, -1))


@inline
def _cos_sin_reduced(x):
    """``(cos x, sin x)`` for ``|x| < _COS_SIN_REDUCED_BELOW``, within 4.5e-16 (absolute).

    ``x = k·π/2 + r`` with ``|r| ≤ π/4``, then the Taylor polynomials of ``cos r``
    and ``sin r`` (``_COS_TAYLOR``, ``_SIN_TAYLOR``); the quadrant ``k mod 4`` picks
    the signs. Plain arithmetic, so a loop over phases is vectorised (four
    libm calls per MZI took 84 of the 107 µs of N = 64's matrices). The error is
    absolute, as a phasor's is: near multiples of π/2 within 1 ulp, for
    ``|x| > 10³`` up to 2.6 ulp of a result near 1 (the rounding of ``r``; a
    training phase stays within a few 2π).
    """
    p1, p2, p3 = _HALF_PI_PARTS
    k = math.floor(x * (2.0 / math.pi) + 0.5)
    r = ((x - k * p1) - k * p2) - k * p3
    r2 = r * r
    sin_r = 0.0  # sin r = r·Σ (−1)ⁿ r²ⁿ/(2n+1)!, cos r = Σ (−1)ⁿ r²ⁿ/(2n)!: Horner in r²
    for c in _SIN_TAYLOR:
        sin_r = sin_r * r2 + c
    sin_r *= r
    cos_r = 0.0
    for c in _COS_TAYLOR:
        cos_r = cos_r * r2 + c
    q = np.int64(k) & 3  # cos, sin of x: (c, s), (−s, c), (−c, −s), (s, −c)
    cos_x = sin_r if q & 1 else cos_r
    sin_x = cos_r if q & 1 else sin_r
    return (-cos_x if q == 1 or q == 2 else cos_x), (-sin_x if q >= 2 else sin_x)


@inline
def _cos_sin(x, cos_out, sin_out):
    """``cos_out, sin_out ← cos x, sin x`` for a 1-D array of phases (rad)."""
    for m in range(x.shape[0]):  # vectorised; NaN, ±inf and huge x are left to libm:
        safe = x[m] if abs(x[m]) < _COS_SIN_REDUCED_BELOW else 0.0  # (no int of NaN)
        cos_out[m], sin_out[m] = _cos_sin_reduced(safe)
    for m in range(x.shape[0]):
        if not abs(x[m]) < _COS_SIN_REDUCED_BELOW:
            cos_out[m], sin_out[m] = math.cos(x[m]), math.sin(x[m])


@compiled()
def _mzi_matrices(theta, phi, eps, loss_db, balanced_split_rad, db_per_amplitude_decade):
    """:func:`unchecked_mzi_matrices`; ``eps`` ``(1 or n, 2)``, ``loss_db`` ``(1 or n, 2, 2)``
    (one row: shared by every MZI, its trigonometry done once, and the loop over the
    MZIs vectorised: N = 64's ideal chip 34 → 22 µs with the wrapper)."""
    n = theta.shape[0]
    s1 = np.empty((n, 8))  # (Re, Im) of [0, 0], [0, 1], [1, 0], [1, 1]
    s2 = np.empty((n, 8))
    t = np.empty((n, 8))
    screen_cos = np.empty((2, n))  # cos, sin of the (φ, θ) of every MZI
    screen_sin = np.empty((2, n))
    _cos_sin(phi, screen_cos[0], screen_sin[0])
    _cos_sin(theta, screen_cos[1], screen_sin[1])
    # per row of eps: sin, cos of π/4 + ε of the (first, second) coupler; per row of
    # loss_db: the amplitude factors [coupler, arm]
    sin = np.empty((eps.shape[0], 2))
    cos = np.empty((eps.shape[0], 2))
    for r in range(eps.shape[0]):
        for k in range(2):
            sin[r, k] = math.sin(balanced_split_rad + eps[r, k])
            cos[r, k] = math.cos(balanced_split_rad + eps[r, k])
    arm = np.empty((loss_db.shape[0], 2, 2))
    for r in range(loss_db.shape[0]):
        for k in range(2):
            for a in range(2):
                arm[r, k, a] = 10.0 ** (-loss_db[r, k, a] / db_per_amplitude_decade)
    if eps.shape[0] == 1 and loss_db.shape[0] == 1:  # (a loop without indexing of its own)
        shared = (sin[0, 0], cos[0, 0], arm[0, 0, 0], arm[0, 0, 1])
        shared_2 = (sin[0, 1], cos[0, 1], arm[0, 1, 0], arm[0, 1, 1])
        for m in range(n):
            _store_mzi(s1, s2, t, m, screen_cos, screen_sin, shared, shared_2)
    else:
        for m in range(n):
            e, r = min(m, eps.shape[0] - 1), min(m, loss_db.shape[0] - 1)
            first = (sin[e, 0], cos[e, 0], arm[r, 0, 0], arm[r, 0, 1])
            second = (sin[e, 1], cos[e, 1], arm[r, 1, 0], arm[r, 1, 1])
            _store_mzi(s1, s2, t, m, screen_cos, screen_sin, first, second)
    shape = (n, 2, 2)
    return (
        s1.view(np.complex128).reshape(shape),
        s2.view(np.complex128).reshape(shape),
        t.view(np.complex128).reshape(shape),
    )


@inline
def _half(c, s, coupler):
    """``S = diag(top, bottom) · B(ε) · diag(e^{ix}, 1)`` as 8 reals, for ``c, s = cos x,
    sin x`` and ``coupler = (sin(π/4 + ε), cos(π/4 + ε), top, bottom)``."""
    sin, cos, top, bottom = coupler
    return (
        sin * c * top, sin * s * top, 0.0, cos * top,
        -(cos * s) * bottom, cos * c * bottom, sin * bottom, 0.0,
    )  # fmt: skip


@inline
def _store_mzi(s1, s2, t, m, screen_cos, screen_sin, first, second):
    """Row ``m`` of ``s1``, ``s2`` (:func:`_half` of φ with the ``first`` coupler, of θ
    with the ``second``) and of ``t = S₂ S₁``, as 8 reals each."""
    x = _half(screen_cos[0, m], screen_sin[0, m], first)
    y = _half(screen_cos[1, m], screen_sin[1, m], second)
    s1[m, 0], s1[m, 1], s1[m, 2], s1[m, 3] = x[0], x[1], x[2], x[3]
    s1[m, 4], s1[m, 5], s1[m, 6], s1[m, 7] = x[4], x[5], x[6], x[7]
    s2[m, 0], s2[m, 1], s2[m, 2], s2[m, 3] = y[0], y[1], y[2], y[3]
    s2[m, 4], s2[m, 5], s2[m, 6], s2[m, 7] = y[4], y[5], y[6], y[7]
    t[m, 0], t[m, 1] = _product_entry(y[0:4], x[0:2], x[4:6])  # t[i, j] = y[i, :] x[:, j]
    t[m, 2], t[m, 3] = _product_entry(y[0:4], x[2:4], x[6:8])
    t[m, 4], t[m, 5] = _product_entry(y[4:8], x[0:2], x[4:6])
    t[m, 6], t[m, 7] = _product_entry(y[4:8], x[2:4], x[6:8])


@inline
def _product_entry(row, top, bottom):
    """``(Re, Im)`` of ``row · (top, bottom)ᵀ`` for the row ``(r0, i0, r1, i1)`` and the
    column entries ``top``, ``bottom`` as ``(Re, Im)``: two complex products, summed."""
    a0r, a0i, a1r, a1i = row
    (b0r, b0i), (b1r, b1i) = top, bottom
    return (
        a0r * b0r - a0i * b0i + (a1r * b1r - a1i * b1i),
        a0r * b0i + a0i * b0r + (a1r * b1i + a1i * b1r),
    )


def _finite_real(value: ArrayLike, name: str, what: str) -> Array:
    """``value`` as a float64 array (no copy if it is one): a ``TypeError`` naming
    ``name`` unless it holds real numbers (complex, bool, strings and ``None`` are not
    cast), a ``ValueError`` if an entry is NaN or infinite."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{name}={reprlib.repr(value)} must hold real numbers ({what}); got dtype {arr.dtype}"
        )
    arr = arr.astype(np.float64, copy=False)
    check_finite(arr, name)
    return arr


def _loss(loss_db: ArrayLike, what: str) -> Array:
    """``loss_db`` as a finite float64 array ≥ 0, else ``TypeError``/``ValueError`` naming it."""
    loss = _finite_real(loss_db, "loss_db", what)
    if loss.size and loss.min() < 0:
        raise ValueError(
            f"loss_db holds negative value(s) (min {float(loss.min())!r}); losses must be ≥ 0 dB "
            "(a negative loss is a gain: the device would not be passive)"
        )
    return loss


def _check_broadcast(
    shapes: dict[str, tuple[int, ...]], leading: list[tuple[int, ...]], rule: str
) -> None:
    """``ValueError`` listing ``shapes`` and ``rule`` unless the ``leading`` axes broadcast."""
    try:
        np.broadcast_shapes(*leading)
    except ValueError:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"shapes do not broadcast: {listed}; {rule}") from None


def product_2x2(a: Array, b: Array) -> Array:
    """``a @ b`` for stacks of 2×2 matrices ``(..., 2, 2)``, written out entry by entry.

    Parameters
    ----------
    a, b
        NumPy arrays ``(..., 2, 2)`` whose leading axes broadcast.

    Returns
    -------
    numpy.ndarray
        ``(..., 2, 2)`` with the broadcast leading axes, dtype ``result_type(a, b)``.
    """
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.result_type(a, b))
    for i in range(2):
        for j in range(2):
            out[..., i, j] = a[..., i, 0] * b[..., 0, j] + a[..., i, 1] * b[..., 1, j]
    return out


def mzi(
    theta_rad: ArrayLike,
    phi_rad: ArrayLike,
    *,
    splitting_error_rad: ArrayLike = 0.0,
    loss_db: ArrayLike = 0.0,
) -> Array:
    """MZI transfer matrix ``T(θ, φ) = B₂ · D(θ) · B₁ · D(φ)``, shape ``(..., 2, 2)``.

    With no errors and no loss,
    ``T(θ, φ) = i e^{iθ/2} [[e^{iφ} sin(θ/2), cos(θ/2)], [e^{iφ} cos(θ/2), −sin(θ/2)]]``.

    Parameters
    ----------
    theta_rad, phi_rad, splitting_error_rad, loss_db
        As for :func:`mzi_halves`.

    Returns
    -------
    numpy.ndarray
        ``T``, ``(..., 2, 2)`` complex.

    Raises
    ------
    TypeError, ValueError
        As for :func:`mzi_halves`: an argument that is not real, NaN or infinite (its
        matrix would be NaN: never silently), a negative loss or a shape not allowed.
    """
    s1, s2 = mzi_halves(
        theta_rad, phi_rad, splitting_error_rad=splitting_error_rad, loss_db=loss_db
    )
    return product_2x2(s2, s1)


#: Entries of the ideal coupler ``B``, ``sin(π/4)`` and ``i·cos(π/4)``, as ``mzi`` has them.
_SIN = complex(np.sin(BALANCED_SPLIT_RAD))
_ICOS = complex(1j * np.cos(BALANCED_SPLIT_RAD))
_ICOS_SIN = np.array([_ICOS, _ICOS, _SIN, _SIN], dtype=np.complex128)


def scalar_mzi(theta_rad: float, phi_rad: float) -> Array:
    """``mzi(theta_rad, phi_rad)`` of one ideal MZI (no errors, no loss), unchecked.

    For loops that build one MZI at a time, as the decompositions do (``n(n−1)/2``
    nulling steps): :func:`mzi` checks and broadcasts its arguments at ≈ 80 µs a call,
    which at ``n = 256`` made ``Mesh.random_phases`` take seconds; this takes a few µs.
    The arithmetic is :func:`mzi`'s in the same order (``S₁ = B·D(φ)`` and
    ``S₂ = B·D(θ)`` entry by entry, then ``S₂ @ S₁`` as :func:`product_2x2` writes it),
    which gave identical bits on the development machine.

    Parameters
    ----------
    theta_rad, phi_rad
        Internal and external phase, rad: finite Python or NumPy floats (not checked).

    Returns
    -------
    numpy.ndarray
        ``(2, 2)`` complex128.
    """
    e_phi = cmath.exp(1j * phi_rad)
    e_theta = cmath.exp(1j * theta_rad)
    s1_00, s1_10 = _SIN * e_phi, _ICOS * e_phi
    s2_00, s2_10 = _SIN * e_theta, _ICOS * e_theta
    # out[i, j] = S₂[i, 0]·S₁[0, j] + S₂[i, 1]·S₁[1, j] for (i, j) = 00, 01, 10, 11
    left = np.array([s2_00, s2_00, s2_10, s2_10], dtype=np.complex128)
    right_0 = np.array([s1_00, _ICOS, s1_00, _ICOS], dtype=np.complex128)
    right_1 = np.array([s1_10, _SIN, s1_10, _SIN], dtype=np.complex128)
    return (left * right_0 + _ICOS_SIN * right_1).reshape(2, 2)


def inverse_2x2(m: Array) -> Array:
    """Inverse of a stack of 2×2 matrices by the adjugate formula.

    Parameters
    ----------
    m
        Matrices ``(..., 2, 2)``.

    Returns
    -------
    numpy.ndarray
        Their inverses, ``(..., 2, 2)``.
    """
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    inv_det = 1.0 / (a * d - b * c)  # one complex division per matrix, not four
    inv = np.empty_like(m)
    inv[..., 0, 0] = d * inv_det
    inv[..., 0, 1] = -b * inv_det
    inv[..., 1, 0] = -c * inv_det
    inv[..., 1, 1] = a * inv_det
    return inv


def sandwich_2x2(row: ArrayLike, m: ArrayLike, col: ArrayLike) -> Array:
    """``row · m · col`` for stacks: ``(..., 2)``, ``(..., 2, 2)``, ``(..., 2)`` → ``(...)``.

    One compiled loop over the broadcast stack, reading strided views as they are:
    for the 2016 MZIs of N = 64 the loop takes 10 µs, NumPy's entry-by-entry
    expression 25 µs (a stacked ``einsum`` is slower still).

    Parameters
    ----------
    row
        Row vectors ``(..., 2)``, used as they are (not conjugated).
    m
        Matrices ``(..., 2, 2)``.
    col
        Column vectors ``(..., 2)``.

    Returns
    -------
    numpy.ndarray
        ``(...)`` complex128, the leading axes of the three broadcast together.
    """
    row, m, col = np.asarray(row), np.asarray(m), np.asarray(col)
    lead = np.broadcast_shapes(row.shape[:-1], m.shape[:-2], col.shape[:-1])

    def stacked(a: Array, item: tuple[int, ...]) -> Array:
        """``a`` as ``(n, *item)`` complex128, any strides (a view where it can)."""
        a = a.astype(np.complex128, copy=False)
        if a.shape != lead + item:  # (np.broadcast_to costs µs even when it has nothing to do)
            a = np.broadcast_to(a, lead + item)
        return a if len(lead) == 1 else a.reshape(-1, *item)

    return _sandwich(stacked(row, (2,)), stacked(m, (2, 2)), stacked(col, (2,))).reshape(lead)


@compiled()
def _sandwich(row, m, col):
    """:func:`sandwich_2x2` on ``(n, 2)``, ``(n, 2, 2)``, ``(n, 2)`` complex128."""
    out = np.empty(row.shape[0], dtype=np.complex128)
    for k in range(row.shape[0]):
        top = m[k, 0, 0] * col[k, 0] + m[k, 0, 1] * col[k, 1]
        bottom = m[k, 1, 0] * col[k, 0] + m[k, 1, 1] * col[k, 1]
        out[k] = row[k, 0] * top + row[k, 1] * bottom
    return out
