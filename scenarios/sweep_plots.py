"""The plot of a sweep: a summary metric against the first grid key (``sweep_<metric>.png``).

:func:`plot_sweep` draws the chosen summary metric (or several, ``--metric a,b``)
against the first grid key, one line per combination of the other grid keys: mean ±
standard deviation (ddof = 1) over the repeats (:func:`scenarios.sweep_metrics.aggregate`),
each axis labelled with its key and the unit the key's name gives
(:func:`scenarios.sweep_metrics.axis_label`). The private helpers choose the axes'
scales (:data:`LOG_X_MIN_DECADES`, :data:`LOG_Y_MIN_DECADES`,
:data:`LOG_Y_MAX_DECADES`), place the legend and thin out crowded tick labels.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scenarios.framework import (
    POINTS_PER_INCH,
    count,
    errorbars_above_floor,
    floor_handle,
    floor_markers,
    new_figure,
    save_figure,
)
from scenarios.sweep_metrics import (
    _numeric,
    aggregate,
    axis_label,
    describe_n,
    key_unit,
    metric_names,
)
from scenarios.sweep_plan import (
    SweepError,
    SweepPlan,
    _canonical,
    _format_value,
    _plain,
    describe_params,
)
from scenarios.sweep_store import (
    STATUS_OK,
    PointRow,
)

__all__ = [
    "LOG_X_MIN_DECADES",
    "LOG_Y_MAX_DECADES",
    "LOG_Y_MIN_DECADES",
    "plot_sweep",
]


PLOT_PREFIX = "sweep_"


def _single(value: object) -> Any:
    """The one item of a one-item tuple or list (a list setting swept one value per
    point); any other value as it is."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        return value[0]
    return value


def _safe_stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "metric"


LOG_X_MIN_DECADES = 2.0
"""A numeric x axis whose positive grid values span at least this many decades (such as
0.01, 0.1, 1) is logarithmic; with a 0 among them (0, 0.01, 0.1, 1), symmetric-log."""

LOG_Y_MIN_DECADES = 1.5
"""A y axis whose positive means span more decades than this is logarithmic (counting only
means within :data:`LOG_Y_MAX_DECADES` of the largest)."""

LOG_Y_MAX_DECADES = 8.0
"""On a log y axis, means further than this many decades below the largest (rounding such
as an ε of 1e-31) or 0 are drawn at a floor, not where they are."""


def _decades(values: Sequence[float]) -> float:
    """``log10(max / min)`` of positive values."""
    return math.log10(max(values) / min(values))


MAX_PLOT_STEM = 120
"""Longest file stem of a plot of several metrics before it is cut and given a hash."""

MAX_LEGEND_COLUMNS = 3
"""Most columns of the legend under a sweep plot (fewer if they do not fit its width)."""


def _plot_stem(metrics: Sequence[str]) -> str:
    stem = "__".join(_safe_stem(m) for m in metrics)
    if len(metrics) > 1 and len(stem) > MAX_PLOT_STEM:
        digest = hashlib.sha256("\n".join(metrics).encode("utf-8")).hexdigest()[:8]
        stem = f"{stem[: MAX_PLOT_STEM - 9]}-{digest}"
    return f"{PLOT_PREFIX}{stem}"


def _y_label(metrics: Sequence[str]) -> str:
    if len(metrics) == 1:
        return axis_label(metrics[0])
    units = {key_unit(m) for m in metrics}
    if len(units) == 1:
        (unit,) = units
        return f"value ({unit})" if unit else "value"
    return "value (units in legend)"


def _y_scale(means: Sequence[float]) -> tuple[bool, float | None]:
    """Whether a y axis of ``means`` is logarithmic, and its floor (``None``: none needed).

    Logarithmic if no mean is negative and the positive means within
    :data:`LOG_Y_MAX_DECADES` of the largest span more than :data:`LOG_Y_MIN_DECADES`.
    If some means are further down or 0, the floor is the power of ten one decade below
    the smallest of the others.
    """
    if not means or min(means) < 0:
        return False, None
    positive = [m for m in means if m > 0]
    if not positive:
        return False, None
    shown = [m for m in positive if m >= max(positive) * 10.0**-LOG_Y_MAX_DECADES]
    if _decades(shown) <= LOG_Y_MIN_DECADES:
        return False, None
    if len(shown) == len(means):
        return True, None
    return True, 10.0 ** (math.floor(math.log10(min(shown))) - 1)


def _x_scale(xs: Sequence[float]) -> Literal["linear", "log", "symlog"]:
    """The scale of a numeric x axis of grid values ``xs`` (see :func:`plot_sweep`)."""
    positive = [v for v in xs if v > 0]
    if len(positive) < 2 or _decades(positive) < LOG_X_MIN_DECADES:
        return "linear"
    if len(positive) == len(xs):
        return "log"
    return "symlog" if len(positive) == len(xs) - 1 and 0 in xs else "linear"


def _shifted(ax: Any, xs: Sequence[float], shift: float, lo: float, hi: float) -> list[float]:
    """``xs`` moved by ``shift`` times the axis's span ``lo .. hi``, in the axis's own scale
    (in decades on a log axis), so that lines side by side look equally far apart."""
    if not shift:
        return list(xs)
    scale = ax.xaxis.get_transform()
    ends = scale.transform(np.array([[lo], [hi]], dtype=float)).ravel()
    span = float(ends[1] - ends[0]) or 1.0
    moved = scale.transform(np.asarray(xs, dtype=float).reshape(-1, 1)) + shift * span
    return [float(v) for v in scale.inverted().transform(moved).ravel()]


def _legend_below(fig: Any, handles: list[Any], names: list[str]) -> None:
    """The legend under the axes, outside them (``loc="outside lower center"``), in as
    many columns (up to :data:`MAX_LEGEND_COLUMNS`) as fit the figure's width; the
    figure grows by the legend's height, so that the axes keep theirs."""
    for ncols in range(min(len(names), MAX_LEGEND_COLUMNS), 0, -1):
        legend = fig.legend(
            handles, names, fontsize="small", loc="outside lower center", ncols=ncols
        )
        box = legend.get_window_extent()
        if ncols == 1 or box.width <= fig.bbox.width:
            break
        legend.remove()
    fig.set_figheight(fig.get_figheight() + box.height / fig.dpi)


def plot_sweep(
    rows: Sequence[PointRow],
    plan: SweepPlan,
    out_dir: Path,
    *,
    metric: str | Sequence[str],
) -> list[Path]:
    """Plot ``metric`` against the first grid key, one line per other combination.

    Markers are the mean over the repeats, error bars ± one standard deviation
    (ddof = 1; none for a single repeat). Several metrics (a sequence, or names
    separated by commas) share the axis, one line per metric and combination of the
    other grid keys, with the units in the legend. A numeric first key — or a list
    setting given one number per point, such as ``(0.01),(0.05)`` — is drawn on a
    numeric axis with a tick at every grid value, labelled with the number (a label
    that would run into the one before it is left out, its tick kept: on a linear axis
    ports 2, 4, 8 … 128 read "24", and noise 0.05, 0.1 "0.050.1"), any other as
    categories in the order of the grid. The scales:

    - x is logarithmic if its values are all positive and span at least
      :data:`LOG_X_MIN_DECADES` decades; if one of them is 0 and the others are so
      (a noise sweep 0, 0.01, 0.1), symmetric-log: linear from 0 to the smallest
      positive value, which takes about one decade's width, logarithmic above;
      linear otherwise;
    - y is logarithmic when no mean is negative and the positive means span more
      than :data:`LOG_Y_MIN_DECADES` decades (gradient errors, energies), counting
      only those within :data:`LOG_Y_MAX_DECADES` decades of the largest; linear
      otherwise. Means below that range (0, or rounding such as an ε of 1e-31 next
      to 0.07) are then drawn at a floor, the power of ten one decade below the
      smallest other mean, as hollow ▽ not joined to their line, and the legend and
      title say so (``means < 1e-05 drawn at that floor as ▽``); error bars stop
      above the floor.

    Several lines are drawn side by side, shifted by up to ±1.5 % of the x axis (of its
    decades on a log axis), so that equal values stay visible. The legend, if there is
    one, sits under the axes, where it covers no point.
    If some points failed, the title says so (``2 of 6 points failed``): their lines
    lack those points or rest on fewer repeats. Saved as ``sweep_<metric>.png``/``.svg``
    (``sweep_<a>__<b>`` for several).

    Returns
    -------
    list of Path
        ``[png, svg]``.
    """
    metrics = metric_names(metric)
    if not metrics:
        raise SweepError("plot_sweep needs at least one metric")
    first = plan.grid_keys[0]
    first_values = dict(plan.grid)[first]
    numeric_x = all(_numeric(_single(v)) for v in first_values)
    positions = {_canonical(v): i for i, v in enumerate(first_values)}
    lines: dict[str, tuple[str, list[tuple[float, float, float]]]] = {}
    ns: list[int] = []
    for name in metrics:
        for others, x, mean, std, n in aggregate(rows, plan, name):
            if len(metrics) == 1:
                label = describe_params(others) if others else name
            else:  # the unit of each line, as the y label cannot name them all
                label = axis_label(name) + (f", {describe_params(others)}" if others else "")
            xpos = float(_single(x)) if numeric_x else float(positions[_canonical(_plain(x))])
            line_key = _canonical([name, others])
            lines.setdefault(line_key, (label, []))[1].append((xpos, mean, std))
            ns.append(n)

    fig = new_figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    if numeric_x:
        xs_all = [float(_single(v)) for v in first_values]
        x_scale = _x_scale(xs_all)
        if x_scale == "symlog":
            ax.set_xscale("symlog", linthresh=min(v for v in xs_all if v > 0))
        elif x_scale == "log":
            ax.set_xscale("log")
        x_lo, x_hi = min(xs_all), max(xs_all)
    else:
        x_lo, x_hi = 0.0, float(max(len(first_values) - 1, 1))
    all_means = [p[1] for _, points in lines.values() for p in points]
    log_y, floor = _y_scale(all_means)
    if log_y:
        ax.set_yscale("log")
    markers = "osD^vP*X"
    at_floor: dict[str, Any] = {}
    colors: dict[str, str] = {}
    for i, (label, points) in enumerate(lines.values()):
        points.sort()
        shift = 0.03 * (i / (len(lines) - 1) - 0.5) if len(lines) > 1 else 0.0
        xs = _shifted(ax, [p[0] for p in points], shift, x_lo, x_hi)
        means = np.array([p[1] for p in points])
        stds = np.array([0.0 if math.isnan(p[2]) else p[2] for p in points])
        yerr: Any = stds
        if log_y:
            cut = floor if floor is not None else 0.5 * float(means.min())
            shown, yerr = errorbars_above_floor(means, stds, cut)
            below = means < cut
            means = np.where(below, np.nan, shown)  # not joined: no slope from the floor
            at_floor[label] = np.asarray(xs)[below]
        color = f"C{i % 10}"
        colors[label] = color
        ax.errorbar(
            xs,
            means,
            yerr=yerr,
            marker=markers[i % len(markers)],
            capsize=3,
            color=color,
            label=label,
        )
    below_floor = floor is not None and any(len(v) for v in at_floor.values())
    if below_floor:
        assert floor is not None
        floor_markers(ax, at_floor, colors, floor)
    if numeric_x:
        # the number, not "(0.01)": a one-item list setting sits at its value
        ax.set_xticks(xs_all, [_format_value(_single(v)) for v in first_values])
        ax.xaxis.minorticks_off()  # only x: a log y axis keeps its minor ticks
    else:
        ax.set_xticks(range(len(first_values)))
        ax.set_xticklabels([_format_value(v) for v in first_values])
    ax.set_xlabel(axis_label(first))
    ax.set_ylabel(_y_label(metrics))
    handles, names = ax.get_legend_handles_labels()
    if below_floor:
        handles.append(floor_handle())
        names.append(f"< {floor:g}, at the floor")
    if below_floor or len(lines) > 1 or (lines and (plan.grid_keys[1:] or len(metrics) > 1)):
        # below the axes: inside them, even at its "best" place, it covered points when
        # the lines filled every corner
        _legend_below(fig, handles, names)
    ax.grid(True, alpha=0.3)
    over = describe_n(rows, plan, ns)
    if below_floor:
        over += f"; means < {floor:g} drawn at that floor as ▽"
    n_failed = sum(1 for row in rows if row.status != STATUS_OK)
    if n_failed:  # their combinations are missing or rest on fewer repeats
        over += f"; {n_failed} of {count(len(rows), 'point')} failed"
    what = metrics[0] if len(metrics) == 1 else f"{len(metrics)} metrics"
    ax.set_title(f"{plan.scenario}: {what} vs {first} ({over})", fontsize="medium", wrap=True)
    if not lines:
        ax.text(0.5, 0.5, "no finished points", ha="center", va="center", transform=ax.transAxes)
    if numeric_x:
        _drop_crowded_tick_labels(fig, ax)
    return save_figure(fig, out_dir, _plot_stem(metrics))


TICK_LABEL_GAP_PT = 3.0
"""Least space between two x tick labels of a sweep plot, points."""


def _drop_crowded_tick_labels(fig: Any, ax: Any) -> None:
    """Blank every x tick label that would overlap the last one kept, left to right.

    Run on the finished figure (its layout done first: it sets where the ticks land).
    """
    fig.draw_without_rendering()
    gap_px = TICK_LABEL_GAP_PT * fig.dpi / POINTS_PER_INCH
    ticks, texts = list(ax.get_xticks()), ax.get_xticklabels()
    labels = [t.get_text() for t in texts]
    boxes = [t.get_window_extent() for t in texts]
    kept_right = -math.inf
    for i in sorted(range(len(ticks)), key=lambda k: boxes[k].x0):
        if not labels[i]:
            continue
        if boxes[i].x0 < kept_right + gap_px:
            labels[i] = ""
        else:
            kept_right = boxes[i].x1
    ax.set_xticks(ticks, labels)  # through the formatter: a Text edited alone is redrawn
