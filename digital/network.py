"""The ``Network`` interface and the reference multilayer perceptron.

Every model in the project — the digital :class:`MLP` here and the photonic
``photonic.network.PhotonicNetwork`` — implements :class:`Network`, so one trainer
(:func:`digital.train.train`) and one gradient checker serve both.

The :class:`MLP` follows the matrix form of backpropagation in the seeds
(``shared/reference/seeds``), written batch-first. With ``a⁰ = x`` and, for each
layer ``l``, the input augmented by a constant 1 (the bias is a weight on it)::

    z^l = [a^{l-1}, 1] (W^l)ᵀ           a^l = f^l(z^l)                    forward
    δ^L = g_y ∘ f'(z^L)                                                    backward
    δ^{l-1} = f'(z^{l-1}) ∘ δ^l W^l[:, :-1]
    ∇_{W^l} = (δ^l)ᵀ [a^{l-1}, 1]        (the seeds' δ aᵀ, summed over the batch)

Complex weights (``dtype=complex``) follow DESIGN.md §4.2: gradients are
``∂L/∂Re W − i ∂L/∂Im W`` and travel back through ``Wᵀ`` (no conjugation), which
makes a complex MLP compute exactly what a photonic mesh layer computes.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from digital.activations import COMPLEX_ACTIVATIONS, Activation, get_activation
from digital.validation import check_generator, check_matrix, check_positive
from sim.ops import BYTES_PER_COMPLEX, BYTES_PER_REAL, Recorder, activation_op, digital_compute

Array = NDArray[Any]
BiasMode = Literal["input", "none"]


@contextlib.contextmanager
def not_recording(net: Any) -> Iterator[None]:
    """Take ``net.recorder`` off for the ``with`` block, and put it back after.

    For work that is not part of what a trace describes: the trainer's evaluation
    passes, gradient checks. A network without a recorder is left as it is.

    Parameters
    ----------
    net
        Any network; its ``recorder`` attribute, if set, is taken off.
    """
    recorder = getattr(net, "recorder", None)
    if recorder is None:
        yield
        return
    net.recorder = None
    try:
        yield
    finally:
        net.recorder = recorder


@runtime_checkable
class Network(Protocol):
    """What every trainable model provides.

    ``forward`` maps ``(n_samples, n_in)`` real inputs to ``(n_samples, n_out)``
    real outputs and caches what ``backward`` needs; ``backward`` takes
    ``dLoss/d(output)`` of that forward pass and returns gradients keyed like
    ``params()``; ``set_params`` installs new parameters (on a chip: programs it)
    and forgets the last forward pass, which belonged to the old ones.
    """

    def forward(self, x: Array) -> Array:
        """Outputs of a batch, caching what :meth:`backward` needs.

        Parameters
        ----------
        x
            Inputs ``(n_samples, n_in)``, real.

        Returns
        -------
        numpy.ndarray
            Outputs ``(n_samples, n_out)``, real.
        """
        ...

    def backward(self, grad_output: Array) -> dict[str, Array]:
        """Gradients of the loss with respect to every parameter.

        Parameters
        ----------
        grad_output
            ``dLoss/d(output)`` of the last :meth:`forward`, ``(n_samples, n_out)``.

        Returns
        -------
        dict
            Keyed and shaped like :meth:`params`; complex entries in the convention
            ``∂L/∂Re w − i ∂L/∂Im w``.
        """
        ...

    def params(self) -> dict[str, Array]:
        """The trainable parameters.

        Returns
        -------
        dict
            Copies of the parameter arrays, keyed by name.
        """
        ...

    def set_params(self, params: dict[str, Array]) -> None:
        """Install new parameters and forget the last :meth:`forward`.

        Parameters
        ----------
        params
            Same keys and shapes as :meth:`params`.
        """
        ...


class MLP:
    """Dense feed-forward network, real or complex, trained by backpropagation.

    Parameters
    ----------
    layer_sizes
        Units per layer including input and output, e.g. ``[2, 16, 16, 2]``.
    activation
        One name for every layer, or one name per layer (``len(layer_sizes) − 1``).
        Real networks: sigmoid, tanh, relu, swish, mish, softplus, identity, abs.
        Complex networks also take abs, abs2, modrelu, electro_optic; their last
        activation must give a real output (abs or abs2), since outputs are real.
        An :class:`~digital.activations.Activation` may stand for a name, e.g. one
        with its own settings: ``modrelu(bias=-0.2)``.
    rng
        Generator for the initial weights.
    dtype
        ``float`` (default) or ``complex``.
    bias
        ``"input"``: a bias weight on a constant input 1 in every layer;
        ``"none"``: no bias.
    init_scale
        Weights are drawn ``N(0, init_scale² / fan_in)`` (Glorot-like), where
        ``fan_in`` counts the bias input too; complex weights split that variance
        between real and imaginary parts. A finite number > 0.

    Attributes
    ----------
    recorder
        ``None`` or a :class:`sim.ops.Recorder`; when set, every layer of every pass
        appends ``digital_compute`` ops: its matrix products, and its activation
        (forward) or the activation's derivative applied to δ (backward) as
        :func:`sim.ops.activation_op` — the same elementwise cost the photonic network
        records for its host activations; ``identity`` does no work and records
        nothing. Unfused: one op (one kernel launch) per product and per activation,
        as the photonic network's host runs them.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        *,
        activation: str | Activation | Sequence[str | Activation] = "tanh",
        rng: np.random.Generator,
        dtype: type | np.dtype[Any] = float,
        bias: BiasMode = "input",
        init_scale: float = 1.0,
    ) -> None:
        check_generator(rng)
        init_scale = check_positive(init_scale, "init_scale")
        try:
            entries: list[Any] | None = list(layer_sizes)
        except TypeError:
            entries = None
        if (
            entries is None
            or len(entries) < 2
            or any(isinstance(s, bool) or not isinstance(s, int | np.integer) for s in entries)
            or any(s < 1 for s in entries)
        ):
            raise ValueError(f"layer_sizes={layer_sizes!r} must list at least two positive ints")
        sizes = [int(s) for s in entries]
        n_layers = len(sizes) - 1
        if isinstance(activation, str | Activation):
            names: list[str | Activation] = [activation] * n_layers
        elif isinstance(activation, Sequence) and not isinstance(activation, bytes):
            names = list(activation)
        else:
            raise TypeError(
                f"activation={activation!r} must be a name, an Activation, or a list of "
                f"one per layer ({n_layers})"
            )
        if len(names) != n_layers:
            raise ValueError(
                f"activation={activation!r} lists {len(names)} names; need one per layer "
                f"({n_layers})"
            )
        self.activations: list[Activation] = [get_activation(n) for n in names]
        try:
            dt: np.dtype[Any] | None = np.dtype(dtype)
        except (TypeError, ValueError):  # not a dtype at all, e.g. "foo": the same message
            dt = None
        if dt is None or dt not in (np.dtype(np.float64), np.dtype(np.complex128)):
            raise ValueError(f"dtype={dtype!r} is not allowed; choose float or complex")
        self.dtype = dt
        self.is_complex = self.dtype.kind == "c"
        if bias not in ("input", "none"):
            raise ValueError(f"bias={bias!r} is not allowed; choose 'input' or 'none'")
        self.bias: BiasMode = bias
        for act in self.activations:
            if self.is_complex and not act.complex_input:
                raise ValueError(
                    f"activation={act.name!r} is not defined for complex weights; "
                    "choose a complex-capable one"
                )
            if not self.is_complex and act.name in COMPLEX_ACTIVATIONS and act.name != "abs":
                raise ValueError(
                    f"activation={act.name!r} is for complex networks; use dtype=complex"
                )
        if self.is_complex and not self.activations[-1].real_output:
            raise ValueError(
                f"the last activation of a complex MLP must give a real output (abs or abs2); "
                f"got {self.activations[-1].name!r}"
            )
        self.layer_sizes = sizes
        self.recorder: Recorder | None = None
        extra = 1 if bias == "input" else 0
        self._weights: list[Array] = []
        for n_in, n_out in itertools.pairwise(sizes):
            std = init_scale / np.sqrt(n_in + extra)
            shape = (n_out, n_in + extra)
            if self.is_complex:
                w = (rng.normal(size=shape) + 1j * rng.normal(size=shape)) * (std / np.sqrt(2))
            else:
                w = rng.normal(size=shape) * std
            self._weights.append(w.astype(self.dtype))
        self._cache: tuple[list[Array], list[Array]] | None = None

    # -- parameters -----------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        """Number of weight layers."""
        return len(self._weights)

    def params(self) -> dict[str, Array]:
        """Copies of the weights.

        Returns
        -------
        dict
            Keyed ``"W1" … "WL"``, each ``(n_out, n_in [+ 1])`` (``+ 1`` with
            ``bias="input"``).
        """
        return {f"W{i + 1}": w.copy() for i, w in enumerate(self._weights)}

    @property
    def n_features(self) -> int:
        """Number of input features (the first layer's units)."""
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        """Number of outputs (the last layer's units)."""
        return self.layer_sizes[-1]

    def checkpoint_settings(self) -> dict[str, Any]:
        """What a resumed training run must share with this network besides its weights.

        :func:`digital.train.train` checks them: the activations with their settings
        (:meth:`~digital.activations.Activation.settings`) and the weights' dtype,
        which the weights' shapes do not show.

        Returns
        -------
        dict
            JSON-able values under ``"activations"``, ``"activation_settings"`` and
            ``"dtype"``.
        """
        return {
            "activations": [a.name for a in self.activations],
            "activation_settings": [a.settings() for a in self.activations],
            "dtype": self.dtype.name,
        }

    def set_params(self, params: dict[str, Array]) -> None:
        """Install new weights (same keys and shapes as :meth:`params`; copied).

        The last :meth:`forward` is forgotten: :meth:`backward` needs a new one, of the
        new weights (the cached activations belong to the old ones).

        Parameters
        ----------
        params
            ``{"W1": …, …}`` keyed and shaped as :meth:`params` returns them.

        Raises
        ------
        ValueError
            For other keys or shapes, or non-finite values.
        TypeError
            For a non-mapping, non-numeric arrays, or complex arrays for real weights.
        """
        expected = self.params()
        if not isinstance(params, Mapping):
            raise TypeError(
                f"params is a {type(params).__name__}; expected a dict of arrays keyed "
                f"{sorted(expected)}"
            )
        if set(params) != set(expected):
            raise ValueError(
                f"params has keys {sorted(params)}; expected exactly {sorted(expected)}"
            )
        new = []
        for key, old in expected.items():
            w = np.asarray(params[key])
            if w.shape != old.shape:
                raise ValueError(f"params[{key!r}] has shape {w.shape}; expected {old.shape}")
            if w.dtype.kind not in "iufc":
                raise TypeError(f"params[{key!r}] must hold numbers; got dtype {w.dtype}")
            if not self.is_complex and np.iscomplexobj(w):
                raise TypeError(f"params[{key!r}] is complex; this MLP has real weights")
            if not np.all(np.isfinite(w)):
                raise ValueError(f"params[{key!r}] holds NaN or infinite values")
            new.append(w.astype(self.dtype, copy=True))
        self._weights = new
        self._cache = None

    # -- passes ---------------------------------------------------------------------

    def _augment(self, a: Array) -> Array:
        if self.bias == "none":
            return a
        ones = np.ones((a.shape[0], 1), dtype=a.dtype)
        return np.concatenate([a, ones], axis=1)

    def forward(self, x: Array) -> Array:
        """Run the network on a batch.

        Parameters
        ----------
        x
            Inputs, ``(n_samples, layer_sizes[0])`` real.

        Returns
        -------
        numpy.ndarray
            Outputs, ``(n_samples, layer_sizes[-1])`` real.
        """
        self._cache = None  # a forward() that fails leaves nothing for backward()
        a = check_matrix(x, "x", n_cols=self.layer_sizes[0], values="real").astype(np.float64)
        inputs: list[Array] = []
        pre: list[Array] = []
        for layer, (w, act) in enumerate(zip(self._weights, self.activations, strict=True)):
            a_aug = self._augment(a)
            z = a_aug @ w.T
            inputs.append(a_aug)
            pre.append(z)
            a = act(z)
            self._record(layer, "forward", a_aug.shape[0], w.shape)
            self._record_activation(layer, "forward", z.shape)
        if np.iscomplexobj(a):
            raise ValueError("network output is complex; the last activation must be real")
        self._cache = (inputs, pre)
        return np.asarray(a, dtype=np.float64)

    def backward(self, grad_output: Array) -> dict[str, Array]:
        """Gradients of the loss with respect to every weight.

        Parameters
        ----------
        grad_output
            ``dLoss/d(output)`` of the last :meth:`forward`, ``(n_samples, n_out)``.

        Returns
        -------
        dict
            ``{"W1": …, …}`` shaped like :meth:`params`; for complex weights in the
            convention ``∂L/∂Re W − i ∂L/∂Im W``.
        """
        if self._cache is None:
            raise RuntimeError("backward() needs a forward() first")
        inputs, pre = self._cache
        g = check_matrix(grad_output, "grad_output", values="real", columns="n_outputs")
        if g.shape != pre[-1].shape:
            raise ValueError(
                f"grad_output has shape {g.shape}; the last forward gave {pre[-1].shape}"
            )
        grads: dict[str, Array] = {}
        n_in_cols = [w.shape[1] - (1 if self.bias == "input" else 0) for w in self._weights]
        for layer in reversed(range(self.n_layers)):
            delta = self.activations[layer].backward(pre[layer], g)  # δ^l
            self._record_activation(layer, "backward", delta.shape)
            grads[f"W{layer + 1}"] = delta.T @ inputs[layer]  # ∇W^l = (δ^l)ᵀ a^{l-1}
            # the first layer's input gradient is not needed: one product, not two
            products = 2 if layer > 0 else 1
            self._record(layer, "backward", delta.shape[0], self._weights[layer].shape, products)
            if layer > 0:
                g = delta @ self._weights[layer][:, : n_in_cols[layer]]  # (W^l)ᵀ δ^l
        return {key: grads[key] for key in sorted(grads, key=lambda k: int(k[1:]))}

    def _record_activation(
        self, layer: int, direction: Literal["forward", "backward"], shape: tuple[int, ...]
    ) -> None:
        """Record layer ``layer``'s activation (forward) or its derivative applied to δ
        (backward) over ``shape = (n, n_out)``, unless it is ``identity`` (no work)."""
        if self.recorder is None or self.activations[layer].name == "identity":
            return
        n, n_out = shape
        self.recorder.record(
            activation_op(
                layer,
                direction,
                n_ports=n_out,
                n_samples=n,
                values="complex" if self.is_complex else "real",
            )
        )

    def _record(
        self,
        layer: int,
        direction: Literal["forward", "backward"],
        n: int,
        shape: tuple[int, ...],
        n_products: int = 1,
    ) -> None:
        """Record ``n_products`` matrix products of ``n`` samples with a weight of ``shape``.

        Forward: ``W a`` (one). Backward: ``δᵀ a`` and, above the first layer, ``δ W``.
        """
        if self.recorder is None:
            return
        n_out, n_in = shape
        # Complex multiply-add = 4 real multiplies + 4 adds = 8 FLOPs; real = 2.
        per_mac = 8 if self.is_complex else 2
        word = BYTES_PER_COMPLEX if self.is_complex else BYTES_PER_REAL
        flops = per_mac * n * n_in * n_out * n_products
        n_bytes = word * (n_out * n_in + n * (n_in + n_out) * n_products)
        self.recorder.record(
            digital_compute(
                layer, direction, n_ports=n_out, n_samples=n, flops=flops, bytes_moved=n_bytes
            )
        )
