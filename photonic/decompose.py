"""Unitary matrix → MZI-mesh phases (Clements 2016, Reck 1994), SVD layers, and fidelity.

Contract
--------
* :func:`decompose` takes an ``(n, n)`` unitary ``u`` (``n ≥ 2``) and returns a
  ``(mesh, phases)`` pair with ``mesh.matrix(phases) == u`` to round-off
  (≲ 1e-13 max abs for Haar-random ``u`` up to ``n = 64``). ``mesh`` is a fresh
  ``Mesh.clements(n)`` or ``Mesh.reck(n)``; every phase is in ``[0, 2π)``.
* :func:`svd_layers` takes any nonzero square ``(n, n)`` matrix ``m`` and returns
  :class:`SVDLayers`: two meshes and an attenuator column with
  ``m == scale · U · diag(sigma) · V†`` where ``U`` and ``V†`` are programmed meshes,
  ``sigma ∈ [0, 1]`` (largest = 1) and ``scale`` is the largest singular value.
* :func:`fidelity` says how well a realized matrix (an imperfect chip's
  ``mesh.matrix(phases, chip)``, a noisy draw) reproduces its target, up to global
  phase and uniform loss.

Conventions (DESIGN.md §4.1)
----------------------------
The MZI is ``T(θ, φ) = B · D(θ) · B · D(φ)`` with ``B = (1/√2)[[1, i], [i, 1]]`` and
``D(x) = diag(e^{ix}, 1)`` (see :func:`photonic.mzi.mzi`), i.e.

    ``T(θ, φ) = i e^{iθ/2} [[e^{iφ} sin(θ/2), cos(θ/2)], [e^{iφ} cos(θ/2), −sin(θ/2)]]``.

A mesh acts on column vectors, ``W = diag(e^{i·out}) · C_last ⋯ C_1 · C_0``, where
column ``C_c`` applies ``T`` of each of its MZIs to ports ``(top, top + 1)``.

Algorithms
----------
*Clements* (Clements et al., Optica 3, 1460 (2016)): for diagonal ``i = 0 … n−2`` of
the lower triangle, null its elements alternately from the right (``u ← u · T⁻¹`` on
columns ``(m, m+1)`` zeroes ``u[r, m]``) for even ``i`` and from the left
(``u ← T · u`` on rows ``(m, m+1)`` zeroes ``u[m+1, c]``) for odd ``i``. What remains is
a diagonal ``D`` with ``L · u · R = D``, so ``u = L⁻¹ · D · R⁻¹``. The right-hand MZIs
are mesh MZIs as they are; the residual phases are pushed through each left-hand
``T⁻¹`` to the output phase column with the exact identity

    ``T(θ, φ)⁻¹ · diag(e^{iα}, e^{iβ}) = diag(e^{i(β−φ−θ+π)}, e^{i(β−θ+π)}) · T(θ, α−β)``.

The right-null step ``i, j`` lands at mesh column ``j``, top ``i−j``; the left-null
step ``i, j`` at mesh column ``n−1−j``, top ``n−2−i+j``.

*Reck* (Reck et al., PRL 73, 58 (1994)): null row ``r = n−1, n−2, …, 1`` from the
right, one element at a time from column 0 up to ``r−1``. Row ``n−1−k`` is nulled by
the diagonal chain ``k`` of the triangle (mesh column ``t + 2k``, top ``t``,
``t = 0 … n−2−k``); the diagonal that remains is the output phase column directly.

Each 2×2 nulling step picks ``θ ∈ [0, π]`` from the ratio ``|a| : |b|`` of the two
entries with ``atan2`` (exact at ``θ = 0`` and ``θ = π``, so zero entries, identity
and permutation matrices need no special case) and ``φ`` from their phase difference
(arbitrary, and harmless, when an entry is zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from digital.validation import check_choice, check_finite
from photonic.constants import TWO_PI
from photonic.imperfections import wrap_rad
from photonic.mesh import TOPOLOGIES, Mesh, Phases, Topology
from photonic.mzi import scalar_mzi

if TYPE_CHECKING:
    from photonic.imperfections import Chip

Array = NDArray[Any]


#: Default tolerance on ``max|u u† − I|`` for accepting ``u`` as unitary.
DEFAULT_UNITARY_ATOL = 1e-9


@dataclass(frozen=True)
class _Layout:
    """Phases of a decomposition keyed by mesh position, before ordering.

    ``column``, ``top``, ``theta_rad`` and ``phi_rad`` have shape ``(n_mzis,)``;
    ``out_rad`` has shape ``(n_ports,)``. Angles are not yet wrapped.
    """

    column: Array
    top: Array
    theta_rad: Array
    phi_rad: Array
    out_rad: Array


@dataclass(frozen=True)
class SVDLayers:
    """A general square matrix as ``scale · U · diag(sigma) · V†`` on photonic hardware.

    Light passes the ``V†`` mesh, then a column of attenuators with amplitude
    transmissions ``sigma``, then the ``U`` mesh. ``scale`` (the largest singular
    value) is the gain the optics cannot provide; apply it electronically.

    Attributes
    ----------
    v_mesh, v_phases
        Mesh and phases programming ``V†``, ``(n, n)``.
    sigma
        Amplitude transmissions of the attenuator column, shape ``(n,)``, in
        ``[0, 1]``, the largest exactly 1 (read-only array).
    scale
        Largest singular value of the original matrix (> 0).
    u_mesh, u_phases
        Mesh and phases programming ``U``, ``(n, n)``.
    """

    v_mesh: Mesh
    v_phases: Phases
    sigma: Array
    scale: float
    u_mesh: Mesh
    u_phases: Phases

    def __post_init__(self) -> None:
        sigma = np.array(self.sigma, dtype=np.float64)
        n = self.u_mesh.n_ports
        if self.v_mesh.n_ports != n or sigma.shape != (n,):
            raise ValueError(
                f"sigma has shape {sigma.shape}, v_mesh has {self.v_mesh.n_ports} ports and "
                f"u_mesh {n}; all three must agree on n_ports"
            )
        if not np.all((sigma >= 0) & (sigma <= 1)):
            raise ValueError(f"sigma={sigma!r} must be amplitude transmissions in [0, 1]")
        scale = float(self.scale)
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale={self.scale!r} must be a finite number > 0")
        sigma.setflags(write=False)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "scale", scale)

    @property
    def n_ports(self) -> int:
        """Number of ports ``n``."""
        return int(self.sigma.shape[0])

    def matrix(self, chip_v: Chip | None = None, chip_u: Chip | None = None) -> Array:
        """Unscaled transfer matrix ``U · diag(sigma) · V†``.

        Parameters
        ----------
        chip_v, chip_u
            ``photonic.imperfections.Chip`` of the ``V†`` and ``U`` meshes, or ``None``
            for ideal devices (passed on to ``Mesh.matrix``).

        Returns
        -------
        numpy.ndarray
            ``(n, n)`` complex; ``scale * matrix()`` reproduces the original matrix.
        """
        v = self.v_mesh.matrix(self.v_phases, chip=chip_v)
        u = self.u_mesh.matrix(self.u_phases, chip=chip_u)
        return np.asarray((u * self.sigma[None, :]) @ v)


def decompose(
    u: ArrayLike,
    *,
    topology: Topology = "clements",
    atol: float = DEFAULT_UNITARY_ATOL,
) -> tuple[Mesh, Phases]:
    """Phases that make an MZI mesh implement the unitary ``u``.

    Parameters
    ----------
    u
        ``(n, n)`` unitary matrix, real or complex, ``n ≥ 2``; acts on column vectors
        (output = ``u @ input``).
    topology
        ``"clements"`` (rectangular, Clements et al. 2016; depth ``n``) or ``"reck"``
        (triangular, Reck et al. 1994; depth ``2n − 3``).
    atol
        Largest accepted ``max|u u† − I|``. The decomposition is exact for the
        unitary it builds, so a ``u`` that is off by ``δ`` is reproduced to about ``δ``.

    Returns
    -------
    mesh : photonic.mesh.Mesh
        ``Mesh.clements(n)`` or ``Mesh.reck(n)`` with ``n(n−1)/2`` MZIs.
    phases : photonic.mesh.Phases
        ``theta_rad``, ``phi_rad`` of shape ``(n_mzis,)`` in mesh order and ``out_rad``
        of shape ``(n,)``, all in ``[0, 2π)``, with ``mesh.matrix(phases) ≈ u``.

    Raises
    ------
    ValueError
        If ``u`` is not a finite square 2-D array with ``n ≥ 2``, is not unitary
        within ``atol``, or ``topology`` is unknown.
    TypeError
        If ``u`` is not numeric.
    """
    _check_topology(topology)
    if not (
        isinstance(atol, int | float | np.integer | np.floating) and np.isfinite(atol) and atol >= 0
    ):
        raise ValueError(f"atol={atol!r} must be a finite number >= 0")
    w = _as_square(u, name="u")
    err = float(np.max(np.abs(w @ w.conj().T - np.eye(w.shape[0]))))
    if not err <= atol:
        raise ValueError(
            f"u is not unitary within atol={atol:g}: max|u u† − I| = {err:.3g}; "
            "use svd_layers(u) to program an arbitrary (non-unitary) matrix"
        )
    n = w.shape[0]
    if topology == "clements":
        mesh = Mesh.clements(n)
        layout = _clements(w)
    else:
        mesh = Mesh.reck(n)
        layout = _reck(w)
    return mesh, _phases_for(mesh, layout)


def svd_layers(m: ArrayLike, *, topology: Topology = "clements") -> SVDLayers:
    """Program an arbitrary square matrix as ``scale · U · diag(sigma) · V†``.

    Parameters
    ----------
    m
        ``(n, n)`` real or complex matrix, ``n ≥ 2``, finite and not all zero.
        Non-square matrices are rejected (embed them in a square one by zero
        padding yourself if needed).
    topology
        Topology of both meshes, as in :func:`decompose`.

    Returns
    -------
    SVDLayers
        With ``scale * layers.matrix() ≈ m`` (to round-off relative to ``scale``).

    Raises
    ------
    ValueError
        If ``m`` is not a finite square 2-D array with ``n ≥ 2``, is all zero, or
        ``topology`` is unknown.
    TypeError
        If ``m`` is not numeric.
    """
    _check_topology(topology)
    a = _as_square(m, name="m")
    left, s, right_h = np.linalg.svd(a)
    scale = float(np.max(s))
    if not scale > 0:
        raise ValueError("m is the zero matrix; it has no SVD layers (all singular values are 0)")
    sigma = np.clip(s / scale, 0.0, 1.0)
    v_mesh, v_phases = decompose(right_h, topology=topology)
    u_mesh, u_phases = decompose(left, topology=topology)
    return SVDLayers(
        v_mesh=v_mesh,
        v_phases=v_phases,
        sigma=sigma,
        scale=scale,
        u_mesh=u_mesh,
        u_phases=u_phases,
    )


# --------------------------------------------------------------------------- helpers


def fidelity(realized: ArrayLike, target: ArrayLike) -> Array:
    """How well a realized transfer matrix reproduces a target, up to phase and loss.

    ``F = |Tr(U†W)|² / (Tr(U†U) · Tr(W†W))`` for target ``U`` and realized ``W``: the
    squared cosine between the two as vectors of ``n²`` complex entries. For a unitary
    target ``Tr(U†U) = n``: the normalized matrix fidelity of mesh error studies,
    ``|Tr(U†W)|² / (n · Tr(W†W))``.

    ``F = 1`` exactly when ``W = c·U`` for some complex ``c ≠ 0``: a global phase and a
    uniform loss (the same on every path) cost nothing; an error that is not uniform
    does. ``0 ≤ F ≤ 1`` (Cauchy–Schwarz). For small independent phase errors of std
    σ, ``1 − F`` grows as σ²; compare meshes at the same σ.

    Parameters
    ----------
    realized
        ``W``, complex, shape ``(..., n, n)``: e.g. ``mesh.matrix(phases, chip)``, or
        a stack of them (one per noise draw or chip).
    target
        ``U``, complex, shape ``(n, n)`` or ``(..., n, n)`` broadcasting against
        ``realized``; any nonzero matrix (unitary or not).

    Returns
    -------
    numpy.ndarray
        ``F``, float64, the broadcast leading shape (a 0-d array for two matrices;
        ``float(...)`` it for a number).

    Raises
    ------
    TypeError
        If either does not hold numbers.
    ValueError
        If either is not a finite stack of square matrices, their shapes do not
        broadcast, or a matrix is zero (it has no direction).
    """
    w, u = (_as_stack(x, name) for x, name in ((realized, "realized"), (target, "target")))
    if w.shape[-1] != u.shape[-1]:
        raise ValueError(
            f"realized is {w.shape[-2]}×{w.shape[-1]} but target is {u.shape[-2]}×"
            f"{u.shape[-1]}; they must be matrices of the same size"
        )
    try:
        np.broadcast_shapes(w.shape[:-2], u.shape[:-2])
    except ValueError:
        raise ValueError(
            f"realized has leading axes {w.shape[:-2]} and target {u.shape[:-2]}; they "
            "must broadcast"
        ) from None
    norms = {}
    for name, m in (("realized", w), ("target", u)):
        norms[name] = np.sum(np.abs(m) ** 2, axis=(-2, -1))
        if np.any(norms[name] == 0):
            raise ValueError(f"{name} holds a zero matrix: it has no direction to compare")
    overlap = np.sum(np.conj(u) * w, axis=(-2, -1))  # Tr(U†W)
    f = np.abs(overlap) ** 2 / (norms["target"] * norms["realized"])
    return np.minimum(f, 1.0)  # rounding can overshoot 1 by an ulp


def _as_stack(x: ArrayLike, name: str) -> Array:
    """``x`` as a finite complex128 stack of square matrices ``(..., n, n)``."""
    a = np.asarray(x)
    if not np.issubdtype(a.dtype, np.number):
        raise TypeError(f"{name} must be a real or complex numeric array, got dtype {a.dtype}")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name} must be square matrices (..., n, n); got shape {a.shape}")
    check_finite(a, name)
    return np.asarray(a, dtype=np.complex128)


def _check_topology(topology: object) -> None:
    check_choice(topology, "topology", TOPOLOGIES)


def _as_square(x: ArrayLike, *, name: str) -> Array:
    """``x`` as a finite ``(n, n)`` complex128 array with ``n ≥ 2`` (a copy)."""
    a = np.asarray(x)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise TypeError(f"{name} must be a real or complex numeric array, got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(
            f"{name} must be a square 2-D array of shape (n, n), got shape {a.shape}"
            + ("; non-square matrices are not supported" if a.ndim == 2 else "")
        )
    if a.shape[0] < 2:
        raise ValueError(f"{name} must have n_ports >= 2, got shape {a.shape}")
    check_finite(a, name)
    return np.array(a, dtype=np.complex128)


def _null_from_right(a: complex, b: complex) -> tuple[float, float]:
    """``(θ, φ)`` with ``[a, b] · T(θ, φ)⁻¹ = [0, ·]``.

    Needs ``a e^{−iφ} sin(θ/2) + b cos(θ/2) = 0``.
    """
    theta = 2.0 * np.arctan2(abs(b), abs(a))
    phi = np.angle(a) - np.angle(b) + np.pi
    return float(theta), float(phi)


def _null_from_left(a: complex, b: complex) -> tuple[float, float]:
    """``(θ, φ)`` with ``T(θ, φ) · [a, b]ᵀ = [·, 0]ᵀ``.

    Needs ``e^{iφ} a cos(θ/2) − b sin(θ/2) = 0``.
    """
    theta = 2.0 * np.arctan2(abs(a), abs(b))
    phi = np.angle(b) - np.angle(a)
    return float(theta), float(phi)


def _clements(u: Array) -> _Layout:
    """Clements decomposition of the unitary ``u`` (``(n, n)`` complex, overwritten)."""
    n = u.shape[0]
    w = u
    column: list[int] = []
    top: list[int] = []
    theta: list[float] = []
    phi: list[float] = []
    left: list[tuple[int, int, float, float]] = []  # (column, top, θ, φ) in nulling order
    for i in range(n - 1):
        for j in range(i + 1):
            if i % 2 == 0:  # null w[n-1-j, i-j] with T⁻¹ on columns (i-j, i-j+1)
                m = i - j
                th, ph = _null_from_right(w[n - 1 - j, m], w[n - 1 - j, m + 1])
                w[:, m : m + 2] = w[:, m : m + 2] @ scalar_mzi(th, ph).conj().T
                column.append(j)
                top.append(m)
                theta.append(th)
                phi.append(ph)
            else:  # null w[n-1-i+j, j] with T on rows (n-2-i+j, n-1-i+j)
                m = n - 2 - i + j
                th, ph = _null_from_left(w[m, j], w[m + 1, j])
                w[m : m + 2, :] = scalar_mzi(th, ph) @ w[m : m + 2, :]
                left.append((n - 1 - j, m, th, ph))
    # Now w = L·u·R is diagonal and u = L_1⁻¹ ⋯ L_K⁻¹ · D · R⁻¹. Push D to the output
    # through L_K⁻¹ first: T(θ, φ)⁻¹ · diag(e^{iα}, e^{iβ}) = D' · T(θ, α − β).
    out = np.angle(np.diag(w)).astype(np.float64)
    for c, m, th, ph in reversed(left):
        alpha, beta = out[m], out[m + 1]
        column.append(c)
        top.append(m)
        theta.append(th)
        phi.append(alpha - beta)
        out[m] = np.mod(beta - ph - th + np.pi, TWO_PI)  # mod keeps round-off at O(eps)
        out[m + 1] = np.mod(beta - th + np.pi, TWO_PI)
    return _Layout(
        column=np.asarray(column),
        top=np.asarray(top),
        theta_rad=np.asarray(theta),
        phi_rad=np.asarray(phi),
        out_rad=out,
    )


def _reck(u: Array) -> _Layout:
    """Reck decomposition of the unitary ``u`` (``(n, n)`` complex, overwritten)."""
    n = u.shape[0]
    w = u
    column: list[int] = []
    top: list[int] = []
    theta: list[float] = []
    phi: list[float] = []
    for k in range(n - 1):  # chain k nulls row r = n-1-k in columns 0 … r-1
        r = n - 1 - k
        for t in range(r):
            th, ph = _null_from_right(w[r, t], w[r, t + 1])
            w[:, t : t + 2] = w[:, t : t + 2] @ scalar_mzi(th, ph).conj().T
            column.append(t + 2 * k)
            top.append(t)
            theta.append(th)
            phi.append(ph)
    return _Layout(
        column=np.asarray(column),
        top=np.asarray(top),
        theta_rad=np.asarray(theta),
        phi_rad=np.asarray(phi),
        out_rad=np.angle(np.diag(w)).astype(np.float64),
    )


def _phases_for(mesh: Mesh, layout: _Layout) -> Phases:
    """Order ``layout`` by the mesh's own (column, top) list and wrap into ``[0, 2π)``."""
    index = {
        (int(c), int(t)): k for k, (c, t) in enumerate(zip(layout.column, layout.top, strict=True))
    }
    mesh_positions = list(zip(np.asarray(mesh.column), np.asarray(mesh.top), strict=True))
    order = [index.get((int(c), int(t)), -1) for c, t in mesh_positions]
    if len(order) != len(index) or -1 in order:  # pragma: no cover - layout mismatch is a bug
        raise RuntimeError(
            f"internal error: decomposition layout does not match {type(mesh).__name__} layout"
        )
    idx = np.asarray(order, dtype=np.intp)
    return Phases(
        theta_rad=wrap_rad(layout.theta_rad[idx]),
        phi_rad=wrap_rad(layout.phi_rad[idx]),
        out_rad=wrap_rad(layout.out_rad),
    )
