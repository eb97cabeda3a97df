"""The tidy export of a sweep's table (``sweep.csv``) and the code each point ran on.

:func:`write_sweep_csv` writes one line per (point, summary metric) of the current
command's points, with numbers only in its ``value`` column, so that a table program
reads it as a numeric column. Its ``code`` column is the version of the code each
point ran on, read from the point's manifest (:func:`point_code`); a sweep whose
points ran on more than one version (resumed after ``git pull`` or an edit, or on
Dask workers with other code) says so in one warning line (:func:`mixed_code`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from scenarios.framework import (
    MANIFEST_FILENAME,
    atomic_text_file,
)
from scenarios.sweep_metrics import _numeric
from scenarios.sweep_plan import (
    SweepPlan,
    _json_default,
    _plain,
)
from scenarios.sweep_store import (
    STATUS_OK,
    PointRow,
)

__all__ = [
    "mixed_code",
    "point_code",
    "write_sweep_csv",
]


def point_code(sweep_dir: Path, row: PointRow) -> str:
    """The code a finished point ran on, from its run folder's ``manifest.json``.

    ``"<version> <commit>"`` (the commit's first 12 hex digits), with ``" dirty"`` if
    the working tree had uncommitted changes (which the commit does not identify);
    ``"<version>"`` outside a git repository; then, for a scenario of the user's own,
    ``" study <sha256>"`` (the first 12 hex digits of its source file's digest, which
    the commit does not cover: a study edited while its sweep runs shows here);
    ``""`` if the point did not finish or its manifest cannot be read.

    Parameters
    ----------
    sweep_dir : Path
        The sweep folder (``row.run_dir`` is relative to it).
    row : PointRow
        A row of the sweep's table.
    """
    if row.status != STATUS_OK or not row.run_dir:
        return ""
    try:
        manifest = json.loads((sweep_dir / row.run_dir / MANIFEST_FILENAME).read_text("utf-8"))
    except (OSError, ValueError):
        return ""
    if not isinstance(manifest, dict):
        return ""
    code = str(manifest.get("version", "unknown"))
    commit = manifest.get("git_commit")
    if isinstance(commit, str) and commit:
        code += f" {commit[:12]}" + (" dirty" if manifest.get("git_dirty") else "")
    study = manifest.get("scenario_module")
    if isinstance(study, dict) and isinstance(study.get("sha256"), str) and study["sha256"]:
        code += f" study {study['sha256'][:12]}"
    return code


def mixed_code(codes: Iterable[str]) -> str | None:
    """A one-line warning if the points ran on more than one version of the code.

    A resumed sweep (after ``git pull``, or an edit) and a Dask cluster whose workers
    run other code both add points to the same table: each run's manifest says what
    it ran, and this says that they differ. Unknown codes (``""``) are left out.

    Parameters
    ----------
    codes : iterable of str
        :func:`point_code` of every point.

    Returns
    -------
    str or None
    """
    counts: dict[str, int] = {}
    for code in codes:
        if code:
            counts[code] = counts.get(code, 0) + 1
    if len(counts) < 2:
        return None
    listed = ", ".join(f"{code!r} ×{n}" for code, n in counts.items())
    return (
        f"the points of this sweep ran on {len(counts)} versions of the code ({listed}); "
        "their results may not be comparable: sweep.csv's code column says which point "
        "ran on which"
    )


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_plain(value), default=_json_default)
    return value


def write_sweep_csv(
    rows: Sequence[PointRow],
    plan: SweepPlan,
    path: Path,
    *,
    codes: Mapping[str, str] | None = None,
) -> Path:
    """Write the tidy table: one line per (point, summary metric).

    Columns: the grid keys, ``repeat``, ``seed``, ``status``, ``wall_time_s``,
    ``run_dir``, ``code``, ``metric``, ``value``, ``text``, ``error``. ``code`` is the
    version of the code each point ran on (``codes[row.key]``, from
    :func:`point_code`; empty if not given). ``value`` holds numbers
    only (or nothing), so that a table program (``pandas.read_csv``) reads it as a
    numeric column: a summary value that is not a number (a sentence, a ``mean ±
    std`` string, a method's name) is written in ``text``, with ``value`` empty. A
    failed point has one line with ``metric``, ``value`` and ``text`` empty and its
    error in ``error``. A fixed column whose name is also a grid key is written as
    ``point_<name>``: with ``--grid seed=…`` the ``seed`` column holds the grid value
    and ``point_seed`` the seed the point ran with (grid value plus its repeat
    index). List values are written as JSON (``[16, 16]``), which ``--set``/``--grid``
    accept back. Written atomically.
    """
    fixed = [
        "repeat", "seed", "status", "wall_time_s", "run_dir", "code", "metric", "value", "text",
        "error",
    ]  # fmt: skip
    codes = codes or {}
    columns = [*plan.grid_keys]
    columns += [f"point_{name}" if name in plan.grid_keys else name for name in fixed]
    with atomic_text_file(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            head = [_cell(row.params.get(key)) for key in plan.grid_keys]
            head += [row.repeat, _cell(row.seed), row.status, row.wall_time_s, _cell(row.run_dir)]
            head.append(codes.get(row.key, ""))
            if row.status != STATUS_OK:
                writer.writerow([*head, "", "", "", row.error or ""])
                continue
            for metric, value in row.summary.items():
                if _numeric(value):
                    writer.writerow([*head, metric, value, "", ""])
                else:
                    writer.writerow([*head, metric, "", _cell(value), ""])
    return path
