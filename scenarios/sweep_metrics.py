"""What a sweep reports about its rows: the numeric summary keys, which of them vary,
their mean ± std per grid combination, and the units their names give.

Every function here reads the decoded table (:class:`scenarios.sweep_store.PointRow`)
and, where the grid's order matters, the :class:`scenarios.sweep_plan.SweepPlan`.
:func:`default_metric` picks what a sweep plots when ``--metric`` is not given
(:func:`metric_names` reads it when it is); :func:`aggregate` gives the mean and
standard deviation (ddof = 1) over the repeats of each grid combination,
:func:`format_aggregate` the console's table of them and :func:`describe_n` what
those statistics are over (the sweep's repeats, and the seeds a scenario averages
inside each run); :func:`axis_label` writes a key with the unit its name gives
(:func:`key_unit`: ``loss_db_per_mzi (dB/MZI)``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scenarios.framework import (
    VARYING_ATOL,
    VARYING_RTOL,
    count,
    format_pm,
)
from scenarios.sweep_plan import (
    SweepError,
    SweepPlan,
    _canonical,
    describe_params,
)
from scenarios.sweep_store import (
    STATUS_OK,
    PointRow,
)

__all__ = [
    "UNITLESS_PREFIXES",
    "UNIT_SYMBOLS",
    "aggregate",
    "axis_label",
    "default_metric",
    "describe_n",
    "format_aggregate",
    "key_unit",
    "metric_names",
    "n_grid_points",
    "numeric_summary_keys",
    "partly_numeric_keys",
    "scenario_seeds",
    "varying_metrics",
]


def _numeric(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numeric_summary_keys(rows: Sequence[PointRow]) -> list[str]:
    """Summary keys whose value is a number in every successful row, in first-seen order."""
    ok = [row for row in rows if row.status == STATUS_OK]
    keys: dict[str, None] = {}
    for row in ok:
        for key in row.summary:
            keys.setdefault(key, None)
    return [k for k in keys if all(_numeric(row.summary.get(k)) for row in ok)]


def partly_numeric_keys(rows: Sequence[PointRow]) -> list[str]:
    """Summary keys that are a number in some successful rows but not in every one
    (the name of a key that holds a setting's value, ``y_1`` and ``y_2``), sorted."""
    every = set(numeric_summary_keys(rows))
    ok = [row for row in rows if row.status == STATUS_OK]
    some = {key for row in ok for key, value in row.summary.items() if _numeric(value)}
    return sorted(some - every)


def _is_timing(key: str) -> bool:
    """A wall-clock key (``wall_time_s``, ``…_wall_s``): it differs between points
    whatever the grid changes, so it is no default metric."""
    return "wall" in key


def n_grid_points(rows: Sequence[PointRow]) -> int:
    """Distinct grid points among ``rows`` (the repeats of a point count once)."""
    return len({_canonical(row.params) for row in rows})


# VARYING_RTOL, VARYING_ATOL (scenarios.stats): means closer than these count as
# equal in varying_metrics: a key that differs only by floating-point rounding between
# grid points (an ε of 0 against 1e-18) does not vary.


def varying_metrics(rows: Sequence[PointRow]) -> list[str]:
    """Numeric summary keys, wall times aside, whose mean over the repeats differs between
    grid points by more than rounding (:data:`VARYING_RTOL`; a key that only the seed
    moves does not count; NaN is left out)."""
    ok = [row for row in rows if row.status == STATUS_OK]
    varying = []
    for key in numeric_summary_keys(rows):
        if _is_timing(key):
            continue
        by_point: dict[str, list[float]] = {}
        for row in ok:
            value = float(row.summary[key])
            if not math.isnan(value):
                by_point.setdefault(_canonical(row.params), []).append(value)
        means = [float(np.mean(values)) for values in by_point.values()]
        if means and not np.allclose(means, means[0], rtol=VARYING_RTOL, atol=VARYING_ATOL):
            varying.append(key)
    return varying


def default_metric(rows: Sequence[PointRow]) -> str | None:
    """The first summary key that holds a float in every successful row and whose mean
    differs between grid points (:func:`varying_metrics`); if none does, the first
    float key.

    A scenario lists its headline number first, but a headline that the grid does not
    change (or whose name the grid changes, so that the points do not share it) would
    plot a flat line. Integer-valued keys (counts such as ``n_params``) are skipped
    when there is a float one; if there is none, the first numeric key; ``None`` if no
    key is numeric.
    """
    numeric = numeric_summary_keys(rows)
    ok = [row for row in rows if row.status == STATUS_OK]
    floats = [k for k in numeric if any(isinstance(row.summary.get(k), float) for row in ok)]
    varying = set(varying_metrics(rows))
    for key in floats:
        if key in varying:
            return key
    if floats:
        return floats[0]
    return numeric[0] if numeric else None


def metric_names(metric: str | Sequence[str] | None) -> tuple[str, ...]:
    """The summary keys of ``--metric``: one name, or several separated by commas.

    Parameters
    ----------
    metric : str, sequence of str or None
        ``"a"``, ``"a,b"`` or ``["a", "b"]``; ``None`` gives ``()`` (the default metric).

    Returns
    -------
    tuple of str
        The names in order, each once.

    Raises
    ------
    SweepError
        If a name is empty (``"a,,b"``, ``""``).
    """
    if metric is None:
        return ()
    items = [metric] if isinstance(metric, str) else list(metric)
    names: list[str] = []
    for item in items:
        for name in str(item).split(","):
            if not name.strip():
                raise SweepError(
                    f"--metric {item!r} has an empty name; give NAME or NAME1,NAME2,..."
                )
            if name.strip() not in names:
                names.append(name.strip())
    return tuple(names)


def _check_metric(metric: str, rows: Sequence[PointRow]) -> None:
    numeric = numeric_summary_keys(rows)
    if metric not in numeric:
        shown = ", ".join(numeric) or "none"
        raise SweepError(f"--metric {metric!r} is not a numeric summary key; available: {shown}")


def aggregate(
    rows: Sequence[PointRow], plan: SweepPlan, metric: str
) -> list[tuple[dict[str, Any], Any, float, float, int]]:
    """Mean and standard deviation of ``metric`` over the repeats of each combination.

    Returns
    -------
    list of (others, x, mean, std, n)
        ``others``: values of the grid keys after the first; ``x``: value of the
        first grid key; ``std`` uses ddof = 1 and is NaN for a single repeat; ``n`` is
        the number of finished repeats with a finite value. Combinations without any
        such repeat are left out. Ordered like the plan.
    """
    first, *rest = plan.grid_keys
    values: dict[str, list[float]] = {}
    labels: dict[str, tuple[dict[str, Any], Any]] = {}
    for row in rows:
        combo_key = _canonical(row.params)
        labels.setdefault(combo_key, ({k: row.params[k] for k in rest}, row.params[first]))
        value = row.summary.get(metric) if row.status == STATUS_OK else None
        if _numeric(value) and math.isfinite(float(value)):  # type: ignore[arg-type]
            values.setdefault(combo_key, []).append(float(value))  # type: ignore[arg-type]
    out = []
    for combo_key, (others, x) in labels.items():
        data = values.get(combo_key)
        if not data:
            continue
        arr = np.asarray(data)
        std = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
        out.append((others, x, float(arr.mean()), std, int(arr.size)))
    return out


UNIT_SYMBOLS: dict[str, str] = {
    "pct": "%",
    "db": "dB",
    "dbm": "dBm",
    "rad": "rad",
    "s": "s",
    "ms": "ms",
    "us": "µs",
    "ns": "ns",
    "ps": "ps",
    "pj": "pJ",
    "fj": "fJ",
    "nj": "nJ",
    "w": "W",
    "mw": "mW",
    "uw": "µW",
    "nw": "nW",
    "nm": "nm",
    "hz": "Hz",
    "mhz": "MHz",
    "ghz": "GHz",
    "mb": "MB",
    "bytes": "bytes",
}
"""Unit tokens of setting and summary names (``loss_db``, ``latency_ns``, ``energy_pj``,
``acc_mean_pct_…``) and how an axis label writes them."""

_PER_NAMES = {"mzi": "MZI", "mac": "MAC", "flop": "FLOP", "tops": "TOPS"}
"""How the other side of ``<unit>_per_<thing>`` / ``<thing>_per_<unit>`` is written."""

UNITLESS_PREFIXES: tuple[str, ...] = ("eps_",)
"""Keys that are ratios whatever units their name mentions: ``eps_phase_noise_rad_…`` is
a relative gradient error, the ``rad`` belongs to the swept factor."""


def _per_name(token: str) -> str:
    return UNIT_SYMBOLS.get(token) or _PER_NAMES.get(token, token)


def key_unit(key: str) -> str | None:
    """The unit a setting or summary key names, or ``None``.

    The key is split on ``_``; its first token that is a unit of :data:`UNIT_SYMBOLS`
    is the unit, joined with its ``per`` neighbour if it has one: ``loss_db_per_mzi``
    -> ``dB/MZI``, ``events_per_s`` -> ``events/s``, ``acc_mean_pct_moons_…`` -> ``%``,
    ``latency_ns`` -> ``ns``. Keys starting with one of :data:`UNITLESS_PREFIXES` have
    none.
    """
    if key.startswith(UNITLESS_PREFIXES):
        return None
    tokens = key.split("_")
    for i, token in enumerate(tokens):
        symbol = UNIT_SYMBOLS.get(token)
        if symbol is None:
            continue
        if i + 2 < len(tokens) and tokens[i + 1] == "per":
            return f"{symbol}/{_per_name(tokens[i + 2])}"
        if i >= 2 and tokens[i - 1] == "per":
            return f"{_per_name(tokens[i - 2])}/{symbol}"
        return symbol
    return None


def axis_label(key: str) -> str:
    """The key as it is, with its unit (:func:`key_unit`) in parentheses:
    ``"loss_db_per_mzi (dB/MZI)"``, ``"acc_mean_pct_moons_on_chip_in_situ (%)"``;
    the bare key if it names no unit."""
    unit = key_unit(key)
    return f"{key} ({unit})" if unit else key


SCENARIO_SEEDS_FIELD = "n_seeds"
"""A scenario setting that makes one run average several seeds of its own (drawn from the
run's ``seed``): insitu_training, compare and pai2023 have it."""


def scenario_seeds(rows: Sequence[PointRow]) -> tuple[int, int] | None:
    """Smallest and largest ``n_seeds`` of the successful points' configs: how many seeds
    each run (each repeat) averages internally; ``None`` if the scenario has no such
    setting."""
    ints: list[int] = []
    for row in rows:
        value = row.config.get(SCENARIO_SEEDS_FIELD) if row.status == STATUS_OK else None
        if isinstance(value, int) and not isinstance(value, bool):
            ints.append(value)
    return (min(ints), max(ints)) if ints else None


def _span(lo: int, hi: int) -> str:
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def describe_n(rows: Sequence[PointRow], plan: SweepPlan, ns: Sequence[int]) -> str:
    """What the statistics of a point are over, for titles and tables.

    The sweep's repeats (``--repeat``: independent runs of a point with seeds ``seed +
    k``) are what ``n`` counts and what the spread is over; a scenario with an
    ``n_seeds`` setting also averages that many seeds of its own inside each run, so
    3 repeats of ``n_seeds=2`` are 3 numbers, each already a mean over 2 seeds.

    Parameters
    ----------
    rows : sequence of PointRow
        The points (their configs give ``n_seeds``).
    plan : SweepPlan
    ns : sequence of int
        The number of finished repeats of each plotted point (``n`` of
        :func:`aggregate`).

    Returns
    -------
    str
        E.g. ``"mean ± std over 3 repeats; each runs the scenario's n_seeds=2 seeds"``,
        ``"1 repeat, one seed"``.
    """
    lo, hi = (min(ns), max(ns)) if ns else (plan.repeat, plan.repeat)
    repeats = f"{_span(lo, hi)} repeat{'' if hi == 1 else 's'}"
    head = f"mean ± std over {repeats}" if hi > 1 else repeats
    seeds = scenario_seeds(rows)
    if seeds is not None and seeds[1] > 1:
        each = "each runs" if hi > 1 else "it runs"
        return f"{head}; {each} the scenario's {SCENARIO_SEEDS_FIELD}={_span(*seeds)} seeds"
    if "seed" not in {f.name for f in dataclasses.fields(plan.base_config)}:
        return head
    return f"{head}, one seed each" if hi > 1 else f"{head}, one seed"


def format_aggregate(rows: Sequence[PointRow], plan: SweepPlan, metric: str) -> str:
    """A small text table of ``metric`` (mean ± std, n) per grid combination.

    ``n`` counts the sweep's repeats (``n=3 repeats``); when each run also averages
    the scenario's own ``n_seeds`` seeds, a last line says so (:func:`describe_n`).
    """
    lines = []
    first = plan.grid_keys[0]
    stats = aggregate(rows, plan, metric)
    for others, x, mean, std, n in stats:
        combo = describe_params({first: x, **others})
        lines.append(f"  {combo}: {format_pm(mean, std)} (n={count(n, 'repeat')})")
    if not lines:
        return "  (no finished points)"
    seeds = scenario_seeds(rows)
    if seeds is not None and seeds[1] > 1:
        lines.append(f"  ({describe_n(rows, plan, [n for *_, n in stats])})")
    return "\n".join(lines)
