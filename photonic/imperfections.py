"""Imperfections of one particular photonic chip: fabrication errors, programming and noise.

Contract
--------
A :class:`Chip` is one device. Its static errors (coupler splitting errors, arm
losses, static phase offsets) are drawn **once** from a generator by
:meth:`Chip.draw`; its scalar parameters describe how it is programmed (DAC,
drive law, thermal crosstalk) and how it is read (tap noise, ADC, I/O errors).
A ``Chip`` is immutable and holds read-only arrays.

Who applies what:

* the mesh (``photonic/mesh.py``) reads ``splitting_error_rad``,
  ``coupler_loss_db`` and the three ``*_offset_rad`` arrays at propagation time:
  the chip really applies ``θ + theta_offset_rad`` etc. :func:`program` does **not**
  add the offsets, so nothing is counted twice;
* :func:`program` (called by a network's ``set_params``) turns the phases the
  optimizer asks for into the phases the heaters/modulators really set: wrap into
  ``[0, 2π)``, DAC quantization of the drive voltage, nearest-neighbour thermal
  crosstalk;
* :func:`drift_step` moves the chip's phase drift one step of a random walk (a
  network calls it on every ``set_params``, and :func:`program` adds the drift it
  has accumulated);
* :func:`phase_noise` adds a fresh random phase error per pass;
* :func:`apply_io_error` and :func:`detect_power` model the input/output field
  errors and the power detectors (tap noise, clipping, ADC).

All functions are pure; every random number comes from an explicit
``rng: numpy.random.Generator`` (DESIGN.md §2), drawn in a fixed, documented
order, so the same seed gives the same chip and the same noise bit for bit.

``chip=None`` everywhere means the ideal device (lossless, exact couplers, ideal
DAC/ADC, noiseless) and never draws random numbers.
"""

from __future__ import annotations

import dataclasses
import inspect
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from digital.validation import (
    check_choice,
    check_finite,
    check_generator,
    check_nonnegative,
    check_positive,
)
from photonic.constants import TWO_PI
from photonic.mesh import TOPOLOGIES, Topology
from photonic.mzi import phasor

if TYPE_CHECKING:
    from photonic.mesh import Mesh, Phases

__all__ = [
    "DEFAULT_ADC_BITS",
    "DEFAULT_CROSSTALK",
    "DEFAULT_DAC_BITS",
    "DEFAULT_IO_AMPLITUDE_ERROR",
    "DEFAULT_IO_PHASE_ERROR",
    "DEFAULT_LOSS_DB_PER_MZI",
    "DEFAULT_LOSS_SPREAD_DB",
    "DEFAULT_PHASE_NOISE_RAD",
    "DEFAULT_PHASE_OFFSET_STD_RAD",
    "DEFAULT_SPLITTING_ERROR_STD_RAD",
    "DEFAULT_TAP_NOISE",
    "DRIVES",
    "MAX_CONVERTER_BITS",
    "NO_IMPERFECTIONS",
    "Chip",
    "Drive",
    "apply_io_error",
    "check_bits",
    "check_chip",
    "dac_phase_step_rad",
    "detect_power",
    "drift_step",
    "mzi_neighbours",
    "phase_noise",
    "program",
    "quantize",
    "read_power",
    "wrap_rad",
]

Array = NDArray[Any]
Drive = Literal["thermal", "electro_optic"]
#: Allowed phase-shifter drive laws: thermal (phase ∝ heater power ∝ V²) or electro-optic (∝ V).
DRIVES: tuple[str, ...] = ("thermal", "electro_optic")

# --- Defaults of Chip.draw, each with its source (../shared/reference/parameters.md) ---------
#: Std of the coupler splitting error ε, rad. Typical value 0.02 rad (range 0.01–0.05).
DEFAULT_SPLITTING_ERROR_STD_RAD = 0.02
#: Mean insertion loss per MZI, dB. Typical value 0.2 dB/MZI (range 0.1–0.5).
DEFAULT_LOSS_DB_PER_MZI = 0.2
#: Std of the insertion loss between MZIs, dB. Verified: 0.05 dB (Pai et al. 2023 simulation sweep).
DEFAULT_LOSS_SPREAD_DB = 0.05
#: Std of static phase offsets, rad. 0: we assume a calibrated chip (offsets measured and
#: subtracted by the controller); set > 0 to study an uncalibrated one.
DEFAULT_PHASE_OFFSET_STD_RAD = 0.0
#: DAC resolution, bits. Typical 10 bits (range 8–12).
DEFAULT_DAC_BITS = 10
#: Nearest-neighbour thermal crosstalk fraction. Typical 0.02 ("few %").
DEFAULT_CROSSTALK = 0.02
#: Std of the per-pass phase noise of every shifter, rad. Typical 0.01 rad (range 0.005–0.05).
DEFAULT_PHASE_NOISE_RAD = 0.01
#: Tap detector noise s in P = |E|² + s·|E|·n. Verified default 0.01, range 0–0.02 (Pai et al.
#: 2023 code).
DEFAULT_TAP_NOISE = 0.01
#: ADC resolution, bits. Typical 8 bits (range 6–10).
DEFAULT_ADC_BITS = 8
#: Relative input/output amplitude error σ_a. Verified default 0.025, range 0–0.05 (Pai et al.
#: 2023 code).
DEFAULT_IO_AMPLITUDE_ERROR = 0.025
#: Input/output phase error σ_p in units of π. Verified default 0.025, range 0–0.05 (Pai et al.
#: 2023 code).
DEFAULT_IO_PHASE_ERROR = 0.025
#: Largest converter resolution accepted: a float64 mantissa resolves at most 2^52 levels.
MAX_CONVERTER_BITS = 52

#: :meth:`Chip.draw` keywords that switch every imperfection off (static phase offsets
#: are off by default); a study adds the ones it wants, e.g.
#: ``Chip.draw(mesh, rng, **(NO_IMPERFECTIONS | {"tap_noise": 0.01}))``. Read-only.
NO_IMPERFECTIONS: Mapping[str, Any] = MappingProxyType(
    {
        "splitting_error_std_rad": 0.0,
        "loss_db_per_mzi": 0.0,
        "loss_spread_db": 0.0,
        "dac_bits": None,
        "crosstalk": 0.0,
        "phase_noise_rad": 0.0,
        "tap_noise": 0.0,
        "adc_bits": None,
        "io_amplitude_error": 0.0,
        "io_phase_error": 0.0,
    }
)


# ------------------------------------------------------------------------------- checks
def _check_int(value: Any, name: str, *, minimum: int) -> int:
    """Return ``int(value)`` if it is an integer ≥ ``minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} must be an integer ≥ {minimum}")
    if value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer ≥ {minimum}")
    return int(value)


def check_bits(value: Any, name: str) -> int | None:
    """Return ``None`` or an integer resolution in ``[1, MAX_CONVERTER_BITS]``, else raise
    (``TypeError`` for a non-integer, ``ValueError`` out of range; both name ``name``).

    Parameters
    ----------
    value
        A converter resolution in bits: a Python or NumPy integer in
        ``[1, MAX_CONVERTER_BITS]``, or ``None`` (an ideal converter). A bool is refused.
    name
        Parameter name used in the error messages (e.g. ``"dac_bits"``).

    Returns
    -------
    int or None
        ``int(value)``, or ``None``.
    """
    if value is None:
        return None
    allowed = f"None (ideal converter) or an integer in [1, {MAX_CONVERTER_BITS}]"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} must be {allowed}")
    if not 1 <= value <= MAX_CONVERTER_BITS:
        raise ValueError(f"{name}={value!r} must be {allowed}")
    return int(value)


def _mesh_sizes(mesh: Any) -> tuple[int, int]:
    """``(n_ports, n_mzis)`` of ``mesh``: anything with integer ``n_ports`` and
    ``n_mzis`` (a :class:`~photonic.mesh.Mesh`), else ``TypeError`` naming ``mesh``."""
    sizes = (getattr(mesh, "n_ports", None), getattr(mesh, "n_mzis", None))
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in sizes):
        raise TypeError(
            f"mesh={reprlib.repr(mesh)} must be a photonic.mesh.Mesh (anything with integer "
            "n_ports and n_mzis)"
        )
    return int(sizes[0]), int(sizes[1])  # type: ignore[arg-type]


def _mesh_topology(mesh: Any) -> Topology | None:
    """``mesh.topology`` if it names a layout (a :class:`~photonic.mesh.Mesh`), else ``None``."""
    topology = getattr(mesh, "topology", None)
    return topology if topology in TOPOLOGIES else None


def check_chip(chip: Any, name: str = "chip") -> Chip | None:
    """Return ``chip`` if it is a :class:`Chip` or ``None`` (the ideal device), else raise
    ``TypeError`` naming ``name``.

    Parameters
    ----------
    chip
        The object to check.
    name
        Parameter name used in the error message.

    Returns
    -------
    Chip or None
        ``chip`` itself. Its size is not checked against any mesh.
    """
    if chip is not None and not isinstance(chip, Chip):
        raise TypeError(
            f"{name}={reprlib.repr(chip)} must be a photonic.imperfections.Chip or None "
            "(the ideal device)"
        )
    return chip


def _check_phases(phases: Any, name: str = "phases") -> None:
    from photonic.mesh import _check_is_phases  # the mesh imports this module lazily too

    _check_is_phases(phases, name)


def _frozen_array(value: Any, name: str, shape: tuple[int, ...], *, nonnegative: bool) -> Array:
    """Return a read-only float64 copy of ``value`` after checking shape and values."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real array of shape {shape}; got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got shape {arr.shape}")
    arr = np.array(arr, dtype=np.float64, copy=True)
    check_finite(arr, name)
    if nonnegative and np.any(arr < 0):
        raise ValueError(
            f"{name} holds negative value(s) (min {arr.min()!r}); losses must be ≥ 0 dB"
        )
    arr.setflags(write=False)
    return arr


# --------------------------------------------------------------------------------- Chip
@dataclass(frozen=True, eq=False)
class Chip:
    """One particular photonic device: static errors, programming and read-out models.

    Parameters
    ----------
    n_ports
        Number of waveguides (ports) of the mesh, ≥ 2.
    n_mzis
        Number of MZIs of the mesh, ``n_ports·(n_ports − 1)/2`` (both topologies).
    splitting_error_rad
        ``(n_mzis, 2)`` coupler splitting errors ε of the [input, output] coupler of
        each MZI, rad (``B(ε)`` of DESIGN.md §4.1).
    coupler_loss_db
        ``(n_mzis, 2, 2)`` power loss in dB ≥ 0 indexed ``[mzi, coupler, arm]``
        (coupler 0 = input, 1 = output; arm 0 = top, 1 = bottom), applied on each
        output arm of each coupler.
    theta_offset_rad, phi_offset_rad
        ``(n_mzis,)`` static phase offsets, rad, added by the mesh to the internal
        (θ) and external (φ) phase of each MZI.
    out_offset_rad
        ``(n_ports,)`` static offsets of the output phase column, rad.
    dac_bits
        DAC resolution of the phase-shifter drive voltage; ``None`` = ideal DAC.
    drive
        ``"thermal"``: phase ∝ heater power ∝ V², with thermal crosstalk;
        ``"electro_optic"``: phase ∝ V, no thermal crosstalk.
    crosstalk
        Nearest-neighbour thermal crosstalk fraction in ``[0, 1)`` (see :func:`program`).
    phase_noise_rad
        Std of the fresh Gaussian phase error of every shifter on every pass, rad, ≥ 0.
    tap_noise
        ``s`` in ``P = |E|² + s·|E|·n``, ``n ~ N(0, 1)``, ≥ 0; ``s`` has the units of
        ``|E|`` (√power), so the noise std ``s·|E|`` is in power units and the relative
        noise ``s/|E|`` grows as the tap power falls (Pai et al. 2023's model).
    adc_bits
        ADC resolution of the power detectors; ``None`` = ideal ADC.
    io_amplitude_error
        σ_a ≥ 0: a measured or injected field has amplitude ``|E|(1 + σ_a n)``.
    io_phase_error
        σ_p ≥ 0 in units of π (not rad, so no ``_rad`` suffix): phase
        ``∠E + π σ_p n``, as Pai et al. 2023's code states it (0.025 = 0.0785 rad).
    drift_rad_per_step
        Std of one step of the random walk of every shifter's held phase, rad ≥ 0:
        slow drift (e.g. of the chip's temperature), one step per programming
        (:func:`drift_step`); after ``k`` programmings the drift has std
        ``drift_rad_per_step·√k``. 0 (the default): no drift. A network walks each of
        its meshes on its own, also when they share one ``Chip`` (the heaters of one
        chip reprogrammed per layer would drift together: not modelled).
    topology
        The layout the errors belong to, ``"clements"`` or ``"reck"`` (set by
        :meth:`draw` and :meth:`ideal` from their mesh); a mesh refuses a chip of the
        other one, since its per-MZI errors would land on other physical MZIs.
        ``None``: not tied to a layout (a chip built field by field).

    Notes
    -----
    Build one with :meth:`ideal` or :meth:`draw`; change fields with :meth:`with_`.
    Arrays are stored as read-only float64 copies. Equality is identity (``eq=False``).
    """

    n_ports: int
    n_mzis: int
    splitting_error_rad: Array
    coupler_loss_db: Array
    theta_offset_rad: Array
    phi_offset_rad: Array
    out_offset_rad: Array
    dac_bits: int | None = None
    drive: Drive = "thermal"
    crosstalk: float = 0.0
    phase_noise_rad: float = 0.0
    tap_noise: float = 0.0
    adc_bits: int | None = None
    io_amplitude_error: float = 0.0
    io_phase_error: float = 0.0
    drift_rad_per_step: float = 0.0
    topology: Topology | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        n_ports = _check_int(self.n_ports, "n_ports", minimum=2)
        n_mzis = _check_int(self.n_mzis, "n_mzis", minimum=0)
        if n_mzis != n_ports * (n_ports - 1) // 2:
            raise ValueError(
                f"n_mzis={self.n_mzis!r} does not fit n_ports={self.n_ports!r}: every "
                f"{n_ports}-port mesh has {n_ports * (n_ports - 1) // 2} MZIs"
            )
        if self.topology is not None:
            check_choice(self.topology, "topology", TOPOLOGIES)
        put("n_ports", n_ports)
        put("n_mzis", n_mzis)
        put(
            "splitting_error_rad",
            _frozen_array(
                self.splitting_error_rad, "splitting_error_rad", (n_mzis, 2), nonnegative=False
            ),
        )
        put(
            "coupler_loss_db",
            _frozen_array(
                self.coupler_loss_db, "coupler_loss_db", (n_mzis, 2, 2), nonnegative=True
            ),
        )
        for name, size in (
            ("theta_offset_rad", n_mzis),
            ("phi_offset_rad", n_mzis),
            ("out_offset_rad", n_ports),
        ):
            put(name, _frozen_array(getattr(self, name), name, (size,), nonnegative=False))
        put("dac_bits", check_bits(self.dac_bits, "dac_bits"))
        put("adc_bits", check_bits(self.adc_bits, "adc_bits"))
        check_choice(self.drive, "drive", DRIVES)
        crosstalk = check_nonnegative(self.crosstalk, "crosstalk")
        if crosstalk >= 1:
            raise ValueError(f"crosstalk={self.crosstalk!r} must be in [0, 1)")
        put("crosstalk", crosstalk)
        for name in (
            "phase_noise_rad",
            "tap_noise",
            "io_amplitude_error",
            "io_phase_error",
            "drift_rad_per_step",
        ):
            put(name, check_nonnegative(getattr(self, name), name))

    # ---------------------------------------------------------------- constructors
    @classmethod
    def ideal(cls, mesh: Mesh) -> Chip:
        """The ideal device for ``mesh``: lossless, exact couplers, ideal converters, noiseless.

        Propagating through it gives the same result as ``chip=None``.

        Parameters
        ----------
        mesh
            Anything with integer attributes ``n_ports`` and ``n_mzis``, as for
            :meth:`draw`.

        Returns
        -------
        Chip
        """
        n_ports, n_mzis = _mesh_sizes(mesh)
        return cls(
            n_ports=n_ports,
            n_mzis=n_mzis,
            topology=_mesh_topology(mesh),
            splitting_error_rad=np.zeros((n_mzis, 2)),
            coupler_loss_db=np.zeros((n_mzis, 2, 2)),
            theta_offset_rad=np.zeros(n_mzis),
            phi_offset_rad=np.zeros(n_mzis),
            out_offset_rad=np.zeros(n_ports),
        )

    @classmethod
    def draw(
        cls,
        mesh: Mesh,
        rng: np.random.Generator,
        *,
        splitting_error_std_rad: float = DEFAULT_SPLITTING_ERROR_STD_RAD,
        loss_db_per_mzi: float = DEFAULT_LOSS_DB_PER_MZI,
        loss_spread_db: float = DEFAULT_LOSS_SPREAD_DB,
        phase_offset_std_rad: float = DEFAULT_PHASE_OFFSET_STD_RAD,
        dac_bits: int | None = DEFAULT_DAC_BITS,
        drive: Drive = "thermal",
        crosstalk: float = DEFAULT_CROSSTALK,
        phase_noise_rad: float = DEFAULT_PHASE_NOISE_RAD,
        tap_noise: float = DEFAULT_TAP_NOISE,
        adc_bits: int | None = DEFAULT_ADC_BITS,
        io_amplitude_error: float = DEFAULT_IO_AMPLITUDE_ERROR,
        io_phase_error: float = DEFAULT_IO_PHASE_ERROR,
        drift_rad_per_step: float = 0.0,
    ) -> Chip:
        """Draw one random device for ``mesh``.

        Parameters
        ----------
        mesh
            Anything with integer attributes ``n_ports`` and ``n_mzis``; its
            ``topology``, if it has one, is recorded (:attr:`topology`).
        rng
            The only source of randomness.
        splitting_error_std_rad
            Std of every coupler's ε, rad; default 0.02 rad (typical, parameters.md).
        loss_db_per_mzi, loss_spread_db
            Mean and spread of the insertion loss per MZI, dB; defaults 0.2 dB
            (typical) and 0.05 dB (verified, Pai et al. 2023 simulation sweep).
        phase_offset_std_rad
            Std of the static phase offsets, rad; default 0 = a calibrated chip.
        dac_bits, drive, crosstalk, phase_noise_rad, tap_noise, adc_bits,
        io_amplitude_error, io_phase_error, drift_rad_per_step
            Stored as they are (see :class:`Chip`). Defaults: DAC/ADC 10/8 bits,
            thermal drive, crosstalk 0.02, phase noise 0.01 rad (typical); tap noise
            0.01 and I/O errors 0.025 (verified, Pai et al. 2023 code); no drift
            (parameters.md gives no drift rate: an opt-in model).

        Returns
        -------
        Chip

        Notes
        -----
        Random model, drawn from standard normals ``z`` in this fixed order (the
        same number of draws whatever the parameter values, so one seed gives
        the same ``z`` for every setting and a parameter sweep uses common
        random numbers):

        1. ``z_ε`` ``(n_mzis, 2)``: ``splitting_error_rad = splitting_error_std_rad · z_ε``;
        2. ``z_L`` ``(n_mzis,)``: insertion loss of MZI k
           ``L_k = max(0, loss_db_per_mzi + loss_spread_db · z_L[k])``;
        3. ``z_a`` ``(n_mzis, 2, 2)``: loss of each of the 4 coupler-arm positions of
           MZI k, ``max(0, L_k / 2 + (loss_spread_db / 2) · z_a[k, c, arm])``, so a path
           through the MZI (one arm of each of its two couplers) loses ``L_k`` dB on
           average (before clipping) with std ``loss_spread_db / √2`` around ``L_k``;
        4. ``z_θ`` ``(n_mzis,)``, ``z_φ`` ``(n_mzis,)``, ``z_out`` ``(n_ports,)``: static
           offsets ``phase_offset_std_rad · z``.
        """
        n_ports, n_mzis = _mesh_sizes(mesh)
        check_generator(rng)
        sigma_eps = check_nonnegative(splitting_error_std_rad, "splitting_error_std_rad")
        loss_mean = check_nonnegative(loss_db_per_mzi, "loss_db_per_mzi")
        loss_spread = check_nonnegative(loss_spread_db, "loss_spread_db")
        sigma_offset = check_nonnegative(phase_offset_std_rad, "phase_offset_std_rad")

        z_eps = rng.standard_normal((n_mzis, 2))
        z_loss = rng.standard_normal(n_mzis)
        z_arm = rng.standard_normal((n_mzis, 2, 2))
        z_theta = rng.standard_normal(n_mzis)
        z_phi = rng.standard_normal(n_mzis)
        z_out = rng.standard_normal(n_ports)

        mzi_loss_db = np.maximum(loss_mean + loss_spread * z_loss, 0.0)
        arm_loss_db = np.maximum(mzi_loss_db[:, None, None] / 2 + loss_spread / 2 * z_arm, 0.0)
        return cls(
            n_ports=n_ports,
            n_mzis=n_mzis,
            topology=_mesh_topology(mesh),
            splitting_error_rad=sigma_eps * z_eps,
            coupler_loss_db=arm_loss_db,
            theta_offset_rad=sigma_offset * z_theta,
            phi_offset_rad=sigma_offset * z_phi,
            out_offset_rad=sigma_offset * z_out,
            dac_bits=dac_bits,
            drive=drive,
            crosstalk=crosstalk,
            phase_noise_rad=phase_noise_rad,
            tap_noise=tap_noise,
            adc_bits=adc_bits,
            io_amplitude_error=io_amplitude_error,
            io_phase_error=io_phase_error,
            drift_rad_per_step=drift_rad_per_step,
        )

    def with_(self, **changes: Any) -> Chip:
        """A copy with some fields changed (``dataclasses.replace``; re-validated).

        Parameters
        ----------
        **changes
            New values by field name (see :class:`Chip`).

        Returns
        -------
        Chip

        Raises
        ------
        TypeError
            For a name that is not a field. The spreads the arrays were drawn with
            (``splitting_error_std_rad``, ``loss_db_per_mzi``, ``loss_spread_db``,
            ``phase_offset_std_rad``) are arguments of :meth:`draw`, not fields: draw
            again from a generator in the same state to change them.
        """
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - fields)
        if unknown:
            spreads = set(inspect.signature(Chip.draw).parameters) - fields - {"mesh", "rng"}
            drawn = sorted(set(unknown) & spreads)
            one = len(unknown) == 1
            hint = (
                f"; {', '.join(drawn)} {'is an argument' if len(drawn) == 1 else 'are arguments'}"
                " of Chip.draw that shaped the drawn arrays: draw again (a generator in "
                "the same state keeps the same random numbers)"
                if drawn
                else ""
            )
            raise TypeError(
                f"Chip.with_: {', '.join(unknown)} {'is not a field' if one else 'are not fields'}"
                f" of Chip (fields: {', '.join(sorted(fields))}){hint}"
            )
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        """The settings, and the drawn arrays summarised (rms error, mean MZI loss)."""
        scalars = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if not isinstance(getattr(self, f.name), np.ndarray)
        )
        eps = float(np.sqrt(np.mean(self.splitting_error_rad**2))) if self.n_mzis else 0.0
        loss = float(np.mean(self.coupler_loss_db.sum(axis=(1, 2)) / 2)) if self.n_mzis else 0.0
        return f"Chip({scalars}, splitting error rms {eps:.3g} rad, mean MZI loss {loss:.3g} dB)"

    @property
    def is_lossless(self) -> bool:
        """True when every coupler arm has zero loss (time reversal is then exact)."""
        return not np.any(self.coupler_loss_db)

    @property
    def is_noisy(self) -> bool:
        """True when the chip draws random numbers while it runs: per-pass phase noise,
        detector noise, I/O errors or drift (its static errors were drawn once)."""
        return bool(
            self.phase_noise_rad > 0
            or self.tap_noise > 0
            or self.io_amplitude_error > 0
            or self.io_phase_error > 0
            or self.drift_rad_per_step > 0
        )


# ------------------------------------------------------------------------ quantization
def quantize(
    x: ArrayLike,
    bits: int,
    full_scale: float,
    *,
    out_of_range: Literal["clip", "extend"] = "clip",
) -> Array:
    """Uniform mid-tread quantizer with ``2**bits`` levels on ``[0, full_scale]``.

    Levels are ``k / (2**bits − 1) · full_scale`` for ``k = 0 … 2**bits − 1``
    (0 and ``full_scale`` are both levels); values round to the nearest level
    (ties to even). Used by the DAC (:func:`program`) and the ADC (:func:`detect_power`).

    Parameters
    ----------
    x
        Values, any shape.
    bits
        Resolution, integer in ``[1, MAX_CONVERTER_BITS]``.
    full_scale
        Top of the range, > 0 (same unit as ``x``).
    out_of_range
        ``"clip"``: values outside ``[0, full_scale]`` saturate at the ends (a
        real converter); ``"extend"``: the grid of steps continues beyond the range
        (an idealized converter with head-room, no saturation bias).

    Returns
    -------
    numpy.ndarray
        Float64, same shape as ``x``; within half a step of ``x`` inside the range;
        ``quantize(quantize(x)) == quantize(x)``.

    Raises
    ------
    TypeError
        If ``x`` does not hold real numbers (complex, bool, strings, objects), or
        ``bits`` or ``full_scale`` is not a number.
    ValueError
        If ``x`` holds NaN or infinity, or ``bits``, ``full_scale`` or
        ``out_of_range`` is out of its range.
    """
    if bits is None:
        raise TypeError(f"bits={bits!r} must be an integer in [1, {MAX_CONVERTER_BITS}]")
    b = check_bits(bits, "bits")
    assert b is not None
    fs = check_positive(full_scale, "full_scale")
    check_choice(out_of_range, "out_of_range", ("clip", "extend"))
    raw = np.asarray(x)
    if raw.dtype.kind not in "iuf":  # a cast would drop imaginary parts, parse strings
        raise TypeError(f"x must hold real numbers; got dtype {raw.dtype}")
    arr = raw.astype(np.float64, copy=False)
    check_finite(arr, "x")
    n_steps = float(2**b - 1)
    if out_of_range == "clip":
        arr = np.clip(arr, 0.0, fs)
    k = np.rint(arr / fs * n_steps)
    return np.asarray(k / n_steps * fs, dtype=np.float64)


# --------------------------------------------------------------------------- programming
def mzi_neighbours(mesh: Mesh) -> tuple[Array, Array]:
    """Pairs of physically adjacent MZIs: same column, tops differing by 2.

    Parameters
    ----------
    mesh
        Anything with integer arrays ``column`` and ``top`` of shape ``(n_mzis,)``.

    Returns
    -------
    (i, j)
        Two int arrays ``(n_pairs,)`` with ``i < j`` in MZI index; each unordered
        pair appears once.
    """
    if not (hasattr(mesh, "column") and hasattr(mesh, "top")):
        raise TypeError(
            f"mesh={reprlib.repr(mesh)} must be a photonic.mesh.Mesh (anything with int "
            "arrays column and top)"
        )
    column = np.asarray(mesh.column, dtype=np.int64)
    top = np.asarray(mesh.top, dtype=np.int64)
    order = np.lexsort((top, column))  # by column, then top
    a, b = order[:-1], order[1:]
    adjacent = (column[a] == column[b]) & (top[b] - top[a] == 2)
    i, j = a[adjacent], b[adjacent]
    return np.minimum(i, j), np.maximum(i, j)


def wrap_rad(x_rad: ArrayLike) -> Array:
    """Phases into a shifter's range ``[0, 2π)``.

    ``np.mod`` alone can round a tiny negative up to exactly 2π. Used by
    :func:`program` and :mod:`photonic.decompose`.

    Parameters
    ----------
    x_rad
        Phases, rad, any shape.

    Returns
    -------
    numpy.ndarray
        Float64, the shape of ``x_rad``, in ``[0, 2π)``.
    """
    w = np.mod(np.asarray(x_rad, dtype=np.float64), TWO_PI)
    return np.where(w >= TWO_PI, 0.0, w)


def _dac(phase_rad: Array, bits: int | None, drive: str) -> Array:
    """Phases in ``[0, 2π)`` as set by a ``bits``-bit DAC (see :func:`program`)."""
    if bits is None:
        return phase_rad
    if drive == "thermal":  # φ = 2π (V/V_2π)², V on 2^bits levels over [0, V_2π]
        v_q = quantize(np.sqrt(phase_rad / TWO_PI), bits, 1.0)
        return TWO_PI * v_q**2
    return TWO_PI * quantize(phase_rad / TWO_PI, bits, 1.0)  # φ = 2π V/V_2π


def dac_phase_step_rad(chip: Chip | None) -> float:
    """The coarsest phase step the chip's DAC can make, rad (0 for an ideal DAC).

    Thermal drive (``φ = 2π (V/V_2π)²``): the levels ``2π (k/K)²``, ``K = 2**bits − 1``,
    are farthest apart at the top, ``2π (2K − 1)/K²`` ≈ ``4π/K``. Electro-optic drive:
    ``2π/K`` everywhere. A phase change smaller than this may not reach the chip.

    Parameters
    ----------
    chip
        The device, or ``None`` (ideal).

    Returns
    -------
    float
        The step, rad; 0 for ``None`` or ``dac_bits=None``.
    """
    check_chip(chip)
    if chip is None or chip.dac_bits is None:
        return 0.0
    levels = 2**chip.dac_bits - 1
    if chip.drive == "thermal":
        return float(TWO_PI * (2 * levels - 1) / levels**2)
    return float(TWO_PI / levels)


def _add_crosstalk(phase_rad: Array, i: Array, j: Array, crosstalk: float) -> Array:
    """``φ_k + crosstalk · Σ_{neighbours m} φ_m`` for the neighbour pairs ``(i, j)``."""
    if crosstalk == 0 or i.size == 0:
        return phase_rad
    heat = np.zeros_like(phase_rad)
    np.add.at(heat, i, phase_rad[j])
    np.add.at(heat, j, phase_rad[i])
    return phase_rad + crosstalk * heat


def _check_phase_shapes(phases: Phases, n_mzis: int, n_ports: int, what: str = "phases") -> None:
    """Raise unless ``phases`` holds 1-D arrays of the mesh's sizes."""
    for name, size in (("theta_rad", n_mzis), ("phi_rad", n_mzis), ("out_rad", n_ports)):
        shape = np.shape(getattr(phases, name))
        if shape != (size,):
            raise ValueError(f"{what}.{name} must have shape ({size},); got shape {shape}")


def program(
    phases: Phases, mesh: Mesh, chip: Chip | None, *, drift: Phases | None = None
) -> Phases:
    """The phases the chip really holds when the optimizer asks for ``phases``.

    Steps, in order, for every phase shifter (θ and φ of every MZI, the output column):

    1. wrap into the shifter's range ``[0, 2π)``;
    2. DAC (if ``chip.dac_bits`` is not None): the drive voltage ``V`` is quantized on
       ``2**dac_bits`` levels over ``[0, V_2π]``. Thermal drive: ``φ = 2π (V/V_2π)²``,
       so the reachable phases are ``2π (k / (2**bits − 1))²``; electro-optic:
       ``φ = 2π V/V_2π``, reachable phases ``2π k / (2**bits − 1)``. The top level
       ``2π`` is kept as is (it is the same optical phase as 0 but full heater power);
    3. thermal crosstalk (thermal drive only): each shifter gains ``crosstalk ×`` the
       phase (∝ heater power) of each physically adjacent shifter of the same kind,
       computed from the step-2 phases (first order, no feedback): θ (φ) shifters of
       MZIs in the same column whose tops differ by 2 (:func:`mzi_neighbours`);
       output shifters of ports ``p ± 1``;
    4. drift: ``drift`` (the walk :func:`drift_step` has accumulated) is added.

    The static offsets of the chip are *not* added here; the mesh adds them.

    Parameters
    ----------
    phases
        Requested phases: ``theta_rad (n_mzis,)``, ``phi_rad (n_mzis,)``,
        ``out_rad (n_ports,)``, rad (1-D, no batch axis).
    mesh
        The mesh (``n_ports``, ``n_mzis``, ``column``, ``top``).
    chip
        The device; ``None`` returns ``phases`` unchanged (not even wrapped). A chip
        drawn for the other topology than ``mesh``'s is refused (``ValueError``).
    drift
        The chip's accumulated drift, same shapes as ``phases``, rad; ``None``: none.
        Refused with ``chip=None`` (the ideal device does not drift).

    Returns
    -------
    Phases
        Same shapes, rad; the result may leave ``[0, 2π)`` through crosstalk or drift.
    """
    _check_phases(phases)
    check_chip(chip)
    if drift is not None:
        _check_phases(drift, "drift")
        if chip is None:
            raise ValueError("drift is given but chip=None: the ideal device does not drift")
    if chip is None:
        return phases
    n_ports, n_mzis = _mesh_sizes(mesh)
    if (chip.n_ports, chip.n_mzis) != (n_ports, n_mzis):
        raise ValueError(
            f"chip has (n_ports, n_mzis)=({chip.n_ports}, {chip.n_mzis}) but mesh has "
            f"({n_ports}, {n_mzis}); draw the chip for this mesh"
        )
    topology = _mesh_topology(mesh)
    if chip.topology is not None and topology is not None and chip.topology != topology:
        raise ValueError(
            f"chip was drawn for a {chip.topology} mesh; mesh={mesh!r} is {topology}: its "
            "crosstalk neighbours and per-MZI errors are other MZIs (draw a chip for this mesh)"
        )
    _check_phase_shapes(phases, n_mzis, n_ports)
    set_rad = {
        name: _dac(wrap_rad(getattr(phases, name)), chip.dac_bits, chip.drive)
        for name in ("theta_rad", "phi_rad", "out_rad")
    }
    if chip.drive == "thermal" and chip.crosstalk > 0:
        i, j = mzi_neighbours(mesh)
        ports = np.arange(n_ports - 1)
        set_rad["theta_rad"] = _add_crosstalk(set_rad["theta_rad"], i, j, chip.crosstalk)
        set_rad["phi_rad"] = _add_crosstalk(set_rad["phi_rad"], i, j, chip.crosstalk)
        set_rad["out_rad"] = _add_crosstalk(set_rad["out_rad"], ports, ports + 1, chip.crosstalk)
    if drift is not None:
        _check_phase_shapes(drift, n_mzis, n_ports, "drift")
        for name in set_rad:
            set_rad[name] = set_rad[name] + getattr(drift, name)
    return dataclasses.replace(phases, **set_rad)


def drift_step(drift: Phases, chip: Chip, rng: np.random.Generator) -> Phases:
    """The chip's drift after one more step of its random walk.

    Every shifter's drift gains ``chip.drift_rad_per_step · z``, ``z ~ N(0, 1)``,
    drawn as ``z_θ (n_mzis,)``, ``z_φ (n_mzis,)``, ``z_out (n_ports,)`` in that order.
    With ``drift_rad_per_step = 0`` the drift is returned as is and nothing is drawn.

    Parameters
    ----------
    drift
        The accumulated drift, rad (``Phases`` of the chip's shapes; zeros at first).
    chip
        The device (``drift_rad_per_step``).
    rng
        Source of the steps.

    Returns
    -------
    Phases
        The new drift, rad.
    """
    _check_phases(drift, "drift")
    if chip is None:
        raise ValueError("chip=None: the ideal device does not drift")
    check_chip(chip)
    check_generator(rng)
    _check_phase_shapes(drift, chip.n_mzis, chip.n_ports, "drift")
    sigma = chip.drift_rad_per_step
    if sigma == 0:
        return drift
    return dataclasses.replace(
        drift,
        theta_rad=drift.theta_rad + sigma * rng.standard_normal(chip.n_mzis),
        phi_rad=drift.phi_rad + sigma * rng.standard_normal(chip.n_mzis),
        out_rad=drift.out_rad + sigma * rng.standard_normal(chip.n_ports),
    )


# ----------------------------------------------------------------------------- per pass
def phase_noise(
    phases: Phases, chip: Chip | None, rng: np.random.Generator, *, n_samples: int
) -> Phases:
    """Phases of ``n_samples`` separate optical passes, each with a fresh phase error.

    Parameters
    ----------
    phases
        ``theta_rad (n_mzis,)``, ``phi_rad (n_mzis,)``, ``out_rad (n_ports,)``, rad
        (or with leading axes ``(..., n)``, which are kept after the new one).
    chip
        Its ``phase_noise_rad`` σ is the std of the error; ``None`` = noiseless.
    rng
        Draws, in order, ``theta (n_samples, …)``, ``phi (n_samples, …)``,
        ``out (n_samples, …)`` from ``N(0, σ²)``.
    n_samples
        Number of passes, ≥ 1.

    Returns
    -------
    Phases
        Arrays with the leading axis ``(n_samples, …)``. With ``chip=None`` or σ = 0
        no random numbers are drawn and the arrays are read-only broadcast views of
        the input.
    """
    n = _check_int(n_samples, "n_samples", minimum=1)
    _check_phases(phases)
    check_chip(chip)
    sigma = 0.0 if chip is None else chip.phase_noise_rad
    if sigma != 0:
        check_generator(rng)
    out: dict[str, Array] = {}
    for name in ("theta_rad", "phi_rad", "out_rad"):
        p = np.asarray(getattr(phases, name), dtype=np.float64)
        if sigma == 0:
            out[name] = np.broadcast_to(p, (n, *p.shape))
        else:
            out[name] = p + sigma * rng.standard_normal((n, *p.shape))
    return dataclasses.replace(phases, **out)


# --------------------------------------------------------------------------- detection
def _complex_field(field: ArrayLike, name: str) -> Array:
    arr = np.asarray(field)
    if arr.dtype.kind not in "iufc":
        raise TypeError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    if arr.ndim < 1:
        raise ValueError(f"{name} must be an array (n_samples, n); got a scalar")
    check_finite(arr, name)
    return arr.astype(np.complex128, copy=False)


def detect_power(
    field: ArrayLike,
    chip: Chip | None,
    rng: np.random.Generator,
    *,
    full_scale: float | None = None,
    clip: Literal["zero", "none"] = "zero",
) -> Array:
    """Read the power of optical fields with the chip's photodetectors.

    ``P = |E|² + s·|E|·n`` with ``s = chip.tap_noise`` and a fresh ``n ~ N(0, 1)``
    per entry (the tap-noise model of Pai et al. 2023), then negative readings are
    clipped at 0, then ADC quantization on ``2**adc_bits`` levels over
    ``[0, full_scale]`` (:func:`quantize`).

    Parameters
    ----------
    field
        Complex field amplitudes ``(n_samples, n)`` (any shape works), √(power units).
    chip
        ``None`` = ideal detector: returns ``|E|²`` exactly, draws nothing.
    rng
        Draws one standard normal per entry of ``field`` if ``tap_noise > 0``.
    full_scale
        Top of the ADC range in power units; ``None`` = the largest noiseless power
        ``max |E|²`` of this call (one common range for the whole read, as with an
        exposure set for the brightest spot). Readings above the range saturate.
        If the range is 0 (all fields are 0) the ADC step is skipped.
    clip
        ``"zero"``: negative readings become 0 (a photodiode cannot read negative
        power; note this biases the mean upward where ``|E|² ≲ s|E|``, i.e. for
        ``|E| ≲ s``) and the ADC saturates at both ends. ``"none"``: no clipping at
        all — negative readings are kept and the ADC grid extends beyond
        ``[0, full_scale]`` (an unbiased, idealized detector for statistics).

    Returns
    -------
    numpy.ndarray
        Real float64 powers, same shape as ``field``.
    """
    e = _complex_field(field, "field")
    return read_power(np.abs(e) ** 2, chip, rng, full_scale=full_scale, clip=clip)


def read_power(
    power: ArrayLike,
    chip: Chip | None,
    rng: np.random.Generator,
    *,
    full_scale: float | None = None,
    clip: Literal["zero", "none"] = "zero",
) -> Array:
    """What the chip's photodetectors read for noiseless optical powers ``|E|²``.

    The detector model of :func:`detect_power` (tap noise ``s·|E|·n``, clipping, ADC)
    for callers that have the powers and not the fields, as the per-sample in-situ
    passes, which keep only tap powers.

    Parameters
    ----------
    power
        Noiseless powers ``|E|² ≥ 0``, any shape, power units.
    chip, rng, full_scale, clip
        As for :func:`detect_power`.

    Returns
    -------
    numpy.ndarray
        Real float64 readings, same shape as ``power``.
    """
    check_choice(clip, "clip", ("zero", "none"))
    check_chip(chip)
    p = np.asarray(power)
    if p.dtype.kind not in "iuf":
        raise TypeError(f"power must be a real array; got dtype {p.dtype}")
    if p.ndim < 1:
        raise ValueError("power must be an array (n_samples, n); got a scalar")
    check_finite(p, "power")
    if p.size and p.min() < 0:
        raise ValueError(f"power holds negative values (min {p.min()}); powers |E|² are ≥ 0")
    power = p.astype(np.float64, copy=False)
    if chip is None:
        return power.copy()  # a new array, never the caller's
    fs = (
        float(power.max(initial=0.0))
        if full_scale is None
        else check_positive(full_scale, "full_scale")
    )
    reading = power
    if chip.tap_noise > 0:
        noise = check_generator(rng).standard_normal(power.shape)
        reading = power + chip.tap_noise * np.sqrt(np.maximum(power, 0.0)) * noise
    if clip == "zero":
        reading = np.maximum(reading, 0.0)
    if chip.adc_bits is not None and fs > 0:
        reading = quantize(
            reading, chip.adc_bits, fs, out_of_range="clip" if clip == "zero" else "extend"
        )
    return reading.copy() if reading is p else reading


def apply_io_error(field: ArrayLike, chip: Chip | None, rng: np.random.Generator) -> Array:
    """Input/output field error: ``E → |E|(1 + σ_a n₁) · exp(i(∠E + π σ_p n₂))``.

    The convention of Pai et al. 2023, applied to fields injected into or measured
    at the ports of a mesh.

    Parameters
    ----------
    field
        Complex field ``(n_samples, n)`` (any shape works).
    chip
        Supplies ``σ_a = io_amplitude_error`` and ``σ_p = io_phase_error``; ``None``
        (or both zero) returns a copy of ``field`` and draws nothing.
    rng
        Otherwise draws, in order, ``n₁`` then ``n₂``, each one standard normal per
        entry of ``field`` (both drawn even when one σ is 0, so the streams stay
        aligned in sweeps).

    Returns
    -------
    numpy.ndarray
        Complex128, same shape as ``field``.
    """
    e = _complex_field(field, "field")
    check_chip(chip)
    if chip is None or (chip.io_amplitude_error == 0 and chip.io_phase_error == 0):
        return e.copy()
    n_amp = check_generator(rng).standard_normal(e.shape)
    n_phase = rng.standard_normal(e.shape)
    gain = (1 + chip.io_amplitude_error * n_amp) * phasor(np.pi * chip.io_phase_error * n_phase)
    return np.asarray(e * gain, dtype=np.complex128)
