"""Replay an op trace through a hardware model with SimPy: time and energy of every pass.

Contract
--------
``simulate(ops, hardware) -> Timeline``. The ops (:class:`sim.ops.Op`) are replayed
in trace order — a trace is a program, each op consumes the previous op's result —
so op ``i + 1`` starts when op ``i`` ends. Each op is one SimPy process that holds
the resources it needs (DAC bank, laser, mesh, detector/ADC bank, tap monitors or
camera, phase-shifter DACs, host link, host processor) for the spans its
:class:`OpPlan` gives, and writes a ledger of :class:`LedgerEntry`
``(start_ns, end_ns, component, energy_pj, op_index)``. SimPy time is nanoseconds,
the ledger is in picojoules.

Ops run strictly one after another: no op starts before the previous one has
ended, so two ops never hold a resource at the same time and the resources are never
contended between ops (the holds of one op take different resources, so nothing ever
waits for one; they record who is busy when). What overlaps is within one op: the
stages of one batched ``mesh_pass`` in ``pass_mode="pipelined"`` (link, DACs, optics
and detectors working on successive vectors of the batch), and the reads and link
transfer of a pipelined ``tap_readout``. Host work never overlaps optical work, nor
one layer's passes the next layer's: the latency is that of a controller doing one op
at a time, and a controller that overlapped independent ops could be faster than the
model says.

Energy = per-event energies (DAC samples, modulations, ADC reads, camera frames,
phase writes, FLOPs, bytes) + power × time for the static parts: the laser while
the mesh is lit, the phase shifters' holding power and the host's (or digital
processor's) static power for the whole run.

The laser is modelled as gated: it is charged (and held) only while light crosses
the mesh — in a ``mesh_pass`` from its first modulation to its last reading, during
a camera's exposures of taps, during a ``detect`` — and draws nothing in between
(host work, phase writes and settling, link transfers). Why: its power is sized per
pass, for the width N of the mesh being lit and that mesh's loss
(:func:`sim.hardware.laser_electrical_power_mw`), so a trace's passes of different
widths each pay for the light they need, and the laser's energy is the light the
work uses, whatever the host and the shifters do in between. It assumes the source
is switched off (drive current cut, or an optical gate closed) between passes. A
continuous-wave laser left on for the whole run costs more: add ``laser power ×
(latency − lit time)`` at the power of the widest mesh. DESIGN.md §5 counts the laser
among the parts charged power × time; the time here is the lit time, not the run's.
The :class:`~sim.hardware.Laser` docstring says the same.

How each op kind costs on photonic hardware (N = ``op.n_ports``; the count
conventions are in :mod:`sim.ops`):

- ``mesh_pass``: ``passes`` vectors stream through four stages — link (the input
  samples and the readings, one fixed latency per op), input DACs + modulators
  (``ceil(samples / channels)`` DAC periods per vector, plus the modulator
  settling), optics (``columns × propagation_ns_per_column``, a pure delay, the
  columns of ``op.meshes`` meshes and the attenuator columns between them,
  :func:`sim.hardware.mesh_depth`) and
  detectors (ADC periods, or one camera frame per vector). ``pass_mode="pipelined"``:
  ``fill + (passes − 1) × slowest stage``; ``"sequential"``: ``passes × (sum of
  stages)``. The laser is on from the first modulation to the last reading, at the
  power :func:`sim.hardware.laser_electrical_power_mw` sizes for N and ``op.meshes``.

  The samples per vector are N for ``inject="amplitude"`` and 2N for ``"field"``
  (I and Q of an I/Q modulator at every port): a field costs twice the DAC energy,
  modulator symbols and input link bytes of an amplitude. Time follows the
  modulator's ``channels``: ``None`` is one DAC channel per port, so a field's 2N
  samples take two DAC periods per vector — the port's DAC sets the I drive, then
  the Q drive, each held by the modulator's driver until the vector has passed (the
  modulator settles once, after the last sample). This is the convention of the exit
  side, where the I and Q reads of a field read take two ADC periods on one ADC per
  port; a chip with a DAC per drive (2N channels) converts a field in one period
  (give ``channels`` explicitly). The choice matters only where the DACs pace a
  pipelined pass; a sum pass (nothing read at the exit) is one.
- ``tap_readout``: ``ceil(reads / channels)`` ADC periods of the tap photodiodes (the
  taps integrated during the pass, so no light is needed), or one camera frame per
  tap vector with the laser on — none if ``taps_in_detector_frame`` and the frames of
  a pass already hold the taps: the previous op was a ``mesh_pass`` of the same layer
  and direction that read its outputs, or, for ``direction="forward"`` taps, the layer's latest
  forward pass read its outputs and no ``phase_update`` of the layer came since (the
  taps of an inference pass read later, during the backward pass; each pass's
  frames serve one forward tap read-out).
  Then the link.
- ``phase_update``: link, ``ceil(writes / channels)`` DAC periods, then the shifters'
  settling; the mesh is held (unusable) until they settle. Consecutive writes (every
  layer's update after an optimizer step, a finite-difference shifter restored and the
  next one perturbed) settle once, after the last of them: no light passes between
  them, so the shifters written first settle while the next are written.
- ``detect``: output reads as in a pass, with the laser on.
- ``digital_compute``: the host's roofline, ``launch + max(flops / peak,
  bytes / bandwidth)``, with ``bytes`` rescaled from float64 words to the host's
  precision.

On :class:`~sim.hardware.DigitalHardware` only ``digital_compute`` ops are allowed;
they cost the processor's roofline the same way.

Every op's duration is also split along its critical path into components
(:attr:`Timeline.time_by_component_ns`), so "where the time goes" sums exactly to
the latency.

The ``passes`` of a mesh pass are not separate SimPy events: a batch of B vectors
costs the same few events as one vector, which is what lets a 100,000-op trace
replay in seconds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import simpy

from digital.validation import check_choice
from sim.hardware import (
    MW_PER_W,
    NS_PER_S,
    Camera,
    DigitalHardware,
    DigitalProcessor,
    Hardware,
    PhotonicHardware,
    Readout,
    laser_electrical_power_mw,
    mesh_depth,
)
from sim.ops import BYTES_PER_REAL, SAMPLES_PER_PORT, Op

__all__ = [
    "DIGITAL_COMPONENTS",
    "PHOTONIC_COMPONENTS",
    "TIME_COMPONENTS",
    "Hold",
    "LedgerEntry",
    "OpPlan",
    "Timeline",
    "count_shifters",
    "plan_op",
    "simulate",
]

BITS_PER_BYTE = 8
PHOTONIC_KINDS = ("mesh_pass", "tap_readout", "phase_update", "detect")

#: Ledger components of photonic hardware and what each one's energy is.
PHOTONIC_COMPONENTS: Mapping[str, str] = {
    "laser": "laser wall-plug power while the mesh is lit",
    "input_dac": "DAC samples that set the inputs (an amplitude, or a field's I and Q)",
    "modulator": "input modulator drive",
    "detector_adc": "ADC reads of the output photodiodes",
    "tap_adc": "ADC reads of the tap photodiodes",
    "camera": "camera power while exposing frames (outputs and/or taps)",
    "phase_dac": "DAC samples that write the phase shifters",
    "phase_drive": "phase-shifter write (drive) energy",
    "phase_hold": "phase-shifter holding power, whole run",
    "link": "bytes over the host link",
    "host_compute": "host FLOPs",
    "host_memory": "host memory traffic",
    "host_static": "host static power, whole run",
    "mesh": "occupation of the mesh (no energy of its own)",
}
#: Ledger components of digital hardware.
DIGITAL_COMPONENTS: Mapping[str, str] = {
    "compute": "FLOPs",
    "memory": "memory traffic",
    "static": "static power, whole run",
}
#: Components that charge a machine's idle (static) power over the whole run: what is
#: left without them is the energy the work itself costs.
STATIC_COMPONENTS: tuple[str, ...] = ("host_static", "static")
#: Time-only components of the critical-path split (no ledger energy of their own).
TIME_ONLY_COMPONENTS = (
    "modulator_settling",
    "optics",
    "phase_settling",
    "host_launch",
    "launch",
)
#: Every name a critical-path time split (:attr:`Timeline.time_by_component_ns`) can hold.
TIME_COMPONENTS: tuple[str, ...] = (
    *PHOTONIC_COMPONENTS,
    *DIGITAL_COMPONENTS,
    *TIME_ONLY_COMPONENTS,
)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One interval of one component.

    Attributes
    ----------
    start_ns, end_ns
        When the component was held (or drew power), ns from the start of the run.
    component
        A key of :data:`PHOTONIC_COMPONENTS` or :data:`DIGITAL_COMPONENTS`.
    energy_pj
        Energy it used in that interval, pJ.
    op_index
        Index of the op in the trace.
    """

    start_ns: float
    end_ns: float
    component: str
    energy_pj: float
    op_index: int


@dataclass(frozen=True, slots=True)
class Hold:
    """One resource held by an op: from ``offset_ns`` after the op starts, for ``span_ns``.

    Attributes
    ----------
    resource
        Name of the resource (e.g. ``"laser"``, ``"processor"``).
    offset_ns
        When the hold starts, ns after the op starts.
    span_ns
        How long it holds the resource, ns.
    energies
        ``(component, energy_pj)`` pairs written to the ledger when the hold ends.
    """

    resource: str
    offset_ns: float
    span_ns: float
    energies: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class OpPlan:
    """What one op does on one machine: its duration, holds, static power and time split.

    Attributes
    ----------
    duration_ns
        From the op's start to its end.
    holds
        Resources held and the energy each hold costs.
    static_mw
        ``(component, power_mw)`` drawn for the whole duration (energy pJ =
        power mW × duration ns).
    time_by_component_ns
        The duration split along the critical path; sums to ``duration_ns``.
    """

    duration_ns: float
    holds: tuple[Hold, ...]
    static_mw: tuple[tuple[str, float], ...]
    time_by_component_ns: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Timeline:
    """The result of :func:`simulate`.

    Attributes
    ----------
    hardware
        Name of the machine.
    entries
        The ledger, in the order intervals ended.
    op_start_ns, op_end_ns
        Start and end of every op, ns.
    op_time_by_component_ns
        Critical-path split of every op's duration.
    n_events
        SimPy events processed (for events-per-second figures).
    latency_ns
        End of the last op, ns.
    energy_pj
        Total energy, pJ (the sum of :attr:`energy_by_component_pj`).
    energy_by_component_pj
        Energy per component, pJ.
    time_by_component_ns
        Critical-path time per component, ns; sums to :attr:`latency_ns`.
    """

    hardware: str
    entries: tuple[LedgerEntry, ...]
    op_start_ns: tuple[float, ...]
    op_end_ns: tuple[float, ...]
    op_time_by_component_ns: tuple[tuple[tuple[str, float], ...], ...]
    n_events: int
    latency_ns: float = field(init=False)
    energy_pj: float = field(init=False)
    energy_by_component_pj: dict[str, float] = field(init=False)
    time_by_component_ns: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        by_component: dict[str, float] = defaultdict(float)
        for entry in self.entries:
            by_component[entry.component] += entry.energy_pj
        time_split: dict[str, float] = defaultdict(float)
        for split in self.op_time_by_component_ns:
            for name, t in split:
                time_split[name] += t
        object.__setattr__(self, "latency_ns", self.op_end_ns[-1] if self.op_end_ns else 0.0)
        object.__setattr__(self, "energy_by_component_pj", dict(by_component))
        object.__setattr__(self, "energy_pj", float(math.fsum(by_component.values())))
        object.__setattr__(self, "time_by_component_ns", dict(time_split))

    @property
    def n_ops(self) -> int:
        """Number of ops replayed."""
        return len(self.op_start_ns)

    def op_energy_pj(self) -> list[float]:
        """Energy of every op.

        Returns
        -------
        list of float
            The sum of each op's ledger entries, pJ, in trace order.
        """
        out = [0.0] * self.n_ops
        for entry in self.entries:
            out[entry.op_index] += entry.energy_pj
        return out

    def op_duration_ns(self) -> list[float]:
        """Duration of every op.

        Returns
        -------
        list of float
            End minus start of each op, ns, in trace order.
        """
        return [e - s for s, e in zip(self.op_start_ns, self.op_end_ns, strict=True)]


# --------------------------------------------------------------------------- planning


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _period_ns(rate_hz: float) -> float:
    return NS_PER_S / rate_hz


def _roofline(
    op: Op, proc: DigitalProcessor, *, compute: str, memory: str, launch: str, resource: str
) -> tuple[float, Hold, tuple[tuple[str, float], ...]]:
    bytes_hw = op.bytes * proc.word_bytes / BYTES_PER_REAL
    t_compute = op.flops * proc.peak_ns_per_flop
    t_memory = bytes_hw / proc.memory_bandwidth_bytes_per_s * NS_PER_S
    duration = proc.launch_overhead_ns + max(t_compute, t_memory)
    hold = Hold(
        resource,
        0.0,
        duration,
        ((compute, op.flops * proc.flop_energy_pj), (memory, bytes_hw * proc.energy_per_byte_pj)),
    )
    bound = compute if t_compute >= t_memory else memory
    split = ((launch, proc.launch_overhead_ns), (bound, max(t_compute, t_memory)))
    return duration, hold, split


def _readout_ns(readout: Readout, reads: int, *, group: int) -> tuple[float, int]:
    """Time of ``reads`` reads (groups of ``group`` are one camera frame) and the frames."""
    if reads <= 0:
        return 0.0, 0
    if isinstance(readout, Camera):
        frames = _ceil_div(reads, max(group, 1))
        return frames * readout.frame_ns, frames
    channels = readout.channels or max(group, 1)
    return _ceil_div(reads, channels) * _period_ns(readout.sample_rate_hz), 0


def _readout_energy(readout: Readout, reads: int, frames: int, component: str) -> tuple[str, float]:
    if isinstance(readout, Camera):
        return "camera", readout.power_w * MW_PER_W * frames * readout.frame_ns
    return component, reads * readout.adc_energy_pj


class _Planner:
    """Turns ops into :class:`OpPlan`s for one machine, caching repeated ops."""

    def __init__(self, hardware: Hardware, n_shifters: int) -> None:
        self.hw = hardware
        self.n_shifters = n_shifters
        self._cache: dict[tuple[Op, bool, bool], OpPlan] = {}
        self._laser_mw: dict[tuple[int, int], float] = {}
        self.static: tuple[tuple[str, float], ...]
        if isinstance(hardware, PhotonicHardware):
            self.static = (
                ("phase_hold", n_shifters * hardware.phase_shifter.holding_power_mw),
                ("host_static", hardware.host.static_power_w * MW_PER_W),
            )
        else:
            self.static = (("static", hardware.processor.static_power_w * MW_PER_W),)

    def plan(self, op: Op, shared_frame: bool = False, settle: bool = True) -> OpPlan:
        key = (op, shared_frame, settle)
        plan = self._cache.get(key)
        if plan is None:
            plan = self._plan(op, shared_frame, settle)
            self._cache[key] = plan
        return plan

    def laser_mw(self, n_ports: int, meshes: int = 1) -> float:
        value = self._laser_mw.get((n_ports, meshes))
        if value is None:
            assert isinstance(self.hw, PhotonicHardware)
            value = laser_electrical_power_mw(n_ports, self.hw, meshes=meshes)
            self._laser_mw[(n_ports, meshes)] = value
        return value

    def _plan(self, op: Op, shared_frame: bool, settle: bool) -> OpPlan:
        hw = self.hw
        if isinstance(hw, DigitalHardware):
            duration, hold, split = _roofline(
                op,
                hw.processor,
                compute="compute",
                memory="memory",
                launch="launch",
                resource="processor",
            )
            return OpPlan(duration, (hold,), self.static, split)
        if op.kind == "digital_compute":
            duration, hold, split = _roofline(
                op,
                hw.host,
                compute="host_compute",
                memory="host_memory",
                launch="host_launch",
                resource="host",
            )
            return OpPlan(duration, (hold,), self.static, split)
        if op.kind == "mesh_pass":
            return self._mesh_pass(op, hw)
        if op.kind == "tap_readout":
            return self._tap_readout(op, hw, shared_frame)
        if op.kind == "phase_update":
            return self._phase_update(op, hw, settle)
        return self._detect(op, hw)

    # -- photonic op kinds -----------------------------------------------------------

    def _link_ns(self, hw: PhotonicHardware, n_bytes: float) -> float:
        return n_bytes / hw.link.bandwidth_bytes_per_s * NS_PER_S

    def _mesh_pass(self, op: Op, hw: PhotonicHardware) -> OpPlan:
        n = op.n_ports
        vectors = max(op.passes, 1)
        reads = _output_reads(op)
        samples = op.conversions - reads
        samples_v = _ceil_div(samples, vectors)
        reads_v = _ceil_div(reads, vectors)
        mod, det = hw.modulator, hw.detector
        t_dac = _ceil_div(samples_v, mod.channels or max(n, 1)) * _period_ns(mod.sample_rate_hz)
        t_settle = mod.settling_ns if samples_v > 0 else 0.0
        t_in = t_dac + t_settle
        columns = mesh_depth(n, hw.mesh.topology, meshes=op.meshes)  # SVD: V, Σ, U
        t_opt = columns * hw.mesh.propagation_ns_per_column
        t_det, frames_v = _readout_ns(det, reads_v, group=n)  # per vector
        n_bytes = (samples * mod.bits + reads * det.bits) / BITS_PER_BYTE
        t_link = self._link_ns(hw, n_bytes / vectors)
        latency = hw.link.latency_ns if n_bytes > 0 else 0.0
        det_name = "camera" if isinstance(det, Camera) else "detector_adc"
        if hw.pass_mode == "pipelined":
            slowest = max(t_link, t_in, t_det)
            extra = (vectors - 1) * slowest
            duration = latency + t_link + t_in + t_opt + t_det + extra
            link_span = latency + t_link + extra
            in_span = t_in + extra
            det_span = t_det + extra
            split = {
                "link": latency + t_link,
                "input_dac": t_dac,
                "modulator_settling": t_settle,
                "optics": t_opt,
                det_name: t_det,
            }
            if extra > 0:
                if slowest == t_in:
                    split["input_dac"] += extra * t_dac / t_in
                    split["modulator_settling"] += extra * t_settle / t_in
                elif slowest == t_det:
                    split[det_name] += extra
                else:
                    split["link"] += extra
        else:
            per_vector = t_link + t_in + t_opt + t_det
            duration = latency + vectors * per_vector
            before = (vectors - 1) * per_vector
            link_span = latency + before + t_link
            in_span = before + t_in
            det_span = before + t_det
            split = {
                "link": latency + vectors * t_link,
                "input_dac": vectors * t_dac,
                "modulator_settling": vectors * t_settle,
                "optics": vectors * t_opt,
                det_name: vectors * t_det,
            }
        lit_start = latency + t_link
        lit_span = duration - lit_start
        frames = vectors * frames_v  # a camera's frames; I and Q of a field read are two
        holds = (
            Hold("link", 0.0, link_span, (("link", n_bytes * hw.link.energy_per_byte_pj),)),
            Hold(
                "dac_bank",
                lit_start,
                in_span,
                (
                    ("input_dac", samples * mod.dac_energy_pj),
                    ("modulator", samples * mod.energy_per_symbol_pj),
                ),
            ),
            Hold(
                "laser",
                lit_start,
                lit_span,
                (("laser", self.laser_mw(n, op.meshes) * lit_span),),
            ),
            Hold("mesh", lit_start, lit_span, (("mesh", 0.0),)),
            Hold(
                "camera" if hw.taps_in_detector_frame else "detectors",
                duration - det_span,
                det_span,
                (_readout_energy(det, reads, frames, "detector_adc"),),
            ),
        )
        return OpPlan(duration, holds, self.static, _items(split))

    def _tap_readout(self, op: Op, hw: PhotonicHardware, shared_frame: bool) -> OpPlan:
        taps = hw.taps
        reads = op.conversions or op.n_phases * op.n_samples
        group = op.n_phases or reads
        if isinstance(taps, Camera) and shared_frame:
            t_read, frames = 0.0, 0
        else:
            t_read, frames = _readout_ns(taps, reads, group=group)
        n_bytes = reads * taps.bits / BITS_PER_BYTE
        t_link = self._link_ns(hw, n_bytes)
        latency = hw.link.latency_ns if n_bytes > 0 else 0.0
        tap_name = "camera" if isinstance(taps, Camera) else "tap_adc"
        if hw.pass_mode == "pipelined" and not isinstance(taps, Camera):
            # The reads stream out over the link while the ADCs convert.
            duration = latency + max(t_read, t_link)
            link_offset, link_span = 0.0, duration
            if t_read >= t_link:
                split = {"link": latency, tap_name: t_read}
            else:
                split = {"link": latency + t_link}
        else:
            duration = t_read + latency + t_link
            link_offset, link_span = t_read, latency + t_link
            split = {tap_name: t_read, "link": latency + t_link}
        holds = [
            Hold(
                "camera" if hw.taps_in_detector_frame else "taps",
                0.0,
                t_read,
                (_readout_energy(taps, reads, frames, "tap_adc"),),
            ),
            Hold("link", link_offset, link_span, (("link", n_bytes * hw.link.energy_per_byte_pj),)),
        ]
        if frames > 0:  # a camera needs the light on while it exposes
            holds.append(
                Hold("laser", 0.0, t_read, (("laser", self.laser_mw(op.n_ports) * t_read),))
            )
            holds.append(Hold("mesh", 0.0, t_read, (("mesh", 0.0),)))
        return OpPlan(duration, tuple(holds), self.static, _items(split))

    def _phase_update(self, op: Op, hw: PhotonicHardware, settle: bool) -> OpPlan:
        ps = hw.phase_shifter
        writes = _writes(op)
        n_bytes = writes * ps.dac_bits / BITS_PER_BYTE
        t_link = self._link_ns(hw, n_bytes)
        latency = hw.link.latency_ns if n_bytes > 0 else 0.0
        if writes > 0:
            t_write = _ceil_div(writes, ps.dac_channels or writes) * _period_ns(ps.dac_rate_hz)
            t_settle = ps.settling_ns if settle else 0.0  # else the next write's settling
        else:
            t_write = t_settle = 0.0
        start = latency + t_link
        duration = start + t_write + t_settle
        holds = (
            Hold("link", 0.0, start, (("link", n_bytes * hw.link.energy_per_byte_pj),)),
            Hold(
                "phase_dacs",
                start,
                t_write,
                (
                    ("phase_dac", writes * ps.dac_energy_pj),
                    ("phase_drive", writes * ps.write_energy_pj),
                ),
            ),
            Hold("mesh", start, t_write + t_settle, (("mesh", 0.0),)),
        )
        split = {"link": start, "phase_dac": t_write, "phase_settling": t_settle}
        return OpPlan(duration, holds, self.static, _items(split))

    def _detect(self, op: Op, hw: PhotonicHardware) -> OpPlan:
        det = hw.detector
        reads = op.conversions or op.n_ports * op.n_samples
        t_read, frames = _readout_ns(det, reads, group=op.n_ports)
        n_bytes = reads * det.bits / BITS_PER_BYTE
        t_link = self._link_ns(hw, n_bytes)
        latency = hw.link.latency_ns if n_bytes > 0 else 0.0
        duration = t_read + latency + t_link
        det_name = "camera" if isinstance(det, Camera) else "detector_adc"
        holds = (
            Hold(
                "camera" if hw.taps_in_detector_frame else "detectors",
                0.0,
                t_read,
                (_readout_energy(det, reads, frames, "detector_adc"),),
            ),
            Hold("laser", 0.0, t_read, (("laser", self.laser_mw(op.n_ports) * t_read),)),
            Hold("mesh", 0.0, t_read, (("mesh", 0.0),)),
            Hold(
                "link",
                t_read,
                latency + t_link,
                (("link", n_bytes * hw.link.energy_per_byte_pj),),
            ),
        )
        split = {det_name: t_read, "link": latency + t_link}
        return OpPlan(duration, holds, self.static, _items(split))


def _output_reads(op: Op) -> int:
    """ADC reads of a ``mesh_pass``'s outputs (the conversions beyond the input samples:
    one per port and vector for ``inject="amplitude"``, two for ``"field"``)."""
    inputs = max(op.passes, 1) * op.n_ports * SAMPLES_PER_PORT[op.inject]
    return op.conversions - min(op.conversions, inputs)


def _writes(op: Op) -> int:
    """Shifters a ``phase_update`` writes: ``n_phases``, else one per conversion."""
    return op.n_phases or op.conversions


def _items(split: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple((k, float(v)) for k, v in split.items() if v != 0.0)


def count_shifters(ops: Sequence[Op]) -> int:
    """Phase shifters held on the chip, summed over the layers that do photonic work.

    A layer holds at least one N-port mesh: N(N − 1) MZI shifters plus N output
    shifters, N² in all, N the largest ``n_ports`` among the layer's photonic ops. If
    one ``phase_update`` of the layer writes more shifters (an SVD layer programmed
    whole: two meshes and N attenuators, 2N² + N), the layer holds that many. A trace
    of SVD layers without such a write (inference only, finite differences) cannot
    show their second mesh: give :func:`simulate` the network's ``n_shifters``.

    Parameters
    ----------
    ops
        A trace.

    Returns
    -------
    int
        The number of shifters, ≥ 0.
    """
    return _count_shifters([_as_op(op, index) for index, op in enumerate(_op_list(ops))])


def _count_shifters(ops: Sequence[Op]) -> int:
    """:func:`count_shifters` of ops already checked."""
    widths: dict[int, int] = {}
    writes: dict[int, int] = {}
    for op in ops:
        if op.kind in PHOTONIC_KINDS and op.n_ports > widths.get(op.layer, 0):
            widths[op.layer] = op.n_ports
        if op.kind == "phase_update" and _writes(op) > writes.get(op.layer, 0):
            writes[op.layer] = _writes(op)
    return sum(max(n * n, writes.get(layer, 0)) for layer, n in widths.items())


def _settles(trace: Sequence[Op]) -> list[bool]:
    """Per op, whether its shifters settle at its end (see the module docstring).

    A run of consecutive ``phase_update`` ops settles once, at its last write that
    writes something: the shifters written earlier settle meanwhile, and no light
    passes before the end of the run.
    """
    settles = [True] * len(trace)
    later_write = False  # a write with phases follows in the same run of writes
    for index in range(len(trace) - 1, -1, -1):
        op = trace[index]
        if op.kind != "phase_update":
            later_write = False
            continue
        settles[index] = not later_write
        later_write = later_write or _writes(op) > 0
    return settles


def plan_op(
    op: Op,
    hardware: Hardware | str,
    *,
    n_shifters: int = 0,
    frames: Literal["own", "shared"] = "own",
    settling: Literal["settle", "defer"] = "settle",
) -> OpPlan:
    """The :class:`OpPlan` of one op on one machine (what :func:`simulate` replays).

    Parameters
    ----------
    op
        The op.
    hardware
        The machine, or the name or path of a preset (as for :func:`simulate`).
    n_shifters
        Phase shifters holding power during the op, an int ≥ 0 (:func:`simulate`
        uses :func:`count_shifters` of the whole trace).
    frames
        For a ``tap_readout``: ``"own"`` (its camera frames are taken for it) or
        ``"shared"`` (the previous op's frames already hold the taps).
    settling
        For a ``phase_update``: ``"settle"`` (the shifters settle at its end) or
        ``"defer"`` (another write follows at once; :func:`simulate` lets the shifters
        of a run of writes settle together, after the last).

    Returns
    -------
    OpPlan
    """
    hardware = _machine(hardware)
    _check_op(op, 0, hardware)
    check_choice(frames, "frames", ("own", "shared"))
    check_choice(settling, "settling", ("settle", "defer"))
    planner = _Planner(hardware, _check_n_shifters(n_shifters))
    return planner.plan(op, frames == "shared", settling == "settle")


# --------------------------------------------------------------------------- SimPy


class _CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes."""

    def __init__(self) -> None:
        super().__init__()
        self.n_events = 0

    def step(self) -> None:
        self.n_events += 1
        super().step()


def _hold(
    env: simpy.Environment,
    index: int,
    hold: Hold,
    resource: simpy.Resource,
    ledger: list[LedgerEntry],
) -> Generator[simpy.Event, Any, None]:
    """Wait for the hold's offset, take the resource for its span, book its energy."""
    if hold.offset_ns > 0:
        yield env.timeout(hold.offset_ns)
    with resource.request() as request:
        yield request
        start = env.now
        yield env.timeout(hold.span_ns)
    for component, energy_pj in hold.energies:
        ledger.append(LedgerEntry(start, env.now, component, energy_pj, index))


def _run_op(
    env: simpy.Environment,
    index: int,
    plan: OpPlan,
    resources: Mapping[str, simpy.Resource],
    ledger: list[LedgerEntry],
) -> Generator[simpy.Event, Any, None]:
    """One op: book its static power, then hold every resource it needs."""
    start = env.now
    if plan.duration_ns > 0:
        for component, power_mw in plan.static_mw:
            ledger.append(
                LedgerEntry(
                    start, start + plan.duration_ns, component, power_mw * plan.duration_ns, index
                )
            )
    holders = [
        env.process(_hold(env, index, hold, resources[hold.resource], ledger))
        for hold in plan.holds
    ]
    yield env.all_of(holders) if holders else env.timeout(plan.duration_ns)


def _replay(
    env: simpy.Environment,
    plans: Sequence[OpPlan],
    resources: Mapping[str, simpy.Resource],
    ledger: list[LedgerEntry],
    starts: list[float],
    ends: list[float],
) -> Generator[simpy.Event, Any, None]:
    """Run the ops one after another, in trace order."""
    for index, plan in enumerate(plans):
        starts.append(env.now)
        yield env.process(_run_op(env, index, plan, resources, ledger))
        ends.append(env.now)


# --------------------------------------------------------------------------- public


RESOURCES_PHOTONIC = (
    "link",
    "dac_bank",
    "laser",
    "mesh",
    "detectors",
    "taps",
    "camera",
    "phase_dacs",
    "host",
)
RESOURCES_DIGITAL = ("processor",)


def _machine(hardware: object) -> Hardware:
    """``hardware`` itself, or the preset it names; ``TypeError`` for anything else."""
    if isinstance(hardware, str):
        from sim.presets import load_preset

        hardware = load_preset(hardware)
    if not isinstance(hardware, PhotonicHardware | DigitalHardware):
        raise TypeError(
            f"hardware is a {type(hardware).__name__}; expected PhotonicHardware, "
            "DigitalHardware or a preset name"
        )
    return hardware


def _check_n_shifters(n_shifters: object) -> int:
    if (
        isinstance(n_shifters, bool)
        or not isinstance(n_shifters, int | np.integer)
        or n_shifters < 0
    ):
        raise ValueError(f"n_shifters={n_shifters!r} must be an int ≥ 0 (or None: counted)")
    return int(n_shifters)


def _op_list(ops: object) -> list[Any]:
    if isinstance(ops, str) or not isinstance(ops, Iterable):
        raise TypeError(f"ops is a {type(ops).__name__}; expected a list of sim.ops.Op")
    return list(ops)


def _as_op(op: object, index: int) -> Op:
    if not isinstance(op, Op):
        raise TypeError(f"ops[{index}] is a {type(op).__name__}; expected a sim.ops.Op")
    return op


def _check_op(op: object, index: int, hardware: Hardware) -> None:
    op = _as_op(op, index)
    if isinstance(hardware, DigitalHardware) and op.kind != "digital_compute":
        raise ValueError(
            f"ops[{index}] has kind={op.kind!r}, which needs photonic hardware; "
            f"{hardware.name!r} is digital and runs only 'digital_compute' ops"
        )


def _check_energies(plan: OpPlan, op: Op, index: int, hardware: Hardware) -> None:
    """Refuse an op whose energy overflows float64 by its ``n_ports``.

    :func:`sim.hardware.laser_electrical_power_mw` refuses a laser power beyond
    float64, but a power just below it (≈ 1e304 mW for a 15 000-port mesh at 0.2 dB
    per MZI) times a pass's nanoseconds is ``inf`` pJ: summed silently into the
    timeline, and ``inf − inf`` (NaN, or ``fsum``'s bare error) in any difference of
    two costs.
    """
    for hold in plan.holds:
        for component, energy_pj in hold.energies:
            if not math.isfinite(energy_pj):
                raise ValueError(
                    f"n_ports={op.n_ports}: the {component} energy of ops[{index}] "
                    f"({op.kind}, {hold.span_ns:.3g} ns) on {hardware.name!r} overflows "
                    "float64; use fewer ports or less loss"
                )


def simulate(
    ops: Iterable[Op], hardware: Hardware | str, *, n_shifters: int | None = None
) -> Timeline:
    """Replay an op trace on a machine and return its time and energy ledger.

    Parameters
    ----------
    ops
        The trace, e.g. ``recorder.ops`` of a network.
    hardware
        A :class:`~sim.hardware.PhotonicHardware` or ``DigitalHardware``, or the name
        or path of a preset (:func:`sim.presets.load_preset`).
    n_shifters
        Phase shifters the chip holds for the whole run (their holding power); e.g.
        ``PhotonicNetwork.n_shifters``. ``None``: :func:`count_shifters` of the trace,
        which is exact for unitary layers.

    Returns
    -------
    Timeline
        ``latency_ns``, ``energy_pj``, ``energy_by_component_pj`` and the ledger.

    Raises
    ------
    TypeError
        If an element of ``ops`` is not an :class:`~sim.ops.Op` or ``hardware`` is
        not a machine.
    ValueError
        If an op needs photonic hardware but ``hardware`` is digital, or
        ``n_shifters`` is not an int ≥ 0, or an op's energy or the total overflows
        float64 (a laser sized for a mesh of very many ports or very high loss).
    """
    hardware = _machine(hardware)
    trace = _op_list(ops)
    for index, op in enumerate(trace):
        _check_op(op, index, hardware)
    planner = _Planner(
        hardware, _count_shifters(trace) if n_shifters is None else _check_n_shifters(n_shifters)
    )
    frame_sharing = isinstance(hardware, PhotonicHardware) and hardware.taps_in_detector_frame
    plans: list[OpPlan] = []
    previous: Op | None = None
    settles = _settles(trace)
    # layers whose latest forward pass exposed frames not yet read for forward taps
    exposed: set[int] = set()
    for index, op in enumerate(trace):
        shared = False
        if frame_sharing and op.kind == "tap_readout":
            shared = (
                previous is not None
                and previous.kind == "mesh_pass"
                and (previous.layer, previous.direction) == (op.layer, op.direction)
                and _output_reads(previous) > 0  # the pass exposed frames the taps are in
            ) or (op.direction == "forward" and op.layer in exposed)
            if shared and op.direction == "forward":
                exposed.discard(op.layer)
        if op.kind == "mesh_pass" and op.direction == "forward":
            if _output_reads(op) > 0:
                exposed.add(op.layer)
            else:
                exposed.discard(op.layer)
        elif op.kind == "phase_update":
            exposed.discard(op.layer)
        plans.append(planner.plan(op, shared, settles[index]))
        _check_energies(plans[-1], op, index, hardware)
        previous = op
    env = _CountingEnvironment()
    names = RESOURCES_DIGITAL if isinstance(hardware, DigitalHardware) else RESOURCES_PHOTONIC
    resources = {name: simpy.Resource(env, capacity=1) for name in names}
    ledger: list[LedgerEntry] = []
    starts: list[float] = []
    ends: list[float] = []
    env.process(_replay(env, plans, resources, ledger, starts, ends))
    env.run()
    try:
        timeline = Timeline(
            hardware=hardware.name,
            entries=tuple(ledger),
            op_start_ns=tuple(starts),
            op_end_ns=tuple(ends),
            op_time_by_component_ns=tuple(p.time_by_component_ns for p in plans),
            n_events=env.n_events,
        )
    except OverflowError:  # fsum of finite components beyond float64
        timeline = None
    if timeline is None or not math.isfinite(timeline.energy_pj):  # every op's is finite
        widest = max(op.n_ports for op in trace)
        raise ValueError(
            f"n_ports={widest}: the energy of the {len(trace)} ops on {hardware.name!r} "
            "adds up to more than float64 holds; use fewer ports, less loss or fewer ops"
        )
    return timeline
