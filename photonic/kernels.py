"""The two hot loops of the mesh simulation, as pure functions of per-MZI 2×2 matrices.

A mesh is described here only by its columns: ``columns`` is a tuple of
``(first, stop, lo)`` — MZIs ``first … stop−1`` form one column and act on the port
pairs ``(lo, lo+1), (lo+2, lo+3), …`` in order. ``t`` holds the transfer matrix
of every MZI, ``(n_mzis, 2, 2)``.

* :func:`compose` — the mesh matrix ``C_last ⋯ C_1 C_0`` (no output phases).
* :func:`correlation_sweep` — carries the batch correlation ``M = Σ_b a_b â_bᵀ``
  from the input plane through every column as ``M ← C M C⁻¹`` and returns the 2×2
  diagonal block of ``M`` at the input of every MZI, and ``M`` after the last column.

Both cost O(N³) whatever the batch size (DESIGN.md §4.3). They are the reference
implementations: one batched 2×2 product per column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]
Columns = tuple[tuple[int, int, int], ...]


def compose(columns: Columns, t: Array, n_ports: int) -> Array:
    """Product of the MZI columns, ``(n_ports, n_ports)`` complex.

    Parameters
    ----------
    columns
        ``(first, stop, lo)`` of every column, in propagation order.
    t
        Per-MZI transfer matrices ``(n_mzis, 2, 2)``.
    n_ports
        N.
    """
    w = np.eye(n_ports, dtype=np.complex128)
    for a, b, lo in columns:
        hi = lo + 2 * (b - a)
        w[lo:hi] = (t[a:b] @ w[lo:hi].reshape(b - a, 2, n_ports)).reshape(hi - lo, n_ports)
    return w


def correlation_sweep(columns: Columns, t: Array, t_inv: Array, corr: Array) -> tuple[Array, Array]:
    """Diagonal 2×2 blocks of the correlation at every MZI input, and the final correlation.

    Parameters
    ----------
    columns
        ``(first, stop, lo)`` of every column, in propagation order.
    t, t_inv
        Per-MZI transfer matrices and their inverses, ``(n_mzis, 2, 2)``.
    corr
        ``M₀ = Σ_b a_b â_bᵀ`` at the input plane, ``(N, N)``; overwritten.

    Returns
    -------
    blocks : numpy.ndarray
        ``(n_mzis, 2, 2)``: ``M[top:top+2, top:top+2]`` at the input of each MZI.
    corr : numpy.ndarray
        ``M`` after the last column, ``(N, N)``.
    """
    n = corr.shape[0]
    blocks = np.empty((t.shape[0], 2, 2), dtype=np.complex128)
    for a, b, lo in columns:
        k = b - a
        hi = lo + 2 * k
        j = np.arange(k)
        blocks[a:b] = corr[lo:hi, lo:hi].reshape(k, 2, k, 2)[j, :, j, :]
        corr[lo:hi] = (t[a:b] @ corr[lo:hi].reshape(k, 2, n)).reshape(2 * k, n)
        right = corr[:, lo:hi].reshape(n, k, 2).transpose(1, 0, 2) @ t_inv[a:b]
        corr[:, lo:hi] = right.transpose(1, 0, 2).reshape(n, 2 * k)
    return blocks, corr
