"""The one shape every scenario has, and the plumbing that runs it.

A scenario is a module ``scenarios.<name>`` (registered in
:data:`scenarios.registry.SCENARIOS`), or a researcher's own module (a ``.py`` file or
an importable dotted module path, given where a scenario name is); how one is found,
loaded and checked is :mod:`scenarios.registry`. It defines

- ``Config``: a frozen dataclass validated in ``__post_init__`` (bad values raise
  ``ValueError`` naming the field, the value and what is allowed), with a classmethod
  ``Config.smoke()`` returning a configuration that runs in seconds;
- ``run(cfg, out_dir) -> Result``: does the study, saves its figures into ``out_dir``
  (see :func:`scenarios.plotting.save_figure`) and returns tidy metric rows plus a short summary; a
  ``run`` that prints a text report takes it as a keyword ``echo`` (a callable taking
  one line, ``print`` by default; ``None`` silences it, as sweeps do);
- ``main(argv=None) -> int``: delegates to the command line for that scenario
  (registered scenarios; a user's module may leave it out);
- a module docstring whose first line says what the study covers (shown by
  ``photonic-backprop list``);
- optionally ``CHECKPOINTS = True`` if ``run`` saves a checkpoint on Ctrl-C in its
  run folder and continues from it there (``run --resume``);
- a class attribute ``Config.PRESET_FIELDS`` (``ClassVar``) naming the settings that
  list hardware presets (:func:`sim.presets.check_presets`), if it has any, and
  ``Config.DATASET_FIELDS`` naming the settings that name datasets
  (:func:`digital.datasets.check_dataset`): a preset or dataset *file* named there is
  read when the scenario runs. What a run folder and a sweep record of those files is
  :mod:`scenarios.provenance`;
- a class attribute ``Config.RESULT_NEUTRAL_FIELDS`` (``ClassVar``) naming the
  settings that change how a run computes but not what (``workers``: every job carries
  its own seeds), if it has any: they are left out of a sweep's identity
  (:func:`scenarios.config.result_neutral_fields`), so that a sweep re-run with other ``workers``
  resumes. Name a setting there only if a test shows that the numbers do not move
  with it (as ``test_parallel_workers_give_the_same_numbers`` does).

:func:`run_scenario` wraps ``run`` with everything that is the same for every study:
a fresh run folder ``<out_root>/<scenario>/<run-id>/`` that never overwrites earlier
results, ``config.json``, timing, ``metrics.csv`` (tidy: one row per measurement),
``manifest.json`` (package version, git commit, Python, NumPy and Numba versions, seed, wall
time, and under ``datasets`` every dataset file the config names: see
:func:`scenarios.provenance.dataset_records`) and ``presets/`` (every preset file the
config names, resolved: see :func:`scenarios.provenance.write_presets`).

A user's scenario runs in ``<out_root>/<name>/<run-id>/`` too, named by
:func:`scenarios.registry.scenario_name`; its manifest records under
``scenario_module`` how to load it again (:func:`scenarios.registry.scenario_source`).

The helpers the scenarios share live in modules of their own, below this one:
settings from ``--set`` and config files (:mod:`scenarios.config`), process pools
(:mod:`scenarios.pool`), figures (:mod:`scenarios.plotting`), statistics of repeated
measurements (:mod:`scenarios.stats`), numbers in text reports
(:mod:`scenarios.formatting`) and the names of a run folder's files
(:mod:`scenarios.run_files`). Their names that the scenarios and the command line use
are importable from here too (``__all__``), as are those of :mod:`scenarios.registry`
and :mod:`scenarios.provenance`.

Registering a new scenario is one line in :data:`scenarios.registry.SCENARIOS`. The
tests then hold it to this contract (``tests/scenarios/test_framework.py``,
``test_cli.py``):

- ``Config`` has a ``seed: int`` field, and every field has an entry in the class
  docstring's numpydoc ``Parameters`` (``list`` shows it; an undocumented field fails
  ``test_every_setting_of_every_scenario_is_documented``);
- ``run`` writes ``metrics.csv`` (:func:`write_metrics`) *before* its plots, so a
  full disk while plotting keeps the numbers (``test_cli.py`` runs every scenario's
  ``--smoke`` for it; a few slower ones only with ``-m slow``, since their own test
  files run them). Give a new scenario a test file of its own too.

Randomness: scenarios never touch a global RNG. They derive named, independent
generators from their seed with :func:`child_rngs`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import inspect
import json
import os
import platform
import secrets
import subprocess
import sys
import time
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

from digital.validation import check_choice
from scenarios.config import RESULT_NEUTRAL_ATTR as RESULT_NEUTRAL_ATTR  # kept importable from here
from scenarios.config import (
    config_from_overrides,
    describe_settings,
    load_config_file,
    parse_set_options,
    result_neutral_fields,
)
from scenarios.formatting import count, format_pm
from scenarios.plotting import (
    FLOOR_MARKER_MARGIN,
    FLOOR_MARKER_SPACING_PT,
    POINTS_PER_INCH,
    errorbars_above_floor,
    floor_handle,
    floor_markers,
    new_figure,
    save_figure,
)
from scenarios.pool import EXIT_PARENT_GONE as EXIT_PARENT_GONE  # kept importable from here
from scenarios.pool import PARENT_POLL_S as PARENT_POLL_S  # kept importable from here
from scenarios.pool import blas_state, map_jobs, process_pool
from scenarios.provenance import (
    DATASET_FIELDS_ATTR,
    PRESET_FIELDS_ATTR,
    dataset_digests,
    dataset_files,
    dataset_records,
    preset_digests,
    preset_files,
    write_presets,
)
from scenarios.provenance import (
    PRESETS_DIRNAME as PRESETS_DIRNAME,  # kept importable from here, where it was
)
from scenarios.registry import (
    _MODULE_PATH,
    DEFAULT_SCENARIO,
    SCENARIOS,
    load_scenario,
    scenario_kind,
    scenario_name,
    scenario_problems,
    scenario_source,
    scenario_summary_line,
)
from scenarios.run_files import CONFIG_FILENAME, MANIFEST_FILENAME, METRICS_FILENAME
from scenarios.stats import VARYING_ATOL, VARYING_RTOL, curve_band, sample_std

__all__ = [
    "DEFAULT_SCENARIO",
    "EARLIER_ATTEMPTS_KEY",
    "FLOOR_MARKER_MARGIN",
    "FLOOR_MARKER_SPACING_PT",
    "PACKAGE_NAME",
    "POINTS_PER_INCH",
    "SCENARIOS",
    "VARYING_ATOL",
    "VARYING_RTOL",
    "Result",
    "atomic_text_file",
    "blas_state",
    "child_rngs",
    "config_from_overrides",
    "count",
    "curve_band",
    "dataset_digests",
    "dataset_files",
    "dataset_records",
    "describe_settings",
    "ensure_output_dir",
    "errorbars_above_floor",
    "floor_handle",
    "floor_markers",
    "format_pm",
    "git_state",
    "load_config_file",
    "load_scenario",
    "map_jobs",
    "new_figure",
    "package_version",
    "parse_set_options",
    "prepare_run_dir",
    "preset_digests",
    "preset_files",
    "process_pool",
    "read_manifest",
    "recorded_cwd",
    "recorded_source",
    "result_neutral_fields",
    "resume_target",
    "run_finished",
    "run_scenario",
    "sample_std",
    "save_figure",
    "scenario_kind",
    "scenario_main",
    "scenario_name",
    "scenario_problems",
    "scenario_source",
    "scenario_summary_line",
    "write_config",
    "write_manifest",
    "write_metrics",
    "write_presets",
]

#: Errors of the file system that a write can meet without naming the file.
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})

PACKAGE_NAME = "photonic-backprop"
"""Distribution name, used to look up the installed version for the manifest."""

_RUN_ID_ATTEMPTS = 20
_RUN_ID_SUFFIX_BYTES = 3  # 6 hex characters
_GIT_TIMEOUT_S = 5.0


# --------------------------------------------------------------------------- results


@dataclasses.dataclass
class Result:
    """What a scenario's ``run`` returns.

    Attributes
    ----------
    out_dir : Path
        The run folder the scenario wrote into.
    metrics : list of dict
        Tidy rows, one per measurement (e.g. ``{"epoch": 3, "metric": "loss",
        "split": "train", "value": 0.41}``). Written to ``metrics.csv`` by
        :func:`run_scenario`, unless ``run`` wrote the file itself (as every scenario
        does, with :func:`write_metrics`, before its plots); the columns are the union
        of the rows' keys.
    summary : dict of str to float or str
        A handful of headline numbers, printed by the CLI and stored in the manifest.
    figures : list of Path
        Files of the saved plots (PNG and SVG).
    """

    out_dir: Path
    metrics: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    summary: dict[str, float | str] = dataclasses.field(default_factory=dict)
    figures: list[Path] = dataclasses.field(default_factory=list)


# --------------------------------------------------------------------------- command line, resume


def scenario_main(name: str, argv: Sequence[str] | None = None) -> int:
    """``main()`` of every scenario module: ``photonic-backprop run NAME [options]``.

    Parameters
    ----------
    name
        The scenario's registry name.
    argv
        Options after the scenario name (``--set``, ``--config``, ``--smoke``,
        ``--out``); default ``sys.argv[1:]``.

    Returns
    -------
    int
        The CLI's exit status.
    """
    from scenarios import cli

    args = sys.argv[1:] if argv is None else list(argv)
    return cli.main(["run", name, *args])


def resume_target(run_dir: str | Path) -> tuple[str, dict[str, Any]]:
    """Scenario name and settings of an earlier run folder, to continue it.

    Parameters
    ----------
    run_dir
        ``<out>/<scenario>/<run-id>/`` holding ``config.json`` (and usually
        ``manifest.json`` and a checkpoint).

    Returns
    -------
    (name, overrides)
        The scenario as :func:`scenarios.registry.load_scenario` takes it (from the
        manifest: a user's scenario by its ``scenario_module`` entry, the file's
        absolute path or the module path, see
        :func:`scenarios.registry.scenario_source`; else the parent folder's name) and
        its settings as ``--config`` would read them.

    Raises
    ------
    ValueError
        If the folder has no ``config.json``, its manifest is not JSON, or neither
        the manifest nor the parent folder names a scenario.
    """
    folder = Path(run_dir)
    config_file = folder / CONFIG_FILENAME
    if not config_file.is_file():
        raise ValueError(f"--resume {str(folder)!r}: no {CONFIG_FILENAME} there; not a run folder")
    name = folder.resolve().parent.name
    manifest = folder / MANIFEST_FILENAME
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"--resume: {str(manifest)!r} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(
                f"--resume: {str(manifest)!r} holds a JSON {type(data).__name__}, not the "
                "object a manifest is"
            )
        name = str(data.get("scenario", name))
        source = recorded_source(folder)
        if source is not None:
            name = str(source["load"])
    elif name not in SCENARIOS and not _MODULE_PATH.fullmatch(name):
        raise ValueError(
            f"--resume {str(folder)!r}: no {MANIFEST_FILENAME} there, and its parent folder "
            f"{name!r} names no scenario; a run folder is <out>/<scenario>/<run-id>/"
        )
    return name, load_config_file(config_file)


def read_manifest(run_dir: str | Path) -> dict[str, Any] | None:
    """A run folder's ``manifest.json`` (:func:`write_manifest`), or ``None`` if it is
    missing, unreadable or not a JSON object.

    Parameters
    ----------
    run_dir : str or Path
        A run folder.

    Returns
    -------
    dict or None
    """
    try:
        data = json.loads((Path(run_dir) / MANIFEST_FILENAME).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def recorded_source(run_dir: str | Path) -> dict[str, Any] | None:
    """The ``scenario_module`` entry of a run folder's manifest (a user's scenario:
    :func:`scenarios.registry.scenario_source`), or ``None`` (a registered scenario, or
    no readable manifest).

    Parameters
    ----------
    run_dir : str or Path
        A run folder.

    Returns
    -------
    dict or None
    """
    source = (read_manifest(run_dir) or {}).get("scenario_module")
    if isinstance(source, dict) and isinstance(source.get("load"), str) and source["load"]:
        return source
    return None


def recorded_cwd(run_dir: str | Path) -> Path | None:
    """The working folder a run started in, from its manifest's ``cwd`` entry
    (:func:`write_manifest`), or ``None`` (no readable manifest, or one written before
    the entry existed).

    Parameters
    ----------
    run_dir : str or Path
        A run folder.

    Returns
    -------
    Path or None
    """
    cwd = (read_manifest(run_dir) or {}).get("cwd")
    return Path(cwd) if isinstance(cwd, str) and cwd else None


def run_finished(run_dir: str | Path) -> bool:
    """Whether the run folder's manifest says that its run finished (status ``"ok"``)."""
    return (read_manifest(run_dir) or {}).get("status") == "ok"


# --------------------------------------------------------------------------- randomness


def child_rngs(seed: int, *names: str) -> dict[str, np.random.Generator]:
    """Independent named generators derived from one seed.

    ``np.random.SeedSequence(seed).spawn(len(names))`` gives one child sequence per
    name, assigned **in the order the names are given**: the same seed and the same
    names in the same order give bit-identical streams; reordering the names (or
    inserting one in the middle) changes which stream each name gets. Append new
    names at the end to keep earlier streams unchanged.

    Parameters
    ----------
    seed : int
        Non-negative root seed (typically ``cfg.seed``).
    *names : str
        Distinct stream names, e.g. ``"init", "data", "train"``.

    Returns
    -------
    dict of str to numpy.random.Generator

    Examples
    --------
    >>> rngs = child_rngs(0, "init", "data")
    >>> sorted(rngs)
    ['data', 'init']
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not names:
        raise ValueError("child_rngs needs at least one stream name")
    if len(set(names)) != len(names):
        raise ValueError(f"stream names must be distinct, got {names!r}")
    children = np.random.SeedSequence(int(seed)).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


# --------------------------------------------------------------------------- outputs


def ensure_output_dir(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) if needed and check that it is writable.

    Raises
    ------
    ValueError
        If ``folder`` or one of its parents is an existing file.
    OSError
        If the folder cannot be created or is not writable.
    """
    folder = Path(folder)
    for ancestor in (folder, *folder.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise ValueError(
                    f"output folder {str(folder)!r} cannot be created: "
                    f"{str(ancestor)!r} is a file, not a folder"
                )
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise OSError(f"cannot create output folder {str(folder)!r}: {reason}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OSError(f"output folder {str(folder)!r} is not writable")
    return folder


def prepare_run_dir(root: str | Path, scenario: str) -> Path:
    """Create and return a fresh run folder ``root/<scenario>/<run-id>/``.

    The run id is a local timestamp plus a random suffix
    (``20250101-120000-3fa9c2``); the folder is created with ``exist_ok=False`` so
    existing results are never overwritten (a clash just draws a new suffix).

    Raises
    ------
    ValueError
        If ``scenario`` is not a plain name, or ``root`` (or one of its parents) is
        an existing file.
    OSError
        If the folder cannot be created or is not writable.
    """
    if not scenario or scenario in {".", ".."} or "/" in scenario or os.sep in scenario:
        raise ValueError(f"scenario name must be a plain folder name, got {scenario!r}")
    scenario_dir = ensure_output_dir(Path(root) / scenario)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for _ in range(_RUN_ID_ATTEMPTS):
        run_dir = scenario_dir / f"{stamp}-{secrets.token_hex(_RUN_ID_SUFFIX_BYTES)}"
        try:
            run_dir.mkdir(exist_ok=False)
        except FileExistsError:
            continue
        except OSError as exc:
            raise OSError(
                f"cannot create run folder {str(run_dir)!r}: {exc.strerror or exc}"
            ) from exc
        return run_dir
    raise OSError(f"could not find an unused run folder name under {str(scenario_dir)!r}")


def _jsonable(obj: object) -> object:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    return repr(obj)


def _write_json(data: object, path: Path) -> Path:
    text = json.dumps(data, indent=2, default=_jsonable, allow_nan=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def write_config(cfg: object, out_dir: str | Path) -> Path:
    """Write a dataclass config to ``out_dir/config.json`` (tuples become lists).

    The file can be passed back with ``--config`` to repeat the run.
    """
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"cfg must be a dataclass instance, got {cfg!r}")
    return _write_json(dataclasses.asdict(cfg), Path(out_dir) / CONFIG_FILENAME)


def write_metrics(rows: Sequence[Mapping[str, object]], out_dir: str | Path) -> Path:
    """Write tidy rows to ``out_dir/metrics.csv``.

    The columns are the union of the rows' keys in first-seen order; a row missing a
    column leaves that cell empty. ``None`` is written as an empty cell. Written
    atomically (a temporary file renamed over it): a reader, or a run killed or out of
    disk space while writing, sees the whole earlier file or the whole new one.
    """
    columns: dict[str, None] = {}
    for row in rows:
        for key in row:
            columns.setdefault(str(key), None)
    path = Path(out_dir) / METRICS_FILENAME
    with atomic_text_file(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({str(k): ("" if v is None else _csv_cell(v)) for k, v in row.items()})
    return path


@contextlib.contextmanager
def atomic_text_file(path: Path) -> Iterator[typing.TextIO]:
    """Write a text file whole or not at all: a temporary file beside ``path``, renamed
    over it when the ``with`` block ends, removed if the block raises.

    A reader, or a process killed or out of disk space while writing, sees the whole
    earlier file or the whole new one. Opened with ``newline=""`` (as :mod:`csv`
    wants) and UTF-8.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _file_identity(path: Path) -> tuple[int, int, int] | None:
    """``(inode, mtime_ns, size)`` of a file, ``None`` if there is none: whether it was
    written between two calls (:func:`write_metrics` gives every write a new inode)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _csv_cell(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value


def package_version() -> str:
    """The installed photonic-backprop version (run manifests), or ``"unknown"`` when the
    package runs from a source tree without being installed."""
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip()


def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository holding the package or the cwd; never raises."""
    candidates = [Path(__file__).resolve().parent.parent, Path.cwd()]
    for cwd in candidates:
        if not cwd.is_dir():
            continue
        commit = _git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd)
        if commit:
            status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
            return commit, (None if status is None else bool(status))
    return None, None


def write_manifest(
    out_dir: str | Path,
    *,
    scenario: str,
    seed: int | None,
    wall_time_s: float,
    extra: Mapping[str, object] | None = None,
) -> Path:
    """Write ``out_dir/manifest.json``: what ran, with what software, how long.

    Keys: ``scenario``, ``package``, ``version`` (installed version or
    ``"unknown"``), ``git_commit`` (``None`` outside a git repository with commits),
    ``git_dirty``, ``python``, ``numpy``, ``blas`` and ``blas_threads``
    (:func:`blas_state`), ``platform``, ``seed``, ``wall_time_s``, ``finished_at``
    (ISO 8601), ``argv``, ``cwd`` (the working folder, from which the settings'
    relative file paths were read: ``run --resume`` reads them from there again), then
    the items of ``extra``.
    """
    commit, dirty = git_state()
    blas, blas_threads = blas_state()
    data: dict[str, object] = {
        "scenario": scenario,
        "package": PACKAGE_NAME,
        "version": package_version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": metadata.version("numba"),  # compiles the mesh kernels
        "blas": blas,
        "blas_threads": blas_threads,
        "platform": platform.platform(),
        "seed": seed,
        "wall_time_s": float(wall_time_s),
        "finished_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "argv": list(sys.argv),
        "cwd": str(Path.cwd()),
    }
    if extra:
        data.update(extra)
    return _write_json(data, Path(out_dir) / MANIFEST_FILENAME)


# --------------------------------------------------------------------------- running


#: Manifest key of the attempts before a ``run --resume`` (:func:`run_scenario`).
EARLIER_ATTEMPTS_KEY = "earlier_attempts"
#: What the manifest keeps of each earlier attempt.
_ATTEMPT_KEYS = ("argv", "cwd", "status", "finished_at")


def _earlier_attempts(manifest: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The attempts a manifest records, oldest first, ending with its own."""
    if not manifest:
        return []
    before = manifest.get(EARLIER_ATTEMPTS_KEY)
    return [
        *(before if isinstance(before, list) else []),
        {key: manifest.get(key) for key in _ATTEMPT_KEYS},
    ]


def run_scenario(
    module: types.ModuleType,
    cfg: object,
    out_root: str | Path,
    *,
    name: str | None = None,
    run_dir: Path | None = None,
    report: Literal["print", "quiet"] = "print",
) -> Result:
    """Run one scenario in a fresh run folder and record everything about it.

    Creates ``out_root/<name>/<run-id>/``, writes ``config.json`` and the resolved
    preset files the config names (:func:`scenarios.provenance.write_presets`), times
    ``module.run(cfg, out_dir)``, writes ``metrics.csv`` from the returned rows unless
    the run wrote it itself, and ``manifest.json`` (with the summary, the figure names
    and, under ``presets``, the saved preset files and their digests, under
    ``datasets``, the dataset files it reads:
    :func:`scenarios.provenance.dataset_records`; under ``scenario_module``, for a
    user's scenario, how to load it again and the SHA-256 of its source:
    :func:`scenarios.registry.scenario_source`). The manifest is first written with
    ``"status": "running"`` (and the preset and dataset records) before ``run`` starts,
    so that even a run killed outright can be resumed (``run --resume``). If the run
    raises, a manifest with ``"status": "failed"`` (``"interrupted"`` on Ctrl-C) and the error
    is still written if it can be. A storage ``OSError`` that names no file (a full
    disk, a quota, a read-only or failing file system) is raised again, with its
    errno, and the run folder in its message; any other error (a closed pipe
    included) passes unchanged. Scenarios write
    ``metrics.csv`` themselves as soon as their rows are known, before the plots and
    reports, so that a failure there keeps the numbers; it is then not written again.

    Parameters
    ----------
    module : module
        A scenario module (see the module docstring for its shape).
    cfg : dataclass instance
        The scenario's ``Config``.
    out_root : str or Path
        Results root, e.g. ``"results"``.
    name : str, optional
        Scenario name for the folder and manifest; default: the module's last name.
    run_dir : Path, optional
        An existing run folder to continue in (``--resume``): its ``config.json`` is
        kept and a scenario that checkpoints picks its checkpoint up from there. The
        manifest then lists, under ``earlier_attempts`` (oldest first), the ``argv``,
        ``cwd``, ``status`` and ``finished_at`` of every attempt before this one.
    report : {"print", "quiet"}
        ``"quiet"`` silences the text report of a scenario whose ``run`` prints one
        (its optional ``echo`` parameter); the files are written either way.

    Returns
    -------
    Result
    """
    check_choice(report, "report", ("print", "quiet"))
    scenario = name or module.__name__.rsplit(".", 1)[-1]
    if run_dir is None:
        out_dir = prepare_run_dir(out_root, scenario)
        write_config(cfg, out_dir)
    else:
        out_dir = Path(run_dir)
    quiet = report == "quiet" and "echo" in inspect.signature(module.run).parameters
    seed = getattr(cfg, "seed", None)
    presets: dict[str, dict[str, str]] = {}
    datasets: dict[str, dict[str, object]] = {}
    kept: dict[str, object] = {}
    if run_dir is not None:  # --resume: the command lines before this one stay on record
        attempts = _earlier_attempts(read_manifest(out_dir))
        if attempts:
            kept[EARLIER_ATTEMPTS_KEY] = attempts
    source = scenario_source(module)
    if source is not None:
        kept["scenario_module"] = source
    if getattr(type(cfg), PRESET_FIELDS_ATTR, ()):
        kept["presets"] = presets
    if getattr(type(cfg), DATASET_FIELDS_ATTR, ()):
        kept["datasets"] = datasets
    metrics_path = out_dir / METRICS_FILENAME
    metrics_before = _file_identity(metrics_path)  # an earlier attempt's (--resume)
    t0 = time.perf_counter()
    try:
        presets.update(write_presets(cfg, out_dir))
        datasets.update(dataset_records(cfg))  # before the run reads them
        # the folder says what it runs and how to load it, even if the run is killed
        write_manifest(
            out_dir, scenario=scenario, seed=seed, wall_time_s=0.0,
            extra={"status": "running", **kept},
        )  # fmt: skip
        result = module.run(cfg, out_dir, echo=None) if quiet else module.run(cfg, out_dir)
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            write_manifest(
                out_dir,
                scenario=scenario,
                seed=seed,
                wall_time_s=time.perf_counter() - t0,
                extra={"status": status, "error": f"{type(exc).__name__}: {exc}", **kept},
            )
        except OSError:
            pass  # the folder cannot take it (a full disk?): the error below says why
        if isinstance(exc, OSError) and exc.filename is None and exc.errno in _STORAGE_ERRNOS:
            raise OSError(
                exc.errno, f"cannot write the results to {str(out_dir)!r}: {exc.strerror}"
            ) from exc
        raise
    wall_time_s = time.perf_counter() - t0
    if not isinstance(result, Result):
        raise TypeError(f"{module.__name__}.run must return a Result, got {type(result)!r}")
    if _file_identity(metrics_path) in (None, metrics_before):  # the run did not write it
        write_metrics(result.metrics, out_dir)
    write_manifest(
        out_dir,
        scenario=scenario,
        seed=seed,
        wall_time_s=wall_time_s,
        extra={
            "status": "ok",
            "summary": result.summary,
            "figures": [str(Path(p).name) for p in result.figures],
            "n_metric_rows": len(result.metrics),
            **kept,
        },
    )
    return result
