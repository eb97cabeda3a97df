"""energy_latency: the traces match the networks' own records; the study's figures and numbers."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digital.network import MLP
from photonic.network import PhotonicNetwork
from scenarios import energy_latency as el
from scenarios.framework import Result, config_from_overrides, run_scenario
from scenarios.provenance import undeclared_files
from sim.engine import simulate
from sim.ops import Recorder
from sim.presets import load_preset
from sim.report import phase_of


def test_inference_ops_are_what_the_photonic_network_records() -> None:
    net = PhotonicNetwork(4, 3, n_features=4, rng=np.random.default_rng(0))
    net.recorder = Recorder()
    net.forward(np.ones((5, 4)))
    assert net.recorder.ops == el.inference_ops(4, 3, 5)


def test_digital_traces_are_what_the_mlp_records() -> None:
    net = MLP(
        [6, 6, 6],
        activation=["abs", "abs2"],
        rng=np.random.default_rng(1),
        dtype=complex,
        bias="none",
    )
    net.recorder = Recorder()
    y = net.forward(np.ones((3, 6)))
    forward = list(net.recorder.ops)
    net.backward(np.ones_like(y))
    assert el.digital_inference_ops(6, 2, 3) == forward
    step = el.digital_step_ops(6, 2, 3)
    assert step[: len(forward)] == forward
    assert step[len(forward) + 1 : -1] == net.recorder.ops[len(forward) :]
    assert step[-1].direction == "update"  # one Adam op for all weights, as train records
    # products and activations (|z| after layer 1, |y|² after layer 2), both ways
    assert len(forward) == 4 and len(step) == 4 + 1 + 4 + 1


def test_insitu_step_has_three_passes_per_layer() -> None:
    for n in (4, 8):
        ops = el.insitu_step_ops(n, 3, 5)
        kinds = [op.kind for op in ops]
        assert kinds.count("mesh_pass") == 3 * 3
        assert kinds.count("tap_readout") == 3 * 3
        assert kinds.count("phase_update") == 3
        assert {op.direction for op in ops if op.kind == "mesh_pass"} == {
            "forward",
            "adjoint",
            "sum",
        }
        taps = [op for op in ops if op.kind == "tap_readout"]
        assert all(op.n_phases == n * n and op.conversions == n * n for op in taps)
    per_sample = el.insitu_step_ops(4, 1, 5, tap_integration="per_sample")
    assert [op.conversions for op in per_sample if op.kind == "tap_readout"] == [80, 80, 80]
    with pytest.raises(ValueError, match="tap_integration='sometimes'"):
        el.insitu_step_ops(4, 1, 1, tap_integration="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_ports=1"):
        el.insitu_step_ops(1, 1, 1)


def test_insitu_step_injects_complex_fields_in_its_adjoint_and_sum_passes() -> None:
    """δ and x − i·conj(x̂) are complex: I and Q at every port, two DAC samples per port
    (``inject="field"``); the forward passes inject real amplitudes (the features, then
    |z|), as the inference and finite-difference passes do. All were one sample."""
    ops = el.insitu_step_ops(4, 3, 5)
    passes = [(op.direction, op.inject) for op in ops if op.kind == "mesh_pass"]
    assert passes == [("forward", "amplitude")] * 3 + [("adjoint", "field"), ("sum", "field")] * 3
    adjoint = next(op for op in ops if op.direction == "adjoint" and op.kind == "mesh_pass")
    assert adjoint.conversions == (2 + 2) * 5 * 4  # I, Q in; x̂ read as I, Q
    assert {op.inject for op in el.inference_ops(4, 3, 5)} == {"amplitude"}
    fd = [op for op in el.finite_difference_step_ops(4, 2, 5) if op.kind == "mesh_pass"]
    assert {op.inject for op in fd} == {"amplitude"}


def test_synthetic_fd_writes_and_passes_are_what_the_network_records() -> None:
    """Per shifter: +h, −h and back (3 one-shifter writes) and 2 evaluations of the
    whole network, as PhotonicNetwork(gradient="finite_difference") records them."""
    n, n_layers, b = 3, 2, 2
    net = PhotonicNetwork(n, n_layers, n_features=n, rng=np.random.default_rng(0))
    net.recorder = Recorder()
    y = net.forward(np.ones((b, n)))
    n_forward = len(net.recorder.ops)
    net.backward(np.ones_like(y), method="finite_difference")
    recorded = net.recorder.ops
    synthetic = list(el.finite_difference_step_ops(n, n_layers, b))

    def writes(ops: list) -> list[tuple[int, int]]:
        return [(op.layer, op.n_phases) for op in ops if op.kind == "phase_update"]

    def passes(ops: list) -> int:
        return sum(op.kind == "mesh_pass" for op in ops)

    assert writes(recorded) == writes(synthetic)[:-n_layers]  # the tail's update aside
    assert passes(recorded) == passes(synthetic) == el.fd_passes_per_step(n, n_layers)
    # the same phases of the step: the head's evaluation is forward work, the per-shifter
    # blocks are the gradient measurement (the synthetic tail is the update)
    head = 2 * n_layers
    assert [phase_of(op) for op in synthetic[:head]] == ["forward"] * head
    assert {phase_of(op) for op in synthetic[head : -2 * n_layers]} == {"gradient"}
    assert {phase_of(op) for op in recorded[:n_forward]} == {"forward"}
    assert {phase_of(op) for op in recorded[n_forward:]} == {"gradient"}


def test_recorded_insitu_passes_per_layer_do_not_grow_with_n() -> None:
    """The real photonic/insitu.py trace: O(1) mesh passes per layer (3: the inference
    pass, whose taps are read, then adjoint and sum)."""
    counts = []
    for n in (4, 6):
        net = PhotonicNetwork(n, 2, n_features=n, rng=np.random.default_rng(0), gradient="in_situ")
        net.recorder = Recorder()
        y = net.forward(np.ones((2, n)))
        net.backward(np.ones_like(y))
        counts.append(sum(op.kind == "mesh_pass" for op in net.recorder.ops) / 2)
        assert simulate(net.recorder.ops, "thermal-integrated").latency_ns > 0
    assert counts[0] == counts[1] == 3


def test_finite_difference_counts() -> None:
    n, n_layers, b = 3, 2, 2
    ops = list(el.finite_difference_step_ops(n, n_layers, b))
    s = el.shifters_per_layer(n)
    assert s == 9
    # head: L passes, L − 1 activations, the loss; per shifter 2 × (write, L passes,
    # L − 1 activations, loss) and the write back; tail: one Adam op (all layers, as
    # train records it) and a phase update per layer.
    per_shifter = 2 * (2 * n_layers + 1) + 1
    assert len(ops) == 2 * n_layers + n_layers * s * per_shifter + 1 + n_layers
    passes = sum(op.kind == "mesh_pass" for op in ops)
    assert passes == el.fd_passes_per_step(n, n_layers) == n_layers + 2 * s * n_layers**2
    writes = [op for op in ops if op.kind == "phase_update" and op.n_phases == 1]
    assert len(writes) == 3 * n_layers * s  # +h, −h, back: as PhotonicNetwork records them


@pytest.mark.parametrize("preset", ["thermal-integrated", "pai2023-chip", "gpu-h100"])
def test_fd_step_cost_equals_replaying_the_whole_trace(preset: str) -> None:
    hw = load_preset(preset)
    if hw.kind == "digital":
        with pytest.raises(ValueError, match="needs photonic hardware"):
            el.fd_step_cost(hw, 3, 2, 2)
        return
    full = simulate(list(el.finite_difference_step_ops(3, 2, 2)), hw)
    cost = el.fd_step_cost(hw, 3, 2, 2)
    assert cost["latency_ns"] == pytest.approx(full.latency_ns, rel=1e-9)
    assert cost["energy_pj"] == pytest.approx(full.energy_pj, rel=1e-9)
    assert cost["energy_by_component_pj"] == pytest.approx(full.energy_by_component_pj, rel=1e-9)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("ports", (1, 4), "ports=(1, 4)"),
        ("ports", (), "ports=()"),
        ("batches", (0,), "batches=(0,)"),
        ("presets", ("gpu-h200",), "unknown preset 'gpu-h200'"),
        ("heatmap_presets", ("gpu-h100",), "not photonic"),
        ("heatmap_presets", ("my-chip",), "not in presets"),
        ("heatmap_presets", ("my-chip",), "or none with --set heatmap_presets= (TOML: [])"),
        ("reference_ports", 5, "reference_ports=5 must be one of ports"),
        ("reference_batch", 3, "reference_batch=3"),
        ("tap_integration", "never", "tap_integration='never'"),
        ("n_layers", 0, "n_layers=0"),
        ("replay_ops", -1, "replay_ops=-1"),
        ("seed", -1, "seed=-1"),
    ],
)
def test_config_validation(field: str, value: object, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        el.Config(**{field: value})  # type: ignore[arg-type]
    assert fragment in str(info.value)


TINY = el.Config(
    ports=(4, 8),
    batches=(1, 4),
    reference_ports=4,
    reference_batch=4,
    fd_count_max_ports=4,
    heatmap_presets=("eo-integrated",),
    replay_steps=3,
    replay_ops=300,
)


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory: pytest.TempPathFactory) -> Result:
    return run_scenario(el, TINY, tmp_path_factory.mktemp("energy"))


def test_run_writes_every_figure(tiny_result: Result) -> None:
    names = sorted(p.name for p in tiny_result.figures)
    for stem in ("scaling", "breakdown", "heatmaps", "passes_per_step", "crossover"):
        assert f"{stem}.png" in names and f"{stem}.svg" in names
    assert all(p.is_file() for p in tiny_result.figures)
    assert (tiny_result.out_dir / "metrics.csv").is_file()


def test_run_acceptance_numbers(tiny_result: Result) -> None:
    s = tiny_result.summary
    assert s["h100_bf16_pj_per_flop_full_utilization"] == pytest.approx(0.71, rel=0.05)
    assert float(s["pai_camera_settling_share_pai_shape_b1"]) > 0.99
    assert float(s["pai_camera_settling_share_recorded_insitu_B4"]) > 0.99
    assert s["slope_passes_per_step_in_situ"] == pytest.approx(0.0, abs=1e-9)
    assert s["slope_passes_per_step_finite_difference"] == pytest.approx(2.0, abs=0.05)
    assert "crossover_photonic_inference_system_vs_digital_full_utilization_real_mac_B4" in s
    assert s["replay_300_ops_n_ops"] == 300
    # headline first (a sweep's default metric): each preset's training-step energy
    # per MAC at the reference size, as in the sweep rows
    n, b = TINY.reference_ports, TINY.reference_batch
    headline = [f"{p}_train_step_pj_per_mac" for p in TINY.presets]  # named without N, B
    assert list(s)[: len(headline)] == headline
    row = next(
        r
        for r in tiny_result.metrics
        if r.get("study") == "sweep"
        and (r["preset"], r["workload"], r["n_ports"], r["batch"], r["metric"])
        == (TINY.presets[0], "train_step", n, b, "energy_per_mac_pj")
    )
    assert s[headline[0]] == pytest.approx(row["value"], rel=1e-3)


def test_run_rows_are_tidy_and_complete(tiny_result: Result) -> None:
    rows = tiny_result.metrics
    sweep = [r for r in rows if r["study"] == "sweep"]
    presets = TINY.presets
    per_point = {(r["preset"], r["workload"], r["n_ports"], r["batch"]) for r in sweep}
    assert len(per_point) == len(presets) * 2 * len(TINY.ports) * len(TINY.batches)
    for r in sweep:
        if r["metric"] in ("energy_pj", "latency_ns", "tops_per_w"):
            assert r["value"] > 0
    breakdown = [r for r in rows if r["study"] == "breakdown"]
    assert {r["preset"] for r in breakdown} == set(presets)
    assert any(r["study"] == "recorded_vs_synthetic" for r in rows)
    assert any(r["study"] == "heatmap" for r in rows)


def test_same_seed_same_numbers(
    tmp_path: Path, tiny_result: Result, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(el, "save_figure", lambda fig, out_dir, stem: [])  # numbers only
    cfg = dataclasses.replace(TINY, replay_ops=0, replay_steps=0)
    again = el.run(cfg, tmp_path)

    def sweep(result: Result) -> list[object]:
        return [r["value"] for r in result.metrics if r["study"] == "sweep"]

    assert sweep(again) == sweep(tiny_result)


def test_presets_that_share_a_trace_get_the_numbers_each_gets_alone(
    tmp_path: Path, tiny_result: Result, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep records each (workload, N, B) trace once per kind of hardware and
    replays it on every preset of that kind: a preset's numbers are those of a run
    with that preset alone."""
    monkeypatch.setattr(el, "save_figure", lambda fig, out_dir, stem: [])  # numbers only

    def sweep(result: Result, preset: str) -> list[tuple[object, ...]]:
        return [
            (r["workload"], r["n_ports"], r["batch"], r["metric"], r["value"])
            for r in result.metrics
            if r["study"] == "sweep" and r["preset"] == preset
        ]

    for preset in ("cpu", "eo-integrated"):
        alone = dataclasses.replace(
            TINY, presets=(preset,), heatmap_presets=(), replay_ops=0, replay_steps=0
        )
        (tmp_path / preset).mkdir()
        assert sweep(el.run(alone, tmp_path / preset), preset) == sweep(tiny_result, preset)


def test_a_user_preset_file_can_be_studied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chip = tmp_path / "my-chip.toml"
    chip.write_text(
        'kind = "photonic"\nbase = "eo-integrated"\n'
        "[mesh]\nloss_db_per_mzi = 0.05  # assumption: a better chip\n"
    )
    monkeypatch.setattr(el, "save_figure", lambda fig, out_dir, stem: [])
    cfg = el.Config(
        ports=(4, 8),
        batches=(1,),
        presets=(str(chip), "gpu-h100"),
        heatmap_presets=(str(chip),),
        reference_ports=4,
        reference_batch=1,
        fd_count_max_ports=4,
        replay_steps=0,
        replay_ops=0,
    )
    # the heatmap's file is one of the declared presets: no "undeclared file" note (review)
    assert undeclared_files(cfg) == {}
    result = el.run(cfg, tmp_path)
    assert {r["preset"] for r in result.metrics if r["study"] == "sweep"} == {
        "my-chip",
        "gpu-h100",
    }
    assert "slope_time_per_step_in_situ_my-chip" in result.summary
    with pytest.raises(ValueError, match="name the same hardware twice"):
        el.Config(presets=("cpu", "cpu"), heatmap_presets=())
    # the heatmaps by default and by the preset's name; the crossover says why it is absent
    assert el.Config(presets=(str(chip), "gpu-h100")).heatmaps == (str(chip),)
    assert el.Config().heatmaps == ("eo-integrated", "thermal-integrated")
    named = el.Config(presets=(str(chip), "gpu-h100"), heatmap_presets=("my-chip",))
    assert named.heatmaps == (str(chip),)  # the name tables and plots show
    # --set presets=… over the defaults: the heatmaps follow (the CLI's own path)
    changed = config_from_overrides(el.Config, {"presets": f"{chip},gpu-h100"}, base=el.Config())
    assert changed.heatmaps == (str(chip),)
    none = config_from_overrides(el.Config, {"heatmap_presets": "none"}, base=el.Config())
    assert none.heatmaps == el.Config().heatmaps  # none: the default, as documented
    assert config_from_overrides(el.Config, {"heatmap_presets": ""}).heatmaps == ()
    assert result.summary["crossover_presets"] == (
        "none: the default needs eo-integrated and gpu-h100 in presets; name two presets "
        "in crossover_presets to draw it"
    )
    assert not any(r["study"] == "crossover" for r in result.metrics)


@pytest.mark.parametrize("measurement", ["per_sample", "aggregated"])
def test_recorded_insitu_step_exposes_the_synthetic_steps_camera_frames(
    measurement: str,
) -> None:
    """The network's own in-situ trace and insitu_step_ops agree on every optical op.

    On the camera preset every frame costs 20 ms; the forward taps of the inference
    pass, read during backward, must not cost frames of their own.
    """
    n_ports, n_layers, batch = 4, 3, 4
    net = PhotonicNetwork.pai2023(
        rng=np.random.default_rng(0),
        gradient="in_situ",
        measurement=measurement,  # type: ignore[arg-type]
    )
    net.recorder = Recorder()
    y = net.forward(np.random.default_rng(1).normal(size=(batch, 2)))
    net.backward(np.ones_like(y))
    optical = {"mesh_pass", "tap_readout"}
    recorded = [op for op in net.recorder.ops if op.kind in optical]
    integration = "per_sample" if measurement == "per_sample" else "batch"
    synthetic = [
        op
        for op in el.insitu_step_ops(n_ports, n_layers, batch, tap_integration=integration)  # type: ignore[arg-type]
        if op.kind in optical
    ]
    assert sorted(recorded, key=repr) == sorted(synthetic, key=repr)
    cam = [
        simulate(ops, "pai2023-chip").time_by_component_ns["camera"]
        for ops in (recorded, synthetic)
    ]
    assert cam[0] == pytest.approx(cam[1])


# -- the reported numbers against hand counts and independent routes --------------------------

HOST = {"host_static", "host_compute", "host_memory"}  # what "chip only" leaves out


def _rows(result: Result, study: str, **keys: object) -> list[dict]:
    return [
        r
        for r in result.metrics
        if r.get("study") == study and all(r.get(k) == v for k, v in keys.items())
    ]


def test_energy_per_mac_and_tops_per_w_follow_the_mac_counts(tiny_result: Result) -> None:
    """MACs by hand: L·B·N² per inference, 3·L·B·N² per training step (forward, backward
    and weight-gradient products of every layer); energy per MAC = energy / MACs and
    TOPS/W = 2 ops per MAC / energy in pJ (ops per pJ = TOPS/W)."""
    sweep = _rows(tiny_result, "sweep")
    points = {(r["preset"], r["workload"], r["n_ports"], r["batch"]) for r in sweep}
    assert points
    for preset, workload, n, b in points:
        v = {
            r["metric"]: r["value"]
            for r in _rows(
                tiny_result, "sweep", preset=preset, workload=workload, n_ports=n, batch=b
            )
        }
        macs = (1 if workload == "inference" else 3) * TINY.n_layers * b * n * n
        assert v["energy_per_mac_pj"] * macs == pytest.approx(v["energy_pj"], rel=1e-12)
        assert v["tops_per_w"] == pytest.approx(2 * macs / v["energy_pj"], rel=1e-12)


def test_gpu_full_utilization_per_complex_and_per_real_mac(tiny_result: Result) -> None:
    """A complex MAC (a + ib)(c + id) + acc is 4 real multiplies and 4 adds = 8 FLOPs; a
    real MAC is 2 FLOPs; the H100's relative error is measured over its 0.71 spec."""
    (accept,) = _rows(tiny_result, "acceptance", metric="pj_per_flop_full_utilization_bf16")
    pj = accept["value"]
    assert tiny_result.summary["h100_bf16_rel_error_vs_0.71"] == pytest.approx(
        pj / 0.71 - 1, rel=1e-3
    )
    for name, flops in (
        ("digital_full_utilization_complex_mac", 8),
        ("digital_full_utilization_real_mac", 2),
    ):
        values = [r["value"] for r in _rows(tiny_result, "crossover", name=name)]
        assert values and values == pytest.approx([flops * pj] * len(values), rel=1e-12)


def test_eo_mvm_chip_energy_per_mac_recomputed_from_the_forward_pass(tiny_result: Result) -> None:
    """Chip-only energy of the one forward mesh pass of a 1-layer inference over B·N² MACs."""
    b = TINY.reference_batch
    for n in TINY.ports:
        ops = el.inference_ops(n, 1, b)
        tl = simulate(ops, "eo-integrated")
        mvm = sum(
            e.energy_pj
            for e in tl.entries
            if e.component not in HOST and ops[e.op_index].kind == "mesh_pass"
        )
        (row,) = _rows(tiny_result, "crossover", name="photonic_mvm_chip", n_ports=n)
        assert row["value"] == pytest.approx(mvm / (b * n * n), rel=1e-12)


def test_heatmap_tops_per_w_recomputed_from_the_ops(tiny_result: Result) -> None:
    """One layer, in-situ step: MVM = the forward mesh pass, B·N² complex MACs = 2·B·N² ops;
    gradient = adjoint and sum passes, every tap read-out and the combination (all that is
    neither the forward pass, the loss nor the update), 2·B·N² MACs = 4·B·N² ops."""
    for n in TINY.ports:
        for b in TINY.batches:
            ops = el.insitu_step_ops(n, 1, b)
            tl = simulate(ops, "eo-integrated")
            for scope in ("chip", "system"):
                mvm = grad = 0.0
                for e in tl.entries:
                    if scope == "chip" and e.component in HOST:
                        continue
                    op = ops[e.op_index]
                    if op.kind == "mesh_pass" and op.direction == "forward":
                        mvm += e.energy_pj
                    elif op.kind == "tap_readout" or op.direction in ("adjoint", "sum", "backward"):
                        grad += e.energy_pj
                got = {
                    r["metric"]: r["value"]
                    for r in _rows(
                        tiny_result, "heatmap", preset="eo-integrated", n_ports=n, batch=b
                    )
                }
                assert got[f"mvm_tops_per_w_{scope}"] == pytest.approx(2 * b * n * n / mvm)
                assert got[f"gradient_tops_per_w_{scope}"] == pytest.approx(4 * b * n * n / grad)


def test_pai_step_times_are_seconds_per_step(tiny_result: Result) -> None:
    """The lab chip images every pass with a 20 ms camera frame: one step of the 3-layer
    network (≥ 3 passes per layer) takes ≥ 9 × 20 ms and well under 10 s. The recorded
    B = 4 step equals the synthetic per-sample step of the same shape, per step."""
    s = tiny_result.summary
    assert 9 * 0.020 <= float(s["pai_step_time_s_pai_shape_b1"]) < 10.0
    synthetic = simulate(
        el.insitu_step_ops(4, 3, 4, tap_integration="per_sample"), "pai2023-chip"
    ).latency_ns
    assert s["pai_step_time_s_recorded_insitu_B4"] == pytest.approx(synthetic / 1e9, rel=1e-3)
    (row,) = _rows(
        tiny_result,
        "recorded_vs_synthetic",
        preset="pai2023-chip",
        name="recorded",
        metric="latency_per_step",
    )
    assert row["value"] == pytest.approx(synthetic, rel=1e-3)
    passes = _rows(tiny_result, "recorded_vs_synthetic", metric="mesh_passes_per_layer")
    assert passes and all(r["value"] == 3.0 for r in passes)  # forward, adjoint, sum


def test_laser_optical_power_lights_every_detector_through_the_mesh(tiny_result: Result) -> None:
    """P_opt = N · P_detector / T (DESIGN §5, sim.hardware): the optical, not electrical,
    power (which is P_opt / wall-plug efficiency)."""
    from sim.hardware import PhotonicHardware, mesh_transmission, required_detector_power_mw

    for preset in ("eo-integrated", "thermal-integrated"):
        hw = load_preset(preset)
        assert isinstance(hw, PhotonicHardware) and hw.laser.output_power_mw is None
        for n in TINY.ports:
            (row,) = _rows(
                tiny_result,
                "sweep",
                preset=preset,
                workload="inference",
                n_ports=n,
                batch=1,
                metric="laser_optical_mw",
            )
            expected = n * required_detector_power_mw(hw.detector) / mesh_transmission(n, hw.mesh)
            assert row["value"] == pytest.approx(expected, rel=1e-12)


def test_crossings_interpolate_in_log_log_and_name_the_direction() -> None:
    """ln(p/g) goes ln 2 → −ln 2 between N = 4 and 16: halfway in log N, N = 8; from ln 4 to
    −ln 2 it is 2/3 of the way: N = 4 · 4^(2/3) ≈ 10.08."""
    assert el._crossings([4, 16], [4.0, 1.0], [2.0, 2.0]) == pytest.approx([8.0])
    assert el._crossings([4, 16], [8.0, 1.0], [2.0, 2.0]) == pytest.approx([4 * 4 ** (2 / 3)])
    assert (
        el._describe_crossing([4, 16], [4.0, 1.0], [2.0, 2.0])
        == "photonic energy per MAC drops below gpu-h100's at N≈8"
    )
    assert (
        el._describe_crossing([4, 16], [1.0, 4.0], [2.0, 2.0], digital="cpu")
        == "photonic energy per MAC rises above cpu's at N≈8"
    )
    assert (
        el._describe_crossing([4, 16], [1.0, 1.5], [2.0, 2.0])
        == "photonic uses less energy per MAC at every N in 4…16"
    )
    assert (
        el._describe_crossing([4, 16], [3.0, 2.5], [2.0, 2.0])
        == "photonic uses more energy per MAC at every N in 4…16"
    )


def test_digital_adam_update_counts_two_reals_per_complex_weight() -> None:
    """Complex N×N weights are 2N² real numbers: 12 FLOPs and 56 bytes each per Adam step
    (two layers of 6 × 6, one op, as train records it)."""
    update = [op for op in el.digital_step_ops(6, 2, 3) if op.direction == "update"]
    assert [(op.flops, op.bytes) for op in update] == [(12 * 144, 56 * 144)]


def test_breakdown_gives_a_component_one_colour_in_both_panels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The energy and the time panel list different components; one that is in both
    (here ``camera``, 2nd of its panel's names on the energy side and 1st on the time
    side) must not change colour between them, and no two components of a panel share
    one."""
    figures: list = []
    monkeypatch.setattr(el, "save_figure", lambda fig, out, stem: figures.append(fig) or [])
    report = dataclasses.make_dataclass(
        "Report", ["energy_by_component_pj", "time_by_component_ns"]
    )
    reports = {
        "pai2023-chip": report(
            {"adc": 6.0, "camera": 3.0, "laser": 1.0},
            {"camera": 5.0, "phase_settling": 2.0, "link": 1.0},
        )
    }
    cfg = dataclasses.replace(el.Config.smoke(), presets=("pai2023-chip",), heatmap_presets=())
    el._plot_breakdown(cfg, reports, tmp_path)
    colours = [
        {bar.get_label(): bar.patches[0].get_facecolor() for bar in ax.containers}
        for ax in figures[0].axes
    ]
    assert colours[0]["camera"] == colours[1]["camera"]
    for panel in colours:
        assert len(set(panel.values())) == len(panel)


def test_breakdown_totals_use_one_si_formatter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every total on top of a bar has an SI prefix and no exponent: a pai2023-chip step
    of 8.51e15 pJ is ``8.51 kJ`` (it was ``8.51e+03 J`` next to ``18.1 mJ``)."""
    figures: list = []
    monkeypatch.setattr(el, "save_figure", lambda fig, out, stem: figures.append(fig) or [])
    report = dataclasses.make_dataclass(
        "Report", ["energy_by_component_pj", "time_by_component_ns"]
    )
    reports = {
        "pai2023-chip": report({"camera": 8.51e15}, {"camera": 23.2e9}),
        "eo-integrated": report({"laser": 2.64e6}, {"laser": 1.58e3}),
    }
    cfg = dataclasses.replace(
        el.Config.smoke(), presets=("pai2023-chip", "eo-integrated"), heatmap_presets=()
    )
    el._plot_breakdown(cfg, reports, tmp_path)
    labels = [t.get_text() for ax in figures[0].axes for t in ax.texts]
    assert labels == ["8.51 kJ", "2.64 µJ", "23.2 s", "1.58 µs"]


def test_passes_legend_names_the_power_law_and_never_a_negative_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The legend said "in situ (slope -0.00)": a least-squares fit of a constant gives
    −5e-17 here. It now says what the slope is of — the exponent k of passes or time
    ∝ N^k on the log-log axes, with the fit's range — and rounds −0.00 to 0.00."""
    figures: list = []
    monkeypatch.setattr(el, "save_figure", lambda fig, out, stem: figures.append(fig) or [])
    ns = [4, 8, 16, 32, 64, 128, 256]
    assert el._slope(ns, [3.0] * len(ns)) < 0  # the fit's rounding error
    scaling = {
        "ns": ns,
        "batch": 64,
        "passes": {
            "in_situ": [3.0] * len(ns),
            "finite_difference": [el.fd_passes_per_step(n, 3) / 3 for n in ns],
        },
        "times": {("in_situ", "pai2023-chip"): [2.3e10] * len(ns)},
    }
    cfg = el.Config(ports=tuple(ns), presets=("pai2023-chip",), heatmap_presets=())
    el._plot_passes(cfg, scaling, tmp_path)
    passes, times = (ax.get_legend() for ax in figures[0].axes)
    labels = [t.get_text() for t in passes.get_texts()]
    assert labels == [
        "in situ: passes ∝ $N^{0.00}$ ($N^{0.00}$ for N ≥ 64)",
        "finite difference: passes ∝ $N^{2.00}$ ($N^{2.00}$ for N ≥ 64)",
    ]
    assert passes.get_title().get_text() == "log-log fits over N = 4…256"
    (time_label,) = [t.get_text() for t in times.get_texts()]
    assert time_label == "in situ, pai2023-chip: time ∝ $N^{0.00}$ ($N^{0.00}$ for N ≥ 64)"
    assert el._power_law("passes", [4], [3.0]) == "passes (one N: no slope)"


def test_a_preset_has_one_colour_in_every_figure_whatever_the_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With presets listed as gpu-h100, eo-integrated, scaling.png drew eo-integrated in
    orange (2nd of the list) and crossover.png in green (fixed there). The bundled presets
    now have fixed colours, those of the default run, in every figure; a preset file
    takes a colour no bundled preset uses."""
    from matplotlib.colors import to_rgba

    figures: dict[str, object] = {}
    monkeypatch.setattr(
        el, "save_figure", lambda fig, out, stem: figures.__setitem__(stem, fig) or []
    )
    cfg = el.Config(
        ports=(4, 8),
        batches=(2,),
        presets=("gpu-h100", "eo-integrated"),
        reference_ports=4,
        reference_batch=2,
        fd_count_max_ports=4,
        heatmap_presets=(),
        replay_steps=0,
        replay_ops=0,
    )
    el.run(cfg, tmp_path)
    default = el._colors(list(el.Config().presets))
    seen: dict[str, set] = {"eo-integrated": set(), "gpu-h100": set()}
    for stem in ("scaling", "passes_per_step", "crossover"):
        for ax in figures[stem].axes:  # type: ignore[attr-defined]
            for line in ax.get_lines():
                for preset, colours in seen.items():
                    if line.get_label().startswith(preset) or f", {preset}" in line.get_label():
                        colours.add((stem, to_rgba(line.get_color())))
    for preset, colours in seen.items():
        assert {stem for stem, _ in colours} == {"scaling", "passes_per_step", "crossover"}
        assert {colour for _, colour in colours} == {to_rgba(default[preset])}
    mine = el._colors(["my-chip", "eo-integrated", "pai2023-chip"])
    assert mine["eo-integrated"] == default["eo-integrated"]
    assert mine["my-chip"] not in default.values()


def test_a_changed_grid_gets_its_own_reference_size_a_set_one_is_checked(
    tiny_result: Result,
) -> None:
    """``--smoke --set ports=4,32`` failed with "reference_ports=8 must be one of
    ports=(4, 32)", a value the user never set (the --smoke default). Unset, the reference
    N and B are now the grid's values nearest 64 (log scale, of two the larger), whatever
    the grid; a value the user sets is still checked, and the message says what to do."""
    smoke = el.Config.smoke()  # the CLI's path: --smoke, then --set over it
    assert config_from_overrides(el.Config, {"ports": "4,32"}, base=smoke).reference_size == (
        32,
        16,
    )
    assert config_from_overrides(el.Config, {"batches": "1,4"}, base=smoke).reference_size == (
        16,
        4,
    )
    assert el.Config().reference_size == (64, 64)
    assert el.Config(ports=(16, 128)).reference_size[0] == 128  # 64/16 > 128/64: the larger
    assert el.Config(ports=(32, 128)).reference_size[0] == 128  # a tie (×2 each): the larger
    with pytest.raises(ValueError) as info:
        config_from_overrides(el.Config, {"ports": "4,32", "reference_ports": "8"}, base=smoke)
    assert str(info.value) == (
        "reference_ports=8 must be one of ports=(4, 32): set reference_ports to one of them, "
        "or to none for the one nearest 64"
    )
    with pytest.raises(ValueError, match="reference_batch=True must be one of batches"):
        el.Config(batches=(1, 4), reference_batch=True)  # type: ignore[arg-type]
    numpy_int = el.Config(batches=(1, 4), reference_batch=np.int64(4))  # type: ignore[arg-type]
    assert numpy_int.reference_size[1] == 4 and type(numpy_int.reference_size[1]) is int
    # the summary says which N and B its headline is at
    assert (tiny_result.summary["reference_ports"], tiny_result.summary["reference_batch"]) == (
        TINY.reference_ports,
        TINY.reference_batch,
    )


def test_heatmap_colour_scale_spans_the_tables_own_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The colour scale started at a fixed 1e-6 TOPS/W: thermal-integrated's system cells
    (≈ 6e-7) were clipped to it, and pai2023-chip's (≈ 1e-10, all below it) stopped the
    run with matplotlib's "vmin must be less or equal to vmax"."""
    cfg = el.Config.smoke()
    shape = (len(cfg.ports), len(cfg.batches))
    low = np.geomspace(1e-11, 1e-9, shape[0] * shape[1]).reshape(shape)
    tables = {
        key: low
        for key in (
            "mvm_tops_per_w_chip",
            "gradient_tops_per_w_chip",
            "mvm_tops_per_w_system",
            "gradient_tops_per_w_system",
        )
    }
    figures = el._plot_heatmaps(cfg, {"pai2023-chip": tables}, tmp_path)
    assert {p.name for p in figures} == {"heatmaps.png", "heatmaps.svg"}
    drawn: list = []
    monkeypatch.setattr(el, "save_figure", lambda fig, out, stem: drawn.append(fig) or [])
    wide = np.geomspace(6e-7, 1e-4, shape[0] * shape[1]).reshape(shape)
    el._plot_heatmaps(cfg, {"thermal-integrated": dict.fromkeys(tables, wide)}, tmp_path)
    norms = [image.norm for ax in drawn[0].axes for image in ax.images]
    assert len(norms) == 4
    for norm in norms:
        assert (norm.vmin, norm.vmax) == pytest.approx((6e-7, 1e-4))


@pytest.mark.parametrize("value", [0.0, -1.0, float("inf"), "a lot", True])
def test_max_laser_optical_power_is_checked(value: object) -> None:
    with pytest.raises(ValueError, match="max_laser_optical_mw="):
        el.Config(max_laser_optical_mw=value)  # type: ignore[arg-type]


def test_points_that_need_implausible_laser_power_are_drawn_hollow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """thermal-integrated at N=256 needs 4.2 kW of light and was drawn as an ordinary
    point. A point whose laser_optical_mw (the sweep's own row) exceeds
    max_laser_optical_mw now has a hollow marker in scaling, passes_per_step and
    crossover, the legend says why, and the summary lists it. Here the limit is 0.9 mW:
    at N=8 eo-integrated needs 0.96 mW and thermal-integrated 1.4 mW, at N=4 both less."""
    from matplotlib.colors import to_rgba

    figures: dict[str, object] = {}
    monkeypatch.setattr(
        el, "save_figure", lambda fig, out, stem: figures.__setitem__(stem, fig) or []
    )
    presets = ("thermal-integrated", "eo-integrated", "gpu-h100")
    cfg = el.Config(
        ports=(4, 8),
        batches=(2,),
        presets=presets,
        fd_count_max_ports=4,
        heatmap_presets=("thermal-integrated",),
        max_laser_optical_mw=0.9,
        replay_steps=0,
        replay_ops=0,
    )
    result = el.run(cfg, tmp_path)
    light = {
        (r["preset"], r["n_ports"]): r["value"]
        for r in _rows(result, "sweep", workload="inference", metric="laser_optical_mw")
    }
    expected = {key for key, mw in light.items() if mw > 0.9}
    assert expected == {("thermal-integrated", 8), ("eo-integrated", 8)}
    assert result.summary["over_laser_limit"] == (
        "needing > 900 µW of laser light (max_laser_optical_mw): "
        "thermal-integrated at N=8; eo-integrated at N=8"
    )
    colours = {to_rgba(c): p for p, c in el._colors(list(presets)).items()}

    def hollow(stem: str) -> set[tuple[str, int]]:
        points = set()
        for ax in figures[stem].axes:  # type: ignore[attr-defined]
            if ax.get_xlabel() != "mesh ports N":
                continue  # the vs-B panels: N fixed at the reference
            for line in ax.get_lines():
                if to_rgba(line.get_markerfacecolor()) == (1, 1, 1, 1):
                    preset = colours[to_rgba(line.get_color())]
                    points |= {(preset, int(x)) for x in line.get_xdata()}
        return points

    assert hollow("scaling") == hollow("passes_per_step") == expected
    assert hollow("crossover") == {("eo-integrated", 8)}
    for stem in ("scaling", "passes_per_step", "crossover"):
        fig = figures[stem]
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]  # type: ignore[attr-defined]
        texts = [t.get_text() for legend in legends if legend for t in legend.get_texts()]
        assert "hollow: needs > 900 µW of laser light (implausible)" in texts
    # the heatmaps hatch the N=8 row (y = 1); the breakdown (at N=8) stars both chips
    hatched = [
        patch.get_y()
        for ax in figures["heatmaps"].axes  # type: ignore[attr-defined]
        for patch in ax.patches
        if patch.get_hatch()
    ]
    assert hatched == [0.5] * 4
    ticks = [t.get_text() for t in figures["breakdown"].axes[0].get_xticklabels()]  # type: ignore[attr-defined]
    assert ticks == ["thermal-integrated *", "eo-integrated *", "gpu-h100"]
    # no limit: nothing hollow
    figures.clear()
    el.run(dataclasses.replace(cfg, max_laser_optical_mw=None), tmp_path)
    assert hollow("scaling") == set()


def test_the_laser_limit_lists_each_n_once_whatever_the_batches() -> None:
    """The required light depends on N only: with two batch sizes in the grid each N is
    listed once (the rows of the first batch are read, no others)."""
    cfg = el.Config(ports=(4, 8), batches=(1, 2), max_laser_optical_mw=1.0)
    grid = {
        ("eo-integrated", workload, n, b): {"laser_optical_mw": 0.5 * n}
        for workload in ("inference", "train")
        for n in (4, 8)
        for b in (1, 2)
    }
    assert el._over_laser_limit(cfg, grid) == {"eo-integrated": [4, 8]}
    assert el._describe_over_limit(cfg, el._over_laser_limit(cfg, grid)) == (
        "needing > 1 mW of laser light (max_laser_optical_mw): eo-integrated at N=4, 8"
    )


@pytest.mark.parametrize("preset", ["thermal-integrated", "eo-integrated", "pai2023-chip"])
def test_recorded_training_step_costs_what_the_synthetic_step_costs(preset: str) -> None:
    """The recorded trace holds the host's loss and Adam update too (the network records
    neither): on the integrated presets, where a step is microseconds, leaving them out
    made a recorded step ≈ 10 % cheaper than the same synthetic one. The two differ only
    in the loss's width (2 grouped outputs recorded, N ports synthetic)."""
    from scenarios.framework import child_rngs

    recorded = el._recorded_training(1, child_rngs(0, "data", "init"))
    n_ports, n_layers = el.PAI_SHAPE
    synthetic = el.insitu_step_ops(
        n_ports, n_layers, el.RECORDED_BATCH, tap_integration="per_sample"
    )
    kinds = [(op.kind, op.direction) for op in recorded]
    assert sorted(kinds) == sorted((op.kind, op.direction) for op in synthetic)
    a, b = simulate(recorded, preset), simulate(synthetic, preset)
    assert a.latency_ns == pytest.approx(b.latency_ns, rel=1e-3)
    assert a.energy_pj == pytest.approx(b.energy_pj, rel=1e-3)


def test_the_photonic_update_is_one_adam_op_filed_under_the_last_layer() -> None:
    """As digital.train.train records it: one host update for every layer's phases,
    filed under the last layer, then the phase writes."""
    from sim.ops import adam_op

    ops = el._update(3, 4)
    s = el.shifters_per_layer(4)
    assert ops[0] == adam_op(2, n_params=3 * s, n_ports=1)
    assert [(op.kind, op.layer) for op in ops[1:]] == [("phase_update", k) for k in range(3)]


def test_fd_step_cost_refuses_a_total_beyond_float64_of_finite_components(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each component finite, their total beyond float64 (fsum raises): refused by
    n_ports, not returned as some finite number."""
    from types import SimpleNamespace

    calls: list[int] = []

    def fake(ops: object, hardware: object) -> SimpleNamespace:
        calls.append(1)
        big = len(calls) > 2  # the block's two timelines first, then head and tail
        v = 6e307 if big else 0.0
        return SimpleNamespace(
            energy_by_component_pj={"laser": v, "host": v},
            time_by_component_ns={"host": 1.0},
            energy_pj=2 * v,
            latency_ns=1.0,
        )

    monkeypatch.setattr(el, "simulate", fake)
    with pytest.raises(ValueError, match=r"n_ports=3: a finite-difference step"):
        el.fd_step_cost(load_preset("thermal-integrated"), 3, 2, 2)


def test_the_digital_update_is_one_adam_op_filed_under_the_last_layer() -> None:
    """As digital.train.train records it: one Adam update of every real parameter
    (complex weights count twice), filed under the last layer, ending the step."""
    from sim.ops import adam_op

    ops = el.digital_step_ops(3, 2, 4)
    assert ops[-1] == adam_op(1, n_params=2 * 2 * 3 * 3, n_ports=1)
    assert [op.direction for op in ops].count("update") == 1


def test_the_crossover_compares_the_presets_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's chip file against the CPU: its rows, summary and curves are theirs."""
    chip = tmp_path / "my-chip.toml"
    chip.write_text('kind = "photonic"\nbase = "eo-integrated"\n')
    drawn: list[dict[str, Any]] = []
    monkeypatch.setattr(el, "save_figure", lambda fig, out_dir, stem: [])
    original = el._plot_crossover
    monkeypatch.setattr(
        el,
        "_plot_crossover",
        lambda cfg, data, out_dir, over=None: (
            drawn.append(data) or original(cfg, data, out_dir, over)
        ),
    )
    cfg = el.Config(
        ports=(4, 8),
        batches=(1,),
        presets=("gpu-h100", str(chip), "cpu"),
        heatmap_presets=(),
        crossover_presets=("my-chip", "cpu"),
        fd_count_max_ports=4,
        replay_steps=0,
        replay_ops=0,
    )
    assert cfg.crossover == (str(chip), "cpu")
    result = el.run(cfg, tmp_path)
    assert result.summary["crossover_presets"] == "my-chip vs cpu"
    rows = [r for r in result.metrics if r["study"] == "crossover"]
    assert {r["preset"] for r in rows} == {"my-chip", "cpu"}
    sweep = {
        (r["preset"], r["n_ports"]): r["value"]
        for r in result.metrics
        if r["study"] == "sweep"
        and r["workload"] == "inference"
        and r["metric"] == "energy_per_mac_pj"
    }
    for r in rows:
        if r["name"] in ("photonic_inference_system", "digital_same_workload"):
            assert r["value"] == sweep[(r["preset"], r["n_ports"])]
    (data,) = drawn
    assert data["presets"] == ("my-chip", "cpu")


@pytest.mark.parametrize(
    ("chosen", "match"),
    [
        (("gpu-h100", "eo-integrated"), "'gpu-h100', which is not photonic"),
        (("eo-integrated", "thermal-integrated"), "'thermal-integrated', which is not digital"),
        (("eo-integrated", "tpu"), "'tpu', which is not in presets"),
        (("eo-integrated",), "must be two preset names"),
    ],
)
def test_bad_crossover_presets_are_named(chosen: tuple[str, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        el.Config(crossover_presets=chosen)


def test_no_crossover_when_asked_for_none() -> None:
    assert el.Config(crossover_presets=()).crossover is None
    assert el.Config().crossover == ("eo-integrated", "gpu-h100")
    bundled = str(Path(el.__file__).parents[1] / "sim" / "presets" / "eo-integrated.toml")
    by_file = el.Config(presets=(bundled, "gpu-h100"))  # the default pair found by name
    assert by_file.crossover == (bundled, "gpu-h100")
    assert config_from_overrides(el.Config, {"crossover_presets": ""}).crossover is None
    assert config_from_overrides(
        el.Config, {"crossover_presets": "thermal-integrated,cpu"}
    ).crossover == ("thermal-integrated", "cpu")


def test_points_that_draw_more_than_a_board_can_are_listed() -> None:
    """A 256-port thermal mesh holds 131k heaters and drew kilowatts with no word (user
    study): the rows say each point's mean power, the summary lists those over 700 W."""
    grid = {
        ("thermal-integrated", "train_step", n, b): {"mean_power_mw": mw}
        for n, mw in ((64, 2e5), (256, 3.3e6))
        for b in (1, 4)
    }
    grid[("eo-integrated", "train_step", 256, 1)] = {"mean_power_mw": 1e3}
    assert el._describe_over_power(grid) == (
        "drawing more than 700 W on average (an H100 board's TDP; check before quoting): "
        "thermal-integrated at N=256"
    )
    grid[("thermal-integrated", "train_step", 256, 1)] = {"mean_power_mw": 1e3}
    grid[("thermal-integrated", "train_step", 256, 4)] = {"mean_power_mw": 1e3}
    assert el._describe_over_power(grid) == "no point draws more than 700 W on average"
    # a real step: the power the rows report is its energy over its time
    ops = el.insitu_step_ops(256, 2, 1)
    timeline = el.simulate(ops, "thermal-integrated")
    assert timeline.energy_pj / timeline.latency_ns > 700_000.0
