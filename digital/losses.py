"""Loss functions: ``loss(y, t) -> (loss, dloss_dy)``, averaged over the batch.

``y`` is the network output, shape ``(n_samples, n_out)``, real. ``t`` is either
integer class labels, shape ``(n_samples,)``, or targets of the same shape as
``y``. ``dloss_dy`` has the shape of ``y`` and already contains the ``1/n_samples``
of the batch mean, so gradients of a network are batch means too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digital.validation import check_matrix

FloatArray = NDArray[np.float64]
LossFn = Callable[[Any, Any], tuple[float, FloatArray]]


def targets_like(y: FloatArray, t: Any) -> FloatArray:
    """Targets ``t`` as an array shaped like ``y``; integer labels become one-hot.

    Parameters
    ----------
    y
        Outputs, ``(n_samples, n_out)``.
    t
        Labels ``(n_samples,)`` in ``0 … n_out−1``, or targets ``(n_samples, n_out)``.
    """
    t_arr = np.asarray(t)
    if t_arr.ndim == 1:
        if t_arr.shape[0] != y.shape[0]:
            raise ValueError(f"t has {t_arr.shape[0]} labels but y has {y.shape[0]} samples")
        if t_arr.dtype.kind not in "iu":
            raise TypeError(f"t as labels must be integers; got dtype {t_arr.dtype}")
        if t_arr.size and (t_arr.min() < 0 or t_arr.max() >= y.shape[1]):
            raise ValueError(
                f"t holds labels in [{t_arr.min()}, {t_arr.max()}]; allowed 0 … {y.shape[1] - 1}"
            )
        onehot = np.zeros(y.shape, dtype=np.float64)
        onehot[np.arange(y.shape[0]), t_arr] = 1.0
        return onehot
    t_arr = check_matrix(t_arr, "t", values="real")
    if t_arr.shape != y.shape:
        raise ValueError(f"t must have the shape of y {y.shape}; got {t_arr.shape}")
    return t_arr.astype(np.float64)


def _outputs(y: Any) -> FloatArray:
    """A network's outputs ``y`` as a real float64 ``(n_samples ≥ 1, n_out)`` array."""
    arr = check_matrix(y, "y", values="real").astype(np.float64)
    if arr.shape[0] == 0:
        raise ValueError("y holds no samples; a loss is a mean over n_samples ≥ 1")
    return arr


def half_squared_error(y: Any, t: Any) -> tuple[float, FloatArray]:
    """Half squared error ``E = (1/B) Σ_b ½‖y_b − t_b‖²`` (the seeds' loss).

    Parameters
    ----------
    y
        Outputs, ``(n_samples, n_out)`` real.
    t
        Labels ``(n_samples,)`` (taken one-hot) or targets ``(n_samples, n_out)``.

    Returns
    -------
    loss : float
    dloss_dy : numpy.ndarray
        ``(y − t)/B``, shape ``(n_samples, n_out)``.
    """
    y = _outputs(y)
    diff = y - targets_like(y, t)
    n = y.shape[0]
    return 0.5 * float(np.sum(diff**2)) / n, diff / n


def softmax(y: FloatArray) -> FloatArray:
    """Row-wise softmax of ``(n_samples, n_classes)`` logits, numerically stable."""
    shifted = y - np.max(y, axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=1, keepdims=True)


def softmax_cross_entropy(y: Any, t: Any) -> tuple[float, FloatArray]:
    """Softmax cross-entropy ``−(1/B) Σ_b Σ_k t_bk log softmax(y_b)_k``.

    Parameters
    ----------
    y
        Logits, ``(n_samples, n_classes)`` real.
    t
        Labels ``(n_samples,)`` or target probabilities ``(n_samples, n_classes)``.

    Returns
    -------
    loss : float
    dloss_dy : numpy.ndarray
        ``(softmax(y) − t)/B``, shape ``(n_samples, n_classes)``.
    """
    y = _outputs(y)
    targets = targets_like(y, t)
    shifted = y - np.max(y, axis=1, keepdims=True)
    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    n = y.shape[0]
    loss = -float(np.sum(targets * log_p)) / n
    return loss, (np.exp(log_p) - targets) / n


LOSSES: dict[str, LossFn] = {
    "half_squared_error": half_squared_error,
    "softmax_cross_entropy": softmax_cross_entropy,
}


def get_loss(name: str | LossFn) -> LossFn:
    """Look a loss up by name (a callable is passed through)."""
    if callable(name):
        return name
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"loss={name!r} is not known; choose one of: {', '.join(LOSSES)}"
        ) from None
