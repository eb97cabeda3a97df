"""The ``photonic-backprop`` command: list and run the scenarios.

Usage::

    photonic-backprop list
    photonic-backprop run [SCENARIO] [--set key=value ...] [--config file.toml]
                          [--smoke] [--out DIR]

``run`` without a scenario runs :data:`scenarios.framework.DEFAULT_SCENARIO`. The
configuration is built in layers: ``Config()`` (or ``Config.smoke()`` with
``--smoke``), then the settings of ``--config`` (TOML, or a run's ``config.json``),
then each ``--set key=value`` (later ones win). Results go to
``<out>/<scenario>/<run-id>/`` (``--out`` defaults to ``results``); the command
prints the run's summary table and the run folder.

Bad input (unknown scenario or setting, a value of the wrong type, a malformed
``--set``, an unreadable config file, an unwritable output folder, ...) prints one
line ``photonic-backprop: error: <message>`` to stderr and exits with status 2; pass
``--traceback`` to see the full traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from scenarios.framework import (
    DEFAULT_SCENARIO,
    SCENARIOS,
    Result,
    config_from_overrides,
    load_config_file,
    load_scenario,
    parse_set_options,
    run_scenario,
    scenario_summary_line,
)

__all__ = ["EXIT_INPUT_ERROR", "PROG", "build_parser", "main"]

PROG = "photonic-backprop"
EXIT_OK = 0
EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 130

#: Exceptions that mean "the input was bad": reported as one line, exit status 2.
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    OSError,
    FloatingPointError,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``photonic-backprop`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Simulate photonic neural-network hardware trained by backpropagation.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("list", help="list the scenarios", description="List the scenarios.")

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
        help=f"scenario name (default: {DEFAULT_SCENARIO}); see 'list'",
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
        type=Path,
        default=Path("results"),
        metavar="DIR",
        help="results root (default: results)",
    )
    run.add_argument(
        "--traceback", action="store_true", help="show full tracebacks instead of one line"
    )
    return parser


def _error_line(exc: BaseException) -> str:
    message = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return message or type(exc).__name__


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


def _cmd_list() -> int:
    width = max(len(name) for name in SCENARIOS)
    for name in SCENARIOS:
        try:
            line = scenario_summary_line(load_scenario(name))
        except ImportError as exc:
            line = f"(unavailable: {_error_line(exc)})"
        print(f"{name:<{width}}  {line}".rstrip())
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    name = args.scenario or DEFAULT_SCENARIO
    module = load_scenario(name)
    config_cls = module.Config
    base = config_cls.smoke() if args.smoke else config_cls()
    overrides: dict[str, object] = {}
    if args.config is not None:
        overrides.update(load_config_file(args.config))
    overrides.update(parse_set_options(args.overrides))
    cfg = config_from_overrides(config_cls, overrides, base=base) if overrides else base

    import matplotlib

    matplotlib.use("Agg")  # never open windows, whatever the scenario does
    result: Result = run_scenario(module, cfg, args.out, name=name)
    print(f"{name}: done")
    print(format_summary(result.summary))
    print(f"results: {result.out_dir}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``photonic-backprop`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 2 on bad input (one line on stderr) or a usage
        error, 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # --help, or argparse's own usage errors (status 2)
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT_ERROR
    try:
        if args.command == "list":
            return _cmd_list()
        return _cmd_run(args)
    except INPUT_ERRORS as exc:
        if getattr(args, "traceback", False):
            raise
        print(f"{PROG}: error: {_error_line(exc)}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
