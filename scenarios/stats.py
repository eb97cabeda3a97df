"""Summaries of repeated measurements (seeds, draws) that tables, plots and sweeps share.

:func:`sample_std` is the one estimate of spread (``ddof = 1``) behind every "± std";
:func:`curve_band` gives the mean and spread over seeds of curves;
:data:`VARYING_RTOL` and :data:`VARYING_ATOL` are the tolerances within which two
values differ by floating-point rounding only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["VARYING_ATOL", "VARYING_RTOL", "curve_band", "sample_std"]


#: Values closer than this (relative), or than :data:`VARYING_ATOL` (absolute), differ only
#: by floating-point rounding: a sweep's key that varies no more between grid points does
#: not vary (:func:`scenarios.sweep_metrics.varying_metrics`). A spread of repeats no
#: larger than the relative tolerance alone is shown as 0
#: (:func:`scenarios.formatting.format_pm`).
VARYING_RTOL = 1e-9
VARYING_ATOL = 1e-15


def sample_std(values: Any, *, axis: int | None = None) -> Any:
    """Spread of repeated measurements (seeds, draws): the sample standard deviation.

    ``ddof = 1``, the same estimate as a sweep's ``std`` column, so that every "± std"
    of a table, a plot and a sweep means the same. Fewer than two values measure no
    spread: 0.0 here (tables then show the mean alone or say ``n=1``), where a sweep
    stores NaN.

    Parameters
    ----------
    values
        Array-like of numbers.
    axis
        ``None``: over all values, a float; else over that axis (e.g. seeds × epochs
        curves with ``axis=0``), an array.
    """
    arr = np.asarray(values, dtype=np.float64)
    n = arr.size if axis is None else arr.shape[axis]
    if n < 2:
        return 0.0 if axis is None else np.zeros_like(arr.mean(axis=axis))
    return float(arr.std(ddof=1)) if axis is None else arr.std(axis=axis, ddof=1)


def curve_band(
    by_seed: Mapping[Any, Sequence[tuple[float, float]]],
) -> tuple[Any, Any, Any]:
    """Mean and :func:`sample_std` over seeds of curves given as ``(x, value)`` points.

    Each seed's points are sorted by ``x`` and all curves cut to the shortest one.

    Returns
    -------
    x, mean, std : numpy.ndarray
        ``(n_points,)`` each; ``x`` of the first seed's curve.
    """
    length = min(len(points) for points in by_seed.values())
    curves = np.array([[v for _, v in sorted(points)[:length]] for points in by_seed.values()])
    first = sorted(next(iter(by_seed.values())))[:length]
    x = np.array([i for i, _ in first], dtype=float)
    return x, curves.mean(axis=0), sample_std(curves, axis=0)
