"""Activation functions with their derivatives, real and complex.

Every activation is an :class:`Activation`: a forward map ``a = f(z)`` and its
Wirtinger derivatives ``(∂f/∂z, ∂f/∂z̄)``. For the real activations on real input
``∂f/∂z`` is the ordinary derivative ``f'(z)`` and ``∂f/∂z̄`` is ``None`` (zero).

Complex-gradient convention (DESIGN.md §4.2): the gradient carried backwards for a
real loss ``L`` of a complex quantity ``z`` is ``g_z = ∂L/∂Re z − i ∂L/∂Im z``
(``= 2 ∂L/∂z``, the JAX convention). Through ``a = f(z)`` the chain rule is::

    g_z = g_a · ∂f/∂z + conj(g_a) · conj(∂f/∂z̄)

which :meth:`Activation.backward` implements. For real ``z`` and real ``g_a`` it
reduces to the seeds' ``δ = f'(z) ∘ g_a``.

Shapes: every function maps an array of any shape elementwise.
"""

from __future__ import annotations

import functools
import reprlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digital.validation import check_fraction, check_real

Array = NDArray[Any]
Derivatives = tuple[Array, Array | None]

#: Default bias of modReLU, ``f(z) = ReLU(|z| + b) z/|z|`` (Arjovsky et al. 2016).
MODRELU_BIAS = -0.1
#: Electro-optic activation defaults (Williamson et al., IEEE JSTQE 26, 7700412 (2020),
#: the settings of their Fig. 4): tapped power fraction α, phase gain g per unit of
#: power (rad), bias phase φ_b (rad).
EO_ALPHA = 0.1
EO_GAIN_RAD = 0.05 * np.pi
EO_BIAS_RAD = np.pi


def _numeric(z: Array) -> Array:
    """``z`` as an array of real or complex floats: bools and integers become float64
    (``tanh`` of a bool array was float16, ``abs`` of one stayed bool, ``sigmoid`` of
    one raised NumPy's "boolean negative"); other kinds are refused."""
    z = np.asarray(z)
    if z.dtype.kind in "biu":
        return z.astype(np.float64)
    if z.dtype.kind not in "fc":
        raise TypeError(f"z has dtype {z.dtype}; an activation takes real or complex numbers")
    return z


@dataclass(frozen=True)
class Activation:
    """An elementwise activation and its derivatives.

    Parameters
    ----------
    name
        Registry name.
    forward
        ``f(z)``, elementwise.
    derivatives
        ``z -> (∂f/∂z, ∂f/∂z̄ or None)``, elementwise. ``None`` means
        ``∂f/∂z̄ = 0`` (holomorphic, or real-valued on real input).
    complex_input
        Whether ``f`` is defined for complex ``z``.
    real_output
        Whether ``f(z)`` is real for every (also complex) ``z``.
    """

    name: str
    forward: Callable[[Array], Array]
    derivatives: Callable[[Array], Derivatives]
    complex_input: bool
    real_output: bool

    def __call__(self, z: Array) -> Array:
        return self.forward(_numeric(z))

    def _derivatives(self, z: Array) -> Derivatives:
        """:attr:`derivatives` of ``z``, checked: a pair of arrays (the second may be
        ``None``) that broadcast to the shape of ``z``. (A bare ``f'(z)`` was unpacked
        along its first axis: two rows of a batch of two taken as ``∂f/∂z`` and
        ``∂f/∂z̄``, silently, else a bare 'too many values to unpack'.)"""
        pair = self.derivatives(_numeric(z))
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise TypeError(
                f"activation {self.name!r}: derivatives(z) must return a pair "
                f"(∂f/∂z, ∂f/∂z̄ or None); got {type(pair).__name__}"
                + (f" of shape {np.shape(pair)}" if isinstance(pair, np.ndarray) else "")
            )
        shape = np.shape(z)
        for which, d in (("∂f/∂z", pair[0]), ("∂f/∂z̄", pair[1])):
            if d is None and which == "∂f/∂z̄":  # None: zero
                continue
            try:
                fits = d is not None and np.broadcast_shapes(np.shape(d), shape) == shape
            except ValueError:
                fits = False
            if not fits:
                got = "None" if d is None else f"shape {np.shape(d)}"
                raise ValueError(
                    f"activation {self.name!r}: derivatives(z) gave {which} of {got} for z "
                    f"of shape {shape}; it must be an array of z's shape (or broadcast to it)"
                )
        return pair[0], pair[1]

    def derivative(self, z: Array) -> Array:
        """Ordinary derivative ``f'(z)``: of a real ``z``, or of a holomorphic ``f``.

        On real input this is ``∂f/∂z + ∂f/∂z̄`` (e.g. ``sign(z)`` for ``abs``).

        Parameters
        ----------
        z
            Pre-activations, any shape, real or complex.

        Returns
        -------
        numpy.ndarray
            ``f'(z)``, the shape of ``z``.

        Raises
        ------
        ValueError
            For complex ``z`` where ``f`` is not holomorphic (``abs``, ``abs2``,
            ``modrelu``, ``electro_optic``): no ordinary derivative exists there; use
            :meth:`derivatives` or :meth:`backward`.
        """
        d_dz, d_dzbar = self._derivatives(z)
        if d_dzbar is None:
            return d_dz
        if np.iscomplexobj(z):
            raise ValueError(
                f"activation {self.name!r} is not holomorphic, so complex z has no "
                "ordinary derivative; use derivatives(z) (Wirtinger) or backward(z, grad_a)"
            )
        return np.real(d_dz + d_dzbar)

    def settings(self) -> dict[str, float | str]:
        """The settings this activation was built with, as JSON-able values.

        The keywords of its ``functools.partial`` (modReLU's ``bias``, the
        electro-optic ``amp``, ``g`` and ``phi_b``), sorted by name; ``{}`` for a plain
        function. With :attr:`name` it tells two activations apart in a checkpoint.

        Returns
        -------
        dict
            Keyword name → value (float or str).
        """
        keywords = getattr(self.forward, "keywords", None) or {}
        return {
            key: float(value)
            if isinstance(value, int | float | np.integer | np.floating)
            else repr(value)
            for key, value in sorted(keywords.items())
        }

    def backward(self, z: Array, grad_a: Array) -> Array:
        """Gradient with respect to ``z`` given the gradient with respect to ``a = f(z)``.

        Parameters
        ----------
        z
            Pre-activation of the last forward pass, any shape.
        grad_a
            ``g_a = ∂L/∂Re a − i ∂L/∂Im a`` (real for real ``a``), same shape.

        Returns
        -------
        numpy.ndarray
            ``g_z`` in the same convention, same shape.

        Raises
        ------
        ValueError
            If ``grad_a`` and ``z`` differ in shape (NumPy would broadcast one gradient
            row over a whole batch, or a batch onto one sample).
        """
        if np.shape(grad_a) != np.shape(z):
            raise ValueError(
                f"activation {self.name!r}: grad_a has shape {np.shape(grad_a)} but z has "
                f"{np.shape(z)}; backward needs ∂L/∂a for every entry of a = f(z)"
            )
        d_dz, d_dzbar = self._derivatives(z)
        grad_z = grad_a * d_dz
        if d_dzbar is not None:
            grad_z = grad_z + np.conj(grad_a) * np.conj(d_dzbar)
        return grad_z


# --- real (and holomorphic) activations -------------------------------------------


def _sigmoid(z: Array) -> Array:
    if np.iscomplexobj(z):
        # 1/(1 + e^{−z}) for Re z ≥ 0, e^{z}/(1 + e^{z}) below: the exponential never
        # exceeds 1 in modulus, so large |Re z| cannot overflow to nan.
        negative = z.real < 0
        e = np.exp(np.where(negative, z, -z))
        return np.where(negative, e, 1.0) / (1.0 + e)
    # Numerically stable for large |z| (real input).
    return np.exp(-np.logaddexp(0.0, -z))


def _sigmoid_d(z: Array) -> Derivatives:
    s = _sigmoid(z)
    return s * (1.0 - s), None


def _tanh_d(z: Array) -> Derivatives:
    return 1.0 - np.tanh(z) ** 2, None


def _relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def _relu_d(z: Array) -> Derivatives:
    return (z > 0).astype(np.float64), None


def _softplus(z: Array) -> Array:
    if np.iscomplexobj(z):
        # Principal log(1 + e^z). For Re z > 0 it is written z + log(1 + e^{−z}),
        # which cannot overflow, with the imaginary part wrapped back to (−π, π].
        positive = z.real > 0
        w = np.where(positive, -z, z)
        out = np.log1p(np.exp(w))
        shifted = z + out
        wrapped = shifted.real + 1j * np.angle(np.exp(1j * shifted.imag))
        return np.where(positive, wrapped, out)
    return np.logaddexp(0.0, z)


def _softplus_d(z: Array) -> Derivatives:
    return _sigmoid(z), None


def _swish(z: Array) -> Array:
    return z * _sigmoid(z)


def _swish_d(z: Array) -> Derivatives:
    s = _sigmoid(z)
    return s + z * s * (1.0 - s), None


def _mish(z: Array) -> Array:
    return z * np.tanh(_softplus(z))


def _mish_d(z: Array) -> Derivatives:
    t = np.tanh(_softplus(z))
    return t + z * (1.0 - t**2) * _sigmoid(z), None


def _identity(z: Array) -> Array:
    return z


def _identity_d(z: Array) -> Derivatives:
    return np.ones_like(z), None


# --- complex activations -----------------------------------------------------------


def _abs_d(z: Array) -> Derivatives:
    # |z| = (z z̄)^{1/2}: ∂/∂z = z̄ / (2|z|), ∂/∂z̄ = z / (2|z|); 0 at z = 0 (subgradient).
    # Written with the unit phasor z/|z|, which stays finite for subnormal |z|.
    # (Real divisions: NumPy's complex-by-complex division overflows there.)
    mag = np.abs(z)
    safe = np.where(mag > 0, mag, 1.0)
    unit = np.real(z) / safe + 1j * (np.imag(z) / safe) if np.iscomplexobj(z) else z / safe
    unit = np.where(mag > 0, unit, 0.0)
    return 0.5 * np.conj(unit), 0.5 * unit


def _abs2(z: Array) -> Array:
    return (z * np.conj(z)).real if np.iscomplexobj(z) else z * z


def _abs2_d(z: Array) -> Derivatives:
    # |z|² = z z̄: ∂/∂z = z̄, ∂/∂z̄ = z.
    return np.conj(z), z


def modrelu(bias: float = MODRELU_BIAS) -> Activation:
    """modReLU ``f(z) = ReLU(|z| + b) · z/|z|`` (Arjovsky, Shah, Bengio 2016).

    Parameters
    ----------
    bias
        The threshold ``b`` (usually negative): fields weaker than ``-b`` are cut; a
        finite number.

    Returns
    -------
    Activation
        Named ``"modrelu"``, for complex networks.
    """
    b = check_real(bias, "bias")
    # module-level functions bound with partial, not closures: a network using this
    # activation pickles (process pools, Dask)
    return Activation(
        "modrelu",
        functools.partial(_modrelu, bias=b),
        functools.partial(_modrelu_d, bias=b),
        complex_input=True,
        real_output=False,
    )


def _modrelu(z: Array, *, bias: float) -> Array:
    mag = np.abs(z)
    scale = np.where(mag > 0, np.maximum(mag + bias, 0.0) / np.where(mag > 0, mag, 1.0), 0.0)
    return z * scale


def _modrelu_d(z: Array, *, bias: float) -> Derivatives:
    # Where active, f = z + b z/|z|:  ∂f/∂z = 1 + b/(2|z|),  ∂f/∂z̄ = −b z² / (2|z|³).
    mag = np.abs(z)
    active = (mag + bias) > 0
    safe = np.where(active & (mag > 0), mag, 1.0)  # no 1/|z|³ of the cut fields
    d_dz = np.where(active, 1.0 + bias / (2.0 * safe), 0.0)
    d_dzbar = np.where(active, -bias * z**2 / (2.0 * safe**3), 0.0)
    return d_dz, d_dzbar


def electro_optic(
    alpha: float = EO_ALPHA, gain_rad: float = EO_GAIN_RAD, bias_rad: float = EO_BIAS_RAD
) -> Activation:
    """Electro-optic activation of Williamson et al. (IEEE JSTQE 2020).

    A fraction ``α`` of the power is tapped to a photodiode whose signal drives a
    phase shifter in an MZI carrying the rest::

        f(z) = i √(1−α) · exp(−i(g|z|² + φ_b)/2) · cos((g|z|² + φ_b)/2) · z

    The power transmission is ``(1−α) cos²((g|z|² + φ_b)/2)``. With the default
    bias ``φ_b = π`` (a threshold, ReLU-like) it is 0 at ``|z|² = 0`` and full at
    ``|z|² = π/g`` — 20 power units at the default ``g = 0.05π``. ``|z|²`` is in the
    units of the network's fields: in a :class:`~photonic.network.PhotonicNetwork`
    with unit input power no port exceeds 1, so the defaults pass at most
    ``(1−α) sin²(g/2)`` ≈ 0.6 % and a deep network is dark. Scale ``g`` to the
    powers the layer carries, e.g. ``gain_rad = π · n_ports`` for unit input power
    spread over ``n_ports``.

    Parameters
    ----------
    alpha
        Tapped power fraction, in [0, 1).
    gain_rad
        Phase per unit of detected power ``g``, rad; a finite number.
    bias_rad
        Bias phase ``φ_b``, rad; a finite number.

    Returns
    -------
    Activation
        Named ``"electro_optic"``, for complex networks.
    """
    settings = {
        "amp": np.sqrt(1.0 - check_fraction(alpha, "alpha")),
        "g": check_real(gain_rad, "gain_rad"),
        "phi_b": check_real(bias_rad, "bias_rad"),
    }
    return Activation(  # partials of module-level functions: picklable (see modrelu)
        "electro_optic",
        functools.partial(_eo, **settings),
        functools.partial(_eo_d, **settings),
        complex_input=True,
        real_output=False,
    )


def _eo_h(u: Array, *, amp: float, g: float, phi_b: float) -> Array:
    """``h(u)`` with ``f(z) = h(|z|²) z`` (:func:`electro_optic`)."""
    psi = (g * u + phi_b) / 2
    return 1j * amp * np.exp(-1j * psi) * np.cos(psi)


def _eo(z: Array, *, amp: float, g: float, phi_b: float) -> Array:
    return _eo_h(np.abs(z) ** 2, amp=amp, g=g, phi_b=phi_b) * z


def _eo_d(z: Array, *, amp: float, g: float, phi_b: float) -> Derivatives:
    # ∂f/∂z = h(u) + u h'(u),  ∂f/∂z̄ = z² h'(u),  h'(u) = √(1−α) (g/2) e^{−i(gu+φ_b)}.
    u = np.abs(z) ** 2
    dh = amp * (g / 2) * np.exp(-1j * (g * u + phi_b))
    return _eo_h(u, amp=amp, g=g, phi_b=phi_b) + u * dh, z**2 * dh


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_d, complex_input=True, real_output=False),
    "tanh": Activation("tanh", np.tanh, _tanh_d, complex_input=True, real_output=False),
    "relu": Activation("relu", _relu, _relu_d, complex_input=False, real_output=True),
    "swish": Activation("swish", _swish, _swish_d, complex_input=True, real_output=False),
    "mish": Activation("mish", _mish, _mish_d, complex_input=True, real_output=False),
    "softplus": Activation(
        "softplus", _softplus, _softplus_d, complex_input=True, real_output=False
    ),
    "identity": Activation(
        "identity", _identity, _identity_d, complex_input=True, real_output=False
    ),
    "abs": Activation("abs", np.abs, _abs_d, complex_input=True, real_output=True),
    "abs2": Activation("abs2", _abs2, _abs2_d, complex_input=True, real_output=True),
    "modrelu": modrelu(),
    "electro_optic": electro_optic(),
}

#: Activations that act on real numbers in the real MLP.
REAL_ACTIVATIONS: tuple[str, ...] = (
    "sigmoid",
    "tanh",
    "relu",
    "swish",
    "mish",
    "softplus",
    "identity",
)
#: Activations meant for complex fields (modulus, modulus squared, modReLU).
COMPLEX_ACTIVATIONS: tuple[str, ...] = ("abs", "abs2", "modrelu", "electro_optic")


def get_activation(name: str | Activation) -> Activation:
    """Look an activation up by name (an :class:`Activation` is passed through).

    Parameters
    ----------
    name
        A name of :data:`ACTIVATIONS`, or an :class:`Activation`. An activation of
        your own needs a name not in :data:`ACTIVATIONS`: checkpoints tell
        activations apart by name and :meth:`Activation.settings` only.

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        For an unknown name (the message lists the allowed names), or an
        :class:`Activation` that takes a built-in name but computes something else.
    TypeError
        If ``name`` is neither a string nor an :class:`Activation`.
    """
    if isinstance(name, Activation):
        _check_not_impostor(name)
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"activation={reprlib.repr(name)} must be a name (str) from "
            f"{tuple(ACTIVATIONS)} or a digital.activations.Activation"
        )
    try:
        return ACTIVATIONS[name]
    except KeyError:
        allowed = ", ".join(ACTIVATIONS)
        raise ValueError(f"activation={name!r} is not known; choose one of: {allowed}") from None


def _check_not_impostor(act: Activation) -> None:
    """Refuse an activation that takes a built-in's name with other functions: a
    checkpoint of the built-in would resume into it without a word."""
    builtin = ACTIVATIONS.get(act.name)
    if builtin is None:
        return

    def base(f: Callable[..., Any]) -> Callable[..., Any]:
        return f.func if isinstance(f, functools.partial) else f

    same = (
        base(act.forward) is base(builtin.forward)
        and base(act.derivatives) is base(builtin.derivatives)
        and (act.complex_input, act.real_output) == (builtin.complex_input, builtin.real_output)
    )
    if not same:
        raise ValueError(
            f"activation {act.name!r} is the name of a built-in activation, but this "
            "Activation computes something else; give it a name not in "
            f"{tuple(ACTIVATIONS)} (checkpoints tell activations apart by name and settings)"
        )
