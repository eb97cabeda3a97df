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
        With one output (``n_out == 1``) the labels are 0 or 1 and become the target
        of that output itself (class 1 when it is above 0.5, as
        :func:`digital.train.predict_classes` reads it), and real targets may also be
        given as ``(n_samples,)`` (regression): a float vector is targets, of any
        value; an integer vector is labels.

    Returns
    -------
    numpy.ndarray
        Float64 targets, ``(n_samples, n_out)``; a float64 ``t`` of that shape is
        returned itself, not copied (the losses only read it).

    Raises
    ------
    ValueError
        If ``t`` does not fit ``y``'s shape or holds labels outside ``0 … n_out−1``.
    TypeError
        If a ``(n_samples,)`` ``t`` holds neither integers nor (with one output) floats.
    """
    t_arr = np.asarray(t)
    if t_arr.ndim == 1:
        if t_arr.shape[0] != y.shape[0]:
            raise ValueError(f"t has {t_arr.shape[0]} labels but y has {y.shape[0]} samples")
        if y.shape[1] == 1 and t_arr.dtype.kind == "f":  # one output's real targets
            return check_matrix(t_arr[:, None], "t", values="real").astype(np.float64)
        if t_arr.dtype.kind not in "iu":
            raise TypeError(f"t as labels must be integers; got dtype {t_arr.dtype}")
        n_classes = max(y.shape[1], 2)
        if t_arr.size and (t_arr.min() < 0 or t_arr.max() >= n_classes):
            regression = " (one output: pass real targets as floats)" if y.shape[1] == 1 else ""
            raise ValueError(
                f"t holds labels in [{t_arr.min()}, {t_arr.max()}]; allowed 0 … {n_classes - 1}"
                + regression
            )
        if y.shape[1] == 1:
            return t_arr.astype(np.float64)[:, None]
        onehot = np.zeros(y.shape, dtype=np.float64)
        onehot[np.arange(y.shape[0]), t_arr] = 1.0
        return onehot
    t_arr = check_matrix(t_arr, "t", values="real", columns="n_outputs")
    if t_arr.shape != y.shape:
        raise ValueError(f"t must have the shape of y {y.shape}; got {t_arr.shape}")
    return t_arr.astype(np.float64, copy=False)


def _outputs(y: Any) -> FloatArray:
    """A network's outputs ``y`` as a real float64 ``(n_samples ≥ 1, n_out ≥ 1)`` array."""
    arr = check_matrix(y, "y", values="real", columns="n_outputs").astype(np.float64, copy=False)
    if arr.shape[0] == 0:
        raise ValueError("y holds no samples; a loss is a mean over n_samples ≥ 1")
    if arr.shape[1] == 0:
        raise ValueError(f"y has shape {arr.shape}: no outputs; a loss needs n_outputs ≥ 1")
    return arr


def half_squared_error(y: Any, t: Any) -> tuple[float, FloatArray]:
    """Half squared error ``E = (1/B) Σ_b ½‖y_b − t_b‖²`` (the seeds' loss).

    Parameters
    ----------
    y
        Outputs, ``(n_samples, n_out)`` real.
    t
        Integer labels ``(n_samples,)`` (taken one-hot; with one output, 0 or 1 is
        that output's target) or targets ``(n_samples, n_out)`` (with one output
        also ``(n_samples,)``): see :func:`targets_like`.

    Returns
    -------
    loss : float
    dloss_dy : numpy.ndarray
        ``(y − t)/B``, shape ``(n_samples, n_out)``.
    """
    y = _outputs(y)
    diff = y - targets_like(y, t)
    n = y.shape[0]
    loss = 0.5 * float(np.vdot(diff, diff)) / n
    diff /= n
    return loss, diff


def softmax(y: FloatArray) -> FloatArray:
    """Row-wise softmax of logits, numerically stable.

    Parameters
    ----------
    y
        Logits, ``(n_samples, n_classes)`` real.

    Returns
    -------
    numpy.ndarray
        Probabilities, ``(n_samples, n_classes)``; every row sums to 1.
    """
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
        Labels ``(n_samples,)`` or non-negative targets ``(n_samples, n_classes)``,
        usually probabilities. A row that sums to ``w ≠ 1`` weighs its sample by ``w``.

    Returns
    -------
    loss : float
    dloss_dy : numpy.ndarray
        ``(softmax(y)·Σ_k t_k − t)/B``, shape ``(n_samples, n_classes)``; for
        probability rows ``(softmax(y) − t)/B``.

    Raises
    ------
    ValueError
        If ``y`` has fewer than 2 columns (a softmax over one logit is constant), or
        ``t`` has a negative entry (the loss would have no lower bound).
    """
    y = _outputs(y)
    if y.shape[1] < 2:
        raise ValueError(
            f"softmax_cross_entropy needs ≥ 2 logits per sample; y has {y.shape[1]} column. "
            "A one-output network predicts class 1 above 0.5: use half_squared_error"
        )
    targets = targets_like(y, t)
    if np.any(targets < 0):
        raise ValueError(
            f"t holds a negative target ({targets.min():g}); softmax_cross_entropy takes "
            "labels or non-negative targets such as probabilities"
        )
    shifted = y - np.max(y, axis=1, keepdims=True)
    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    n = y.shape[0]
    loss = -float(np.sum(targets * log_p)) / n
    weight = np.sum(targets, axis=1, keepdims=True)
    return loss, (np.exp(log_p) * weight - targets) / n


LOSSES: dict[str, LossFn] = {
    "half_squared_error": half_squared_error,
    "softmax_cross_entropy": softmax_cross_entropy,
}


def get_loss(name: str | LossFn) -> LossFn:
    """Look a loss up by name (a callable is passed through).

    Parameters
    ----------
    name
        A name of :data:`LOSSES`, or a callable ``loss(y, t) -> (loss, dloss_dy)``.

    Returns
    -------
    callable
        ``loss(y, t) -> (loss, dloss_dy)``.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the allowed names.
    """
    if callable(name):
        return name
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"loss={name!r} is not known; choose one of: {', '.join(LOSSES)}"
        ) from None
