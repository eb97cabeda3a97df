"""``run --resume``: a run interrupted with Ctrl-C continues to the same result."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import digital.train as train_module
from scenarios.cli import main

SETTINGS = [
    "--set",
    "epochs=300",
    "--set",
    "n_samples=200",
    "--set",
    "checkpoint_every=7",
    "--set",
    "seed=3",
]


def metrics_without_time(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open() as fh:
        return [row for row in csv.DictReader(fh) if row["metric"] != "wall_time_s"]


def only_run(root: Path) -> Path:
    (run_dir,) = (root / "digital_baseline").iterdir()
    return run_dir


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_cli_run_resumes_to_the_uninterrupted_result(
    stop: signal.Signals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C, and SIGTERM (``timeout``, a scheduler's stop) the same way: the run saves a
    checkpoint, says "interrupted" in its manifest, and resumes bit for bit."""
    assert main(["run", "digital_baseline", *SETTINGS, "--out", str(tmp_path / "a")]) == 0
    reference = metrics_without_time(only_run(tmp_path / "a"))

    out_b = tmp_path / "b"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scenarios.cli",
            "run",
            "digital_baseline",
            *SETTINGS,
            "--out",
            str(out_b),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(out_b.glob("digital_baseline/*/checkpoint.npz")):
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run_dir = only_run(out_b)
    assert f"interrupted; continue with: photonic-backprop run --resume {run_dir}" in err
    assert not (run_dir / "metrics.csv").exists()  # it really stopped early
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"

    loaded: list[int] = []  # steps done at each checkpoint the resumed run loads
    real_load = train_module.load_checkpoint

    def spy(*args: Any, **kwargs: Any) -> Any:
        history, position = real_load(*args, **kwargs)
        loaded.append(position.steps)
        return history, position

    monkeypatch.setattr(train_module, "load_checkpoint", spy)
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert metrics_without_time(run_dir) == reference
    (steps,) = loaded  # it continued from the checkpoint, not from the start
    assert steps >= 7


def test_resume_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["run", "digital_baseline", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give no SCENARIO" in err
    (tmp_path / "config.json").write_text("{}")
    assert main(["run", "--resume", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "--out" in capsys.readouterr().err  # not silently ignored
    assert main(["run", "--resume", str(tmp_path)]) == 2  # no manifest, parent no scenario
    err = capsys.readouterr().err
    assert "no manifest.json there, and its parent folder" in err and "names no scenario" in err
    for command in (["run", "digital_baseline"], ["sweep", "digital_baseline", "--grid", "lr=1"]):
        assert main([*command, "--smoke", "--out", ""]) == 2
        err = capsys.readouterr().err
        assert err == "photonic-backprop: error: --out '' must name a folder\n"  # one line


def test_a_scenario_without_checkpoints_says_it_starts_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from scenarios import energy_latency
    from scenarios.framework import Result

    assert not getattr(energy_latency, "CHECKPOINTS", False)

    def interrupted(cfg: object, out_dir: Path) -> Result:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(energy_latency, "run", interrupted)
        assert main(["run", "energy_latency", "--smoke", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    (run_dir,) = (tmp_path / "energy_latency").iterdir()
    assert err == (  # the folder and the command, as for a scenario with checkpoints
        "photonic-backprop: interrupted; energy_latency keeps no checkpoint; to run it "
        f"again from the start in the same folder: photonic-backprop run --resume {run_dir}\n"
    )
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert (
        f"note: energy_latency keeps no checkpoint; it runs again from the start in {run_dir}"
        in (capsys.readouterr().err)
    )
    # finished now: a second --resume leaves it as it is
    manifest = (run_dir / "manifest.json").read_text()
    assert main(["run", "--resume", str(run_dir)]) == 0
    captured = capsys.readouterr()
    assert "this energy_latency run had already finished; nothing to resume" in captured.err
    assert "run energy_latency --config" in captured.err and captured.out == ""
    assert (run_dir / "manifest.json").read_text() == manifest


def test_a_moved_run_folder_resumes_as_the_scenario_its_manifest_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run folder kept elsewhere (not under <out>/<scenario>/) is still the run of the
    scenario its manifest names."""
    from scenarios import energy_latency
    from scenarios.framework import write_config

    run_dir = tmp_path / "kept" / "run-1"
    run_dir.mkdir(parents=True)
    write_config(energy_latency.Config.smoke(), run_dir)
    (run_dir / "manifest.json").write_text('{"scenario": "energy_latency", "status": "ok"}')
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert "this energy_latency run had already finished" in capsys.readouterr().err


def test_out_of_memory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from scenarios import energy_latency

    def too_big(cfg: object, out_dir: Path) -> None:
        raise MemoryError("Unable to allocate 36.4 TiB")

    monkeypatch.setattr(energy_latency, "run", too_big)
    assert main(["run", "energy_latency", "--smoke", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "photonic-backprop: error: not enough memory (Unable to allocate 36.4 TiB); "
        "choose smaller sizes\n"
    )


def test_resuming_a_finished_run_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """(That it trains no further step is tested in tests/digital/test_checkpoint.py.)"""
    assert main(["run", "digital_baseline", "--smoke", "--out", str(tmp_path)]) == 0
    run_dir = only_run(tmp_path)
    reference = metrics_without_time(run_dir)
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir)]) == 0
    err = capsys.readouterr().err
    assert "this digital_baseline run had already finished; nothing is left to train" in err
    assert metrics_without_time(run_dir) == reference
    # an interrupted run (no finished manifest) gets no such note
    (run_dir / "manifest.json").write_text('{"status": "failed"}')
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert "already finished" not in capsys.readouterr().err


def test_a_killed_run_of_a_registered_scenario_can_be_resumed_from_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every run folder says what runs, with which input files, before the run starts:
    a run killed outright (no "interrupted" manifest) resumes from another folder with
    its relative preset path, and an edited preset is named, not silently used."""
    from scenarios import energy_latency

    lab, elsewhere = tmp_path / "lab", tmp_path / "elsewhere"
    lab.mkdir(), elsewhere.mkdir()
    chip = lab / "my-chip.toml"
    chip.write_text('kind = "photonic"\nbase = "eo-integrated"\n[mesh]\nloss_db_per_mzi = 0.05\n')
    seen: list[dict[str, object]] = []

    def killed(cfg: object, out_dir: Path) -> object:
        seen.append(json.loads((out_dir / "manifest.json").read_text()))
        raise SystemExit(137)  # as if killed: nothing after this is written

    monkeypatch.chdir(lab)
    argv = ["run", "energy_latency", "--smoke", "--set", "presets=my-chip.toml,cpu", "--out", "out"]
    with monkeypatch.context() as patch:
        patch.setattr(energy_latency, "run", killed)
        with pytest.raises(SystemExit):
            main(argv)
    (manifest,) = seen
    assert manifest["status"] == "running" and manifest["cwd"] == str(lab)
    assert manifest["scenario"] == "energy_latency"
    assert manifest["presets"]["my-chip.toml"]["path"] == str(chip)  # type: ignore[index]
    (run_dir,) = (lab / "out" / "energy_latency").iterdir()
    chip.write_text(chip.read_text().replace("0.05", "0.1"))  # edited since the run started
    monkeypatch.chdir(elsewhere)  # no my-chip.toml here
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir)]) == 0
    err = capsys.readouterr().err
    assert f"note: 'my-chip.toml' read from {lab}, the folder this run started in\n" in err
    assert "note: preset file 'my-chip.toml' (sha256 " in err
    assert "changed since this run started; it runs with the file as it is now" in err
    done = json.loads((run_dir / "manifest.json").read_text())
    assert (
        done["status"] == "ok"
        and done["presets"]["my-chip.toml"]["sha256"]
        != (
            manifest["presets"]["my-chip.toml"]["sha256"]  # type: ignore[index]
        )
    )
    assert "loss_db_per_mzi = 0.1" in (run_dir / "presets" / "my-chip.toml").read_text()
