"""Resumable parameter sweeps: every grid point is one scenario run, every result a row.

``photonic-backprop sweep SCENARIO --grid key=v1,v2 ...`` runs a scenario once per
point of the Cartesian product of the ``--grid`` values (times ``--repeat`` seeds) and
keeps one row per finished point in an SQLite file, so a sweep killed at any moment
(Ctrl-C, SIGKILL, a lost node) resumes where it stopped when the same command is
run again, and every point ends up in the table exactly once.

This module runs the points (the executors below) and ties a sweep together
(:func:`run_sweep`); the parts it ties have a module each, and every name of this
module's ``__all__`` can still be imported from here:

- :mod:`scenarios.sweep_plan`: the points, their configurations and seeds, and the
  sweep's identity (:func:`~scenarios.sweep_plan.plan_sweep`);
- :mod:`scenarios.sweep_store`: the sweep folder and the SQLite table of finished
  points (:class:`~scenarios.sweep_store.SweepStore`);
- :mod:`scenarios.sweep_metrics`: what to report about the rows (the default metric,
  mean ± std per grid combination, the units of a key);
- :mod:`scenarios.sweep_csv`: the tidy table ``sweep.csv`` and the code each point
  ran on;
- :mod:`scenarios.sweep_plots`: the plot of a metric against the first grid key.

Where results go
----------------
``<out>/sweeps/<scenario>-<hash>/``, where ``<hash>`` is the sweep's identity: the
scenario, its base configuration, the grid and the files they name (the
configuration of every point, its seeds and the hash:
:mod:`scenarios.sweep_plan`). The same command therefore maps to the same folder,
and resumes there. The folder holds:

- ``sweep.sqlite``: the results (the table, and how it survives a kill:
  :mod:`scenarios.sweep_store`); the only file that matters;
- ``sweep.json``: what the sweep is (scenario, sweep id, base config, grid, first
  command line), written once when the sweep is created;
- ``runs/<scenario>/<run-id>/``: every point's normal run folder
  (:func:`scenarios.framework.run_scenario`: ``config.json``, ``metrics.csv``,
  plots, ``manifest.json``, and the resolved preset files in ``presets/``). A point
  killed midway leaves an incomplete run folder that nothing refers to; it is never
  deleted;
- ``sweep.csv``: tidy export of the current command's points, one row per
  (point, summary metric), rewritten after every invocation; its ``value`` column
  holds numbers only (a text summary value goes to ``text``, a failed point's error
  to ``error``), so that a table program reads it as a numeric column; its ``code``
  column is the version of the code each point ran on (and the digest of a user's
  study), read from its manifest
  (:mod:`scenarios.sweep_csv`: :func:`~scenarios.sweep_csv.write_sweep_csv`,
  :func:`~scenarios.sweep_csv.point_code`). A sweep whose points ran on more
  than one version (resumed after ``git pull`` or an edit, or on Dask workers with
  other code) says so in one warning line (:func:`~scenarios.sweep_csv.mixed_code`);
- ``sweep_<metric>.png`` / ``.svg``: the chosen summary metric against the first
  grid key, one line per combination of the other grid keys, mean ± standard
  deviation (ddof = 1) over the repeats; each axis is labelled with its key and the
  unit the key's name gives (:func:`~scenarios.sweep_metrics.axis_label`:
  ``loss_db_per_mzi (dB/MZI)``). ``--metric a,b`` draws several metrics on one axis,
  one line each, in ``sweep_<a>__<b>.png`` (:mod:`scenarios.sweep_plots`); the
  console prints a table (mean ± std per grid combination) for each of them
  (:mod:`scenarios.sweep_metrics`).

Executors
---------
``--executor local`` (default) runs the points in this process, one after the other,
or with ``--workers N > 1`` in a pool of N spawned processes, which exit on their own
when this process dies, even of a SIGKILL (:func:`scenarios.pool.process_pool`).
A scenario with a ``workers`` setting starts a pool of its own in every point, so
``--workers N`` times that ``workers`` processes run at once: if they outnumber the
CPUs, the sweep prints one warning line before it starts (:func:`oversubscription`).
``--executor dask`` submits every point as a task to a Dask distributed cluster: by
default a ``LocalCluster`` of ``--workers`` single-threaded worker processes (default:
the number of CPUs) on the loopback interface with the dashboard off (the scheduler's
HTTP server, which serves health checks and metrics, listens on a free loopback port,
not on 8787, which another cluster may hold); with
``--scheduler tcp://HOST:PORT`` an existing cluster (its workers must be able to import this
package, and should see the sweep folder on a shared file system, where they write
the run folders). A scenario of your own is not shipped to the workers: a module path
must be importable there (installed, or on their ``PYTHONPATH``), a file must be at
the same absolute path (a shared file system); every worker is asked to load it before
the points are sent, and one that cannot is a one-line error naming the worker. The
local pool's spawned processes get this process's ``sys.path``, where
:func:`~scenarios.registry.load_scenario` put the file's folder, and import it
themselves. An unreachable scheduler is an error after ``--connect-timeout``
seconds (default 10); the executor of a new sweep starts before its folder is made, so
such an error leaves nothing behind. Results stream back to the client as points finish and are
written there, so a sweep on a cluster is as resumable as a local one.

A point whose run raises is recorded with ``status = "failed"`` and the error; the
sweep goes on, and the next invocation of the same command retries failed points.
When there is nothing left to run, no executor is started: re-running a finished
sweep only rewrites ``sweep.csv`` and the plot (e.g. with another ``--metric``).

Randomness: the sweep draws no random numbers; each point's scenario derives its
own generators from the point's seed, so identical seeds give identical metrics
whatever the executor. For that, every point runs with :data:`POINT_BLAS_THREADS`
(one) BLAS thread, in this process, in a pool worker or on Dask (whose workers start
with one already): OpenBLAS splits some matrix products (a batch-summed gradient
``δᵀ a`` over a large batch) between its threads, and another thread count adds the
terms in another order, which moves results in the last bits (seen: a relative 6e-16
in digital_baseline's losses on digits, full batch). A point therefore reproduces,
bit for bit, ``photonic-backprop run`` of its config under ``OPENBLAS_NUM_THREADS=1``;
a run with more BLAS threads can differ from it in the last bits. Timings are taken
under the same limit: a swept ``simulator_speed`` times one-thread BLAS (its matmul
and its step alike); run it directly to time the machine's full thread count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from digital.train import Progress
from scenarios.framework import (
    count,
    process_pool,
    run_scenario,
)
from scenarios.registry import load_scenario
from scenarios.sweep_csv import (
    mixed_code,
    point_code,
    write_sweep_csv,
)
from scenarios.sweep_metrics import (
    UNIT_SYMBOLS,
    UNITLESS_PREFIXES,
    _check_metric,
    aggregate,
    axis_label,
    default_metric,
    describe_n,
    format_aggregate,
    key_unit,
    metric_names,
    n_grid_points,
    numeric_summary_keys,
    partly_numeric_keys,
    scenario_seeds,
    varying_metrics,
)
from scenarios.sweep_plan import (
    SWEEPS_DIRNAME,
    Point,
    SweepError,
    SweepPlan,
    _plain,
    describe_params,
    parse_grid_options,
    plan_sweep,
)
from scenarios.sweep_plots import (
    LOG_X_MIN_DECADES,
    LOG_Y_MAX_DECADES,
    LOG_Y_MIN_DECADES,
    plot_sweep,
)
from scenarios.sweep_store import (
    CSV_FILENAME,
    DB_FILENAME,
    LOCK_FILENAME,
    RUNS_DIRNAME,
    SPEC_FILENAME,
    STATUS_FAILED,
    STATUS_OK,
    PointOutcome,
    PointRow,
    SweepStore,
    _check_sweep_dir,
    _FolderLock,
    _prepare_sweep_dir,
    _write_spec_once,
    edited_inputs_note,
)

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "CSV_FILENAME",
    "DB_FILENAME",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "LOG_X_MIN_DECADES",
    "LOG_Y_MAX_DECADES",
    "LOG_Y_MIN_DECADES",
    "POINT_BLAS_THREADS",
    "SPEC_FILENAME",
    "SWEEPS_DIRNAME",
    "UNITLESS_PREFIXES",
    "UNIT_SYMBOLS",
    "Executor",
    "Point",
    "PointOutcome",
    "PointRow",
    "SweepError",
    "SweepPlan",
    "SweepReport",
    "SweepStore",
    "aggregate",
    "axis_label",
    "default_metric",
    "describe_n",
    "describe_params",
    "format_aggregate",
    "key_unit",
    "metric_names",
    "mixed_code",
    "n_grid_points",
    "numeric_summary_keys",
    "oversubscription",
    "parse_grid_options",
    "partly_numeric_keys",
    "plan_sweep",
    "plot_sweep",
    "point_code",
    "run_point",
    "run_sweep",
    "scenario_seeds",
    "varying_metrics",
    "write_sweep_csv",
]

Executor = Literal["local", "dask"]
"""Where the points run: in this process (or a local process pool), or on Dask."""

EXECUTORS: tuple[str, ...] = ("local", "dask")

POINT_BLAS_THREADS = 1
"""BLAS threads of every point, whatever the executor (Dask's workers start with one).

Matrix products split between BLAS threads sum in an order that depends on their
number; pinning it makes a point's numbers the same, bit for bit, on every executor."""

DEFAULT_CONNECT_TIMEOUT_S = 10.0
"""How long to try to reach a Dask scheduler (or wait for its first worker)."""

LOCAL_HTTP_ADDRESS = "127.0.0.1:0"
"""Where the scheduler of a local Dask cluster serves HTTP (health, metrics; no
dashboard): a free port on the loopback interface, chosen by the OS."""


# --------------------------------------------------------------------------- running points


@dataclasses.dataclass(frozen=True)
class _PointTask:
    """What a worker needs to run one point (pickled to worker processes): ``scenario``
    names the run folders, ``load`` is what the worker loads (:attr:`SweepPlan.load`)."""

    scenario: str
    key: str
    config: Any
    runs_root: str
    load: str | None = None


def run_point(task: _PointTask) -> PointOutcome:
    """Run one point with :func:`scenarios.framework.run_scenario` (on any worker).

    The run uses :data:`POINT_BLAS_THREADS` BLAS threads, so that its numbers do not
    depend on the executor. Exceptions from the scenario are caught and returned as a
    ``"failed"`` outcome; ``KeyboardInterrupt`` and ``SystemExit`` propagate.
    """
    import matplotlib
    from threadpoolctl import threadpool_limits

    matplotlib.use("Agg")  # workers never open windows
    t0 = time.perf_counter()
    try:
        module = load_scenario(task.load or task.scenario)
        # the point's text report stays in its run folder's files, not on the console
        with threadpool_limits(limits=POINT_BLAS_THREADS, user_api="blas"):
            result = run_scenario(
                module, task.config, task.runs_root, name=task.scenario, report="quiet"
            )
    except Exception as exc:
        message = " ".join(str(exc).split())
        return PointOutcome(
            key=task.key,
            status=STATUS_FAILED,
            summary={},
            wall_time_s=time.perf_counter() - t0,
            error=f"{type(exc).__name__}: {message}",
        )
    return PointOutcome(
        key=task.key,
        status=STATUS_OK,
        summary=dict(_plain(result.summary)),  # type: ignore[call-overload]
        wall_time_s=time.perf_counter() - t0,
        run_dir=str(result.out_dir),
    )


def _failed(task: _PointTask, exc: BaseException) -> PointOutcome:
    message = " ".join(str(exc).split())
    return PointOutcome(
        key=task.key,
        status=STATUS_FAILED,
        summary={},
        wall_time_s=0.0,
        error=f"{type(exc).__name__}: {message}",
    )


class _Runner:
    """Runs tasks somewhere and yields outcomes as they finish (in any order)."""

    def __enter__(self) -> _Runner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def run(self, tasks: Sequence[_PointTask]) -> Iterator[PointOutcome]:
        for task in tasks:
            yield run_point(task)


class _PoolRunner(_Runner):
    """A pool of ``workers`` spawned processes on this machine."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: Any = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> _PoolRunner:
        import multiprocessing

        # left by Ctrl-C, the pool stops its points at once (they run again on resume)
        self._pool = self._stack.enter_context(
            process_pool(self.workers, mp_context=multiprocessing.get_context("spawn"))
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.__exit__(exc_type, exc, tb)

    def run(self, tasks: Sequence[_PointTask]) -> Iterator[PointOutcome]:
        from concurrent.futures import as_completed

        futures = {self._pool.submit(run_point, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures.pop(future)
            try:
                yield future.result()
            except Exception as exc:  # the worker process died, or pickling failed
                yield _failed(task, exc)


class _DaskRunner(_Runner):
    """Points as tasks on a Dask distributed cluster (local by default)."""

    def __init__(
        self,
        *,
        workers: int,
        scheduler: str | None,
        connect_timeout_s: float,
        user_scenario: str | None = None,
    ) -> None:
        self.workers = workers
        self.scheduler = scheduler
        self.connect_timeout_s = connect_timeout_s
        self.user_scenario = user_scenario
        self._cluster: Any = None
        self._client: Any = None

    def __enter__(self) -> _DaskRunner:
        import logging

        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SweepError(
                "--executor dask needs Dask distributed: "
                "pip install 'photonic-backprop[distributed]'"
            ) from None
        timeout = self.connect_timeout_s
        try:
            if self.scheduler is None:
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    # dashboard_address=None does not stop the scheduler's HTTP server
                    # (health and metrics routes): it listens on 8787 all the same and,
                    # if that is taken, warns "Port 8787 is already in use". On a free
                    # loopback port it says nothing; dashboard=False keeps Bokeh's out.
                    dashboard_address=LOCAL_HTTP_ADDRESS,
                    scheduler_kwargs={"dashboard": False},
                    silence_logs=logging.ERROR,
                )
                self._client = Client(self._cluster, timeout=timeout, set_as_default=False)
            else:
                _check_scheduler_address(self.scheduler)  # before a Client exists to leak
                self._client = Client(self.scheduler, timeout=timeout, set_as_default=False)
                try:
                    self._client.wait_for_workers(1, timeout=timeout)
                except (TimeoutError, OSError):
                    raise SweepError(
                        f"the Dask scheduler at {self.scheduler!r} has no workers "
                        f"(waited {timeout:g} s)"
                    ) from None
        except SweepError:
            self._close()
            raise
        except Exception as exc:
            self._close()
            what = (
                f"cannot reach the Dask scheduler at {self.scheduler!r}"
                if self.scheduler is not None
                else "cannot start a local Dask cluster"
            )
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise SweepError(f"{what} (timeout {timeout:g} s): {detail}") from None
        except BaseException:  # Ctrl-C while it starts: no worker processes left behind
            self._close()
            raise
        if self.user_scenario is not None:
            try:
                self._check_workers_import(self.user_scenario)
            except SweepError:
                self._close()
                raise
            except Exception as exc:  # the cluster is up: this is not a start-up failure
                self._close()
                detail = " ".join(str(exc).split()) or type(exc).__name__
                raise SweepError(
                    f"cannot ask the Dask workers whether they load the scenario "
                    f"{self.user_scenario!r}: {detail}"
                ) from None
            except BaseException:
                self._close()
                raise
        return self

    def _check_workers_import(self, load: str) -> None:
        """Refuse a user's scenario that a worker cannot import (nothing is shipped)."""
        answers = self._client.run(_worker_loads_scenario, load)
        failed = {worker: error for worker, error in answers.items() if error is not None}
        if failed:
            worker, error = next(iter(failed.items()))
            raise SweepError(
                f"{len(failed)} of {len(answers)} Dask workers cannot load the scenario "
                f"{load!r} (first, {worker}: {error}); a scenario of your own must be "
                "importable on every worker: install its package there, or keep the file "
                "on a shared file system at the same path (a module path: on their "
                "PYTHONPATH)"
            )

    def _close(self) -> None:
        for closable in (self._client, self._cluster):
            if closable is not None:
                try:
                    closable.close()
                except Exception:  # best effort on the way out
                    pass
        self._client = self._cluster = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def run(self, tasks: Sequence[_PointTask]) -> Iterator[PointOutcome]:
        from distributed import as_completed

        futures = {
            self._client.submit(run_point, task, pure=False, key=f"point-{i}-{time.time_ns()}"): (
                task
            )
            for i, task in enumerate(tasks)
        }
        for future in as_completed(list(futures), loop=self._client.loop):
            task = futures.pop(future)
            try:
                outcome = future.result()
            except Exception as exc:  # e.g. KilledWorker: the point did not finish
                outcome = _failed(task, exc)
            future.release()
            yield outcome


def _worker_loads_scenario(load: str) -> str | None:
    """On a Dask worker: load the scenario ``load``; ``None`` if it loads, else why not.

    A file found at the same path (a shared file system) is loaded as
    :func:`scenarios.registry.load_scenario` does, its folder put on this worker's
    ``sys.path``, so that the points' configs unpickle there."""
    try:
        load_scenario(load)
    except Exception as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


# --------------------------------------------------------------------------- the sweep


@dataclasses.dataclass(frozen=True)
class SweepReport:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    plan : SweepPlan
    sweep_dir, db_path, csv_path : Path
    figures : list of Path
        The summary plot (PNG, SVG); empty if no numeric metric was available.
    metric : str or None
        The (first) summary key that was plotted.
    n_points : int
        Points of this command (grid combinations x repeats).
    n_skipped : int
        Points already finished before this invocation.
    n_run : int
        Points run now.
    n_failed : int
        Points of this command whose latest attempt failed.
    wall_time_s : float
    rows : list of PointRow
        The table of this command's points, in plan order.
    metrics : tuple of str
        Every summary key that was plotted (``--metric a,b``), ``metric`` first.
    """

    plan: SweepPlan
    sweep_dir: Path
    db_path: Path
    csv_path: Path
    figures: list[Path]
    metric: str | None
    n_points: int
    n_skipped: int
    n_run: int
    n_failed: int
    wall_time_s: float
    rows: list[PointRow]
    metrics: tuple[str, ...] = ()


#: Schemes of a remote Dask scheduler's address (``scheme://host:port``).
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss")


def _tls_configured() -> bool:
    """Whether Dask has a client certificate to connect over TLS with."""
    import dask

    return bool(dask.config.get("distributed.comm.tls.client.cert", None))


def _check_scheduler_address(address: str) -> None:
    """Refuse an address Dask cannot connect to: another scheme, or no port.

    Checked before a ``Client`` exists: a half-built one hangs, then leaks a traceback.
    """
    from distributed.comm import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme not in SCHEDULER_SCHEMES:
            raise ValueError(f"scheme {scheme!r}; use one of {', '.join(SCHEDULER_SCHEMES)}")
        parse_host_port(location)
        if scheme in ("tls", "wss") and not _tls_configured():
            raise ValueError(
                "a TLS address needs Dask's TLS settings, e.g. the environment variables "
                "DASK_DISTRIBUTED__COMM__TLS__CA_FILE and DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT"
            )
    except ValueError as exc:
        raise SweepError(
            f"--scheduler {address!r} is not a Dask address ({' '.join(str(exc).split())}); "
            "give host and port, e.g. tcp://127.0.0.1:8786"
        ) from None


def _check_executor_options(
    executor: str, workers: int | None, scheduler: str | None, connect_timeout_s: float
) -> int:
    if executor not in EXECUTORS:
        raise SweepError(f"--executor {executor!r} is not one of {', '.join(EXECUTORS)}")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1
    ):
        raise SweepError(f"--workers {workers!r} must be an int >= 1")
    if scheduler is not None:
        if executor != "dask":
            raise SweepError("--scheduler needs --executor dask")
        if not scheduler.strip():
            raise SweepError("--scheduler must be an address such as tcp://HOST:8786")
        if workers is not None:
            raise SweepError("--workers has no effect with --scheduler (the cluster has its own)")
    if (
        isinstance(connect_timeout_s, bool)
        or not isinstance(connect_timeout_s, (int, float))
        or not math.isfinite(connect_timeout_s)
        or connect_timeout_s <= 0
    ):
        raise SweepError(f"--connect-timeout {connect_timeout_s!r} must be a number > 0 (seconds)")
    if workers is not None:
        return int(workers)
    return 1 if executor == "local" else max(1, os.cpu_count() or 1)


SCENARIO_WORKERS_FIELD = "workers"
"""A scenario setting that runs each run's jobs on that many processes of its own
(insitu_training, compare and pai2023 have it)."""


def _cpu_count() -> int:
    return os.cpu_count() or 1


def oversubscription(
    configs: Iterable[object], *, executor: Executor, processes: int, scenario: str
) -> str | None:
    """A one-line warning if the sweep's processes times each run's own ``workers``
    outnumber the CPUs, else ``None``.

    A local pool's points start pools of their own (``workers`` processes each); a Dask
    worker's do not (its processes are daemonic: :func:`scenarios.framework.map_jobs`
    runs their jobs one after the other), so only ``executor="local"`` can warn.

    Parameters
    ----------
    configs : iterable of dataclass instances
        The configs of the points to run.
    executor : {"local", "dask"}
    processes : int
        Points that run at once (1: this process).
    scenario : str
        For the message.
    """
    if executor != "local":
        return None
    own = [
        value
        for cfg in configs
        if isinstance(value := getattr(cfg, SCENARIO_WORKERS_FIELD, None), int)
        and not isinstance(value, bool)
    ]
    if not own:
        return None
    cpus, most = _cpu_count(), max(own)
    total = processes * most
    if most <= 1 or total <= cpus:
        return None
    sweep = count(processes, "sweep process", "sweep processes")
    return (
        f"{sweep} × {SCENARIO_WORKERS_FIELD}={most} of each {scenario} run = {total} "
        f"processes on {count(cpus, 'CPU')}: they will compete for them; choose fewer "
        f"--workers or --set {SCENARIO_WORKERS_FIELD}=1 (its results do not depend on it)"
    )


def _warn_line(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


def _point_line(point: Point, outcome: PointOutcome, done: int, total: int, repeats: int) -> str:
    """``[3/8] lr=0.01, repeat 1: ok (2.3 s)``, or ``failed: <error>``."""
    what = describe_params(point.params) or "point"
    if repeats > 1:
        what += f", repeat {point.repeat}"
    status = "ok" if outcome.status == STATUS_OK else f"failed: {outcome.error}"
    return f"[{done}/{total}] {what}: {status} ({outcome.wall_time_s:.1f} s)"


def _run_and_record(
    runner: _Runner,
    tasks: Sequence[_PointTask],
    store: SweepStore,
    plan: SweepPlan,
    sweep_dir: Path,
    *,
    n_done: int,
    metrics: Sequence[str],
    progress: Progress,
) -> None:
    """Run ``tasks`` on ``runner`` and record every outcome as it comes (:func:`run_sweep`).

    ``n_done``: points of the plan finished before. A new sweep with ``metrics`` stops
    with a :class:`SweepError` after its first successful point if that lacks one.
    """
    from tqdm.auto import tqdm

    by_key = {point.key: point for point in plan.points}
    total = len(plan.points)
    metric_checked = not metrics or n_done > 0
    with tqdm(
        total=total,
        initial=n_done,
        unit="point",
        desc=f"sweep {plan.scenario}",
        disable={"auto": None, "on": False, "off": True}[progress],
        leave=True,
    ) as bar:
        n_failed_now = 0
        for outcome in runner.run(tasks):
            point = by_key[outcome.key]
            store.record(point, outcome, sweep_dir=sweep_dir)
            if outcome.status != STATUS_OK:
                n_failed_now += 1
                bar.set_postfix(failed=n_failed_now)
            bar.update(1)
            n_done += 1
            if progress != "off":  # one line per point, also in a log file
                bar.write(_point_line(point, outcome, n_done, total, plan.repeat))
            if not metric_checked and outcome.status == STATUS_OK:
                # a key missing here cannot be numeric in every row: stop now
                try:
                    for name in metrics:
                        _check_metric(name, store.rows([outcome.key]))
                except SweepError as exc:
                    raise SweepError(
                        f"{exc}; the sweep stopped after its first point, which is "
                        "kept: the same command with one of these goes on from there"
                    ) from None
                metric_checked = True


def run_sweep(
    plan: SweepPlan,
    *,
    out: str | Path = "results",
    executor: Executor = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    metric: str | Sequence[str] | None = None,
    progress: Progress = "auto",
    argv: Sequence[str] | None = None,
    warn: Callable[[str], object] | None = _warn_line,
) -> SweepReport:
    """Run the unfinished points of ``plan``, record them, export the table and plot.

    Parameters
    ----------
    plan : SweepPlan
        From :func:`plan_sweep`.
    out : str or Path
        Results root; the sweep lives in ``<out>/sweeps/<plan.sweep_id>/``.
    executor : {"local", "dask"}
        Where the points run (see the module docstring).
    workers : int, optional
        Local: processes in the pool (default 1: this process, sequentially).
        Dask: workers of the local cluster (default: CPU count). Not allowed with
        ``scheduler``.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://HOST:PORT``).
    connect_timeout_s : float
        How long to try to reach the scheduler before giving up.
    metric : str or sequence of str, optional
        Summary key to plot, or several (a sequence, or names separated by commas:
        ``"acc_a,acc_b"``) drawn as lines on one axis; default :func:`default_metric`.
    progress : {"auto", "on", "off"}
        Progress bar of points done: ``"auto"`` shows it only on a terminal. Unless
        ``"off"``, every finished point also prints one line (grid values, status,
        wall time), on a terminal or not (as :func:`digital.train.train`'s option).
    argv : sequence of str, optional
        Command line recorded in ``sweep.json`` (default ``sys.argv``).
    warn : callable, optional
        Takes a one-line warning, such as :func:`oversubscription`'s before the points
        start (default: ``warning: <line>`` on stderr); ``None`` silences it.

    Returns
    -------
    SweepReport

    Raises
    ------
    SweepError
        Bad options, an unusable output folder or database, an unreachable
        scheduler, or an unknown ``metric``. Raised before any point runs, except
        for a ``metric`` that only the new results can show to be unknown: that
        stops a new sweep after its first successful point.
    """

    t0 = time.perf_counter()
    if progress not in ("auto", "on", "off"):
        raise SweepError(f"progress={progress!r} must be one of 'auto', 'on', 'off'")
    n_workers = _check_executor_options(executor, workers, scheduler, connect_timeout_s)
    metrics = metric_names(metric)
    by_key = {point.key: point for point in plan.points}
    keys = list(by_key)

    def start_runner(points: Sequence[Point]) -> _Runner:
        n_tasks = len(points)
        processes = 1 if executor == "local" and n_workers <= 1 else min(n_workers, n_tasks)
        line = oversubscription(
            (p.config for p in points), executor=executor, processes=processes,
            scenario=plan.scenario,
        )  # fmt: skip
        if line is not None and warn is not None:
            warn(line)
        if executor == "dask":
            return _DaskRunner(
                workers=n_workers,
                scheduler=scheduler,
                connect_timeout_s=connect_timeout_s,
                user_scenario=None if plan.source is None else plan.load,
            )
        if n_workers > 1:
            return _PoolRunner(min(n_workers, n_tasks))
        return _Runner()

    # the executor is left before the database and the lock: no worker runs on when
    # another invocation may take the sweep over
    with contextlib.ExitStack() as running:
        runner: _Runner | None = None
        if not (plan.folder(out).absolute() / DB_FILENAME).exists():
            # A new sweep: every point is to run. The executor starts (the scheduler is
            # reached) before anything is written, so that one that cannot start leaves
            # no empty sweep folder behind.
            _check_sweep_dir(out, plan)
            edited = edited_inputs_note(out, plan)
            if edited is not None and warn is not None:
                warn(edited)
            runner = running.enter_context(start_runner(plan.points))
        sweep_dir = _prepare_sweep_dir(out, plan)
        db_path = sweep_dir / DB_FILENAME
        with (
            _FolderLock(sweep_dir / LOCK_FILENAME),
            SweepStore.open(db_path, sweep_id=plan.sweep_id, spec=plan.spec) as store,
            running,
        ):
            done = store.finished_keys() & set(keys)
            if metrics and done:
                done_rows = store.rows(k for k in keys if k in done)
                for name in metrics:
                    _check_metric(name, done_rows)
            _write_spec_once(sweep_dir, plan, argv)
            runs_root = str(sweep_dir / RUNS_DIRNAME)
            todo = [p for p in plan.points if p.key not in done]
            tasks = [
                _PointTask(
                    scenario=plan.scenario,
                    key=p.key,
                    config=p.config,
                    runs_root=runs_root,
                    load=plan.load,
                )
                for p in todo
            ]
            if tasks:
                if runner is None:
                    runner = running.enter_context(start_runner(todo))
                _run_and_record(
                    runner, tasks, store, plan, sweep_dir, n_done=len(done), metrics=metrics,
                    progress=progress,
                )  # fmt: skip
            rows = store.rows(keys)
    codes = {row.key: point_code(sweep_dir, row) for row in rows}
    line = mixed_code(codes.values())
    if line is not None and warn is not None:
        warn(line)
    csv_path = write_sweep_csv(rows, plan, sweep_dir / CSV_FILENAME, codes=codes)
    for name in metrics:
        _check_metric(name, rows)
    fallback = default_metric(rows) if not metrics else None
    chosen = metrics or ((fallback,) if fallback is not None else ())
    figures = plot_sweep(rows, plan, sweep_dir, metric=chosen) if chosen else []
    n_failed = sum(1 for row in rows if row.status != STATUS_OK)
    return SweepReport(
        plan=plan,
        sweep_dir=sweep_dir,
        db_path=db_path,
        csv_path=csv_path,
        figures=figures,
        metric=chosen[0] if chosen else None,
        metrics=chosen,
        n_points=len(keys),
        n_skipped=len(done),
        n_run=len(tasks),
        n_failed=n_failed,
        wall_time_s=time.perf_counter() - t0,
        rows=rows,
    )
