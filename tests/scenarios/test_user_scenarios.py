"""A researcher's own scenario, as a ``.py`` file or a dotted module path, used with
``run``, ``list``, ``run --resume`` and ``sweep`` without registering it
(:func:`scenarios.registry.load_scenario`).

Every study here is written to ``tmp_path``; the fixtures undo what loading it did to
``sys.path``, ``sys.modules`` and the framework's record of loaded files, so that two
tests may use the same file name.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenarios import cli, registry
from scenarios import framework as fw
from scenarios import sweep as sw

ERROR_PREFIX = "photonic-backprop: error:"

STUDY = '''\
"""Toy study: y = a * x for a few x, plus seeded noise."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from scenarios.framework import Result, child_rngs, write_metrics

OFFSET = 0.0


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the toy study.

    Parameters
    ----------
    a : float
        The slope.
    n : int
        How many x.
    interrupt_once : bool
        Raise KeyboardInterrupt on the first attempt in a run folder.
    seed : int
        Seed of the noise.
    """

    a: float = 1.0
    n: int = 50
    interrupt_once: bool = False
    seed: int = 0

    @classmethod
    def smoke(cls) -> Config:
        return cls(n=4)


def run(cfg: Config, out_dir: Path) -> Result:
    status = json.loads((out_dir / "manifest.json").read_text())["status"]
    if cfg.interrupt_once and not (out_dir / "tried").exists():
        (out_dir / "tried").touch()
        raise KeyboardInterrupt
    noise = child_rngs(cfg.seed, "noise")["noise"]
    rows = [
        {"x": x, "metric": "y", "value": cfg.a * x + OFFSET + 0.1 * noise.normal()}
        for x in range(cfg.n)
    ]
    write_metrics(rows, out_dir)
    mean = sum(row["value"] for row in rows) / cfg.n
    return Result(out_dir=out_dir, metrics=rows, summary={"y_mean": mean, "seen": status})
'''


def _forget(name: str) -> None:
    """Drop module ``name`` (and its submodules) from this process."""
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[loaded]
    registry._LOADED_FILES.pop(name, None)


@pytest.fixture
def clean_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Restore ``sys.path`` afterwards and forget the modules whose names the test adds."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    names: list[str] = []
    yield names
    for name in names:
        _forget(name)


@pytest.fixture
def study(tmp_path: Path, clean_imports: list[str]) -> Path:
    """``tmp_path/studies/my_study.py``, the toy study."""
    folder = tmp_path / "studies"
    folder.mkdir()
    path = folder / "my_study.py"
    path.write_text(STUDY)
    clean_imports.append("my_study")
    return path


@pytest.fixture
def package(tmp_path: Path, clean_imports: list[str]) -> str:
    """The toy study as the module ``mylab_toy.studies.fidelity`` on ``sys.path``."""
    root = tmp_path / "site"
    studies = root / "mylab_toy" / "studies"
    studies.mkdir(parents=True)
    (root / "mylab_toy" / "__init__.py").write_text("")
    (studies / "__init__.py").write_text("")
    (studies / "fidelity.py").write_text(STUDY)
    sys.path.insert(0, str(root))
    clean_imports.append("mylab_toy")
    return "mylab_toy.studies.fidelity"


def _one_error_line(capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(ERROR_PREFIX), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(run_dir: Path) -> dict[str, object]:
    return dict(json.loads((run_dir / "manifest.json").read_text()))


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("name", "kind", "folder"),
    [
        ("digital_baseline", "registered", "digital_baseline"),
        ("scenarios.compare", "registered", "compare"),  # a registered module's path
        ("my_study.py", "file", "my_study"),
        ("studies/my_study.py", "file", "my_study"),
        ("/abs/studies/my_study.py", "file", "my_study"),
        ("studies/notes", "file", "notes"),  # a path: refused later, as not .py
        ("mylab.studies.fidelity", "module", "mylab.studies.fidelity"),
    ],
)
def test_a_name_is_registered_a_file_or_a_module_by_one_rule(
    name: str, kind: str, folder: str
) -> None:
    assert fw.scenario_kind(name) == kind
    assert fw.scenario_name(name) == folder


@pytest.mark.parametrize("name", ["compar", "my_study", "1abc.x", "mylab..x", ""])
def test_a_name_that_is_none_of_them_is_an_unknown_scenario(name: str) -> None:
    """A plain name is never imported (a typo of a registered name stays a typo)."""
    with pytest.raises(ValueError, match=r"unknown scenario .*valid scenarios: .*compare"):
        fw.load_scenario(name)


# --------------------------------------------------------------------------- a file


def test_a_study_file_runs_lists_and_resumes(
    study: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """run (relative path) -> <out>/my_study/<id>/ with the usual files and a manifest
    that loads it again; list shows its settings; an interrupted run resumes from
    another working folder; a moved file is one line."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    argv = ["run", "studies/my_study.py", "--smoke", "--set", "a=2", "--out", str(out)]
    assert cli.main(argv) == 0
    (run_dir,) = (out / "my_study").iterdir()
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "metrics.csv", "manifest.json"}
    manifest = _manifest(run_dir)
    assert manifest["scenario"] == "my_study" and manifest["status"] == "ok"
    assert manifest["summary"]["seen"] == "running"  # type: ignore[index]
    assert manifest["scenario_module"] == {
        "kind": "file",
        "load": str(study.resolve()),
        "module": "my_study",
        "path": str(study.resolve()),
        "sha256": _sha256(study),
    }
    assert "my_study: done" in capsys.readouterr().out

    assert cli.main(["list", "studies/my_study.py"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("my_study: Toy study: y = a * x")
    assert "  n = 50   (--smoke: 4)" in listed and "The slope." in listed

    argv = ["run", "studies/my_study.py", "--smoke", "--set", "interrupt_once=true"]
    assert cli.main([*argv, "--out", str(out)]) == cli.EXIT_INTERRUPTED
    (interrupted,) = [d for d in (out / "my_study").iterdir() if d != run_dir]
    assert _manifest(interrupted)["status"] == "interrupted"
    capsys.readouterr()
    monkeypatch.chdir(out)  # the manifest's absolute path, not the relative one typed
    assert cli.main(["run", "--resume", str(interrupted)]) == 0
    captured = capsys.readouterr()
    assert "my_study keeps no checkpoint" in captured.err
    assert _manifest(interrupted)["status"] == "ok"

    study.write_text(STUDY.replace("OFFSET = 0.0", "OFFSET = 1.0"))
    assert cli.main(["run", "--resume", str(interrupted)]) == 0  # finished: a note
    assert "changed since this run started" not in capsys.readouterr().err
    (interrupted / "manifest.json").write_text(
        json.dumps({**_manifest(interrupted), "status": "failed"})
    )
    assert cli.main(["run", "--resume", str(interrupted)]) == 0
    assert "changed since this run started (sha256" in capsys.readouterr().err
    assert _manifest(interrupted)["scenario_module"]["sha256"] == _sha256(study)  # type: ignore[index]

    study.rename(study.with_name("moved.py"))
    assert cli.main(["run", "--resume", str(interrupted)]) == 2
    _one_error_line(capsys, f"--resume {str(interrupted)!r}", "does not exist")


def test_a_run_killed_outright_resumes_from_its_running_manifest(
    study: Path, tmp_path: Path
) -> None:
    """Before run() starts, the folder's manifest already says how to load the study
    (a SIGKILL leaves no other): resume_target reads it."""
    module = fw.load_scenario(str(study))
    run_dir = fw.prepare_run_dir(tmp_path, "my_study")
    fw.write_config(module.Config.smoke(), run_dir)
    fw.write_manifest(
        run_dir,
        scenario="my_study",
        seed=0,
        wall_time_s=0.0,
        extra={"status": "running", "scenario_module": fw.scenario_source(module)},
    )
    name, overrides = fw.resume_target(run_dir)
    assert name == str(study.resolve()) and overrides["n"] == 4


def test_a_file_edited_in_this_process_is_imported_again(study: Path) -> None:
    first = fw.load_scenario(str(study))
    assert fw.load_scenario(str(study)) is first and first.OFFSET == 0.0
    study.write_text(STUDY.replace("OFFSET = 0.0", "OFFSET = 5.0"))
    assert fw.load_scenario(str(study)).OFFSET == 5.0
    assert fw.scenario_source(first)["sha256"] == _sha256(study)  # type: ignore[index]


# --------------------------------------------------------------------------- a module


def test_a_dotted_module_runs_lists_and_resumes(
    package: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", package, "--smoke", "--out", str(out)]) == 0
    (run_dir,) = (out / package).iterdir()
    source = _manifest(run_dir)["scenario_module"]
    path = tmp_path / "site" / "mylab_toy" / "studies" / "fidelity.py"
    assert source == {
        "kind": "module",
        "load": package,
        "module": package,
        "path": str(path.resolve()),
        "sha256": _sha256(path),
    }
    capsys.readouterr()
    assert cli.main(["list", package]) == 0
    assert capsys.readouterr().out.startswith(f"{package}: Toy study")
    (run_dir / "manifest.json").unlink()  # killed before any manifest: the folder names it
    assert fw.resume_target(run_dir)[0] == package
    assert cli.main(["run", "--resume", str(run_dir)]) == 0
    assert _manifest(run_dir)["status"] == "ok"


# --------------------------------------------------------------------------- sweeps


@pytest.mark.parametrize("kind", ["file", "module"])
def test_a_user_scenario_sweeps_serially_and_on_a_pool_with_the_same_numbers(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The pool's spawned workers import the file or module themselves; the same
    command again resumes (nothing is run twice)."""
    name = str(request.getfixturevalue("study")) if kind == "file" else (
        request.getfixturevalue("package")
    )  # fmt: skip
    folder = fw.scenario_name(name)
    grid = ["--smoke", "--grid", "a=1,2", "--repeat", "2"]
    summaries = {}
    for workers in ("1", "2"):
        out = tmp_path / f"workers{workers}"
        argv = ["sweep", name, *grid, "--workers", workers, "--out", str(out)]
        assert cli.main(argv) == 0
        assert "(4 run now, 0 already done, 0 failed)" in capsys.readouterr().out
        assert cli.main(argv) == 0
        assert "(0 run now, 4 already done, 0 failed)" in capsys.readouterr().out
        (sweep_dir,) = (out / "sweeps").iterdir()
        assert sweep_dir.name.startswith(f"{folder}-")
        spec = json.loads((sweep_dir / "sweep.json").read_text())
        assert spec["scenario"] == folder
        assert spec["scenario_module"]["load"] == (
            str(Path(name).resolve()) if kind == "file" else name
        )
        assert spec["scenario_sha256"] == spec["scenario_module"]["sha256"]
        assert "scenario_sha256" in spec["hash_of"]
        assert len(list((sweep_dir / "runs" / folder).iterdir())) == 4
        with (sweep_dir / "sweep.csv").open() as fh:
            summaries[workers] = sorted(
                (row["a"], row["repeat"], row["seed"], row["metric"], row["value"], row["text"])
                for row in csv.DictReader(fh)
            )
    assert summaries["1"] == summaries["2"]


def test_the_sweep_hash_changes_with_the_code_of_the_study_only(study: Path) -> None:
    def sweep_id() -> str:
        return sw.plan_sweep(str(study), grid=[("a", ["1", "2"])], base="smoke").sweep_id

    first = sweep_id()
    assert first.startswith("my_study-")
    study.write_text(STUDY)  # the same bytes again (a new mtime): the same sweep
    assert sweep_id() == first
    study.write_text(STUDY + "\n# a comment\n")
    edited = sweep_id()
    assert edited != first
    study.write_text(STUDY)
    assert sweep_id() == first
    # registered scenarios keep the identity they had: no digest of their code
    plan = sw.plan_sweep("digital_baseline", grid=[("lr", ["0.1"])], base="smoke")
    assert "scenario_sha256" not in plan.spec and plan.source is None
    assert plan.load == "digital_baseline"


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs dask")
def test_a_dask_sweep_loads_the_study_on_its_workers_or_says_it_cannot(
    tmp_path: Path, clean_imports: list[str]
) -> None:
    """A local cluster's workers load the file at its path; a file they cannot find is
    one error naming the worker, before any point or folder is made."""
    path = tmp_path / "dask_study.py"
    path.write_text(STUDY)
    clean_imports.append("dask_study")
    plan = sw.plan_sweep(str(path), grid=[("a", ["1", "2"])], base="smoke")
    report = sw.run_sweep(plan, out=tmp_path / "ok", executor="dask", workers=1, progress="off")
    assert (report.n_run, report.n_failed) == (2, 0)
    path.rename(tmp_path / "elsewhere.py")
    with pytest.raises(sw.SweepError) as info:
        sw.run_sweep(plan, out=tmp_path / "gone", executor="dask", workers=1, progress="off")
    message = str(info.value)
    assert "1 of 1 Dask workers cannot load the scenario" in message
    assert "does not exist" in message and "importable on every worker" in message
    assert not (tmp_path / "gone").exists()


def test_a_dask_cluster_that_cannot_be_asked_is_not_a_cluster_that_did_not_start(
    tmp_path: Path, clean_imports: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The question to the workers ran inside the start-up's try: a failure of it said
    "cannot start a local Dask cluster" of a cluster that had started."""
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "dask_study.py"
    path.write_text(STUDY)
    clean_imports.append("dask_study")

    def lost(*args: object, **kwargs: object) -> None:
        raise OSError("Stream is closed")

    monkeypatch.setattr(distributed.Client, "run", lost)
    plan = sw.plan_sweep(str(path), grid=[("a", ["1"])], base="smoke")
    with pytest.raises(sw.SweepError) as info:
        sw.run_sweep(plan, out=tmp_path / "out", executor="dask", workers=1, progress="off")
    assert str(info.value) == (
        f"cannot ask the Dask workers whether they load the scenario {str(path)!r}: "
        "Stream is closed"
    )


def test_ctrl_c_while_asking_the_dask_workers_closes_the_cluster(
    tmp_path: Path, clean_imports: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt during the question to the workers left the local cluster
    open: __exit__ never runs for an __enter__ that raised (review)."""
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "dask_study.py"
    path.write_text(STUDY)
    clean_imports.append("dask_study")
    closed: list[object] = []
    close = distributed.LocalCluster.close

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    def recorded(self: object, *args: object, **kwargs: object) -> object:
        closed.append(self)
        return close(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(distributed.Client, "run", interrupted)
    monkeypatch.setattr(distributed.LocalCluster, "close", recorded)
    plan = sw.plan_sweep(str(path), grid=[("a", ["1"])], base="smoke")
    with pytest.raises(KeyboardInterrupt):
        sw.run_sweep(plan, out=tmp_path / "out", executor="dask", workers=1, progress="off")
    assert closed


# --------------------------------------------------------------------------- refusals


NOT_A_SCENARIO = """\
import dataclasses


@dataclasses.dataclass
class Config:
    a: float = 1.0
"""


@pytest.mark.parametrize(
    ("file_name", "text", "fragments"),
    [
        ("absent.py", None, ["scenario file", "absent.py' does not exist"]),
        ("notes.txt", "", ["must be a Python file ending in .py"]),
        ("json.py", STUDY, ["imported as module 'json'", "rename the file"]),
        ("antigravity.py", STUDY, ["module 'antigravity'", "another module", "rename the file"]),
        ("compare.py", STUDY, ["name of the registered scenario 'compare'", "rename it"]),
        ("my-study.py", STUDY, ["must be a Python identifier", "e.g. to my_study.py"]),
        ("broken.py", "import nothing_here_at_all\n", ["failed to import: ModuleNotFoundError"]),
        ("typo.py", "def f(:\n", ["failed to import: SyntaxError"]),
        (
            "plain.py",
            NOT_A_SCENARIO,
            [
                "is not a scenario module; it lacks a module docstring",
                "a frozen Config",
                "a seed field in Config",
                "a classmethod Config.smoke()",
                "a function run(cfg, out_dir)",
            ],
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "list", "sweep"])
def test_a_bad_scenario_file_is_one_line_and_exit_2(
    command: str,
    file_name: str,
    text: str | None,
    fragments: list[str],
    tmp_path: Path,
    clean_imports: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / file_name
    if text is not None:
        path.write_text(text)
    if path.stem not in sys.modules:  # never forget json, which others import
        clean_imports.append(path.stem)
    argv = {
        "run": ["run", str(path), "--smoke", "--out", str(tmp_path / "out")],
        "list": ["list", str(path)],
        "sweep": ["sweep", str(path), "--grid", "a=1,2", "--out", str(tmp_path / "out")],
    }[command]
    assert cli.main(argv) == 2
    _one_error_line(capsys, *fragments)
    assert not (tmp_path / "out").exists()
    assert sys.modules["json"].__file__ != str(path)  # the real one stays


def test_a_file_that_fails_to_import_leaves_sys_path_as_it_was(
    tmp_path: Path, clean_imports: list[str]
) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('half written')\n")
    clean_imports.append("broken")
    before = list(sys.path)
    with pytest.raises(ValueError, match=r"failed to import: RuntimeError: half written"):
        fw.load_scenario(str(tmp_path / "broken.py"))
    assert sys.path == before and "broken" not in sys.modules


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("mylab_not_here.studies.x", "no module named 'mylab_not_here'"),
        ("mylab_toy.studies.nope", "no module named 'mylab_toy.studies.nope'"),
    ],
)
def test_an_unimportable_module_path_is_one_line_and_exit_2(
    name: str, fragment: str, package: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", name, "--smoke"]) == 2
    _one_error_line(capsys, f"scenario module {name!r} cannot be imported", fragment)


def test_a_module_that_is_not_a_scenario_is_refused(
    package: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dotted path to any module (here a package's __init__) is held to the shape."""
    assert cli.main(["list", "mylab_toy.studies"]) == 2
    _one_error_line(capsys, "'mylab_toy.studies' is not a scenario module", "a Config class")
    path = tmp_path / "site" / "mylab_toy" / "studies" / "bad.py"
    path.write_text(textwrap.dedent('"""Doc."""\nraise ValueError("no")\n'))
    assert cli.main(["list", "mylab_toy.studies.bad"]) == 2
    _one_error_line(capsys, "'mylab_toy.studies.bad' failed to import: ValueError: no")


@pytest.mark.parametrize("beside", ["sim.py", "digital/__init__.py", "numpy.py"])
def test_a_study_beside_a_file_that_would_hide_a_module_in_workers_is_refused(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], beside: str
) -> None:
    """The study's folder goes first on sys.path, where a spawned pool or Dask worker
    found the study's neighbour ``sim.py`` as the package ``sim`` and failed far from
    the cause (a user study). Files of modules nobody imported are fine."""
    (study.parent / "helpers.py").write_text("X = 1\n")
    (study.parent / "analysis").mkdir()  # a folder without __init__.py hides nothing
    assert cli.main(["list", str(study)]) == 0
    capsys.readouterr()
    registry._LOADED_FILES.clear()
    sys.modules.pop("my_study", None)
    neighbour = study.parent / beside
    neighbour.parent.mkdir(exist_ok=True)
    neighbour.write_text("")
    assert cli.main(["run", str(study), "--smoke", "--out", str(tmp_path / "out")]) == 2
    module = beside.split("/")[0].removesuffix(".py")
    _one_error_line(capsys, "would hide modules this run uses", f"{beside} (module {module!r}")
    assert not (tmp_path / "out").exists()


def test_files_named_like_modules_found_before_the_path_or_not_imported_yet(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``time.py`` beside a study was refused though the built-in ``time`` comes before
    sys.path; ``tqdm.py`` was allowed when this process had not imported tqdm yet,
    though a worker would (review)."""
    (study.parent / "time.py").write_text("")
    assert cli.main(["run", str(study), "--smoke", "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    registry._LOADED_FILES.clear()
    sys.modules.pop("my_study", None)
    for name in [m for m in sys.modules if m == "tqdm" or m.startswith("tqdm.")]:
        monkeypatch.delitem(sys.modules, name)
    (study.parent / "tqdm.py").write_text("")
    assert cli.main(["run", str(study), "--smoke", "--out", str(tmp_path / "out")]) == 2
    _one_error_line(capsys, "would hide modules this run uses", "tqdm.py (module 'tqdm' is ")


def _failing_study(study: Path, line: str) -> int:
    """Make the toy study's run raise through ``line`` first; the number of that line."""
    text = study.read_text().replace(
        "    noise = child_rngs(",
        f"    def step() -> None:\n        {line}\n\n    step()\n    noise = child_rngs(",
        1,
    )
    study.write_text(text)
    return text.splitlines().index(f"        {line}") + 1


def test_a_value_error_in_a_study_names_its_place_and_the_run_folder(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error a user's own code raised was one line without a place (a user study:
    "could not broadcast..." and nothing to look at); errors our checks raise stay as
    they were, whoever called them."""
    lineno = _failing_study(study, "import numpy as np; np.ones(3) + np.ones(4)")
    out = tmp_path / "out"
    assert cli.main(["run", str(study), "--smoke", "--out", str(out)]) == 2
    (run_dir,) = (out / "my_study").iterdir()
    line = _one_error_line(capsys, "operands could not be broadcast")
    assert line.endswith(
        f"[ValueError in step, {study}:{lineno}; the run folder: {run_dir}; "
        "--traceback shows the whole traceback]"
    )
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"
    with pytest.raises(ValueError, match="operands could not be broadcast"):
        cli.main(["run", str(study), "--smoke", "--out", str(out), "--traceback"])
    capsys.readouterr()
    study.write_text(STUDY)
    _failing_study(study, "child_rngs(-1, 'x')")  # our check, called by the study
    assert cli.main(["run", str(study), "--smoke", "--out", str(out)]) == 2
    assert "the run folder" not in _one_error_line(capsys)


def test_a_study_in_the_folder_of_its_virtual_environment_keeps_its_place(
    tmp_path: Path,
) -> None:
    """After ``python -m venv .`` in a lab folder, that folder is ``sys.prefix``, and a
    study in it counted as Python's own code: its error lost its place (review)."""
    lab = tmp_path / "lab"
    venv.create(lab, system_site_packages=True, with_pip=False)
    study = lab / "my_study.py"
    study.write_text(STUDY)
    lineno = _failing_study(study, "import numpy as np; np.ones(3) + np.ones(4)")
    ours = [str(Path(__file__).resolve().parents[2])]
    installed = {sysconfig.get_paths()[kind] for kind in ("purelib", "platlib")}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*ours, *sorted(installed)])}
    proc = subprocess.run(
        [str(lab / "bin" / "python"), "-m", "scenarios.cli", "run", "my_study.py", "--smoke"],
        cwd=lab,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"[ValueError in step, {study.resolve()}:{lineno}; the run folder: " in proc.stderr


def test_a_bug_in_a_study_is_a_traceback_after_the_run_folder(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _failing_study(study, "[][0]")
    with pytest.raises(IndexError):
        cli.main(["run", str(study), "--smoke", "--out", str(tmp_path / "out")])
    (run_dir,) = (tmp_path / "out" / "my_study").iterdir()
    assert (
        capsys.readouterr().err
        == f"photonic-backprop: my_study failed; the run folder: {run_dir}\n"
    )


def test_a_study_printing_to_a_reader_that_stopped_is_quiet(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``photonic-backprop run my_study.py | head``: an OSError raised in a user's study
    is otherwise one error line with its place, but a closed pipe is no error."""
    _failing_study(study, "raise BrokenPipeError(32, 'Broken pipe')")
    assert cli.main(["run", str(study), "--smoke", "--out", str(tmp_path / "out")]) == 141
    assert capsys.readouterr().err == ""


def test_resuming_a_module_off_the_path_says_where_it_was(
    package: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dotted-module run resumed without its PYTHONPATH listed the registered scenarios
    and not where the module had been (a user study)."""
    out = tmp_path / "out"
    assert cli.main(["run", package, "--smoke", "--out", str(out)]) == 0
    (run_dir,) = (out / package).iterdir()
    sys.path.remove(str(tmp_path / "site"))
    _forget("mylab_toy")
    capsys.readouterr()
    assert cli.main(["run", "--resume", str(run_dir)]) == 2
    path = tmp_path / "site" / "mylab_toy" / "studies" / "fidelity.py"
    line = _one_error_line(capsys, f"when the run started it was {path.resolve()}")
    assert line.endswith(
        f"put {(tmp_path / 'site').resolve()} on PYTHONPATH (or install it) to continue"
    )
    assert "registered" not in line


@pytest.mark.parametrize("declared", [False, True])
def test_an_input_file_in_an_undeclared_setting_gets_a_note(
    study: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    declared: bool,
) -> None:
    """A user study named its data in a setting it had not listed in DATASET_FIELDS: no
    digest in the manifest, and a sweep on the edited file resumed as the same sweep,
    without a word (a user study). Declared, the file is recorded and nothing is said."""
    declaration = '    DATASET_FIELDS: ClassVar[tuple[str, ...]] = ("data",)\n' if declared else ""
    study.write_text(
        STUDY.replace("import json\n", "import json\nfrom typing import ClassVar\n").replace(
            "    seed: int = 0\n", f'    seed: int = 0\n    data: str = "moons"\n{declaration}'
        )
    )
    monkeypatch.chdir(tmp_path)
    Path("my.csv").write_text("1,2,0\n3,4,0\n5,6,1\n7,8,1\n")
    out = ["--out", str(tmp_path / "out")]
    assert cli.main(["run", str(study), "--smoke", "--set", "data=my.csv", *out]) == 0
    note = (
        "photonic-backprop: note: setting 'data' names the file 'my.csv', but my_study's "
        "Config does not list it in DATASET_FIELDS or PRESET_FIELDS"
    )
    (run_dir,) = (tmp_path / "out" / "my_study").iterdir()
    assert (note in capsys.readouterr().err) is not declared
    assert ("my.csv" in _manifest(run_dir).get("datasets", {})) is declared
    assert (
        cli.main(["sweep", str(study), "--smoke", "--set", "data=my.csv", "--grid", "a=1,2", *out])
        == 0
    )
    assert capsys.readouterr().err.count(note) == (0 if declared else 1)


def test_a_resumed_run_keeps_the_command_lines_before_it(
    study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run --resume wrote its own argv over the first one, and with it how the run had
    been started (a user study)."""
    out = str(tmp_path / "out")
    first = ["run", str(study), "--smoke", "--set", "interrupt_once=true", "--out", out]
    monkeypatch.setattr(sys, "argv", ["photonic-backprop", *first])
    assert cli.main(first) == cli.EXIT_INTERRUPTED
    (run_dir,) = (tmp_path / "out" / "my_study").iterdir()
    assert fw.EARLIER_ATTEMPTS_KEY not in _manifest(run_dir)
    again = ["run", "--resume", str(run_dir)]
    monkeypatch.setattr(sys, "argv", ["photonic-backprop", *again])
    for statuses in (["interrupted"], ["interrupted", "failed"]):
        assert cli.main(again) == 0
        manifest = _manifest(run_dir)
        assert manifest["argv"] == ["photonic-backprop", *again]
        attempts = manifest[fw.EARLIER_ATTEMPTS_KEY]
        assert [a["status"] for a in attempts] == statuses
        assert attempts[0]["argv"] == ["photonic-backprop", *first]
        assert attempts[0]["cwd"] == str(Path.cwd())
        # a finished run is not run again: say this attempt failed, as a crash would
        (run_dir / "manifest.json").write_text(json.dumps({**manifest, "status": "failed"}))


def test_a_study_edited_while_its_sweep_runs_is_flagged(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sweep's identity holds the study's digest from when it was planned; points run
    after an edit ran other code, and sweep.csv's code column did not show it (it
    names the package's commit, which does not cover the study)."""
    study.write_text(
        STUDY.replace(
            "    noise = child_rngs(",
            "    if cfg.a == 1.0:  # edit this very file, as a researcher might mid-sweep\n"
            "        Path(__file__).write_text(Path(__file__).read_text() + '# edited\\n')\n"
            "    noise = child_rngs(",
        )
    )
    before = _sha256(study)
    argv = ["sweep", str(study), "--smoke", "--grid", "a=1,2", "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "ran on 2 versions of the code" in err
    (sweep_dir,) = (tmp_path / "out" / "sweeps").iterdir()
    with (sweep_dir / "sweep.csv").open(newline="") as fh:
        codes = {r["a"]: r["code"] for r in csv.DictReader(fh)}
    assert codes["1.0"].endswith(f" study {before[:12]}")
    assert codes["2.0"].endswith(f" study {_sha256(study)[:12]}") and _sha256(study) != before


def test_a_sweep_that_is_new_because_its_study_changed_says_where_the_old_one_is(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edited study is a new sweep: it started from nothing beside the old one, and
    a user study took it for a lost sweep. Another grid is another sweep, and silent."""
    out = tmp_path / "out"
    argv = ["sweep", str(study), "--smoke", "--grid", "a=1,2", "--out", str(out)]
    assert cli.main(argv) == 0
    (old,) = (out / "sweeps").iterdir()
    assert "new sweep" not in capsys.readouterr().err
    study.write_text(STUDY.replace("OFFSET = 0.0", "OFFSET = 1.0"))
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert (
        f"warning: this is a new sweep, because its input files changed: the same grid and "
        f"settings ran in {old} (the study file differed), which is left as it was"
    ) in err
    assert len(list((out / "sweeps").iterdir())) == 2
    assert cli.main([*argv[:-3], "a=3", "--out", str(out)]) == 0
    assert cli.main(argv) == 0  # the edited one again: it resumes, nothing to say
    assert "new sweep" not in capsys.readouterr().err


def test_a_sweep_with_no_common_numeric_key_says_why_nothing_is_plotted(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A study whose summary key held a setting's value (y_1, y_2) swept without a table
    of means or a plot, and without a word why (a user study)."""
    study.write_text(
        STUDY.replace('summary={"y_mean": mean, "seen": status}', 'summary={f"y_{cfg.a:g}": mean}')
    )
    argv = ["sweep", str(study), "--smoke", "--grid", "a=1,2", "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert (
        "note: no summary key is a number at every point, so there is no table of means and "
        "no plot (numbers at some points only: y_1, y_2); give every point's summary the "
        "same numeric keys"
    ) in out
    assert "plot:" not in out
    study.write_text(STUDY)
    assert cli.main(argv) == 0
    assert "no summary key" not in capsys.readouterr().out
