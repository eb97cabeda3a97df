"""Optimizers: ``new_params = optimizer.step(params, grads)``.

The optimizer runs on the digital host for every network (DESIGN.md §3); its state
(momenta, step count) lives in the optimizer, keyed by parameter name.

Complex parameters: gradients follow the convention ``g = ∂L/∂Re w − i ∂L/∂Im w``,
for which ``dL = Re(g · dw)``; the steepest-descent step is therefore along
``−conj(g)``. Every optimizer here descends along ``conj(g)`` for complex
parameters (``g`` itself for real ones), and Adam's second moment uses ``|g|²``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from digital.validation import check_finite, check_fraction, check_positive

Array = NDArray[Any]
Params = dict[str, Array]


class Optimizer(Protocol):
    """What every optimizer provides.

    ``state()`` returns everything the optimizer has accumulated (arrays keyed by
    ``"<slot>/<param>"`` and the step count under ``"t"``), and ``load_state``
    restores it, so a checkpointed run continues bit for bit.
    """

    lr: float

    def step(self, params: Params, grads: Params) -> Params:
        """Return the updated parameters; ``params`` and ``grads`` are not modified.

        Parameters
        ----------
        params
            Current parameters keyed by name (as ``net.params()``), real or complex.
        grads
            Gradients with the same keys and shapes (as ``net.backward``), in the
            convention ``g = ∂L/∂Re w − i ∂L/∂Im w`` for complex entries.

        Returns
        -------
        dict
            New parameters with the same keys and shapes.
        """

    def state(self) -> dict[str, Any]:
        """Everything the optimizer has accumulated.

        Returns
        -------
        dict
            Arrays keyed ``"<slot>/<param>"`` and the step count under ``"t"``.
        """
        ...

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned.

        Parameters
        ----------
        state
            A dict as :meth:`state` returns it.
        """
        ...


def _flatten(slots: dict[str, Params], t: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {
        f"{slot}/{k}": v.copy() for slot, d in slots.items() for k, v in d.items()
    }
    out["t"] = t
    return out


def _unflatten(state: dict[str, Any], slots: tuple[str, ...]) -> dict[str, Params]:
    if not isinstance(state, Mapping):
        raise TypeError(
            f"state is a {type(state).__name__}; expected the dict an optimizer's state() returns"
        )
    out: dict[str, Params] = {slot: {} for slot in slots}
    for key, value in state.items():
        if key == "t":
            continue
        slot, _, name = key.partition("/")
        if slot not in out:
            raise ValueError(f"optimizer state has slot {slot!r}; expected one of {slots}")
        out[slot][name] = np.array(value)
    return out


def _descent_direction(g: Array) -> Array:
    """The direction a gradient step subtracts: ``conj(g)`` for complex, else ``g``."""
    return np.conj(g) if np.iscomplexobj(g) else g


def _checked(params: Params, grads: Params) -> tuple[Params, Params]:
    """``params`` and ``grads`` as dicts of arrays, after checking that they hold finite
    numbers with the same keys and shapes (a NaN parameter would come back NaN,
    silently)."""
    for name, d in (("params", params), ("grads", grads)):
        if not isinstance(d, Mapping):
            raise TypeError(f"{name} is a {type(d).__name__}; expected a dict of arrays")
    if set(params) != set(grads):
        raise ValueError(f"grads has keys {sorted(grads)}; params has {sorted(params)}")
    arrays: tuple[Params, Params] = ({}, {})
    for key in params:
        for name, d, out in (("params", params, arrays[0]), ("grads", grads, arrays[1])):
            value = np.asarray(d[key])
            if value.dtype.kind not in "iufc":
                raise TypeError(f"{name}[{key!r}] must hold numbers; got dtype {value.dtype}")
            check_finite(value, f"{name}[{key!r}]")
            out[key] = value
        if arrays[1][key].shape != arrays[0][key].shape:
            raise ValueError(
                f"grads[{key!r}] has shape {arrays[1][key].shape}; params has "
                f"{arrays[0][key].shape}"
            )
        if np.iscomplexobj(arrays[1][key]) and not np.iscomplexobj(arrays[0][key]):
            raise TypeError(
                f"grads[{key!r}] is complex but params[{key!r}] is real: the gradient of "
                "a real parameter is real (take its real part if that is what you mean)"
            )
    return arrays


def _check_slots(owner: str, params: Params, slots: dict[str, Params]) -> None:
    """Refuse a step on parameters other than those the kept state belongs to.

    An optimizer keeps per-parameter state (velocity, moments) keyed by name; reused
    for another network it failed with a bare broadcasting error. Other names or
    shapes are refused here; the same names and shapes cannot be told from the next
    step of the same network, so the state carries over.
    """
    for slot, kept in slots.items():
        if not kept:
            continue
        if set(kept) != set(params):
            raise ValueError(
                f"this {owner} holds state for parameters {sorted(kept)}, not {sorted(params)}: "
                "use a new optimizer for each network"
            )
        for key, value in kept.items():
            if value.shape != params[key].shape:
                raise ValueError(
                    f"this {owner} holds {slot}[{key!r}] of shape {value.shape}; params has "
                    f"{params[key].shape}: use a new optimizer for each network"
                )


class SGD:
    """Plain gradient descent ``w ← w − lr · g``.

    Parameters
    ----------
    lr
        Learning rate, > 0.
    """

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = check_positive(lr, "lr")

    def step(self, params: Params, grads: Params) -> Params:
        """Return the updated parameters (inputs are not modified).

        Parameters
        ----------
        params
            Current parameters keyed by name (as ``net.params()``), finite numbers.
        grads
            Gradients with the same keys and shapes, finite
            (``g = ∂L/∂Re w − i ∂L/∂Im w`` for complex entries).

        Returns
        -------
        dict
            New parameters with the same keys and shapes.

        Raises
        ------
        TypeError
            If ``params`` or ``grads`` is not a mapping, an entry does not hold numbers,
            or a real parameter has a complex gradient.
        ValueError
            If their keys or shapes differ, or an entry holds NaN or infinity.
        """
        params, grads = _checked(params, grads)
        return {k: p - self.lr * _descent_direction(grads[k]) for k, p in params.items()}

    def state(self) -> dict[str, Any]:
        """Plain SGD keeps no state.

        Returns
        -------
        dict
            ``{"t": 0}``.
        """
        return {"t": 0}

    def load_state(self, state: dict[str, Any]) -> None:
        """Nothing to restore.

        Parameters
        ----------
        state
            A dict as :meth:`state` returns it; ignored.
        """


class Momentum:
    """Heavy-ball momentum ``v ← β v + g;  w ← w − lr · v``.

    Parameters
    ----------
    lr
        Learning rate, > 0.
    beta
        Momentum coefficient in [0, 1).
    """

    def __init__(self, lr: float = 0.01, beta: float = 0.9) -> None:
        self.lr = check_positive(lr, "lr")
        self.beta = check_fraction(beta, "beta")
        self.velocity: Params = {}

    def step(self, params: Params, grads: Params) -> Params:
        """Return the updated parameters; the velocity is kept in the optimizer.

        Inputs are not modified.

        Parameters
        ----------
        params
            Current parameters keyed by name (as ``net.params()``), finite numbers.
        grads
            Gradients with the same keys and shapes, finite
            (``g = ∂L/∂Re w − i ∂L/∂Im w`` for complex entries).

        Returns
        -------
        dict
            New parameters with the same keys and shapes.

        Raises
        ------
        TypeError
            If ``params`` or ``grads`` is not a mapping, an entry does not hold numbers,
            or a real parameter has a complex gradient.
        ValueError
            If their keys or shapes differ, an entry holds NaN or infinity, or the
            optimizer's kept state belongs to other parameters (another network).
        """
        params, grads = _checked(params, grads)
        _check_slots("Momentum", params, {"velocity": self.velocity})
        new = {}
        for k, p in params.items():
            v = self.velocity.get(k, np.zeros_like(p))
            v = self.beta * v + _descent_direction(grads[k])
            self.velocity[k] = v
            new[k] = p - self.lr * v
        return new

    def state(self) -> dict[str, Any]:
        """The accumulated velocities.

        Returns
        -------
        dict
            Velocities keyed ``"velocity/<param>"``, and ``"t"``: 0 (the count
            momentum does not use).
        """
        return _flatten({"velocity": self.velocity})

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned.

        Parameters
        ----------
        state
            A dict as :meth:`state` returns it.

        Raises
        ------
        TypeError, ValueError
            If ``state`` is not a dict or holds a slot this optimizer does not have.
        """
        self.velocity = _unflatten(state, ("velocity",))["velocity"]


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction.

    Parameters
    ----------
    lr
        Learning rate, > 0.
    beta1, beta2
        Decay of the first and second moment estimates, in [0, 1).
    eps
        Added to the root of the second moment, > 0.
    """

    def __init__(
        self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        self.lr = check_positive(lr, "lr")
        self.beta1 = check_fraction(beta1, "beta1")
        self.beta2 = check_fraction(beta2, "beta2")
        self.eps = check_positive(eps, "eps")
        self.t = 0
        self.m: Params = {}
        self.v: Params = {}

    def step(self, params: Params, grads: Params) -> Params:
        """Return the updated parameters; moments and step count stay in the optimizer.

        Inputs are not modified.

        Parameters
        ----------
        params
            Current parameters keyed by name (as ``net.params()``), finite numbers.
        grads
            Gradients with the same keys and shapes, finite
            (``g = ∂L/∂Re w − i ∂L/∂Im w`` for complex entries).

        Returns
        -------
        dict
            New parameters with the same keys and shapes.

        Raises
        ------
        TypeError
            If ``params`` or ``grads`` is not a mapping, an entry does not hold numbers,
            or a real parameter has a complex gradient.
        ValueError
            If their keys or shapes differ, an entry holds NaN or infinity, or the
            optimizer's kept state belongs to other parameters (another network).
        """
        params, grads = _checked(params, grads)
        _check_slots("Adam", params, {"m": self.m, "v": self.v})
        self.t += 1
        new = {}
        # In place on the moments (the optimizer's own arrays; state() hands out copies):
        # at 4096 phases the plain expressions' temporaries took 40 of Adam's 60 µs.
        for k, p in params.items():
            g = _descent_direction(grads[k])
            g_squared = np.square(g.real)  # |g|²
            if np.iscomplexobj(g):
                g_squared += np.square(g.imag)
            m, v = self.m.get(k), self.v.get(k)
            if m is None or v is None:  # from zero moments
                m = (1 - self.beta1) * (np.zeros_like(p) + g)
                v = (1 - self.beta2) * g_squared
            elif m.dtype == np.result_type(m, g) and v.dtype == np.result_type(v, g_squared):
                m *= self.beta1
                m += (1 - self.beta1) * g
                v *= self.beta2
                v += (1 - self.beta2) * g_squared
            else:  # loaded moments of a narrower dtype (load_state): promoted, as before
                m = self.beta1 * m + (1 - self.beta1) * g
                v = self.beta2 * v + (1 - self.beta2) * g_squared
            self.m[k], self.v[k] = m, v
            # p − lr·m̂/(√v̂ + eps) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)
            denominator = np.sqrt(v / (1 - self.beta2**self.t))
            denominator += self.eps
            update = m * (self.lr / (1 - self.beta1**self.t))
            update /= denominator
            new[k] = p - update
        return new

    def state(self) -> dict[str, Any]:
        """Adam's accumulated moments and step count.

        Returns
        -------
        dict
            Moments ``"m/<param>"``, ``"v/<param>"`` and the step count ``"t"``.
        """
        return _flatten({"m": self.m, "v": self.v}, self.t)

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned.

        Parameters
        ----------
        state
            A dict as :meth:`state` returns it.

        Raises
        ------
        TypeError, ValueError
            If ``state`` is not a dict, holds a slot Adam does not have, or lacks
            the step count ``"t"``.
        """
        slots = _unflatten(state, ("m", "v"))
        if "t" not in state:
            raise ValueError("state has no step count 't'; pass what Adam.state() returned")
        self.m, self.v, self.t = slots["m"], slots["v"], int(state["t"])


OPTIMIZERS: dict[str, type[SGD] | type[Momentum] | type[Adam]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "adam": Adam,
}


def make_optimizer(name: str, *, lr: float) -> Optimizer:
    """Build an optimizer by name (``"sgd"``, ``"momentum"``, ``"adam"``).

    Parameters
    ----------
    name
        A key of :data:`OPTIMIZERS`: ``"sgd"``, ``"momentum"`` or ``"adam"``.
    lr
        Learning rate, > 0; every other setting keeps its default.

    Returns
    -------
    Optimizer
        A new :class:`SGD`, :class:`Momentum` or :class:`Adam`.

    Raises
    ------
    ValueError
        If ``name`` is not known, or ``lr`` is not a finite number > 0.
    TypeError
        If ``lr`` is not a real number.
    """
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"optimizer={name!r} is not known; choose one of: {', '.join(OPTIMIZERS)}"
        ) from None
    return cls(lr=lr)
