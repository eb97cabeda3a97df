"""sim.engine: exact event traces computed by hand, energy bookkeeping, op handling."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from digital.network import MLP
from sim.engine import TIME_COMPONENTS, LedgerEntry, Timeline, count_shifters, plan_op, simulate
from sim.hardware import (
    Camera,
    DigitalHardware,
    DigitalProcessor,
    Laser,
    Link,
    MeshOptics,
    Modulator,
    PhaseShifter,
    Photodetector,
    PhotonicHardware,
)
from sim.ops import Op, Recorder, mesh_pass, phase_update, tap_readout
from sim.presets import available_presets, load_preset


def _entries(timeline: Timeline) -> list[tuple[int, str, float, float, float]]:
    """Ledger as sorted (op, component, start, end, energy) tuples, rounded to 1e-9."""
    return sorted(
        (e.op_index, e.component, round(e.start_ns, 9), round(e.end_ns, 9), round(e.energy_pj, 9))
        for e in timeline.entries
    )


# --------------------------------------------------------------------------- 2-port chip


def two_port_chip(**changes: Any) -> PhotonicHardware:
    """A 2-port chip with round numbers, so every event can be computed by hand."""
    host = DigitalProcessor(
        peak_flops_per_s={"fp64": 1e9},  # 1 ns per FLOP
        precision="fp64",  # 8-byte words: recorded bytes are used as they are
        energy_per_flop_pj={"fp64": 2.0},
        memory_bandwidth_bytes_per_s=1e9,  # 1 ns per byte
        energy_per_byte_pj=0.5,
        static_power_w=0.001,  # 1 mW
        launch_overhead_ns=10.0,
    )
    hw = PhotonicHardware(
        name="two-port",
        host=host,
        laser=Laser(wall_plug_efficiency=0.5, output_power_mw=2.0),  # 4 mW electrical
        modulator=Modulator(
            bits=8, dac_energy_pj=1.0, energy_per_symbol_pj=0.5, sample_rate_hz=1e9
        ),
        phase_shifter=PhaseShifter(
            holding_power_mw=1.0,
            settling_ns=100.0,
            write_energy_pj=3.0,
            dac_bits=8,
            dac_energy_pj=1.0,
            dac_rate_hz=1e9,
            dac_channels=2,
        ),
        mesh=MeshOptics(
            topology="clements",
            loss_db_per_mzi=0.0,
            coupling_loss_db=0.0,
            propagation_ns_per_column=1.0,  # a 2-port Clements mesh has 1 column: 1 ns
        ),
        detector=Photodetector(bits=8, adc_energy_pj=2.0, sample_rate_hz=0.5e9),
        taps=Photodetector(bits=8, adc_energy_pj=4.0, sample_rate_hz=1e9, channels=2),
        link=Link(bandwidth_bytes_per_s=1e9, energy_per_byte_pj=1.0, latency_ns=5.0),
        pass_mode="pipelined",
    )
    return dataclasses.replace(hw, **changes)


TWO_PORT_OPS = [
    Op("phase_update", 0, "update", 2, 1, n_phases=4),
    Op("mesh_pass", 0, "forward", 2, 3, passes=3, conversions=12),
    Op("tap_readout", 0, "forward", 2, 3, n_phases=4, conversions=4),
    Op("digital_compute", 0, "forward", 2, 3, flops=100, bytes=80),
]


def test_two_port_chip_event_trace_by_hand() -> None:
    timeline = simulate(TWO_PORT_OPS, two_port_chip())
    # A 2-port mesh has 1 MZI (2 shifters) + 2 output shifters = 4 shifters holding
    # 1 mW each; the host's static power is 1 mW. Static energy pJ = mW × ns.
    #
    # op 0, phase_update of 4 shifters at t = 0:
    #   link: 4 writes × 8 bit = 4 B → 4 ns + 5 ns latency = [0, 9], 4 B × 1 pJ = 4 pJ
    #   DACs: ceil(4 / 2 channels) × 1 ns = [9, 11]; 4 × 1 pJ DAC, 4 × 3 pJ drive
    #   mesh held until the shifters settle: [9, 111]; op ends at 111
    # op 1, mesh_pass of 3 vectors at t = 111 (pipelined), per vector:
    #   link 2 samples + 2 reads = 4 B → 4 ns;  DAC ceil(2/2) × 1 ns = 1 ns;
    #   optics 1 column × 1 ns = 1 ns;  ADC ceil(2/2) × 2 ns = 2 ns.
    #   slowest stage = link (4 ns): duration = 5 + 4 + 1 + 1 + 2 + 2 × 4 = 21 → ends 132
    #   link [111, 128] 12 B → 12 pJ; DACs [120, 129] 6 samples → 6 pJ DAC + 3 pJ drive;
    #   laser and mesh lit [120, 132]: 4 mW × 12 ns = 48 pJ; ADCs [122, 132] 6 × 2 pJ.
    # op 2, tap_readout of 4 taps at t = 132: ADCs ceil(4/2) × 1 ns = [132, 134], 4 × 4 pJ;
    #   link 4 B → 4 ns + 5 ns, streaming: duration 5 + max(2, 4) = 9 → ends 141.
    # op 3, digital_compute at t = 141: 10 + max(100 FLOP × 1 ns, 80 B × 1 ns) = 110
    #   → ends 251; 100 × 2 pJ + 80 × 0.5 pJ.
    expected = [
        (0, "host_static", 0, 111, 111),
        (0, "link", 0, 9, 4),
        (0, "mesh", 9, 111, 0),
        (0, "phase_dac", 9, 11, 4),
        (0, "phase_drive", 9, 11, 12),
        (0, "phase_hold", 0, 111, 444),
        (1, "detector_adc", 122, 132, 12),
        (1, "host_static", 111, 132, 21),
        (1, "input_dac", 120, 129, 6),
        (1, "laser", 120, 132, 48),
        (1, "link", 111, 128, 12),
        (1, "mesh", 120, 132, 0),
        (1, "modulator", 120, 129, 3),
        (1, "phase_hold", 111, 132, 84),
        (2, "host_static", 132, 141, 9),
        (2, "link", 132, 141, 4),
        (2, "phase_hold", 132, 141, 36),
        (2, "tap_adc", 132, 134, 16),
        (3, "host_compute", 141, 251, 200),
        (3, "host_memory", 141, 251, 40),
        (3, "host_static", 141, 251, 110),
        (3, "phase_hold", 141, 251, 440),
    ]
    assert _entries(timeline) == [
        (i, c, float(s), float(e), float(j)) for i, c, s, e, j in expected
    ]
    assert timeline.op_start_ns == (0.0, 111.0, 132.0, 141.0)
    assert timeline.op_end_ns == (111.0, 132.0, 141.0, 251.0)
    assert timeline.latency_ns == 251.0
    assert timeline.energy_pj == pytest.approx(sum(e[4] for e in expected), abs=1e-9)
    assert timeline.time_by_component_ns == pytest.approx(
        {
            "link": 9 + 17 + 9,
            "phase_dac": 2,
            "phase_settling": 100,
            "input_dac": 1,
            "optics": 1,
            "detector_adc": 2,
            "host_launch": 10,
            "host_compute": 100,
        }
    )


def test_two_port_chip_sequential_mode_by_hand() -> None:
    """Sequential: each vector goes link → DAC → optics → ADC before the next."""
    op = Op("mesh_pass", 0, "forward", 2, 3, passes=3, conversions=12)
    timeline = simulate([op], two_port_chip(pass_mode="sequential"))
    # per vector 4 + 1 + 1 + 2 = 8 ns; 5 ns link latency + 3 × 8 = 29 ns.
    assert timeline.latency_ns == 29.0
    laser = [e for e in timeline.entries if e.component == "laser"]
    assert (laser[0].start_ns, laser[0].end_ns) == (9.0, 29.0)  # lit after the first transfer
    assert laser[0].energy_pj == pytest.approx(4.0 * 20)
    assert timeline.time_by_component_ns == pytest.approx(
        {"link": 5 + 12, "input_dac": 3, "optics": 3, "detector_adc": 6}
    )


def test_two_port_chip_detect_by_hand() -> None:
    """A ``detect`` of 3 vectors (2 reads each, no conversions given: N·B = 6 reads).
    ADCs: ceil(6 / 2 channels) × 2 ns = [0, 6], 6 × 2 pJ; laser lit meanwhile, 4 mW × 6 ns;
    then the link: 5 ns latency + 6 B × 1 ns = [6, 17], 6 pJ. Held: 4 shifters × 1 mW and
    the host's 1 mW over 17 ns."""
    timeline = simulate([Op("detect", 0, "forward", 2, 3)], two_port_chip())
    assert _entries(timeline) == [
        (0, "detector_adc", 0.0, 6.0, 12.0),
        (0, "host_static", 0.0, 17.0, 17.0),
        (0, "laser", 0.0, 6.0, 24.0),
        (0, "link", 6.0, 17.0, 6.0),
        (0, "mesh", 0.0, 6.0, 0.0),
        (0, "phase_hold", 0.0, 17.0, 68.0),
    ]
    assert timeline.time_by_component_ns == pytest.approx({"detector_adc": 6.0, "link": 11.0})


def test_camera_frames_are_shared_by_a_tap_readout_of_the_same_layer() -> None:
    pai = load_preset("pai2023-chip")
    assert isinstance(pai, PhotonicHardware) and isinstance(pai.detector, Camera)
    frame_ns = pai.detector.frame_ns
    mesh = Op("mesh_pass", 0, "forward", 4, 2, passes=2, conversions=16)
    taps = Op("tap_readout", 0, "forward", 4, 2, n_phases=16, conversions=32)
    shared = simulate([mesh, taps], pai)
    alone = simulate([taps], pai)
    other_layer = simulate([mesh, dataclasses.replace(taps, layer=1)], pai)
    assert shared.time_by_component_ns["camera"] == pytest.approx(2 * frame_ns)
    assert alone.time_by_component_ns["camera"] == pytest.approx(2 * frame_ns)
    assert other_layer.time_by_component_ns["camera"] == pytest.approx(4 * frame_ns)
    # a pass that reads no outputs (a sum pass) exposes no frames: its taps need their own
    dark = dataclasses.replace(mesh, conversions=8)
    assert simulate([dark, taps], pai).time_by_component_ns["camera"] == pytest.approx(2 * frame_ns)


def test_a_run_of_phase_writes_settles_once_after_its_last_write() -> None:
    """Two layers written back to back (an optimizer step), then a pass; by hand.

    Two-port chip (settling 100 ns, 2 DAC channels at 1 GHz, link 5 ns + 1 ns/B):
    op 0, layer 0, 4 writes: link [0, 9], DACs [9, 11]; no settling (a write follows)
    op 1, layer 1, 4 writes at 11: link [11, 20], DACs [20, 22], settle → ends 122;
    the mesh is held [20, 122] (layer 0's shifters settled meanwhile)
    op 2, the pass starts at 122 (not at 111 + 111 = 222 with a settling per write).
    A write between two passes still settles on its own.
    """
    hw = two_port_chip()
    write0 = Op("phase_update", 0, "update", 2, 1, n_phases=4)
    write1 = dataclasses.replace(write0, layer=1)
    pass1 = Op("mesh_pass", 1, "forward", 2, 3, passes=3, conversions=12)
    timeline = simulate([write0, write1, pass1], hw)
    assert timeline.op_start_ns[:3] == (0.0, 11.0, 122.0)
    assert timeline.op_end_ns[:2] == (11.0, 122.0)
    mesh = [(e.op_index, e.start_ns, e.end_ns) for e in timeline.entries if e.component == "mesh"]
    assert mesh[:2] == [(0, 9.0, 11.0), (1, 20.0, 122.0)]
    assert timeline.time_by_component_ns["phase_settling"] == 100.0
    apart = simulate([write0, pass1, write1, pass1], hw)
    assert apart.time_by_component_ns["phase_settling"] == 200.0
    # a write of nothing at the end of a run does not take the settling away
    empty = dataclasses.replace(write1, n_phases=0)
    assert simulate([write0, empty, pass1], hw).op_start_ns[2] == 9.0 + 2.0 + 100.0 + 0.0


def test_forward_taps_read_later_share_the_inference_pass_frames_once() -> None:
    """In-situ: the inference pass's frames hold the forward taps read during backward."""
    pai = load_preset("pai2023-chip")
    assert isinstance(pai, PhotonicHardware) and isinstance(pai.detector, Camera)
    frame_ns = pai.detector.frame_ns
    forward = Op("mesh_pass", 0, "forward", 4, 2, passes=2, conversions=16)
    adjoint = Op("mesh_pass", 0, "adjoint", 4, 2, passes=2, conversions=24)
    adj_taps = Op("tap_readout", 0, "adjoint", 4, 2, n_phases=16, conversions=32)
    fwd_taps = dataclasses.replace(adj_taps, direction="forward")
    write = Op("phase_update", 0, "update", 4, 0, n_phases=16, conversions=16)

    def camera_frames(ops: list[Op]) -> float:
        return simulate(ops, pai).time_by_component_ns["camera"] / frame_ns

    # frames: 2 (inference, one per vector) + 4 (adjoint, I and Q; its taps shared) + 0
    assert camera_frames([forward, adjoint]) == pytest.approx(6)
    assert camera_frames([forward, adjoint, adj_taps, fwd_taps]) == pytest.approx(6)
    # a pass's frames serve one forward read-out; a phase write or another layer: none
    assert camera_frames([forward, adjoint, adj_taps, fwd_taps, fwd_taps]) == pytest.approx(8)
    assert camera_frames([forward, write, adjoint, fwd_taps]) == pytest.approx(8)
    other = dataclasses.replace(fwd_taps, layer=1)
    assert camera_frames([forward, adjoint, other]) == pytest.approx(8)


@pytest.mark.parametrize(
    "op",
    [
        Op("mesh_pass", 0, "forward", 4, 2, passes=2, conversions=16),  # outputs: 1 frame each
        Op("mesh_pass", 0, "adjoint", 4, 2, passes=2, conversions=24),  # fields: I and Q frames
        Op("mesh_pass", 0, "adjoint", 4, 1, passes=1, conversions=12),
        Op("tap_readout", 0, "adjoint", 4, 2, n_phases=16, conversions=32),
    ],
    ids=["forward", "adjoint-field", "adjoint-field-1", "taps"],
)
def test_camera_energy_is_its_power_over_the_frames_it_exposes(op: Op) -> None:
    pai = load_preset("pai2023-chip")
    assert isinstance(pai, PhotonicHardware) and isinstance(pai.detector, Camera)
    timeline = simulate([op], pai)
    exposed_ns = timeline.time_by_component_ns["camera"]
    assert exposed_ns > 0
    assert timeline.energy_by_component_pj["camera"] == pytest.approx(
        pai.detector.power_w * 1e3 * exposed_ns  # W → mW; mW·ns = pJ
    )


# --------------------------------------------------------------------------- one-layer MLP


def test_one_layer_mlp_event_trace_by_hand() -> None:
    net = MLP([3, 2], activation="tanh", rng=np.random.default_rng(0))  # W: (2, 3 + 1 bias)
    net.recorder = Recorder()
    y = net.forward(np.ones((5, 3)))
    net.backward(np.ones_like(y))
    # forward: 2 FLOPs × 5 samples × 4 inputs × 2 outputs = 80 FLOPs;
    #   bytes 8 × (2·4 weights + 5 × (4 + 2) activations) = 304
    # then tanh over 5 × 2 values: 6 FLOPs each = 60, one array read and one written,
    #   8 × 2 × 10 = 160 bytes (sim.ops.activation_op); backward: tanh' applied to δ,
    #   the same 60 and 160
    # backward: δᵀa only (no input gradient below the first layer): the same 80 FLOPs
    #   and 304 bytes
    assert net.recorder.ops == [
        Op("digital_compute", 0, "forward", 2, 5, flops=80, bytes=304),
        Op("digital_compute", 0, "forward", 2, 5, flops=60, bytes=160),
        Op("digital_compute", 0, "backward", 2, 5, flops=60, bytes=160),
        Op("digital_compute", 0, "backward", 2, 5, flops=80, bytes=304),
    ]
    gpu = DigitalHardware(
        name="round-numbers",
        processor=DigitalProcessor(
            peak_flops_per_s={"fp32": 1e9},  # 1 ns per FLOP
            precision="fp32",  # 4-byte words: recorded float64 bytes are halved
            energy_per_flop_pj={"fp32": 1.0},
            memory_bandwidth_bytes_per_s=1e9,  # 1 ns per byte
            energy_per_byte_pj=0.25,
            static_power_w=0.002,  # 2 mW
            launch_overhead_ns=50.0,
        ),
    )
    timeline = simulate(net.recorder.ops, gpu)
    # products: 152 B → memory-bound, 50 + max(80, 152) = 202 ns; 80 pJ + 38 pJ + 2 mW × 202
    # activations: 80 B → memory-bound, 50 + max(60, 80) = 130 ns; 60 pJ + 20 pJ + 2 mW × 130
    assert _entries(timeline) == [
        (0, "compute", 0.0, 202.0, 80.0),
        (0, "memory", 0.0, 202.0, 38.0),
        (0, "static", 0.0, 202.0, 404.0),
        (1, "compute", 202.0, 332.0, 60.0),
        (1, "memory", 202.0, 332.0, 20.0),
        (1, "static", 202.0, 332.0, 260.0),
        (2, "compute", 332.0, 462.0, 60.0),
        (2, "memory", 332.0, 462.0, 20.0),
        (2, "static", 332.0, 462.0, 260.0),
        (3, "compute", 462.0, 664.0, 80.0),
        (3, "memory", 462.0, 664.0, 38.0),
        (3, "static", 462.0, 664.0, 404.0),
    ]
    assert timeline.latency_ns == 664.0
    assert timeline.energy_by_component_pj == pytest.approx(
        {"compute": 280.0, "memory": 116.0, "static": 1328.0}
    )
    assert timeline.time_by_component_ns == pytest.approx({"launch": 200.0, "memory": 464.0})


# --------------------------------------------------------------------------- bookkeeping


def _insitu_trace() -> list[Op]:
    from scenarios.energy_latency import insitu_step_ops

    return insitu_step_ops(4, 2, 3)


@pytest.mark.parametrize("preset", ["pai2023-chip", "thermal-integrated", "eo-integrated"])
def test_total_energy_is_the_sum_of_components_and_of_the_ledger(preset: str) -> None:
    timeline = simulate(_insitu_trace(), preset)
    assert timeline.energy_pj == pytest.approx(
        math.fsum(timeline.energy_by_component_pj.values()), rel=1e-12
    )
    assert timeline.energy_pj == pytest.approx(
        math.fsum(e.energy_pj for e in timeline.entries), rel=1e-12
    )
    assert sum(timeline.op_energy_pj()) == pytest.approx(timeline.energy_pj, rel=1e-12)
    assert sum(timeline.time_by_component_ns.values()) == pytest.approx(timeline.latency_ns)
    assert sum(timeline.op_duration_ns()) == pytest.approx(timeline.latency_ns)
    assert all(e.end_ns >= e.start_ns >= 0 and e.energy_pj >= 0 for e in timeline.entries)


def _scaled(hw: Any, path: str, factor: float) -> Any:
    """``hw`` with the field at dotted ``path`` multiplied by ``factor`` (mappings too)."""
    head, _, rest = path.partition(".")
    value = getattr(hw, head)
    if rest:
        return dataclasses.replace(hw, **{head: _scaled(value, rest, factor)})
    if isinstance(value, dict) or hasattr(value, "items"):
        return dataclasses.replace(hw, **{head: {k: v * factor for k, v in value.items()}})
    return dataclasses.replace(hw, **{head: value * factor})


THERMAL_WITH_WRITE_ENERGY = dataclasses.replace(
    load_preset("thermal-integrated"),  # type: ignore[arg-type]
    phase_shifter=dataclasses.replace(
        load_preset("thermal-integrated").phase_shifter,  # type: ignore[union-attr]
        write_energy_pj=1.5,
    ),
)


@pytest.mark.parametrize(
    ("hardware", "paths", "component"),
    [
        (THERMAL_WITH_WRITE_ENERGY, ["modulator.dac_energy_pj"], "input_dac"),
        (THERMAL_WITH_WRITE_ENERGY, ["modulator.energy_per_symbol_pj"], "modulator"),
        (THERMAL_WITH_WRITE_ENERGY, ["phase_shifter.dac_energy_pj"], "phase_dac"),
        (THERMAL_WITH_WRITE_ENERGY, ["phase_shifter.write_energy_pj"], "phase_drive"),
        (THERMAL_WITH_WRITE_ENERGY, ["phase_shifter.holding_power_mw"], "phase_hold"),
        (THERMAL_WITH_WRITE_ENERGY, ["detector.adc_energy_pj"], "detector_adc"),
        (THERMAL_WITH_WRITE_ENERGY, ["taps.adc_energy_pj"], "tap_adc"),
        (THERMAL_WITH_WRITE_ENERGY, ["link.energy_per_byte_pj"], "link"),
        (THERMAL_WITH_WRITE_ENERGY, ["host.energy_per_flop_pj"], "host_compute"),
        (THERMAL_WITH_WRITE_ENERGY, ["host.energy_per_byte_pj"], "host_memory"),
        (THERMAL_WITH_WRITE_ENERGY, ["host.static_power_w"], "host_static"),
        (load_preset("pai2023-chip"), ["detector.power_w", "taps.power_w"], "camera"),
        (load_preset("gpu-h100"), ["processor.energy_per_flop_pj"], "compute"),
        (load_preset("gpu-h100"), ["processor.energy_per_byte_pj"], "memory"),
        (load_preset("gpu-h100"), ["processor.static_power_w"], "static"),
    ],
)
def test_doubling_one_energy_parameter_doubles_only_its_component(
    hardware: Any, paths: list[str], component: str
) -> None:
    from scenarios.energy_latency import digital_step_ops

    ops = digital_step_ops(4, 2, 3) if isinstance(hardware, DigitalHardware) else _insitu_trace()
    doubled = hardware
    for path in paths:
        doubled = _scaled(doubled, path, 2.0)
    base, new = simulate(ops, hardware), simulate(ops, doubled)
    assert base.energy_by_component_pj[component] > 0
    assert new.latency_ns == base.latency_ns
    for name, value in base.energy_by_component_pj.items():
        factor = 2.0 if name == component else 1.0
        assert new.energy_by_component_pj[name] == pytest.approx(factor * value, rel=1e-12), name
    share = base.energy_by_component_pj[component]
    assert new.energy_pj == pytest.approx(base.energy_pj + share, rel=1e-12)


def test_laser_energy_scales_with_one_over_wall_plug_efficiency() -> None:
    hw = load_preset("eo-integrated")
    assert isinstance(hw, PhotonicHardware)
    half = dataclasses.replace(hw, laser=Laser(wall_plug_efficiency=0.15))
    base, new = simulate(_insitu_trace(), hw), simulate(_insitu_trace(), half)
    assert new.energy_by_component_pj["laser"] == pytest.approx(
        2 * base.energy_by_component_pj["laser"], rel=1e-12
    )
    others = {k for k in base.energy_by_component_pj if k != "laser"}
    assert all(new.energy_by_component_pj[k] == base.energy_by_component_pj[k] for k in others)


def test_h100_energy_per_flop_at_full_utilization_matches_the_spec() -> None:
    """parameters.md: 700 W / 989 TFLOP/s = 0.71 pJ/FLOP BF16; a compute-bound GEMM."""
    m = 16384
    op = Op("digital_compute", 0, "forward", m, m, flops=2 * m**3, bytes=8 * 3 * m * m)
    timeline = simulate([op], "gpu-h100")
    assert timeline.energy_pj / op.flops == pytest.approx(0.71, rel=0.05)
    assert timeline.time_by_component_ns["compute"] > 0.99 * timeline.latency_ns - 4000


def test_pipelining_amortizes_the_fill() -> None:
    hw = load_preset("eo-integrated")
    one = simulate([Op("mesh_pass", 0, "forward", 8, 1, passes=1, conversions=16)], hw)
    many = simulate([Op("mesh_pass", 0, "forward", 8, 100, passes=100, conversions=1600)], hw)
    # 8 samples on 8 DACs at 1 GS/s: 1 ns per vector is the slowest stage.
    assert many.latency_ns - one.latency_ns == pytest.approx(99 * 1.0)


# --------------------------------------------------------------------------- inputs


def test_digital_hardware_refuses_photonic_ops() -> None:
    with pytest.raises(ValueError, match=r"ops\[1\] has kind='mesh_pass'.*'gpu-h100' is digital"):
        simulate(
            [
                Op("digital_compute", 0, "forward", 2, 1, flops=1),
                Op("mesh_pass", 0, "forward", 2, 1, passes=1),
            ],
            "gpu-h100",
        )


def test_bad_ops_and_hardware_are_refused() -> None:
    with pytest.raises(TypeError, match=r"ops\[0\] is a dict"):
        simulate([{"kind": "mesh_pass"}], "cpu")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="hardware is a int"):
        simulate([], 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown preset 'tpu'"):
        simulate([], "tpu")


def test_empty_trace_and_zero_work_ops() -> None:
    empty = simulate([], "eo-integrated")
    assert (empty.latency_ns, empty.energy_pj, empty.n_ops) == (0.0, 0.0, 0)
    idle = simulate([Op("phase_update", 0, "update", 4, 1)], "eo-integrated")
    assert idle.latency_ns == 0.0 and idle.energy_pj == 0.0


def test_shifter_count_and_plan() -> None:
    ops = [
        Op("mesh_pass", 0, "forward", 4, 1, passes=1),
        Op("mesh_pass", 1, "forward", 6, 1, passes=1),
        Op("digital_compute", 2, "forward", 100, 1, flops=1),
    ]
    assert count_shifters(ops) == 16 + 36
    # a layer whose full write programs more shifters than one mesh holds them all
    svd = [*ops, Op("phase_update", 0, "update", 4, 1, n_phases=36)]
    assert count_shifters(svd) == 36 + 36
    assert count_shifters([*ops, Op("phase_update", 0, "update", 4, 1, n_phases=1)]) == 52
    # a write given as conversions counts as the engine plans it
    assert count_shifters([*ops, Op("phase_update", 0, "update", 4, 1, conversions=36)]) == 72
    with pytest.raises(ValueError, match="n_shifters=-1 must be an int"):
        simulate(ops, "eo-integrated", n_shifters=-1)
    given = simulate(ops, "eo-integrated", n_shifters=np.int64(52))  # as counted
    assert given.energy_pj == simulate(ops, "eo-integrated").energy_pj
    plan = plan_op(ops[0], load_preset("eo-integrated"), n_shifters=16)
    assert plan.duration_ns == pytest.approx(sum(t for _, t in plan.time_by_component_ns))
    assert {h.resource for h in plan.holds} >= {"laser", "mesh", "dac_bank", "detectors"}


def test_ledger_entries_are_records() -> None:
    entry = simulate([Op("digital_compute", 0, "forward", 2, 1, flops=10)], "cpu").entries[0]
    assert isinstance(entry, LedgerEntry)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.energy_pj = 0.0  # type: ignore[misc]


# --------------------------------------------------------------------------- presets by hand
# Paths only the bundled presets take (no per-port channel counts given, field reads,
# bf16 words), computed from the preset files' values.


@pytest.mark.parametrize(("exit_read", "adc_per_vector_ns"), [("power", 1.0), ("field", 2.0)])
def test_eo_integrated_pass_is_paced_by_its_slowest_stage(
    exit_read: str, adc_per_vector_ns: float
) -> None:
    """eo-integrated, N = 4, B = 100, pipelined: link latency 10 ns, then the first vector
    through every stage — link (4 inputs × 10 bit + reads × 8 bit at 1 TB/s), input DACs
    (one per port, 1 GS/s: 1 ns), optics (4 columns × 0.01 ns), ADCs (one per port, 1 GS/s,
    1 read per port for a power, 2 for a field: I and Q) — then 99 vectors at the slowest
    stage, the ADC when a field is read."""
    op = mesh_pass(0, "adjoint", n_ports=4, n_samples=100, exit_read=exit_read)  # type: ignore[arg-type]
    link_ns = (4 * 10 / 8 + 4 * adc_per_vector_ns) * 1e-3
    bottleneck = max(link_ns, 1.0, 0.04, adc_per_vector_ns)
    timeline = simulate([op], load_preset("eo-integrated"))
    assert timeline.latency_ns == pytest.approx(
        10 + link_ns + 1 + 0.04 + adc_per_vector_ns + 99 * bottleneck, rel=1e-12
    )
    times = timeline.time_by_component_ns
    assert sum(times.values()) == pytest.approx(timeline.latency_ns, rel=1e-12)
    assert times["link"] == pytest.approx(10 + link_ns)
    if exit_read == "field":  # the ADCs alone are the slowest stage: theirs is the wait
        assert times["detector_adc"] == pytest.approx(2 + 99 * 2)
    else:  # DACs and ADCs tie at 1 ns: the 99 ns go to one of them
        assert times["input_dac"] + times["detector_adc"] == pytest.approx(1 + 1 + 99)


def _eo_laser_mw(n_ports: int) -> float:
    """eo-integrated's laser for an N-port Clements mesh, from the preset file's values:
    8-bit ADCs at 1 GS/s (SNR 2⁸ in 0.5 GHz), 10 pA/√Hz, 1 A/W; 1.0 dB per facet and
    0.1 dB per MZI column (N columns); wall-plug efficiency 0.3."""
    snr, bandwidth_hz, q = 2.0**8, 0.5e9, 1.602176634e-19
    shot = snr**2 * q * bandwidth_hz
    current_a = shot + math.sqrt(shot**2 + snr**2 * (10e-12) ** 2 * bandwidth_hz)
    transmission = 10 ** (-(2 * 1.0 + n_ports * 0.1) / 10)
    return n_ports * current_a * 1e3 / transmission / 0.3


@pytest.mark.parametrize(
    ("inject", "exit_read", "dac_ns", "adc_ns", "bytes_per_vector"),
    [
        # 4 amplitudes (10 bit) in, 8 reads (8 bit) out: (40 + 64) / 8 = 13 B
        ("amplitude", "field", 1.0, 2.0, 13.0),
        # 8 samples, I and Q, on the 4 DACs (one per port): two periods; 18 B
        ("field", "field", 2.0, 2.0, 18.0),
        # a sum pass: the field in, nothing read; the DACs pace it; 80 bit = 10 B
        ("field", "none", 2.0, 0.0, 10.0),
        ("amplitude", "none", 1.0, 0.0, 5.0),
    ],
)
def test_eo_integrated_field_injection_by_hand(
    inject: str, exit_read: str, dac_ns: float, adc_ns: float, bytes_per_vector: float
) -> None:
    """N = 4, B = 2 on eo-integrated, every number from the preset file: DAC 0.5 pJ and
    ring modulator 0.01 pJ per sample, 1 GS/s, one DAC per port; ADC 1 pJ, 1 GS/s, one
    per port; link 10 ns + bytes at 1 TB/s, 0.8 pJ/B; 4 columns × 0.01 ns of optics; the
    host's 1 W static. Pipelined: latency + first vector through every stage + 1 more
    vector at the slowest stage. A complex field is I and Q at every port: twice the
    DAC and modulator energy and input bytes of real amplitudes, and two DAC periods."""
    op = mesh_pass(0, "adjoint", n_ports=4, n_samples=2, exit_read=exit_read, inject=inject)  # type: ignore[arg-type]
    samples = 2 * 4 * (2 if inject == "field" else 1)
    reads = 2 * 4 * {"field": 2, "none": 0}[exit_read]
    link_ns = bytes_per_vector / 1e12 * 1e9
    latency = 10 + link_ns + dac_ns + 0.04 + adc_ns + max(link_ns, dac_ns, adc_ns)
    lit_ns = latency - (10 + link_ns)  # from the first modulation to the last reading
    timeline = simulate([op], load_preset("eo-integrated"))
    assert timeline.latency_ns == pytest.approx(latency, rel=1e-12)
    assert timeline.energy_by_component_pj == pytest.approx(
        {
            "input_dac": samples * 0.5,
            "modulator": samples * 0.01,
            "detector_adc": reads * 1.0,
            "link": 2 * bytes_per_vector * 0.8,
            "laser": _eo_laser_mw(4) * lit_ns,
            "mesh": 0.0,
            "phase_hold": 0.0,
            "host_static": 1000.0 * latency,  # 1 W = 1000 mW; mW × ns = pJ
        },
        rel=1e-9,
    )
    assert timeline.time_by_component_ns["input_dac"] == pytest.approx(
        dac_ns + (dac_ns if dac_ns >= adc_ns else 0.0)  # the second vector's wait, if DACs pace
    )


def test_a_pass_through_two_meshes_lights_the_laser_for_both_meshes_loss() -> None:
    """eo-integrated, N = 4: the light of an SVD layer's pass crosses V, the attenuator
    column and U, so the laser must give the detectors their power after all those
    columns (the facets once): (2 × 4 + 1) × 0.1 dB, not 4 × 0.1 dB. A laser sized for
    one mesh left the detectors 10^(N·loss/10) short; a planner that kept one laser
    power per width gave a pass the power of a pass of the other mesh count seen before
    it in the trace."""
    one = mesh_pass(0, "forward", n_ports=4, n_samples=2, exit_read="power")
    two = mesh_pass(1, "forward", n_ports=4, n_samples=2, exit_read="power", meshes=2)
    again = mesh_pass(2, "forward", n_ports=4, n_samples=2, exit_read="power")
    timeline = simulate([one, two, again], load_preset("eo-integrated"))
    lasers = sorted(
        (e.op_index, e.end_ns - e.start_ns, e.energy_pj)
        for e in timeline.entries
        if e.component == "laser"
    )
    assert [index for index, _, _ in lasers] == [0, 1, 2]
    spans = [span for _, span, _ in lasers]
    # V's 4 columns and the attenuator column more
    assert spans[1] == pytest.approx(spans[0] + (4 + 1) * 0.01, rel=1e-12)
    assert spans[2] == pytest.approx(spans[0], rel=1e-12)
    both_meshes_mw = _eo_laser_mw(4) * 10 ** ((4 + 1) * 0.1 / 10)  # 5 columns of 0.1 dB more
    expected = [_eo_laser_mw(4), both_meshes_mw, _eo_laser_mw(4)]
    for (_, span, energy), mw in zip(lasers, expected, strict=True):
        assert energy == pytest.approx(mw * span, rel=1e-9)


@pytest.mark.parametrize("inject", ["amplitude", "field"])
def test_a_mesh_pass_without_conversions_is_its_optical_delay_only(inject: str) -> None:
    """A hand-made mesh_pass with conversions=0 (sim.ops: "delay only") on eo-integrated:
    4 columns × 0.01 ns of light, no DAC sample, symbol, ADC read or link byte. Counted
    as input samples less reads, it had a negative ADC energy for the samples it never
    modulated."""
    op = Op("mesh_pass", 0, "forward", 4, 2, passes=2, conversions=0, inject=inject)  # type: ignore[arg-type]
    timeline = simulate([op], load_preset("eo-integrated"))
    assert timeline.latency_ns == pytest.approx(0.04, rel=1e-12)
    energy = timeline.energy_by_component_pj
    for component in ("input_dac", "modulator", "detector_adc", "link"):
        assert energy[component] == 0.0, component
    assert energy["laser"] == pytest.approx(_eo_laser_mw(4) * 0.04, rel=1e-9)


def test_adjoint_pass_pays_twice_the_dac_energy_of_the_forward_pass() -> None:
    """The same N and batch: the adjoint pass injects δ (complex), the forward pass real
    amplitudes; the DAC and modulator energy of the adjoint pass is twice the forward's
    on every photonic preset."""
    forward = mesh_pass(0, "forward", n_ports=4, n_samples=2, exit_read="field")
    adjoint = mesh_pass(0, "adjoint", n_ports=4, n_samples=2, exit_read="field", inject="field")
    for preset in ("pai2023-chip", "thermal-integrated", "eo-integrated"):
        f, a = (simulate([op], preset).energy_by_component_pj for op in (forward, adjoint))
        assert a["input_dac"] == pytest.approx(2 * f["input_dac"], rel=1e-12)
        assert a["input_dac"] > 0
        assert a["modulator"] == pytest.approx(2 * f["modulator"], rel=1e-12)
        assert a["detector_adc" if preset != "pai2023-chip" else "camera"] == pytest.approx(
            f["detector_adc" if preset != "pai2023-chip" else "camera"], rel=1e-12
        )


def test_eo_integrated_writes_every_shifter_on_its_own_dac() -> None:
    """No dac_channels in the preset: one DAC per shifter, so 16 writes take one sample
    time. Link 10 ns + 16 × 10 bit at 1 TB/s, DACs 1 ns, settling 1 ns."""
    timeline = simulate([phase_update(0, n_ports=4, n_phases=16)], load_preset("eo-integrated"))
    assert timeline.latency_ns == pytest.approx(10 + 16 * 10 / 8 * 1e-3 + 1 + 1, rel=1e-12)


def test_gpu_h100_moves_bf16_words() -> None:
    """Recorded bytes are float64; the H100 runs bf16, 2 bytes a word: 8 MB recorded are
    2 MB moved, 2e6 B / 3.35 TB/s = 597.015 ns after the 4 µs launch, at 31.2 pJ/B."""
    op = Op("digital_compute", 0, "forward", 1, 1, bytes=8_000_000)
    timeline = simulate([op], load_preset("gpu-h100"))
    assert timeline.latency_ns == pytest.approx(4000 + 2e6 / 3.35e12 * 1e9, rel=1e-12)
    memory = [e for e in timeline.entries if e.component == "memory"]
    assert sum(e.energy_pj for e in memory) == pytest.approx(2e6 * 31.2, rel=1e-12)


def test_partial_conversions_round_up_to_whole_adc_periods_and_camera_frames() -> None:
    """3 tap reads on 2 channels take 2 periods; 24 reads of 16 shifters on the Pai camera
    (one frame images every tap once) take 2 whole frames of 40 ms."""
    two = simulate(
        [Op("tap_readout", 0, "forward", 2, 1, n_phases=4, conversions=3)], two_port_chip()
    )
    (adc,) = [e for e in two.entries if e.component == "tap_adc"]
    assert adc.end_ns - adc.start_ns == pytest.approx(2.0)
    pai = load_preset("pai2023-chip")
    frames = simulate([Op("tap_readout", 0, "forward", 4, 1, n_phases=16, conversions=24)], pai)
    assert isinstance(pai, PhotonicHardware) and isinstance(pai.detector, Camera)
    assert pai.detector.frame_ns == 40e6  # 20 ms exposure + 20 ms wait
    assert frames.latency_ns >= 2 * 40e6
    assert frames.latency_ns < 3 * 40e6


def test_modulator_settling_is_paid_per_vector() -> None:
    """Sequential two-port chip with 3 ns modulator settling: 5 ns link latency + 3 × (8 ns
    per vector + 3 ns settling) = 38 ns."""
    chip = two_port_chip(pass_mode="sequential")
    chip = dataclasses.replace(chip, modulator=dataclasses.replace(chip.modulator, settling_ns=3.0))
    op = Op("mesh_pass", 0, "forward", 2, 3, passes=3, conversions=12)
    assert simulate([op], chip).latency_ns == pytest.approx(38.0)


#: One in-situ step (energy_latency.insitu_step_ops(4, 2, 3)) on every bundled preset:
#: (latency ns, energy pJ). These pin the presets' numbers: a change of a preset value or
#: of the model moves them, and must then be made here on purpose, with its reason.
#: 2026-12-02: the forward pass of an in-situ step reads the output field (I and Q), not
#: powers (DESIGN.md §4.4): one more read per output port and sample.
#: 2026-12-02: the adjoint and sum passes inject complex fields (δ, x − i·conj(x̂)): two
#: DAC samples per port (I and Q), not one, and two DAC periods per vector on one DAC
#: per port. Was (1040211043.3885909, 63242721381731.9), (31054.6968452381,
#: 1577900617.9918807) and (254.286, 256640.09057866927): eo-integrated +3.2 % in time
#: and energy, thermal-integrated +0.03 %, pai2023-chip +0.000001 %.
#: 2026-12-02: the host's Adam update of all layers is one op (as digital.train.train
#: records it), not one per layer: one launch overhead less, on the host and on what is
#: held meanwhile (1000 ns, 50.8 µJ on the lab host; 10 ns, 10 nJ on eo-integrated's).
#: Was (1040211057.2933531, 63242722090541.805), (31063.33176587302,
#: 1578341768.038122) and (262.306, 264744.1992185453).
PINNED_INSITU_STEP = {
    "pai2023-chip": (1040210057.2933531, 63242671290541.805),
    "thermal-integrated": (30063.33176587302, 1527541768.038122),
    "eo-integrated": (252.306, 254744.19921854525),
}


@pytest.mark.parametrize("preset", sorted(PINNED_INSITU_STEP))
def test_bundled_presets_give_their_pinned_step_cost(preset: str) -> None:
    from scenarios.energy_latency import insitu_step_ops

    latency, energy = PINNED_INSITU_STEP[preset]
    timeline = simulate(insitu_step_ops(4, 2, 3), load_preset(preset))
    assert timeline.latency_ns == pytest.approx(latency, rel=1e-9)
    assert timeline.energy_pj == pytest.approx(energy, rel=1e-9)


def test_plan_op_takes_a_preset_name_as_simulate_does() -> None:
    """plan_op(op, 'cpu') failed with: 'str' object has no attribute 'processor'."""
    op = Op("digital_compute", 0, "forward", 2, 1, flops=10, bytes=10)
    assert plan_op(op, "cpu") == plan_op(op, load_preset("cpu"))
    with pytest.raises(TypeError, match="hardware is a int; expected PhotonicHardware"):
        plan_op(op, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        # a negative count booked negative holding energy, silently
        (lambda op: plan_op(op, "pai2023-chip", n_shifters=-5), ValueError, "n_shifters=-5"),
        (lambda op: plan_op(op, "pai2023-chip", n_shifters="16"), ValueError, "n_shifters='16'"),
        (lambda op: count_shifters([op, 3]), TypeError, r"ops\[1\] is a int; expected a sim"),
        (lambda op: count_shifters(None), TypeError, "ops is a NoneType; expected a list"),
        (lambda op: simulate(None, "cpu"), TypeError, "ops is a NoneType; expected a list"),
    ],
)
def test_shifter_counts_and_traces_are_checked(call: Any, error: type, match: str) -> None:
    op = mesh_pass(0, "forward", n_ports=4, n_samples=2, exit_read="power")
    with pytest.raises(error, match=match):
        call(op)


def test_unit_conversions_have_one_definition() -> None:
    """NS_PER_S and MW_PER_W were defined in both sim.engine and sim.hardware, free to
    drift apart; the engine now uses the hardware module's."""
    import sim.engine
    import sim.hardware

    assert sim.engine.NS_PER_S is sim.hardware.NS_PER_S
    assert sim.engine.MW_PER_W is sim.hardware.MW_PER_W


def test_plan_op_names_its_frame_and_settling_options() -> None:
    """A deferred write ends without settling; a shared frame costs no camera time."""
    write = phase_update(0, n_ports=4, n_phases=16)
    settled = plan_op(write, "pai2023-chip")
    deferred = plan_op(write, "pai2023-chip", settling="defer")
    assert deferred.duration_ns < settled.duration_ns
    with pytest.raises(ValueError, match="settling='later'"):
        plan_op(write, "pai2023-chip", settling="later")  # type: ignore[arg-type]
    taps = tap_readout(0, "forward", n_ports=4, n_samples=1, n_phases=16, integrated="batch")
    own = plan_op(taps, "pai2023-chip")
    shared = plan_op(taps, "pai2023-chip", frames="shared")
    assert shared.duration_ns < own.duration_ns
    with pytest.raises(ValueError, match="frames=True"):
        plan_op(taps, "pai2023-chip", frames=True)  # type: ignore[arg-type]


def test_eo_integrated_inference_tops_per_w_by_hand_from_the_preset_numbers() -> None:
    """One 64-port layer, batch 256, on eo-integrated, every number from the preset file
    (not from the engine's helpers), so that a changed preset or formula is caught:

    - 256 × 64 inputs: DAC 0.5 pJ and modulator 0.01 pJ each; 256 × 64 power reads at
      1 pJ; link (10 + 8 bit) / 8 × 16384 B at 0.8 pJ/B, 144 B per vector at 1 TB/s.
    - laser: 8 bit → SNR 256 in 0.5 GHz; I = s²qB + √((s²qB)² + s² i_n² B) with
      i_n = 10 pA/√Hz, P_det = I / (1 A/W); loss 2 × 1 dB + 64 × 0.1 dB; 64 detectors;
      ÷ 0.3 wall-plug; on from the first modulation to the last read.
    - time: 10 ns latency + 0.144 + 1 (DAC) + 0.64 (64 columns) + 1 (ADC) + 255 × 1 ns.
    - host 1 W static for the whole pass; no holding power (electro-optic).
    """
    n, b = 64, 256
    op = mesh_pass(0, "forward", n_ports=n, n_samples=b, exit_read="power")
    tl = simulate([op], "eo-integrated")
    t_link = 144 / 1e12 * 1e9
    duration = 10 + t_link + 1 + 0.64 + 1 + 255 * 1
    s2qb = 256**2 * 1.602176634e-19 * 0.5e9
    current = s2qb + math.sqrt(s2qb**2 + 256**2 * (10e-12) ** 2 * 0.5e9)
    laser_mw = n * current * 1e3 / 10 ** (-(2 * 1.0 + n * 0.1) / 10) / 0.3
    expected = {
        "input_dac": b * n * 0.5,
        "modulator": b * n * 0.01,
        "detector_adc": b * n * 1.0,
        "link": b * n * 18 / 8 * 0.8,
        "laser": laser_mw * (duration - 10 - t_link),
        "host_static": 1e3 * duration,
        "phase_hold": 0.0,
        "mesh": 0.0,
    }
    assert tl.latency_ns == pytest.approx(duration, rel=1e-12)
    assert tl.energy_by_component_pj == pytest.approx(expected, rel=1e-9)
    macs = b * n * n
    assert 2 * macs / tl.energy_pj == pytest.approx(6.0634, rel=1e-4)  # system TOPS/W
    chip = tl.energy_pj - expected["host_static"]
    assert 2 * macs / chip == pytest.approx(26.857, rel=1e-4)  # chip-only TOPS/W


def test_an_op_whose_energy_overflows_is_refused_by_its_n_ports() -> None:
    """thermal-integrated (0.2 dB per MZI), N = 15 000: the laser's power, 9e303 mW, is
    still a float64 (laser_electrical_power_mw refuses only beyond that), but a pass of
    100 samples lights it for 1e5 ns: simulate returned energy_pj = inf without a word."""
    from sim.hardware import laser_electrical_power_mw

    hw = load_preset("thermal-integrated")
    assert isinstance(hw, PhotonicHardware)
    assert math.isfinite(laser_electrical_power_mw(15_000, hw))
    one = mesh_pass(0, "forward", n_ports=15_000, n_samples=1, exit_read="power")
    assert math.isfinite(simulate([one], hw, n_shifters=0).energy_pj)
    many = dataclasses.replace(one, n_samples=100, passes=100, conversions=100 * 15_000)
    with pytest.raises(ValueError, match=r"n_ports=15000: the laser energy of ops\[1\]"):
        simulate([one, many], hw, n_shifters=0)
    # each op's energy finite, their sum not
    with pytest.raises(ValueError, match=r"n_ports=15000: the energy of the 200 ops .* adds up"):
        simulate([one] * 200, hw, n_shifters=0)
    # the widest op is named, whatever comes first
    small = mesh_pass(0, "forward", n_ports=2, n_samples=1, exit_read="power")
    with pytest.raises(ValueError, match=r"n_ports=15000: the energy of the 201 ops"):
        simulate([small, *[one] * 200], hw, n_shifters=0)


def test_a_total_energy_that_fsum_cannot_hold_is_refused_by_n_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two finite components whose sum is beyond float64 make the Timeline's fsum raise
    a bare OverflowError; simulate turns it into the ValueError naming n_ports."""
    import sim.engine as engine

    def overflowing(**kwargs: Any) -> Timeline:
        raise OverflowError("intermediate overflow in fsum")

    monkeypatch.setattr(engine, "Timeline", overflowing)
    op = mesh_pass(0, "forward", n_ports=4, n_samples=1, exit_read="power")
    with pytest.raises(ValueError, match=r"n_ports=4: the energy of the 1 ops .* adds up"):
        simulate([op], load_preset("thermal-integrated"), n_shifters=0)


@pytest.mark.parametrize("preset", available_presets())
def test_every_time_split_names_a_known_component(preset: str) -> None:
    """time_share checks names against TIME_COMPONENTS: a name the engine emits but the
    list lacks would be refused, one the list has but nothing emits is harmless."""
    from scenarios import energy_latency as el

    traces = (
        [
            el.inference_ops(4, 2, 3),
            el.insitu_step_ops(4, 2, 3),
            el.insitu_step_ops(4, 2, 3, tap_integration="per_sample"),
            list(el.finite_difference_step_ops(4, 2, 2)),
        ]
        if isinstance(load_preset(preset), PhotonicHardware)
        else [el.digital_step_ops(4, 2, 3), el.digital_inference_ops(64, 2, 256)]
    )
    names: set[str] = set()
    for ops in traces:
        names |= set(simulate(ops, preset).time_by_component_ns)
    assert names and names <= set(TIME_COMPONENTS)
    assert len(set(TIME_COMPONENTS)) == len(TIME_COMPONENTS)
