"""Summaries of a :class:`~sim.engine.Timeline`: per pass, per step, by component; TOPS/W.

Contract
--------
:func:`summarize` groups the ops of a trace into the phases of a training step and
adds up each phase's latency (the durations of its ops) and energy (every ledger
entry of its ops, static power included):

=============  ===================================================================
``forward``    ops with direction ``"forward"`` or ``"none"`` (mesh passes, the
               host's activations, a digital forward pass), except tap readouts
``adjoint``    ops with direction ``"adjoint"`` or ``"backward"`` (the adjoint
               pass, digital backward work), except tap readouts
``gradient``   the gradient measurement: every ``tap_readout``, the ``"sum"``
               passes, and every op of a finite-difference measurement (direction
               ``"probe"``: its perturbing writes and its evaluations)
``update``     every ``phase_update`` and ops with direction ``"update"`` (the
               optimizer)
=============  ===================================================================

The phases partition the trace, so their latencies and energies add up to the
whole run; ``n_steps`` divides everything to give per-step figures.

Operation counts: a mesh pass of one vector through an N-port mesh is ``N²``
multiply-accumulates (MACs, complex: the mesh applies an N×N complex matrix) and
``2 N²`` operations; :func:`tops_per_w` is operations per picojoule, which is
exactly tera-operations per second per watt.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Literal, get_args

from digital.validation import check_choices, check_nonnegative
from sim.engine import TIME_COMPONENTS, Timeline
from sim.ops import DIRECTIONS, Op

__all__ = [
    "PHASES",
    "PLAUSIBLE_POWER_MW",
    "SI_PREFIXES",
    "PhaseCost",
    "Report",
    "format_energy_pj",
    "format_report",
    "format_si",
    "format_time_ns",
    "mesh_macs",
    "phase_of",
    "summarize",
    "time_share",
    "tops_per_w",
]

Phase = Literal["forward", "adjoint", "gradient", "update"]
#: The phases of a training step, in order.
PHASES: tuple[str, ...] = get_args(Phase)
#: Operations per multiply-accumulate.
OPS_PER_MAC = 2

PLAUSIBLE_POWER_MW = 700_000.0
"""Mean power above which :func:`format_report` warns, mW: 700 W, the TDP of an
NVIDIA H100 SXM board (vendor spec, parameters.md). An accelerator drawing more is not
a plausible chip; the numbers are then the model's extrapolation (a laser sized for a
very lossy mesh, or more heaters held than a package can cool) and want checking
before anyone quotes them."""


def phase_of(op: Op) -> Phase:
    """The phase of a training step an op belongs to (see the module docstring).

    Parameters
    ----------
    op
        One op of a trace.

    Returns
    -------
    str
        One of :data:`PHASES`.
    """
    if op.direction == "probe":
        return "gradient"
    if op.kind == "phase_update" or op.direction == "update":
        return "update"
    if op.kind == "tap_readout" or op.direction == "sum":
        return "gradient"
    if op.direction in ("adjoint", "backward"):
        return "adjoint"
    return "forward"


@dataclass(frozen=True)
class PhaseCost:
    """Latency and energy of one phase, per step.

    Attributes
    ----------
    latency_ns
        Sum of the durations of the phase's ops, ns per step.
    energy_pj
        Energy of the phase's ops (static power during them included), pJ per step.
    n_ops
        Ops of this phase per step (a float when ``n_steps`` does not divide them).
    """

    latency_ns: float
    energy_pj: float
    n_ops: float


@dataclass(frozen=True)
class Report:
    """Per-step summary of a replayed trace.

    Attributes
    ----------
    hardware
        Machine name.
    n_steps
        Steps the trace holds; every figure below is per step.
    latency_ns, energy_pj
        Whole step.
    phases
        :class:`PhaseCost` per name in :data:`PHASES`.
    energy_by_component_pj
        Energy per ledger component, pJ per step.
    time_by_component_ns
        Critical-path time per component, ns per step.
    mesh_macs
        Complex MACs done by mesh passes per step (all directions).
    """

    hardware: str
    n_steps: int
    latency_ns: float
    energy_pj: float
    phases: dict[str, PhaseCost]
    energy_by_component_pj: dict[str, float]
    time_by_component_ns: dict[str, float]
    mesh_macs: float

    @property
    def mean_power_mw(self) -> float:
        """Mean power over the step, mW (pJ/ns); 0 for a step that takes no time."""
        return self.energy_pj / self.latency_ns if self.latency_ns > 0 else 0.0

    @property
    def warnings(self) -> tuple[str, ...]:
        """What makes these numbers implausible for a real chip (empty if nothing).

        Today one check: a mean power above :data:`PLAUSIBLE_POWER_MW`, naming the
        component that draws most.
        """
        if self.mean_power_mw <= PLAUSIBLE_POWER_MW:
            return ()
        top, top_pj = max(self.energy_by_component_pj.items(), key=lambda kv: kv[1])
        return (
            f"mean power {format_si(self.mean_power_mw, 'W', exponent=-3)} exceeds "
            f"{format_si(PLAUSIBLE_POWER_MW, 'W', exponent=-3)} (an H100 board's TDP): "
            f"{top} draws {top_pj / self.energy_pj:.0%} of the energy; check the "
            "preset and the workload's size before quoting these numbers",
        )

    def rows(self, **labels: Any) -> list[dict[str, Any]]:
        """The report in long form.

        Parameters
        ----------
        **labels
            Columns added to every row (e.g. ``preset="cpu"``).

        Returns
        -------
        list of dict
            Tidy rows ``{**labels, "scope", "name", "metric", "value", "unit"}``.
        """
        items: list[tuple[str, str, str, float, str]] = [
            ("step", "total", "latency", self.latency_ns, "ns"),
            ("step", "total", "energy", self.energy_pj, "pJ"),
        ]
        for name, cost in self.phases.items():
            items.append(("phase", name, "latency", cost.latency_ns, "ns"))
            items.append(("phase", name, "energy", cost.energy_pj, "pJ"))
        for name, value in self.energy_by_component_pj.items():
            items.append(("component", name, "energy", value, "pJ"))
        for name, value in self.time_by_component_ns.items():
            items.append(("component", name, "time", value, "ns"))
        return [
            {**labels, "scope": sc, "name": nm, "metric": mt, "value": v, "unit": u}
            for sc, nm, mt, v, u in items
        ]


def mesh_macs(
    ops: Iterable[Op], *, directions: Sequence[str] | AbstractSet[str] | None = None
) -> int:
    """Complex MACs of the mesh passes: ``passes · n_ports²`` summed.

    Parameters
    ----------
    ops
        A trace.
    directions
        Only count passes with one of these directions (a tuple, list or set of
        names from :data:`sim.ops.DIRECTIONS`); ``None``: all.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``directions`` is a bare string or names a direction that does not exist
        (it would count nothing, silently).
    """
    if isinstance(directions, AbstractSet):  # order means nothing here
        directions = sorted(directions)
    if directions is not None:
        directions = check_choices(directions, "directions", DIRECTIONS, empty="allow")
    return sum(
        op.passes * op.n_ports**2
        for op in ops
        if op.kind == "mesh_pass" and (directions is None or op.direction in directions)
    )


def tops_per_w(n_ops: float, energy_pj: float) -> float:
    """Operations per picojoule = tera-operations per second per watt.

    Parameters
    ----------
    n_ops
        Operations performed (``OPS_PER_MAC`` per MAC, e.g. ``2·mesh_macs(ops)``).
        :func:`mesh_macs` counts *complex* MACs, and this convention counts one as 2
        operations, like a real MAC. A complex MAC is 4 real multiply-adds, so where
        the work needs complex arithmetic, a photonic TOPS/W set against a digital
        processor's real-MAC figure is up to 4× conservative; where a real MAC would
        do the same job, the two compare directly. Say which in a comparison.
    energy_pj
        Energy they cost, pJ, > 0.

    Returns
    -------
    float
        ``n_ops / energy_pj``, TOPS/W.

    Raises
    ------
    TypeError
        If ``n_ops`` is not a real number.
    ValueError
        If ``n_ops`` is negative or not finite, or ``energy_pj`` is not > 0.
    """
    n_ops = check_nonnegative(n_ops, "n_ops")  # a negative count gave negative TOPS/W
    if not energy_pj > 0:
        raise ValueError(f"energy_pj={energy_pj!r} must be > 0 to compute TOPS/W")
    return n_ops / float(energy_pj)


def summarize(ops: Sequence[Op], timeline: Timeline, *, n_steps: int = 1) -> Report:
    """Per-step latency and energy by phase and by component.

    Parameters
    ----------
    ops
        The trace that was replayed (same order as the timeline's ops).
    timeline
        ``simulate(ops, hardware)``.
    n_steps
        Training steps (or inferences) the trace holds, ≥ 1.

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        If ``n_steps`` < 1 or the trace and the timeline have different lengths.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps={n_steps!r} must be an int ≥ 1")
    if len(ops) != timeline.n_ops:
        raise ValueError(
            f"ops has {len(ops)} ops but the timeline replayed {timeline.n_ops}; "
            "pass the trace that was simulated"
        )
    latency = dict.fromkeys(PHASES, 0.0)
    energy = dict.fromkeys(PHASES, 0.0)
    count = dict.fromkeys(PHASES, 0)
    op_phase = [phase_of(op) for op in ops]
    for phase, duration in zip(op_phase, timeline.op_duration_ns(), strict=True):
        latency[phase] += duration
        count[phase] += 1
    for entry in timeline.entries:
        energy[op_phase[entry.op_index]] += entry.energy_pj
    per = 1.0 / n_steps
    return Report(
        hardware=timeline.hardware,
        n_steps=n_steps,
        latency_ns=timeline.latency_ns * per,
        energy_pj=timeline.energy_pj * per,
        phases={p: PhaseCost(latency[p] * per, energy[p] * per, count[p] * per) for p in PHASES},
        energy_by_component_pj={k: v * per for k, v in timeline.energy_by_component_pj.items()},
        time_by_component_ns={k: v * per for k, v in timeline.time_by_component_ns.items()},
        mesh_macs=mesh_macs(ops) * per,
    )


def time_share(timeline: Timeline, components: Iterable[str]) -> float:
    """Fraction of the latency spent (on the critical path) in ``components``.

    Parameters
    ----------
    timeline
        A replayed trace (:func:`sim.engine.simulate`).
    components
        Distinct component names (:data:`sim.engine.TIME_COMPONENTS`), e.g.
        ``("phase_settling",)``; the ones this timeline does not use count 0.

    Returns
    -------
    float
        Their share of ``timeline.latency_ns``, in [0, 1]; 0.0 for a timeline of zero
        latency.

    Raises
    ------
    ValueError
        For a name that is no component (a misspelt one would count 0), a name given
        twice, no names, or a bare string (pass a tuple: ``("camera",)``).
    """
    names = components if isinstance(components, str) else tuple(components)
    names = check_choices(names, "components", TIME_COMPONENTS)
    if timeline.latency_ns <= 0:
        return 0.0
    total = sum(timeline.time_by_component_ns.get(c, 0.0) for c in names)
    return total / timeline.latency_ns


def format_report(report: Report) -> str:
    """A plain-text table of a :class:`Report` (phases, then components).

    Parameters
    ----------
    report
        As :func:`summarize` returns it.

    Returns
    -------
    str
    """
    lines = [
        f"{report.hardware}: per step {format_time_ns(report.latency_ns)}, "
        f"{format_energy_pj(report.energy_pj)} "
        f"(mean power {format_si(report.mean_power_mw, 'W', exponent=-3)})",
        *(f"  warning: {text}" for text in report.warnings),
        f"  {'phase':<12}{'latency':>14}{'energy':>14}",
    ]
    for name, cost in report.phases.items():
        time, energy = format_time_ns(cost.latency_ns), format_energy_pj(cost.energy_pj)
        lines.append(f"  {name:<12}{time:>14}{energy:>14}")
    lines.append(f"  {'component':<14}{'energy':>12}{'share':>8}")
    for name, value in sorted(report.energy_by_component_pj.items(), key=lambda kv: -kv[1]):
        if value > 0:
            share = value / report.energy_pj if report.energy_pj > 0 else 0.0
            lines.append(f"  {name:<14}{format_energy_pj(value):>12}{share:>8.1%}")
    return "\n".join(lines)


#: SI prefixes of :func:`format_si`, largest first.
SI_PREFIXES: tuple[tuple[float, str], ...] = (
    (1e12, "T"),
    (1e9, "G"),
    (1e6, "M"),
    (1e3, "k"),
    (1.0, ""),
    (1e-3, "m"),
    (1e-6, "µ"),
    (1e-9, "n"),
    (1e-12, "p"),
    (1e-15, "f"),
)
#: The power of ten of each of :data:`SI_PREFIXES`.
_SI_POWERS: tuple[int, ...] = tuple(round(math.log10(scale)) for scale, _ in SI_PREFIXES)


def format_si(value: float, unit: str, *, exponent: int = 0) -> str:
    """``value × 10^exponent`` (in ``unit``) to 3 significant digits with the SI prefix
    that puts the number in [1, 1000): ``"8.51 kJ"``, ``"2.64 µJ"``; never exponent
    notation inside the prefixes' range. Rounded first, so 999.7 mJ is ``"1 J"``, not
    ``"1e+03 mJ"``.

    Parameters
    ----------
    value
        A number in ``unit`` times ``10^exponent`` (zero, NaN and infinities are
        written as they are).
    unit
        The unit's symbol without a prefix (``"J"``, ``"s"``, ``"W"``).
    exponent
        The power of ten ``value`` is given in (``-12`` for pJ, ``-9`` for ns). The
        number is rounded as given, before any scaling, so that a tie rounds the same
        in every unit (999.5 pJ and 999.5 ns were "999 pJ" and "1 µs": ``999.5·1e-12``
        is a hair below the tie in binary, ``999.5·1e-9`` a hair above).

    Returns
    -------
    str
        The number, a space, the prefix and the unit.
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    mantissa, power = f"{value:.2e}".split("e")  # 3 significant digits, rounded once
    decade = int(power) + exponent
    step, prefix = next(
        (
            (p, prefix)
            for p, (_, prefix) in zip(_SI_POWERS, SI_PREFIXES, strict=True)
            if decade >= p
        ),
        (_SI_POWERS[-1], SI_PREFIXES[-1][1]),
    )
    return f"{float(mantissa) * 10.0 ** (decade - step):.3g} {prefix}{unit}"


def format_time_ns(ns: float) -> str:
    """A duration as text with an SI prefix (``"1.23 ms"``, ``"2.5 ks"``).

    Parameters
    ----------
    ns
        Duration, ns.

    Returns
    -------
    str
    """
    return format_si(ns, "s", exponent=-9)


def format_energy_pj(pj: float) -> str:
    """An energy as text with an SI prefix (``"4.5 µJ"``, ``"8.51 kJ"``).

    Parameters
    ----------
    pj
        Energy, pJ.

    Returns
    -------
    str
    """
    return format_si(pj, "J", exponent=-12)
