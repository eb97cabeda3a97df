"""Tests of the digital_baseline scenario."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from scenarios import digital_baseline as db
from scenarios.framework import Result, run_scenario
from scenarios.sweep import STATUS_OK, PointRow, default_metric


@pytest.fixture(scope="module")
def smoke_result(tmp_path_factory: pytest.TempPathFactory) -> Result:
    out_dir = tmp_path_factory.mktemp("smoke")
    return db.run(db.Config.smoke(), out_dir)


def test_smoke_summary_numbers(smoke_result: Result) -> None:
    summary = smoke_result.summary
    for key in ("final_test_accuracy", "final_train_accuracy", "best_test_accuracy"):
        value = summary[key]
        assert isinstance(value, float)
        assert 0.0 <= value <= 1.0
    assert float(summary["best_test_accuracy"]) >= float(summary["final_test_accuracy"])
    assert isinstance(summary["final_train_loss"], float) and summary["final_train_loss"] > 0
    assert isinstance(summary["wall_time_s"], float) and summary["wall_time_s"] > 0
    assert summary["dataset"] == "moons"
    assert summary["architecture"] == "2-8-2"


def test_a_sweep_plots_test_accuracy_by_default(smoke_result: Result) -> None:
    """The studied number is the first float key, which a sweep plots by default."""
    row = PointRow(
        key="{}", params={}, repeat=0, seed=0, config={}, summary=smoke_result.summary,
        status=STATUS_OK, error=None, wall_time_s=0.0, run_dir=None, finished_at="",
    )  # fmt: skip
    assert default_metric([row]) == "final_test_accuracy"


def test_smoke_metric_rows_are_tidy(smoke_result: Result) -> None:
    cfg = db.Config.smoke()
    rows = smoke_result.metrics
    assert len(rows) == cfg.epochs * len(db.METRICS)
    assert all(set(row) == {"epoch", "metric", "split", "value"} for row in rows)
    assert {row["epoch"] for row in rows} == set(range(1, cfg.epochs + 1))
    assert {(row["metric"], row["split"]) for row in rows} == {(m, s) for m, s, _ in db.METRICS}
    accuracies = [row["value"] for row in rows if row["metric"] == "accuracy"]
    assert all(0.0 <= a <= 1.0 for a in accuracies)


def test_smoke_figures(smoke_result: Result) -> None:
    suffixes = sorted(p.suffix for p in smoke_result.figures)
    assert suffixes == [".png", ".svg"]
    assert all(p.is_file() and p.parent == smoke_result.out_dir for p in smoke_result.figures)


def test_same_seed_same_numbers(tmp_path: Path, smoke_result: Result) -> None:
    again = db.run(db.Config.smoke(), tmp_path)

    def numbers(result: Result) -> list[object]:
        return [r["value"] for r in result.metrics if r["metric"] != "wall_time_s"]

    assert numbers(again) == numbers(smoke_result)


def test_run_scenario_and_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = dataclasses.replace(db.Config.smoke(), dataset="blobs", epochs=2)
    result = run_scenario(db, cfg, tmp_path)
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["scenario"] == "digital_baseline"
    assert manifest["summary"]["architecture"] == "2-8-3"
    assert db.main(["--smoke", "--set", "epochs=1", "--out", str(tmp_path)]) == 0
    assert len(list((tmp_path / "digital_baseline").iterdir())) == 2
    capsys.readouterr()


def test_divergence_is_one_line_and_keeps_the_finished_epochs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--smoke", "--out", str(tmp_path), "--set", "epochs=20", "--set", "lr=3"]
    argv += [
        "--set",
        "optimizer=sgd",
        "--set",
        "loss=half_squared_error",
        "--set",
        "activation=relu",
    ]
    assert db.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("photonic-backprop: error: training diverged at epoch 2")
    assert "lower the learning rate (lr=3)" in err and "\n" not in err
    [run_dir] = (tmp_path / "digital_baseline").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + len(db.METRICS)  # header + epoch 1, finished before it diverged
    assert all(row.startswith("1,") for row in rows[1:])


def test_defaults_are_valid() -> None:
    cfg = db.Config()
    assert cfg.dataset == "moons"
    assert cfg.hidden == (16, 16)
    assert db.Config.smoke().epochs < cfg.epochs


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("dataset", "mnist", "choose one of"),
        ("n_samples", 0, "int > 0"),
        ("noise", -0.1, "noise=-0.1"),
        ("test_fraction", 1.0, "between 0 and 1"),
        ("hidden", (16, 0), "positive ints"),
        ("hidden", "16", "tuple"),
        ("activation", "abs2", "tanh"),
        ("output_activation", "modrelu", "identity"),
        ("loss", "hinge", "softmax_cross_entropy"),
        ("optimizer", "lbfgs", "adam"),
        ("lr", 0.0, "lr=0.0"),
        ("lr", float("nan"), "lr=nan"),
        ("epochs", 0, "epochs=0"),
        ("epochs", 2.5, "epochs=2.5"),
        ("batch_size", -4, "batch_size=-4"),
        ("seed", -1, "seed=-1"),
    ],
)
def test_config_validation(field: str, value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=field) as info:
        db.Config(**{field: value})  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_noise_is_refused_for_bundled_datasets() -> None:
    with pytest.raises(ValueError, match=r"noise=0\.1 has no meaning"):
        db.Config(dataset="iris", noise=0.1)


def test_hidden_list_becomes_tuple() -> None:
    assert db.Config(hidden=[4, 4]).hidden == (4, 4)  # type: ignore[arg-type]


def test_summary_agrees_with_the_per_epoch_rows(tmp_path: Path) -> None:
    """The summary's final and best numbers are those of metrics.csv's rows: final = the
    last epoch, best = the highest test accuracy, train loss from the train split. Four
    epochs of the smoke run (seed 0), where the last two test accuracies differ and the
    best test and train accuracies differ, so that a shifted index or a swapped split
    shows."""
    cfg = dataclasses.replace(db.Config.smoke(), epochs=4)
    result = db.run(cfg, tmp_path)

    def curve(metric: str, split: str) -> list[float]:
        rows = sorted(
            (r["epoch"], r["value"])
            for r in result.metrics
            if (r["metric"], r["split"]) == (metric, split)
        )
        assert [e for e, _ in rows] == [1, 2, 3, 4]
        return [v for _, v in rows]

    test_acc, train_acc = curve("accuracy", "test"), curve("accuracy", "train")
    assert test_acc[-1] != test_acc[-2] and max(test_acc) != max(train_acc)
    n_test, n_train = int(result.summary["n_test"]), int(result.summary["n_train"])
    assert (n_test, n_train) == (20, 80)
    # accuracies are counts of right answers over the split's size
    assert all(abs(a * n_test - round(a * n_test)) < 1e-9 for a in test_acc)
    assert all(abs(a * n_train - round(a * n_train)) < 1e-9 for a in train_acc)
    s = result.summary
    assert s["final_test_accuracy"] == test_acc[-1]
    assert s["best_test_accuracy"] == max(test_acc)
    assert s["final_train_accuracy"] == train_acc[-1]
    assert s["final_train_loss"] == curve("loss", "train")[-1]
    assert s["final_test_loss"] == curve("loss", "test")[-1]
