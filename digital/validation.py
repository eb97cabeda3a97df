"""Input checks shared by every package: one place for the error messages.

Each check raises ``ValueError`` or ``TypeError`` naming the parameter, the value
and what is allowed (DESIGN.md §2, Errors).
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

#: Arrays from this size on are first checked with one reduction (see check_finite).
_SUM_CHECK_MIN_SIZE = 1024


def _shown(value: Any) -> str:
    """``repr(value)`` cut to a readable length: a whole object passed where a number
    belongs (say a hardware spec) would fill the message with its fields. A cut one
    is followed by its type's name."""
    if isinstance(value, str):
        return repr(value)  # what the user typed, shown whole
    text = reprlib.repr(value)
    return text if text == repr(value) else f"{text} (a {type(value).__name__})"


def check_finite(x: Any, name: str) -> None:
    """Raise ``ValueError`` if the array ``x`` holds NaN or infinity.

    An array of ``_SUM_CHECK_MIN_SIZE`` elements or more is first reduced to one
    number whose finiteness proves every entry finite (NaN and ±inf propagate
    through it): for a C-contiguous float64 or complex128 array the dot product of
    its real numbers with themselves (one BLAS call: 6 µs for the 256 × 64 complex
    fields of a training step, against 26 µs for ``isfinite(x).all()``), for other
    complex arrays the sum (about half the cost of ``isfinite``). Only a non-finite
    result (a bad entry, or finite entries that overflow) is looked at entry by
    entry; other real arrays always are.

    Parameters
    ----------
    x
        Array-like of any shape; only float and complex dtypes are checked (integer,
        bool and other dtypes pass as they are).
    name
        Parameter name used in the error message.

    Raises
    ------
    ValueError
        If ``x`` holds NaN or ±inf; the message gives how many.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind not in "fc":
        return
    if arr.size >= _SUM_CHECK_MIN_SIZE:
        with np.errstate(over="ignore", invalid="ignore"):
            if arr.flags.c_contiguous and arr.dtype in (np.float64, np.complex128):
                reals = arr.reshape(-1).view(np.float64)
                if np.isfinite(np.dot(reals, reals)):
                    return
            elif kind == "c" and np.isfinite(arr.sum()):
                return
    if not np.isfinite(arr).all():  # the method: np.all's dispatch costs more here
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} holds {n_bad} NaN or infinite value(s); all values must be finite"
        )


def check_not_overflowed(values: Any, source: Any, name: str, what: str) -> None:
    """Refuse an input ``source`` so large that ``values`` computed from it overflowed.

    One vectorised check of the result, not a guessed threshold on the input: the
    message names the input the caller was given (not an internal array), says what
    overflowed and how large the input is, so that the remedy (scale it down) is
    plain. The input itself is finite (checked on entry), so a non-finite result
    can only be overflow.

    Parameters
    ----------
    values
        Array computed from ``source``, any shape.
    source
        The caller's input, any shape; its largest magnitude is reported.
    name
        The input's parameter name, e.g. ``"x"`` or ``"grad_output"``.
    what
        What ``values`` are, plural, e.g. ``"the outputs of layer 2"``.

    Raises
    ------
    ValueError
        If ``values`` holds NaN or ±inf.
    """
    if not np.isfinite(values).all():
        biggest = float(np.max(np.abs(source), initial=0.0))
        raise ValueError(
            f"{name} is too large: {what} are not finite, they overflow float64 "
            f"(largest |{name}| = {biggest:.3g}); scale {name} down"
        )


def check_generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``, else raise ``TypeError``.

    The project draws every random number from a generator the caller passes
    (DESIGN.md §2); an int seed or the legacy ``RandomState`` is refused by name.

    Parameters
    ----------
    rng
        The object to check.
    name
        Parameter name used in the error message.

    Returns
    -------
    numpy.random.Generator
        ``rng`` itself.

    Raises
    ------
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name}={_shown(rng)} must be a numpy.random.Generator "
            "(e.g. numpy.random.default_rng(seed))"
        )
    return rng


def _real_number(value: Any, name: str, allowed: str) -> float:
    """``float(value)`` of a real number (a 0-d array counts as its value), else
    ``TypeError`` naming ``name``, the value and ``allowed`` (a bool, a string or an
    array of more than one value is not a number here)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name}={_shown(value)} must be a number {allowed}")
    return float(value)


def check_positive(value: Any, name: str) -> float:
    """Return ``float(value)`` if it is a finite number > 0, else raise.

    ``TypeError`` for anything but a real number, ``ValueError`` for a value ≤ 0, NaN
    or infinite; the message names ``name`` and the value.

    Parameters
    ----------
    value
        A real number (Python or NumPy int or float, or a 0-d array), finite and > 0.
    name
        Parameter name used in the error messages.

    Returns
    -------
    float
        ``float(value)``.
    """
    v = _real_number(value, name, "> 0")
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name}={_shown(value)} must be a finite number > 0")
    return v


def check_nonnegative(value: Any, name: str) -> float:
    """Return ``float(value)`` if it is a finite number ≥ 0, else raise.

    ``TypeError`` for anything but a real number (a bool, a string or an array of
    more than one value included; a 0-d array counts as its value), ``ValueError``
    for a negative, NaN or infinite one; the message names ``name`` and the value.

    Parameters
    ----------
    value
        A real number (Python or NumPy int or float, or a 0-d array), finite and ≥ 0.
    name
        Parameter name used in the error messages.

    Returns
    -------
    float
        ``float(value)``.
    """
    v = _real_number(value, name, "≥ 0")
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name}={_shown(value)} must be a finite number ≥ 0")
    return v


def check_real(value: Any, name: str) -> float:
    """Return ``float(value)`` if it is a finite real number of any sign, else raise.

    ``TypeError`` for anything but a real number (as :func:`check_positive`),
    ``ValueError`` for NaN or infinity; the message names ``name`` and the value.

    Parameters
    ----------
    value
        A real number (Python or NumPy int or float, or a 0-d array), finite, any sign.
    name
        Parameter name used in the error messages.

    Returns
    -------
    float
        ``float(value)``.
    """
    v = _real_number(value, name, "(finite, any sign)")
    if not np.isfinite(v):
        raise ValueError(f"{name}={_shown(value)} must be a finite number")
    return v


def check_fraction(value: Any, name: str) -> float:
    """Return ``float(value)`` if it is a number in ``[0, 1)``, else raise.

    For decay rates and tapped fractions. ``TypeError`` for anything but a real
    number, ``ValueError`` outside ``[0, 1)`` (NaN included); the message names
    ``name`` and the value.

    Parameters
    ----------
    value
        A real number (Python or NumPy int or float, or a 0-d array), in ``[0, 1)``.
    name
        Parameter name used in the error messages.

    Returns
    -------
    float
        ``float(value)``.
    """
    v = _real_number(value, name, "in [0, 1)")
    if not 0.0 <= v < 1.0:  # NaN fails both comparisons
        raise ValueError(f"{name}={_shown(value)} must be in [0, 1)")
    return v


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` if it is an int > 0 (not a bool), else raise ``ValueError``.

    Parameters
    ----------
    value
        A Python or NumPy integer > 0 (a bool, float or string raises ``ValueError``
        too, not ``TypeError``).
    name
        Parameter name used in the error message.

    Returns
    -------
    int
        ``int(value)``.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name}={_shown(value)} must be an int > 0")
    return int(value)


def check_choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError``.

    Parameters
    ----------
    value
        A string, expected to be one of ``allowed``.
    name
        Parameter name used in the error message.
    allowed
        The allowed strings, listed in the message.

    Returns
    -------
    str
        ``value`` itself.
    """
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"{name}={_shown(value)} is not allowed; choose one of: {', '.join(allowed)}"
        )
    return value


def check_choices(
    value: Any, name: str, allowed: Sequence[str], *, empty: Literal["refuse", "allow"] = "refuse"
) -> tuple[str, ...]:
    """Return ``value`` as a tuple of distinct names from ``allowed``, else raise ``ValueError``.

    A list is accepted as a tuple; ``empty="allow"`` accepts ``()``.

    Parameters
    ----------
    value
        A tuple (or list) of strings, each one of ``allowed``, none twice.
    name
        Parameter name used in the error messages.
    allowed
        The allowed strings, listed in the messages.
    empty
        ``"refuse"``: an empty ``value`` raises; ``"allow"``: it returns ``()``.

    Returns
    -------
    tuple of str
        ``value`` as a tuple.
    """
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, tuple):
        raise ValueError(f"{name}={value!r} must be a tuple of names from {tuple(allowed)}")
    if not value and empty == "refuse":
        raise ValueError(f"{name}=() must name at least one of {tuple(allowed)}")
    for v in value:
        check_choice(v, name, tuple(allowed))
    if len(set(value)) != len(value):
        raise ValueError(f"{name}={value!r} lists a name twice")
    return value


def check_matrix(
    x: Any,
    name: str,
    *,
    n_cols: int | None = None,
    values: Literal["any", "real"] = "any",
    columns: Literal["n_features", "n_outputs"] = "n_features",
) -> NDArray[Any]:
    """Return ``x`` as a finite 2-D array ``(n_samples, n_cols)`` or raise.

    Parameters
    ----------
    x
        Array-like, expected shape ``(n_samples, n_cols)``.
    name
        Parameter name used in error messages.
    n_cols
        Required number of columns, or ``None`` for any.
    values
        ``"real"``: complex values are refused (``TypeError``) rather than cast, which
        would drop their imaginary parts; ``"any"``: any number.
    columns
        What the columns are, for the message on a wrong number of axes
        (``"n_features"`` for inputs, ``"n_outputs"`` for outputs and their gradients).

    Returns
    -------
    numpy.ndarray
        ``x`` as an array ``(n_samples, n_cols)`` (not copied when already one).

    Raises
    ------
    ValueError
        If ``x`` is not 2-D, has other than ``n_cols`` columns, or holds NaN or ±inf.
    TypeError
        If ``x`` is not numeric, or complex with ``values="real"``.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {columns}); got shape {arr.shape}")
    if n_cols is not None and arr.shape[1] != n_cols:
        raise ValueError(f"{name} must have {n_cols} columns; got shape {arr.shape}")
    if arr.dtype.kind not in "iufcb":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    if values == "real" and arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real; got complex values (dtype {arr.dtype})")
    check_finite(arr, name)
    return arr
