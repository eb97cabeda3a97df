"""``PhotonicNetwork``: a neural network whose matrix products are MZI meshes.

Signal path of one forward pass (DESIGN.md §4.5)::

    x (n_samples, n_features) real
      → encode: amplitudes on the input ports, optional bias ports, optional
        normalization to a fixed total power
      → [input I/O error of the chip]
      → layer 1: mesh (unitary) or V†-mesh · attenuators · U-mesh (SVD type)
      → activation (|z|, |z|², modReLU or the electro-optic one) … layer L
      → detection: powers |y|² per port [tap noise, ADC auto-ranged on the brightest
        reading of the batch], optionally summed over port groups ("optical softmax")
      → outputs (n_samples, n_outputs) real, fed to a digital loss

Parameters are the phases of every phase shifter (keys ``"layer1.theta_rad"`` …;
SVD layers ``"layer1.v.theta_rad"``, ``"layer1.sigma_rad"``, ``"layer1.u.theta_rad"``
…). ``set_params`` programs the chip: the requested phases go through
:func:`photonic.imperfections.program` (DAC quantization, thermal crosstalk), and the
forward pass uses what the chip really holds.

Gradient methods (per network, or per call of ``backward``):

``"adjoint"``
    The exact gradient a digital twin computes (the chip's static errors, loss and
    the I/O errors of this forward pass included), by the adjoint method of
    DESIGN.md §4.2–4.3, with respect to the programmed phases.
``"in_situ"``, ``"analog"``
    Measured on the chip (:func:`photonic.insitu.measure_in_situ`), layer by layer
    from the last: the adjoint source of a layer is injected at its outputs, its
    tap powers give the phase gradients and the measured field leaving its inputs,
    passed through the derivative of the previous activation digitally, is the next
    adjoint source — as in Pai et al. 2023. Unitary layers only.
``"finite_difference"``
    Every phase shifter perturbed by ``±fd_step_rad`` and the batch sent through
    the whole network twice; the estimate is the central difference of
    ``Σ grad_output · outputs`` (exact by the chain rule as ``h → 0``).

Nonlinearities between layers and the loss are digital, as in Pai et al. 2023:
each layer's input is re-emitted by modulators and its output field measured, both
with the I/O error of the chip they sit on (for SVD layers: the V mesh's chip at the
input, the U mesh's at the output).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from digital.activations import ACTIVATIONS, COMPLEX_ACTIVATIONS, Activation, get_activation
from digital.network import MLP
from digital.validation import (
    check_choice,
    check_generator,
    check_matrix,
    check_not_overflowed,
    check_positive,
    check_positive_int,
)
from photonic.imperfections import (
    Chip,
    apply_io_error,
    dac_phase_step_rad,
    detect_power,
    drift_step,
    phase_noise,
    program,
)
from photonic.insitu import (
    Clip,
    InferencePass,
    Mode,
    check_mode,
    fd_step_rad_for,
    measure_in_situ,
)
from photonic.mesh import TOPOLOGIES, Init, Mesh, Phases, Topology, Transfer
from sim import ops
from sim.ops import (  # activation_op: imported by name from here too
    BYTES_PER_COMPLEX,
    ExitRead,
    Inject,
    Recorder,
    activation_op,
)

Array = NDArray[Any]
LayerKind = Literal["unitary", "svd"]
Normalization = Literal["none", "fixed_power"]
GradientMethod = Literal["adjoint", "in_situ", "analog", "finite_difference"]
GRADIENT_METHODS: tuple[str, ...] = ("adjoint", "in_situ", "analog", "finite_difference")

#: FLOPs of composing an N-port mesh matrix column by column (2N² complex MACs per
#: column, N columns, 8 FLOPs per complex MAC) and of the correlation sweep (twice that).
COMPOSE_FLOPS_PER_N3 = 16
SWEEP_FLOPS_PER_N3 = 32
COMPLEX_MAC_FLOPS = 8
PHASE_FIELDS = ("theta_rad", "phi_rad", "out_rad")
#: Softmax temperature of the Pai et al. readout (see :meth:`PhotonicNetwork.pai2023`).
PAI2023_READOUT_SCALE = 10.0


@dataclass
class _Stage:
    """One programmable mesh: its layout, the chip it runs on, its phases and the drift
    the chip has accumulated (``None``: a chip that does not drift)."""

    mesh: Mesh
    chip: Chip | None
    requested: Phases
    programmed: Phases
    drift: Phases | None = None

    def program(self, requested: Phases, rng: Callable[[], np.random.Generator] | None) -> None:
        """Program ``requested``; a drifting chip first takes one step of its walk,
        drawn from ``rng()`` (called only then), unless ``rng`` is ``None``."""
        self.mesh.check_phases(requested)
        if rng is not None and self.chip is not None and self.chip.drift_rad_per_step > 0:
            if self.drift is None:
                m = self.mesh
                self.drift = Phases(np.zeros(m.n_mzis), np.zeros(m.n_mzis), np.zeros(m.n_ports))
            self.drift = drift_step(self.drift, self.chip, rng())
        self.requested = requested
        self.programmed = program(requested, self.mesh, self.chip, drift=self.drift)


class PhotonicNetwork:
    """A feed-forward network of MZI-mesh layers; implements ``digital.network.Network``.

    Parameters
    ----------
    n_ports
        Optical ports of every layer, N ≥ 2.
    n_layers
        Number of mesh layers, ≥ 1.
    n_features
        Real input features, encoded as amplitudes on ports ``0 … n_features−1``.
    rng
        Generator for the initial phases.
    bias_ports
        Ports after the features that carry the constant ``bias_amplitude``
        (Pai et al.: 2 features + 2 bias ports on 4 ports). Remaining ports get 0.
    bias_amplitude
        Field amplitude on each bias port (before normalization).
    normalization
        ``"none"`` or ``"fixed_power"``: every encoded input vector is scaled to unit
        total power (Pai et al. keep the total input power fixed).
    layer_kind
        ``"unitary"``: one mesh per layer; ``"svd"``: ``U · diag(σ) · V†`` with an
        attenuator column ``σ_p = sin(θ_p/2)`` between two meshes. The attenuators
        start at ``θ_p`` drawn uniformly in ``[π/2, π)`` (``σ_p`` in ``[0.71, 1)``):
        at full transmission (θ = π) ``dσ/dθ = 0`` and plain gradient descent would
        never move them. ``σ_p`` is real: an MZI attenuator transmits
        ``i·e^{iθ/2}·sin(θ/2)``, so this assumes a phase shifter after it that
        removes the phase ``π/2 + θ/2`` (ideal, noiseless, not charged in the ops).
    topology
        ``"clements"`` or ``"reck"``.
    activation
        Between layers: one name or one per gap (``n_layers − 1``): ``abs``,
        ``abs2``, ``modrelu``, ``electro_optic``; or an
        :class:`~digital.activations.Activation` with ``complex_input=True``: one of
        these with its own settings, e.g. ``electro_optic(gain_rad=np.pi * n_ports)``,
        or your own under a name not in the registry (it is applied on the host, after
        detection, like the others); the registry's real activations are refused.
        The fields here are in units of the input power (1 with
        ``normalization="fixed_power"``): with its default, paper's settings the
        electro-optic activation passes almost nothing at these powers (see
        :func:`digital.activations.electro_optic`).
    readout_groups
        Port groups whose powers are summed into one output each, e.g.
        ``((0, 1), (2, 3))``; ``None``: one output per port.
    readout_scale
        Outputs are ``readout_scale ×`` the detected powers (a softmax temperature).
        With an ADC the detected powers of a sample depend on the rest of its batch
        (see Notes).
    chip
        ``None`` (ideal), one :class:`Chip` used by every mesh (one physical chip
        reprogrammed per layer, as in Pai et al.), or one per mesh. The output
        detectors are those of the last mesh's chip: its ``tap_noise`` and
        ``adc_bits`` (auto-ranged per call, see Notes).
    noise_rng
        Generator for per-pass noise (phase noise, I/O error, detector noise) and the
        chip's drift (one step per :meth:`set_params`); required when the chip has any.
    init
        ``"haar"`` or ``"uniform"`` initial phases.
    gradient
        Default method of :meth:`backward`: ``"adjoint"`` (exact, computed),
        ``"in_situ"`` (Hughes et al.'s 3-pass interference measurement),
        ``"analog"`` (2-pass, the adjoint injected in phase) or
        ``"finite_difference"``. On a lossy chip the 3-pass ``"in_situ"`` estimate is
        biased, since the loss breaks the time reversal it assumes, while
        ``"analog"`` is not (Pai network, 0.2 dB per MZI, no other error: ε ≈ 0.3–0.4
        against about 1e-3; :mod:`photonic.insitu` explains why): prefer ``"analog"``
        there, or lower ``adjoint_power_ratio``.
    measurement
        ``"per_sample"`` or ``"aggregated"`` tap read-out for the in-situ methods
        (see :mod:`photonic.insitu`).
    detector_clip
        ``"none"`` or ``"zero"``: whether tap readings are clipped at 0 (in-situ).
    fd_step_rad
        Phase step of ``"finite_difference"``, rad. ``None``: ``1e-4``
        (:data:`photonic.insitu.DEFAULT_FD_STEP_RAD`) on noiseless chips and ``0.1``
        (:data:`~photonic.insitu.NOISY_FD_STEP_RAD`) on chips with per-pass noise
        (phase noise, detector noise or I/O errors), drift or an ADC, or twice the DAC's
        coarsest phase step if that is larger. A step below the DAC's coarsest step is
        refused: most perturbations would not reach the chip.
    adjoint_power_ratio
        Power of the injected adjoint field relative to the forward pass's, > 0, for
        the in-situ methods (:func:`~photonic.insitu.measure_in_situ`): lower it to
        shrink the 3-pass method's loss bias at the cost of more tap noise.

    Attributes
    ----------
    recorder
        ``None`` or a :class:`sim.ops.Recorder`; when set, every pass, tap read-out,
        phase write and host computation appends an :class:`~sim.ops.Op`, which
        :func:`sim.engine.simulate` times on a hardware preset and
        :func:`sim.report.summarize` splits into the phases of a step::

            net.recorder = Recorder()
            net.backward(softmax_cross_entropy(net.forward(x), t)[1])
            timeline = simulate(net.recorder.ops, "eo-integrated", n_shifters=net.n_shifters)
            print(format_report(summarize(net.recorder.ops, timeline)))

    Notes
    -----
    ADC read-out is auto-ranged per call. When the last mesh's chip has an ADC
    (``adc_bits`` not ``None``), :meth:`forward` reads the output powers with
    :func:`~photonic.imperfections.detect_power` and ``full_scale=None``: the ADC's
    full scale is set to the brightest noiseless power ``|y|²`` of that call, over
    every sample and port of the batch. A sample's quantised outputs therefore depend
    on the other samples of its batch: the same sample can read differently in a
    training minibatch, in a full-set evaluation and on its own (alone, its brightest
    port reads full scale), and so can its loss and predicted class.

    Per-pass noise is drawn afresh on every call, per sample: each layer's emitted and
    read fields get a fresh I/O error (two draws per layer, six in the Pai network),
    every shifter a fresh phase error, every detector fresh noise. The same input
    therefore gives other outputs on the next call: about 10 % relative std for the
    Pai network on a default :meth:`~photonic.imperfections.Chip.draw` chip (mostly
    from the I/O errors). Test accuracy on such a chip is a random variable; average
    it over repeated passes (``scenarios.insitu_training.evaluate``).
    """

    def __init__(
        self,
        n_ports: int,
        n_layers: int,
        *,
        n_features: int,
        rng: np.random.Generator,
        bias_ports: int = 0,
        bias_amplitude: float = 1.0,
        normalization: Normalization = "none",
        layer_kind: LayerKind = "unitary",
        topology: Topology = "clements",
        activation: str | Activation | Sequence[str | Activation] = "abs",
        readout_groups: Sequence[Sequence[int]] | None = None,
        readout_scale: float = 1.0,
        chip: Chip | Sequence[Chip | None] | None = None,
        noise_rng: np.random.Generator | None = None,
        init: Init = "haar",
        gradient: GradientMethod = "adjoint",
        measurement: Mode = "per_sample",
        detector_clip: Clip = "none",
        fd_step_rad: float | None = None,
        adjoint_power_ratio: float = 1.0,
    ) -> None:
        self.n_ports = check_positive_int(n_ports, "n_ports")
        self.n_layers = check_positive_int(n_layers, "n_layers")
        self.n_features = check_positive_int(n_features, "n_features")
        check_generator(rng)
        if noise_rng is not None:
            check_generator(noise_rng, "noise_rng")
        if isinstance(bias_ports, bool) or not isinstance(bias_ports, int | np.integer):
            raise ValueError(f"bias_ports={bias_ports!r} must be an int ≥ 0")
        if bias_ports < 0 or self.n_features + bias_ports > self.n_ports:
            raise ValueError(
                f"n_features={n_features} plus bias_ports={bias_ports} must fit in "
                f"n_ports={n_ports}"
            )
        self.bias_ports = int(bias_ports)
        if (
            isinstance(bias_amplitude, bool)
            or not isinstance(bias_amplitude, int | float | np.integer | np.floating)
            or not np.isfinite(bias_amplitude)
        ):
            raise ValueError(f"bias_amplitude={bias_amplitude!r} must be a finite real number")
        self.bias_amplitude = float(bias_amplitude)
        self.normalization = check_choice(normalization, "normalization", ("none", "fixed_power"))
        self.layer_kind = check_choice(layer_kind, "layer_kind", ("unitary", "svd"))
        check_choice(topology, "topology", TOPOLOGIES)
        self.readout_scale = check_positive(readout_scale, "readout_scale")
        self.gradient = check_choice(gradient, "gradient", GRADIENT_METHODS)
        self.measurement = check_choice(measurement, "measurement", ("per_sample", "aggregated"))
        self.detector_clip = check_choice(detector_clip, "detector_clip", ("none", "zero"))
        self.adjoint_power_ratio = check_positive(adjoint_power_ratio, "adjoint_power_ratio")
        if isinstance(activation, bytes) or not isinstance(activation, str | Activation | Sequence):
            raise ValueError(
                f"activation={activation!r} must be a name, an Activation, or a sequence "
                "of them (one per gap between layers)"
            )
        names: list[str | Activation] = (
            [activation] * (n_layers - 1)
            if isinstance(activation, str | Activation)
            else list(activation)
        )
        if len(names) != n_layers - 1:
            raise ValueError(
                f"activation lists {len(names)} names; need one per gap between layers "
                f"({n_layers - 1})"
            )
        for name in names:
            if not isinstance(name, Activation) or name.name in ACTIVATIONS:
                # a registered one by its name, whether given as a name or an object
                check_choice(
                    name.name if isinstance(name, Activation) else name,
                    "activation",
                    COMPLEX_ACTIVATIONS,
                )
            elif not name.complex_input:  # any complex function: applied on the host
                raise ValueError(
                    f"activation {name.name!r} is not defined for complex fields "
                    "(complex_input=False); a mesh layer's outputs are complex"
                )
        self.activations: list[Activation] = [get_activation(n) for n in names]
        self.readout_groups = self._check_groups(readout_groups)

        build = Mesh.clements if topology == "clements" else Mesh.reck
        n_meshes = self.n_layers * (2 if layer_kind == "svd" else 1)
        chips = self._chips(chip, n_meshes)
        self._stages: list[_Stage] = []
        for c in chips:
            mesh = build(self.n_ports)
            if c is not None:
                mesh.check_chip(c)
            phases = mesh.random_phases(rng, init=init)
            self._stages.append(_Stage(mesh, c, phases, program(phases, mesh, c)))
        # Attenuators start below full transmission, where dσ/dθ = cos(θ/2)/2 ≠ 0.
        self._sigma_rad = (
            [rng.uniform(np.pi / 2, np.pi, self.n_ports) for _ in range(self.n_layers)]
            if layer_kind == "svd"
            else []
        )
        fd_floor = max(dac_phase_step_rad(c) for c in chips)
        if fd_step_rad is None:
            self.fd_step_rad = max(2 * fd_floor, *(fd_step_rad_for(c) for c in chips))
        else:
            self.fd_step_rad = check_positive(fd_step_rad, "fd_step_rad")
            if self.fd_step_rad < fd_floor:
                raise ValueError(
                    f"fd_step_rad={fd_step_rad!r} is below the DAC's coarsest phase step "
                    f"({fd_floor:.3g} rad): most perturbations would not reach the chip; "
                    f"use fd_step_rad ≥ {fd_floor:.3g} or None (automatic)"
                )
        if self.gradient in ("in_situ", "analog"):  # refused now, not at the first backward()
            self._check_measurement()
            self._check_measurable(self.gradient)
        self.noise_rng = noise_rng
        if any(c is not None and c.is_noisy for c in chips) and noise_rng is None:
            raise ValueError(
                "the chip has per-pass noise or drift; pass noise_rng (a numpy.random.Generator)"
            )
        self.recorder: Recorder | None = None
        self._cache: dict[str, Any] | None = None

    # -- construction helpers ---------------------------------------------------------

    @classmethod
    def pai2023(
        cls,
        chip: Chip | None = None,
        *,
        rng: np.random.Generator,
        noise_rng: np.random.Generator | None = None,
        readout_scale: float = PAI2023_READOUT_SCALE,
        gradient: GradientMethod = "adjoint",
        measurement: Mode = "per_sample",
        detector_clip: Clip = "none",
        fd_step_rad: float | None = None,
        adjoint_power_ratio: float = 1.0,
    ) -> PhotonicNetwork:
        """The network of Pai et al., Science 380 (2023).

        Three layers of 4×4 unitaries on one triangular (Reck) chip; inputs are the
        two features plus two bias ports at fixed total power; ``|z|`` between
        layers, measured and re-emitted; the powers of ports {0, 1} and {2, 3} are
        summed ("optical softmax") into two class scores for softmax cross-entropy.

        ``readout_scale`` (a softmax temperature) is our choice, not the paper's: the
        grouped powers lie in [0, 1], so without it the softmax can never be confident.
        Trained with ``"adjoint"`` on moons (Adam, lr 0.02, 100 epochs, 5 seeds) it
        reached 91.0 % mean test accuracy at scale 1 and 97.0 % at scale 10.

        Parameters
        ----------
        chip
            ``None`` (ideal) or one :class:`Chip` for a 4-port Reck mesh (6 MZIs),
            reprogrammed for each of the three layers.
        rng
            Generator for the initial (Haar) phases.
        noise_rng
            Generator for per-pass noise and drift; required when ``chip`` has any.
        readout_scale
            Outputs are ``readout_scale ×`` the grouped powers, > 0; default
            :data:`PAI2023_READOUT_SCALE` (10).
        gradient, measurement, detector_clip, fd_step_rad, adjoint_power_ratio
            As for :class:`PhotonicNetwork`.

        Returns
        -------
        PhotonicNetwork
            Inputs ``(n_samples, 2)`` real, outputs ``(n_samples, 2)`` real.
        """
        return cls(
            4,
            3,
            n_features=2,
            bias_ports=2,
            normalization="fixed_power",
            topology="reck",
            activation="abs",
            readout_groups=((0, 1), (2, 3)),
            readout_scale=readout_scale,
            chip=chip,
            noise_rng=noise_rng,
            rng=rng,
            gradient=gradient,
            measurement=measurement,
            detector_clip=detector_clip,
            fd_step_rad=fd_step_rad,
            adjoint_power_ratio=adjoint_power_ratio,
        )

    def _check_groups(self, groups: Sequence[Sequence[int]] | None) -> list[list[int]]:
        if groups is None:
            return [[p] for p in range(self.n_ports)]
        if isinstance(groups, str) or not isinstance(groups, Iterable):
            raise ValueError(
                f"readout_groups={groups!r} must be a sequence of port groups, "
                "like ((0, 1), (2, 3))"
            )
        listed = list(groups)  # once: an iterator is read only once
        if any(isinstance(g, str) or not isinstance(g, Iterable) for g in listed):
            raise ValueError(f"readout_groups={groups!r} must list groups of port numbers")
        groups = [list(g) for g in listed]
        ports = [p for g in groups for p in g]
        if any(isinstance(p, bool) or not isinstance(p, int | np.integer) for p in ports):
            raise ValueError(f"readout_groups={groups!r} must list port numbers (ints)")
        out = [[int(p) for p in g] for g in groups]
        flat = [p for g in out for p in g]
        if not out or any(not g for g in out) or len(set(flat)) != len(flat):
            raise ValueError(f"readout_groups={groups!r} must be non-empty, disjoint groups")
        if min(flat) < 0 or max(flat) >= self.n_ports:
            raise ValueError(f"readout_groups={groups!r} name ports outside 0…{self.n_ports - 1}")
        return out

    @staticmethod
    def _chips(chip: Chip | Sequence[Chip | None] | None, n: int) -> list[Chip | None]:
        if chip is None or isinstance(chip, Chip):
            return [chip] * n
        if isinstance(chip, str) or not isinstance(chip, Sequence):
            raise ValueError(
                f"chip={chip!r} must be None (ideal), a Chip, or a sequence of {n} Chips or None"
            )
        chips = list(chip)
        if len(chips) != n:
            raise ValueError(f"chip lists {len(chips)} chips; the network has {n} meshes")
        for c in chips:
            if c is not None and not isinstance(c, Chip):
                raise ValueError(f"chip lists {c!r}; each entry must be a Chip or None")
        return chips

    # -- Network interface -------------------------------------------------------------

    @property
    def n_outputs(self) -> int:
        """Number of outputs (port groups)."""
        return len(self.readout_groups)

    @property
    def n_shifters(self) -> int:
        """Phase shifters the chip holds: N² per unitary layer, 2N² + N per SVD layer
        (for :func:`sim.engine.simulate`'s holding power)."""
        return sum(int(v.size) for v in self.params().values())

    def params(self) -> dict[str, Array]:
        """Requested phases of every shifter (copies).

        Returns
        -------
        dict
            Keyed ``"layer<k>.theta_rad"``, ``"layer<k>.phi_rad"`` (each
            ``(n_mzis,)``) and ``"layer<k>.out_rad"`` (``(n_ports,)``), rad.
        """
        out: dict[str, Array] = {}
        for name, stage in self._named_stages():
            for field in ("theta_rad", "phi_rad", "out_rad"):
                out[f"{name}.{field}"] = getattr(stage.requested, field).copy()
        for i, sigma in enumerate(self._sigma_rad):
            out[f"layer{i + 1}.sigma_rad"] = sigma.copy()
        return out

    def set_params(self, params: dict[str, Array]) -> None:
        """Program the chip with new phases (same keys and shapes as :meth:`params`).

        The values are copied (later changes to the caller's arrays do not reach the
        chip), and the last :meth:`forward` is forgotten: :meth:`backward` needs a new
        one, of the new phases. The chip holds them after DAC quantization, thermal
        crosstalk and its drift (:func:`~photonic.imperfections.program`); a chip with
        ``drift_rad_per_step > 0`` takes one step of its random walk per call (one per
        training step), drawn from :attr:`noise_rng`. The perturbations of
        ``backward(method="finite_difference")`` program the chip within one step and
        take none.

        Parameters
        ----------
        params
            Phases, rad, keyed and shaped as :meth:`params` returns them.
        """
        self._set_params(params, drift="step")

    def _set_params(self, params: dict[str, Array], *, drift: Literal["step", "hold"]) -> None:
        """:meth:`set_params`; ``drift="hold"`` programs with the drift as it is."""
        current = self.params()
        if not isinstance(params, Mapping):  # set(None) or set of a list's values: no
            raise TypeError(
                f"params is a {type(params).__name__}; expected a dict of arrays keyed "
                f"{sorted(current)}"
            )
        missing, unknown = set(current) - set(params), set(params) - set(current)
        if missing or unknown:
            raise ValueError(
                f"params lacks keys {sorted(missing)} and has unknown keys {sorted(unknown)}; "
                f"expected the keys of params(): {sorted(current)}"
            )
        checked: dict[str, Array] = {}
        for key, old in current.items():
            value = np.asarray(params[key])
            if value.shape != old.shape:
                raise ValueError(f"params[{key!r}] has shape {value.shape}; expected {old.shape}")
            if value.dtype.kind not in "iuf":
                raise ValueError(
                    f"params[{key!r}] must be finite real phases (rad); got dtype {value.dtype}"
                )
            if not np.isfinite(value).all():
                raise ValueError(
                    f"params[{key!r}] must be finite real phases (rad); it holds "
                    f"{value.size - np.count_nonzero(np.isfinite(value))} NaN or infinite value(s)"
                )
            checked[key] = value.astype(np.float64)  # a copy, never the caller's array
        params = checked
        self._cache = None
        for name, stage in self._named_stages():
            stage.program(
                Phases(
                    params[f"{name}.theta_rad"],
                    params[f"{name}.phi_rad"],
                    params[f"{name}.out_rad"],
                ),
                self._rng_for_noise if drift == "step" else None,
            )
        for i in range(len(self._sigma_rad)):
            self._sigma_rad[i] = params[f"layer{i + 1}.sigma_rad"]  # a copy already
        for layer in range(self.n_layers):  # every shifter of the layer, attenuators too
            prefix = f"layer{layer + 1}."
            n_phases = sum(v.size for key, v in params.items() if key.startswith(prefix))
            self._record_phase_writes(layer, n_phases)

    def checkpoint_settings(self) -> dict[str, Any]:
        """What a resumed training run must share with this network besides its parameters.

        What shapes the function beyond the parameters (encoding, activations and their
        settings such as modReLU's bias, read-out), the gradient method and its
        measurement settings (the finite-difference step only for that method), and per
        mesh its chip: ``"ideal"``, or a digest of its static errors and every scalar
        setting.

        Returns
        -------
        dict
            JSON-able values (:func:`digital.train.train` checks them).
        """
        out: dict[str, Any] = {
            "bias_ports": self.bias_ports,
            "bias_amplitude": self.bias_amplitude,
            "normalization": self.normalization,
            "activations": [a.name for a in self.activations],
            # the name alone does not tell modrelu(bias=-0.1) from modrelu(bias=-0.4)
            "activation_settings": [a.settings() for a in self.activations],
            "readout_groups": self.readout_groups,
            "readout_scale": self.readout_scale,
            "gradient": self.gradient,
            "measurement": self.measurement,
            "detector_clip": self.detector_clip,
            "adjoint_power_ratio": self.adjoint_power_ratio,
        }
        if self.gradient == "finite_difference":
            out["fd_step_rad"] = self.fd_step_rad
        for name, stage in self._named_stages():
            chip = stage.chip
            if chip is None:
                out[f"chip.{name}"] = "ideal"
                continue
            for field in dataclasses.fields(chip):
                value = getattr(chip, field.name)
                if not isinstance(value, np.ndarray):
                    out[f"chip.{name}.{field.name}"] = value
            digest = hashlib.sha256()
            for field in dataclasses.fields(chip):
                value = getattr(chip, field.name)
                if isinstance(value, np.ndarray):
                    digest.update(np.ascontiguousarray(value).tobytes())
            out[f"chip.{name}"] = f"static errors {digest.hexdigest()[:16]}"
        return out

    def chip_drift(self) -> dict[str, Array]:
        """The drift every drifting mesh's chip has accumulated, rad (copies).

        Keyed like the mesh phases of :meth:`params` (``"layer1.theta_rad"`` …); empty
        when no chip drifts or none has been programmed since construction. With
        :meth:`set_chip_drift` it lets a checkpoint resume a drifting chip exactly.

        Returns
        -------
        dict
            Drift arrays, rad, keyed and shaped as :meth:`params`.
        """
        out: dict[str, Array] = {}
        for name, stage in self._named_stages():
            if stage.drift is not None:
                for field in PHASE_FIELDS:
                    out[f"{name}.{field}"] = getattr(stage.drift, field).copy()
        return out

    def set_chip_drift(self, drift: dict[str, Array]) -> None:
        """Restore drift from :meth:`chip_drift` and reprogram the held phases with it
        (the requested phases stay; no drift step is taken).

        Every key must be one of :meth:`chip_drift`'s for a mesh on a drifting chip,
        with all three arrays of that mesh at its shapes; checked before anything
        changes (:meth:`check_chip_drift`).

        Parameters
        ----------
        drift
            Drift arrays, rad, as :meth:`chip_drift` returns them.
        """
        restored = self.check_chip_drift(drift)
        stages = dict(self._named_stages())
        for name, walked in restored.items():
            stage = stages[name]
            stage.drift = walked
            stage.programmed = program(stage.requested, stage.mesh, stage.chip, drift=walked)
        self._cache = None

    def check_chip_drift(self, drift: dict[str, Array]) -> dict[str, Phases]:
        """``drift`` checked for :meth:`set_chip_drift`, as ``Phases`` per mesh name.

        Parameters
        ----------
        drift
            Drift arrays, rad, as :meth:`chip_drift` returns them.

        Returns
        -------
        dict
            :class:`~photonic.mesh.Phases` keyed by mesh name (``"layer1"`` …).

        Raises
        ------
        ValueError
            A key that names no mesh on a drifting chip, or an unknown field; a mesh
            without all three arrays; an array of the wrong shape or not finite.
        """
        if not isinstance(drift, dict):
            raise ValueError(f"drift is a {type(drift).__name__}; expected a dict of arrays")
        stages = {n: s for n, s in self._named_stages() if s.chip is not None}
        restored: dict[str, Phases] = {}
        for name in sorted({key.rsplit(".", 1)[0] for key in drift}):
            stage = stages.get(name)
            if stage is None or not stage.chip.drift_rad_per_step > 0:  # type: ignore[union-attr]
                raise ValueError(f"drift names {name!r}, which is not a mesh on a drifting chip")
            keys = [f"{name}.{f}" for f in PHASE_FIELDS]
            missing = [k for k in keys if k not in drift]
            if missing:
                raise ValueError(f"drift lacks {missing}: give all three arrays of a mesh")
            sizes = (stage.mesh.n_mzis, stage.mesh.n_mzis, stage.mesh.n_ports)
            values = []
            for key, size in zip(keys, sizes, strict=True):
                value = np.array(drift[key], dtype=np.float64)
                if value.shape != (size,) or not np.all(np.isfinite(value)):
                    raise ValueError(
                        f"drift[{key!r}] must hold {size} finite phases (rad); got shape "
                        f"{value.shape}"
                    )
                values.append(value)
            restored[name] = Phases(*values)
        unknown = set(drift) - {f"{n}.{f}" for n in restored for f in PHASE_FIELDS}
        if unknown:
            raise ValueError(f"drift has unknown keys {sorted(unknown)}")
        return restored

    def _check_measurable(self, method: str) -> None:
        """Refuse an in-situ ``method`` on SVD layers (only unitary meshes are measured)."""
        if self.layer_kind != "unitary":
            raise ValueError(
                f"method={method!r} measures unitary mesh layers; this network has "
                "layer_kind='svd' (use 'adjoint' or 'finite_difference')"
            )

    def _check_measurement(self) -> None:
        """Refuse a ``measurement`` mode that cannot read the taps of one of the chips."""
        for stage in self._stages:
            check_mode(self.measurement, stage.chip, self.detector_clip, name="measurement")

    def _record_phase_writes(
        self, layer: int, n_phases: int, *, direction: Literal["update", "probe"] = "update"
    ) -> None:
        if self.recorder is not None:
            self.recorder.record(
                ops.phase_update(
                    layer, n_ports=self.n_ports, n_phases=n_phases, direction=direction
                )
            )

    def encode(self, x: Array) -> Array:
        """The input fields that encode features ``x``.

        Parameters
        ----------
        x
            Features ``(n_samples, n_features)``, real.

        Returns
        -------
        numpy.ndarray
            Input fields ``(n_samples, n_ports)``, real amplitudes.
        """
        x = check_matrix(x, "x", n_cols=self.n_features, values="real").astype(np.float64)
        field = np.zeros((x.shape[0], self.n_ports))
        field[:, : self.n_features] = x
        field[:, self.n_features : self.n_features + self.bias_ports] = self.bias_amplitude
        if self.normalization == "fixed_power":
            with np.errstate(over="ignore"):  # an overflow is handled below
                norm = np.linalg.norm(field, axis=1, keepdims=True)
            if np.any(norm == 0):
                raise ValueError("an input encodes to zero power; fixed_power needs a bias")
            huge = ~np.isfinite(norm[:, 0])  # |x|² overflowed: scale by the peak first
            if np.any(huge):
                rows = field[huge] / np.max(np.abs(field[huge]), axis=1, keepdims=True)
                field[huge] = rows
                norm[huge] = np.linalg.norm(rows, axis=1, keepdims=True)
            field = field / norm
        return field

    def forward(self, x: Array) -> Array:
        """Outputs ``(n_samples, n_outputs)``: detected powers, grouped and scaled.

        With an ADC on the last mesh's chip the powers are quantised over a full scale
        set by the brightest reading of this call, so a sample's outputs depend on the
        rest of the batch ``x`` (class Notes).

        Recorded as one ``mesh_pass`` per layer whose outputs are read as fields
        (I and Q) when :attr:`gradient` is ``"in_situ"`` or ``"analog"``: the pass
        serves the gradient measurement, and the adjoint source ``2·w·conj(y)`` and
        the activations' derivatives need the phase of every layer's output
        (DESIGN.md §4.4). Otherwise the outputs are read as powers. Each pass's inputs
        are recorded as real amplitudes (``inject="amplitude"``) into the first layer
        and after an activation with a real output (``|z|``, ``|z|²``), as complex
        fields (``inject="field"``: I and Q, two DAC samples per port) after a complex
        one (modReLU, the electro-optic activation).

        Parameters
        ----------
        x
            Features ``(n_samples, n_features)``, real.

        Returns
        -------
        numpy.ndarray
            Outputs ``(n_samples, n_outputs)``, real.
        """
        measured = self.gradient in ("in_situ", "analog")
        return self._forward(x, exit_read="field" if measured else "power")

    def _forward(
        self, x: Array, *, exit_read: ExitRead, composed: dict[int, Transfer] | None = None
    ) -> Array:
        """:meth:`forward`, its passes recorded as reading ``exit_read`` at the outputs.

        ``composed``: a caller's memo of the transfers composed so far, keyed by stage
        index; a stage whose phases (values) and chip match its entry reuses it instead
        of composing the same matrix again, and a new composition replaces the entry.
        The finite-difference probes, which change one stage at a time, pass one per
        gradient (nothing is kept on the network between calls)."""
        self._cache = None  # a forward() that fails leaves nothing for backward()
        # a copy: the finite-difference backward() sends these features through again,
        # and the caller may have reused their array since
        x = check_matrix(x, "x", n_cols=self.n_features, values="real").astype(np.float64)
        field = self.encode(x).astype(np.complex128)
        n = field.shape[0]
        cache: dict[str, Any] = {
            "exit_read": exit_read,  # what the passes read, as recorded (if recorded)
            "recorded": self.recorder is not None,
            "features": x,
            "intended": [],  # what each layer's modulators were asked to emit
            "factor_in": [],  # their I/O error factors (None: none)
            "inputs": [],  # fields entering each mesh
            "phases": [],
            "transfers": [],  # each mesh composed once per pass (None: per-sample phases)
            "factor_out": [],  # I/O error factors of each layer's measured output
            "pre": [],  # measured layer outputs z (activation inputs)
            "attenuated": [],
        }
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
            for layer in range(self.n_layers):
                emitter, reader = self._layer_chips(layer)
                factor_in = self._io_factor(field.shape, emitter)
                cache["intended"].append(field)
                cache["factor_in"].append(factor_in)
                injected = field if factor_in is None else field * factor_in
                z = self._layer_forward(layer, injected, cache, composed)
                factor_out = self._io_factor(z.shape, reader)
                z = z if factor_out is None else z * factor_out
                cache["factor_out"].append(factor_out)
                cache["pre"].append(z)
                if layer < self.n_layers - 1:
                    field = self.activations[layer](z).astype(np.complex128)
                    check_not_overflowed(field, x, "x", f"the activations after layer {layer + 1}")
                    self._record_activation(layer, "forward", n)
            y = z
            powers = self._detect(y)
            grouped = np.stack([powers[:, g].sum(axis=1) for g in self.readout_groups], axis=1)
            outputs = self.readout_scale * grouped
        check_not_overflowed(
            outputs, x, "x", f"the outputs (detected powers × readout_scale={self.readout_scale:g})"
        )
        cache["y"] = y
        self._cache = cache
        return outputs

    def backward(
        self, grad_output: Array, *, method: GradientMethod | None = None
    ) -> dict[str, Array]:
        """Gradients of the loss with respect to every phase, keyed like :meth:`params`.

        Parameters
        ----------
        grad_output
            ``dLoss/d(outputs)`` of the last :meth:`forward`, ``(n_samples, n_outputs)``.
        method
            ``"adjoint"``, ``"in_situ"``, ``"analog"`` or ``"finite_difference"``
            (default: the network's ``gradient``), so one network state can be
            measured by every method. A measured method after a :meth:`forward`
            recorded with power reads (another ``gradient``) is refused while
            recording: its phase reads would be missing from the trace.

        Returns
        -------
        dict of str to ndarray
            One array per key of :meth:`params`, same shapes, loss units per rad.
            ``"adjoint"``, ``"in_situ"`` and ``"analog"`` differentiate with respect
            to the phases the chip holds (the requested phases after DAC
            quantization and thermal crosstalk, :func:`~photonic.imperfections.program`),
            as a chip's taps measure them;
            ``"finite_difference"`` perturbs the requested phases, so it goes through
            the DAC and crosstalk. The two agree, and equal ``∂L/∂params()``, only on
            a chip without either (``chip=None``, or ``dac_bits=None`` and
            ``crosstalk=0``): with crosstalk ``J = ∂held/∂requested``,
            ``∂L/∂params() = Jᵀ·(held-phase gradient)``; a quantizing DAC makes
            ``∂L/∂params()`` zero almost everywhere. So
            :func:`~digital.gradcheck.gradcheck` of a network passes only on such a
            chip, and without per-pass noise.
        """
        chosen = check_choice(
            self.gradient if method is None else method, "method", GRADIENT_METHODS
        )
        if self._cache is None:
            raise RuntimeError("backward() needs a forward() first")
        cache = self._cache
        g = check_matrix(grad_output, "grad_output", values="real", columns="n_outputs")
        if g.shape != (cache["y"].shape[0], self.n_outputs):
            raise ValueError(
                f"grad_output has shape {g.shape}; expected {(cache['y'].shape[0], self.n_outputs)}"
            )
        dpower = np.zeros(cache["y"].shape)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
            for j, group in enumerate(self.readout_groups):
                dpower[:, group] = self.readout_scale * g[:, [j]]
            delta = 2.0 * np.conj(cache["y"]) * dpower  # |y|²: ∂/∂Re − i ∂/∂Im = 2 conj(y)
        check_not_overflowed(
            delta, g, "grad_output", "the adjoint fields 2·conj(y)·readout_scale·grad_output"
        )
        if chosen == "finite_difference":
            return self._finite_difference(g)
        if chosen in ("in_situ", "analog"):
            if g.shape[0] == 0:
                raise ValueError(
                    f"grad_output has shape {g.shape}: method={chosen!r} measures on the "
                    "chip, which needs at least one sample"
                )
            self._check_measurement()
            self._check_measurable(chosen)
            if self.recorder is not None and cache["recorded"] and cache["exit_read"] != "field":
                raise ValueError(
                    f"method={chosen!r} needs the phase of every layer's output, but the "
                    f"last forward() was recorded reading powers (gradient={self.gradient!r}); "
                    f"set gradient={chosen!r} before forward() to record the field reads"
                )
        grads: dict[str, Array] = {}
        for layer in reversed(range(self.n_layers)):
            if layer < self.n_layers - 1:  # on the host, whatever the method
                delta = self.activations[layer].backward(cache["pre"][layer], delta)
                self._record_activation(layer, "backward", delta.shape[0])
            if chosen == "adjoint":
                f_out, f_in = cache["factor_out"][layer], cache["factor_in"][layer]
                delta = delta if f_out is None else delta * f_out  # z_meas = f_out · z
                delta = self._layer_backward(layer, delta, cache, grads)
                delta = delta if f_in is None else delta * f_in  # injected = f_in · intended
            else:
                # the measurement scales δ to the forward power by Σ|δ|², which overflows
                # from |δ| ≈ 1e154: refused by the caller's name, not the internal "delta"
                with np.errstate(over="ignore"):
                    power = np.sum(np.abs(delta) ** 2, axis=1)
                check_not_overflowed(
                    power,
                    g,
                    "grad_output",
                    f"the powers per sample Σ|δ|² of the adjoint source of layer {layer + 1} "
                    f"(method={chosen!r})",
                )
                delta = self._measure_layer(layer, delta, cache, grads, chosen)
        return {key: grads[key] for key in self.params()}

    def _measure_layer(
        self,
        layer: int,
        delta: Array,
        cache: dict[str, Any],
        grads: dict[str, Array],
        method: str,
    ) -> Array:
        """In-situ measurement of one unitary layer; returns the measured ``x̂``."""
        stage = self._stages[layer]
        # the chip still holds the phases of the last forward (set_params forgets it),
        # so that pass serves the measurement, as on the chip (Pai et al.): its composed
        # transfer, and its forward taps (three passes per layer per step, not four)
        m = measure_in_situ(
            stage.mesh,
            stage.programmed,
            cache["intended"][layer],
            delta,
            stage.chip,
            self._rng_for_noise(),
            method="analog" if method == "analog" else "in_situ",
            mode=self.measurement,  # type: ignore[arg-type]
            adjoint_power_ratio=self.adjoint_power_ratio,
            detector_clip=self.detector_clip,  # type: ignore[arg-type]
            recorder=self.recorder,
            layer=layer,
            transfer=cache["transfers"][layer],
            inference=InferencePass(cache["inputs"][layer], cache["phases"][layer]),
        )
        name = f"layer{layer + 1}"
        grads[f"{name}.theta_rad"] = m.gradients.theta_rad
        grads[f"{name}.phi_rad"] = m.gradients.phi_rad
        grads[f"{name}.out_rad"] = m.gradients.out_rad
        assert m.input_adjoint is not None
        return m.input_adjoint

    def _finite_difference(self, grad_output: Array) -> dict[str, Array]:
        """``±h`` on every phase shifter, the batch through the whole network each time.

        Recorded as on a chip: one phase write per perturbation and one to restore the
        shifter (``set_params`` would record a write of every phase), and every pass;
        all of it with direction ``"probe"``, the gradient measurement.
        """
        cache = self._cache
        assert cache is not None
        x = cache["features"]
        base = self.params()
        h = self.fd_step_rad
        grads: dict[str, Array] = {}
        recorder = self.recorder
        # one evaluation's ops, then re-recorded as "probe"; none are made for nobody
        probe = Recorder() if recorder is not None else None
        # A probe changes one mesh: the others keep their phases, and their composed
        # matrices (first those of the forward being differentiated) serve every probe.
        composed = {i: t for i, t in enumerate(cache["transfers"]) if t is not None}
        stages = dict(self._named_stages())
        try:
            for key, value in base.items():
                layer = int(key.split(".")[0].removeprefix("layer")) - 1
                name, field = key.rsplit(".", 1)
                stage = stages.get(name)  # None: the attenuators of an SVD layer
                held = None if stage is None else (stage.requested, stage.programmed)
                grad = np.zeros_like(value)
                for index in np.ndindex(value.shape):
                    values = []
                    for sign in (1.0, -1.0):
                        trial = value.copy()
                        trial[index] += sign * h
                        self.recorder = probe
                        try:
                            # program the one mesh that changes (set_params of the other
                            # phases would give each mesh what it already holds)
                            if stage is None:
                                self._sigma_rad[layer] = trial
                            else:
                                requested = {f: base[f"{name}.{f}"] for f in PHASE_FIELDS}
                                requested[field] = trial
                                stage.program(Phases(**requested), None)
                            self._record_phase_writes(layer, 1)
                            out = self._forward(  # the loss needs powers
                                x, exit_read="power", composed=composed
                            )
                            with np.errstate(over="ignore", invalid="ignore"):  # refused below
                                values.append(float(np.sum(grad_output * out)))
                        finally:
                            self.recorder = recorder
                        if recorder is not None and probe is not None:
                            for op in probe.ops:
                                recorder.record(dataclasses.replace(op, direction="probe"))
                            probe.clear()
                    self._record_phase_writes(layer, 1, direction="probe")  # back to its value
                    with np.errstate(over="ignore", invalid="ignore"):  # refused below
                        grad[index] = (values[0] - values[1]) / (2 * h)
                    check_not_overflowed(  # else a NaN gradient, with only a RuntimeWarning
                        np.array([*values, grad[index]]),
                        grad_output,
                        "grad_output",
                        "the probed losses Σ grad_output·outputs or their differences ÷ 2h",
                    )
                grads[key] = grad
                if stage is None:  # back to what the chip held before this key's probes
                    self._sigma_rad[layer] = value
                else:
                    assert held is not None
                    stage.requested, stage.programmed = held
        finally:
            self.recorder = None
            try:
                self._set_params(base, drift="hold")
            finally:
                self.recorder = recorder
                self._cache = cache
        return grads

    # -- layers ---------------------------------------------------------------------------

    def _named_stages(self) -> list[tuple[str, _Stage]]:
        if self.layer_kind == "unitary":
            return [(f"layer{i + 1}", s) for i, s in enumerate(self._stages)]
        named = []
        for i in range(self.n_layers):
            named.append((f"layer{i + 1}.v", self._stages[2 * i]))
            named.append((f"layer{i + 1}.u", self._stages[2 * i + 1]))
        return named

    def _stage_forward(
        self,
        index: int,
        field: Array,
        cache: dict[str, Any],
        composed: dict[int, Transfer] | None = None,
    ) -> Array:
        """The field after mesh ``index`` (its pass is recorded by the layer); see
        :meth:`_forward` for ``composed``."""
        stage = self._stages[index]
        n = field.shape[0]
        phases = stage.programmed
        if stage.chip is not None and stage.chip.phase_noise_rad > 0 and n > 0:
            # (an empty batch sends no pass: no noise, as on an ideal chip)
            phases = phase_noise(phases, stage.chip, self._rng_for_noise(), n_samples=n)
        cache["inputs"].append(field)
        cache["phases"].append(phases)
        if phases.theta_rad.ndim == 2:  # per-pass noise: every sample its own phases
            cache["transfers"].append(None)
            return stage.mesh.forward(phases, field, stage.chip)
        known = None if composed is None else composed.get(index)
        if known is not None and known.made_for(phases, stage.chip):
            transfer = known  # the same phases on the same chip: the same matrix
        else:
            transfer = stage.mesh.transfer(phases, stage.chip)  # composed once for the step
            if composed is not None:
                composed[index] = transfer
        cache["transfers"].append(transfer)
        return transfer.forward(field)

    def _stage_backward(
        self,
        stage: _Stage,
        index: int,
        delta: Array,
        cache: dict[str, Any],
        key: str,
        grads: dict[str, Array],
    ) -> Array:
        x_in, phases = cache["inputs"][index], cache["phases"][index]
        transfer = cache["transfers"][index]
        if transfer is None:
            g = stage.mesh.phase_gradients(phases, x_in, delta, stage.chip)
        else:
            g = transfer.phase_gradients(x_in, delta)
        grads[f"{key}.theta_rad"] = g.theta_rad
        grads[f"{key}.phi_rad"] = g.phi_rad
        grads[f"{key}.out_rad"] = g.out_rad
        n, size = x_in.shape[0], stage.mesh.n_ports
        flops = (COMPOSE_FLOPS_PER_N3 + SWEEP_FLOPS_PER_N3) * size**3
        flops += 3 * COMPLEX_MAC_FLOPS * n * size**2
        layer = index // 2 if self.layer_kind == "svd" else index  # stage → network layer
        self._record_digital(layer, n, "backward", flops=flops)
        if transfer is None:
            return stage.mesh.adjoint(phases, delta, stage.chip)
        return transfer.adjoint(delta)

    def _layer_forward(
        self,
        layer: int,
        field: Array,
        cache: dict[str, Any],
        composed: dict[int, Transfer] | None = None,
    ) -> Array:
        n = field.shape[0]
        if self.layer_kind == "unitary":
            self._record_pass(layer, n, cache["exit_read"], meshes=1)
            return self._stage_forward(layer, field, cache, composed)
        # V, the attenuators and U are one coherent pass on the chip: the inputs are
        # modulated and the outputs read once; the light crosses two meshes
        self._record_pass(layer, n, cache["exit_read"], meshes=2)
        v = self._stage_forward(2 * layer, field, cache, composed)
        sigma = np.sin(self._sigma_rad[layer] / 2)
        cache["attenuated"].append(v)
        return self._stage_forward(2 * layer + 1, v * sigma, cache, composed)

    def _layer_backward(
        self, layer: int, delta: Array, cache: dict[str, Any], grads: dict[str, Array]
    ) -> Array:
        name = f"layer{layer + 1}"
        if self.layer_kind == "unitary":
            return self._stage_backward(self._stages[layer], layer, delta, cache, name, grads)
        delta = self._stage_backward(
            self._stages[2 * layer + 1], 2 * layer + 1, delta, cache, f"{name}.u", grads
        )
        theta = self._sigma_rad[layer]
        v = cache["attenuated"][layer]
        # z = sin(θ/2) v  ⇒  dL/dθ = Re Σ_b δ_b v_b cos(θ/2)/2
        grads[f"{name}.sigma_rad"] = np.real(np.sum(delta * v, axis=0)) * np.cos(theta / 2) / 2
        delta = delta * np.sin(theta / 2)
        return self._stage_backward(
            self._stages[2 * layer], 2 * layer, delta, cache, f"{name}.v", grads
        )

    # -- measurement ---------------------------------------------------------------------

    def _layer_chips(self, layer: int) -> tuple[Chip | None, Chip | None]:
        """Chips of a layer's first and last mesh: its modulators emit into the first,
        its output detectors read after the last (one mesh for unitary layers)."""
        per_layer = 2 if self.layer_kind == "svd" else 1
        first = per_layer * layer
        return self._stages[first].chip, self._stages[first + per_layer - 1].chip

    def _rng_for_noise(self) -> np.random.Generator:
        if self.noise_rng is not None:
            return self.noise_rng
        if any(s.chip is not None and s.chip.is_noisy for s in self._stages):
            # set to None after construction: the same "noise" every pass would be silent
            raise ValueError(
                "noise_rng=None, but the chip has per-pass noise or drift: set noise_rng to "
                "a numpy.random.Generator"
            )
        return np.random.default_rng(0)  # drawn from by nothing: no chip has noise

    def _io_factor(self, shape: tuple[int, ...], chip: Chip | None) -> Array | None:
        """Multiplicative I/O error ``(1 + σ_a n)·e^{iπσ_p n}`` of one emitted or read field."""
        if chip is None or (chip.io_amplitude_error == 0 and chip.io_phase_error == 0):
            return None
        return apply_io_error(np.ones(shape, dtype=np.complex128), chip, self._rng_for_noise())

    def _detect(self, y: Array) -> Array:
        chip = self._stages[-1].chip
        if chip is None or (chip.tap_noise == 0 and chip.adc_bits is None):
            return np.abs(y) ** 2
        return detect_power(y, chip, self._rng_for_noise())

    # -- export ---------------------------------------------------------------------------

    def matrices(self) -> list[Array]:
        """The complex matrix each layer applies, ``(n_ports, n_ports)`` per layer.

        These are what the programmed chip computes (its static errors and loss
        included, per-pass noise excluded).

        Returns
        -------
        list of numpy.ndarray
            One ``(n_ports, n_ports)`` complex matrix per layer.
        """
        mats = []
        for layer in range(self.n_layers):
            if self.layer_kind == "unitary":
                s = self._stages[layer]
                mats.append(s.mesh.matrix(s.programmed, s.chip))
            else:
                v, u = self._stages[2 * layer], self._stages[2 * layer + 1]
                sigma = np.sin(self._sigma_rad[layer] / 2)
                mats.append(
                    u.mesh.matrix(u.programmed, u.chip)
                    @ (sigma[:, None] * v.mesh.matrix(v.programmed, v.chip))
                )
        return mats

    def to_mlp(self) -> MLP:
        """A complex :class:`~digital.network.MLP` computing the same per-port powers.

        Its input is :meth:`encode` of the features and its output the powers
        ``|y|²`` of every port (before grouping and ``readout_scale``).

        Returns
        -------
        MLP
        """
        mlp = MLP(
            [self.n_ports] * (self.n_layers + 1),
            activation=[*self.activations, "abs2"],
            rng=np.random.default_rng(0),
            dtype=complex,
            bias="none",
        )
        mlp.set_params({f"W{i + 1}": w for i, w in enumerate(self.matrices())})
        return mlp

    # -- op records -----------------------------------------------------------------------

    def _injection(self, layer: int) -> Inject:
        """How the modulators set the inputs of ``layer`` (0-based) in a forward pass.

        ``"amplitude"`` (one DAC sample per port) for the first layer — the features
        are encoded as real amplitudes — and after an activation whose output is real
        (``|z|``, ``|z|²``: :attr:`~digital.activations.Activation.real_output`);
        ``"field"`` (amplitude and phase, I and Q: two samples per port) after a
        complex one (modReLU, electro-optic), whose output the layer re-emits as a
        complex field.
        """
        if layer == 0 or self.activations[layer - 1].real_output:
            return "amplitude"
        return "field"

    def _record_pass(self, layer: int, n: int, exit_read: ExitRead, *, meshes: int) -> None:
        if self.recorder is not None:  # modulate the inputs, read the outputs
            self.recorder.record(
                ops.mesh_pass(
                    layer,
                    "forward",
                    n_ports=self.n_ports,
                    n_samples=n,
                    exit_read=exit_read,
                    inject=self._injection(layer),
                    meshes=meshes,
                )
            )

    def _record_digital(
        self, layer: int, n: int, direction: Literal["forward", "backward"], *, flops: int
    ) -> None:
        if self.recorder is None:  # no op is built for nobody (probes make thousands)
            return
        self.recorder.record(
            ops.digital_compute(
                layer,
                direction,
                n_ports=self.n_ports,
                n_samples=n,
                flops=int(flops),
                bytes_moved=BYTES_PER_COMPLEX * n * self.n_ports * 2,
            )
        )

    def _record_activation(
        self, layer: int, direction: Literal["forward", "backward"], n: int
    ) -> None:
        """Record the host applying layer ``layer``'s activation (or its derivative) to
        ``n`` samples; nothing is built when nothing records."""
        if self.recorder is not None:
            self.recorder.record(activation_op(layer, direction, n_ports=self.n_ports, n_samples=n))
