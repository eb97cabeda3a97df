"""The ``photonic-backprop`` command: list and run the scenarios.

Usage::

    photonic-backprop list [SCENARIO]
    photonic-backprop run [SCENARIO] [--set key=value ...] [--config file.toml]
                          [--smoke] [--out DIR]
    photonic-backprop run --resume RUN_DIR
    photonic-backprop sweep SCENARIO --grid key=v1,v2 ... [--set key=value ...]
                          [--config file.toml] [--smoke] [--repeat K]
                          [--executor local|dask] [--scheduler ADDR] [--workers N]
                          [--connect-timeout S] [--metric NAME] [--out DIR]

``list`` names the scenarios; ``list SCENARIO`` shows that scenario's settings with
their defaults, their ``--smoke`` values and what each means. ``--version`` prints the
installed version.

SCENARIO is a registered name (``list`` shows them), the path of a scenario file of
your own (``studies/my_study.py``) or a dotted module path (``mylab.studies.fidelity``);
see :func:`scenarios.registry.load_scenario`. A file's runs go to
``<out>/<file stem>/``, a module's to ``<out>/<module path>/``; ``run --resume`` finds
either from the run's manifest (and says so if the file changed since).

``run --resume RUN_DIR`` works from any folder: it runs in the folder the run started in
(the manifest's ``cwd``), so that relative paths in its settings name the files the run
read. A preset or dataset file that changed since the run started
(:func:`scenarios.provenance.changed_inputs`) is named in a note, or refused if the
scenario continues a checkpoint.

``run`` without a scenario runs :data:`scenarios.registry.DEFAULT_SCENARIO`. The
configuration is built in layers: ``Config()`` (or ``Config.smoke()`` with
``--smoke``), then the settings of ``--config`` (TOML, or a run's ``config.json``),
then each ``--set key=value`` (later ones win). Results go to
``<out>/<scenario>/<run-id>/`` (``--out`` defaults to ``results``); the command
prints the run's summary table and the run folder.

``sweep`` runs SCENARIO once per point of the grid (Cartesian product of the
``--grid`` values, times ``--repeat`` seeds: repeat k uses seed + k), keeps one row
per finished point in ``<out>/sweeps/<scenario>-<hash>/sweep.sqlite`` and resumes
when the same command is run again; see :mod:`scenarios.sweep`. It exits with status
1 if some points failed (they are retried by the next run of the same command).

Bad input (unknown scenario or setting, a scenario file that is missing, fails to
import or lacks part of a scenario's shape, a value of the wrong type, a malformed
``--set``, an unreadable config file, an unwritable output folder, sizes that do not
fit in memory, a training run that diverges, ...) prints one line
``photonic-backprop: error: <message>`` to stderr and exits with status 2; pass
``--traceback`` to see the full traceback instead. Such an error raised in the code of
a study of your own (a ``ValueError`` of NumPy's in your ``run``, say) adds its type,
the function, file and line it came from, and the run folder. Any other exception is a
bug: its traceback follows a line naming the run folder, and the status is 1.

Ctrl-C exits with status 130 (pooled runs and sweeps stop their workers at once), and so
does SIGTERM (``timeout``, ``kill``, a cluster scheduler's stop), which is handled as a
Ctrl-C: the run's manifest says ``"interrupted"`` and a checkpoint is saved.
Output piped to a reader that stops early (``| head``) ends the command quietly
with status 141. A scenario that keeps a checkpoint (``CHECKPOINTS =
True`` in its module: ``digital_baseline``) saves one and the command prints how to
continue (``run --resume RUN_DIR``); the others say that they start over.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import dataclasses
import os
import re
import shlex
import signal
import site
import sys
import sysconfig
import textwrap
import threading
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import BrokenExecutor
from pathlib import Path
from types import FrameType
from typing import Any

import digital
import photonic
import scenarios
import sim
from scenarios.framework import (
    Result,
    config_from_overrides,
    describe_settings,
    load_config_file,
    package_version,
    parse_set_options,
    prepare_run_dir,
    read_manifest,
    recorded_cwd,
    recorded_source,
    resume_target,
    run_finished,
    run_scenario,
    write_config,
)
from scenarios.provenance import changed_inputs, dataset_files, preset_files, undeclared_files
from scenarios.registry import (
    DEFAULT_SCENARIO,
    SCENARIOS,
    load_scenario,
    scenario_kind,
    scenario_name,
    scenario_source,
    scenario_summary_line,
)

__all__ = ["EXIT_INPUT_ERROR", "PROG", "build_parser", "main"]

PROG = "photonic-backprop"
DEFAULT_OUT = Path("results")
EXIT_OK = 0
EXIT_POINTS_FAILED = 1
EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a reader that left early

#: glibc ``mallopt`` parameters (``malloc.h``) and the values :func:`keep_heap` sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
HEAP_TRIM_THRESHOLD_BYTES = 128 << 20
HEAP_MMAP_THRESHOLD_BYTES = 32 << 20

#: Exceptions that mean "the input was bad": reported as one line, exit status 2.
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    OSError,
    FloatingPointError,
)


def _out_dir(text: str) -> Path | str:
    """``--out`` as a folder; an empty text is kept, to be refused in one line later."""
    return Path(text) if text.strip() else text


def _check_out(out: Path | str | None) -> None:
    if isinstance(out, str):
        raise ValueError(f"--out {out!r} must name a folder")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``photonic-backprop`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Simulate photonic neural-network hardware trained by backpropagation.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    listing = sub.add_parser(
        "list",
        help="list the scenarios, or one scenario's settings",
        description="List the scenarios; with SCENARIO, its settings (for --set) and defaults.",
    )
    listing.add_argument("scenario", nargs="?", default=None, metavar="SCENARIO")
    showing = sub.add_parser(
        "preset",
        help="list the hardware presets, or print one as a complete preset file",
        description=(
            "List the bundled hardware presets; with PRESET (a name or a file's path), "
            "print it with every value resolved (its base files and the class defaults) "
            "in the preset file format, a starting point for your own: "
            "photonic-backprop preset eo-integrated > my-chip.toml (then change its name, "
            "so that both can be compared in one run)"
        ),
    )
    showing.add_argument("preset", nargs="?", default=None, metavar="PRESET")

    run = sub.add_parser(
        "run",
        help="run a scenario",
        description=(
            "Run a scenario and write config.json, metrics.csv, plots and manifest.json "
            "to OUT/SCENARIO/RUN-ID/."
        ),
    )
    run.add_argument(
        "scenario",
        nargs="?",
        default=None,
        metavar="SCENARIO",
        help=f"scenario name (default: {DEFAULT_SCENARIO}), or your own scenario's .py file "
        "or dotted module path; 'list' shows the scenarios, 'list SCENARIO' its settings",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config setting (repeatable; tuples as 16,16)",
    )
    run.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML file (or a run's config.json) with settings",
    )
    run.add_argument(
        "--smoke", action="store_true", help="start from the scenario's seconds-long config"
    )
    run.add_argument(
        "--out",
        type=_out_dir,
        default=None,
        metavar="DIR",
        help="results root (default: results)",
    )
    run.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="continue an interrupted run in its folder, from its checkpoint if the "
        "scenario keeps one, else from the start (scenario and settings come from the folder)",
    )
    run.add_argument(
        "--traceback", action="store_true", help="show full tracebacks instead of one line"
    )
    _add_sweep_parser(sub)
    for command, command_parser in sub.choices.items():
        # an unknown option is reported with the usage of its command, not the top one
        command_parser.set_defaults(command_parser=command_parser, command=command)
    return parser


def _add_sweep_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from scenarios.sweep import DEFAULT_CONNECT_TIMEOUT_S

    sweep = sub.add_parser(
        "sweep",
        help="run a scenario over a grid of settings (resumable)",
        description=(
            "Run SCENARIO once per grid point (x --repeat seeds; repeat k uses seed + k). "
            "Finished points are kept in OUT/sweeps/SCENARIO-HASH/sweep.sqlite; running "
            "the same command again skips them, so an interrupted sweep resumes. Writes "
            "a tidy sweep.csv and a plot of one summary metric vs the first grid key."
        ),
    )
    sweep.add_argument(
        "scenario",
        metavar="SCENARIO",
        help="scenario name (see 'list'), or your own scenario's .py file or module path",
    )
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values to sweep for one setting (repeatable; Cartesian product); "
        "commas inside () or [] belong to one value: hidden=(8),(16,16)",
    )
    sweep.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fix one config setting for every point (repeatable)",
    )
    sweep.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML file (or a run's config.json) with settings for every point; "
        "--set and --grid override its keys",
    )
    sweep.add_argument(
        "--smoke", action="store_true", help="start from the scenario's seconds-long config"
    )
    sweep.add_argument(
        "--repeat",
        default="1",
        metavar="K",
        help="seeds per grid point: repeat k = 0..K-1 runs with seed + k (default 1)",
    )
    sweep.add_argument(
        "--executor",
        default="local",
        metavar="local|dask",
        help="local: this process (or a process pool with --workers N); "
        "dask: a Dask distributed cluster (default: local)",
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="address of an existing Dask scheduler, e.g. tcp://HOST:8786 "
        "(default: start a local cluster on 127.0.0.1)",
    )
    sweep.add_argument(
        "--workers",
        default=None,
        metavar="N",
        help="local: processes in the pool (default 1); dask: workers of the local "
        "cluster (default: CPU count)",
    )
    sweep.add_argument(
        "--connect-timeout",
        default=str(DEFAULT_CONNECT_TIMEOUT_S),
        metavar="S",
        help=f"seconds to wait for the Dask scheduler (default {DEFAULT_CONNECT_TIMEOUT_S:g})",
    )
    sweep.add_argument(
        "--metric",
        default=None,
        metavar="NAME",
        help=(
            "summary key to plot, or several as a,b (one line each on one axis; default: "
            "the first key that differs between grid points)"
        ),
    )
    sweep.add_argument(
        "--out",
        type=_out_dir,
        default=DEFAULT_OUT,
        metavar="DIR",
        help="results root (default: results); the sweep goes to DIR/sweeps/",
    )
    sweep.add_argument(
        "--traceback", action="store_true", help="show full tracebacks instead of one line"
    )


def _error_line(exc: BaseException) -> str:
    message = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return message or type(exc).__name__


#: Folders of this package's code, whose frames are not a user's (:func:`_user_frame`).
_OUR_FOLDERS = tuple(
    str(Path(module_file).parent.resolve()) + os.sep
    for module_file in (digital.__file__, photonic.__file__, sim.__file__, scenarios.__file__)
    if module_file is not None
)


def _python_folders() -> tuple[str, ...]:
    """Folders of Python and its installed packages: the standard library and the
    site-packages of this environment, of the Python it was made from, and the user's.

    Not ``sys.prefix`` whole: ``python -m venv .`` in a project folder makes it the
    prefix, and a study beside it would count as Python's own code.
    """
    bases = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    kinds = ("stdlib", "platstdlib", "purelib", "platlib")
    folders = {sysconfig.get_paths()[kind] for kind in kinds}
    folders |= {sysconfig.get_paths(vars=bases)[kind] for kind in kinds}
    folders.add(site.getusersitepackages())
    return tuple({str(Path(folder).resolve()) + os.sep for folder in folders})


_PYTHON_FOLDERS = _python_folders()


def _user_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of ``exc``'s traceback in a user's code (a study of their
    own), not this package's or Python's; ``None`` if the error came from neither.

    An error our checks raise says what was wrong; one raised in a user's own study
    needs its place, which the one-line message would otherwise drop.
    """
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        file = str(Path(frame.filename).resolve())
        if file.startswith(_OUR_FOLDERS):  # first: we may be installed under sys.prefix
            return None  # raised by (or passed through) our code after the user's
        if not (frame.filename.startswith("<") or file.startswith(_PYTHON_FOLDERS)):
            return frame
    return None


def _format_value(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    return f"{value:.4g}"


def format_summary(summary: Mapping[str, object]) -> str:
    """A two-column, left-aligned text table of a run's summary."""
    if not summary:
        return "  (no summary)"
    width = max(len(key) for key in summary)
    return "\n".join(f"  {key:<{width}}  {_format_value(value)}" for key, value in summary.items())


def _cmd_list(scenario: str | None = None) -> int:
    if scenario is not None:
        return _cmd_list_settings(scenario)
    width = max(len(name) for name in SCENARIOS)
    for name in SCENARIOS:
        try:
            line = scenario_summary_line(load_scenario(name))
        except ImportError as exc:
            line = f"(unavailable: {_error_line(exc)})"
        print(f"{name:<{width}}  {line}".rstrip())
    return EXIT_OK


def _cmd_preset(preset: str | None) -> int:
    from sim.presets import available_presets, load_preset, preset_toml

    if preset is not None:
        print(preset_toml(load_preset(preset)), end="")
        return EXIT_OK
    names = available_presets()
    width = max(len(name) for name in names)
    for name in names:
        hw = load_preset(name)
        print(f"{name:<{width}}  {hw.kind:<8}  {hw.description}".rstrip())
    return EXIT_OK


def _cmd_list_settings(scenario: str) -> int:
    module = load_scenario(scenario)
    print(f"{scenario_name(scenario)}: {scenario_summary_line(module)}")
    print()
    print("Settings (--set KEY=VALUE), with their defaults and, where it differs, --smoke's:")
    wrap = textwrap.TextWrapper(width=88, initial_indent=" " * 6, subsequent_indent=" " * 6)
    for name, default, smoke, text in describe_settings(module):
        line = f"  {name} = {default}"
        print(line if smoke == default else f"{line}   (--smoke: {smoke})")
        if text:
            print(wrap.fill(text))
    return EXIT_OK


def _where_it_was(exc: ValueError, run_dir: Path) -> str:
    """``exc``'s message, or for a module path that no longer imports, where the module
    was when the run started and which folder to put on ``PYTHONPATH``."""
    source = recorded_source(run_dir) or {}
    path, load = source.get("path"), str(source.get("load"))
    if (
        source.get("kind") != "module"
        or not isinstance(path, str)
        or "no module named" not in str(exc)
    ):
        return str(exc)
    file = Path(path)
    depth = load.count(".") + (1 if file.name == "__init__.py" else 0)
    root = file.parents[depth] if depth < len(file.parents) else file.parent
    return (
        f"scenario module {load!r} cannot be imported; when the run started it was "
        f"{path}: put {root} on PYTHONPATH (or install it) to continue"
    )


def _unset_note(message: str, base: Any, overrides: Mapping[str, object], *, smoke: bool) -> str:
    """Where the value of a setting that ``message`` names came from, if the user did
    not give it: ``--smoke`` or the default (``--set dataset=my.csv`` with ``--smoke``
    met the smoke run's ``n_samples=100``, which the user had never typed)."""
    for field in dataclasses.fields(base):
        if field.name in overrides or not re.search(rf"\b{field.name}=", message):
            continue
        origin = "the --smoke value" if smoke else "the default"
        return (
            f" ({field.name}={getattr(base, field.name)!r} is {origin}; change it with "
            f"--set {field.name}=...)"
        )
    return ""


def _note_undeclared_files(configs: Sequence[Any], name: str) -> None:
    """One note per setting that names an input file its ``Config`` does not declare
    (:func:`scenarios.provenance.undeclared_files`)."""
    found: dict[str, str] = {}
    for cfg in configs:
        found = {**undeclared_files(cfg), **found}
    for setting, file in found.items():
        print(
            f"{PROG}: note: setting {setting!r} names the file {file!r}, but {name}'s Config "
            "does not list it in DATASET_FIELDS or PRESET_FIELDS: the manifest keeps no "
            "digest of the file, and neither a sweep nor --resume will notice it change",
            file=sys.stderr,
        )


def _cmd_run(args: argparse.Namespace) -> int:
    if args.resume is None:
        return _run(args)
    if args.scenario or args.overrides or args.config or args.smoke or args.out is not None:
        raise ValueError(
            "--resume takes the scenario, settings and folder from the run folder; "
            "give no SCENARIO, --set, --config, --smoke or --out with it"
        )
    run_dir = Path(args.resume).absolute()  # before the working folder changes
    here, then = Path.cwd(), recorded_cwd(run_dir)
    if then is None or then == here or not then.is_dir():  # (gone: read from here)
        return _run(args, resume_dir=run_dir)
    os.chdir(then)
    try:
        return _run(args, resume_dir=run_dir, moved_from=here)
    finally:
        os.chdir(here)


def _run(
    args: argparse.Namespace, *, resume_dir: Path | None = None, moved_from: Path | None = None
) -> int:
    """``run``, or ``run --resume`` of the absolute ``resume_dir``; messages name the
    folder as the user typed it. ``--resume`` runs in the folder the run started in (the
    manifest's ``cwd``), so that the relative file paths of its settings
    (``dataset=my.csv``) name the files the run read, from wherever it is typed;
    ``moved_from`` is the folder it was typed in, if that is another one."""
    overrides: dict[str, object] = {}
    if resume_dir is not None:
        source, overrides = resume_target(resume_dir)
        try:
            module = load_scenario(source)
        except ValueError as exc:
            raise ValueError(
                f"--resume {str(args.resume)!r}: {_where_it_was(exc, resume_dir)}"
            ) from None
    else:
        source = args.scenario or DEFAULT_SCENARIO
        module = load_scenario(source)
    name = scenario_name(source)  # the folder's name, and how messages call it
    config_cls = module.Config
    base = config_cls.smoke() if args.smoke else config_cls()
    if args.config is not None:
        overrides.update(load_config_file(args.config))
    overrides.update(parse_set_options(args.overrides))
    try:
        cfg = config_from_overrides(config_cls, overrides, base=base) if overrides else base
    except ValueError as exc:
        raise ValueError(
            f"{exc}{_unset_note(str(exc), base, overrides, smoke=args.smoke)}"
        ) from exc

    _note_undeclared_files([cfg], name)

    import matplotlib

    matplotlib.use("Agg")  # never open windows, whatever the scenario does
    checkpoints = bool(getattr(module, "CHECKPOINTS", False))
    if resume_dir is None:
        _check_out(args.out)
        run_dir = shown = prepare_run_dir(args.out or DEFAULT_OUT, name)
        write_config(cfg, run_dir)
    else:
        run_dir, shown = resume_dir, Path(args.resume)
        finished = run_finished(run_dir)
        changed = changed_inputs(cfg, read_manifest(run_dir) or {})
        if changed and checkpoints:
            raise ValueError(
                f"--resume {str(shown)!r}: {'; '.join(changed)}: its checkpoint was "
                "trained on the file as it was. Put it back to continue, or start a new "
                f"run: {PROG} run {shlex.quote(source)} --config "
                f"{shlex.quote(str(shown / 'config.json'))}"
            )
        if finished and not checkpoints:
            print(
                f"{PROG}: note: this {name} run had already finished; nothing to resume, its "
                f"results are in {shown} (to run it again: {PROG} run "
                f"{shlex.quote(source)} --config "
                f"{shlex.quote(str(shown / 'config.json'))})",
                file=sys.stderr,
            )
            return EXIT_OK
        _note_changed_source(run_dir, module)
        relative = [
            e for e in {**preset_files(cfg), **dataset_files(cfg)} if not Path(e).is_absolute()
        ]
        if moved_from is not None and relative:
            print(
                f"{PROG}: note: {', '.join(map(repr, relative))} read from {Path.cwd()}, "
                "the folder this run started in",
                file=sys.stderr,
            )
        for phrase in changed:
            print(
                f"{PROG}: note: {phrase} changed since this run started; it runs with the "
                "file as it is now",
                file=sys.stderr,
            )
        if not checkpoints:
            print(
                f"{PROG}: note: {name} keeps no checkpoint; it runs again from the start "
                f"in {shown}",
                file=sys.stderr,
            )
        elif finished:
            print(
                f"{PROG}: note: this {name} run had already finished; nothing is left to "
                f"train, its outputs are written again from the checkpoint in {shown}",
                file=sys.stderr,
            )
    try:
        result: Result = run_scenario(
            module, cfg, run_dir.parent.parent, name=name, run_dir=run_dir
        )
    except BrokenPipeError:  # the study printed to a reader that stopped: exit 141 in main
        raise
    except INPUT_ERRORS as exc:
        own = scenario_kind(source) != "registered"
        frame = _user_frame(exc) if own and not args.traceback else None
        if frame is None:  # bad input our checks named: the message says it all
            raise
        raise ValueError(
            f"{_error_line(exc)} [{type(exc).__name__} in {frame.name}, "
            f"{frame.filename}:{frame.lineno}; the run folder: {shown}; --traceback shows "
            "the whole traceback]"
        ) from exc
    except (MemoryError, BrokenExecutor):  # one line each, in _dispatch
        raise
    except Exception:  # a bug: Python's traceback follows, and this says where the run is
        print(f"{PROG}: {name} failed; the run folder: {shown}", file=sys.stderr)
        raise
    except KeyboardInterrupt:
        hint = (
            f"continue with: {PROG} run --resume {shlex.quote(str(shown))}"
            if checkpoints
            else f"{name} keeps no checkpoint; to run it again from the start in the "
            f"same folder: {PROG} run --resume {shlex.quote(str(shown))}"
        )
        print(f"{PROG}: interrupted; {hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{name}: done")
    print(format_summary(result.summary))
    print(f"results: {result.out_dir}")
    return EXIT_OK


def _note_changed_source(run_dir: Path, module: Any) -> None:
    """A note on stderr if a user's scenario file changed since the run in ``run_dir``."""
    before = recorded_source(run_dir)
    now = scenario_source(module)
    if before is None or now is None or before.get("sha256") in (None, now["sha256"]):
        return
    print(
        f"{PROG}: note: {now['path']} changed since this run started (sha256 "
        f"{str(before['sha256'])[:12]} -> {str(now['sha256'])[:12]}); it goes on with the "
        "code as it is now",
        file=sys.stderr,
    )


def _parse_int(text: str, option: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise ValueError(f"{option} {text!r} must be an int") from None


def _cmd_sweep(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from scenarios import sweep as sweeps

    repeat = _parse_int(args.repeat, "--repeat")
    workers = None if args.workers is None else _parse_int(args.workers, "--workers")
    try:
        connect_timeout_s = float(args.connect_timeout)
    except ValueError:
        raise ValueError(
            f"--connect-timeout {args.connect_timeout!r} must be a number of seconds"
        ) from None
    load_scenario(args.scenario)  # unknown scenario first: the most basic mistake
    _check_out(args.out)
    grid = sweeps.parse_grid_options(args.grid)
    file_settings = load_config_file(args.config) if args.config is not None else {}
    overrides = parse_set_options(args.overrides)
    try:
        plan = sweeps.plan_sweep(
            args.scenario,
            grid=grid,
            overrides=overrides,
            file_settings=file_settings,
            base="smoke" if args.smoke else "default",
            repeat=repeat,
        )
    except ValueError as exc:
        config_cls = load_scenario(args.scenario).Config
        base = config_cls.smoke() if args.smoke else config_cls()
        given = {**file_settings, **overrides, **dict.fromkeys(key for key, _ in grid)}
        note = _unset_note(str(exc), base, given, smoke=args.smoke)
        if not note:
            raise
        raise ValueError(f"{exc}{note}") from exc
    _note_undeclared_files([p.config for p in plan.points], scenario_name(args.scenario))

    import matplotlib

    matplotlib.use("Agg")  # never open windows, whatever the scenario does
    try:
        report = sweeps.run_sweep(
            plan,
            out=Path(args.out),
            executor=args.executor,
            workers=workers,
            scheduler=args.scheduler,
            connect_timeout_s=connect_timeout_s,
            metric=args.metric,
            argv=[PROG, *(sys.argv[1:] if argv is None else argv)],
            warn=lambda line: print(f"{PROG}: warning: {line}", file=sys.stderr),
        )
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted; the finished points are kept in "
            f"{plan.folder(args.out)}: run the same command again to go on",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(
        f"sweep {plan.sweep_id}: {report.n_points} points "
        f"({report.n_run} run now, {report.n_skipped} already done, "
        f"{report.n_failed} failed) in {report.wall_time_s:.1f} s"
    )
    varying = sweeps.varying_metrics(report.rows)
    for metric in report.metrics or ((report.metric,) if report.metric is not None else ()):
        print(f"{metric} (mean ± std over repeats):")
        print(sweeps.format_aggregate(report.rows, plan, metric))
        if metric not in varying and sweeps.n_grid_points(report.rows) > 1:
            shown = ", ".join(varying[:8]) + (", …" if len(varying) > 8 else "")
            print(
                f"note: {metric} is the same at every point; summary keys that "
                f"differ: {shown or 'none'} (choose one with --metric)"
            )
    if report.metric is None and not report.metrics and report.n_points > report.n_failed:
        some = sweeps.partly_numeric_keys(report.rows)
        shown = ", ".join(some[:8]) + (", …" if len(some) > 8 else "")
        print(
            "note: no summary key is a number at every point, so there is no table of "
            f"means and no plot (numbers at some points only: {shown or 'none'}); give "
            "every point's summary the same numeric keys"
        )
    print(f"database: {report.db_path}")
    print(f"table:    {report.csv_path}")
    if report.figures:
        print(f"plot:     {', '.join(str(p) for p in report.figures)}")
    if report.n_failed:
        first = next(row for row in report.rows if row.status != sweeps.STATUS_OK)
        print(
            f"{PROG}: {report.n_failed} of {report.n_points} points failed "
            f"(first: {sweeps.describe_params(first.params)}, repeat {first.repeat}: "
            f"{first.error}); run the same command again to retry them",
            file=sys.stderr,
        )
        return EXIT_POINTS_FAILED
    return EXIT_OK


def keep_heap() -> bool:
    """Let this process keep freed memory for reuse instead of handing it back at once.

    A training step allocates and frees NumPy temporaries of 0.1–30 MB. With glibc's
    defaults the top of the heap is returned to the OS after every step (and the
    larger arrays are mapped afresh), so the next step faults the same pages in
    again: 300–3000 minor page faults per in-situ step on the development machine,
    10–15 % of the step at N = 64. This keeps up to 128 MB of freed heap and serves
    arrays below 32 MB from the heap (glibc ``M_TRIM_THRESHOLD`` and
    ``M_MMAP_THRESHOLD``). The command calls it once at start; the library itself
    never changes the allocator of the process it is imported into.

    Returns
    -------
    bool
        Whether the settings were applied (``False`` without glibc).
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):  # no C library found, or not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD_BYTES)
    )


def _silence_stdout() -> None:
    """Point a real stdout at /dev/null, so that flushing it at exit cannot fail again."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # not a file (captured, a StringIO): nothing to do
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``photonic-backprop`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 if some sweep points failed, 2 on bad input
        (one line on stderr) or a usage error, 130 when interrupted, 141 when the
        reader of the output closed it early (``| head``).
    """
    parser = build_parser()
    try:
        args, extras = parser.parse_known_args(None if argv is None else list(argv))
        if extras:
            args.command_parser.error(f"unrecognized arguments: {' '.join(extras)}")
    except SystemExit as exc:  # --help, or argparse's own usage errors (status 2)
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT_ERROR
    keep_heap()
    previous = _terminate_as_interrupt()
    try:
        return _dispatch(args, argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Run the parsed command; errors become one line and an exit status."""
    try:
        if args.command == "list":
            status = _cmd_list(args.scenario)
        elif args.command == "preset":
            status = _cmd_preset(args.preset)
        elif args.command == "sweep":
            status = _cmd_sweep(args, argv)
        else:
            status = _cmd_run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except BrokenPipeError:  # e.g. `photonic-backprop list compare | head`: not an error
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except INPUT_ERRORS as exc:
        if getattr(args, "traceback", False):
            raise
        print(f"{PROG}: error: {_error_line(exc)}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except MemoryError as exc:  # a size far beyond this machine: one line, not a traceback
        if getattr(args, "traceback", False):
            raise
        print(
            f"{PROG}: error: not enough memory ({_error_line(exc)}); choose smaller sizes",
            file=sys.stderr,
        )
        return EXIT_INPUT_ERROR
    except BrokenExecutor as exc:  # a worker killed from outside (kill, out of memory)
        if getattr(args, "traceback", False):
            raise
        print(
            f"{PROG}: error: a worker process died before its job ended ({_error_line(exc)}); "
            "was it killed, or out of memory?",
            file=sys.stderr,
        )
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _terminate_as_interrupt() -> Any:
    """Let SIGTERM act as Ctrl-C: it calls whatever handles SIGINT at that moment (the
    trainer's save-then-stop flag, or Python's KeyboardInterrupt), so a stopped run
    records "interrupted" and keeps its checkpoint instead of vanishing mid-write.

    Returns the SIGTERM handler it replaced (``None`` outside the main thread, where
    signal handlers cannot be set, and nothing is replaced)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    owner = os.getpid()

    def forward(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            # A forked pool worker inherits this handler; process_pool stops workers with
            # SIGTERM, which must end them as it always did, quietly and at once.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, forward)


if __name__ == "__main__":
    raise SystemExit(main())
