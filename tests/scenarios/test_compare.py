"""compare (the main job): smoke run, numbers in range, a self-contained report.html.

The Chromium test renders the page headless when ``/usr/bin/chromium`` exists (it is
skipped otherwise; nothing is installed at test time) and checks that the screenshot
is not blank.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scenarios import cli, compare
from scenarios import framework as fw
from scenarios.framework import DEFAULT_SCENARIO, Result
from scenarios.report_html import PNG_SIGNATURE, Table, png_data_uri
from sim.engine import simulate
from sim.presets import load_preset

CHROMIUM = Path("/usr/bin/chromium")
IMG_SRC = re.compile(r"<img\s[^>]*src=\"([^\"]*)\"")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Result:
    return compare.run(compare.Config.smoke(), tmp_path_factory.mktemp("compare"), echo=None)


def test_compare_is_the_main_job() -> None:
    assert DEFAULT_SCENARIO == "compare"


def test_readme_figure_is_one_compare_writes(smoke: Result) -> None:
    """README.md shows a copy of a compare plot, named ``compare_<plot>.png``."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"scenarios/figures/compare_(\w+)\.png", readme)
    assert shown
    written = {p.stem for p in smoke.figures}
    assert set(shown) <= written


def test_report_images_are_embedded_pngs(smoke: Result) -> None:
    page = (smoke.out_dir / "report.html").read_text(encoding="utf-8")
    sources = IMG_SRC.findall(page)
    pngs = [p for p in smoke.figures if p.suffix == ".png"]
    assert len(sources) == len(pngs) >= 4
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw.startswith(PNG_SIGNATURE)
        width, height = struct.unpack(">II", raw[16:24])  # IHDR
        assert width > 100 and height > 100
    assert "http://" not in page and "https://" not in page  # readable offline
    assert "<script" not in page


def test_report_counts_the_noisy_passes_of_an_accuracy_in_good_english(smoke: Result) -> None:
    """The smoke report said "means over 1 noisy forward passes"."""
    page = (smoke.out_dir / "report.html").read_text(encoding="utf-8")
    assert compare.Config.smoke().eval_repeats == 1
    assert "1 noisy forward passes" not in page
    assert "measured on one noisy forward pass of the chip" in page
    notes = " ".join(compare._notes(compare.Config()))
    assert f"means over {compare.Config().eval_repeats} noisy forward passes" in notes


def test_report_table_names_every_preset_and_the_config(smoke: Result) -> None:
    page = (smoke.out_dir / "report.html").read_text(encoding="utf-8")
    tables = page.split("<table>")
    cost = next(t for t in tables if "latency / step" in t)
    for preset in compare.Config.smoke().presets:
        assert f"<td>{preset}</td>" in cost
    assert "test accuracy" in page and "gradient error" in page
    assert "Configuration" in page and "splitting_error_std_rad" in page
    assert "git_commit" in page and "numpy" in page
    assert (smoke.out_dir / "table.md").read_text().count("| gpu-h100 |") == 1


def test_numbers_in_range(smoke: Result) -> None:
    s = smoke.summary
    for network in compare.NETWORKS:
        for split in ("test_accuracy", "train_accuracy"):
            assert 0.0 <= float(s[f"{network}_{split}"]) <= 1.0
    assert float(s["photonic_epsilon_measured"]) >= 0.0
    assert s["photonic_gradient_method"] == "analog"
    assert float(s["photonic_epsilon_digital_twin"]) >= 0.0
    assert 0.0 <= float(s["mlp_epsilon_vs_finite_differences"]) < 1e-6  # exact backprop
    for preset in compare.Config.smoke().presets:
        assert float(s[f"{preset}_step_energy_pj"]) > 0
        assert float(s[f"{preset}_step_latency_ns"]) > 0
        # without idle power: the step's energy less its static component(s), by hand
        static = sum(
            r["value"]
            for r in smoke.metrics
            if r.get("preset") == preset
            and r["metric"] in ("energy_pj.host_static", "energy_pj.static")
        )
        work = float(s[f"{preset}_step_work_energy_pj"])
        assert 0 < work < float(s[f"{preset}_step_energy_pj"])
        assert work == pytest.approx(float(s[f"{preset}_step_energy_pj"]) - static, rel=1e-9)
    eps = [r["value"] for r in smoke.metrics if r["metric"] == "epsilon"]
    assert eps and all(0.0 <= e <= 2.0 for e in eps)
    # a photonic step is slower on the lab chip (camera, heaters) than on the EO chip
    assert float(s["pai2023-chip_step_latency_ns"]) > float(s["eo-integrated_step_latency_ns"])


def test_step_ops_replay_on_the_right_hardware() -> None:
    cfg = compare.Config.smoke()
    data = compare._load(cfg, 1)
    net = compare._photonic(cfg, compare._chip(cfg, 2), 3)
    ops = compare.step_ops(net, data.x_train[:4], data.y_train[:4], cfg.lr)
    kinds = {op.kind for op in ops}
    assert {"mesh_pass", "tap_readout", "phase_update", "digital_compute"} <= kinds
    assert simulate(ops, load_preset("eo-integrated")).energy_pj > 0
    with pytest.raises(ValueError):  # a GPU cannot replay optical passes
        simulate(ops, load_preset("gpu-h100"))
    assert net.recorder is None  # restored


def test_a_preset_file_of_ones_own_replays_like_a_bundled_one(tmp_path: Path) -> None:
    """The README's own-hardware example: the path goes where a preset name goes."""
    own = tmp_path / "my-chip.toml"
    own.write_text('name = "my-chip"\nbase = "eo-integrated"\n[mesh]\nloss_db_per_mzi = 0.05\n')
    cfg = dataclasses.replace(compare.Config.smoke(), presets=[str(own), "eo-integrated"])
    assert cfg.presets == (str(own), "eo-integrated")
    (tmp_path / "out").mkdir()
    result = compare.run(cfg, tmp_path / "out", echo=None)
    s = result.summary
    for name in ("my-chip", "eo-integrated"):  # named by the hardware, not the path
        assert float(s[f"{name}_step_energy_pj"]) > 0
    # the same trace on a chip with 4x less loss per MZI: the same ops, never more energy
    assert float(s["my-chip_step_energy_pj"]) <= float(s["eo-integrated_step_energy_pj"])
    assert not any(str(tmp_path) in str(key) for key in s)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="dataset='digits'"):
        compare.Config(dataset="digits")
    with pytest.raises(ValueError, match="presets"):
        compare.Config(presets=("nope",))
    with pytest.raises(ValueError, match="aggregated"):
        compare.Config(measurement="aggregated")
    with pytest.raises(ValueError, match="batch_size"):
        compare.Config(n_samples=20, batch_size=20)
    with pytest.raises(ValueError, match="adjoint_power_ratio=-1"):
        compare.Config(adjoint_power_ratio=-1)


def test_adjoint_power_ratio_reaches_training_and_the_epsilon_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The setting is the trained network's and the ε measurement's, not only stored."""
    cfg = dataclasses.replace(
        compare.Config.smoke(), method="in_situ", adjoint_power_ratio=0.1, n_seeds=1
    )
    seen: list[float] = []
    real = compare.gradient_fidelity.measure_pai

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["adjoint_power_ratio"])
        return real(*args, **kwargs)

    monkeypatch.setattr(compare.gradient_fidelity, "measure_pai", spy)
    chip = compare._chip(cfg, 0)
    assert compare._photonic(cfg, chip, 0).adjoint_power_ratio == 0.1
    compare._run_seed(cfg, 0, dict.fromkeys(("data", "init", "train", "chip", "noise", "eps"), 3))
    assert seen and set(seen) == {0.1}


def test_cli_main_job_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--smoke", "--out", str(tmp_path)]) == 0
    (run_dir,) = (tmp_path / "compare").iterdir()
    names = {p.name for p in run_dir.iterdir()}
    assert {"report.html", "table.md", "metrics.csv", "manifest.json", "config.json"} <= names
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    out = capsys.readouterr().out
    assert "photonic_test_accuracy" in out and "gpu-h100" in out
    assert "analog vs exact, same chip" in out  # the ε row names the method
    # metrics.csv has the columns the module docstring lists
    documented = re.search(r"columns ``([^`]+)``", compare.__doc__ or "")
    assert documented
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert header == ",".join(" ".join(documented.group(1).split()).split(", "))
    # costs.csv: the documented columns, and the same numbers as metrics.csv's cost rows
    with (run_dir / "costs.csv").open(newline="") as fh:
        costs = list(csv.DictReader(fh))
    listed = re.search(r"``costs.csv``: one row per preset — ``([^`]+)``", compare.__doc__ or "")
    assert listed and list(costs[0]) == " ".join(listed.group(1).split()).split(", ")
    with (run_dir / "metrics.csv").open(newline="") as fh:
        metrics = {
            (r["preset"], r["metric"]): float(r["value"]) for r in csv.DictReader(fh) if r["preset"]
        }
    assert {r["preset"] for r in costs} == set(compare.Config.smoke().presets)
    for row in costs:
        for column, metric in (
            ("energy_pj", "step_energy_pj"),
            ("work_energy_pj", "step_work_energy_pj"),
        ):
            assert float(row[column]) == metrics[(row["preset"], metric)]
        assert float(row["work_energy_pj"]) < float(row["energy_pj"])  # idle power left out


def test_table_renders_and_escapes() -> None:
    table = Table("a <b>", ("x", "y|z"), (("1", "<script>"),))
    assert "&lt;script&gt;" in table.to_html()
    assert "y\\|z" in table.to_markdown()
    with pytest.raises(ValueError, match="2 columns"):
        Table("t", ("a", "b"), (("1",),))


def test_png_data_uri_refuses_non_png(tmp_path: Path) -> None:
    fake = tmp_path / "x.png"
    fake.write_bytes(b"GIF89a")
    with pytest.raises(ValueError, match="not a PNG"):
        png_data_uri(fake)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (not installed here)")
def test_report_renders_in_headless_chromium(smoke: Result, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    report = (smoke.out_dir / "report.html").resolve()
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        report.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000
    from matplotlib.image import imread

    pixels = np.round(255 * imread(shot)[:, :, :3]).astype(np.int64)
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.std() > 20  # not a blank page
    # the plots are drawn: many distinct colours (text alone is grey on white)
    colours = np.unique(pixels.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 500
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_parallel_workers_give_the_same_numbers(tmp_path: Path) -> None:
    base = compare.Config.smoke()
    outs = [tmp_path / "serial", tmp_path / "parallel"]
    for out in outs:
        out.mkdir()
    a = compare.run(dataclasses.replace(base, n_seeds=2, workers=1), outs[0], echo=None)
    b = compare.run(dataclasses.replace(base, n_seeds=2, workers=2), outs[1], echo=None)
    drop = {"wall_time_s"}
    assert {k: v for k, v in a.summary.items() if k not in drop} == {
        k: v for k, v in b.summary.items() if k not in drop
    }


def test_summary_has_numbers_for_sweeps(smoke: Result) -> None:
    """Full-precision numbers, the photonic accuracy first (a sweep's default metric)."""
    numeric = [k for k, v in smoke.summary.items() if isinstance(v, float)]
    assert numeric[0] == "photonic_test_accuracy"
    energy = [k for k in numeric if k.endswith("_step_energy_pj")]
    assert energy and all(smoke.summary[k] > 0 for k in energy)
    assert any(float(f"{smoke.summary[k]:.4g}") != smoke.summary[k] for k in energy)


def test_an_absurd_mlp_learning_rate_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mlp_lr=1e308 overflows the MLP's outputs in the first epoch, on every BLAS kernel
    (1e300 only saturated the weights, and whether that left an exactly zero gradient
    depended on the kernel: OPENBLAS_CORETYPE=Haswell did, an AMD EPYC's default not)."""
    from scenarios import cli

    argv = ["run", "compare", "--smoke", "--set", "mlp_lr=1e308", "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lower the learning rate (mlp_lr=1e+308)" in err


def test_a_saturated_mlp_s_zero_gradient_names_mlp_lr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saturated tanh units give a zero gradient, and ε of a zero gradient is undefined:
    the error says what the user can change, not what the metric refused."""
    from scenarios import cli

    def flat(net: Any, *args: Any, **kwargs: Any) -> dict[str, np.ndarray]:
        return {k: np.zeros_like(v) for k, v in net.params().items()}

    monkeypatch.setattr(compare, "numerical_gradients", flat)
    argv = ["run", "compare", "--smoke", "--set", "mlp_lr=0.5", "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its units saturated; lower mlp_lr=0.5" in err


# -- the reported numbers, from rows whose answers are known by hand ---------------------------


def _final(network: str, metric: str, method: str, values: list[float]) -> list[dict[str, Any]]:
    return [
        {"seed": s, "network": network, "method": method, "metric": metric, "value": v}
        for s, v in enumerate(values)
    ]


#: Two seeds; sample std of two values a, b is |a − b|/√2.
KNOWN_ROWS: list[dict[str, Any]] = [
    *_final("mlp", "final_test_accuracy", "backprop", [0.90, 0.80]),
    *_final("mlp", "final_train_accuracy", "backprop", [0.95, 0.93]),
    *_final("photonic", "final_test_accuracy", "analog", [0.70, 0.50]),
    *_final("photonic", "final_train_accuracy", "analog", [0.75, 0.65]),
    *_final("photonic", "epsilon", "analog", [0.01, 0.03]),
    *_final("photonic", "epsilon", "digital_twin", [0.20, 0.40]),
    *_final("mlp", "epsilon", "backprop", [2e-13, -4e-13]),
]


def test_summary_means_and_sample_stds_per_network() -> None:
    """Accuracies: mean over seeds and sample std (ddof = 1: 0.1/√2 = 0.0707, not 0.05);
    each network from its own rows; ε of the training method apart from the twin's; the
    MLP's ε as the mean magnitude ((2 + 4)/2 · 1e-13)."""
    s = compare._summary(compare.Config.smoke(), KNOWN_ROWS, {})
    assert s["mlp_test_accuracy"] == pytest.approx(0.85)
    assert s["mlp_test_accuracy_std"] == pytest.approx(0.0707)
    assert s["mlp_train_accuracy"] == pytest.approx(0.94)
    assert s["photonic_test_accuracy"] == pytest.approx(0.60)
    assert s["photonic_test_accuracy_std"] == pytest.approx(0.1414)
    assert s["photonic_train_accuracy"] == pytest.approx(0.70)
    assert s["photonic_epsilon_measured"] == pytest.approx(0.02)
    assert s["photonic_epsilon_digital_twin"] == pytest.approx(0.30)
    assert s["mlp_epsilon_vs_finite_differences"] == pytest.approx(3e-13)


def test_summary_says_how_many_points_ran_where_config_json_says_none(tmp_path: Path) -> None:
    """n_samples=None (the default run's) is Pai et al.'s size, resolved when the data
    is loaded: config.json keeps None (the file reused with another dataset takes that
    set's size, and repeats this run), and the summary, in the manifest, says 500."""
    assert compare.Config().n_samples is None
    assert compare._summary(compare.Config(), KNOWN_ROWS, {})["n_samples"] == 500
    assert compare._summary(compare.Config.smoke(), KNOWN_ROWS, {})["n_samples"] == 100
    config = fw.write_config(compare.Config(), tmp_path)
    assert json.loads(config.read_text())["n_samples"] is None
    again = fw.config_from_overrides(compare.Config, fw.load_config_file(config))
    assert again == compare.Config()


def test_side_by_side_table_counts_biases_and_keeps_test_and_train_apart() -> None:
    """MLP 2-8-2 with biases: (2+1)·8 + (8+1)·2 = 42 weights; Pai network 3 layers ×
    (6 MZIs × 2 + 4 output phases) = 48 phases; each accuracy row from its own split."""
    table = compare.side_by_side(compare.Config.smoke(), KNOWN_ROWS)
    rows = {r[0]: r[1:] for r in table.rows}
    assert rows["trainable parameters"] == ("42 weights", "48 phases")
    assert rows["test accuracy"] == ("0.850 ± 0.071", "0.600 ± 0.141")
    assert rows["train accuracy"] == ("0.940 ± 0.014", "0.700 ± 0.071")
    assert rows["gradient error ε = 1 − cos"][1].startswith("0.0200 ± 0.0141 (n=2")
    assert rows["gradient error ε = 1 − cos"][0].startswith("< 1e-12")


def test_cost_table_energy_per_sample_and_largest_share() -> None:
    """2 µJ per step at batch 20 is 100 nJ per sample; the largest component is the one
    with the most energy (1.5 of 2 µJ = 75 %), not the last by name."""
    costs = {
        "gpu-h100": {
            "network": "mlp",
            "n_ops": 7,
            "latency_ns": 1000.0,
            "energy_pj": 2.0e6,
            "energy_by_component_pj": {"zz_compute": 0.5e6, "host_static": 1.5e6},
            "work_energy_pj": 0.5e6,
        }
    }
    cfg = compare.Config.smoke()
    assert cfg.batch_size == 20
    (row,) = compare.cost_table(cfg, costs).rows
    assert row == (
        "gpu-h100",
        compare.NETWORK_LABELS["mlp"],
        "7",
        "1 µs",
        "2 µJ",
        "100 nJ",
        "500 nJ",
        "host_static (75%)",
    )


def test_curve_rows_count_the_steps_done_by_the_end_of_each_epoch() -> None:
    """Epochs are 1-based: after epoch e of 20 steps each, 20·e optimizer steps are done."""
    from digital.train import History

    history = History(
        epoch=[1, 2],
        loss=[0.5, 0.4],
        test_loss=[0.6, 0.5],
        train_accuracy=[0.7, 0.8],
        test_accuracy=[0.65, 0.75],
    )
    rows = compare._curve_rows(history, 20, seed=0)
    assert {(r["epoch"], r["iteration"]) for r in rows} == {(1, 20), (2, 40)}
    assert [r["value"] for r in rows if r["metric"] == "test_accuracy"] == [0.65, 0.75]


def test_photonic_final_accuracies_are_evaluated_on_their_own_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """final_test_accuracy is evaluated on the test points and final_train_accuracy on the
    training points: with an evaluation that returns the number of points / 1000, the
    smoke data set (100 points, 80/20 split) gives 0.02 and 0.08."""
    monkeypatch.setattr(
        compare.insitu_training, "evaluate", lambda net, x, y, repeats: (len(y) / 1000.0, 0.0)
    )
    seeds = {"data": 1, "init": 2, "chip": 3, "noise": 4, "train": 5, "eps": 6}
    out = compare._run_seed(compare.Config.smoke(), 0, seeds)["rows"]
    finals = {
        r["metric"]: r["value"]
        for r in out
        if r["network"] == "photonic" and r["metric"].startswith("final_")
    }
    assert finals == {"final_test_accuracy": 0.02, "final_train_accuracy": 0.08}


def test_epsilon_is_measured_on_the_chip_as_training_left_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a drifting chip ε is measured with the drift the trained chip accumulated
    (one step per training step), not on a fresh chip."""
    cfg = dataclasses.replace(compare.Config.smoke(), drift_rad_per_step=0.01, n_seeds=1)
    seen: list[dict] = []
    real = compare.gradient_fidelity.measure_pai

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["drift"])
        return real(*args, **kwargs)

    monkeypatch.setattr(compare.gradient_fidelity, "measure_pai", spy)
    compare._run_seed(cfg, 0, dict.fromkeys(("data", "init", "train", "chip", "noise", "eps"), 3))
    assert seen and all(d is seen[0] for d in seen)
    steps = cfg.epochs * -(-int(cfg.total_samples * 0.8) // cfg.batch_size)
    walked = np.concatenate([seen[0][f"layer{i}.theta_rad"] for i in (1, 2, 3)])
    # a walk of ≈ steps + 1 steps of 0.01 rad: far from a single step's 0.01
    assert np.std(walked) > 0.01 * np.sqrt(steps) / 3


def test_plot_titles_name_the_opt_in_settings() -> None:
    cfg = compare.Config.smoke()
    assert compare._unusual(cfg) == ""
    text = compare._unusual(
        dataclasses.replace(cfg, adjoint_power_ratio=0.1, drift_rad_per_step=0.01)
    )
    assert text == "; adjoint at 0.1× the forward power; drift 0.01 rad per step"


def test_training_with_the_chips_exact_gradient_runs_and_measures_zero_error(
    tmp_path: Path,
) -> None:
    """method=adjoint crashed at the gradient-fidelity step ("tuple.index(x): x not in
    tuple"): gradient_fidelity.measure_pai knew no "adjoint". Its ε is 0 by
    construction (it is the reference), the digital twin's is not."""
    cfg = dataclasses.replace(compare.Config.smoke(), method="adjoint")
    result = compare.run(cfg, tmp_path, echo=None)
    assert result.summary["photonic_epsilon_measured"] == 0.0
    assert result.summary["photonic_epsilon_digital_twin"] > 0.0


def test_step_ops_record_the_loss_and_the_adam_update_as_train_does() -> None:
    """The host ops in their place: softmax cross-entropy of the batch's outputs, one
    Adam update of every real parameter, both filed under the last layer."""
    from digital.network import MLP
    from sim.ops import adam_op, loss_op, n_real_params

    cfg = compare.Config.smoke()
    data = compare._load(cfg, 1)
    net = MLP([2, 3, 2], activation=["tanh", "identity"], rng=np.random.default_rng(0))
    n_params = n_real_params(net.params())
    ops = compare.step_ops(net, data.x_train[:5], data.y_train[:5], cfg.lr)
    assert loss_op(1, n_samples=5, n_outputs=2) in ops
    assert ops[-1] == adam_op(1, n_params=n_params, n_ports=1)
