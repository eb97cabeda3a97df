"""Gradient fidelity: measured in-situ, analog and finite-difference gradients vs the exact ones.

What it covers
--------------
How close is a gradient *measured on an imperfect chip* to the exact gradient of that
same chip? Two studies, each repeated over ``repeats`` independent draws (phases,
inputs, chip, noise) per point and reported as mean ± std:

1. **Single N-port layers** (``layer_topology``, Clements by default). Per draw: Haar
   phases, ``batch`` complex inputs of unit power, a random target ``t`` and the
   synthetic loss ``L = (1/B) Σ_b ½‖P_b − t_b‖²`` on the detected powers ``P = |y|²``;
   the adjoint source is ``δ = 2 conj(y) w`` with ``w = dL/dP`` (computed from the
   chip's noiseless output, so the error is the measurement's alone). The exact
   gradient is :meth:`photonic.mesh.Mesh.phase_gradients` on the chip (its static
   errors included). One factor at a time is switched on, on an otherwise ideal chip:
   tap noise ``s``, insertion loss per MZI, coupler splitting error, per-pass phase
   noise, I/O error (``σ_a = σ_p``); batch size and N are swept at the reference tap
   noise ``reference_tap_noise`` (on a noiseless chip they change nothing).
2. **The Pai et al. (2023) network** (:meth:`PhotonicNetwork.pai2023`, three 4×4 Reck
   layers, ``|z|`` between layers, optical softmax) on minibatches of moons, at its
   random initial phases (``"init"``) and after ``pai_train_epochs`` of digital
   training (``"trained"``), on chips of named noise profiles (:data:`PAI_PROFILES`),
   for batch sizes ``pai_batches``. The exact gradient is ``backward(method="adjoint")``
   of the same forward pass (the chip's static errors and that pass's noise included);
   every measured method is ``backward(method=...)`` on that state.

Estimators (``methods``): ``"in_situ"`` (3-pass), ``"analog"`` (2-pass ±),
``"finite_difference"`` (``±fd_step_rad`` on every shifter; single layers only up to
``fd_max_ports`` ports), and ``"digital_twin"``: the adjoint gradient an *ideal model*
of the chip computes (what a digital trainer that does not know the fabrication errors
would use) — not a measurement, the reference that shows why one measures in situ.

Metrics, for measured ``ĝ`` and exact ``g`` (all phases of all layers in one vector),
by :func:`digital.gradcheck.gradient_metrics` (``gradient_metrics`` here is the same
function):
``epsilon = 1 − ĝ·g/(‖ĝ‖‖g‖)`` (Pai et al.'s ε: 0 perfect, 1 orthogonal, 2 reversed;
computed as ``½‖ĝ/‖ĝ‖ − g/‖g‖‖²``, so it is never negative and a gradient exact to
rounding gives ε ≤ 1e-28 or 0, not ±1e-16), ``cosine = 1 − epsilon``,
``relative_error = ‖ĝ − g‖/‖g‖`` (sensitive to scale, unlike ε), ``sign_agreement`` =
fraction of components with the sign of ``g``, counted over components with
``|g_k| > 1e-9·‖g‖`` (:data:`digital.gradcheck.SIGN_TOLERANCE`; in the Pai network the
output phases of every layer have exactly zero gradient, because ``|z|`` and the power
readout discard them).

How to read the results
-----------------------
- ``metrics.csv``: tidy rows, one per (point, method, metric), with the columns
  ``study, factor, value, n_ports, batch, method, metric, mean, std, n, profile, state``
  (:data:`METRICS_COLUMNS`, in this order whichever studies run): ``study`` =
  ``layer`` or ``pai2023``; ``factor``/``value`` the swept setting (``batch`` and the
  minibatch size in the Pai-network study); ``n_ports``/``batch`` the point's N and B;
  ``method`` from ``methods``, ``metric`` from :data:`METRICS`; ``mean``, ``std``
  (sample std, the spread of single draws) and ``n`` (draws); ``profile``/``state`` the
  Pai-network chip profile and network state, empty in ``layer`` rows.
- ``layer_<metric>.png``/``.svg`` (if a factor is swept): one panel per swept factor,
  per method the mean ± its standard error (std/√n; the spread of single draws is
  ``metrics.csv``'s std).
  Values of ε below ``EPSILON_FLOOR`` are drawn at the floor as hollow ▽, not joined
  to the other points (an exact measurement gives ε ≤ 1e-28 or 0); each method's ▽ are
  shifted sideways by a few points, in the legend's order, so that where several
  methods are exact at one value (e.g. every method at tap noise 0) all of them show.
- ``pai2023_epsilon.png``/``.svg``: ε vs batch size per noise profile, with Pai et al.'s
  measured values; ε below ``PAI_EPSILON_FLOOR`` as ▽ at that floor, as above.
- the summary (in ``manifest.json``): the acceptance numbers, then
  ``eps_<factor>_<method>_mean``, the mean ε at the *last* value of each factor's list
  (``factor`` as in ``metrics.csv``). Its name does not depend on the values, so a
  sweep over one factor gives that factor one value per point and plots this key, e.g.
  ``photonic-backprop sweep gradient_fidelity --grid "phase_noise_values_rad=(0.01),(0.05)"
  --metric eps_phase_noise_rad_analog_mean``.
- ``pai_comparison.csv`` and the printed table: simulated ε next to Pai et al.'s
  (≈ 0.016–0.020 for their analog batch measurement at batch 1–4; ≈ 0.03 at batch 1 to
  ≈ 0.3 at batch 10 during training; ``shared/reference/parameters.md``). Like
  ``pai2023_epsilon.png``, written only when the Pai-network study runs
  (``pai_profiles`` not empty).

Physics worth knowing when reading the plots
--------------------------------------------
- Insertion loss breaks the 3-pass estimate, not the 2-pass one. The sum pass relies on
  time reversal: sending ``conj(x̂)`` forward must recreate ``conj(â)`` at every
  shifter, which needs a unitary prefix ``P`` (``P P^H = I``). With loss
  ``P P^H ≈ η² I``, so ``I_sum − I_fwd − I_adj`` keeps an additive error
  ``(η⁴ − 1)|â|²`` that does not cancel — always of the same sign, so it adds up
  coherently over a batch while the true per-sample gradients partly cancel: the 3-pass
  error *grows with batch size* on a lossy chip. The ± difference of the analog method
  cancels those terms exactly and keeps a scale ``≈ η²`` on each shifter's gradient,
  set by the loss in front of it (its depth in the mesh, and the MZI-to-MZI loss
  spread). That shows mostly in ``relative_error``; ε sees only how the scale differs
  between shifters, so it stays far below the 3-pass ε: in the default run 2.7e-4,
  4.2e-3 and 0.025 at 0.05, 0.2 and 0.5 dB/MZI (growing about as the loss squared),
  against 0.041, 0.32 and 0.69 for the 3-pass method (27–155× more). All of this is
  at ``adjoint_power_ratio = 1`` (the adjoint injected at the forward pass's power):
  the additive error grows as ``|â|²`` and the signal as ``|â|``, so a weaker adjoint
  shrinks the 3-pass bias and lets tap noise weigh more (numbers in
  :mod:`photonic.insitu`; ``--grid adjoint_power_ratio=0.01,0.1,1`` sweeps it).
- Splitting errors keep the mesh unitary: every measured method stays exact (ε ≤ 1e-28)
  while the digital twin, which assumes ideal couplers, does not.
- Tap noise enters the 3-pass estimate through three readings, the 2-pass one through
  two readings divided by 4: the analog estimate is ≈ 4× less noisy in variance.
- Finite differences measure the loss itself, so they are immune to loss and
  splitting errors but see every pass's noise (tap, phase, I/O) divided by ``2h``. On a
  single layer every detected power is a first-order trigonometric polynomial of each
  phase, so a noiseless central difference is exactly ``sin(h)/h`` times the gradient:
  ε = 0 for any ``h``, relative error ``1 − sin(h)/h ≈ h²/6``.
- I/O errors (a fresh amplitude/phase error on every injected and measured field) enter
  every pass — including the measured ``x̂`` that becomes the previous layer's adjoint
  source — and dominate ε at Pai et al.'s simulation defaults (σ = 0.025); tap noise
  alone at ``s = 0.01`` gives ε far below their measured values.
- In the Pai-network study the digital twin's ε is not 0 even on a tap-noise-only chip:
  the twin computes its own noiseless forward pass, whereas the reference gradient
  belongs to the noisy pass the chip really made.

What the default run shows (seed 0, ``adjoint_power_ratio = 1``)
-----------------------------------------------------------------
- 0.2 dB/MZI loss, no noise, N = 8, B = 4: cosine similarity 0.68 ± 0.06 (3-pass) vs
  0.996 ± 0.001 (2-pass); Pai network, B = 1 → 10: 0.96 → 0.76 (3-pass, trained state;
  0.92 → 0.81 at init) vs 0.999 (2-pass) at every batch size.
- Tap noise s = 0.01 alone gives ε ≈ 1e-3 (3-pass) and ≈ 3e-4 (2-pass), flat in B —
  10–60× below Pai et al.'s measured 0.016–0.020. Adding their I/O errors (0.025)
  gives 0.05–0.10 (2-pass) — above it; the measured values sit in between.
- The growth of ε with batch size that Pai et al. saw during training (≈ 0.03 → 0.3 for
  B = 1 → 10) is reproduced by the 3-pass estimate on a lossy chip (0.04 → 0.24 in the
  ``lossy`` profile, 0.10 → 0.27 with every default imperfection), and by nothing else
  here: the noise-only errors do not grow with B.

Randomness: ``child_rngs(seed, "data", "init", "chip", "noise", "train", "pai.data",
…, "pai.train")``: the single-layer study draws its seeds from the first streams, the
Pai-network study from the ``pai.*`` ones, so neither changes when the other's
settings do (e.g. ``repeats``); draw ``r`` of every point uses the same seeds (common
random numbers), so curves are smooth in the swept factor.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from digital.datasets import load
from digital.gradcheck import gradient_metrics
from digital.losses import half_squared_error, softmax_cross_entropy
from digital.optim import Adam
from digital.train import train
from digital.validation import (
    check_choice,
    check_choices,
    check_nonnegative,
    check_positive,
    check_positive_int,
)
from photonic.imperfections import NO_IMPERFECTIONS, Chip
from photonic.insitu import measure_finite_difference, measure_in_situ
from photonic.mesh import MAX_PORTS, TOPOLOGIES, Mesh, Phases, Topology
from photonic.network import PhotonicNetwork
from scenarios.framework import (
    Result,
    child_rngs,
    errorbars_above_floor,
    floor_handle,
    floor_markers,
    format_pm,
    new_figure,
    sample_std,
    save_figure,
    scenario_main,
    write_metrics,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "FACTORS",
    "METHODS",
    "METRICS_COLUMNS",
    "NAME",
    "PAI_PROFILES",
    "Config",
    "gradient_metrics",
    "main",
    "measure_layer",
    "measure_pai",
    "pai_study",
    "plot_pai",
    "run",
]

NAME = "gradient_fidelity"
"""Registry name of this scenario."""

Method = Literal["in_situ", "analog", "finite_difference", "digital_twin"]
METHODS: tuple[str, ...] = get_args(Method)
MEASURED: tuple[str, ...] = ("in_situ", "analog", "finite_difference")
Measurement = Literal["per_sample", "aggregated"]
PaiProfile = Literal["tap", "pai_sim", "realistic", "lossy"]
PaiState = Literal["init", "trained"]

METRICS: tuple[str, ...] = ("epsilon", "cosine", "relative_error", "sign_agreement")
#: Columns of ``metrics.csv``, in order; every row has all of them (``None``: empty).
METRICS_COLUMNS: tuple[str, ...] = (
    "study",
    "factor",
    "value",
    "n_ports",
    "batch",
    "method",
    "metric",
    "mean",
    "std",
    "n",
    "profile",
    "state",
)
#: ε values below this are drawn at this floor on the log axes of the single-layer plots.
EPSILON_FLOOR = 1e-10
#: The same for the Pai-network plot (its interesting range is 1e-4 … 1).
PAI_EPSILON_FLOOR = 1e-5

#: Swept single-layer factors: config field of the values, readable name with units
#: (the panel title; ``s`` has the units of ``|E|``, √power, see :class:`Chip`).
FACTORS: dict[str, tuple[str, str]] = {
    "tap_noise": ("tap_noise_values", "tap noise s (|E| units)"),
    "loss_db_per_mzi": ("loss_db_values", "insertion loss per MZI (dB)"),
    "splitting_error_std_rad": ("splitting_error_values_rad", "coupler splitting error σ_ε (rad)"),
    "phase_noise_rad": ("phase_noise_values_rad", "phase noise per pass σ_φ (rad)"),
    "io_error": ("io_error_values", "I/O error σ_a = σ_p (relative; σ_p in units of π)"),
    "batch": ("batch_values", "batch size B (samples)"),
    "n_ports": ("port_values", "mesh size N (ports)"),
}
#: The x-axis label of each factor's panel: its symbol and units.
FACTOR_AXES: dict[str, str] = {
    "tap_noise": "s (|E| = √power units)",
    "loss_db_per_mzi": "loss per MZI (dB)",
    "splitting_error_std_rad": "σ_ε (rad)",
    "phase_noise_rad": "σ_φ (rad)",
    "io_error": "σ_a (relative) = σ_p (units of π rad)",
    "batch": "B (samples)",
    "n_ports": "N (ports)",
}
#: At most this many panels side by side in the single-layer plots.
MAX_PANEL_COLUMNS = 4

#: Every imperfection switched off (Chip.draw keywords); sweeps switch one on.
QUIET_CHIP = NO_IMPERFECTIONS

#: Noise profiles of the Pai-network study: ``None`` = every Chip.draw default.
PAI_PROFILES: dict[str, dict[str, Any] | None] = {
    "tap": {"tap_noise": 0.01},  # tap noise alone at Pai et al.'s default s
    "pai_sim": {  # the defaults of Pai et al.'s simulation code: tap + I/O errors
        "tap_noise": 0.01,
        "io_amplitude_error": 0.025,
        "io_phase_error": 0.025,
    },
    "realistic": None,  # Chip.draw defaults: loss, splitting, DAC, crosstalk, noise, ADC
    "lossy": {"loss_db_per_mzi": 0.2},  # 0.2 dB per MZI, no noise
}
PAI_PROFILE_LABELS: dict[str, str] = {
    "tap": "tap noise s=0.01 only",
    "pai_sim": "s=0.01 + I/O 0.025 (Pai sim. defaults)",
    "realistic": "Chip.draw defaults (all imperfections)",
    "lossy": "0.2 dB/MZI loss, no noise",
}

#: Pai et al. 2023 measured ε by batch size (parameters.md), for the comparison table.
PAI_MEASURED_EPSILON: dict[int, str] = {
    1: "0.016-0.020 (analog batch); ~0.03 in training",
    2: "0.016-0.020 (analog batch)",
    4: "0.016-0.020 (analog batch)",
    10: "~0.3 in training",
}
#: The same as numbers for the plot: (batch, low, high) bands and training points.
PAI_BATCH_BAND = (1, 4, 0.016, 0.020)
PAI_TRAINING_POINTS = ((1, 0.03), (10, 0.3))

#: Number of moons points the Pai-network minibatches are drawn from.
PAI_DATA_SAMPLES = 500
PAI_TRAIN_LR = 0.02
PAI_TRAIN_BATCH = 32
_SEED_BOUND = 2**32

Array = NDArray[Any]


# --------------------------------------------------------------------------- config


def _check_tuple(value: Any, name: str, *, kind: str, minimum: float, strict: bool) -> tuple:
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, tuple):
        raise ValueError(f"{name}={value!r} must be a tuple of {kind}s")
    for v in value:
        bad_type = isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))
        if kind == "int" and not isinstance(v, (int, np.integer)):
            bad_type = True
        if bad_type or not math.isfinite(float(v)) or (v <= minimum if strict else v < minimum):
            bound = f"> {minimum:g}" if strict else f"≥ {minimum:g}"
            raise ValueError(f"{name}={value!r} must hold finite {kind}s {bound}; got {v!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the gradient-fidelity study.

    Parameters
    ----------
    methods : tuple of str
        Estimators compared with the exact gradient, from :data:`METHODS`.
    repeats : int
        Independent draws per single-layer point (phases, inputs, chip, noise).
    layer_topology : str
        ``"clements"`` or ``"reck"`` for the single layers.
    base_ports : int
        N of every single-layer sweep but the N sweep (2 … MAX_PORTS).
    base_batch : int
        B, the samples per measurement, of every single-layer sweep but the B sweep.
    reference_tap_noise : float
        Tap noise ``s`` of the batch and N sweeps (0.01: Pai et al.'s default).
    tap_noise_values : tuple of float
        Tap noise ``s`` of the one-factor sweep, √power units (``P = |E|² + s|E|n``);
        every other factor off, as in each sweep below.
    loss_db_values : tuple of float
        Insertion loss per MZI, dB, the same for every MZI (no spread).
    splitting_error_values_rad : tuple of float
        Coupler splitting error σ_ε, rad.
    phase_noise_values_rad : tuple of float
        Phase noise of every shifter on every pass σ_φ, rad.
    io_error_values : tuple of float
        I/O error of every injected and measured field, σ_a = σ_p: relative amplitude
        error, and phase error in units of π (0.025: Pai et al.'s simulation).
    batch_values : tuple of int
        Batch sizes B (≥ 1) of the B sweep.
    port_values : tuple of int
        Port counts N (2 … MAX_PORTS) of the N sweep.
    fd_step_rad : float
        Phase step of finite differences, rad (> 0). Under noise a step far above the
        1e-4 rad default of :mod:`photonic.insitu` is needed; 0.1 rad costs ≈ 0.2 %
        truncation error.
    fd_max_ports : int
        Finite differences (2 passes per shifter) only for single layers with N ≤ this.
    measurement : str
        ``"per_sample"`` or ``"aggregated"`` tap read-out. Aggregated cannot represent
        phase noise or ADC quantization: refused if a sweep or profile needs them.
    adjoint_power_ratio : float
        Power of the injected adjoint relative to the forward pass's (> 0), for the
        3-pass and analog methods (:func:`photonic.insitu.measure_in_situ`). 1 (the
        default) injects both at the same power; lower values shrink the 3-pass
        method's loss bias and raise the weight of tap noise.
    pai_profiles : tuple of str
        Noise profiles of the Pai-network study, from :data:`PAI_PROFILES`; ``()``
        skips that study (then at least one single-layer sweep needs values).
    pai_states : tuple of str
        ``"init"`` (random Haar phases) and/or ``"trained"``.
    pai_batches : tuple of int
        Minibatch sizes of the Pai-network study.
    pai_repeats : int
        Draws per Pai-network point.
    pai_train_epochs : int
        Epochs of digital (``"adjoint"``, ideal chip) training for the ``"trained"`` state.
    seed : int
        Root seed.
    """

    methods: tuple[str, ...] = METHODS
    repeats: int = 10
    layer_topology: Topology = "clements"
    base_ports: int = 8
    base_batch: int = 4
    reference_tap_noise: float = 0.01
    tap_noise_values: tuple[float, ...] = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05)
    loss_db_values: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
    splitting_error_values_rad: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1)
    phase_noise_values_rad: tuple[float, ...] = (0.0, 0.005, 0.01, 0.02, 0.05)
    io_error_values: tuple[float, ...] = (0.0, 0.01, 0.025, 0.05)
    batch_values: tuple[int, ...] = (1, 2, 4, 10, 32)
    port_values: tuple[int, ...] = (4, 8, 16, 32, 64)
    fd_step_rad: float = 0.1
    fd_max_ports: int = 16
    measurement: Measurement = "per_sample"
    adjoint_power_ratio: float = 1.0
    pai_profiles: tuple[str, ...] = ("tap", "pai_sim", "realistic", "lossy")
    pai_states: tuple[str, ...] = ("init", "trained")
    pai_batches: tuple[int, ...] = (1, 2, 4, 10)
    pai_repeats: int = 20
    pai_train_epochs: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name in ("methods", "pai_profiles", "pai_states"):
            value = getattr(self, name)
            if isinstance(value, list):
                value = tuple(value)
                put(name, value)
            if not isinstance(value, tuple):
                raise ValueError(f"{name}={value!r} must be a tuple of names")
        check_choices(self.methods, "methods", METHODS)
        check_choices(self.pai_profiles, "pai_profiles", tuple(PAI_PROFILES), empty="allow")
        check_choices(self.pai_states, "pai_states", get_args(PaiState), empty="allow")
        check_positive_int(self.repeats, "repeats")
        check_positive_int(self.pai_repeats, "pai_repeats")
        check_positive_int(self.pai_train_epochs, "pai_train_epochs")
        check_choice(self.layer_topology, "layer_topology", TOPOLOGIES)
        check_choice(self.measurement, "measurement", get_args(Measurement))
        put("adjoint_power_ratio", check_positive(self.adjoint_power_ratio, "adjoint_power_ratio"))
        if (
            isinstance(self.base_ports, bool)
            or not isinstance(self.base_ports, int)
            or not 2 <= self.base_ports <= MAX_PORTS
        ):
            raise ValueError(
                f"base_ports={self.base_ports!r} must be an int in 2 … {MAX_PORTS} (MAX_PORTS)"
            )
        check_positive_int(self.base_batch, "base_batch")
        if isinstance(self.fd_max_ports, bool) or not isinstance(self.fd_max_ports, int):
            raise ValueError(f"fd_max_ports={self.fd_max_ports!r} must be an int ≥ 0")
        if self.fd_max_ports < 0:
            raise ValueError(f"fd_max_ports={self.fd_max_ports!r} must be an int ≥ 0")
        check_positive(self.fd_step_rad, "fd_step_rad")
        noise = check_nonnegative(self.reference_tap_noise, "reference_tap_noise")
        object.__setattr__(self, "reference_tap_noise", noise)
        for name in (
            "tap_noise_values",
            "loss_db_values",
            "splitting_error_values_rad",
            "phase_noise_values_rad",
            "io_error_values",
        ):
            put(
                name, _check_tuple(getattr(self, name), name, kind="float", minimum=0, strict=False)
            )
        put(
            "batch_values",
            _check_tuple(self.batch_values, "batch_values", kind="int", minimum=1, strict=False),
        )
        put(
            "port_values",
            _check_tuple(self.port_values, "port_values", kind="int", minimum=2, strict=False),
        )
        if any(n > MAX_PORTS for n in self.port_values):
            raise ValueError(
                f"port_values={self.port_values!r} must hold ints in 2 … {MAX_PORTS} "
                f"(MAX_PORTS); got {max(self.port_values)!r}"
            )
        put(
            "pai_batches",
            _check_tuple(self.pai_batches, "pai_batches", kind="int", minimum=1, strict=False),
        )
        if not self.pai_profiles and not any(getattr(self, f) for f, _ in FACTORS.values()):
            sweeps = ", ".join(f for f, _ in FACTORS.values())
            raise ValueError(
                f"every single-layer sweep ({sweeps}) is empty and pai_profiles=(): nothing "
                "to measure; give values to a sweep or name a Pai profile"
            )
        if self.pai_profiles and not self.pai_batches:
            raise ValueError("pai_batches=() but pai_profiles is not empty; give batch sizes")
        if self.pai_profiles and not self.pai_states:
            raise ValueError("pai_states=() but pai_profiles is not empty; give a state")
        if max(self.pai_batches, default=1) > PAI_DATA_SAMPLES * 0.8:
            raise ValueError(
                f"pai_batches={self.pai_batches!r}: a batch cannot exceed the "
                f"{int(PAI_DATA_SAMPLES * 0.8)} training points"
            )
        if self.measurement == "aggregated":
            problems = []
            if any(v > 0 for v in self.phase_noise_values_rad):
                problems.append("phase_noise_values_rad has values > 0")
            if "realistic" in self.pai_profiles:
                problems.append("pai_profiles has 'realistic' (phase noise and an 8-bit ADC)")
            if problems:
                raise ValueError(
                    "measurement='aggregated' cannot represent per-pass phase noise or ADC "
                    "quantization, but " + "; ".join(problems) + ": use measurement="
                    "'per_sample', set phase_noise_values_rad=0 and drop 'realistic'"
                )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} must be a non-negative int")

    @classmethod
    def smoke(cls) -> Config:
        """A seconds-long run: two values per sweep, two draws, small meshes."""
        return cls(
            repeats=2,
            base_ports=4,
            base_batch=2,
            tap_noise_values=(0.0, 0.01),
            loss_db_values=(0.0, 0.2),
            splitting_error_values_rad=(0.0, 0.05),
            phase_noise_values_rad=(0.0, 0.01),
            io_error_values=(0.0, 0.025),
            batch_values=(1, 4),
            port_values=(4, 6),
            fd_max_ports=4,
            pai_profiles=("tap", "lossy"),
            pai_states=("init",),
            pai_batches=(1, 4),
            pai_repeats=2,
            pai_train_epochs=1,
        )


# --------------------------------------------------------------------------- single layers


def _layer_chip_settings(factor: str, value: float, reference_tap_noise: float) -> dict[str, Any]:
    settings = dict(QUIET_CHIP)
    if factor in ("batch", "n_ports"):
        settings["tap_noise"] = reference_tap_noise
    elif factor == "io_error":
        settings["io_amplitude_error"] = value
        settings["io_phase_error"] = value
    else:
        settings[factor] = value
    return settings


def measure_layer(
    *,
    n_ports: int,
    batch: int,
    chip_settings: Mapping[str, Any],
    methods: Sequence[str],
    seeds: tuple[int, int, int, int],
    topology: Topology = "clements",
    fd_step_rad: float = 0.1,
    fd_max_ports: int = 16,
    measurement: Measurement = "per_sample",
    adjoint_power_ratio: float = 1.0,
    phase_cache: dict[tuple[int, str, int], Phases] | None = None,
) -> dict[str, dict[str, float]]:
    """One draw of the single-layer study: every method's metrics against the exact gradient.

    Parameters
    ----------
    n_ports, batch
        Mesh size N and number of samples B.
    chip_settings
        Keywords of :meth:`Chip.draw` (e.g. :data:`QUIET_CHIP` with one factor on).
    methods
        Estimators from :data:`METHODS`; finite differences are skipped when
        ``n_ports > fd_max_ports``.
    seeds
        ``(init, data, chip, noise)`` seeds: the phases, the inputs and target, the chip
        draw and the measurement noise.
    topology, fd_step_rad, fd_max_ports, measurement, adjoint_power_ratio
        See :class:`Config`.
    phase_cache
        Where to keep the initial phases for later draws of the same N, topology and
        init seed (every point of a study uses the same seeds), or ``None``. Drawing
        them decomposes a Haar unitary: at N = 256 most of a draw's time.

    Returns
    -------
    dict
        ``{method: gradient_metrics(...)}``.
    """
    init_seed, data_seed, chip_seed, noise_seed = seeds
    mesh = Mesh.clements(n_ports) if topology == "clements" else Mesh.reck(n_ports)
    key = (n_ports, topology, init_seed)
    if phase_cache is not None and key in phase_cache:
        phases = phase_cache[key].copy()
    else:
        phases = mesh.random_phases(np.random.default_rng(init_seed))
        if phase_cache is not None:
            phase_cache[key] = phases.copy()
    data_rng = np.random.default_rng(data_seed)
    x = data_rng.normal(size=(batch, n_ports)) + 1j * data_rng.normal(size=(batch, n_ports))
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # unit input power per sample
    target = data_rng.uniform(0.0, 2.0 / n_ports, size=(batch, n_ports))
    chip = Chip.draw(mesh, np.random.default_rng(chip_seed), **chip_settings)

    def loss_weights(y: Array) -> Array:  # w = dL/dP of L = (1/B) Σ ½‖|y|² − t‖²
        return half_squared_error(np.abs(y) ** 2, target)[1]

    y = mesh.forward(phases, x, chip)
    w = loss_weights(y)
    delta = 2 * np.conj(y) * w
    exact = mesh.phase_gradients(phases, x, delta, chip)
    out: dict[str, dict[str, float]] = {}
    for method in methods:
        # a method's noise stream is fixed by its name, not its place in ``methods``
        noise = np.random.default_rng((noise_seed, METHODS.index(method)))
        if method in ("in_situ", "analog"):
            passes: Literal["in_situ", "analog"] = "analog" if method == "analog" else "in_situ"
            got = measure_in_situ(
                mesh,
                phases,
                x,
                delta,
                chip,
                noise,
                method=passes,
                mode=measurement,
                adjoint_power_ratio=adjoint_power_ratio,
            ).gradients
        elif method == "finite_difference":
            if n_ports > fd_max_ports:
                continue
            got = measure_finite_difference(
                mesh, phases, x, w, chip, noise, step_rad=fd_step_rad
            ).gradients
        else:  # digital twin: the ideal model's own forward, loss and adjoint
            y_model = mesh.forward(phases, x)
            got = mesh.phase_gradients(phases, x, 2 * np.conj(y_model) * loss_weights(y_model))
        out[method] = gradient_metrics(got, exact)
    return out


# --------------------------------------------------------------------------- Pai network


def _pai_chip(profile: str, chip_seed: int) -> Chip:
    settings = PAI_PROFILES[profile]
    mesh = Mesh.reck(4)
    rng = np.random.default_rng(chip_seed)
    if settings is None:
        return Chip.draw(mesh, rng)
    return Chip.draw(mesh, rng, **{**QUIET_CHIP, **settings})


def measure_pai(
    params: Mapping[str, Array],
    x: Array,
    labels: Array,
    chip: Chip | None,
    *,
    methods: Sequence[str],
    noise_seed: int,
    fd_step_rad: float = 0.1,
    measurement: Measurement = "per_sample",
    adjoint_power_ratio: float = 1.0,
    drift: Mapping[str, Array] | None = None,
) -> dict[str, dict[str, float]]:
    """One draw of the Pai-network study on one minibatch.

    The network of :meth:`PhotonicNetwork.pai2023` on ``chip`` is programmed with
    ``params``, runs one forward pass of ``x``, and the softmax cross-entropy gradient
    of ``labels`` is sent back by every method; ``"adjoint"`` of the same pass is the
    exact reference. ``"digital_twin"`` is the adjoint gradient of an ideal-chip copy.

    Parameters
    ----------
    params
        Requested phases, keyed like ``PhotonicNetwork.params()``.
    x, labels
        Features ``(B, 2)`` and integer labels ``(B,)``.
    chip
        The device (``None``: ideal).
    methods
        From :data:`METHODS`, or ``"adjoint"``: the exact gradient of the chip itself
        (what ``compare`` trains with under ``method=adjoint``), the reference, so its
        ε is 0 by construction.
    noise_seed
        Seed of the per-pass noise: the forward pass draws from ``noise_seed``, each
        method's measurement from ``(noise_seed, 1 + METHODS.index(method))``, so a
        method's result does not depend on which other methods run.
    fd_step_rad, measurement, adjoint_power_ratio
        See :class:`Config`.
    drift
        The chip's accumulated drift (``PhotonicNetwork.chip_drift()`` of the network
        that ran on it), held while measuring; ``None``: a fresh chip's.

    Returns
    -------
    dict
        ``{method: gradient_metrics(...)}``.
    """
    net = PhotonicNetwork.pai2023(
        chip,
        rng=np.random.default_rng(0),
        noise_rng=np.random.default_rng(noise_seed),
        fd_step_rad=fd_step_rad,
        measurement=measurement,
        adjoint_power_ratio=adjoint_power_ratio,
    )
    net.set_params(dict(params))
    if drift:  # the trained chip's state, not a fresh one's first step
        net.set_chip_drift(dict(drift))
    _, g = softmax_cross_entropy(net.forward(x), labels)
    exact = net.backward(g, method="adjoint")
    out: dict[str, dict[str, float]] = {}
    for method in methods:
        if method == "adjoint":  # the chip's own exact gradient: the reference itself
            got = exact
        elif method == "digital_twin":
            twin = PhotonicNetwork.pai2023(None, rng=np.random.default_rng(0))
            twin.set_params(dict(params))
            _, g_twin = softmax_cross_entropy(twin.forward(x), labels)
            got = twin.backward(g_twin, method="adjoint")
        else:  # the same noisy pass, measured with noise of the method's own stream
            net.noise_rng = np.random.default_rng((noise_seed, 1 + METHODS.index(method)))
            got = net.backward(g, method=method)  # type: ignore[arg-type]
        out[method] = gradient_metrics(got, exact)
    return out


# --------------------------------------------------------------------------- study


def _aggregate(draws: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, tuple]]:
    """``{method: {metric: (mean, std, n)}}`` over the draws."""
    out: dict[str, dict[str, tuple]] = {}
    methods = {m for d in draws for m in d}
    for method in sorted(methods):
        values = [d[method] for d in draws if method in d]
        out[method] = {
            metric: (
                float(np.mean([v[metric] for v in values])),
                sample_std([v[metric] for v in values]),
                len(values),
            )
            for metric in METRICS
        }
    return out


def _rows(stats: dict[str, dict[str, tuple]], **keys: Any) -> list[dict[str, Any]]:
    """Tidy rows with every column of :data:`METRICS_COLUMNS`, in its order (``None``
    where ``keys`` gives no value), so ``metrics.csv`` has one header whichever studies
    run."""
    unknown = set(keys) - set(METRICS_COLUMNS)
    if unknown:
        raise ValueError(f"keys {sorted(unknown)} are not columns of METRICS_COLUMNS")
    rows = []
    for method, by_metric in stats.items():
        for metric, (m, s, n) in by_metric.items():
            row = {**keys, "method": method, "metric": metric, "mean": m, "std": s, "n": n}
            rows.append({column: row.get(column) for column in METRICS_COLUMNS})
    return rows


def _seeds(rngs: Mapping[str, np.random.Generator], n: int) -> list[tuple[int, int, int, int]]:
    columns = [
        [int(s) for s in rngs[name].integers(_SEED_BOUND, size=n)]
        for name in ("init", "data", "chip", "noise")
    ]
    return [(a, b, c, d) for a, b, c, d in zip(*columns, strict=True)]


def _layer_points(cfg: Config) -> list[tuple[str, float]]:
    points: list[tuple[str, float]] = []
    for factor, (field, _) in FACTORS.items():
        points.extend((factor, v) for v in getattr(cfg, field))
    return points


def _layer_study(cfg: Config, seeds: list[tuple[int, int, int, int]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    points = _layer_points(cfg)
    phase_cache: dict[tuple[int, str, int], Phases] = {}  # one Haar draw per N and seed
    bar = tqdm(points, desc="single layers", unit="point", disable=None, leave=False)
    for factor, value in bar:
        n_ports = int(value) if factor == "n_ports" else cfg.base_ports
        batch = int(value) if factor == "batch" else cfg.base_batch
        settings = _layer_chip_settings(factor, float(value), cfg.reference_tap_noise)
        draws = [
            measure_layer(
                n_ports=n_ports,
                batch=batch,
                chip_settings=settings,
                methods=cfg.methods,
                seeds=s,
                topology=cfg.layer_topology,
                fd_step_rad=cfg.fd_step_rad,
                fd_max_ports=cfg.fd_max_ports,
                measurement=cfg.measurement,
                adjoint_power_ratio=cfg.adjoint_power_ratio,
                phase_cache=phase_cache,
            )
            for s in seeds
        ]
        rows.extend(
            _rows(
                _aggregate(draws),
                study="layer",
                factor=factor,
                value=value,
                n_ports=n_ports,
                batch=batch,
            )
        )
    bar.close()
    return rows


def pai_study(cfg: Config, rngs: Mapping[str, np.random.Generator]) -> list[dict[str, Any]]:
    """ε of every measured gradient of the Pai et al. network (also used by ``pai2023``).

    Parameters
    ----------
    cfg
        The study's settings; its ``pai_*`` fields and ``methods`` are used.
    rngs
        Generators named ``data``, ``init``, ``chip``, ``noise`` and ``train`` (as
        :func:`scenarios.framework.child_rngs` hands them out).

    Returns
    -------
    list of dict
        ``metrics.csv`` rows of ``study="pai2023"``, one per (profile, state, batch,
        method, metric); none if ``cfg.pai_profiles`` is empty.
    """
    if not cfg.pai_profiles:
        return []
    data = load("moons", n_samples=PAI_DATA_SAMPLES, rng=rngs["data"])
    seeds = _seeds(rngs, cfg.pai_repeats)
    train_seeds = [int(s) for s in rngs["train"].integers(_SEED_BOUND, size=cfg.pai_repeats)]
    states: list[dict[str, dict[str, Array]]] = []
    for (init_seed, *_), train_seed in zip(seeds, train_seeds, strict=True):
        net = PhotonicNetwork.pai2023(rng=np.random.default_rng(init_seed))
        by_state = {"init": net.params()}
        if "trained" in cfg.pai_states:
            train(
                net,
                data,
                loss="softmax_cross_entropy",
                optimizer=Adam(lr=PAI_TRAIN_LR),
                epochs=cfg.pai_train_epochs,
                batch_size=PAI_TRAIN_BATCH,
                rng=np.random.default_rng(train_seed),
                progress="off",
                lr_name="PAI_TRAIN_LR (a constant of gradient_fidelity)",
            )
            by_state["trained"] = net.params()
        states.append(by_state)
    orders = [
        np.random.default_rng(data_seed).permutation(data.x_train.shape[0])
        for _, data_seed, _, _ in seeds
    ]
    rows: list[dict[str, Any]] = []
    points = [(p, s, b) for p in cfg.pai_profiles for s in cfg.pai_states for b in cfg.pai_batches]
    bar = tqdm(points, desc="Pai network", unit="point", disable=None, leave=False)
    for profile, state, batch in bar:
        draws = []
        for r, (_, _, chip_seed, noise_seed) in enumerate(seeds):
            idx = orders[r][:batch]  # nested minibatches: batch 4 holds batch 2's samples
            draws.append(
                measure_pai(
                    states[r][state],
                    data.x_train[idx],
                    data.y_train[idx],
                    _pai_chip(profile, chip_seed),
                    methods=cfg.methods,
                    noise_seed=noise_seed,
                    fd_step_rad=cfg.fd_step_rad,
                    measurement=cfg.measurement,
                    adjoint_power_ratio=cfg.adjoint_power_ratio,
                )
            )
        rows.extend(
            _rows(
                _aggregate(draws),
                study="pai2023",
                factor="batch",
                value=batch,
                profile=profile,
                state=state,
                n_ports=4,
                batch=batch,
            )
        )
    bar.close()
    return rows


def _find(rows: list[dict[str, Any]], **keys: Any) -> dict[str, Any] | None:
    for row in rows:
        if all(row.get(k) == v for k, v in keys.items()):
            return row
    return None


def _pm(row: dict[str, Any] | None) -> str:
    """``mean ± std`` of a row by :func:`~scenarios.formatting.format_pm` (the spread to 2
    significant digits, the mean to the same place: never a spread shown as ``0.0000``);
    ``"-"`` for no row."""
    if row is None:
        return "-"
    return format_pm(float(row["mean"]), float(row["std"]))


def comparison_table(cfg: Config, rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Simulated ε of the Pai network next to Pai et al.'s measured ε, one row per point."""
    table: list[dict[str, str]] = []
    for profile in cfg.pai_profiles:
        for state in cfg.pai_states:
            for batch in cfg.pai_batches:
                entry = {
                    "profile": profile,
                    "chip": PAI_PROFILE_LABELS[profile],
                    "state": state,
                    "batch": str(batch),
                    "n": "-",
                }
                for method in cfg.methods:
                    row = _find(
                        rows,
                        study="pai2023",
                        profile=profile,
                        state=state,
                        batch=batch,
                        method=method,
                        metric="epsilon",
                    )
                    entry[f"eps_{method}"] = _pm(row)
                    if row is not None:  # draws, the same for every method of a point
                        entry["n"] = str(row["n"])
                entry["pai2023_measured_eps"] = PAI_MEASURED_EPSILON.get(batch, "-")
                table.append(entry)
    return table


def format_table(table: list[dict[str, str]]) -> str:
    """A plain-text table (columns padded to their widest cell)."""
    if not table:
        return "(no Pai-network points)"
    columns = [c for c in table[0] if c != "profile"]
    widths = {c: max(len(c), *(len(r[c]) for r in table)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines.append("  ".join("-" * widths[c] for c in columns))
    lines.extend("  ".join(r[c].ljust(widths[c]) for c in columns) for r in table)
    return "\n".join(lines)


def _table_columns(cfg: Config) -> list[str]:
    """Columns of :func:`comparison_table`'s rows, in order."""
    eps = [f"eps_{method}" for method in cfg.methods]
    return ["profile", "chip", "state", "batch", "n", *eps, "pai2023_measured_eps"]


def _write_table(table: list[dict[str, str]], columns: list[str], path: Path) -> Path:
    """Write the comparison table as CSV; the header even if ``table`` is empty."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)
    return path


def _summary(cfg: Config, rows: list[dict[str, Any]], wall_s: float) -> dict[str, float | str]:
    """Acceptance numbers, then the comparison table as ``eps_<profile>_<state>_B<b>`` rows.

    Every ``mean ± std`` text has its mean as a number (``…_mean``), listed first and
    named without the study's base settings (N, B, tap noise), so that sweeps over
    those settings keep the key. ``eps_<factor>_<method>_mean`` is ε at the last value
    of each factor's list: a sweep over a factor gives it one value per point.
    """
    summary: dict[str, float | str] = {}
    means: dict[str, float] = {}  # numbers for sweeps, after the readable strings
    measured = [m for m in ("in_situ", "analog") if m in cfg.methods]
    for method in measured:  # acceptance: 0.2 dB/MZI, no noise, 3-pass vs 2-pass cosine
        row = _find(
            rows,
            study="layer",
            factor="loss_db_per_mzi",
            value=0.2,
            method=method,
            metric="cosine",
        )
        if row is not None:
            key = f"cosine_{method}_layer_N{cfg.base_ports}_B{cfg.base_batch}_loss0.2dB"
            summary[key] = _pm(row)
            means[f"cosine_{method}_layer_loss0.2dB_mean"] = float(row["mean"])
        for state in cfg.pai_states:
            for batch in cfg.pai_batches:
                row = _find(
                    rows,
                    study="pai2023",
                    profile="lossy",
                    state=state,
                    batch=batch,
                    method=method,
                    metric="cosine",
                )
                if row is not None:
                    key = f"cosine_{method}_pai_{state}_B{batch}_loss0.2dB"
                    summary[key] = _pm(row)
                    means[f"{key}_mean"] = float(row["mean"])
    for factor, (field, _) in FACTORS.items():  # one key per factor, whatever its values
        values = getattr(cfg, field)
        for estimator in cfg.methods:
            row = (
                _find(
                    rows,
                    study="layer",
                    factor=factor,
                    value=values[-1],
                    method=estimator,
                    metric="epsilon",
                )
                if values
                else None
            )
            if row is not None:
                means[f"eps_{factor}_{estimator}_mean"] = float(row["mean"])
    for batch in cfg.batch_values:  # ε vs batch at the reference tap noise, single layer
        parts = []
        key = f"eps_layer_N{cfg.base_ports}_s{cfg.reference_tap_noise:g}_B{batch}"
        for method in measured:
            row = _find(
                rows,
                study="layer",
                factor="batch",
                value=batch,
                method=method,
                metric="epsilon",
            )
            if row is not None:
                parts.append(f"{method} {_pm(row)}")
                means[f"eps_layer_B{batch}_{method}_mean"] = float(row["mean"])
        if parts:
            summary[key] = "; ".join(parts)
    for entry in comparison_table(cfg, rows):  # the Pai comparison table
        parts = [f"{m} {entry[f'eps_{m}']}" for m in measured if entry.get(f"eps_{m}", "-") != "-"]
        if parts:
            key = f"eps_pai_{entry['profile']}_{entry['state']}_B{entry['batch']}"
            summary[key] = "; ".join(parts) + f" | Pai {entry['pai2023_measured_eps']}"
            for method in measured:
                row = _find(
                    rows,
                    study="pai2023",
                    profile=entry["profile"],
                    state=entry["state"],
                    batch=int(entry["batch"]),
                    method=method,
                    metric="epsilon",
                )
                if row is not None:
                    means[f"{key}_{method}_mean"] = float(row["mean"])
    summary["wall_time_s"] = round(wall_s, 2)
    return {**means, **summary}  # the numbers first: a sweep plots the first by default


# --------------------------------------------------------------------------- plots


def _plot_layer(cfg: Config, rows: list[dict[str, Any]], metric: str, out_dir: Path) -> list[Path]:
    factors = [f for f, (field, _) in FACTORS.items() if getattr(cfg, field)]
    # as many panels as factors, in rows of at most MAX_PANEL_COLUMNS of even length
    n_rows = max(1, math.ceil(len(factors) / MAX_PANEL_COLUMNS))
    n_cols = max(1, math.ceil(len(factors) / n_rows))
    width_in = max(4.0 * n_cols, 6.0)  # one panel: room for the title
    fig = new_figure(figsize=(width_in, 3.3 * n_rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols)).ravel()
    labels = {
        "epsilon": "ε = 1 − cos (log)",
        "cosine": "cosine similarity",
        "relative_error": "relative error ‖ĝ−g‖/‖g‖",
        "sign_agreement": "sign agreement (fraction)",
    }
    colors = {m: f"C{i}" for i, m in enumerate(METHODS)}
    below_floor = False
    for ax, factor in zip(axes, factors, strict=False):
        at_floor: dict[str, Array] = {}  # method -> its x where ε is below the floor
        for method in cfg.methods:
            pts = sorted(
                (r["value"], r["mean"], _sem(r))
                for r in rows
                if r["study"] == "layer"
                and r["factor"] == factor
                and r["method"] == method
                and r["metric"] == metric
            )
            if not pts:
                continue
            xs, means, sems = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
            yerr: Array = sems
            if metric == "epsilon":
                below = means < EPSILON_FLOOR
                at_floor[method] = xs[below]
                means, yerr = errorbars_above_floor(means, sems, EPSILON_FLOOR)
                # not joined: a line from the floor to the next point would draw a
                # slope the data do not have
                means = np.where(below, np.nan, means)
            ax.errorbar(
                xs,
                means,
                yerr=yerr,
                marker="o",
                ms=3,
                capsize=2,
                color=colors[method],
                label=method,
            )
        floor_markers(ax, at_floor, colors, EPSILON_FLOOR)
        below_floor = below_floor or any(len(xs) for xs in at_floor.values())
        ax.set_xlabel(FACTOR_AXES[factor])
        ax.set_ylabel(labels[metric])
        if metric == "epsilon":
            ax.set_yscale("log")
        if factor in ("batch", "n_ports"):
            ax.set_xscale("log", base=2)
            _ticks_at(ax, getattr(cfg, FACTORS[factor][0]))
        where = (
            f"s={cfg.reference_tap_noise:g}, "
            + (f"B={cfg.base_batch}" if factor == "n_ports" else f"N={cfg.base_ports}")
            if factor in ("batch", "n_ports")
            else f"N={cfg.base_ports}, B={cfg.base_batch}"
        )
        ax.set_title(f"{FACTORS[factor][1]}\n({where})", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes[len(factors) :]:
        ax.set_visible(False)
    if factors:
        # every method drawn in any panel, in the methods' order: finite differences run
        # only up to fd_max_ports, so they can be in the N panel and in no other
        entries: dict[str, Any] = {}
        for ax in axes[: len(factors)]:
            for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
                entries.setdefault(name, handle)
        names = [m for m in cfg.methods if m in entries]
        handles = [entries[m] for m in names]
        if below_floor:  # what the ▽ are, in the legend too
            handles.append(floor_handle())
            names.append(f"ε < {EPSILON_FLOOR:g}, at the floor\n(methods side by side)")
        axes[0].legend(handles, names, fontsize=8)
    floor = (
        f"; ε < {EPSILON_FLOOR:g} drawn at that floor as ▽, not joined, each method's ▽ "
        "shifted sideways so that they sit side by side in the legend's order"
        if metric == "epsilon"
        else ""
    )
    fig.suptitle(
        f"{cfg.layer_topology} single layers: measured vs exact gradient, {labels[metric]}\n"
        f"(mean ± standard error of the mean over {cfg.repeats} draws, the spread ÷ "
        f"√{cfg.repeats}; the spread itself is metrics.csv's std; other imperfections "
        f"off{floor}{_ratio_text(cfg)})",
        wrap=True,
        fontsize=10,
    )
    return save_figure(fig, out_dir, f"layer_{metric}")


def _ticks_at(ax: Axes, values: Sequence[float]) -> None:
    """x ticks at the swept ``values``, labelled plainly (``10``, not ``2^3.3`` or none:
    a log axis labels only powers of its base), no minor ticks."""
    ticks = sorted(set(values))
    ax.set_xticks(ticks, labels=[f"{v:g}" for v in ticks])
    ax.set_xticks([], minor=True)


def _sem(row: Mapping[str, Any]) -> float:
    """Standard error of a row's mean, ``std / √n`` (how well the draws pin the mean
    down; ``std`` alone, the spread of single draws, reaches below 0 on log axes)."""
    return float(row["std"]) / math.sqrt(max(int(row["n"]), 1))


def plot_pai(cfg: Config, rows: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """The Pai-network ε figure, ``pai2023_epsilon.png``/``.svg`` (also used by ``pai2023``).

    Parameters
    ----------
    cfg
        The study's settings (profiles, states and methods drawn).
    rows
        Rows from :func:`pai_study`.
    out_dir
        Folder the figure is saved in.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    profiles, states = list(cfg.pai_profiles), list(cfg.pai_states)
    # the legend goes below the panels, in rows of legend_cols (methods + Pai's + ▽)
    legend_cols = 3 if len(profiles) < 3 else 6
    legend_rows = math.ceil((len(cfg.methods) + 3) / legend_cols)
    height_in = 3.2 * len(states) + 0.6 + 0.25 * legend_rows
    fig = new_figure(figsize=(4.0 * len(profiles), height_in), layout="constrained")
    axes = np.asarray(fig.subplots(len(states), len(profiles), squeeze=False))
    colors = {m: f"C{i}" for i, m in enumerate(METHODS)}
    below_floor = False
    for i, state in enumerate(states):
        for j, profile in enumerate(profiles):
            ax = axes[i, j]
            at_floor: dict[str, Array] = {}  # method -> its batches where ε < the floor
            for method in cfg.methods:
                pts = sorted(
                    (r["batch"], r["mean"], _sem(r))
                    for r in rows
                    if r["study"] == "pai2023"
                    and r["profile"] == profile
                    and r["state"] == state
                    and r["method"] == method
                    and r["metric"] == "epsilon"
                )
                if not pts:
                    continue
                xs, means, sems = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
                shown, yerr = errorbars_above_floor(means, sems, PAI_EPSILON_FLOOR)
                below = means < PAI_EPSILON_FLOOR
                at_floor[method] = xs[below]  # drawn as ▽ below, not joined (as in layers)
                ax.errorbar(
                    xs,
                    np.where(below, np.nan, shown),
                    yerr=yerr,
                    marker="o",
                    ms=3,
                    capsize=2,
                    color=colors[method],
                    label=method,
                )
            floor_markers(ax, at_floor, colors, PAI_EPSILON_FLOOR)
            below_floor = below_floor or any(len(xs) for xs in at_floor.values())
            b_lo, b_hi, e_lo, e_hi = PAI_BATCH_BAND
            ax.fill_between(
                [b_lo, b_hi],
                [e_lo, e_lo],
                [e_hi, e_hi],
                color="k",
                alpha=0.3,
                label="Pai 2023: analog batch (measured)",
            )
            bx, by = zip(*PAI_TRAINING_POINTS, strict=True)
            ax.plot(bx, by, "k*", ms=10, label="Pai 2023: during training (measured)")
            ax.set_xscale("log")
            _ticks_at(ax, (*cfg.pai_batches, *bx))  # bx: Pai's own batch sizes
            ax.set_yscale("log")
            ax.set_ylim(bottom=0.5 * PAI_EPSILON_FLOOR)
            ax.set_xlabel("minibatch size B (samples)")
            ax.set_ylabel("ε = 1 − cos(ĝ, g)")
            ax.set_title(f"{PAI_PROFILE_LABELS[profile]}\nnetwork state: {state}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
    handles, names = axes[0, 0].get_legend_handles_labels()
    if below_floor:  # what the ▽ are
        handles.append(floor_handle())
        names.append(f"ε < {PAI_EPSILON_FLOOR:g}, at the floor (methods side by side)")
    # below the panels: inside one it hid that panel's points
    fig.legend(handles, names, fontsize=8, loc="outside lower center", ncols=legend_cols)
    fig.suptitle(
        f"Pai et al. 2023 network on moons: gradient error vs batch size (mean ± standard "
        f"error of the mean over {cfg.pai_repeats} draws; values < {PAI_EPSILON_FLOOR:g} "
        f"drawn at that floor as ▽, not joined, each method's shifted sideways"
        f"{_ratio_text(cfg)})",
        wrap=True,
    )
    return save_figure(fig, out_dir, "pai2023_epsilon")


def _ratio_text(cfg: Config) -> str:
    """``adjoint_power_ratio`` for a title, when it is not the default 1."""
    if cfg.adjoint_power_ratio == 1.0:
        return ""
    return f"; adjoint at {cfg.adjoint_power_ratio:g}× the forward power"


# --------------------------------------------------------------------------- run


def run(cfg: Config, out_dir: Path, *, echo: Callable[[str], None] | None = print) -> Result:
    """Run both studies, write the plots and the comparison table.

    Parameters
    ----------
    cfg : Config
        The study's settings.
    out_dir : Path
        Existing folder for ``metrics.csv``, the figures and (if the Pai-network study
        runs) ``pai_comparison.csv``.
    echo : callable or None
        Where the comparison table is printed (``None``: not printed).

    Returns
    -------
    Result
        ``metrics``: one row per (point, method, metric) with mean, std and n;
        ``summary``: the acceptance numbers and the comparison table rows.
    """
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    # one stream per study and use (child_rngs: streams follow the order of the names)
    names = ("data", "init", "chip", "noise", "train")
    rngs = child_rngs(cfg.seed, *names, *(f"pai.{name}" for name in names))
    rows = _layer_study(cfg, _seeds(rngs, cfg.repeats))
    rows.extend(pai_study(cfg, {name: rngs[f"pai.{name}"] for name in names}))
    write_metrics(rows, out_dir)  # before the plots: a full disk keeps the numbers
    figures: list[Path] = []
    if any(getattr(cfg, field) for field, _ in FACTORS.values()):  # else: blank figures
        for metric in METRICS:
            figures.extend(_plot_layer(cfg, rows, metric, out_dir))
    if cfg.pai_profiles:
        figures.extend(plot_pai(cfg, rows, out_dir))
    table = comparison_table(cfg, rows)
    if cfg.pai_profiles:  # no study, no table (as no plot): an empty CSV breaks readers
        _write_table(table, _table_columns(cfg), out_dir / "pai_comparison.csv")
    if echo is not None and not table:
        echo("Pai et al. 2023 network: not simulated (pai_profiles is empty)")
    elif echo is not None:
        echo(
            "Pai et al. 2023 network: simulated gradient error ε (mean ± std over n draws) "
            "vs measured"
        )
        echo(format_table(table))
        echo(
            "Pai et al.'s values were measured on their chip; the simulated profiles bracket "
            "them rather than match: tap noise alone gives ε far below, their I/O-error level "
            "(0.025) above, and only the 3-pass estimate on a lossy chip grows with B as "
            "theirs did in training (module docstring: 'What the default run shows')."
        )
    summary = _summary(cfg, rows, time.perf_counter() - t0)
    return Result(out_dir=out_dir, metrics=rows, summary=summary, figures=figures)


def main(argv: list[str] | None = None) -> int:
    """Run this scenario from the command line (``photonic-backprop run gradient_fidelity``)."""
    return scenario_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
