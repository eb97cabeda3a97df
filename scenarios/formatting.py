"""Numbers and counts as the scenarios' text reports and tables write them.

:func:`format_pm` writes ``mean ± std`` to the digits that the spread supports;
:func:`count` writes a number and a noun, in the plural unless the number is 1.
"""

from __future__ import annotations

import math

from scenarios.stats import VARYING_RTOL

__all__ = ["count", "format_pm"]


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, plural unless ``n`` is 1: ``count(1, "epoch") == "1 epoch"``;
    ``plural`` where adding an s is wrong: ``count(3, "batch", "batches")``."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {plural or noun + 's'}"


def format_pm(mean: float, std: float) -> str:
    """``"mean ± std"`` with the spread to 2 significant digits and the mean to the same
    decimal place (0.9174 ± 0.0053, 8.25 ± 0.35, 1230 ± 350); in e-notation, the mean
    to the spread's digits, when that place is below 1e-6 or above 1e3 (2.00e-05 ±
    1.0e-06); the mean alone (4 significant digits) without a spread (NaN or 0).

    A spread no larger than rounding of the mean (``std <= VARYING_RTOL * |mean|``:
    repeats that agree but for the last bits) is shown as 0, the mean to 4
    significant digits: ``84.0 ± 0.0``, not ``8.400000000000000e+01 ± 1.4e-14``. The
    test is relative only: a small quantity with a real spread keeps it (``1.0e-20 ±
    5.0e-21``, an ε measured at tiny noise).
    """
    if math.isnan(std) or std == 0:
        return f"{mean + 0.0:.4g}"  # + 0.0: no "-0"
    if math.isfinite(mean) and abs(std) <= VARYING_RTOL * abs(mean):
        text = f"{mean + 0.0:.4g}"  # + 0.0: no "-0"
        if text.lstrip("-").isdigit():
            text += ".0"
        return f"{text} ± 0.0"
    spread = float(f"{abs(std):.2g}")
    if not (math.isfinite(spread) and math.isfinite(mean)):
        return f"{mean:.4g} ± {spread:.2g}"
    place = math.floor(math.log10(spread)) - 1  # the spread's second digit: 10**place
    mean = round(mean, -place) + 0.0  # to that digit; + 0.0: no "-0.00"
    top = math.floor(math.log10(abs(mean))) if mean else place
    if not -6 <= place <= 3 or top - place > 15:
        digits = min(max(top - place, 1), 15)
        return f"{mean:.{digits}e} ± {spread:.1e}"
    if place >= 0:
        return f"{mean:.0f} ± {spread:.0f}"
    return f"{mean:.{-place}f} ± {spread:.{-place}f}"
