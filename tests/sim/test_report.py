"""sim.report: phases partition a step; per-step division; TOPS/W."""

from __future__ import annotations

import pytest

from scenarios.energy_latency import insitu_step_ops
from sim.engine import simulate
from sim.ops import Op
from sim.report import (
    PHASES,
    PLAUSIBLE_POWER_MW,
    Report,
    format_energy_pj,
    format_report,
    format_si,
    format_time_ns,
    mesh_macs,
    phase_of,
    summarize,
    time_share,
    tops_per_w,
)


def test_phase_of_every_kind() -> None:
    assert phase_of(Op("mesh_pass", 0, "forward", 4, 1, passes=1)) == "forward"
    assert phase_of(Op("mesh_pass", 0, "adjoint", 4, 1, passes=1)) == "adjoint"
    assert phase_of(Op("mesh_pass", 0, "sum", 4, 1, passes=1)) == "gradient"
    assert phase_of(Op("tap_readout", 0, "forward", 4, 1, n_phases=16)) == "gradient"
    assert phase_of(Op("phase_update", 0, "backward", 4, 1, n_phases=1)) == "update"
    assert phase_of(Op("digital_compute", 0, "update", 4, 1, flops=1)) == "update"
    assert phase_of(Op("digital_compute", 0, "backward", 4, 1, flops=1)) == "adjoint"
    assert phase_of(Op("detect", 0, "none", 4, 1)) == "forward"
    # a finite-difference measurement is gradient work, its writes and passes alike
    assert phase_of(Op("mesh_pass", 0, "probe", 4, 1, passes=1)) == "gradient"
    assert phase_of(Op("phase_update", 0, "probe", 4, 0, n_phases=1)) == "gradient"
    assert phase_of(Op("digital_compute", 0, "probe", 4, 1, flops=1)) == "gradient"


@pytest.mark.parametrize("preset", ["pai2023-chip", "eo-integrated"])
def test_phases_partition_the_step_and_steps_divide(preset: str) -> None:
    step = insitu_step_ops(4, 2, 3)
    ops = step * 3
    timeline = simulate(ops, preset)
    report = summarize(ops, timeline, n_steps=3)
    single = summarize(step, simulate(step, preset))
    assert set(report.phases) == set(PHASES)
    assert sum(p.latency_ns for p in report.phases.values()) == pytest.approx(report.latency_ns)
    assert sum(p.energy_pj for p in report.phases.values()) == pytest.approx(report.energy_pj)
    assert report.latency_ns == pytest.approx(single.latency_ns)
    assert report.energy_pj == pytest.approx(single.energy_pj)
    for per_step, one in (
        (report.energy_by_component_pj, single.energy_by_component_pj),
        (report.time_by_component_ns, single.time_by_component_ns),
    ):  # components are per step too
        assert per_step.keys() == one.keys()
        assert per_step == pytest.approx(one)
    assert report.phases["gradient"].n_ops == 2 + 3 * 2  # 2 sum passes + 3 tap readouts × 2
    assert report.mesh_macs == 3 * 2 * 3 * 16  # 3 passes × 2 layers × B × N²
    rows = report.rows(preset=preset)
    assert {r["scope"] for r in rows} == {"step", "phase", "component"}
    assert preset in format_report(report)


def test_tops_per_w_and_macs() -> None:
    assert tops_per_w(2e12, 1e12) == 2.0  # 2 ops per pJ = 2 TOPS/W
    with pytest.raises(ValueError, match="energy_pj=0"):
        tops_per_w(1, 0)
    with pytest.raises(ValueError, match="n_ops=-1"):  # was −1 TOPS/W
        tops_per_w(-1, 1.0)
    with pytest.raises(TypeError, match="n_ops"):
        tops_per_w("12", 1.0)  # type: ignore[arg-type]
    ops = [
        Op("mesh_pass", 0, "forward", 4, 3, passes=3),
        Op("mesh_pass", 0, "adjoint", 8, 2, passes=2),
    ]
    assert mesh_macs(ops) == 3 * 16 + 2 * 64
    assert mesh_macs(ops, directions=("forward",)) == 48


@pytest.mark.parametrize(
    ("directions", "match"),
    [
        (("Forward",), r"directions='Forward' is not allowed; choose one of: forward, "),
        (["forwards"], r"directions='forwards' is not allowed"),
        ("forward", r"directions='forward' must be a tuple of names"),
        ("adjoint,sum", r"directions='adjoint,sum' must be a tuple of names"),
    ],
)
def test_mesh_macs_refuses_directions_that_count_nothing_silently(
    directions: object, match: str
) -> None:
    """A misspelt direction counted no pass and gave 0 MACs; a bare string was searched
    by substring ("adjoint,sum" counted adjoint and sum passes, by accident)."""
    ops = [Op("mesh_pass", 0, "forward", 4, 3, passes=3)]
    with pytest.raises(ValueError, match=match):
        mesh_macs(ops, directions=directions)  # type: ignore[arg-type]
    assert mesh_macs(ops, directions=["forward", "adjoint"]) == 48
    assert mesh_macs(ops, directions=()) == 0


def test_mesh_macs_takes_a_set_of_directions() -> None:
    """A set worked before names were checked, and was refused after (not a tuple)."""
    ops = [
        Op("mesh_pass", 0, "forward", 4, 3, passes=3),
        Op("mesh_pass", 0, "adjoint", 2, 3, passes=3),
    ]
    assert mesh_macs(ops, directions={"forward", "adjoint"}) == 48 + 12
    assert mesh_macs(ops, directions=frozenset({"adjoint"})) == 12
    with pytest.raises(ValueError, match="directions='forwards' is not allowed"):
        mesh_macs(ops, directions={"forwards"})


def test_summarize_checks_its_inputs() -> None:
    ops = insitu_step_ops(4, 1, 1)
    timeline = simulate(ops, "eo-integrated")
    with pytest.raises(ValueError, match="n_steps=0"):
        summarize(ops, timeline, n_steps=0)
    with pytest.raises(ValueError, match="pass the trace that was simulated"):
        summarize(ops[:-1], timeline)
    assert 0 < time_share(timeline, ["link"]) < 1
    assert time_share(simulate([], "cpu"), ["compute"]) == 0.0


def test_time_share_refuses_what_would_silently_count_zero() -> None:
    timeline = simulate(insitu_step_ops(4, 1, 1), "eo-integrated")
    assert time_share(timeline, ("link",)) == time_share(timeline, ["link"]) > 0
    assert time_share(timeline, ("laser",)) == 0.0  # energy only: never on the time split
    with pytest.raises(ValueError, match="components='setling' is not allowed"):
        time_share(timeline, ("phase_settling", "setling"))  # misspelt: was 0
    with pytest.raises(ValueError, match="components='link' must be a tuple"):
        time_share(timeline, "link")  # was read as "l", "i", "n", "k"
    with pytest.raises(ValueError, match="lists a name twice"):
        time_share(timeline, ("link", "link"))  # would exceed 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (format_energy_pj(8.51e15), "8.51 kJ"),  # was "8.51e+03 J"
        (format_energy_pj(18.1e9), "18.1 mJ"),
        (format_energy_pj(2.64e6), "2.64 µJ"),
        (format_energy_pj(713e3), "713 nJ"),
        (format_energy_pj(999.7e9), "1 J"),  # rounds up to the next prefix, not "1e+03 mJ"
        (format_energy_pj(0.25), "250 fJ"),
        (format_time_ns(23.2e9), "23.2 s"),
        (format_time_ns(2.5e12), "2.5 ks"),  # was "2.5e+03 s"
        (format_time_ns(999.96e3), "1 ms"),  # was "1e+03 µs"
        (format_time_ns(688.0), "688 ns"),
        (format_time_ns(0.5), "500 ps"),
        (format_time_ns(0.0), "0 s"),
        (format_si(-1.5e-3, "W"), "-1.5 mW"),
        (format_si(3.2e13, "FLOP/s"), "32 TFLOP/s"),  # not "3.2e+04 GFLOP/s"
        (format_si(float("nan"), "J"), "nan J"),
        # a tie rounds alike in every unit: 999.5·1e-12 is a hair below it in binary,
        # 999.5·1e-9 a hair above, and "999 pJ" stood next to "1 µs"
        (format_energy_pj(999.5), "1 nJ"),
        (format_time_ns(999.5), "1 µs"),
        (format_energy_pj(999.4), "999 pJ"),
        (format_si(2.5, "W", exponent=-3), "2.5 mW"),
    ],
)
def test_one_si_formatter_for_every_time_and_energy(text: str, expected: str) -> None:
    assert text == expected


def _report(latency_ns: float, energy_by_component_pj: dict[str, float]) -> Report:
    return Report(
        hardware="test",
        n_steps=1,
        latency_ns=latency_ns,
        energy_pj=sum(energy_by_component_pj.values()),
        phases={},
        energy_by_component_pj=energy_by_component_pj,
        time_by_component_ns={},
        mesh_macs=0.0,
    )


def test_mean_power_is_energy_over_time_and_an_implausible_one_is_flagged() -> None:
    """A 256-port thermal step drew 3.3 kW (131k heaters held at 25 mW each) and was
    reported in joules with no word (user study): the report now says the mean power, and
    warns above an H100 board's 700 W."""
    plausible = _report(1_000.0, {"laser": 5e8, "dac": 1e8})  # 600 µJ in 1 µs: 600 W
    assert plausible.mean_power_mw == pytest.approx(600_000.0)
    assert plausible.warnings == ()
    assert "(mean power 600 W)" in format_report(plausible).splitlines()[0]
    hot = _report(1_000.0, {"laser": 1e8, "phase_hold": 3e9})  # 3.1 kW
    assert hot.mean_power_mw > PLAUSIBLE_POWER_MW
    (warning,) = hot.warnings
    assert warning.startswith("mean power 3.1 kW exceeds 700 W")
    assert "phase_hold draws 97% of the energy" in warning
    assert format_report(hot).splitlines()[1] == f"  warning: {warning}"
    assert _report(0.0, {"laser": 0.0}).mean_power_mw == 0.0
