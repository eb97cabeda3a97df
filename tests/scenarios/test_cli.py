"""Tests of the photonic-backprop command line (scenarios.cli)."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from scenarios import cli, digital_baseline, insitu_training
from scenarios import framework as fw
from scenarios.framework import DEFAULT_SCENARIO, SCENARIOS

REPO_ROOT = Path(__file__).resolve().parents[2]
ERROR_PREFIX = "photonic-backprop: error:"


def _single_run_dir(root: Path, scenario: str = DEFAULT_SCENARIO) -> Path:
    (run_dir,) = (root / scenario).iterdir()
    return run_dir


def _assert_one_error_line(capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(ERROR_PREFIX)
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_list_shows_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "digital_baseline" in out
    assert len(out.splitlines()) == len(SCENARIOS)
    assert "Digital baseline" in out


def test_preset_lists_the_presets_and_writes_one_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``preset`` lists every bundled preset with its kind; ``preset NAME`` prints a
    complete file that reads back as the same hardware; an unknown one is one line."""
    from sim.presets import available_presets, load_preset

    assert cli.main(["preset"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        [name, load_preset(name).kind] for name in available_presets()
    ]
    assert cli.main(["preset", "pai2023-chip"]) == 0
    copy = tmp_path / "copy.toml"
    copy.write_text(capsys.readouterr().out)
    assert load_preset(copy) == load_preset("pai2023-chip")
    assert cli.main(["preset", "nope"]) == 2
    assert capsys.readouterr().err.startswith("photonic-backprop: error: unknown preset 'nope'")


def test_list_scenario_shows_its_settings(capsys: pytest.CaptureFixture[str]) -> None:
    """Every setting once, with its default and --smoke value in --set spelling."""
    assert cli.main(["list", "digital_baseline"]) == 0
    out = capsys.readouterr().out
    settings = [line[2:] for line in out.splitlines() if re.match(r"  \w+ = ", line)]
    assert [s.split(" = ")[0] for s in settings] == [
        f.name for f in dataclasses.fields(digital_baseline.Config)
    ]
    assert "hidden = 16,16   (--smoke: 8)" in settings
    assert "dataset = moons" in settings  # the same in both: no smoke note
    assert "Minibatch size, >= 1" in out  # the docstring's description
    assert cli.main(["list", "nope"]) == 2
    assert "unknown scenario 'nope'" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"photonic-backprop {fw.package_version()}"


def test_output_to_a_reader_that_stops_early_is_quiet() -> None:
    """``photonic-backprop list compare | head``: no error line, exit status 141.

    stdout is a pipe whose reader is already closed, and block-buffered as usual
    (PYTHONUNBUFFERED unset), so the failure comes when the output is flushed.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in _python_env().items() if k != "PYTHONUNBUFFERED"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "scenarios.cli", "list", "compare"],
            cwd=REPO_ROOT,
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (141, "")


def test_run_smoke_writes_all_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_root = tmp_path / "res"
    assert cli.main(["run", "digital_baseline", "--smoke", "--out", str(out_root)]) == 0
    run_dir = _single_run_dir(out_root, "digital_baseline")
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "metrics.csv", "manifest.json"} <= names
    assert any(n.endswith(".png") for n in names)
    assert any(n.endswith(".svg") for n in names)
    out = capsys.readouterr().out
    assert "final_test_accuracy" in out
    assert str(run_dir) in out


def test_run_without_scenario_uses_default_and_layers_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text("epochs = 3\nhidden = [4]\nseed = 5\n")
    argv = ["run", "--smoke", "--config", str(config), "--set", "epochs=2", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    saved = json.loads((_single_run_dir(tmp_path) / "config.json").read_text())
    assert saved["epochs"] == 2  # --set wins over the file
    assert saved["hidden"] == [4]  # the file wins over smoke()
    assert saved["seed"] == 5
    assert saved["n_samples"] == 100  # from smoke()
    capsys.readouterr()


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "run" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "nope"], ["unknown scenario 'nope'", "digital_baseline"]),
        (["run", "--set", "nope=1"], ["'nope'", "valid keys", "epochs"]),
        (["run", "--set", "epochs=abc"], ["'epochs'", "'abc'", "int"]),
        (["run", "--set", "epochs"], ["key=value"]),
        (["run", "--set", "dataset=mnist"], ["dataset='mnist'", "moons"]),
        (["run", "--set", "lr=-1"], ["lr=-1.0"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], fragments: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*args, "--out", str(tmp_path)]) == 2
    _assert_one_error_line(capsys, *fragments)
    assert not (tmp_path / DEFAULT_SCENARIO).exists()


def test_a_mesh_size_whose_loss_exceeds_float64_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """energy_latency accepts any ports ≥ 2; at 20 000 ports the laser sizing divided by
    a transmission that underflowed to 0, and the command ended in a traceback."""
    args = ["run", "energy_latency", "--smoke", "--set", "ports=4,20000", "--set", "batches=1"]
    args += ["--set", "presets=thermal-integrated", "--out", str(tmp_path)]
    assert cli.main(args) == 2
    _assert_one_error_line(capsys, "n_ports=20000", "dB of loss")


def test_a_mesh_size_whose_step_energy_exceeds_float64_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At 15 000 ports the laser's power is still a float64 (9e303 mW), so the check
    above passes, but a finite-difference step's 6.75e8 blocks of it are not: the
    command ended in "error: -inf + inf in fsum", which names nothing."""
    args = ["run", "energy_latency", "--smoke", "--set", "ports=4,15000", "--set", "batches=1"]
    args += ["--set", "presets=thermal-integrated", "--out", str(tmp_path)]
    assert cli.main(args) == 2
    _assert_one_error_line(capsys, "n_ports=15000", "than float64 holds")


def test_values_too_large_to_plot_are_one_line_and_the_numbers_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At 14 000 ports every cost is finite (≈ 1e286 pJ) but matplotlib's log axis
    overflows drawing them: the command ended in a traceback from inside matplotlib."""
    args = ["run", "energy_latency", "--smoke", "--set", "ports=4,14000", "--set", "batches=1"]
    args += ["--set", "presets=thermal-integrated", "--out", str(tmp_path)]
    assert cli.main(args) == 2
    _assert_one_error_line(capsys, "the figure 'scaling' cannot be drawn", "metrics.csv")
    (run_dir,) = (tmp_path / "energy_latency").iterdir()
    assert (run_dir / "metrics.csv").stat().st_size > 0


def test_a_message_over_several_lines_is_still_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuses(cfg: object, out_dir: Path) -> None:
        raise ValueError("sizes do not fit:\n  hidden=(8,) needs\n\n  n_ports >= 8")

    monkeypatch.setattr(digital_baseline, "run", refuses)
    assert cli.main(["run", "digital_baseline", "--smoke", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"{ERROR_PREFIX} sizes do not fit: hidden=(8,) needs n_ports >= 8\n"
    )


def test_ctrl_c_before_the_run_starts_exits_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the scenario's module is still being imported: no traceback, 130."""

    def interrupted(name: str) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_scenario", interrupted)
    assert cli.main(["run", "digital_baseline", "--smoke", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "photonic-backprop: interrupted\n"
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a folder")
    assert cli.main(["run", "--smoke", "--out", str(blocker / "results")]) == 2
    _assert_one_error_line(capsys, "plain-file")


def test_bad_or_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = [\n")
    assert cli.main(["run", "--smoke", "--config", str(bad), "--out", str(tmp_path)]) == 2
    _assert_one_error_line(capsys, "invalid TOML")
    missing = tmp_path / "missing.toml"
    assert cli.main(["run", "--config", str(missing), "--out", str(tmp_path)]) == 2
    _assert_one_error_line(capsys, "cannot read config file")


def test_argparse_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert cli.main(["frobnicate"]) == 2
    capsys.readouterr()
    for command in (["run", "digital_baseline"], ["sweep", "digital_baseline"], ["list"]):
        assert cli.main([*command, "--bogus"]) == 2
        err = capsys.readouterr().err  # the command's usage, not the top-level one
        assert f"usage: photonic-backprop {command[0]} " in err
        assert f"photonic-backprop {command[0]}: error: unrecognized arguments: --bogus" in err


def test_traceback_flag_reraises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown setting"):
        cli.main(["run", "--set", "nope=1", "--traceback", "--out", str(tmp_path)])


# Smoke runs of 4–8 s whose own test files run them already: here only with -m slow.
# Any other scenario, a new one included, is checked in the default run.
_SLOW = {"energy_latency", "gradient_fidelity", "insitu_training", "pai2023"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in _SLOW else n for n in sorted(SCENARIOS)],
)
def test_a_full_disk_at_the_plots_keeps_the_numbers(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every scenario writes metrics.csv before its figures; the error names the folder.

    The disk fills up at the first figure of the run folder itself (pai2023's
    insitu_training part, in a subfolder, still gets its figures).
    """
    from scenarios.framework import save_figure

    def full(fig: object, out_dir: Path, stem: str) -> list[Path]:
        if Path(out_dir).parent.name != name:  # a part's subfolder
            return save_figure(fig, out_dir, stem)  # type: ignore[arg-type]
        raise OSError(28, "No space left on device")

    for scenario in SCENARIOS:
        fw.load_scenario(scenario)
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("scenarios.") and hasattr(module, "save_figure"):
            monkeypatch.setattr(module, "save_figure", full)
    assert cli.main(["run", name, "--smoke", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    (run_dir,) = (tmp_path / name).iterdir()
    assert err == [
        f"photonic-backprop: error: [Errno 28] cannot write the results to {str(run_dir)!r}: "
        "No space left on device"
    ]
    assert len((run_dir / "metrics.csv").read_text().splitlines()) > 1
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"


def _python_env() -> dict[str, str]:
    """This environment with the repository on the Python path."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    """This interpreter run with ``args`` in the repository, the repository on its path."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=_python_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_module_runs_as_a_script() -> None:
    proc = _python("-m", "scenarios.cli", "list")
    assert proc.returncode == 0, proc.stderr
    assert "digital_baseline" in proc.stdout


_STEPS_FAULTS = """
import resource, sys
import numpy as np
from scenarios.cli import keep_heap
from scenarios.simulator_speed import make_step
from photonic.mesh import Mesh

applied = keep_heap()
rng = np.random.default_rng(0)
mesh = Mesh.clements(64)
x = rng.normal(size=(256, 64)) + 1j * rng.normal(size=(256, 64))
target = rng.uniform(0, 2 / 64, size=(256, 64))
faults = []
for path in ("fast", "insitu_aggregated", "insitu_per_sample"):
    step = make_step(mesh, x, target, path=path, rng=np.random.default_rng(0))
    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    faults.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
print(applied, max(faults))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_keep_heap_stops_page_faults_between_training_steps() -> None:
    """With the heap kept, repeated training steps fault no fresh pages in.

    (With glibc's defaults the in-situ steps at N = 64 fault ~300–400 pages per step on
    the development machine; how many depends on the machine, so only the kept
    heap's zero is checked.)
    """
    proc = _python("-c", _STEPS_FAULTS)
    assert proc.returncode == 0, proc.stderr
    applied, faults = proc.stdout.split()
    assert applied == "True"
    assert float(faults) < 50  # ~300–400 per step without it on the development machine


def test_main_keeps_the_heap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[int] = []
    monkeypatch.setattr(cli, "keep_heap", lambda: calls.append(1) or True)
    assert cli.main(["list"]) == 0
    assert calls == [1]


def test_an_interrupted_sweep_says_how_to_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from scenarios import sweep

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "run_sweep", interrupted)
    argv = ["sweep", "digital_baseline", "--smoke", "--grid", "lr=0.01", "--out", str(tmp_path)]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert err.startswith("photonic-backprop: interrupted; the finished points are kept in ")
    assert err.rstrip().endswith("run the same command again to go on") and err.count("\n") == 1


_REAL_RUN_ONE = insitu_training._run_one


def _first_seed_fails(cfg: Any, dataset: str, s: int, seeds: Any) -> Any:
    """insitu_training's job, failing for seed 0 (module level: the pool pickles it)."""
    if s == 0:
        time.sleep(0.3)  # the other worker is busy by now
        raise ValueError("job failed (injected)")
    return _REAL_RUN_ONE(cfg, dataset, s, seeds)


def test_a_failed_pooled_job_is_one_line_also_with_sigterm_forwarded(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI turns SIGTERM into a Ctrl-C; forked pool workers inherit that handler, and
    process_pool stops them with SIGTERM, which must still end them quietly (before the
    fix each printed a KeyboardInterrupt traceback)."""
    monkeypatch.setattr(insitu_training, "_run_one", _first_seed_fails)
    argv = ["run", "insitu_training", "--smoke", "--set", "n_seeds=2", "--set", "workers=2"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 2
    err = capfd.readouterr().err
    assert err.strip().splitlines() == ["photonic-backprop: error: job failed (injected)"], err


def _first_seed_is_killed(cfg: Any, dataset: str, s: int, seeds: Any) -> Any:
    """insitu_training's job; the worker of seed 0 is killed (as by the OOM killer)."""
    if s == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_RUN_ONE(cfg, dataset, s, seeds)


def test_a_killed_pool_worker_is_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(insitu_training, "_run_one", _first_seed_is_killed)
    argv = ["run", "insitu_training", "--smoke", "--set", "n_seeds=2", "--set", "workers=2"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a worker process died before its job ended" in err[0], err
