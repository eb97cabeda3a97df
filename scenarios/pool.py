"""Process pools for a scenario's independent jobs: how they start, stop and thread.

:func:`map_jobs` runs ``fn(*job)`` for every job on up to ``workers`` processes (or
serially) and returns the results in job order. :func:`process_pool` is the
``ProcessPoolExecutor`` under it (sweeps use it too): one that stops its workers at
once when its block is left by an exception, and whose workers exit when the process
that made it dies. Every worker starts with a tqdm lock of its own and with the BLAS
thread count the caller chose (:func:`blas_state` reads the current one), so that a
job's numbers do not depend on where it runs.

:mod:`scenarios.framework` imports this module and re-exports its names; this module
imports nothing of :mod:`scenarios`.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from tqdm.auto import tqdm

from digital.validation import check_positive_int

__all__ = ["EXIT_PARENT_GONE", "PARENT_POLL_S", "blas_state", "map_jobs", "process_pool"]


T = TypeVar("T")


@contextlib.contextmanager
def process_pool(workers: int, **options: Any) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor(max_workers=workers, **options)`` that stops at once when
    its block is left by an exception (a failed job, Ctrl-C): the queued jobs are
    cancelled and the worker processes terminated. Left normally, it waits for its jobs.

    (A plain executor would go on: a worker whose job ended runs the jobs already
    queued for it, and leaving the block waits for them.)

    Every worker also exits (``os._exit``) within about :data:`PARENT_POLL_S` seconds
    of the death of the process that made the pool, however it died: killed with
    SIGKILL, that process cannot stop its workers, which would otherwise go on,
    reparented, running the jobs queued for them and holding its output pipes.

    Known limit: a worker terminated while it sends a result larger than a pipe's
    buffer (64 KB) can leave the executor's manager thread waiting, so the process
    hangs at exit. The scenarios' jobs return a few KB.
    """
    start = functools.partial(
        _worker_start,
        os.getpid(),
        options.pop("initializer", None),
        tuple(options.pop("initargs", ())),
    )
    pool = ProcessPoolExecutor(max_workers=workers, initializer=start, **options)
    try:
        yield pool
    except BaseException:
        # This pool's own workers only (not other pools' or Dask's processes). The
        # executor has no public handle on them before Python 3.14.
        own = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in own:
            process.terminate()
        for process in own:
            process.join(timeout=10)
        raise
    pool.shutdown(wait=True)


PARENT_POLL_S = 0.5
"""How often a :func:`process_pool` worker checks that the process that made it lives."""

EXIT_PARENT_GONE = 1
"""Exit status of a pool worker that ended because its parent had died."""


def _worker_start(creator: int, initializer: Callable[..., object] | None, initargs: tuple) -> None:
    """Start of every :func:`process_pool` worker: SIGTERM back to its default action
    (the pool stops its workers with it; a handler inherited from the CLI would wait for
    a running C call to return), a watch that ends the worker when the pool's process
    ``creator`` dies (:func:`_exit_with_parent`), tqdm's lock made this worker's own,
    then the caller's ``initializer``.

    tqdm's default lock is a multiprocessing one that a forked worker shares with its
    parent; a worker killed while holding it (terminated by this pool on Ctrl-C or a
    failed job, or by the OOM killer, in any tqdm call, even of a disabled bar) left
    it held for good, and the parent hung at its next progress bar. (A spawned worker
    made its own multiprocessing lock, a named semaphore; terminated, it left that to
    the resource tracker, which warned of a "leaked semaphore".)"""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _own_tqdm_lock()
    _exit_with_parent(creator)
    if initializer is not None:
        initializer(*initargs)


def _own_tqdm_lock() -> None:
    """Give tqdm a lock of this process alone (a thread lock), for every tqdm class a
    parent may have made its lock on before forking."""
    import threading

    from tqdm import auto, std

    lock = threading.RLock()
    for cls in {std.tqdm, auto.tqdm}:
        cls.set_lock(lock)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user: it exists
        return True
    return True


def _exit_with_parent(creator: int) -> None:
    """Start a daemon thread that ends this process (``os._exit``) once ``creator``, the
    process that made its pool, is gone.

    The parent is polled every :data:`PARENT_POLL_S` seconds: a worker made by fork or
    spawn is a child of ``creator``, and is reparented (``os.getppid()`` changes) when
    it dies; a worker made by a fork server is the server's child, and the server exits
    with ``creator``. A worker that starts after ``creator`` died already has another
    parent and finds ``creator`` gone.
    """
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            if os.getppid() != parent or (parent != creator and not _alive(creator)):
                os._exit(EXIT_PARENT_GONE)
            time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def map_jobs(
    fn: Callable[..., T],
    jobs: Sequence[tuple[Any, ...]],
    *,
    workers: int,
    desc: str,
    unit: str = "run",
    blas_threads: int | None = None,
) -> list[T]:
    """``[fn(*job) for job in jobs]``, on up to ``workers`` processes, with a progress bar.

    Results come back in job order. Runs serially with ``workers == 1``, with a single
    job, or inside a daemonic process (a pool or Dask worker running a sweep point
    cannot start processes of its own). Jobs must carry their own seeds, and every job
    runs with the same number of BLAS threads wherever it runs, so the numbers do not
    depend on the number of workers.

    If a job fails or the caller is interrupted (Ctrl-C), the other jobs are stopped
    at once (:func:`process_pool`).

    Parameters
    ----------
    fn
        The job function; it and its arguments must pickle (workers are processes).
    jobs
        One argument tuple per call.
    workers
        Processes to use, ≥ 1.
    desc, unit
        Progress bar label and unit.
    blas_threads
        BLAS threads of every job, in this process or in a worker (a product split
        between threads sums in another order, which moves the last bits). ``None``:
        this process's current count, handed to the workers explicitly (a worker
        started by spawn would begin with the machine's default). ``1`` suits jobs
        run side by side, one per core.

    Returns
    -------
    list
        ``fn(*job)`` for every job, in job order.
    """
    if blas_threads is not None:  # 0 and -1 would mean "no limit" to threadpoolctl
        blas_threads = check_positive_int(blas_threads, "blas_threads")
    threads = blas_state()[1] if blas_threads is None else blas_threads
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=None, leave=False)
    try:
        if workers <= 1 or len(jobs) <= 1 or multiprocessing.current_process().daemon:
            results = []
            with _blas_limit(None if blas_threads is None else threads):
                for job in jobs:
                    results.append(fn(*job))
                    bar.update()
            return results
        pool_options = {"initializer": _limit_blas_threads, "initargs": (threads,)}
        with process_pool(min(workers, len(jobs)), **pool_options) as pool:
            futures = [pool.submit(fn, *job) for job in jobs]
            for future in as_completed(futures):
                future.result()  # raise early if a job failed
                bar.update()
            return [f.result() for f in futures]
    finally:
        bar.close()


def _blas_limit(threads: int | None) -> contextlib.AbstractContextManager[object]:
    """A block run with ``threads`` BLAS threads (``None``: as it is)."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def _limit_blas_threads(threads: int | None) -> None:
    """Worker initializer of :func:`map_jobs`: ``threads`` BLAS threads for good."""
    if threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")


def blas_state() -> tuple[str | None, int | None]:
    """(library, threads) of the BLAS NumPy computes with, e.g. ``("openblas 0.3.31",
    2)``; ``(None, None)`` if it cannot be told. Never raises.

    Results depend on the thread count in their last bits (a product split between
    threads sums in another order), so the manifest records it next to the versions.
    """
    try:
        from threadpoolctl import threadpool_info

        libs = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    except Exception:  # best effort: the manifest must be written all the same
        return None, None
    if not libs:
        return None, None
    names = sorted({f"{lib.get('internal_api')} {lib.get('version')}" for lib in libs})
    return ", ".join(names), max(int(lib.get("num_threads", 0)) for lib in libs)
