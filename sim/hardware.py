"""Hardware component specifications: frozen dataclasses with cited defaults.

Contract
--------
Every class here is a frozen dataclass of plain numbers (and a few ``Literal``
options) describing one kind of component; ``__post_init__`` validates every field
and raises ``ValueError`` naming the field, the value and what is allowed. Two
top-level records describe a whole machine:

- :class:`PhotonicHardware`: a laser, an input modulator/DAC bank, the programmable
  phase shifters (with their own DAC bank), the mesh optics, an output detector
  bank, tap monitors, a host processor for the digital work, and the host link;
- :class:`DigitalHardware`: one digital processor (GPU or CPU) with a roofline.

Units are in the names (``_ns``, ``_pj``, ``_mw``, ``_w``, ``_hz``,
``_bytes_per_s``). Every default cites its source: ``parameters.md`` is
``shared/reference/parameters.md``; values marked "assumption" have no source in
it and are exposed so a user can change them. Named machines live in preset files
(``sim/presets/*.toml``, read by :func:`sim.presets.load_preset`).

Physics helpers (pure functions): :func:`required_detector_power_mw` (shot plus
thermal noise of a photodiode/TIA at the configured ADC precision),
:func:`mesh_depth` and :func:`mesh_transmission` (optical loss through a mesh), and
:func:`laser_electrical_power_mw` (laser sized so that every detector receives the
power its precision needs).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from digital.validation import check_choice, check_positive_int

__all__ = [
    "ELEMENTARY_CHARGE_C",
    "PRECISION_WORD_BYTES",
    "Camera",
    "DigitalHardware",
    "DigitalProcessor",
    "Hardware",
    "Laser",
    "Link",
    "MeshOptics",
    "Modulator",
    "PassMode",
    "PhaseShifter",
    "Photodetector",
    "PhotonicHardware",
    "Readout",
    "ShifterTechnology",
    "Topology",
    "laser_electrical_power_mw",
    "mesh_depth",
    "mesh_transmission",
    "required_detector_power_mw",
]

#: Elementary charge, C (exact SI value), for the shot noise of a photodiode.
ELEMENTARY_CHARGE_C = 1.602176634e-19
#: Bytes per number at each digital precision a processor may be run at.
PRECISION_WORD_BYTES: Mapping[str, int] = MappingProxyType(
    {"fp64": 8, "fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}
)
#: Largest converter resolution accepted, bits (guards against typos such as 80).
MAX_BITS = 32
#: Unit conversions, shared with :mod:`sim.engine` (one definition each).
MW_PER_W = 1e3
NS_PER_S = 1e9
PICO = 1e-12

ShifterTechnology = Literal["thermo_optic", "mems", "electro_optic"]
Topology = Literal["clements", "reck"]
PassMode = Literal["pipelined", "sequential"]
SHIFTER_TECHNOLOGIES: tuple[str, ...] = get_args(ShifterTechnology)
TOPOLOGIES: tuple[str, ...] = get_args(Topology)
PASS_MODES: tuple[str, ...] = get_args(PassMode)


# --------------------------------------------------------------------------- checks


def _number(
    obj: object, name: str, *, allow_zero: bool = False, at_most: float | None = None
) -> None:
    """Check ``obj.<name>`` is a finite real number > 0 (≥ 0 with ``allow_zero``)."""
    value = getattr(obj, name)
    label = f"{type(obj).__name__}.{name}"
    # numpy scalars count (np.float32 from an array), bools do not
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{label}={value!r} must be a number")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        allowed = "a finite number ≥ 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"{label}={value!r} must be {allowed}")
    if at_most is not None and v > at_most:
        raise ValueError(f"{label}={value!r} must be at most {at_most}")
    object.__setattr__(obj, name, v)


def _count(obj: object, name: str, *, optional: bool = False, at_most: int | None = None) -> None:
    """Check ``obj.<name>`` is an int ≥ 1 (or ``None`` when ``optional``)."""
    value = getattr(obj, name)
    label = f"{type(obj).__name__}.{name}"
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        extra = " (or None)" if optional else ""
        raise ValueError(f"{label}={value!r} must be an int ≥ 1{extra}")
    if at_most is not None and int(value) > at_most:
        raise ValueError(f"{label}={value!r} must be at most {at_most}")
    object.__setattr__(obj, name, int(value))  # a plain int, e.g. from np.int64


def _choice(obj: object, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(obj, name)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"{type(obj).__name__}.{name}={value!r} is not allowed; choose one of: "
            f"{', '.join(allowed)}"
        )


def _label(obj: object, name: str) -> str:
    return f"{type(obj).__name__}.{name}"


# --------------------------------------------------------------------------- optics


@dataclass(frozen=True)
class Laser:
    """The laser that feeds the input modulators: continuous-wave light, charged gated.

    Its output is continuous-wave (the modulators, not the laser, shape the pulses),
    but :mod:`sim.engine` charges it only while light crosses the mesh — in a pass
    from the first modulation to the last reading, during camera exposures and
    ``detect`` ops — not between ops (host work, phase writes and settling, link
    transfers). The engine sizes its power per pass for the width and loss of the
    mesh being lit (:func:`laser_electrical_power_mw`), so its energy is the light the
    passes need; that assumes the source is switched off (drive current cut, or an
    optical gate closed) when no pass needs light. Unlike the phase shifters'
    holding power and the host's static power, it is therefore not a static part
    charged for the whole run: for a laser that stays on, add ``power × (latency − lit
    time)`` to a timeline's ``laser`` energy.

    Parameters
    ----------
    wall_plug_efficiency
        Optical output power / electrical input power, in (0, 1].
    output_power_mw
        Fixed optical output power, mW; ``None`` sizes it for every pass from the
        detectors' required power and the chip's loss
        (:func:`laser_electrical_power_mw`).
    """

    # parameters.md: laser wall-plug efficiency 0.2 (typical, range 0.1–0.3).
    wall_plug_efficiency: float = 0.2
    # Sized from the detectors by default (DESIGN.md §5 / issue 5).
    output_power_mw: float | None = None

    def __post_init__(self) -> None:
        _number(self, "wall_plug_efficiency", at_most=1.0)
        if self.output_power_mw is not None:
            _number(self, "output_power_mw")


@dataclass(frozen=True)
class Modulator:
    """The input encoder: a DAC bank driving one modulator per input port.

    A real amplitude is one DAC sample and one symbol per port; a complex field
    (amplitude and phase, an I/Q modulator: the adjoint and sum passes of in-situ
    training, a layer after a complex activation) is two, I and Q
    (:func:`sim.ops.mesh_pass`, ``inject``).

    Parameters
    ----------
    bits
        DAC resolution, bits (sets the bytes sent over the link per sample).
    dac_energy_pj
        Energy per DAC sample, pJ.
    energy_per_symbol_pj
        Modulator drive energy per analog symbol (per sample: I and Q are two), pJ.
    sample_rate_hz
        Samples per second of each DAC channel, Hz.
    channels
        DAC channels working in parallel; ``None``: one per port, so the I and Q
        samples of a field take two sample periods per vector (:mod:`sim.engine`).
    settling_ns
        Extra time after a sample before the optical input is stable, ns (large
        for thermally tuned input interferometers, ≈ 0 for GHz modulators).
    """

    # parameters.md: DAC resolution 10 bits (typical, 8–12).
    bits: int = 10
    # parameters.md: DAC energy 1 pJ/sample at GS/s (typical, 0.5–2).
    dac_energy_pj: float = 1.0
    # parameters.md: modulator 0.1–1 pJ/bit (Mach–Zehnder); assumption: the middle of
    # that range, and one analog symbol costs one bit's drive swing.
    energy_per_symbol_pj: float = 0.5
    # parameters.md: converter energies are quoted "at GS/s"; 1 GS/s per channel.
    sample_rate_hz: float = 1e9
    # Assumption: one DAC channel per input port.
    channels: int | None = None
    # Assumption: a GHz modulator settles within one sample.
    settling_ns: float = 0.0

    def __post_init__(self) -> None:
        _count(self, "bits", at_most=MAX_BITS)
        _number(self, "dac_energy_pj", allow_zero=True)
        _number(self, "energy_per_symbol_pj", allow_zero=True)
        _number(self, "sample_rate_hz")
        _count(self, "channels", optional=True)
        _number(self, "settling_ns", allow_zero=True)


@dataclass(frozen=True)
class PhaseShifter:
    """The programmable phase shifters of the mesh and the DAC bank that writes them.

    Parameters
    ----------
    technology
        ``"thermo_optic"``, ``"mems"`` or ``"electro_optic"`` (descriptive; the
        numbers below decide the cost).
    holding_power_mw
        Mean static power per shifter while it holds its phase, mW. The engine charges
        it for every shifter whatever its phase: exact on average for phases uniform
        in [0, 2π) (a thermal shifter draws power ∝ phase). A Haar-initialised mesh
        holds less, because its θ lie in [0, π] and mostly near 0: 0.78, 0.66 and
        0.59 of the uniform mean at N = 4, 16 and 64 (Clements, all shifters; 4000,
        400 and 40 draws), so its holding power is overestimated by up to 1.7×.
    settling_ns
        Time after a write before the phase is stable, ns.
    write_energy_pj
        Drive energy per write (e.g. charging the capacitance), pJ.
    dac_bits
        Resolution of the shifter DACs, bits.
    dac_energy_pj
        Energy per DAC sample, pJ.
    dac_rate_hz
        Samples per second per DAC channel, Hz.
    dac_channels
        DAC channels in parallel; ``None``: one per shifter (all written at once).
    """

    technology: ShifterTechnology = "thermo_optic"
    # parameters.md: thermo-optic P_π 25 mW (typical, 1–30). Thermal phase ∝ heater
    # power, so phases uniform in [0, 2π) hold P_2π/2 = P_π on average.
    holding_power_mw: float = 25.0
    # parameters.md: thermo-optic settling 10 µs (typical, 5–100 µs).
    settling_ns: float = 10_000.0
    # Assumption: a heater's energy is its holding power; no separate write energy.
    write_energy_pj: float = 0.0
    # parameters.md: DAC resolution 10 bits (typical, 8–12).
    dac_bits: int = 10
    # parameters.md: DAC energy 1 pJ/sample at GS/s (typical, 0.5–2).
    dac_energy_pj: float = 1.0
    # parameters.md: converter energies are quoted "at GS/s".
    dac_rate_hz: float = 1e9
    # Assumption: one DAC channel per shifter.
    dac_channels: int | None = None

    def __post_init__(self) -> None:
        _choice(self, "technology", SHIFTER_TECHNOLOGIES)
        _number(self, "holding_power_mw", allow_zero=True)
        _number(self, "settling_ns", allow_zero=True)
        _number(self, "write_energy_pj", allow_zero=True)
        _count(self, "dac_bits", at_most=MAX_BITS)
        _number(self, "dac_energy_pj", allow_zero=True)
        _number(self, "dac_rate_hz")
        _count(self, "dac_channels", optional=True)


@dataclass(frozen=True)
class MeshOptics:
    """Optical properties of the MZI mesh chip.

    Parameters
    ----------
    topology
        ``"clements"`` (N MZI columns) or ``"reck"`` (2N − 3 columns): sets the
        optical depth, hence the loss and the propagation delay.
    loss_db_per_mzi
        Insertion loss per MZI crossed, dB.
    coupling_loss_db
        Fibre-to-chip loss per facet (in and out), dB.
    propagation_ns_per_column
        Optical delay per MZI column, ns.
    """

    topology: Topology = "clements"
    # parameters.md: insertion loss 0.2 dB per MZI (typical, 0.1–0.5).
    loss_db_per_mzi: float = 0.2
    # Assumption: 1.5 dB per facet, a typical grating or edge coupler.
    coupling_loss_db: float = 1.5
    # Assumption: ≈ 0.7 mm of silicon waveguide per MZI column at group index ≈ 4.2.
    propagation_ns_per_column: float = 0.01

    def __post_init__(self) -> None:
        _choice(self, "topology", TOPOLOGIES)
        _number(self, "loss_db_per_mzi", allow_zero=True)
        _number(self, "coupling_loss_db", allow_zero=True)
        _number(self, "propagation_ns_per_column", allow_zero=True)


@dataclass(frozen=True)
class Photodetector:
    """A bank of photodiodes with transimpedance amplifiers and ADCs.

    Used for the output detectors and for integrated tap monitors.

    Parameters
    ----------
    responsivity_a_per_w
        Photodiode responsivity, A/W.
    noise_current_pa_per_rthz
        Input-referred noise current density of the TIA, pA/√Hz.
    bits
        ADC resolution, bits: the precision the laser is sized for.
    adc_energy_pj
        Energy per ADC conversion, pJ.
    sample_rate_hz
        Conversions per second per ADC channel, Hz.
    channels
        ADC channels in parallel; ``None``: one per detector (port or tap).
    """

    # parameters.md: photodetector responsivity 1.0 A/W (typical, 0.8–1.1).
    responsivity_a_per_w: float = 1.0
    # Assumption: 10 pA/√Hz, a typical GHz TIA input-referred noise density.
    noise_current_pa_per_rthz: float = 10.0
    # parameters.md: ADC resolution 8 bits (typical, 6–10).
    bits: int = 8
    # parameters.md: ADC energy 2 pJ/conversion at GS/s, 8 bit (typical, 1–10).
    adc_energy_pj: float = 2.0
    # parameters.md: converter energies are quoted "at GS/s".
    sample_rate_hz: float = 1e9
    # Assumption: one ADC per detector.
    channels: int | None = None

    def __post_init__(self) -> None:
        _number(self, "responsivity_a_per_w")
        _number(self, "noise_current_pa_per_rthz", allow_zero=True)
        _count(self, "bits", at_most=MAX_BITS)
        _number(self, "adc_energy_pj", allow_zero=True)
        _number(self, "sample_rate_hz")
        _count(self, "channels", optional=True)

    @property
    def kind(self) -> str:
        """``"photodetector"``."""
        return "photodetector"


@dataclass(frozen=True)
class Camera:
    """An infrared camera imaging the chip's output and/or tap gratings.

    One frame captures every port or tap in view at once.

    Parameters
    ----------
    integration_ns
        Exposure per frame, ns.
    wait_ns
        Dead time per frame (waiting for the setup to settle, frame transfer), ns.
    power_w
        Electrical power while capturing, W.
    bits
        Pixel resolution, bits (bytes sent to the host per read).
    required_power_nw
        Optical power per imaged spot for a usable reading, nW.
    """

    # parameters.md: camera readout (Pai setup) 20 ms integration (verified).
    integration_ns: float = 20e6
    # parameters.md: plus 0.02–0.2 s waits (verified); the lower end.
    wait_ns: float = 20e6
    # Assumption: ≈ 10 W for a cooled InGaAs camera.
    power_w: float = 10.0
    # Assumption: 12-bit pixels.
    bits: int = 12
    # Assumption: 1 nW per spot over a 20 ms exposure is far above the noise floor.
    required_power_nw: float = 1.0

    def __post_init__(self) -> None:
        _number(self, "integration_ns")
        _number(self, "wait_ns", allow_zero=True)
        _number(self, "power_w", allow_zero=True)
        _count(self, "bits", at_most=MAX_BITS)
        _number(self, "required_power_nw")

    @property
    def kind(self) -> str:
        """``"camera"``."""
        return "camera"

    @property
    def frame_ns(self) -> float:
        """Time per frame (integration plus wait), ns."""
        return self.integration_ns + self.wait_ns


Readout = Photodetector | Camera


# --------------------------------------------------------------------------- digital


@dataclass(frozen=True)
class DigitalProcessor:
    """A CPU or GPU described by a roofline and an energy model.

    Time of one ``digital_compute`` op: ``launch_overhead_ns + max(flops / peak,
    bytes / bandwidth)``. Energy: ``flops · energy_per_flop + bytes ·
    energy_per_byte`` plus ``static_power_w`` for as long as the machine runs.

    Parameters
    ----------
    peak_flops_per_s
        Peak FLOP/s per precision, e.g. ``{"bf16": 989e12, "fp32": 67e12}``.
    precision
        The precision the work runs at: a key of both mappings and of
        :data:`PRECISION_WORD_BYTES`.
    energy_per_flop_pj
        Dynamic energy per FLOP per precision, pJ.
    memory_bandwidth_bytes_per_s
        Memory bandwidth, bytes/s.
    energy_per_byte_pj
        Energy per byte moved to or from memory, pJ.
    static_power_w
        Power drawn whether busy or not, W.
    launch_overhead_ns
        Fixed cost of starting one op (kernel launch, call overhead), ns.

    Notes
    -----
    No defaults: the numbers differ by orders of magnitude between machines, so
    they come from a preset (``cpu``, ``gpu-h100``) or the user.
    """

    peak_flops_per_s: Mapping[str, float]
    precision: str
    energy_per_flop_pj: Mapping[str, float]
    memory_bandwidth_bytes_per_s: float
    energy_per_byte_pj: float
    static_power_w: float
    launch_overhead_ns: float

    def __post_init__(self) -> None:
        for name in ("peak_flops_per_s", "energy_per_flop_pj"):
            table = getattr(self, name)
            if not isinstance(table, Mapping) or not table:
                raise ValueError(f"{_label(self, name)}={table!r} must map precisions to numbers")
            checked: dict[str, float] = {}
            for key, value in table.items():
                if key not in PRECISION_WORD_BYTES:
                    raise ValueError(
                        f"{_label(self, name)} has precision {key!r}; allowed: "
                        f"{', '.join(PRECISION_WORD_BYTES)}"
                    )
                ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
                if not ok or not math.isfinite(value) or value < 0:
                    raise ValueError(
                        f"{_label(self, name)}[{key!r}]={value!r} must be a finite number ≥ 0"
                    )
                if name == "peak_flops_per_s" and value == 0:
                    raise ValueError(f"{_label(self, name)}[{key!r}]=0 must be > 0")
                checked[key] = float(value)
            object.__setattr__(self, name, MappingProxyType(checked))
        if not isinstance(self.precision, str):
            raise ValueError(
                f"{_label(self, 'precision')}={self.precision!r} must be the name of one "
                f"precision; choose one of: {', '.join(self.peak_flops_per_s)}"
            )
        if self.precision not in self.peak_flops_per_s:
            raise ValueError(
                f"{_label(self, 'precision')}={self.precision!r} has no peak_flops_per_s "
                f"entry; choose one of: {', '.join(self.peak_flops_per_s)}"
            )
        if self.precision not in self.energy_per_flop_pj:
            raise ValueError(
                f"{_label(self, 'precision')}={self.precision!r} has no energy_per_flop_pj "
                f"entry; choose one of: {', '.join(self.energy_per_flop_pj)}"
            )
        _number(self, "memory_bandwidth_bytes_per_s")
        _number(self, "energy_per_byte_pj", allow_zero=True)
        _number(self, "static_power_w", allow_zero=True)
        _number(self, "launch_overhead_ns", allow_zero=True)

    @property
    def peak_ns_per_flop(self) -> float:
        """Time per FLOP at peak for the selected precision, ns."""
        return NS_PER_S / self.peak_flops_per_s[self.precision]

    @property
    def flop_energy_pj(self) -> float:
        """Dynamic energy per FLOP at the selected precision, pJ."""
        return self.energy_per_flop_pj[self.precision]

    @property
    def word_bytes(self) -> int:
        """Bytes per number at the selected precision."""
        return PRECISION_WORD_BYTES[self.precision]


@dataclass(frozen=True)
class Link:
    """The link between the host and the chip's converters.

    Parameters
    ----------
    bandwidth_bytes_per_s
        Sustained bandwidth, bytes/s.
    energy_per_byte_pj
        Energy per byte sent, pJ.
    latency_ns
        Fixed latency per transfer, ns.
    """

    # PCIe 4.0 ×16: 16 GT/s × 16 lanes × 128/130 ÷ 8 = 31.5 GB/s (PCIe 4.0 spec).
    bandwidth_bytes_per_s: float = 31.5e9
    # Assumption: ≈ 5 pJ/bit for a board-level SerDes link.
    energy_per_byte_pj: float = 40.0
    # Assumption: ≈ 1 µs per transfer through a driver.
    latency_ns: float = 1_000.0

    def __post_init__(self) -> None:
        _number(self, "bandwidth_bytes_per_s")
        _number(self, "energy_per_byte_pj", allow_zero=True)
        _number(self, "latency_ns", allow_zero=True)


# --------------------------------------------------------------------------- machines


@dataclass(frozen=True)
class PhotonicHardware:
    """A photonic MZI-mesh processor with its converters, monitors and host.

    Parameters
    ----------
    name
        Preset or user name.
    host
        The digital processor running ``digital_compute`` ops (activations, loss,
        optimizer).
    laser
        The light source (:class:`Laser`).
    modulator
        The input DAC and modulator bank (:class:`Modulator`).
    phase_shifter
        The programmable phase shifters and their DAC bank (:class:`PhaseShifter`).
    mesh
        The mesh optics: topology, loss, propagation delay (:class:`MeshOptics`).
    detector
        The output read-out, a :class:`Photodetector` bank or a :class:`Camera`.
    taps
        The tap monitors' read-out, a :class:`Photodetector` bank or a :class:`Camera`.
    link
        The host–converter link (:class:`Link`).
    pass_mode
        ``"pipelined"``: the DAC, optics and ADC stages of a batched pass overlap
        (streaming converters); ``"sequential"``: each input vector is set, imaged
        and read before the next (a camera must expose while the input is held).
    taps_in_detector_frame
        True when the tap monitors and the outputs are imaged in the same camera
        frame (Pai et al. 2023): a ``tap_readout`` right after a ``mesh_pass`` of
        the same layer then needs no new frames.
    description
        Free text.
    """

    name: str
    host: DigitalProcessor
    laser: Laser = field(default_factory=Laser)
    modulator: Modulator = field(default_factory=Modulator)
    phase_shifter: PhaseShifter = field(default_factory=PhaseShifter)
    mesh: MeshOptics = field(default_factory=MeshOptics)
    detector: Readout = field(default_factory=Photodetector)
    taps: Readout = field(default_factory=Photodetector)
    link: Link = field(default_factory=Link)
    # Assumption: streaming GHz converters pipeline a batch.
    pass_mode: PassMode = "pipelined"
    taps_in_detector_frame: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self)
        for name, cls in (
            ("host", DigitalProcessor),
            ("laser", Laser),
            ("modulator", Modulator),
            ("phase_shifter", PhaseShifter),
            ("mesh", MeshOptics),
            ("link", Link),
        ):
            _check_type(self, name, cls)
        for name in ("detector", "taps"):
            _check_type(self, name, (Photodetector, Camera))
        _choice(self, "pass_mode", PASS_MODES)
        if not isinstance(self.taps_in_detector_frame, bool):
            raise ValueError(
                f"{_label(self, 'taps_in_detector_frame')}={self.taps_in_detector_frame!r} "
                "must be true or false"
            )
        if self.taps_in_detector_frame and not (
            isinstance(self.detector, Camera) and isinstance(self.taps, Camera)
        ):
            raise ValueError(
                "PhotonicHardware.taps_in_detector_frame=True needs a camera as both "
                "detector and taps"
            )

    @property
    def kind(self) -> str:
        """``"photonic"``."""
        return "photonic"


@dataclass(frozen=True)
class DigitalHardware:
    """A digital accelerator (GPU) or CPU running every op as ``digital_compute``.

    Parameters
    ----------
    name
        Preset or user name.
    processor
        Its roofline and energy model.
    description
        Free text.
    """

    name: str
    processor: DigitalProcessor
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self)
        _check_type(self, "processor", DigitalProcessor)

    @property
    def kind(self) -> str:
        """``"digital"``."""
        return "digital"


Hardware = PhotonicHardware | DigitalHardware


def _check_name(obj: Any) -> None:
    if not isinstance(obj.name, str) or not obj.name.strip():
        raise ValueError(f"{_label(obj, 'name')}={obj.name!r} must be a non-empty string")
    if not isinstance(obj.description, str):
        raise ValueError(f"{_label(obj, 'description')}={obj.description!r} must be a string")


def _check_type(obj: object, name: str, cls: type | tuple[type, ...]) -> None:
    value = getattr(obj, name)
    if not isinstance(value, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise ValueError(f"{_label(obj, name)} must be a {names}; got {type(value).__name__}")


# --------------------------------------------------------------------------- physics


def _check_argument(value: object, name: str, cls: type | tuple[type, ...]) -> None:
    """``TypeError`` naming ``name`` unless ``value`` is an instance of ``cls``."""
    if not isinstance(value, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise TypeError(f"{name} is a {type(value).__name__}; expected a {names}")


def required_detector_power_mw(readout: Readout) -> float:
    """Mean optical power one detector needs for its configured precision, mW.

    Photodiode + TIA: the amplitude signal-to-noise ratio must reach ``2**bits``
    (one noise standard deviation per ADC level; an assumption) in the Nyquist
    bandwidth ``B = sample_rate_hz / 2``, with shot noise ``2 q I B`` and TIA noise
    ``i_n² B``. Solving ``I² = s² (2 q I B + i_n² B)`` for the photocurrent ``I``::

        I = s² q B + sqrt((s² q B)² + s² i_n² B),    P = I / responsivity

    Camera: its ``required_power_nw``.

    Parameters
    ----------
    readout
        A :class:`Photodetector` or :class:`Camera`.

    Returns
    -------
    float
        Optical power per detector, mW.
    """
    _check_argument(readout, "readout", (Photodetector, Camera))
    if isinstance(readout, Camera):
        return readout.required_power_nw * 1e-6
    snr = 2.0**readout.bits
    bandwidth_hz = readout.sample_rate_hz / 2
    shot = snr**2 * ELEMENTARY_CHARGE_C * bandwidth_hz
    noise_a2 = snr**2 * (readout.noise_current_pa_per_rthz * PICO) ** 2 * bandwidth_hz
    current_a = shot + math.sqrt(shot**2 + noise_a2)
    return current_a / readout.responsivity_a_per_w * MW_PER_W


def mesh_depth(n_ports: int, topology: Topology, *, meshes: int = 1) -> int:
    """MZI columns of an ``n_ports`` mesh, as :class:`photonic.mesh.Mesh` lays it out,
    or of ``meshes`` of them in series with an attenuator column between each two.

    Clements: N columns, except N = 2, whose second column would be empty (one
    column); Reck: 2N − 3. These are ``Mesh(n_ports, topology).n_columns``, computed
    without building the layout (this module does not import the photonic package;
    a test checks that the two agree). A 1-port op is charged one column. An SVD
    layer (``meshes=2``: ``V``, the attenuator column ``Σ``, ``U``) crosses
    ``2·depth + 1`` columns: the attenuators are MZIs too, with their insertion loss
    and their propagation delay.

    Parameters
    ----------
    n_ports
        Optical ports N of the mesh, an int ≥ 1.
    topology
        ``"clements"`` or ``"reck"``.
    meshes
        Meshes in series, an int ≥ 1 (default 1).

    Returns
    -------
    int
        Number of MZI columns crossed, ``meshes·depth + meshes − 1`` ≥ 1.

    Raises
    ------
    ValueError
        ``n_ports`` or ``meshes`` not an int ≥ 1, or ``topology`` not ``"clements"``
        or ``"reck"``.
    """
    n = check_positive_int(n_ports, "n_ports")
    check_choice(topology, "topology", TOPOLOGIES)
    meshes = check_positive_int(meshes, "meshes")
    depth = (n if n >= 3 else 1) if topology == "clements" else max(2 * n - 3, 1)
    return meshes * depth + meshes - 1


def mesh_transmission(n_ports: int, optics: MeshOptics, *, meshes: int = 1) -> float:
    """Fraction of the input power reaching the outputs: both facets plus every column.

    Uses the deepest path (every MZI column crossed), a conservative estimate.

    Parameters
    ----------
    n_ports
        Optical ports N of the mesh, an int ≥ 1 (sets the depth, :func:`mesh_depth`).
    optics
        The mesh's topology, ``loss_db_per_mzi`` and ``coupling_loss_db`` (per facet).
    meshes
        Meshes crossed in series on the chip, an int ≥ 1 (2 for an SVD layer's ``V``
        and ``U``): the facets once, the columns of every mesh and the attenuator
        column between each two (:func:`mesh_depth`), at their insertion loss; the
        attenuators' own, signal-dependent attenuation is not counted (σ = 1).

    Returns
    -------
    float
        Power transmission in (0, 1]:
        ``10^(−(2·coupling_loss_db + columns·loss_db_per_mzi) / 10)``, ``columns`` =
        ``mesh_depth(n_ports, topology, meshes=meshes)``.

    Raises
    ------
    TypeError
        If ``optics`` is not a :class:`MeshOptics`.
    ValueError
        If ``n_ports`` is not an int ≥ 1, or the loss is so large (≈ 3200 dB) that the
        transmission is below the smallest float64.
    """
    _check_argument(optics, "optics", MeshOptics)
    columns = mesh_depth(n_ports, optics.topology, meshes=meshes)
    loss_db = 2 * optics.coupling_loss_db + columns * optics.loss_db_per_mzi
    transmission = float(10.0 ** (-loss_db / 10.0))
    if transmission == 0.0:  # underflow: a laser sized by 1/T would divide by zero
        raise ValueError(
            f"n_ports={n_ports}: {columns} {optics.topology} columns × "
            f"loss_db_per_mzi={optics.loss_db_per_mzi:g} plus 2 × coupling_loss_db="
            f"{optics.coupling_loss_db:g} is {loss_db:.5g} dB of loss, which transmits less "
            "than the smallest float64 (about 3200 dB at most); use fewer ports or less loss"
        )
    return transmission


def laser_electrical_power_mw(
    n_ports: int, hardware: PhotonicHardware, *, meshes: int = 1
) -> float:
    """Electrical power of the laser while an ``n_ports`` mesh (or ``meshes`` of them in
    series) is lit, mW.

    With ``laser.output_power_mw = None`` the optical power is sized so that each
    of the ``n_ports`` detectors receives :func:`required_detector_power_mw` after
    the chip's loss: ``P_opt = n_ports · P_det / T``; the electrical power is
    ``P_opt / wall_plug_efficiency``.

    Parameters
    ----------
    n_ports
        Optical ports N of the lit mesh, an int ≥ 1 (checked even when the laser's
        output power is fixed, which it then does not change).
    hardware
        The machine: its ``laser``, its output ``detector`` (:func:`required_detector_power_mw`)
        and its ``mesh`` optics (:func:`mesh_transmission`).
    meshes
        Meshes the light crosses in series before the detectors, an int ≥ 1
        (:func:`mesh_transmission`).

    Returns
    -------
    float
        Electrical power of the laser, mW; with a fixed ``laser.output_power_mw``,
        that power divided by ``wall_plug_efficiency``.

    Raises
    ------
    ValueError
        If ``n_ports`` is not an int ≥ 1, or the mesh's loss is so large that the laser
        power is beyond float64 (:func:`mesh_transmission`; at 0.2 dB per MZI, a
        Clements mesh of about 15 000 ports).
    TypeError
        If ``hardware`` is not a :class:`PhotonicHardware`.
    """
    n_ports = check_positive_int(n_ports, "n_ports")
    _check_argument(hardware, "hardware", PhotonicHardware)
    laser = hardware.laser
    if laser.output_power_mw is not None:
        optical_mw = laser.output_power_mw
    else:
        per_detector = required_detector_power_mw(hardware.detector)
        transmission = mesh_transmission(n_ports, hardware.mesh, meshes=meshes)
        optical_mw = n_ports * per_detector / transmission
    electrical_mw = optical_mw / laser.wall_plug_efficiency
    if not math.isfinite(electrical_mw):
        raise ValueError(
            f"n_ports={n_ports}: the laser of {hardware.name!r} would draw more power than "
            f"float64 holds ({optical_mw:.3g} mW of light at wall-plug efficiency "
            f"{laser.wall_plug_efficiency:g}); use fewer ports or less loss"
        )
    return electrical_mw
