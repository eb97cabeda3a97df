"""Users' dataset files in the scenarios: settings, manifests, sweep identity, resume."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from scenarios import compare, digital_baseline, insitu_training, provenance, sweep_plan
from scenarios import framework as fw
from scenarios import sweep as sw
from scenarios.cli import main


def _moons_csv(path: Path, *, n: int = 120, n_features: int = 2, comment: str = "") -> Path:
    """A two-class CSV with a header, text labels and ``n_features`` feature columns."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, n_features)) + 2.0 * y[:, None]
    lines = [f"# {comment}" if comment else "# test data"]
    lines.append(",".join([f"f{j}" for j in range(n_features)] + ["label"]))
    lines += [
        ",".join([repr(float(v)) for v in row] + [("no", "yes")[label]])
        for row, label in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_digital_baseline_runs_on_a_csv_and_the_manifest_records_it(tmp_path: Path) -> None:
    data = _moons_csv(tmp_path / "two moons.csv")
    cfg = dataclasses.replace(digital_baseline.Config.smoke(), dataset=str(data), n_samples=None)
    result = fw.run_scenario(digital_baseline, cfg, tmp_path / "out", report="quiet")
    assert result.summary["n_train"] + result.summary["n_test"] == 120  # every row
    assert result.summary["architecture"] == "2-8-2"
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert manifest["datasets"] == {
        str(data): {
            "path": str(data.absolute()),
            "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
            "size_bytes": data.stat().st_size,
            "n_rows": 120,
            "n_features": 2,
            "class_rows": {"no": 60, "yes": 60},
        }
    }
    assert not list(result.out_dir.glob("*.csv.*"))  # the data is not copied
    assert json.loads((result.out_dir / "config.json").read_text())["dataset"] == str(data)


def test_built_in_datasets_leave_the_manifest_entry_empty(tmp_path: Path) -> None:
    result = fw.run_scenario(
        digital_baseline, digital_baseline.Config.smoke(), tmp_path, report="quiet"
    )
    assert json.loads((result.out_dir / "manifest.json").read_text())["datasets"] == {}


def test_cli_runs_a_csv_and_refuses_a_bad_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _moons_csv(tmp_path / "my.csv")
    out = ["--out", str(tmp_path / "out")]
    assert main(["run", "digital_baseline", "--smoke", "--set", "dataset=my.csv", *out]) == 0
    capsys.readouterr()
    (tmp_path / "bad.csv").write_text("1,2,0\n3,nan,1\n5,6,0\n7,8,1\n")
    for setting, match in (
        ("dataset=bad.csv", "NaN or infinite"),
        ("dataset=missing.csv", "'missing.csv' does not exist"),
        ("dataset=my.txt", "is not allowed; .*looks like a file name, .* not '.txt'"),
    ):
        assert main(["run", "digital_baseline", "--smoke", "--set", setting, *out]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith("photonic-backprop: error: dataset") and re.search(match, err)
    assert len(list((tmp_path / "out" / "digital_baseline").iterdir())) == 1  # no new folders


def test_resume_refuses_a_changed_data_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _moons_csv(tmp_path / "d.csv")
    argv = ["run", "digital_baseline", "--smoke", "--set", f"dataset={data}"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    (run_dir,) = (tmp_path / "out" / "digital_baseline").iterdir()
    assert main(["run", "--resume", str(run_dir)]) == 0  # unchanged: continues
    _moons_csv(data, comment="edited")  # same rows, other bytes
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir)]) == 2
    err = capsys.readouterr().err
    then = json.loads((run_dir / "manifest.json").read_text())["datasets"][str(data)]["sha256"]
    now = hashlib.sha256(data.read_bytes()).hexdigest()
    assert (
        err
        == (  # one line that names the file and what to do
            f"photonic-backprop: error: --resume {str(run_dir)!r}: dataset file {str(data)!r} "
            f"(sha256 {then[:12]} when the run started, {now[:12]} now): its checkpoint was "
            "trained on the file as it was. Put it back to continue, or start a new run: "
            f"photonic-backprop run digital_baseline --config {run_dir / 'config.json'}\n"
        )
    )


def test_resume_from_another_folder_reads_relative_paths_where_the_run_started(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--set dataset=my.csv`` names the file in the folder the run started in; resumed
    from anywhere else (another folder, a relative run path), it still reads that file,
    not a namesake, and a run without the folder's record falls back to here."""
    lab, elsewhere = tmp_path / "lab", tmp_path / "elsewhere"
    lab.mkdir(), elsewhere.mkdir()
    _moons_csv(lab / "my.csv")
    monkeypatch.chdir(lab)
    argv = ["run", "digital_baseline", "--smoke", "--set", "dataset=my.csv", "--out", "out"]
    assert main(argv) == 0
    (run_dir,) = (lab / "out" / "digital_baseline").iterdir()
    assert json.loads((run_dir / "manifest.json").read_text())["cwd"] == str(lab)
    _moons_csv(elsewhere / "my.csv", comment="another file of the same name")
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    shown = f"../lab/out/digital_baseline/{run_dir.name}"
    assert main(["run", "--resume", shown]) == 0  # lab's my.csv: unchanged, continues
    err = capsys.readouterr().err
    assert f"note: 'my.csv' read from {lab}, the folder this run started in\n" in err
    assert "changed" not in err and Path.cwd() == elsewhere  # and back here after it
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "ok"
    (lab / "my.csv").unlink()  # the file is gone where the run started: named there
    assert main(["run", "--resume", shown]) == 2
    assert "dataset file 'my.csv' does not exist" in capsys.readouterr().err
    # an older manifest without the record: relative paths are read from here
    manifest = json.loads((run_dir / "manifest.json").read_text())
    del manifest["cwd"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    assert main(["run", "--resume", shown]) == 2  # elsewhere's my.csv, not the run's
    assert "dataset file 'my.csv' (sha256" in capsys.readouterr().err


def test_a_sweep_s_identity_holds_the_data_file_s_digest(tmp_path: Path) -> None:
    data = _moons_csv(tmp_path / "d.csv")

    def plan(dataset: str) -> sw.SweepPlan:
        return sw.plan_sweep(
            "digital_baseline",
            grid=[("lr", ["0.01", "0.03"])],
            overrides={"dataset": dataset},
            base="smoke",
        )

    first = plan(str(data))
    assert first.spec["dataset_digests"] == {
        str(data): hashlib.sha256(data.read_bytes()).hexdigest()
    }
    assert plan(str(data)).sweep_id == first.sweep_id  # unchanged: the same sweep
    _moons_csv(data, comment="edited")
    assert plan(str(data)).sweep_id != first.sweep_id  # any edit: another sweep
    # a file as a grid value counts too
    grid = [("dataset", ["moons", str(data)])]
    before = sw.plan_sweep("digital_baseline", grid=grid, base="smoke")
    _moons_csv(data, n=100)
    assert sw.plan_sweep("digital_baseline", grid=grid, base="smoke").sweep_id != before.sweep_id
    # built-in datasets only: no digests, the hash computed as it always was
    built_in = plan("moons")
    assert "dataset_digests" not in built_in.spec
    assert built_in.sweep_id == f"digital_baseline-{sweep_plan._short_hash(built_in.spec)}"


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda path: compare.Config(dataset=path), "dataset"),
        (lambda path: insitu_training.Config(datasets=("moons", path)), "datasets"),
    ],
    ids=["compare", "insitu_training"],
)
def test_the_pai_network_scenarios_refuse_a_three_feature_file(
    tmp_path: Path, make: object, field: str
) -> None:
    data = str(_moons_csv(tmp_path / "three.csv", n_features=3))
    with pytest.raises(ValueError) as info:
        make(data)  # type: ignore[operator]
    assert str(info.value) == (
        f"{field}={data!r}: the file has 3 features and 2 classes; this setting needs "
        "2 features and 2 classes"
    )


def test_pai_scenarios_take_every_row_of_a_file_unless_n_samples_says(tmp_path: Path) -> None:
    data = str(_moons_csv(tmp_path / "d.csv", n=90))
    assert compare.Config(dataset=data).total_samples == 90
    assert compare.Config(dataset=data, n_samples=60).total_samples == 60
    with pytest.raises(ValueError, match="n_samples=91 is more than the 90 rows"):
        compare.Config(dataset=data, n_samples=91)
    assert insitu_training.dataset_size(data) == 90
    with pytest.raises(ValueError, match="batch_size=80 exceeds the 72 training points"):
        insitu_training.Config(datasets=(data,), fd_datasets=(), batch_size=80)


def test_insitu_training_names_a_file_by_its_stem_and_refuses_two_of_one_name(
    tmp_path: Path,
) -> None:
    a = str(_moons_csv(tmp_path / "moons.csv"))
    (tmp_path / "b").mkdir()
    b = str(_moons_csv(tmp_path / "b" / "moons.csv"))
    with pytest.raises(ValueError, match="names 'moons' twice"):
        insitu_training.Config(datasets=(a, b))
    with pytest.raises(ValueError, match="names 'moons' twice"):
        insitu_training.Config(datasets=("moons", a))
    with pytest.raises(ValueError, match="not in datasets"):
        insitu_training.Config(datasets=(a,), fd_datasets=("moons",))
    cfg = insitu_training.Config(datasets=(a,), fd_datasets=(a,))
    assert fw.dataset_files(cfg) == {a: Path(a)}


def test_insitu_training_smoke_on_a_file(tmp_path: Path) -> None:
    data = str(_moons_csv(tmp_path / "mine.csv", n=100))
    cfg = dataclasses.replace(
        insitu_training.Config.smoke(), datasets=(data,), fd_datasets=(), methods=("analog",)
    )
    result = fw.run_scenario(insitu_training, cfg, tmp_path / "out", report="quiet")
    assert {r["dataset"] for r in result.metrics} == {"mine"}
    assert "acc_mean_pct_mine_digital" in result.summary
    with (result.out_dir / "accuracy_table.csv").open() as fh:
        assert all(line.rstrip().endswith(",-") for line in list(fh)[1:])  # no Pai numbers
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert set(manifest["datasets"]) == {data}


def test_a_value_the_user_did_not_give_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--smoke --set dataset=small.csv`` failed on ``n_samples=100``, a value the user
    never typed: the message now says it is the --smoke value (a user study)."""
    monkeypatch.chdir(tmp_path)
    _moons_csv(tmp_path / "small.csv", n=12)
    argv = ["run", "digital_baseline", "--set", "dataset=small.csv", "--out", "out"]
    assert main([*argv, "--smoke"]) == 2
    assert (
        capsys.readouterr()
        .err.rstrip()
        .endswith("(n_samples=100 is the --smoke value; change it with --set n_samples=...)")
    )
    assert main([*argv, "--set", "n_samples=50"]) == 2  # typed: nothing to add
    assert capsys.readouterr().err.rstrip().endswith("(or None for every row)")
    assert main([*argv, "--smoke", "--set", "n_samples=none"]) == 0
    capsys.readouterr()
    # a sweep builds its configs the same way (review: it said nothing)
    sweep = ["sweep", "digital_baseline", "--set", "dataset=small.csv", "--out", "out"]
    assert main([*sweep, "--smoke", "--grid", "seed=0,1"]) == 2
    assert (
        capsys.readouterr()
        .err.rstrip()
        .endswith("(n_samples=100 is the --smoke value; change it with --set n_samples=...)")
    )
    assert main([*sweep, "--smoke", "--grid", "n_samples=50,100"]) == 2  # swept: typed
    assert "--smoke value" not in capsys.readouterr().err


def test_the_manifest_sums_up_what_a_data_file_held(tmp_path: Path) -> None:
    """The manifest gave a file's digest only; what it held (rows per class) could not
    be read back once the file changed (a user study's wish)."""
    path = tmp_path / "unbalanced.csv"
    path.write_text("1,2,5\n3,4,5\n5,6,3\n7,8,5\n9,1,3\n", encoding="utf-8")
    cfg = dataclasses.replace(digital_baseline.Config.smoke(), dataset=str(path), n_samples=None)
    (record,) = provenance.dataset_records(cfg).values()
    assert (record["n_rows"], record["n_features"]) == (5, 2)
    assert record["class_rows"] == {"3": 2, "5": 3}
    assert list(record["class_rows"]) == ["3", "5"]  # class order: label 0 first
