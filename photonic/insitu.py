"""Gradients measured on the chip: in-situ (3-pass), analog (2-pass), finite differences.

These functions simulate the physical passes through an imperfect chip — every
field is propagated through the chip's own lossy, erroneous mesh and every power
is read by a noisy detector — instead of evaluating the gradient formula. Then
what the measurement gets wrong, it gets wrong for the physical reason.

Methods (DESIGN.md §4.4; Hughes et al., Optica 5 (2018); Pai et al., Science 380
(2023))
------------------------------------------------------------------------------
``"in_situ"`` (3 passes per sample)
    1. forward: inject ``x``, read the tap power ``|a|²`` at every phase shifter and
       the output field, whose phase the adjoint source needs (in a training step
       this is the inference pass itself: pass it as :class:`InferencePass` and only
       passes 2 and 3 are sent);
    2. adjoint: inject ``δ`` at the outputs, read ``|â|²`` at every shifter and
       measure the complex field ``x̂ = Wᵀδ`` leaving the inputs (with the chip's
       amplitude and phase measurement error);
    3. sum: inject ``x − i·conj(x̂)`` and read ``I_sum``;
    ``dL/dφ = (I_sum − I_fwd − I_adj) / 2``.
``"analog"`` (adjoint pass for ``x̂``, then 2 tap-reading passes)
    ``dL/dφ = (|x − i x̂*|² − |x + i x̂*|²) / 4`` read at every shifter.
``"finite_difference"``
    Every phase shifter is perturbed by ``±h`` and the batch is sent through twice;
    the gradient is the central difference of ``ℓ = Σ w·P`` over the detected
    output powers ``P``, with ``w = dL/dP`` (the chain rule makes this ``dL/dφ``).
    The held phases move by exactly ``±h``, which a chip with a DAC or thermal
    crosstalk cannot do, so such chips are refused here;
    ``PhotonicNetwork(gradient="finite_difference")`` programs every perturbation.

Every pass is recorded (``recorder``) as a :func:`sim.ops.mesh_pass`. The adjoint
pass injects ``δ``, the sum pass ``x − i·conj(x̂)`` and the analog passes
``x ∓ i·conj(x̂)``: complex fields, which need amplitude and phase at every port (an
I/Q modulator), so they are recorded with ``inject="field"``, two DAC samples per
port, as reading a field at the exit takes two reads per port (I and Q). A forward
pass or a finite-difference probe of a real ``x`` injects amplitudes
(:func:`injection`).

Why the 3-pass estimate fails on a lossy chip
---------------------------------------------
The sum pass relies on time reversal: sending ``conj(x̂)`` forward must recreate
``conj(â)`` at every shifter. With ``x̂ = Pᵀ â`` (``P`` the transfer from the inputs
to the shifter's plane), forward propagation gives ``P conj(x̂) = P P^H conj(â)``,
which equals ``conj(â)`` only if ``P`` is unitary. Through a lossy prefix the
recreated field is attenuated twice (``P P^H ≈ η² I``), so ``I_sum − I_fwd − I_adj``
keeps an additive error ``(η⁴ − 1)|â|²`` that does not cancel, plus a factor ``η²``
on the interference term. The 2-pass difference cancels the ``|a|²`` and
``|P conj(x̂)|²`` terms exactly, leaving only the smooth ``η²`` scaling, so its
direction stays close to the true gradient.

The additive error grows as ``|â|²`` and the interference term only as ``|a||â|``,
so the 3-pass bias depends on how strong the adjoint is: ``adjoint_power_ratio``
(default 1, the adjoint at the forward pass's mean power per sample). Tap noise works
the other way: its error relative to the signal grows as the adjoint weakens. With
(Clements N = 8, B = 4; about 10 s)::

    photonic-backprop sweep gradient_fidelity --set repeats=20 \
        --set loss_db_values=0.2, --set tap_noise_values=0.01, \
        --set splitting_error_values_rad= --set phase_noise_values_rad= \
        --set io_error_values= --set batch_values= --set port_values= \
        --set pai_profiles= --set methods=in_situ,analog \
        --grid adjoint_power_ratio=0.01,0.1,0.3,1,3


* 0.2 dB per MZI, no noise: 3-pass cosine to the exact gradient 0.988 / 0.932 /
  0.835 / 0.638 / 0.420 at ratios 0.01 / 0.1 / 0.3 / 1 / 3; 2-pass 0.9955 at each;
* tap noise 0.01, no loss: 3-pass ε 0.095 / 0.012 / 0.0047 / 0.0022 / 0.0015,
  2-pass ε 0.029 / 0.0033 / 0.0013 / 0.00061 / 0.00042.

On a chip with both, the best ratio for the 3-pass method lies in between: on
``compare``'s default chip its ε is 0.50 / 0.24 / 0.48 at ratios 1 / 0.1 / 0.01. The
2-pass method's loss error does not depend on the ratio, so it gains from the
strongest adjoint the laser allows.

Measurement modes
-----------------
``"per_sample"``
    Every sample's passes are simulated and every tap reading of every sample is
    noised (``P = |E|² + s·|E|·n``) and quantized separately, then summed over the
    batch. Supports everything: per-pass phase noise (a fresh phase error on every
    shifter in every pass of every sample), ADC resolution, clipping of negative
    readings, I/O errors. Cost O(N²B) time per pass; memory O(NB), as every
    column's taps are read and summed when the pass reaches them
    (:meth:`Mesh.tap_sums`) — except with an ADC, whose full scale is the brightest
    tap of its kind (θ, φ or output taps) over the whole read-out: then the pass
    keeps every tap power (O(N²B), :meth:`Mesh.tap_powers`) and reads them at the end.
``"aggregated"``
    Tap powers summed over the batch (as a camera integrating over a minibatch
    would) are computed from correlation matrices ``Σ_b e_b e_bᴴ`` carried through
    the mesh, O(N³ + N²B). The chip is composed once for all passes, and two
    forward-direction passes (forward and sum, or − and +) are read in one sweep
    (see ``_aggregate_forward``). The summed reading ``Σ_b (|E_b|² + s|E_b|n_b)`` is drawn
    as ``S + s·√S·n`` with ``S = Σ_b |E_b|²`` — exactly the same distribution for
    Gaussian tap noise. I/O errors are applied per sample before aggregation and
    are supported. Not representable, and refused with an error: per-pass phase
    noise (``chip.phase_noise_rad > 0``), ADC quantization (``chip.adc_bits``) and
    clipping (``detector_clip="zero"``), which act on each sample's reading.

Scaling: the adjoint source is scaled so that its mean power per sample is
``adjoint_power_ratio`` × the forward input's (default 1: one laser, one power
level); gradients and ``x̂`` are rescaled to the units of ``δ`` afterwards. A dark
input (``x = 0``) has nothing to interfere with: its gradients are 0 and only the
adjoint pass is sent, at power ``adjoint_power_ratio`` (in the units of ``|x|²``),
for ``x̂``.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from digital.validation import (
    check_choice,
    check_finite,
    check_generator,
    check_matrix,
    check_positive,
)
from photonic import kernels
from photonic.imperfections import (
    Chip,
    apply_io_error,
    check_chip,
    detect_power,
    phase_noise,
    read_power,
)
from photonic.mesh import Mesh, Phases, TapRead, Transfer
from photonic.mzi import sandwich_2x2
from sim import ops
from sim.ops import ExitRead, Inject, Recorder

Array = NDArray[Any]
InSituMethod = Literal["in_situ", "analog"]
Mode = Literal["per_sample", "aggregated"]
#: Batch-summed readings at the (θ taps, φ taps, output taps), ``(n_mzis,)`` twice and
#: ``(n_ports,)``.
Readings = tuple[Array, Array, Array]
Clip = Literal["none", "zero"]
MODES: tuple[str, ...] = ("per_sample", "aggregated")
#: Host FLOPs per tap reading to combine the readings into a gradient,
#: ``(I_sum − I_fwd − I_adj)/2`` (3-pass) or ``(I₋ − I₊)/4`` (analog, counted alike).
COMBINE_FLOPS = 3
#: Default phase step of the finite-difference method, rad. Central differences
#: err by ≈ h²/6 relative (2e-9 here) plus round-off; under noise a larger step is better.
DEFAULT_FD_STEP_RAD = 1e-4
#: Phase step for chips with per-pass noise or an ADC, rad: the noise of a difference
#: falls as 1/h and its bias grows as h²; 0.1 rad is 10× the default phase noise
#: (0.01 rad) and moves an 8-bit reading by several steps. With 1e-4 rad the estimate
#: on such chips is noise or 0 (cosine to the exact gradient ≈ 0).
NOISY_FD_STEP_RAD = 0.1


def fd_step_rad_for(chip: Chip | None) -> float:
    """The finite-difference step for ``chip``, rad.

    Parameters
    ----------
    chip
        The device, or ``None`` (ideal).

    Returns
    -------
    float
        :data:`NOISY_FD_STEP_RAD` on a chip with per-pass noise, drift
        (:attr:`Chip.is_noisy`) or an ADC, else :data:`DEFAULT_FD_STEP_RAD` (also for
        ``None``, the ideal chip).

    Raises
    ------
    TypeError
        If ``chip`` is neither a :class:`Chip` nor ``None``.
    """
    check_chip(chip)
    if chip is not None and (chip.is_noisy or chip.adc_bits is not None):
        return NOISY_FD_STEP_RAD
    return DEFAULT_FD_STEP_RAD


@dataclass(frozen=True)
class Measurement:
    """A measured gradient of one mesh.

    Attributes
    ----------
    gradients
        Batch-summed ``dL/dphase`` estimates: ``theta_rad, phi_rad (n_mzis,)``,
        ``out_rad (n_ports,)``.
    input_adjoint
        The measured adjoint field leaving the inputs, ``x̂ ≈ Wᵀδ``,
        ``(n_samples, n_ports)`` in the units of ``δ``; ``None`` for finite
        differences (which measure no field).
    passes
        Optical passes of the batch sent through the mesh by the measurement (2 when
        the 3-pass method reads an :class:`InferencePass`'s taps, 1 for a dark input,
        0 for a zero ``δ``).
    """

    gradients: Phases
    input_adjoint: Array | None
    passes: int


@dataclass(frozen=True)
class InferencePass:
    """A forward pass the caller already sent through the chip (its inference pass).

    In Pai et al.'s protocol the inference pass *is* the first of the three: its tap
    powers are read while it runs. Given to :func:`measure_in_situ`, the 3-pass
    method reads the forward taps of exactly this pass (same injected field, same
    per-pass phase errors) and runs and records only the adjoint and sum passes.

    Attributes
    ----------
    injected
        The field that entered the mesh, I/O error included, ``(n_samples, n_ports)``.
    phases
        The phases that pass saw: one set, or one per sample with per-pass noise.
    """

    injected: Array
    phases: Phases


# -- the passes ---------------------------------------------------------------------------


def _pass_phases(phases: Phases, chip: Chip | None, rng: np.random.Generator, n: int) -> Phases:
    """The phases one pass sees: with per-pass noise, a fresh set per sample (an empty
    batch sends no pass and sees the phases as they are)."""
    if chip is None or chip.phase_noise_rad == 0 or n == 0:
        return phases
    return phase_noise(phases, chip, rng, n_samples=n)


def _inject(field: Array, chip: Chip | None, rng: np.random.Generator) -> Array:
    """A field as the modulators produce (or the detectors measure) it: I/O error."""
    if chip is None or (chip.io_amplitude_error == 0 and chip.io_phase_error == 0):
        return field
    return apply_io_error(field, chip, rng)


def _detector(chip: Chip | None, rng: np.random.Generator, clip: Clip) -> TapRead | None:
    """The tap detector column by column (no ADC): noisy readings summed over the batch.

    ``None`` for a noiseless one: it reads ``|E|²`` itself (≥ 0, so clipping is moot).
    """
    if chip is None or chip.tap_noise == 0:
        return None

    def read(fields: Array) -> Array:
        return np.sum(read_power(np.square(np.abs(fields)), chip, rng, clip=clip), axis=1)

    return read


def _read_pass(
    mesh: Mesh,
    phases: Phases,
    field: Array,
    chip: Chip | None,
    rng: np.random.Generator,
    clip: Clip,
    *,
    direction: Literal["forward", "adjoint"] = "forward",
    transfer: Transfer | None = None,
) -> tuple[Readings, Array]:
    """One per-sample pass with its taps read: batch-summed (θ, φ, output) readings, port field.

    Every tap of every sample is read separately. Without an ADC the readings are
    independent, so each column's taps are read as the pass reaches them
    (:meth:`Mesh.tap_sums`, memory O(N·B)). An ADC's full scale is the brightest tap
    of its kind (θ, φ or output taps) in the whole read-out, known only when the pass
    is over: then every tap power is kept and read at the end (memory O(N²·B)).
    ``transfer``: the chip composed for exactly ``phases``, if the caller has it (its
    MZI matrices are then not computed again).
    """
    if chip is None or chip.adc_bits is None:
        read = _detector(chip, rng, clip)
        if transfer is not None:
            sums = transfer.tap_sums(field, direction=direction, read=read)
        else:
            sums = mesh.tap_sums(phases, field, chip, direction=direction, read=read)
        return (sums.theta, sums.phi, sums.out), sums.port
    pass_ = mesh.tap_powers if direction == "forward" else mesh.adjoint_tap_powers
    taps = pass_(phases, field, chip)
    readings = (read_power(p, chip, rng, clip=clip) for p in (taps.theta, taps.phi, taps.out))
    theta, phi, out = (np.sum(r, axis=0) for r in readings)
    return (theta, phi, out), taps.port


def _read_fresh_pass(
    mesh: Mesh,
    phases: Phases,
    field: Array,
    chip: Chip | None,
    rng: np.random.Generator,
    clip: Clip,
    transfer: Transfer | None,
) -> Readings:
    """A forward per-sample pass of the programmed ``phases`` (per-pass noise drawn
    first), its taps read: the batch-summed (θ, φ, output) readings. ``transfer``:
    the chip composed for ``phases``, used when the pass sees them (no per-pass noise)."""
    seen = _pass_phases(phases, chip, rng, field.shape[0])
    static = transfer if seen is phases else None
    return _read_pass(mesh, seen, field, chip, rng, clip, transfer=static)[0]


# -- aggregated (correlation) readings ------------------------------------------------------


def _aggregate_forward(transfer: Transfer, x_a: Array, x_b: Array) -> tuple[Readings, Readings]:
    """``Σ_b |a_b|²`` at every θ, φ and output tap, for two passes in one sweep (no noise).

    The batch sum of a pass's tap powers is the diagonal of its input correlation
    ``C = Σ_b x_b x_bᴴ`` carried through the chip as ``C ← T C Tᴴ``. That map is
    linear and keeps ``C`` Hermitian, so its diagonal stays real: carrying
    ``C_a + i·C_b`` gives pass ``a``'s readings as the real part and pass ``b``'s as
    the imaginary part, each what its own sweep would give. Each correlation is
    scaled to unit trace (its pass's total input power) before they are combined and
    the readings are scaled back, so the rounding error of either pass is relative to
    its own power, as in a sweep of its own. Both passes go through the same static
    chip state (this mode admits no per-pass phase noise).
    """
    corr_a, corr_b = x_a.T @ np.conj(x_a), x_b.T @ np.conj(x_b)
    scale_a, scale_b = (float(np.trace(c).real) or 1.0 for c in (corr_a, corr_b))
    mid00, phi00, out = _carried_forward(transfer, corr_a / scale_a + 1j / scale_b * corr_b)
    return (
        (scale_a * mid00.real, scale_a * phi00.real, scale_a * out.real),
        (scale_b * mid00.imag, scale_b * phi00.imag, scale_b * out.imag),
    )


def _carried_forward(transfer: Transfer, corr: Array) -> tuple[Array, Array, Array]:
    """Diagonal entries at the θ taps, φ taps and outputs of ``corr`` carried as ``C ← T C Tᴴ``.

    ``corr`` ``(N, N)`` at the input plane; returns complex ``(n_mzis,)`` twice and
    ``(n_ports,)`` (real for a Hermitian ``corr``).
    """
    t, s1 = transfer.t, transfer.s1
    lossless = transfer.is_lossless  # then t_inv=None is tᴴ = t⁻¹, with nothing to check
    blocks, final_diagonal = kernels.correlation_sweep(
        transfer.mesh.columns,
        t,
        None if lossless else np.conj(np.swapaxes(t, -1, -2)),
        corr,
        assume="unitary" if lossless else "nothing",
    )
    # θ tap: the block carried through S₁, its [0, 0] entry S₁[0, :] · block · S₁[0, :]ᴴ.
    mid00 = sandwich_2x2(s1[:, 0, :], blocks, np.conj(s1[:, 0, :]))
    return mid00, blocks[:, 0, 0], final_diagonal


def _aggregate_adjoint(transfer: Transfer, delta: Array, x_hat: Array) -> Readings:
    """``Σ_b |â_b|²`` at every tap for the adjoint source ``delta`` (no noise).

    ``x_hat`` is the adjoint field leaving the inputs, ``transfer.adjoint(delta)``.

    * Lossy chip: the correlation ``Σ δ δᴴ`` is carried backwards, ``C ← Tᵀ C conj(T)``,
      from the outputs; the sweep then returns blocks at each MZI's output side.
    * Lossless chip: going back, ``â_before = Tᵀ â_after``, so ``conj(â)`` goes forward
      through ``T⁻ᴴ = T`` itself. The correlation ``K = Σ_b conj(â_b) â_bᵀ`` (its
      diagonal holds the tap powers) is carried from the inputs by the forward
      passes' own sweep, ``K ← T K Tᴴ``.
      (Going forward through ``T⁻ᴴ`` on a lossy chip would multiply the rounding
      error by the chip's condition number, so lossy chips go backwards.)
    """
    t = transfer.t
    out = np.sum(np.abs(delta) ** 2, axis=0)
    if transfer.is_lossless:  # a forward power sweep of conj(x̂)
        mid00, phi00, _ = _carried_forward(transfer, np.conj(x_hat).T @ x_hat)
        return mid00.real, phi00.real, out
    s2 = transfer.s2
    phase = transfer.out_phasors
    d = delta * phase  # through the output screen (Dᵀ = D)
    blocks_out, _ = kernels.correlation_sweep(
        tuple(reversed(transfer.mesh.columns)), np.swapaxes(t, -1, -2), np.conj(t), d.T @ np.conj(d)
    )
    # θ tap: through S₂ᵀ; φ tap: through Tᵀ = S₁ᵀS₂ᵀ; the [0, 0] entries only.
    mid00 = sandwich_2x2(s2[:, :, 0], blocks_out, np.conj(s2[:, :, 0]))
    inp00 = sandwich_2x2(t[:, :, 0], blocks_out, np.conj(t[:, :, 0]))
    return mid00.real, inp00.real, out


def _noisy_aggregate(powers: Readings, chip: Chip | None, rng: np.random.Generator) -> Readings:
    """Summed readings ``S + s·√S·n`` (exact in distribution for Gaussian tap noise)."""
    if chip is None or chip.tap_noise == 0:
        return powers
    theta, phi, out = (
        p + chip.tap_noise * np.sqrt(np.maximum(p, 0.0)) * rng.standard_normal(p.shape)
        for p in powers
    )
    return theta, phi, out


def _check_kinds(mesh: Any, chip: Any, recorder: Any, **optional: tuple[Any, type]) -> None:
    """``TypeError`` naming the argument that is not what it must be: ``mesh`` a
    :class:`Mesh`, ``chip`` a :class:`Chip` or ``None``, ``recorder`` ``None`` or
    something with ``record()``; each of ``optional`` (``name=(value, class)``)
    ``None`` or an instance of its class."""
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"mesh={reprlib.repr(mesh)} must be a photonic.mesh.Mesh (e.g. Mesh.clements(4))"
        )
    check_chip(chip)
    if recorder is not None and not callable(getattr(recorder, "record", None)):
        raise TypeError(f"recorder={reprlib.repr(recorder)} must be a sim.ops.Recorder or None")
    for name, (value, cls) in optional.items():
        if value is not None and not isinstance(value, cls):
            raise TypeError(
                f"{name}={reprlib.repr(value)} must be a {cls.__module__}.{cls.__name__} or None"
            )


def _zero_gradients(mesh: Mesh) -> Phases:
    """Every gradient 0: what a dark input or a zero adjoint source measures."""
    return Phases(np.zeros(mesh.n_mzis), np.zeros(mesh.n_mzis), np.zeros(mesh.n_ports))


def _check_power(power: float, name: str, field: Array) -> None:
    """Refuse a field whose power per sample overflows float64 (it would scale the
    passes by 0 or inf and end in NaN gradients, blamed on an internal array)."""
    if not np.isfinite(power):
        biggest = float(np.max(np.abs(field)))
        raise ValueError(
            f"{name} is too large: its power per sample Σ|{name}|² overflows float64 "
            f"(largest |{name}| = {biggest:.3g}); the gradients are linear in {name}: "
            f"measure with {name} scaled down and scale them back up"
        )


def _check_transfer(transfer: Transfer, mesh: Mesh, phases: Phases, chip: Chip | None) -> None:
    """Refuse a composed transfer made for another mesh, chip or phase setting."""
    if transfer.mesh.columns != mesh.columns or not transfer.made_for(phases, chip):
        raise ValueError(
            "transfer was composed for other phases, another chip or another mesh; pass "
            "the one mesh.transfer(phases, chip) returned for these, or transfer=None"
        )


def _check_inference(
    inference: InferencePass, mesh: Mesh, phases: Phases, shape: tuple[int, ...], mode: str
) -> None:
    """Refuse an inference pass of another batch, or one the mode cannot represent."""
    injected = np.asarray(inference.injected)
    if injected.shape != shape:
        raise ValueError(
            f"inference.injected has shape {injected.shape}; x has {shape} (the inference "
            "pass must be of this batch)"
        )
    check_finite(injected, "inference.injected")
    per_sample = inference.phases.theta_rad.ndim == 2
    mesh.check_phases(inference.phases, leading="per_sample" if per_sample else "none")
    if per_sample and (
        inference.phases.theta_rad.shape[0] != shape[0]
        or inference.phases.out_rad.shape[0] != shape[0]
    ):
        raise ValueError(
            f"inference.phases hold {inference.phases.theta_rad.shape[0]} per-sample sets; "
            f"the batch has {shape[0]} samples"
        )
    if mode == "aggregated" and not inference.phases.same_values(phases):
        raise ValueError(
            "mode='aggregated' reads the forward taps of an inference pass only if it "
            "ran with the programmed phases (no per-pass noise); inference.phases differ"
        )


def check_mode(mode: str, chip: Chip | None, detector_clip: str, *, name: str = "mode") -> None:
    """Refuse a read-out ``mode`` that cannot represent ``chip`` or ``detector_clip``.

    Parameters
    ----------
    mode
        ``"per_sample"`` or ``"aggregated"``.
    chip
        The device the taps are read on, or ``None`` (ideal).
    detector_clip
        ``"none"`` or ``"zero"``.
    name
        What the caller calls ``mode`` (e.g. ``"measurement"``), for the message.

    Raises
    ------
    ValueError
        An unknown ``mode`` or ``detector_clip``, or ``mode="aggregated"`` with
        per-pass phase noise, an ADC or clipping, which act on each sample's reading.
    """
    check_choice(mode, name, MODES)
    check_choice(detector_clip, "detector_clip", ("none", "zero"))
    check_chip(chip)
    if mode != "aggregated":
        return
    problems, remedies = [], [f"{name}='per_sample'"]
    if chip is not None and chip.phase_noise_rad > 0:
        problems.append(f"per-pass phase noise (chip.phase_noise_rad={chip.phase_noise_rad})")
    if chip is not None and chip.adc_bits is not None:
        problems.append(f"ADC quantization (chip.adc_bits={chip.adc_bits})")
    if problems:
        remedies.append("a chip without them")
    if detector_clip == "zero":
        problems.append("clipping of negative readings (detector_clip='zero')")
        remedies.append("detector_clip='none'")
    if problems:
        raise ValueError(
            f"{name}='aggregated' cannot represent " + ", ".join(problems) + ": these act on "
            "each sample's reading; use " + " or ".join(remedies)
        )


# -- the measurements ------------------------------------------------------------------------


def measure_in_situ(
    mesh: Mesh,
    phases: Phases,
    x: Array,
    delta: Array,
    chip: Chip | None,
    rng: np.random.Generator,
    *,
    method: InSituMethod = "in_situ",
    mode: Mode = "per_sample",
    detector_clip: Clip = "none",
    recorder: Recorder | None = None,
    layer: int = 0,
    transfer: Transfer | None = None,
    inference: InferencePass | None = None,
    adjoint_power_ratio: float = 1.0,
) -> Measurement:
    """Measure ``dL/dphase`` of one mesh by interfering forward and adjoint fields.

    Parameters
    ----------
    mesh, phases
        The mesh and the phases the chip holds (one set; per-pass noise is added
        here when the chip has it).
    x
        Fields injected at the inputs in the forward pass, ``(n_samples, n_ports)``.
    delta
        Adjoint source at the outputs, ``∂L/∂Re y − i ∂L/∂Im y``,
        ``(n_samples, n_ports)``.
    chip
        The imperfect device, or ``None`` for an ideal, noiseless one.
    rng
        All measurement noise is drawn from it.
    method
        ``"in_situ"`` (3-pass) or ``"analog"`` (2-pass difference).
    mode
        ``"per_sample"`` or ``"aggregated"`` (see the module docstring).
    detector_clip
        ``"none"``: readings may go negative (the noise model as published);
        ``"zero"``: a photodiode cannot read below 0 (per-sample mode only).
    recorder, layer
        Where to record the passes and read-outs as :class:`sim.ops.Op`.
    transfer
        ``mesh.transfer(phases, chip)`` if the caller has it already (the inference
        pass composed it): mode ``"aggregated"`` then does not compose the chip again,
        and mode ``"per_sample"`` takes its MZI matrices for the passes without
        per-pass noise. It must have been made for this chip and for phases equal to
        ``phases`` (checked; a mismatch raises).
    inference
        The caller's inference pass of ``x`` through this chip, if there was one: the
        3-pass method reads its forward taps from that pass instead of sending ``x``
        again, so the measurement adds two passes, not three (the analog method has
        no forward pass and ignores it). In mode ``"aggregated"`` its phases must be
        ``phases`` (no per-pass noise there).
    adjoint_power_ratio
        Mean power per sample of the injected adjoint field (``δ`` scaled, and ``x̂``
        with it) relative to that of ``x``; > 0. The gradients are divided by the
        scale again, so on a chip without loss or noise they do not depend on it. It
        trades two errors (module docstring, "Why the 3-pass estimate fails"): a
        weaker adjoint makes the 3-pass method's loss bias ``(η⁴ − 1)|â|²`` smaller
        next to the interference term, and the fixed tap noise larger.

    Returns
    -------
    Measurement
    """
    check_choice(method, "method", ("in_situ", "analog"))
    _check_kinds(
        mesh, chip, recorder, transfer=(transfer, Transfer), inference=(inference, InferencePass)
    )
    check_mode(mode, chip, detector_clip)
    check_generator(rng)
    ratio = check_positive(adjoint_power_ratio, "adjoint_power_ratio")
    mesh.check_phases(phases)
    if transfer is not None:
        _check_transfer(transfer, mesh, phases, chip)
    x = mesh.check_fields(x, "x")
    delta = mesh.check_fields(delta, "delta")
    if x.shape != delta.shape:
        raise ValueError(f"delta has shape {delta.shape}; x has {x.shape}")
    n = x.shape[0]
    if n == 0:
        raise ValueError(f"x has shape {x.shape}: a measurement needs at least one sample")
    with np.errstate(over="ignore"):  # an overflow is refused by name below
        # mean power per sample, Σ|x|²/n: one BLAS product (|x|² and its sums cost
        # half a matmul each at N = 64, B = 256)
        power_x = float(np.vdot(x, x).real) / n
        power_d = float(np.vdot(delta, delta).real) / n
    _check_power(power_x, "x", x)
    _check_power(power_d, "delta", delta)
    if power_d == 0.0:  # nothing to send back: x̂ = Wᵀ·0 and every gradient is 0
        return Measurement(_zero_gradients(mesh), np.zeros_like(delta), 0)
    # A dark input has no field to interfere with: every gradient is 0, and only the
    # adjoint pass is sent, for x̂ = Wᵀδ (the layer before needs it), at power `ratio`.
    dark = power_x == 0.0
    scale = np.sqrt(ratio * (1.0 if dark else power_x) / power_d)  # × the forward power
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(
            f"x and delta differ in power per sample ({power_x:.3g} and {power_d:.3g}) by "
            "more than float64 can scale; the gradients are linear in each: rescale one"
        )

    if inference is not None:
        _check_inference(inference, mesh, phases, x.shape, mode)
    # The field the 3-pass method's forward pass injects; the analog method has none.
    shared = inference if method == "in_situ" and not dark else None
    if method == "in_situ" and not dark:
        x_in = shared.injected if shared is not None else _inject(x, chip, rng)
    d_in = _inject(scale * delta, chip, rng)
    # Adjoint pass: its taps (3-pass only) and the field leaving the inputs.
    if mode == "per_sample":
        adjoint_phases = _pass_phases(phases, chip, rng, n)
        composed = transfer if adjoint_phases is phases else None
        if method == "in_situ" and not dark:
            i_adj, x_hat_true = _read_pass(
                mesh,
                adjoint_phases,
                d_in,
                chip,
                rng,
                detector_clip,
                direction="adjoint",
                transfer=composed,
            )
        elif composed is not None:  # no taps to read: the composed chip gives x̂
            x_hat_true = composed.adjoint(d_in)
        else:
            x_hat_true = mesh.adjoint(adjoint_phases, d_in, chip, method="per_sample")
    else:  # one static chip state serves every pass (this mode has no per-pass noise)
        static = mesh.transfer(phases, chip) if transfer is None else transfer
        x_hat_true = static.adjoint(d_in)
    x_hat = _inject(x_hat_true, chip, rng)  # measured with the chip's I/O error
    _record_pass(recorder, layer, "adjoint", mesh, n, inject="field")  # δ: complex
    if dark:
        return Measurement(_zero_gradients(mesh), x_hat / scale, passes=1)
    if method == "in_situ":
        _record_taps(recorder, layer, "adjoint", mesh, n, mode)

    if method == "in_situ":
        if mode == "per_sample":
            if shared is not None:  # the inference pass's own phases
                composed = transfer if shared.phases is phases else None
                i_fwd = _read_pass(
                    mesh, shared.phases, x_in, chip, rng, detector_clip, transfer=composed
                )[0]
            else:
                i_fwd = _read_fresh_pass(mesh, phases, x_in, chip, rng, detector_clip, transfer)
            sum_in = _inject(x - 1j * np.conj(x_hat), chip, rng)
            i_sum = _read_fresh_pass(mesh, phases, sum_in, chip, rng, detector_clip, transfer)
        else:
            sum_in = _inject(x - 1j * np.conj(x_hat), chip, rng)
            fwd_powers, sum_powers = _aggregate_forward(static, x_in, sum_in)
            i_fwd = _noisy_aggregate(fwd_powers, chip, rng)
            adj_powers = _aggregate_adjoint(static, d_in, x_hat_true)
            i_adj = _noisy_aggregate(adj_powers, chip, rng)
            i_sum = _noisy_aggregate(sum_powers, chip, rng)
        if shared is None:  # else the caller recorded the inference pass
            _record_pass(recorder, layer, "forward", mesh, n, inject=injection(x))
        _record_taps(recorder, layer, "forward", mesh, n, mode)
        _record_pass(recorder, layer, "sum", mesh, n, inject="field")  # x − i·conj(x̂)
        _record_taps(recorder, layer, "sum", mesh, n, mode)
        grad = [(s - f - a) / 2 for s, f, a in zip(i_sum, i_fwd, i_adj, strict=True)]
        _record_combine(recorder, layer, mesh, n, mode)
    else:
        minus_in = _inject(x - 1j * np.conj(x_hat), chip, rng)
        plus_in = _inject(x + 1j * np.conj(x_hat), chip, rng)
        if mode == "per_sample":
            i_minus = _read_fresh_pass(mesh, phases, minus_in, chip, rng, detector_clip, transfer)
            i_plus = _read_fresh_pass(mesh, phases, plus_in, chip, rng, detector_clip, transfer)
        else:
            minus_powers, plus_powers = _aggregate_forward(static, minus_in, plus_in)
            i_minus = _noisy_aggregate(minus_powers, chip, rng)
            i_plus = _noisy_aggregate(plus_powers, chip, rng)
        for _ in range(2):  # the − and + passes
            _record_pass(recorder, layer, "sum", mesh, n, inject="field")  # x ∓ i·conj(x̂)
            _record_taps(recorder, layer, "sum", mesh, n, mode)
        grad = [(m - p) / 4 for m, p in zip(i_minus, i_plus, strict=True)]
        _record_combine(recorder, layer, mesh, n, mode)
    theta, phi, out = (g / scale for g in grad)
    return Measurement(Phases(theta, phi, out), x_hat / scale, passes=3 if shared is None else 2)


def measure_finite_difference(
    mesh: Mesh,
    phases: Phases,
    x: Array,
    dloss_dpower: Array,
    chip: Chip | None,
    rng: np.random.Generator,
    *,
    step_rad: float | None = None,
    recorder: Recorder | None = None,
    layer: int = 0,
) -> Measurement:
    """Brute-force gradient: every phase shifter perturbed by ``±h``, two passes each.

    Parameters
    ----------
    mesh, phases
        As for :func:`measure_in_situ`.
    x
        Injected fields ``(n_samples, n_ports)``.
    dloss_dpower
        ``w = dL/dP`` for the detected output powers ``P``, ``(n_samples, n_ports)``;
        the estimate is the central difference of ``ℓ = Σ w·P``.
    chip, rng
        As for :func:`measure_in_situ`.
    step_rad
        The perturbation ``h`` > 0, rad. ``None``: :func:`fd_step_rad_for` the chip
        (0.1 rad on a noisy chip or one with an ADC, where 1e-4 rad measures only
        noise; 1e-4 rad otherwise), as ``PhotonicNetwork`` chooses.
    recorder, layer
        As for :func:`measure_in_situ`: every shifter write (each ``±h`` and the
        restore) is recorded as a one-shifter ``phase_update``, every pass as a probe.

    Returns
    -------
    Measurement
        ``input_adjoint`` is ``None``; ``passes = 2 × mesh.n_phases``.

    Raises
    ------
    ValueError
        If the chip has a DAC (``dac_bits``) or thermal crosstalk: the held phases are
        moved by exactly ``±h`` here, which such a chip cannot do (its DAC rounds the
        step, its crosstalk spreads it to the neighbours).
        ``PhotonicNetwork(gradient="finite_difference")`` programs every perturbation
        through :func:`photonic.imperfections.program` instead.
    """
    _check_kinds(mesh, chip, recorder)
    h = fd_step_rad_for(chip) if step_rad is None else check_positive(step_rad, "step_rad")
    check_generator(rng)
    mesh.check_phases(phases)
    if chip is not None and (
        chip.dac_bits is not None or (chip.crosstalk > 0 and chip.drive == "thermal")
    ):
        raise ValueError(
            f"measure_finite_difference moves the held phases by exactly ±{h:g} rad, which "
            f"a chip with dac_bits={chip.dac_bits!r} and thermal crosstalk="
            f"{chip.crosstalk!r} cannot do; use a chip with dac_bits=None and crosstalk=0, "
            "or PhotonicNetwork(gradient='finite_difference'), which programs every "
            "perturbation"
        )
    x = mesh.check_fields(x, "x")
    w = np.asarray(dloss_dpower)
    if w.shape != x.shape:
        raise ValueError(f"dloss_dpower has shape {w.shape}; x has {x.shape}")
    w = check_matrix(w, "dloss_dpower", values="real").astype(np.float64, copy=False)
    base = phases.to_vector()
    grad = np.empty_like(base)
    n = x.shape[0]
    x_inject = injection(x)
    for k in range(base.size):
        values = []
        for sign in (1.0, -1.0):
            v = base.copy()
            v[k] += sign * h
            trial = Phases.from_vector(v, mesh.n_mzis)
            if recorder is not None:  # write one shifter, then send the batch through
                recorder.record(
                    ops.phase_update(layer, n_ports=mesh.n_ports, n_phases=1, direction="probe")
                )
            y = mesh.forward(_pass_phases(trial, chip, rng, n), _inject(x, chip, rng), chip)
            _record_pass(recorder, layer, "probe", mesh, n, inject=x_inject)
            values.append(float(np.sum(w * detect_power(y, chip, rng))))
        if recorder is not None:  # the shifter back to its value
            recorder.record(
                ops.phase_update(layer, n_ports=mesh.n_ports, n_phases=1, direction="probe")
            )
        grad[k] = (values[0] - values[1]) / (2 * h)
    return Measurement(Phases.from_vector(grad, mesh.n_mzis), None, passes=2 * base.size)


#: What each pass reads where the light leaves the mesh (DESIGN.md §4.4): the forward
#: pass of a gradient measurement the output field (I and Q: the adjoint source
#: ``δ = ∂L/∂Re y − i ∂L/∂Im y`` depends on its phase), the adjoint pass the field ``x̂``
#: at the inputs, a sum pass nothing (only its taps); a finite-difference probe only
#: the output powers its loss needs.
_EXIT_READ: dict[str, ExitRead] = {
    "forward": "field",
    "adjoint": "field",
    "sum": "none",
    "probe": "power",
}


def injection(field: Array) -> Inject:
    """How the modulators must set ``field`` at the inputs: ``"amplitude"`` or ``"field"``.

    ``"amplitude"`` (one DAC sample per port) when every entry is real — a real
    amplitude, sign included, as the encoded features or a detected ``|z|``;
    ``"field"`` (an I/Q modulator: amplitude and phase, two samples per port) as soon
    as one entry has an imaginary part. The adjoint source ``δ``, the 3-pass sum input
    ``x − i·conj(x̂)`` and the analog passes' ``x ∓ i·conj(x̂)`` are complex and are
    always recorded as ``"field"``; this decides for the forward field ``x``, which the
    caller may have encoded either way.

    Parameters
    ----------
    field
        The field the modulators are asked for, ``(n_samples, n_ports)``, before the
        chip's I/O error.

    Returns
    -------
    str
        ``"amplitude"`` or ``"field"``.
    """
    return "field" if np.iscomplexobj(field) and np.any(np.imag(field)) else "amplitude"


def _record_pass(
    recorder: Recorder | None,
    layer: int,
    direction: Literal["forward", "adjoint", "sum", "probe"],
    mesh: Mesh,
    n: int,
    *,
    inject: Inject,
) -> None:
    """Record one pass of the batch through the mesh (what it reads: ``_EXIT_READ``).

    ``inject``: how its inputs are modulated — ``"field"`` (I and Q) for the adjoint
    and sum passes, whose inputs are complex; :func:`injection` of ``x`` for a forward
    pass or a probe. ``"probe"`` is a finite-difference evaluation: a forward pass
    reading powers, with direction ``"probe"`` (the gradient phase of
    :func:`sim.report.summarize`).
    """
    if recorder is None:
        return
    exit_read = _EXIT_READ[direction]
    recorder.record(
        ops.mesh_pass(
            layer,
            direction,
            n_ports=mesh.n_ports,
            n_samples=n,
            exit_read=exit_read,
            inject=inject,
        )
    )


def combine_op(layer: int, *, n_ports: int, n_samples: int, reads: int) -> ops.Op:
    """The host combining ``reads`` tap readings into gradients, as a ``digital_compute`` op.

    ``reads``: the readings of one pass (every sample's, or the batch sums); three
    readings in and one gradient out per reading, float64.

    Parameters
    ----------
    layer
        Index of the network layer (0-based).
    n_ports
        Ports of the layer's mesh.
    n_samples
        Samples in the batch.
    reads
        Gradient entries combined: ``n_phases·n_samples`` per sample, or ``n_phases``
        for batch sums.

    Returns
    -------
    Op
        ``kind="digital_compute"``, ``direction="backward"``, ``COMBINE_FLOPS·reads``
        FLOPs and ``4·reads`` float64 numbers (``BYTES_PER_REAL·4·reads`` bytes).

    Raises
    ------
    ValueError
        If a count is not a non-negative int (from :class:`~sim.ops.Op`).
    """
    return ops.digital_compute(
        layer,
        "backward",
        n_ports=n_ports,
        n_samples=n_samples,
        flops=COMBINE_FLOPS * reads,
        bytes_moved=ops.BYTES_PER_REAL * 4 * reads,
    )


def _record_combine(recorder: Recorder | None, layer: int, mesh: Mesh, n: int, mode: str) -> None:
    """Record the host combining the tap readings (every sample's, or the batch sums)."""
    if recorder is not None:
        reads = mesh.n_phases * (n if mode == "per_sample" else 1)
        recorder.record(combine_op(layer, n_ports=mesh.n_ports, n_samples=n, reads=reads))


def _record_taps(
    recorder: Recorder | None,
    layer: int,
    direction: Literal["forward", "adjoint", "sum"],
    mesh: Mesh,
    n: int,
    mode: str,
) -> None:
    """Record the tap read-out of one pass: every sample's taps, or their batch sums."""
    if recorder is None:
        return
    recorder.record(
        ops.tap_readout(
            layer,
            direction,
            n_ports=mesh.n_ports,
            n_samples=n,
            n_phases=mesh.n_phases,
            integrated="per_sample" if mode == "per_sample" else "batch",
        )
    )
