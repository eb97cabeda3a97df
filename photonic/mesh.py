"""MZI meshes: layouts, propagation, the composed matrix and exact phase gradients.

A :class:`Mesh` is a layout — which MZI sits in which column on which pair of
ports — and :class:`Phases` are the settings of its phase shifters. Everything
else is a pure function of ``(mesh, phases, x, chip)``; the mesh holds no state
between calls.

Conventions (DESIGN.md §4.1–4.3)
--------------------------------
* Fields are batch first, ``x`` of shape ``(n_samples, n_ports)`` complex; the
  mesh matrix ``W`` acts on column vectors, so ``y = x @ W.T``.
* MZI ``k`` acts on ports ``top[k]`` and ``top[k] + 1`` with
  ``T = B₂·D(θ)·B₁·D(φ)`` (:mod:`photonic.mzi`); MZIs are ordered by column, then
  top. After the last column every port ``p`` gets ``e^{i·out[p]}``.
* Clements (rectangular): columns ``c = 0 … N−1``, column ``c`` holds tops
  ``c%2, c%2+2, … ≤ N−2``. Reck (triangular): columns ``c = 0 … 2N−4``, column ``c``
  holds tops ``t ≡ c (mod 2)`` with ``t ≤ c`` and ``t ≤ 2N−4−c``.
* Adjoint signal at the output ``δ = ∂L/∂Re y − i ∂L/∂Im y``; it travels back with
  ``Wᵀ`` (reciprocity). For a phase shifter with forward field ``a`` and adjoint
  field ``â`` at its plane, ``dL/dphase = −Im(a·â)`` summed over the batch.

Speed (DESIGN.md §4.3)
----------------------
``forward`` composes ``W`` column by column on an identity (O(N³), one batched
2×2 product per column) and applies it with one matmul. ``phase_gradients`` carries
the batch correlation ``M = Σ_b a_b â_bᵀ`` through the mesh as ``M ← T M T⁻¹``,
starting from ``M₀ = Xᵀ Â₀`` — O(N³) independent of the batch. A phase screen leaves
the diagonal of ``M`` unchanged, so the gradient of every shifter is read from the
2×2 diagonal block of ``M`` at its MZI's input. Given the outputs ``y`` of the
forward pass, :meth:`Transfer.phase_gradients_from_outputs` starts instead from
``Yᵀ Δ`` at the output plane (no N×N×N product) and sweeps back. The per-sample path
(``method="per_sample"``) propagates every field explicitly; it is the reference in
the tests and the path that per-sample phases (per-pass noise) need.
"""

from __future__ import annotations

import numbers
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from digital.validation import (
    check_choice,
    check_finite,
    check_generator,
    check_not_overflowed,
    check_positive_int,
)
from photonic import kernels
from photonic.constants import TWO_PI
from photonic.mzi import (
    inverse_2x2,
    phasor,
    unchecked_mzi_halves,
    unchecked_mzi_matrices,
)

if TYPE_CHECKING:
    from photonic.imperfections import Chip

Array = NDArray[Any]
Topology = Literal["clements", "reck"]
Method = Literal["auto", "matmul", "per_sample"]
GradMethod = Literal["auto", "correlation", "per_sample"]
Init = Literal["haar", "uniform"]
#: A tap detector for :meth:`Mesh.tap_sums`: the complex fields at some taps,
#: ``(n_taps, n_samples)`` — a read-only view with any strides — to each tap's
#: reading summed over the samples, ``(n_taps,)`` (stored as float64).
TapRead = Callable[[NDArray[Any]], NDArray[Any]]
TOPOLOGIES: tuple[str, ...] = get_args(Topology)
#: Largest mesh :meth:`Mesh.clements` and :meth:`Mesh.reck` build. N = 4096 already holds
#: 8.4 M MZIs and a 268 MB transfer matrix; a larger one would fill a workstation's
#: memory before its first pass (N = 100 000 would hold 5·10⁹ MZIs).
MAX_PORTS = 4096
#: Splitting error and loss of an ideal chip (``chip=None``).
_NO_ERROR = np.zeros(())


@dataclass(frozen=True, eq=False)
class Phases:
    """Settings of every phase shifter of a mesh, in radians.

    Each field is an array with at least the last axis: a scalar is refused
    (``ValueError`` naming the field), as are NaN, infinite and non-real values.
    Leading axes (e.g. one set per sample, for per-pass noise) are allowed where a
    function says so. ``==`` compares values exactly (:meth:`same_values`); like
    NumPy arrays, phases are not hashable.

    Attributes
    ----------
    theta_rad
        Internal phases, ``(..., n_mzis)``.
    phi_rad
        External (input-side) phases, ``(..., n_mzis)``.
    out_rad
        Output phase column, ``(..., n_ports)``.
    """

    __hash__ = None  # type: ignore[assignment]  # mutable arrays: no stable hash

    theta_rad: Array
    phi_rad: Array
    out_rad: Array

    def __post_init__(self) -> None:
        for name in ("theta_rad", "phi_rad", "out_rad"):
            value = getattr(self, name)
            if type(value) is np.ndarray and value.dtype == np.float64:
                arr = value  # what the two checks below would return, at a fraction of the cost
            else:
                if np.iscomplexobj(value):
                    raise ValueError(f"{name} must be real (phases in rad); got complex values")
                arr = _real_array(value, name, "(phases in rad)")
            if arr.ndim == 0:
                per = "port, (n_ports,)" if name == "out_rad" else "MZI, (n_mzis,)"
                raise ValueError(
                    f"{name}={reprlib.repr(value)} is a scalar; it must be an array of one "
                    f"phase per {per}, with leading axes only where a function allows them"
                )
            check_finite(arr, name)
            object.__setattr__(self, name, arr)
        if self.theta_rad.shape != self.phi_rad.shape:
            raise ValueError(
                f"theta_rad has shape {self.theta_rad.shape} but phi_rad has "
                f"{self.phi_rad.shape}; they must match"
            )
        if self.out_rad.shape[:-1] != self.theta_rad.shape[:-1]:
            raise ValueError(
                f"out_rad has shape {self.out_rad.shape} but theta_rad has "
                f"{self.theta_rad.shape}; their leading axes must match"
            )

    @classmethod
    def _unchecked(cls, theta_rad: Array, phi_rad: Array, out_rad: Array) -> Phases:
        """Phases of float64 arrays that the caller has just checked (finite, shapes
        that fit), built without checking them again: the training step builds three
        per step, and the checks took half of each one's 16 µs (N = 64)."""
        phases = object.__new__(cls)
        for name, value in (("theta_rad", theta_rad), ("phi_rad", phi_rad), ("out_rad", out_rad)):
            object.__setattr__(phases, name, value)
        return phases

    def to_vector(self) -> Array:
        """All phases in one vector (1-D phases only).

        Returns
        -------
        numpy.ndarray
            ``[θ…, φ…, out…]``, ``(2·n_mzis + n_ports,)``, rad.
        """
        return np.concatenate([self.theta_rad, self.phi_rad, self.out_rad])

    @classmethod
    def from_vector(cls, vector: Array, n_mzis: int) -> Phases:
        """Inverse of :meth:`to_vector`: ``2·n_mzis`` MZI phases, then the output phases.

        Parameters
        ----------
        vector
            1-D real phases in rad, ``[θ (n_mzis), φ (n_mzis), out (n_ports)]``; longer
            than ``2·n_mzis`` (every element after the MZI phases is an output phase).
        n_mzis
            Number of MZIs, an int > 0.

        Returns
        -------
        Phases
            ``theta_rad, phi_rad (n_mzis,)``, ``out_rad (len(vector) − 2·n_mzis,)``;
            views into ``vector`` when it is already float64 (no copy).

        Raises
        ------
        TypeError
            If ``vector`` does not hold real numbers.
        ValueError
            If ``n_mzis`` is not an int > 0, or ``vector`` is not 1-D, too short or not
            finite.
        """
        n_mzis = check_positive_int(n_mzis, "n_mzis")
        v = _real_array(vector, "vector", "(phases in rad)")
        check_finite(v, "vector")
        if v.ndim != 1 or v.size <= 2 * n_mzis:
            raise ValueError(
                f"vector of shape {v.shape} cannot hold the phases of {n_mzis} MZIs: it must "
                f"be 1-D, 2·n_mzis = {2 * n_mzis} MZI phases followed by the output phases"
            )
        # float64, 1-D and finite, checked above: the three slices are valid Phases
        return cls._unchecked(v[:n_mzis], v[n_mzis : 2 * n_mzis], v[2 * n_mzis :])

    def same_values(self, other: Phases) -> bool:
        """Whether ``other`` holds exactly these phases (values, not identity).

        Parameters
        ----------
        other
            Phases to compare with.

        Returns
        -------
        bool
        """
        return all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in ("theta_rad", "phi_rad", "out_rad")
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Phases):
            return NotImplemented
        return self.same_values(other)

    def copy(self) -> Phases:
        """The same phases in new arrays.

        Returns
        -------
        Phases
        """
        return Phases(self.theta_rad.copy(), self.phi_rad.copy(), self.out_rad.copy())

    def __getitem__(self, index: Any) -> Phases:
        """The phase sets at ``index`` of the leading axes, e.g. ``phases[k]``: the
        ``k``-th of the per-pass sets that :func:`~photonic.imperfections.phase_noise`
        draws, for :meth:`Mesh.matrix`.

        Parameters
        ----------
        index
            An int, slice or integer/boolean array for the first leading axis, or a
            tuple of them, one per leading axis at most (the phase axis itself cannot
            be indexed).

        Returns
        -------
        Phases
            ``theta_rad[index]``, ``phi_rad[index]``, ``out_rad[index]`` (NumPy
            indexing: views for ints and slices).

        Raises
        ------
        TypeError
            If these phases have no leading axis, or ``index`` reaches the phase axis
            (or holds ``...`` or ``None``).
        IndexError
            If ``index`` is out of range.
        """
        n_lead = self.theta_rad.ndim - 1
        parts = index if isinstance(index, tuple) else (index,)
        # axes each part consumes: a boolean mask as many as it has, anything else one
        used = sum(np.ndim(p) if np.asarray(p).dtype == bool else 1 for p in parts)
        if n_lead == 0 or used > n_lead or any(p is Ellipsis or p is None for p in parts):
            raise TypeError(
                f"phases[{reprlib.repr(index)}]: only leading axes can be indexed, and these "
                f"phases have {n_lead} (theta_rad has shape {self.theta_rad.shape})"
            )
        return Phases(self.theta_rad[index], self.phi_rad[index], self.out_rad[index])

    def __add__(self, other: Phases) -> Phases:
        if not isinstance(other, Phases):
            return NotImplemented  # Python's TypeError names both operand types
        for name in ("theta_rad", "phi_rad", "out_rad"):
            a, b = getattr(self, name).shape, getattr(other, name).shape
            try:
                np.broadcast_shapes(a, b)
            except ValueError:
                raise ValueError(
                    f"cannot add phases with {name} of shape {a} and {b}: they belong to "
                    "different meshes"
                ) from None
        return Phases(
            self.theta_rad + other.theta_rad,
            self.phi_rad + other.phi_rad,
            self.out_rad + other.out_rad,
        )


@dataclass(frozen=True)
class TapFields:
    """Fields at every phase shifter of a mesh during one pass, one row per sample.

    A forward and an adjoint pass give fields at the same planes, so
    ``dL/dphase = −Im Σ_b a·â`` holds entry by entry.

    Attributes
    ----------
    theta
        Field on the top arm between the couplers of every MZI (the θ shifter),
        ``(n_samples, n_mzis)``.
    phi
        Field on the top arm at the input of every MZI (the φ shifter),
        ``(n_samples, n_mzis)``.
    out
        Field at every output phase shifter, ``(n_samples, n_ports)``.
    port
        Field leaving the mesh: at the outputs for a forward pass, at the inputs for
        an adjoint pass, ``(n_samples, n_ports)``.
    """

    theta: Array
    phi: Array
    out: Array
    port: Array


@dataclass(frozen=True)
class TapPowers:
    """Powers ``|E|²`` at every phase shifter during one pass, one row per sample.

    The planes of :class:`TapFields`, as a tap detector sees them (before its noise).

    Attributes
    ----------
    theta, phi
        ``(n_samples, n_mzis)`` float, power units.
    out
        ``(n_samples, n_ports)`` float.
    port
        The complex field leaving the mesh, ``(n_samples, n_ports)`` (as in
        :class:`TapFields`: outputs for a forward pass, inputs for an adjoint one).
    """

    theta: Array
    phi: Array
    out: Array
    port: Array


@dataclass(frozen=True)
class TapSums:
    """Tap readings of one pass summed over the batch, read column by column.

    What :class:`TapPowers` gives, summed over the samples (through a detector
    model, if one is given), without holding every tap of every sample at once:
    :meth:`Mesh.tap_sums` reads each column's taps as the pass reaches it.

    Attributes
    ----------
    theta, phi
        ``(n_mzis,)`` float: batch-summed readings at the θ and φ shifters.
    out
        ``(n_ports,)`` float: batch-summed readings at the output shifters.
    port
        The complex field leaving the mesh, ``(n_samples, n_ports)`` (as in
        :class:`TapPowers`).
    """

    theta: Array
    phi: Array
    out: Array
    port: Array


@dataclass(frozen=True)
class Mesh:
    """Layout of an N-port MZI mesh. Build with :meth:`clements` or :meth:`reck`.

    ``Mesh(n_ports, topology)`` is the same mesh: the layout is a function of the two
    (DESIGN.md §4.1), so no other layout can be built, and two meshes are equal (and
    hash alike) when their port count and topology are.

    The ``chip`` argument of every method applies the device's *static* errors only —
    coupler splitting errors, insertion loss and phase offsets — so a call is
    deterministic. The phases are used as given: :func:`photonic.imperfections.program`
    turns requested phases into held ones (DAC, crosstalk), and per-pass phase noise,
    I/O errors and detector noise are drawn by the code that models a pass on the
    device (:mod:`photonic.network`, :mod:`photonic.insitu`).

    Attributes
    ----------
    n_ports
        Number of optical ports N, 2 … :data:`MAX_PORTS`.
    topology
        ``"clements"`` (rectangular) or ``"reck"`` (triangular).
    column, top
        Column index and top port of every MZI, read-only int arrays ``(n_mzis,)``.
    """

    n_ports: int
    topology: Topology
    column: NDArray[np.int64] = field(init=False, repr=False, compare=False)
    top: NDArray[np.int64] = field(init=False, repr=False, compare=False)
    # (first MZI, one past last MZI, top port of the first) of every column.
    _columns: tuple[tuple[int, int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = _check_n_ports(self.n_ports)
        check_choice(self.topology, "topology", TOPOLOGIES)
        column, top = _layout(n, self.topology)
        column.setflags(write=False)
        top.setflags(write=False)
        starts = [int(i) for i in np.flatnonzero(np.diff(column, prepend=-1))]
        stops = [*starts[1:], column.size]
        cols = tuple((int(a), int(b), int(top[a])) for a, b in zip(starts, stops, strict=True))
        for name, value in (("n_ports", n), ("column", column), ("top", top), ("_columns", cols)):
            object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple[type[Mesh], tuple[int, str]]:
        # pickle and copy rebuild from (n_ports, topology): small, and read-only again
        return (Mesh, (self.n_ports, self.topology))

    # -- construction ---------------------------------------------------------------

    @classmethod
    def clements(cls, n_ports: int) -> Mesh:
        """Rectangular mesh (Clements et al., Optica 2016): N columns, N(N−1)/2 MZIs.

        (N = 2 has one column: its second would be empty.)

        Parameters
        ----------
        n_ports
            N, 2 … :data:`MAX_PORTS`.

        Returns
        -------
        Mesh
        """
        return cls(n_ports, "clements")

    @classmethod
    def reck(cls, n_ports: int) -> Mesh:
        """Triangular mesh (Reck et al., PRL 1994): 2N−3 columns, N(N−1)/2 MZIs.

        Parameters
        ----------
        n_ports
            N, 2 … :data:`MAX_PORTS`.

        Returns
        -------
        Mesh
        """
        return cls(n_ports, "reck")

    @property
    def n_mzis(self) -> int:
        """Number of MZIs, N(N−1)/2 for both topologies."""
        return int(self.column.size)

    @property
    def n_columns(self) -> int:
        """Number of MZI columns (the output phase column not counted)."""
        return len(self._columns)

    @property
    def n_phases(self) -> int:
        """Number of phase shifters: 2 per MZI plus the output column."""
        return 2 * self.n_mzis + self.n_ports

    def __repr__(self) -> str:
        return f"Mesh.{self.topology}({self.n_ports})"

    # -- phases ---------------------------------------------------------------------

    def random_phases(self, rng: np.random.Generator, *, init: Init = "haar") -> Phases:
        """Random phases for this mesh.

        Parameters
        ----------
        rng
            The only source of randomness.
        init
            ``"haar"``: the phases of a Haar-random unitary (drawn with ``rng`` and
            decomposed onto this layout, so ``matrix`` is exactly Haar-distributed);
            ``"uniform"``: every phase uniform in [0, 2π) (not Haar: biased towards
            near-identity transport in deep meshes).

        Returns
        -------
        Phases
            ``theta_rad, phi_rad (n_mzis,)``, ``out_rad (n_ports,)``, in [0, 2π).
        """
        check_choice(init, "init", ("haar", "uniform"))
        check_generator(rng)
        if init == "uniform":
            return Phases(
                rng.uniform(0, TWO_PI, self.n_mzis),
                rng.uniform(0, TWO_PI, self.n_mzis),
                rng.uniform(0, TWO_PI, self.n_ports),
            )
        from photonic.decompose import decompose  # decompose builds meshes: import late

        _, phases = decompose(haar_unitary(self.n_ports, rng), topology=self.topology)
        return phases

    def check_phases(
        self, phases: Phases, *, leading: Literal["none", "per_sample"] = "none"
    ) -> None:
        """Raise ``ValueError`` unless ``phases`` fit this mesh.

        With ``leading="per_sample"`` a single leading axis (one phase set per sample)
        is allowed; anything but a :class:`Phases` is a ``TypeError``.

        Parameters
        ----------
        phases
            ``theta_rad, phi_rad (n_mzis,)``, ``out_rad (n_ports,)``, rad; with
            ``leading="per_sample"``, also ``(n_samples, n_mzis)`` and
            ``(n_samples, n_ports)``.
        leading
            ``"none"``: one phase set; ``"per_sample"``: one leading axis allowed (its
            length is not checked here).
        """
        _check_is_phases(phases)
        check_choice(leading, "leading", ("none", "per_sample"))
        lead = phases.theta_rad.shape[:-1]
        if len(lead) > (1 if leading == "per_sample" else 0):
            raise ValueError(
                f"phases have leading axes {lead}; allowed: "
                + ("one (n_samples,)" if leading == "per_sample" else "none")
                + " (phases[k] is the k-th set)"
            )
        if phases.theta_rad.shape[-1:] != (self.n_mzis,):
            raise ValueError(
                f"theta_rad/phi_rad have length {phases.theta_rad.shape[-1:]}; "
                f"{self!r} has {self.n_mzis} MZIs"
            )
        if phases.out_rad.shape[-1:] != (self.n_ports,):
            raise ValueError(
                f"out_rad has length {phases.out_rad.shape[-1:]}; {self!r} has {self.n_ports} ports"
            )
        for name in ("theta_rad", "phi_rad", "out_rad"):  # again: its arrays may have
            values = getattr(phases, name)  # been edited in place since it was built
            if not np.isfinite(values).all():
                bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
                raise ValueError(f"{name} holds {bad} NaN or infinite value(s)")

    # -- physics --------------------------------------------------------------------

    def matrix(self, phases: Phases, chip: Chip | None = None) -> Array:
        """The transfer matrix ``W`` (output column = ``W @`` input column).

        Parameters
        ----------
        phases
            One phase set (no leading axes).
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.

        Returns
        -------
        numpy.ndarray
            ``(n_ports, n_ports)`` complex, the caller's own (writable) array; unitary
            for a lossless chip.
        """
        return self.transfer(phases, chip).matrix.copy()

    def transfer(self, phases: Phases, chip: Chip | None = None) -> Transfer:
        """Everything one phase setting of this chip does, computed once.

        A training step needs the mesh matrix for the forward pass, the adjoint and the
        phase gradients; computing a :class:`Transfer` once and calling its methods
        composes the mesh once instead of three times.

        Parameters
        ----------
        phases
            One phase set (no leading axes).
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.

        Returns
        -------
        Transfer
        """
        self.check_phases(phases)
        s1, s2, t = self._matrices(phases, chip)
        screen = phasor(self._out(phases, chip))
        w = kernels.compose(self._columns, t, self.n_ports, screen=screen)
        held = Phases._unchecked(  # a copy of phases that check_phases has just passed
            phases.theta_rad.copy(), phases.phi_rad.copy(), phases.out_rad.copy()
        )
        arrays = (s1, s2, t, screen, w, held.theta_rad, held.phi_rad, held.out_rad)
        for arr in arrays:  # a value: neither its results nor made_for() can go stale
            arr.flags.writeable = False
        return Transfer(self, held, chip, s1, s2, t, screen, w)

    def forward(
        self, phases: Phases, x: Array, chip: Chip | None = None, *, method: Method = "auto"
    ) -> Array:
        """Send a batch of fields through the mesh.

        Parameters
        ----------
        phases
            One phase set, or one per sample (leading axis ``n_samples``).
        x
            Input fields ``(n_samples, n_ports)`` complex.
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.
        method
            ``"matmul"``: compose ``W`` once, one matmul; ``"per_sample"``: propagate
            every field column by column; ``"auto"``: per-sample exactly when the
            phases are per sample.

        Returns
        -------
        numpy.ndarray
            Output fields ``(n_samples, n_ports)`` complex.

        Raises
        ------
        ValueError
            If ``x`` does not fit the mesh or is not finite, or is so large (near
            float64's limit) that the output fields overflow.
        """
        return self._propagate(phases, x, chip, method, direction="forward")

    def adjoint(
        self, phases: Phases, delta: Array, chip: Chip | None = None, *, method: Method = "auto"
    ) -> Array:
        """Adjoint field leaving the input ports, ``x̂ = Wᵀ δ`` per sample.

        Parameters
        ----------
        phases
            One phase set, or one per sample (leading axis ``n_samples``).
        delta
            Adjoint signal at the outputs ``(n_samples, n_ports)``.
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.
        method
            As for :meth:`forward`.

        Returns
        -------
        numpy.ndarray
            ``(n_samples, n_ports)``; the gradient of the loss with respect to the
            input fields, in the convention ``∂L/∂Re x − i ∂L/∂Im x``.

        Raises
        ------
        ValueError
            If ``delta`` does not fit the mesh or is not finite, or is so large (near
            float64's limit) that the fields leaving the inputs overflow.
        """
        return self._propagate(phases, delta, chip, method, direction="adjoint")

    def _propagate(
        self,
        phases: Phases,
        field_: Array,
        chip: Chip | None,
        method: Method,
        *,
        direction: Literal["forward", "adjoint"],
    ) -> Array:
        """:meth:`forward` or :meth:`adjoint`: the fields leaving the far end, with an
        overflow refused by the input's name."""
        name = "x" if direction == "forward" else "delta"
        field_ = self.check_fields(field_, name)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
            if self._resolve(method, phases, field_.shape[0]) == "matmul":
                transfer = self.transfer(phases, chip)
                out = transfer.forward(field_) if name == "x" else transfer.adjoint(field_)
            else:
                out = self._pass(phases, field_, chip, direction=direction, record="none")[3]
        what = "the output fields" if name == "x" else "the fields leaving the inputs"
        check_not_overflowed(out, field_, name, what)
        return out

    def phase_gradients(
        self,
        phases: Phases,
        x: Array,
        delta: Array,
        chip: Chip | None = None,
        *,
        method: GradMethod = "auto",
    ) -> Phases:
        """Exact ``dL/dphase`` of every phase shifter, summed over the batch.

        Parameters
        ----------
        phases
            One phase set, or one per sample (then only ``"per_sample"`` applies).
        x
            Input fields of the forward pass, ``(n_samples, n_ports)``.
        delta
            Adjoint signal at the outputs, ``(n_samples, n_ports)``:
            ``∂L/∂Re y − i ∂L/∂Im y``.
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.
        method
            ``"correlation"``: the O(N³) sweep of the batch correlation;
            ``"per_sample"``: explicit fields; ``"auto"`` picks the first unless the
            phases are per sample.

        Returns
        -------
        Phases
            Gradients, ``theta_rad, phi_rad (n_mzis,)``, ``out_rad (n_ports,)``, in
            loss units per radian.

        Raises
        ------
        ValueError
            If ``x`` or ``delta`` has the wrong shape or a NaN or infinite entry, or if
            they are so large that the gradients (linear in each) overflow float64.
        """
        x, delta = self._fields_and_delta(x, "x", delta)
        check_choice(method, "method", ("auto", "correlation", "per_sample"))
        path = {"auto": "auto", "correlation": "matmul", "per_sample": "per_sample"}[method]
        if self._resolve(path, phases, x.shape[0], fast_name="correlation") == "matmul":
            return self.transfer(phases, chip).phase_gradients(x, delta)
        return self._gradients_per_sample(phases, x, delta, chip)

    def tap_fields(self, phases: Phases, x: Array, chip: Chip | None = None) -> TapFields:
        """Forward pass with the field recorded at every phase shifter.

        Parameters
        ----------
        phases
            One phase set, or one per sample (leading axis ``n_samples``).
        x
            Fields injected at the inputs, ``(n_samples, n_ports)``.
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.

        Returns
        -------
        TapFields
            The fields at every shifter and, as ``port``, the output fields.
        """
        return TapFields(*self._pass(phases, x, chip, direction="forward", record="field"))

    def adjoint_tap_fields(
        self, phases: Phases, delta: Array, chip: Chip | None = None
    ) -> TapFields:
        """Adjoint pass: ``delta`` injected at the outputs, travelling back with ``Wᵀ``.

        Returns the adjoint field at every phase shifter (same planes as
        :meth:`tap_fields`) and, as ``port``, the field leaving the inputs ``Wᵀδ``.

        Parameters
        ----------
        phases
            One phase set, or one per sample (leading axis ``n_samples``).
        delta
            Adjoint source injected at the outputs, ``(n_samples, n_ports)``.
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.

        Returns
        -------
        TapFields
            ``theta, phi (n_samples, n_mzis)``, ``out (n_samples, n_ports)`` (a copy of
            ``delta``: the output taps sit where the forward pass reads ``y``) and
            ``port (n_samples, n_ports)``, all complex.
        """
        return TapFields(*self._pass(phases, delta, chip, direction="adjoint", record="field"))

    def tap_powers(self, phases: Phases, x: Array, chip: Chip | None = None) -> TapPowers:
        """Forward pass with the power ``|E|²`` recorded at every phase shifter.

        What :meth:`tap_fields` gives, squared, without keeping the complex fields:
        for tap read-outs (:mod:`photonic.insitu`), where only powers are measured.

        Parameters
        ----------
        phases
            One phase set, or one per sample (leading axis ``n_samples``).
        x
            Fields injected at the inputs, ``(n_samples, n_ports)``.
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.

        Returns
        -------
        TapPowers
            ``theta, phi (n_samples, n_mzis)``, ``out (n_samples, n_ports)`` in power
            units (``|E|²`` of the field units); ``port``: the output field.
        """
        return TapPowers(*self._pass(phases, x, chip, direction="forward", record="power"))

    def adjoint_tap_powers(
        self, phases: Phases, delta: Array, chip: Chip | None = None
    ) -> TapPowers:
        """Adjoint pass with the power recorded at every phase shifter.

        What :meth:`adjoint_tap_fields` gives, squared.

        Parameters
        ----------
        phases
            One phase set, or one per sample (leading axis ``n_samples``).
        delta
            Adjoint source injected at the outputs, ``(n_samples, n_ports)``.
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.

        Returns
        -------
        TapPowers
            Powers at the planes of :meth:`tap_powers`; ``port``: the complex field
            leaving the inputs, ``Wᵀδ``, ``(n_samples, n_ports)``.
        """
        return TapPowers(*self._pass(phases, delta, chip, direction="adjoint", record="power"))

    def tap_sums(
        self,
        phases: Phases,
        injected: Array,
        chip: Chip | None = None,
        *,
        direction: Literal["forward", "adjoint"] = "forward",
        read: TapRead | None = None,
    ) -> TapSums:
        """One pass with every tap read and summed over the batch as the pass goes.

        The readings :meth:`tap_powers` (or :meth:`adjoint_tap_powers`) would give,
        passed through ``read`` and summed over the samples, one column at a time:
        memory O(N·B) instead of O(N²·B), and the taps are read while the column's
        fields are still in cache.

        Parameters
        ----------
        phases
            One phase set, or one per sample (leading axis ``n_samples``).
        injected
            Fields injected at the inputs (``"forward"``: ``x``) or at the outputs
            (``"adjoint"``: ``δ``), ``(n_samples, n_ports)``.
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.
        direction
            ``"forward"`` or ``"adjoint"``.
        read
            The tap detector: complex fields ``(n_taps, n_samples)`` → batch-summed
            readings ``(n_taps,)``. The fields are views into the pass's working
            array (or into ``injected``): ``read`` must not write to them, and must
            accept any strides. It is called for the taps of every column in the
            order the pass reaches them (a detector drawing noise draws it in that
            order), the output taps last (forward) or first (adjoint). ``None``: an
            ideal detector, ``Σ_b |E_b|²``.

        Returns
        -------
        TapSums
        """
        check_choice(direction, "direction", ("forward", "adjoint"))
        _check_read(read)
        return TapSums(
            *self._pass(phases, injected, chip, direction=direction, record="sum", read=read)
        )

    # -- internals ------------------------------------------------------------------

    @property
    def columns(self) -> tuple[tuple[int, int, int], ...]:
        """``(first MZI, stop, top port of the first)`` of every column (see kernels)."""
        return self._columns

    def halves(self, phases: Phases, chip: Chip | None = None) -> tuple[Array, Array]:
        """Per-MZI ``S₁ = B₁D(φ)`` and ``S₂ = B₂D(θ)`` on this chip, ``(..., n_mzis, 2, 2)``.

        ``phases`` may carry one leading axis (one set per sample).

        Parameters
        ----------
        phases
            One phase set, or one per sample (leading axis ``n_samples``).
        chip
            Imperfect device (its static errors only, see :class:`Mesh`), or ``None``.

        Returns
        -------
        (S1, S2)
            Each ``(n_mzis, 2, 2)``, or ``(n_samples, n_mzis, 2, 2)``, complex.

        Raises
        ------
        TypeError
            If ``phases`` is not a :class:`Phases` or ``chip`` not a ``Chip``.
        ValueError
            If ``phases`` or ``chip`` does not fit this mesh.
        """
        self.check_phases(phases, leading="per_sample")
        return self._halves(phases, chip)

    def output_phases(self, phases: Phases, chip: Chip | None = None) -> Array:
        """The output phase column as the chip applies it (offsets included), rad.

        Parameters
        ----------
        phases
            One phase set, or one per sample (leading axis ``n_samples``).
        chip
            Imperfect device (its ``out_offset_rad`` is added), or ``None``.

        Returns
        -------
        numpy.ndarray
            ``(n_ports,)`` or ``(n_samples, n_ports)``, rad, not wrapped; for
            ``chip=None`` it is ``phases.out_rad`` itself, not a copy.

        Raises
        ------
        TypeError
            If ``phases`` is not a :class:`Phases` or ``chip`` not a ``Chip``.
        ValueError
            If ``phases`` or ``chip`` does not fit this mesh.
        """
        self.check_phases(phases, leading="per_sample")
        if chip is not None:
            self.check_chip(chip)
        return self._out(phases, chip)

    def _halves(self, phases: Phases, chip: Chip | None) -> tuple[Array, Array]:
        """Per-MZI ``S₁ = B₁D(φ)`` and ``S₂ = B₂D(θ)``, ``(..., n_mzis, 2, 2)``."""
        return self._halves_at(*self._screens(phases, chip), chip)

    def _matrices(self, phases: Phases, chip: Chip | None) -> tuple[Array, Array, Array]:
        """``S₁``, ``S₂`` and ``T = S₂ S₁`` of every MZI for one phase set, ``(n_mzis, 2, 2)``."""
        return unchecked_mzi_matrices(*self._screens(phases, chip), *_coupler_errors(chip))

    def _couplers(self, chip: Chip | None) -> tuple[Array, Array]:
        """The halves with every shifter at 0 rad: the couplers ``B₁, B₂`` with their loss."""
        zero = np.zeros(self.n_mzis)
        return self._halves_at(zero, zero, chip)

    def _halves_at(
        self, theta_rad: Array, phi_rad: Array, chip: Chip | None
    ) -> tuple[Array, Array]:
        return unchecked_mzi_halves(theta_rad, phi_rad, *_coupler_errors(chip))

    def _screens(self, phases: Phases, chip: Chip | None) -> tuple[Array, Array]:
        """The θ and φ the chip's shifters apply (static offsets included), rad."""
        if chip is None:
            return phases.theta_rad, phases.phi_rad
        self.check_chip(chip)
        return phases.theta_rad + chip.theta_offset_rad, phases.phi_rad + chip.phi_offset_rad

    def _out(self, phases: Phases, chip: Chip | None) -> Array:
        return phases.out_rad if chip is None else phases.out_rad + chip.out_offset_rad

    def check_chip(self, chip: Chip) -> None:
        """Refuse a ``chip`` not made for this mesh.

        Parameters
        ----------
        chip
            The device to check.

        Raises
        ------
        TypeError
            If ``chip`` is not a :class:`~photonic.imperfections.Chip`.
        ValueError
            If its port or MZI count differs, or it was drawn for the other topology.
        """
        from photonic.imperfections import Chip  # imperfections imports this module

        if not isinstance(chip, Chip):
            raise TypeError(
                f"chip is a {type(chip).__name__}; expected a photonic.imperfections.Chip "
                "or None (the ideal device)"
            )
        if chip.n_ports != self.n_ports or chip.n_mzis != self.n_mzis:
            raise ValueError(
                f"chip has {chip.n_ports} ports and {chip.n_mzis} MZIs; "
                f"{self!r} has {self.n_ports} and {self.n_mzis}"
            )
        if chip.topology is not None and chip.topology != self.topology:
            raise ValueError(
                f"chip was drawn for a {chip.topology} mesh; {self!r} is {self.topology}: "
                "its per-MZI errors would land on other MZIs (draw a chip for this mesh)"
            )

    def check_fields(self, x: Array, name: str) -> Array:
        """Fields ``x`` as complex ``(n_samples, n_ports)``; a ``ValueError`` naming
        ``name`` for any other shape or a non-finite entry.

        Parameters
        ----------
        x
            Array-like fields ``(n_samples, n_ports)``, any numeric dtype.
        name
            Parameter name used in the error messages (``"x"``, ``"delta"`` …).

        Returns
        -------
        numpy.ndarray
            ``(n_samples, n_ports)`` complex128; ``x`` itself if it already is one.

        Raises
        ------
        ValueError
            If the shape is not ``(n_samples, n_ports)`` or an entry is NaN or infinite.
        TypeError
            If ``x`` does not hold numbers.
        """
        arr = np.asarray(x)
        if arr.ndim != 2 or arr.shape[1] != self.n_ports:
            raise ValueError(f"{name} must have shape (n_samples, {self.n_ports}); got {arr.shape}")
        if arr.dtype.kind == "O":  # e.g. pandas .values: numbers are fine, None is not
            if not all(isinstance(v, numbers.Number) for v in arr.flat):
                raise TypeError(
                    f"{name} must hold numbers (complex fields); got an object array with "
                    "other values"
                )
            arr = arr.astype(np.complex128)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"{name} must hold numbers (complex fields); got dtype {arr.dtype}")
        check_finite(arr, name)
        return arr.astype(np.complex128, copy=False)

    def _fields_and_delta(self, fields: Array, name: str, delta: Array) -> tuple[Array, Array]:
        """``fields`` (named ``name``) and the adjoint signal ``delta`` of a gradient
        call, each checked by :meth:`check_fields`, and of one shape."""
        fields = self.check_fields(fields, name)
        delta = self.check_fields(delta, "delta")
        if delta.shape != fields.shape:
            raise ValueError(f"delta has shape {delta.shape}; {name} has {fields.shape}")
        return fields, delta

    def _resolve(
        self, method: str, phases: Phases, n_samples: int, *, fast_name: str = "matmul"
    ) -> Literal["matmul", "per_sample"]:
        """Check ``method`` and the phases; choose the path that will run.

        ``fast_name`` is what the caller's own ``method`` calls the fast path, for the
        error message.
        """
        check_choice(method, "method", ("auto", "matmul", "per_sample"))
        _check_is_phases(phases)
        per_sample_phases = phases.theta_rad.ndim == 2
        self.check_phases(phases, leading="per_sample" if per_sample_phases else "none")
        if per_sample_phases:
            if phases.theta_rad.shape[0] != n_samples or phases.out_rad.shape[0] != n_samples:
                raise ValueError(
                    f"per-sample phases have leading axis {phases.theta_rad.shape[0]}; "
                    f"the batch has {n_samples} samples"
                )
            if method == "matmul":
                raise ValueError(
                    f"method={fast_name!r} needs one phase set for the batch; per-sample "
                    "phases need method='per_sample'"
                )
            return "per_sample"
        return "per_sample" if method == "per_sample" else "matmul"

    def _pass(
        self,
        phases: Phases,
        field_: Array,
        chip: Chip | None,
        *,
        direction: Literal["forward", "adjoint"],
        record: Literal["field", "power", "sum", "none"],
        read: TapRead | None = None,
        matrices: tuple[Array, Array, Array] | None = None,
    ) -> tuple[Array, Array, Array, Array]:
        """One pass of a batch through the mesh, recording every phase shifter's tap.

        Returns the ``theta, phi, out, port`` of :class:`TapFields` (``record="field"``)
        or :class:`TapPowers` (``"power"``), or the batch sums of ``read`` applied to
        every column's tap fields (``"sum"``, :class:`TapSums`); ``"none"`` records no
        taps (empty ``theta, phi``) for callers that want ``port`` only. ``field_`` is
        checked here; every returned array is new.

        ``"forward"``: ``field_`` enters at the inputs; ``"adjoint"``: it enters at the
        outputs and travels back through the transposed blocks (``â_before = Sᵀ
        â_after``). The batch is propagated in place in one port-first
        ``(n_ports, n_samples)`` array. With one phase set, one stacked product per
        column of 3×2 rows — the top row of ``S₁`` (forward) or of ``S₂ᵀ`` (adjoint),
        then ``T = S₂S₁`` (or ``Tᵀ``) — gives the θ tap (between the halves) and
        applies the whole MZI; with per-sample phases the chip's couplers (the same
        for every sample) are applied as stacked products and each sample's phase
        screens elementwise, so no 2×2 matrix is formed per sample. Only the tap
        rows are kept — as fields, as powers ``|E|²`` (half the memory, and no
        complex temporaries the size of all taps), or read and summed at once.
        ``matrices``: the ``(S₁, S₂, T)`` of one phase set on this chip, if the caller
        has them (a :class:`Transfer`), so that they are not computed again. With one
        phase set, batch sums and an ideal detector (``record="sum"``, no ``read``) the
        column loop runs compiled (:func:`photonic.kernels.tap_power_pass`).
        """
        field_ = self.check_fields(field_, "x" if direction == "forward" else "delta")
        self._resolve("per_sample", phases, field_.shape[0])
        if phases.theta_rad.ndim == 2:  # per-sample phases: only the screens differ
            t = None
            theta_rad, phi_rad = self._screens(phases, chip)
            s1, s2 = self._couplers(chip)
            screen_phi, screen_theta = (phasor(p.T) for p in (phi_rad, theta_rad))
        elif matrices is not None:
            s1, s2, t = matrices
        else:
            s1, s2, t = self._matrices(phases, chip)
        out_phase = phasor(self._out(phases, chip))
        out_phase = out_phase.T if out_phase.ndim == 2 else out_phase[:, None]
        n = field_.shape[0]
        dtype = np.complex128 if record == "field" else np.float64
        read_rows = _power_sums if read is None else read  # record="sum" only
        if record == "sum":
            keep = _summed(read_rows)
            theta = np.empty(self.n_mzis)
        else:
            keep = {"field": _store_field, "power": _store_power, "none": _store_nothing}[record]
            theta = np.empty((self.n_mzis, n if record != "none" else 0), dtype=dtype)
        phi = np.empty_like(theta)
        buf = np.array(field_.T, dtype=np.complex128, order="C")
        if t is not None and record != "none":
            # one stacked product per column gives the θ tap and the MZI's output:
            # rows (top row of S₁ | T), or (top row of S₂ᵀ | Tᵀ) going back
            if direction == "forward":
                rows3 = np.concatenate([s1[:, :1, :], t], axis=1)
            else:
                rows3 = np.concatenate([s2[:, :, :1].swapaxes(1, 2), t.swapaxes(1, 2)], axis=1)
        # one phase set and an ideal detector: the column loop below, compiled
        compiled = t is not None and record == "sum" and read is None
        if t is not None and record != "none" and not compiled:  # the loop's products
            work = np.empty((self.n_ports // 2, 3, n), dtype=np.complex128)
        if direction == "forward":
            if compiled:
                theta, phi = kernels.tap_power_pass(self._columns, rows3, buf, direction=direction)
            for a, b, lo in () if compiled else self._columns:
                hi = lo + 2 * (b - a)
                keep(phi[a:b], buf[lo:hi:2])
                if t is None:  # S₁ = B₁D(φ), tap, S₂ = B₂D(θ)
                    buf[lo:hi:2] *= screen_phi[a:b]
                    _mix_pairs(buf, s1, a, b, lo)
                    keep(theta[a:b], buf[lo:hi:2])
                    buf[lo:hi:2] *= screen_theta[a:b]
                    _mix_pairs(buf, s2, a, b, lo)
                elif record != "none":
                    keep(theta[a:b], _mix_with_tap(buf, rows3, work, a, b, lo))
                else:
                    _mix_pairs(buf, t, a, b, lo)
            buf *= out_phase
            port = buf.T
            if record == "sum":
                out = np.asarray(read_rows(buf), dtype=np.float64)
            else:
                out = buf.T.copy() if record == "field" else buf.T
        else:
            if record == "sum":
                taps = field_.T.view()
                taps.flags.writeable = False  # the caller's array
                out = np.asarray(read_rows(taps), dtype=np.float64)
            else:
                out = field_.copy() if record == "field" else field_  # powers: squared anew
            buf *= out_phase
            if compiled:
                theta, phi = kernels.tap_power_pass(self._columns, rows3, buf, direction=direction)
            for a, b, lo in () if compiled else reversed(self._columns):
                hi = lo + 2 * (b - a)
                if t is None:  # S₂ᵀ = D(θ)B₂ᵀ, tap, S₁ᵀ = D(φ)B₁ᵀ
                    _mix_pairs(buf, s2, a, b, lo, transpose=True)
                    buf[lo:hi:2] *= screen_theta[a:b]
                    keep(theta[a:b], buf[lo:hi:2])
                    _mix_pairs(buf, s1, a, b, lo, transpose=True)
                    buf[lo:hi:2] *= screen_phi[a:b]
                elif record != "none":
                    keep(theta[a:b], _mix_with_tap(buf, rows3, work, a, b, lo))
                else:
                    _mix_pairs(buf, t, a, b, lo, transpose=True)
                keep(phi[a:b], buf[lo:hi:2])
            port = buf.T
        return theta.T, phi.T, (_power(out) if record == "power" else out), port

    def _gradients_per_sample(
        self, phases: Phases, x: Array, delta: Array, chip: Chip | None
    ) -> Phases:
        fwd = self.tap_fields(phases, x, chip)
        adj = self.adjoint_tap_fields(phases, delta, chip)
        theta, phi, out = (
            -np.imag(np.sum(f * a, axis=0))
            for f, a in ((fwd.theta, adj.theta), (fwd.phi, adj.phi), (fwd.out, adj.out))
        )
        return _gradients(theta, phi, out, x, delta)


@dataclass(frozen=True, eq=False)
class Transfer:
    """One phase setting of one chip, composed: a value, computed by :meth:`Mesh.transfer`.

    Every array it holds is read-only, so what its methods return cannot go stale.

    Attributes
    ----------
    mesh
        The layout.
    phases, chip
        The phase setting (a copy taken when composing) and the device it was
        composed for; see :meth:`made_for`.
    s1, s2
        Per-MZI halves ``S₁ = B₁D(φ)`` and ``S₂ = B₂D(θ)``, ``(n_mzis, 2, 2)``.
    t
        Per-MZI transfer matrices, ``(n_mzis, 2, 2)``.
    out_phasors
        ``e^{i·out}`` of the output phase column as the chip applies it (offsets
        included), ``(n_ports,)``.
    matrix
        The mesh matrix ``W`` (output phases included), ``(n_ports, n_ports)``.
    """

    mesh: Mesh
    phases: Phases
    chip: Chip | None
    s1: Array
    s2: Array
    t: Array
    out_phasors: Array
    matrix: Array

    @property
    def is_lossless(self) -> bool:
        """Whether every MZI matrix is unitary: an ideal chip, or one without loss."""
        return self.chip is None or self.chip.is_lossless

    def made_for(self, phases: Phases, chip: Chip | None) -> bool:
        """Whether this is the transfer of ``phases`` (equal values) on ``chip`` (the same one).

        Parameters
        ----------
        phases
            A phase set, compared by value (:meth:`Phases.same_values`).
        chip
            A device, compared by identity (``None`` matches only ``None``).

        Returns
        -------
        bool
        """
        return chip is self.chip and self.phases.same_values(phases)

    def forward(self, x: Array) -> Array:
        """``y = x Wᵀ``: the output fields of a batch.

        The output is not checked for overflow, which a passive mesh reaches only for
        fields near float64's limit: this is the training step's one product, kept
        bare for speed (:meth:`Mesh.forward` checks it, and :meth:`phase_gradients`
        refuses the non-finite gradients that would follow).

        Parameters
        ----------
        x
            Input fields ``(n_samples, n_ports)``.

        Returns
        -------
        numpy.ndarray
            Output fields ``(n_samples, n_ports)`` complex.
        """
        return self.mesh.check_fields(x, "x") @ self.matrix.T

    def adjoint(self, delta: Array) -> Array:
        """``x̂ = Wᵀ δ`` per sample: ``δ W``, the fields leaving the inputs.

        Not checked for overflow, as :meth:`forward` (:meth:`Mesh.adjoint` checks it).

        Parameters
        ----------
        delta
            Adjoint signal at the outputs ``(n_samples, n_ports)``.

        Returns
        -------
        numpy.ndarray
            ``(n_samples, n_ports)`` complex.
        """
        return self.mesh.check_fields(delta, "delta") @ self.matrix

    def tap_sums(
        self,
        injected: Array,
        *,
        direction: Literal["forward", "adjoint"] = "forward",
        read: TapRead | None = None,
    ) -> TapSums:
        """:meth:`Mesh.tap_sums` for this phase setting and chip (a per-sample pass).

        The same result, with the per-MZI matrices computed when composing rather
        than once more for the pass.

        Parameters
        ----------
        injected
            Fields injected at the inputs (``"forward"``) or at the outputs
            (``"adjoint"``), ``(n_samples, n_ports)``.
        direction
            ``"forward"`` or ``"adjoint"``.
        read
            The tap detector, as for :meth:`Mesh.tap_sums`; ``None``: ideal.

        Returns
        -------
        TapSums
            Batch-summed readings ``theta, phi (n_mzis,)``, ``out (n_ports,)`` and the
            field at the far end, ``port (n_samples, n_ports)``.
        """
        check_choice(direction, "direction", ("forward", "adjoint"))
        _check_read(read)
        return TapSums(
            *self.mesh._pass(
                self.phases,
                injected,
                self.chip,
                direction=direction,
                record="sum",
                read=read,
                matrices=(self.s1, self.s2, self.t),
            )
        )

    def phase_gradients(self, x: Array, delta: Array) -> Phases:
        """Exact batch-summed ``dL/dphase`` by the correlation sweep (see :class:`Mesh`).

        Parameters
        ----------
        x
            Input fields of the forward pass, ``(n_samples, n_ports)``.
        delta
            Adjoint signal at the outputs, ``(n_samples, n_ports)``.

        Returns
        -------
        Phases
            ``dL/dphase`` of every shifter (loss units per rad), 1-D.

        Raises
        ------
        ValueError
            As for :meth:`Mesh.phase_gradients`.
        """
        x, delta = self.mesh._fields_and_delta(x, "x", delta)
        w = self.matrix
        # M₀ = Σ_b a_b â_bᵀ = Xᵀ Δ W at the input plane; (XᵀΔ)W costs less than Xᵀ(ΔW)
        # when the batch is larger than the mesh.
        corr0 = (x.T @ delta) @ w if x.shape[0] > w.shape[0] else x.T @ (delta @ w)
        lossless = self.is_lossless  # then t⁻¹ = tᴴ, S₁⁻¹ = S₁ᴴ: nothing to invert or check
        blocks, out_diagonal = kernels.correlation_sweep(
            self.mesh.columns,
            self.t,
            None,
            corr0,
            assume="unitary" if lossless else "nothing",
            part="anti_hermitian" if lossless else "whole",  # half the work, same gradients
        )
        # dL/dφ: the block at the MZI input; dL/dθ: that block carried through S₁
        theta, phi = kernels.shifter_gradients(
            blocks, self.s1, None if lossless else inverse_2x2(self.s1)
        )
        return _gradients(theta, phi, -np.imag(out_diagonal), x, delta)

    def phase_gradients_from_outputs(self, y: Array, delta: Array) -> Phases:
        """:meth:`phase_gradients` from the output fields ``y = forward(x)``, without ``x``.

        The correlation at the output plane is ``Yᵀ Δ``, one product, where the input
        plane's ``Xᵀ Δ W`` takes an N×N×N product more (0.3 of the B×N by N×N matmul
        at N = 64, B = 256; 0.25 at N = 256, B = 1024). The sweep then runs back
        to the inputs, ``M ← C⁻¹ M C`` column by column, and reads each MZI's block
        at its output (:func:`photonic.kernels.shifter_gradients_at_outputs`). A
        training step that has ``y`` from its forward pass should call this.

        ``W`` is invertible, so every ``y`` is the output of one input, ``y W⁻ᵀ``: the
        result is that input's exact gradient, and nothing in ``y`` can disagree with
        ``x``. (Output fields changed after the forward pass, by a detector model say,
        give the gradient of the input that would have produced them.)

        Parameters
        ----------
        y
            Output fields of the forward pass, ``(n_samples, n_ports)``.
        delta
            Adjoint signal at the outputs, ``(n_samples, n_ports)``.

        Returns
        -------
        Phases
            ``dL/dphase`` of every shifter (loss units per rad), 1-D.

        Raises
        ------
        ValueError
            As for :meth:`Mesh.phase_gradients` (naming ``y`` for ``x``).
        """
        y, delta = self.mesh._fields_and_delta(y, "y", delta)
        corr = y.T @ delta  # M after the output screen D; its diagonal: dL/d(out)
        out_diagonal = np.diagonal(corr).copy()
        t = self.t
        lossless = self.is_lossless  # then t⁻¹ = tᴴ, S₂⁻¹ = S₂ᴴ: nothing to invert
        t_inv = None if lossless else inverse_2x2(t)
        blocks = kernels.correlation_sweep_back(
            self.mesh.columns,
            t,
            t_inv,
            corr,
            assume="unitary" if lossless else "nothing",
            part="anti_hermitian" if lossless else "whole",  # half the work, same gradients
            screen=self.out_phasors,
        )
        inverses = None if t_inv is None else (inverse_2x2(self.s2), t_inv)
        theta, phi = kernels.shifter_gradients_at_outputs(blocks, self.s2, t, inverses)
        return _gradients(theta, phi, -np.imag(out_diagonal), y, delta, name="y")


def _coupler_errors(chip: Chip | None) -> tuple[Array, Array]:
    """The chip's coupler splitting errors (rad) and arm losses (dB), for the unchecked
    MZI builders: its arrays are read-only and were checked when it was built (the
    phases are checked by ``check_phases`` at every public call). Ideal: zeros."""
    if chip is None:
        return _NO_ERROR, _NO_ERROR
    return chip.splitting_error_rad, chip.coupler_loss_db


def _real_array(value: Any, name: str, what: str) -> Array:
    """``value`` as a float64 array (no copy if it is one), else a ``TypeError`` naming
    ``name`` (``None``, strings and other non-numbers are not cast to NaN or refused
    by ``float()`` deep inside)."""
    raw = np.asarray(value)
    if raw.dtype.kind in "iuf":
        return np.asarray(raw, dtype=np.float64)
    if raw.dtype.kind == "O" and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in raw.flat
    ):
        return raw.astype(np.float64)
    raise TypeError(f"{name}={reprlib.repr(value)} must hold real numbers {what}")


def _check_is_phases(phases: Any, name: str = "phases") -> None:
    """``TypeError`` naming ``name`` unless ``phases`` is a :class:`Phases`."""
    if not isinstance(phases, Phases):
        raise TypeError(
            f"{name}={reprlib.repr(phases)} must be a photonic.mesh.Phases "
            "(e.g. mesh.random_phases(rng))"
        )


def _gradients(
    theta: Array, phi: Array, out: Array, fields: Array, delta: Array, *, name: str = "x"
) -> Phases:
    """Phase gradients as :class:`Phases`, or a ``ValueError`` naming the ``fields`` (by
    ``name``: ``x`` or ``y``) and ``delta`` if they overflowed float64 (rather than
    blaming the phases for the ``inf``)."""
    if not (np.isfinite(theta).all() and np.isfinite(phi).all() and np.isfinite(out).all()):
        big_x, big_delta = (float(np.max(np.abs(a), initial=0.0)) for a in (fields, delta))
        raise ValueError(
            f"{name} and delta are too large: the phase gradients, linear in each, "
            f"overflow float64 (largest |{name}| = {big_x:.3g}, largest |delta| = "
            f"{big_delta:.3g}); compute them with {name} or delta scaled down and scale "
            "them back up"
        )
    return Phases._unchecked(theta, phi, out)  # float64, 1-D, finite: checked above


def _check_read(read: TapRead | None) -> None:
    if read is not None and not callable(read):
        raise TypeError(
            f"read={reprlib.repr(read)} must be a tap detector (a function of the tap "
            "fields) or None (ideal)"
        )


def _store_field(dest: Array, rows: Array) -> None:
    dest[...] = rows


def _store_nothing(dest: Array, rows: Array) -> None:
    pass


def _store_power(dest: Array, rows: Array) -> None:
    """``dest = |rows|²`` in place (no temporaries)."""
    np.abs(rows, out=dest)
    np.square(dest, out=dest)


def _summed(read: TapRead) -> Callable[[Array, Array], None]:
    """A ``keep`` for :meth:`Mesh._pass` that stores ``read``'s batch sums of the rows."""

    def keep(dest: Array, rows: Array) -> None:
        dest[...] = read(rows)

    return keep


def _power_sums(fields: Array) -> Array:
    """``Σ_b |E_b|²`` along the last axis of ``(n_taps, n_samples)`` fields (an ideal detector)."""
    return np.vecdot(fields, fields).real  # Σ conj(E)·E, one pass, no temporaries


def _power(field_: Array) -> Array:
    """``|E|²`` of complex fields, float64."""
    return np.square(np.abs(field_))


def _mix_with_tap(field_: Array, rows3: Array, work: Array, a: int, b: int, lo: int) -> Array:
    """Apply MZIs ``a … b−1`` in place and return their tap fields, ``(k, n_samples)``.

    ``rows3`` ``(n_mzis, 3, 2)``: per MZI the tap row, then the 2×2 block to apply;
    ``work`` ``(≥ k, 3, n_samples)`` receives the stacked product (the returned view).
    """
    k = b - a
    out = work[:k]
    np.matmul(rows3[a:b], field_[lo : lo + 2 * k].reshape(k, 2, -1), out=out)
    field_[lo : lo + 2 * k].reshape(k, 2, -1)[...] = out[:, 1:]
    return out[:, 0]


def _mix_pairs(
    field_: Array, half: Array, a: int, b: int, lo: int, *, transpose: bool = False
) -> None:
    """Apply the 2×2 blocks of MZIs ``a … b−1`` (or their transposes) in place.

    ``field_`` is port first, ``(n_ports, n_samples)``; the blocks ``half``
    ``(n_mzis, 2, 2)`` act on the port pairs ``(lo, lo+1), (lo+2, lo+3), …`` (one
    stacked matmul).
    """
    k = b - a
    hi = lo + 2 * k
    m = half[a:b].swapaxes(1, 2) if transpose else half[a:b]
    field_[lo:hi] = (m @ field_[lo:hi].reshape(k, 2, -1)).reshape(2 * k, -1)


def haar_unitary(n: int, rng: np.random.Generator) -> Array:
    """A Haar-random ``(n, n)`` unitary (QR of a complex Ginibre matrix, phases fixed).

    Mezzadri, "How to generate random matrices from the classical compact groups",
    Notices AMS 54 (2007).

    Parameters
    ----------
    n
        Matrix size, an int > 0.
    rng
        The only source of randomness: ``2·n²`` standard normals are drawn (the real
        parts, then the imaginary parts).

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` complex128, unitary.

    Raises
    ------
    ValueError
        If ``n`` is not an int > 0.
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``.
    """
    n = check_positive_int(n, "n")
    check_generator(rng)
    z = (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))) / np.sqrt(2)
    q, r = np.linalg.qr(z)
    d = np.diagonal(r)
    return q * (d / np.abs(d))


def _layout(n: int, topology: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Column and top port of every MZI of the ``topology`` layout on ``n`` ports
    (DESIGN.md §4.1), ordered by column, then top port."""
    if topology == "clements":
        spans = [(c, c % 2, n - 2) for c in range(n)]
    else:  # reck: tops t ≡ c (mod 2) with t ≤ c and t ≤ 2n − 4 − c
        spans = [(c, c % 2, min(c, 2 * n - 4 - c, n - 2)) for c in range(2 * n - 3)]
    tops = [np.arange(first, last + 1, 2, dtype=np.int64) for _, first, last in spans]
    columns = [np.full(t.size, c, dtype=np.int64) for (c, _, _), t in zip(spans, tops, strict=True)]
    return np.concatenate(columns), np.concatenate(tops)


def _check_n_ports(n_ports: int) -> int:
    if (
        isinstance(n_ports, bool)
        or not isinstance(n_ports, int | np.integer)
        or not 2 <= n_ports <= MAX_PORTS
    ):
        raise ValueError(f"n_ports={n_ports!r} must be an int in 2 … {MAX_PORTS} (MAX_PORTS)")
    return int(n_ports)
