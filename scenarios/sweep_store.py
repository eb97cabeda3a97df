"""Where a sweep's results live: its folder, ``sweep.json`` and the SQLite table of its points.

:class:`SweepStore` is the table of a sweep's finished points: each written, in its
own transaction, from the :class:`PointOutcome` a worker sends back, and read back
as :class:`PointRow`. The names of the files in a sweep folder (:data:`DB_FILENAME`,
:data:`SPEC_FILENAME`, :data:`CSV_FILENAME`, ...) and the helpers that check and
create the folder, lock it and write its ``sweep.json`` once live here too. What
runs the points, and when: :mod:`scenarios.sweep`.

The database
------------
Table ``points``, one row per finished point, primary key ``point_key`` (canonical
JSON of the point's grid values and repeat index): ``params`` (grid values, JSON),
``repeat``, ``seed``, ``config`` (the full ``Config``, JSON), ``summary`` (the run's
summary metrics, JSON), ``status`` (``"ok"`` or ``"failed"``), ``error``,
``wall_time_s``, ``run_dir`` (relative to the sweep folder) and ``finished_at``.
Table ``meta`` holds the schema version and the sweep id and spec.

Each finished point is written in its own transaction (``BEGIN IMMEDIATE`` ...
``COMMIT``) in the client process only - workers never touch the file - so a kill
at any moment leaves either the whole row or none of it. The database uses SQLite's
default rollback journal (``journal_mode=DELETE``) with ``synchronous=FULL``, not
WAL, because:

- the whole result is always in the single file ``sweep.sqlite``: with WAL, rows
  committed just before a SIGKILL live only in ``sweep.sqlite-wal`` until the next
  checkpoint, so copying or archiving just the ``.sqlite`` file would silently lose
  them;
- WAL needs shared memory between processes and does not work on network file
  systems, which is where sweep folders on a cluster usually live;
- WAL's advantages (concurrent writers and readers, cheap commits) do not matter
  here: there is one writer, and one commit per point that took seconds to compute.

A row is inserted only if the point is new or its earlier attempt failed
(``ON CONFLICT ... WHERE status != 'ok'``), so a finished point is never
overwritten. An advisory lock (``sweep.lock``, ``fcntl.flock``; released by the OS
when the process dies) stops two invocations from running the same sweep at once.

Before use, an existing ``sweep.sqlite`` is checked with ``PRAGMA integrity_check``
and its schema and sweep id are compared with the command's. A file that is not a
database of this sweep (not SQLite, shorter than SQLite's header, a database without
tables), or is corrupted, is refused with a one-line error and left byte for byte as
it was (an empty, 0-byte, file is used as a new database); nothing is written to an
existing database unless a point finishes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scenarios.framework import (
    atomic_text_file,
    count,
    ensure_output_dir,
    result_neutral_fields,
)
from scenarios.sweep_plan import (
    SWEEPS_DIRNAME,
    Point,
    SweepError,
    SweepPlan,
    _canonical,
    _dumps,
    _json_default,
    _plain,
)

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "CSV_FILENAME",
    "DB_FILENAME",
    "SPEC_FILENAME",
    "PointOutcome",
    "PointRow",
    "SweepStore",
    "edited_inputs_note",
]


DB_FILENAME = "sweep.sqlite"
SPEC_FILENAME = "sweep.json"
CSV_FILENAME = "sweep.csv"
LOCK_FILENAME = "sweep.lock"
RUNS_DIRNAME = "runs"

SCHEMA_VERSION = 1
"""Version of the ``points``/``meta`` schema stored in ``meta``."""

LOCK_WAIT_S = 2.0
"""How long a sweep waits for ``sweep.lock`` before it says another process runs the
sweep: a sweep just killed can leave a child that still holds the lock for a moment
(a worker polls for its parent every ``scenarios.pool.PARENT_POLL_S``; a subprocess
holds it until it execs), and the same command typed again at once should go on."""

LOCK_POLL_S = 0.05
"""How often a sweep tries ``sweep.lock`` again while it waits."""

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a commit waits for an outside reader (e.g. an sqlite3 shell) to let go."""

Status = Literal["ok", "failed"]
STATUS_OK: Status = "ok"
STATUS_FAILED: Status = "failed"

_SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE points (
    point_key   TEXT PRIMARY KEY,
    params      TEXT NOT NULL,
    repeat      INTEGER NOT NULL,
    seed        INTEGER,
    config      TEXT NOT NULL,
    summary     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error       TEXT,
    wall_time_s REAL NOT NULL,
    run_dir     TEXT,
    finished_at TEXT NOT NULL
);
"""
_POINT_COLUMNS = (
    "point_key",
    "params",
    "repeat",
    "seed",
    "config",
    "summary",
    "status",
    "error",
    "wall_time_s",
    "run_dir",
    "finished_at",
)
_UNTOUCHED = "it was left untouched; move it aside to start this sweep afresh"


# --------------------------------------------------------------------------- the database


@dataclasses.dataclass(frozen=True)
class PointOutcome:
    """What running one point produced (sent from a worker back to the client).

    Attributes
    ----------
    key : str
        The point's key.
    status : {"ok", "failed"}
    summary : dict
        The run's summary metrics (empty if it failed).
    wall_time_s : float
        Wall time of the whole run, including writing its run folder.
    run_dir : str or None
        Absolute path of the point's run folder.
    error : str or None
        ``"<ExceptionType>: <message>"`` if the run failed.
    """

    key: str
    status: Status
    summary: dict[str, Any]
    wall_time_s: float
    run_dir: str | None = None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class PointRow:
    """One row of the ``points`` table, decoded.

    Attributes
    ----------
    key, params, repeat, seed, config, summary, status, error, wall_time_s, run_dir,
    finished_at
        The columns of the table (JSON columns decoded).
    """

    key: str
    params: dict[str, Any]
    repeat: int
    seed: int | None
    config: dict[str, Any]
    summary: dict[str, Any]
    status: str
    error: str | None
    wall_time_s: float
    run_dir: str | None
    finished_at: str


class SweepStore:
    """The SQLite table of a sweep's finished points (see the module docstring).

    Open with :meth:`open`; use as a context manager. Only the client process
    writes; every :meth:`record` is one transaction.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    # -- opening ------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, sweep_id: str, spec: Mapping[str, object]) -> SweepStore:
        """Open (or create) the database of the sweep ``sweep_id`` at ``path``.

        An existing file is checked with ``PRAGMA integrity_check`` and must hold
        this sweep's tables and id; nothing is written to it here.

        Raises
        ------
        SweepError
            If the file is corrupted, not an SQLite database, belongs to another
            sweep or cannot be opened; the file is left untouched.
        """
        path = Path(path)
        if path.exists() and not path.is_file():
            raise SweepError(f"sweep database {str(path)!r} is not a regular file; {_UNTOUCHED}")
        _check_header(path)
        try:
            conn = sqlite3.connect(
                path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True
            )
        except sqlite3.Error as exc:
            raise SweepError(f"cannot open sweep database {str(path)!r}: {exc}") from None
        try:
            store = cls(conn, path)
            store._check_and_init(sweep_id=sweep_id, spec=spec)
        except BaseException:
            conn.close()
            raise
        return store

    def _check_and_init(self, *, sweep_id: str, spec: Mapping[str, object]) -> None:
        conn = self._conn
        where = f"sweep database {str(self.path)!r}"
        try:
            check = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as exc:
            raise SweepError(f"{where} is corrupted or not SQLite ({exc}); {_UNTOUCHED}") from None
        if check != ["ok"]:
            first = check[0] if check else "no answer"
            raise SweepError(
                f"{where} fails PRAGMA integrity_check ({first}; {len(check)} problem(s)); "
                f"{_UNTOUCHED}"
            )
        if not tables:
            if self.path.stat().st_size > 0:  # someone's database, not one this made
                raise SweepError(f"{where} is an SQLite database without tables; {_UNTOUCHED}")
            self._create(sweep_id=sweep_id, spec=spec)
            return
        if not {"meta", "points"} <= tables:
            raise SweepError(
                f"{where} is not a sweep database (tables: {sorted(tables)}); {_UNTOUCHED}"
            )
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(points)")}
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise SweepError(f"{where} cannot be read ({exc}); {_UNTOUCHED}") from None
        if not set(_POINT_COLUMNS) <= columns or meta.get("schema_version") != str(SCHEMA_VERSION):
            raise SweepError(
                f"{where} has schema version {meta.get('schema_version')!r} and columns "
                f"{sorted(columns)}; expected version {SCHEMA_VERSION}; {_UNTOUCHED}"
            )
        if meta.get("sweep_id") != sweep_id:
            raise SweepError(
                f"{where} belongs to sweep {meta.get('sweep_id')!r}, not {sweep_id!r}; {_UNTOUCHED}"
            )

    def _create(self, *, sweep_id: str, spec: Mapping[str, object]) -> None:
        conn = self._conn
        try:
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("sweep_id", sweep_id),
                    ("spec", _canonical(spec)),
                    ("created_at", _now()),
                ],
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise SweepError(f"cannot create sweep database {str(self.path)!r}: {exc}") from None

    # -- use ----------------------------------------------------------------

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (committed rows are already on disk)."""
        self._conn.close()

    def finished_keys(self) -> set[str]:
        """Keys of the points that finished successfully."""
        rows = self._conn.execute("SELECT point_key FROM points WHERE status = ?", (STATUS_OK,))
        return {row[0] for row in rows}

    def record(self, point: Point, outcome: PointOutcome, *, sweep_dir: Path) -> bool:
        """Write one finished point in its own transaction.

        A point already recorded as ``"ok"`` is never overwritten; a failed one is
        replaced by the new attempt.

        Returns
        -------
        bool
            Whether a row was inserted or replaced.
        """
        if outcome.key != point.key:
            raise ValueError(f"outcome key {outcome.key!r} does not match point {point.key!r}")
        run_dir = outcome.run_dir
        if run_dir is not None:
            try:
                run_dir = str(Path(run_dir).relative_to(sweep_dir))
            except ValueError:
                pass
        values = (
            point.key,
            _canonical(point.params),
            point.repeat,
            point.seed,
            _dumps(dataclasses.asdict(point.config)),
            _dumps(outcome.summary),
            outcome.status,
            outcome.error,
            float(outcome.wall_time_s),
            run_dir,
            _now(),
        )
        placeholders = ", ".join("?" for _ in _POINT_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _POINT_COLUMNS[1:])
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute(
                f"INSERT INTO points ({', '.join(_POINT_COLUMNS)}) VALUES ({placeholders}) "
                f"ON CONFLICT (point_key) DO UPDATE SET {updates} "
                f"WHERE points.status != '{STATUS_OK}'",
                values,
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return cursor.rowcount == 1

    def rows(self, keys: Iterable[str] | None = None) -> list[PointRow]:
        """Decoded rows, all or those of ``keys`` (in the order of ``keys``)."""
        cursor = self._conn.execute(f"SELECT {', '.join(_POINT_COLUMNS)} FROM points")
        by_key = {row[0]: _decode_row(row) for row in cursor.fetchall()}
        if keys is None:
            return list(by_key.values())
        return [by_key[key] for key in keys if key in by_key]


SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite 3 database file."""
SQLITE_HEADER_SIZE = 100
"""Bytes of an SQLite database header: a smaller file is no database."""


def _check_header(path: Path) -> None:
    """Refuse a file that is not empty and not an SQLite database.

    SQLite itself takes a file shorter than its 100-byte header for an empty database
    and writes its own over it; an empty (0-byte) file is one, and is used.
    """
    where = f"sweep database {str(path)!r}"
    try:
        with path.open("rb") as fh:
            head = fh.read(SQLITE_HEADER_SIZE)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SweepError(f"cannot read {where}: {exc.strerror or exc}; {_UNTOUCHED}") from None
    if not head:
        return
    if len(head) < SQLITE_HEADER_SIZE:
        why = f"{count(len(head), 'byte')}, shorter than an SQLite header"
    elif not head.startswith(SQLITE_HEADER):
        why = "it does not start with the SQLite header"
    else:
        return
    raise SweepError(f"{where} is not SQLite ({why}); {_UNTOUCHED}")


def _decode_row(row: Sequence[Any]) -> PointRow:
    return PointRow(
        key=row[0],
        params=json.loads(row[1]),
        repeat=int(row[2]),
        seed=None if row[3] is None else int(row[3]),
        config=json.loads(row[4]),
        summary=json.loads(row[5]),
        status=row[6],
        error=row[7],
        wall_time_s=float(row[8]),
        run_dir=row[9],
        finished_at=row[10],
    )


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------- the folder


def _check_sweep_dir(out_root: str | Path, plan: SweepPlan) -> None:
    """Refuse, without creating anything, a sweep folder that cannot be created: one of
    its existing ancestors is a file, or the nearest one is not writable."""
    folder = plan.folder(out_root).absolute()
    for ancestor in (folder, *folder.parents):
        if not ancestor.exists():
            continue
        if not ancestor.is_dir():
            raise SweepError(
                f"output folder {str(folder)!r} cannot be created: "
                f"{str(ancestor)!r} is a file, not a folder"
            )
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise SweepError(f"output folder {str(ancestor)!r} is not writable")
        return


def _prepare_sweep_dir(out_root: str | Path, plan: SweepPlan) -> Path:
    try:
        return ensure_output_dir(plan.folder(out_root).absolute())
    except (ValueError, OSError) as exc:
        raise SweepError(str(exc)) from None


class _FolderLock:
    """Exclusive advisory lock on ``sweep.lock`` (no-op where ``fcntl`` is missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> _FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SweepError(
                f"cannot create lock file {str(self.path)!r}: {exc.strerror or exc}"
            ) from None
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:  # held by another process: wait a little, then refuse
                if time.monotonic() < deadline:
                    time.sleep(LOCK_POLL_S)
                    continue
                os.close(fd)
                raise SweepError(
                    f"another process is running this sweep ({str(self.path.parent)!r} is locked)"
                ) from None
            except OSError as exc:  # no locks on this file system (some NFS mounts): say so
                os.close(fd)
                raise SweepError(
                    f"cannot lock {str(self.path)!r}: {exc.strerror or exc}; put the sweep "
                    "on a file system with file locks (--out)"
                ) from None
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def _atomic_write_text(path: Path, text: str) -> None:
    with atomic_text_file(path) as fh:
        fh.write(text)


#: Keys of a sweep's spec that hold the digests of the files it depends on (beyond the
#: package's code): those its configs name, and a user's scenario's source.
_FILE_DIGEST_KEYS = ("preset_digests", "dataset_digests", "scenario_sha256")


def _write_spec_once(sweep_dir: Path, plan: SweepPlan, argv: Sequence[str] | None) -> None:
    path = sweep_dir / SPEC_FILENAME
    if path.exists():
        return
    data = {
        "sweep_id": plan.sweep_id,
        "scenario": plan.scenario,
        "grid": {key: [_plain(v) for v in values] for key, values in plan.grid},
        "base_config": _plain(dataclasses.asdict(plan.base_config)),
        **({"scenario_module": plan.source} if plan.source is not None else {}),
        **{key: plan.spec[key] for key in _FILE_DIGEST_KEYS if key in plan.spec},
        "hash_of": (
            "sha256 of canonical JSON of {scenario, base_config, grid (sorted)"
            + "".join(f", {key}" for key in _FILE_DIGEST_KEYS if key in plan.spec)
            + "}"
            + _neutral_note(plan)
        ),
        "created_at": _now(),
        "argv": list(sys.argv if argv is None else argv),
    }
    _atomic_write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


#: How :func:`edited_inputs_note` names each kind of input-file digest.
_DIGEST_NAMES = {
    "scenario_sha256": "the study file",
    "dataset_digests": "dataset files",
    "preset_digests": "preset files",
}


def _spec_text(obj: object) -> Any:
    """``obj`` as sweep.json holds it (tuples as lists, numbers as JSON reads them)."""
    return json.loads(json.dumps(obj, default=_json_default))


def edited_inputs_note(out_root: str | Path, plan: SweepPlan) -> str | None:
    """For a new sweep: earlier sweeps of the same scenario, settings and grid whose
    input files differed (the user's study, dataset or preset files).

    A sweep's identity holds the digests of its input files, so editing one starts a
    new sweep from nothing, beside the old one; this says so, and where the old one is.

    Parameters
    ----------
    out_root : str or Path
        The results root (``--out``).
    plan : SweepPlan
        The new sweep.

    Returns
    -------
    str or None
        One line, or ``None`` if there is no such earlier sweep.
    """
    mine = _spec_text(
        {
            "scenario": plan.scenario,
            "grid": {key: [_plain(v) for v in values] for key, values in plan.grid},
            "base_config": _plain(dataclasses.asdict(plan.base_config)),
        }
    )
    digests = _spec_text({key: plan.spec.get(key) for key in _FILE_DIGEST_KEYS})
    prefix = plan.sweep_id.rsplit("-", 1)[0]
    found = []
    for spec_path in sorted(Path(out_root).glob(f"{SWEEPS_DIRNAME}/{prefix}-*/{SPEC_FILENAME}")):
        try:
            spec = json.loads(spec_path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(spec, dict) or spec_path.parent.name == plan.sweep_id:
            continue
        if any(spec.get(key) != value for key, value in mine.items()):
            continue
        changed = [name for key, name in _DIGEST_NAMES.items() if spec.get(key) != digests[key]]
        if changed:
            found.append(f"{spec_path.parent} ({' and '.join(changed)} differed)")
    if not found:
        return None
    return (
        f"this is a new sweep, because its input files changed: the same grid and settings "
        f"ran in {'; '.join(found)}, which is left as it was (a sweep's identity holds the "
        "digests of the files it reads)"
    )


def _neutral_note(plan: SweepPlan) -> str:
    """What sweep.json's ``hash_of`` adds for settings left out of the identity."""
    names = result_neutral_fields(type(plan.base_config))
    if not names:
        return ""
    return (
        f", where base_config has {', '.join(names)} at the scenario's unset value "
        "(the results do not depend on them)"
    )
