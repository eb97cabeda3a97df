"""The scenarios' figures: made without pyplot, saved as PNG and SVG, log axes with a floor.

:func:`new_figure` makes a matplotlib ``Figure`` that is never shown, and
:func:`save_figure` saves it into a run folder (after the scenario has written
``metrics.csv``, so that a figure that cannot be drawn keeps the numbers). On a log
axis, values below a floor (0, or rounding such as an ε of 1e-31) are drawn as hollow
▽ at the floor (:func:`floor_markers`, with the legend entry :func:`floor_handle`),
and ± bars are cut to end above it (:func:`errorbars_above_floor`).

matplotlib is imported only when a figure is made or drawn on. This module imports
nothing of :mod:`scenarios` but the run folder's file names
(:mod:`scenarios.run_files`); :mod:`scenarios.framework` re-exports its names.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scenarios.run_files import METRICS_FILENAME

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

__all__ = [
    "FLOOR_MARKER_MARGIN",
    "FLOOR_MARKER_SPACING_PT",
    "POINTS_PER_INCH",
    "errorbars_above_floor",
    "floor_handle",
    "floor_markers",
    "new_figure",
    "save_figure",
]


def new_figure(**kwargs: Any) -> Figure:
    """A matplotlib ``Figure`` detached from pyplot (nothing is ever shown).

    Keyword arguments go to ``matplotlib.figure.Figure`` (e.g. ``figsize``,
    ``layout="constrained"``). Saving uses the Agg/SVG renderers.
    """
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def save_figure(fig: Figure, out_dir: str | Path, stem: str) -> list[Path]:
    """Save ``fig`` as ``out_dir/<stem>.png`` and ``.svg``, then close it.

    Returns
    -------
    list of Path
        ``[png_path, svg_path]``.

    Raises
    ------
    ValueError
        If matplotlib cannot draw the figure's values, finite but near float64's limit
        (its axis arithmetic overflows: a traceback from deep inside matplotlib
        before). The scenarios write ``metrics.csv`` before their plots, so the
        numbers are kept.
    """
    out = Path(out_dir)
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    try:
        with np.errstate(over="ignore"):  # matplotlib's own overflow: refused below if fatal
            fig.savefig(paths[0], dpi=150)
            fig.savefig(paths[1])
    except OverflowError as exc:  # e.g. a log axis spanning ~1e286: its ticks overflow
        raise ValueError(
            f"the figure {stem!r} cannot be drawn: its values are too large for matplotlib "
            f"({exc}); the numbers are in {METRICS_FILENAME}"
        ) from exc
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(fig)
    return paths


FLOOR_MARKER_SPACING_PT = 6.0
"""Sideways distance, points, between the ▽ of successive lines at a log axis's floor
(the ▽ of all lines would sit on top of each other at one x otherwise)."""
FLOOR_MARKER_MARGIN = 0.08
"""x margin (fraction of the data range) of a panel with side-by-side ▽ (default 0.05)."""
POINTS_PER_INCH = 72.0
"""Typographic points per inch (matplotlib's unit of marker sizes and offsets)."""


def floor_handle() -> Line2D:
    """A legend entry that looks like the ▽ of :func:`floor_markers`, in grey."""
    from matplotlib.lines import Line2D

    return Line2D([], [], ls="none", marker="v", ms=5, mfc="none", color="0.3")


def floor_markers(
    ax: Axes, at_floor: Mapping[str, Any], colors: Mapping[str, str], floor: float
) -> None:
    """Hollow ▽ at ``(x, floor)`` for every line and every ``x`` where its value is below
    the floor of a log axis (0, or rounding such as an ε of 1e-31).

    Each line of ``at_floor`` (name -> array of its x below the floor) has its own slot,
    :data:`FLOOR_MARKER_SPACING_PT` from the next, the slots centred on ``x`` in the
    order given, so that the ▽ of lines that share an ``x`` do not hide each other, and
    a line's ▽ are in one place wherever they are. The shift is in points, the same on
    linear and log axes; the data of each marker stay the true ``x``. ``colors``: name
    -> colour of the line.
    """
    from matplotlib.transforms import ScaledTranslation

    names = [m for m, xs in at_floor.items() if len(xs)]
    if len(names) > 1:  # room for the outer slots inside the axis ends
        ax.margins(x=FLOOR_MARKER_MARGIN)
    for slot, name in enumerate(names):
        shift_pt = (slot - (len(names) - 1) / 2) * FLOOR_MARKER_SPACING_PT
        (markers,) = ax.plot(
            at_floor[name],
            np.full(len(at_floor[name]), floor),
            "v",
            ms=5,
            mfc="none",
            color=colors[name],
            label="_nolegend_",
            clip_on=False,  # the outer slots may reach past the axis ends
        )
        # shifted after plotting, so that the axis limits take the points where they are
        shift = ScaledTranslation(shift_pt / POINTS_PER_INCH, 0.0, ax.figure.dpi_scale_trans)
        markers.set_transform(ax.transData + shift)


def errorbars_above_floor(means: Any, errors: Any, floor: float) -> tuple[Any, Any]:
    """Means clipped at ``floor`` and asymmetric ± bars that stay above it (log axes).

    Returns
    -------
    shown : numpy.ndarray
        ``max(means, floor)``.
    yerr : numpy.ndarray
        ``(2, n)``: the lower bars, cut to end above ``floor / 2``, and the upper bars
        (matplotlib's ``yerr``).
    """
    shown = np.maximum(means, floor)
    lower = np.clip(np.minimum(errors, shown - 0.5 * floor), 0.0, None)
    return shown, np.vstack([lower, errors])
