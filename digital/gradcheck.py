"""Central finite-difference check of any :class:`~digital.network.Network`.

For every parameter entry ``w`` the numerical derivative from the fourth-order
central stencil ``(−L(w+2h) + 8L(w+h) − 8L(w−h) + L(w−2h)) / 12h`` is compared with
what ``backward`` returns. (The plain two-point difference leaves a round-off error
of about ``1e-16·L/h`` that swamps small gradient entries; the fourth-order stencil
lets ``h`` be larger for the same truncation error.) Complex
entries are perturbed along the real and the imaginary axis separately and compared
with ``Re g`` and ``−Im g`` (gradient convention ``g = ∂L/∂Re w − i ∂L/∂Im w``).

The relative error of one entry is ``|g_a − g_n| / max(|g_a|, |g_n|, floor)``. The
floor is the resolution of the finite differences: round-off leaves an absolute
error of about ``ε·|L|/h`` in ``g_n`` (``ε`` the float64 epsilon), so
``floor = FLOOR_FACTOR · ε · |L| / h``. Entries that are exactly zero both ways count
as exact, and entries below the resolution are judged on an absolute scale.

A network's ``recorder`` (:class:`sim.ops.Recorder`), if it has one, records none of
the passes of a check: they verify the network and are no work it does (as the
trainer's evaluation passes, :mod:`digital.train`).

:func:`gradient_metrics` compares a whole gradient with a reference by direction and
size (Pai et al.'s ε = 1 − cos among them): how far a measured or noisy gradient is
from the exact one, where :func:`relative_error` asks whether two agree entry by entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from digital.losses import LossFn, get_loss
from digital.network import Network, not_recording
from digital.validation import check_finite, check_nonnegative, check_positive

Array = NDArray[Any]

#: Fourth-order central difference: f'(w) ≈ Σ_k weight_k f(w + offset_k h) / h.
STENCIL_OFFSETS = (-2.0, -1.0, 1.0, 2.0)
STENCIL_WEIGHTS = np.array([1.0, -8.0, 8.0, -1.0]) / 12.0
#: Entries smaller than this many round-off units ``ε·|L|/h`` are compared absolutely.
FLOOR_FACTOR = 1e7
#: Components with ``|g_k| ≤ SIGN_TOLERANCE·‖g‖`` are left out of the sign agreement.
SIGN_TOLERANCE = 1e-9


class Vectorizable(Protocol):
    """A gradient that flattens itself, such as :class:`photonic.mesh.Phases`."""

    def to_vector(self) -> Array:
        """The gradient as one flat vector.

        Returns
        -------
        numpy.ndarray
            ``(n_params,)``, real or complex.
        """
        ...


#: What :func:`gradient_metrics` compares: an array, a dict keyed like ``params()``,
#: or an object with ``to_vector()``.
Gradient = Array | Mapping[str, Array] | Vectorizable


def _loss_at(net: Network, x: Array, t: Array, loss_fn: LossFn) -> float:
    return loss_fn(net.forward(x), t)[0]


def numerical_gradients(
    net: Network, x: Array, t: Array, loss: str | LossFn, *, step: float = 1e-4
) -> dict[str, Array]:
    """Central finite-difference gradients in the convention of ``backward``.

    Parameters
    ----------
    net
        The network; its parameters are restored afterwards.
    x
        Inputs, ``(n_samples, n_in)``.
    t
        Labels or targets accepted by ``loss``.
    loss
        Loss name or callable ``(y, t) -> (loss, dloss_dy)``.
    step
        Perturbation ``h`` > 0 (the stencil reaches ``±2h``).

    Returns
    -------
    dict
        Gradients keyed like ``net.params()``.
    """
    h = check_positive(step, "step")
    loss_fn = get_loss(loss)
    base = net.params()
    numeric: dict[str, Array] = {}
    with not_recording(net):  # its probes are not the network's work
        try:
            for key, value in base.items():
                grad = np.zeros_like(value)
                directions = (1.0, 1j) if np.iscomplexobj(value) else (1.0,)
                for index in np.ndindex(value.shape):
                    for d in directions:
                        values = []
                        for offset in STENCIL_OFFSETS:
                            trial = {k: v.copy() for k, v in base.items()}
                            trial[key][index] += offset * d * h
                            net.set_params(trial)
                            values.append(_loss_at(net, x, t, loss_fn))
                        partial = float(np.dot(STENCIL_WEIGHTS, values)) / h
                        # g = ∂L/∂Re w − i ∂L/∂Im w
                        grad[index] += partial if d == 1.0 else -1j * partial
                numeric[key] = grad
        finally:
            net.set_params(base)
    return numeric


def relative_error(analytic: Array, numeric: Array, *, floor: float = 0.0) -> float:
    """Worst entrywise ``|a − n| / max(|a|, |n|, floor)``; 0/0 counts as 0.

    ``analytic`` and ``numeric`` must hold finite numbers and ``floor`` be a finite
    number ≥ 0 (a NaN anywhere would make the result NaN, which compares as neither
    large nor small).

    Parameters
    ----------
    analytic
        Gradient from ``backward``, any shape, real or complex.
    numeric
        Finite-difference gradient of the same shape.
    floor
        Smallest denominator, ≥ 0 (in the units of the gradient); entries whose
        magnitudes are both below it are judged on the absolute scale
        ``|a − n| / floor``. Below the smallest positive float64 (0, the default)
        that value is used instead, so entries that are 0 both ways count as exact.

    Returns
    -------
    float
        The worst relative error, ≥ 0; 0.0 for empty arrays.

    Raises
    ------
    TypeError
        If ``analytic`` or ``numeric`` does not hold numbers, or ``floor`` is not a
        real number.
    ValueError
        If either holds NaN or infinity, their shapes differ, or ``floor`` is negative
        or not finite.
    """
    floor = check_nonnegative(floor, "floor")
    a, n = np.asarray(analytic), np.asarray(numeric)
    for name, arr in (("analytic", a), ("numeric", n)):
        if arr.dtype.kind not in "iufc":
            raise TypeError(f"{name} must hold numbers; got dtype {arr.dtype}")
        check_finite(arr, name)
    if a.shape != n.shape:
        raise ValueError(f"analytic has shape {a.shape}; numeric has {n.shape}")
    if a.size == 0:
        return 0.0
    floor = max(floor, np.finfo(np.float64).tiny)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    return float(np.max(np.abs(a - n) / denom))


def gradcheck(net: Network, x: Array, t: Array, loss: str | LossFn, *, step: float = 1e-4) -> float:
    """Worst relative error between ``backward`` and central finite differences.

    Parameters
    ----------
    net
        Any network; its parameters are unchanged on return.
    x
        Inputs, ``(n_samples, n_in)``.
    t
        Labels ``(n_samples,)`` or targets ``(n_samples, n_out)``.
    loss
        Loss name or callable ``(y, t) -> (loss, dloss_dy)``.
    step
        Finite-difference step ``h`` > 0.

    Returns
    -------
    float
        The worst relative error over every parameter entry.

    Notes
    -----
    It checks ``backward`` against the derivative of ``forward`` with respect to
    ``params()``. A :class:`~photonic.network.PhotonicNetwork` on a chip with a
    quantizing DAC or thermal crosstalk returns the gradient of the phases the chip
    holds, not of ``params()`` (see its ``backward``), and per-pass noise changes
    ``forward`` between calls: there a large error is expected, not a bug.
    """
    loss_fn = get_loss(loss)
    h = check_positive(step, "step")
    with not_recording(net):
        value, dloss = loss_fn(net.forward(x), t)
        analytic = net.backward(dloss)
        numeric = numerical_gradients(net, x, t, loss_fn, step=h)
    floor = FLOOR_FACTOR * np.finfo(np.float64).eps * abs(value) / h
    if set(analytic) != set(numeric):
        raise ValueError(
            f"backward returned keys {sorted(analytic)}; params() has {sorted(numeric)}"
        )
    return max(relative_error(analytic[k], numeric[k], floor=floor) for k in numeric)


def gradient_metrics(measured: Gradient, exact: Gradient) -> dict[str, float]:
    """Agreement of a measured gradient with the exact one, as whole vectors.

    Parameters
    ----------
    measured, exact
        Arrays (flattened), gradient dicts keyed like a network's ``params()``
        (flattened in sorted key order; a dict is compared only with a dict of the
        same keys), or objects with ``to_vector()`` such as
        :class:`photonic.mesh.Phases` (flattened in their own order). Real or
        complex: a complex entry ``∂L/∂Re w − i ∂L/∂Im w`` counts as its two real
        components, so directions are compared in ``ℝ²ⁿ``.

    Returns
    -------
    dict
        ``epsilon = 1 − cos`` (Pai et al.'s ε on normalized vectors; 0 = same
        direction, 1 = orthogonal, 2 = opposite), ``cosine = 1 − epsilon``,
        ``relative_error = ‖ĝ − g‖/‖g‖`` and ``sign_agreement`` (fraction of
        components, among those with ``|g_k| > SIGN_TOLERANCE·‖g‖``, where
        ``sign ĝ_k = sign g_k``). A zero ``measured`` has cosine 0.

    Raises
    ------
    TypeError
        If either does not hold numbers.
    ValueError
        If either holds NaN or infinity, their sizes or dict keys differ, only one
        is a dict (sorted keys need not be the other's order: ``Phases`` flattens as
        θ, φ, out), or ``exact`` is zero (no direction to compare with).

    Notes
    -----
    ε is computed as ``½‖ĝ/‖ĝ‖ − g/‖g‖‖²``, which equals ``1 − cos`` but has no
    cancellation: it is ≥ 0 and accurate down to its own size. ``1 − cos`` of two
    gradients that agree to rounding comes out as ±1e-16 (a negative ε, or a
    positive one 12 or more orders of magnitude too large); this gives the true value,
    the square of the rounding-size difference of directions (1e-33 … 1e-28), or 0.
    """
    pair = {"measured": measured, "exact": exact}
    dicts = [name for name, g in pair.items() if isinstance(g, Mapping)]
    if len(dicts) == 1:
        other = "exact" if dicts[0] == "measured" else "measured"
        raise ValueError(
            f"{dicts[0]} is a dict and {other} a {type(pair[other]).__name__}: the dict "
            "flattens in sorted key order, which need not be the other's order "
            "(Phases.to_vector() is θ, φ, out); pass both as dicts, or both as arrays "
            "you flattened alike"
        )
    if isinstance(measured, Mapping) and isinstance(exact, Mapping):
        if sorted(measured) != sorted(exact):
            raise ValueError(
                f"measured has the keys {sorted(measured)}; exact has {sorted(exact)}: "
                "compare gradients of the same parameters"
            )
    m, g = _real_vector(measured, "measured"), _real_vector(exact, "exact")
    if m.shape != g.shape:
        raise ValueError(f"measured has {m.size} components; exact has {g.size}")
    norm_g, norm_m = float(np.linalg.norm(g)), float(np.linalg.norm(m))
    if norm_g == 0.0:
        raise ValueError("exact gradient is zero: no direction to compare with")
    if norm_m == 0.0:
        epsilon = 1.0
    else:  # ½‖m̂ − ĝ‖² = 1 − m̂·ĝ for unit vectors, without the cancellation of 1 − cos
        epsilon = 0.5 * float(np.sum((m / norm_m - g / norm_g) ** 2))
    big = np.abs(g) > SIGN_TOLERANCE * norm_g
    return {
        "epsilon": epsilon,
        "cosine": 1.0 - epsilon,
        "relative_error": float(np.linalg.norm(m - g)) / norm_g,
        "sign_agreement": float(np.mean(np.sign(m[big]) == np.sign(g[big]))),
    }


def _real_vector(g: Gradient, name: str) -> Array:
    """``g`` flattened to a finite float64 vector; complex entries as (Re, Im) pairs."""
    if isinstance(g, Mapping):
        parts = [np.ravel(np.asarray(g[k])) for k in sorted(g)]
        v = np.concatenate(parts) if parts else np.zeros(0)
    elif callable(getattr(g, "to_vector", None)):
        v = np.asarray(g.to_vector())  # type: ignore[union-attr]
    else:
        v = np.ravel(np.asarray(g))
    if v.dtype.kind not in "iufc":
        raise TypeError(f"{name} must hold numbers; got dtype {v.dtype}")
    check_finite(v, name)
    if v.dtype.kind == "c":
        return np.ravel(np.stack([v.real, v.imag], axis=-1))
    return np.asarray(v, dtype=np.float64)
