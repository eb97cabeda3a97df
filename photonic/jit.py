"""How the photonic package compiles its hot loops: Numba, cached on disk.

:func:`compiled` is ``numba.njit`` with the options every compiled loop here shares
(no GIL, fast-math limited to the given flags, compiled code cached in
``__pycache__``). Where Numba finds no writable folder for that cache (a read-only
install and a read-only home), ``numba.njit(cache=True)`` raises when the module is
imported; :func:`compiled` then compiles without the cache, in every process, after
one ``RuntimeWarning`` that names ``NUMBA_CACHE_DIR``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

#: Floating-point contraction (a*b + c as one fused multiply-add) and nothing else of
#: fast-math: no reassociation, NaN and inf keep their meaning.
CONTRACT = frozenset({"contract"})


def compiled(fastmath: frozenset[str] = CONTRACT) -> Callable[[Callable[..., Any]], Any]:
    """Decorator: ``numba.njit(fastmath=fastmath, nogil=True, cache=True)``, or the same
    without the cache (and a warning) where no cache folder is writable.

    Parameters
    ----------
    fastmath
        Numba fast-math flags.

    Returns
    -------
    callable
        The decorator.
    """

    def decorate(fn: Callable[..., Any]) -> Any:
        try:
            return numba.njit(fastmath=set(fastmath), nogil=True, cache=True)(fn)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available"
            warnings.warn(
                "Numba finds no writable folder to cache the compiled mesh kernels in, so "
                "every process compiles them again (seconds); set NUMBA_CACHE_DIR to one.",
                RuntimeWarning,
                stacklevel=1,  # one warning for all the compiled functions
            )
            return numba.njit(fastmath=set(fastmath), nogil=True)(fn)

    return decorate


def readonly(a: ArrayLike, dtype: DTypeLike) -> NDArray[Any]:
    """``a`` as a read-only C-contiguous array of ``dtype`` (a view if it is one already).

    Numba compiles a function once per argument type, and a read-only array is another
    type than a writable one: inputs passed through this are compiled for once.

    Parameters
    ----------
    a
        Any array-like.
    dtype
        The dtype the compiled loop reads.

    Returns
    -------
    numpy.ndarray
        Read-only; a view of ``a`` (whose own flags are untouched) if ``a`` already is
        C-contiguous of ``dtype``, else a copy.
    """
    out = np.ascontiguousarray(a, dtype=dtype).view()
    out.flags.writeable = False
    return out


#: Small functions inlined into the compiled loops that call them.
inline = numba.njit(fastmath=set(CONTRACT), inline="always")
