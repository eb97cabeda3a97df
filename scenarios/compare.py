"""Main job: the digital reference vs the Pai photonic chip trained in situ — accuracy, ε, cost.

What it covers
--------------
``photonic-backprop run`` (no scenario) runs this study on its embedded default. On one
two-feature data set (moons, 500 points, noise 0.2, 80/20 split, standardized) it
trains, from the same data, for the same number of epochs and minibatches:

- the **digital reference**: :class:`digital.network.MLP` ``2-16-16-2`` (tanh, logits,
  softmax cross-entropy, Adam ``mlp_lr``) on a conventional computer, with exact
  backpropagation;
- the **photonic network** of Pai et al. 2023 (:meth:`PhotonicNetwork.pai2023`: three
  4×4 Reck meshes on one chip, ``|z|`` between layers, optical softmax, Adam ``lr``) on
  a *realistic imperfect chip* — :meth:`photonic.imperfections.Chip.draw` with every
  default (0.2 dB/MZI loss, coupler splitting error ``splitting_error_std_rad``, 10-bit
  DAC, 2 % thermal crosstalk, 0.01 rad phase noise per pass, tap noise 0.01, 8-bit ADC,
  I/O errors 0.025; the splitting error and the noise are settings) — with its
  gradients *measured on the chip* by ``method``
  (default ``"analog"``, the 2-pass ± measurement, which is robust to the chip's loss;
  ``"in_situ"`` is the 3-pass one, ``"adjoint"`` the exact gradient of a perfect digital
  twin of the chip, ``"finite_difference"`` 2 passes per phase shifter). The pass
  counts name the measurements; a training step pays differently, because the
  3-pass method reads its forward taps from the inference pass: per layer the step
  sends 1 + 3 passes with ``"analog"``, 1 + 2 with ``"in_situ"`` and 1 with
  ``"adjoint"``, which is why ``"analog"`` takes the longest and, idle power included,
  the most energy per step (on ``eo-integrated``: 811, 694 and 224 ns; 838, 721 and
  258 nJ). Without idle power the order turns (26.8, 27.6 and 34.1 nJ): ``"adjoint"``
  computes the gradient on the host (26.4 nJ of host compute per step, against 4.3 nJ
  for the in-situ methods).

and reports them side by side:

- **accuracy**: final test and train accuracy (the photonic one as a user of the chip
  sees it: mean over ``eval_repeats`` noisy passes), mean ± std over ``n_seeds`` seeds;
- **gradient fidelity** ε = 1 − cos(ĝ, g) at the end of training, over ``eps_batches``
  training minibatches (:func:`scenarios.gradient_fidelity.measure_pai`): the chip's
  measured gradient vs the exact gradient of the same noisy pass on the same chip; the
  "digital twin" row is the gradient an *ideal model* of the chip would compute (why one
  measures in situ). The MLP's backpropagation is checked the same way against central
  finite differences (:func:`digital.gradcheck.numerical_gradients`) — ε ≈ 1e-12 says it
  is exact to rounding. ε lies in [0, 2]: above 1 the two gradients point partly in
  opposite directions (the digital twin at the end of training, where the true
  gradient is small and the chip's errors dominate: on circles, 3 seeds, 1.14 ± 0.67,
  up to 1.93 on one minibatch).
  Its ± pools minibatches of all seeds; only the seeds are independent;
- **latency and energy per training step** from the SimPy model (:mod:`sim`): the ops
  each network *actually recorded* during one training step of the trained network
  (forward, gradient, ``set_params``), plus the loss and the Adam update as host
  ``digital_compute`` ops (as :func:`digital.train.train` records them), replayed with
  :func:`sim.engine.simulate` — the photonic network's ops on the photonic presets
  (``pai2023-chip``: the lab setup with an IR camera; ``eo-integrated``: an optimistic
  electro-optic chip), the MLP's ops on the digital ones (``gpu-h100``, ``cpu``).
  Both sides record their activations and derivatives at the same elementwise cost
  (:func:`sim.ops.activation_op`; one op, one kernel launch, each: no fusion), and
  the chip's passes inject complex fields (the adjoint source, the sum and analog
  passes) as I and Q, two DAC samples per port (:func:`sim.ops.mesh_pass`).

How to read the results
-----------------------
- The printed table and ``table.md``: the side-by-side numbers, then one row per preset.
  ``report.html`` is one self-contained page (plots embedded) with both tables, the
  plots, the configuration and the run information.
- ``accuracy_curves.png``: test accuracy and training loss vs optimizer steps (mean ±
  std over seeds). ``decision_boundaries.png``: both trained networks on the test set
  (seed 0). ``cost_per_step.png``: latency and energy per step per preset (log axes).
  ``energy_breakdown.png``: where each preset's energy goes.
- ``metrics.csv`` (tidy; columns ``seed, network, method, epoch, iteration, metric,
  value, minibatch, preset, batch``, empty where they do not apply): per-epoch curves,
  final numbers, ε per measured training minibatch (``minibatch``: its index), and per
  preset ``latency_ns``/``energy_pj`` per step and per component (``batch``: the batch
  size of that step).
- ``costs.csv``: one row per preset — ``preset, network, n_ops, latency_ns,
  energy_pj, work_energy_pj`` of one training step, ``work_energy_pj`` being the
  energy without the idle (static) power, the table's "without idle power".
- A step of the two networks is not the same work: the photonic network has 48 phases,
  the MLP 354 weights. The cost rows answer "what does one training step of *this*
  network cost on *that* machine", not "which is faster per MAC" (that is
  ``energy_latency``). On ``pai2023-chip`` camera frames and thermal settling make a
  step take seconds; on a GPU a tiny MLP is all kernel-launch overhead and idle power.
- ``method=in_situ`` trains worse than ``analog`` on the default chip because of its
  loss bias, which depends on the adjoint's power (:mod:`photonic.insitu`). Default
  run (8 seeds): test accuracy 0.851 ± 0.030 and ε 0.50 at ``adjoint_power_ratio=1``,
  0.940 ± 0.026 and ε 0.24 at 0.1, 0.949 ± 0.025 and ε 0.48 at 0.01 (tap noise now
  dominates ε); ``analog`` reaches 0.955 at ratio 1.

``insitu_training`` trains the same network on the same chips from the same seeds but
draws its per-pass noise from other streams, so its numbers for one setup differ from
these by the noise alone (moons, in situ, 3 seeds: 85.1 ± 1.7 here, 84.1 ± 3.6 there;
a difference within their spread). Cite one scenario's numbers with their ± and n.

Randomness: ``child_rngs(seed, "data", "init", "chip", "noise", "train", "eps")``; seed
index ``s`` gets its own data draw, initial weights/phases, chip, noise and minibatch
order (the MLP and the photonic network of one seed share the data and the order).
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from digital.datasets import Dataset, check_dataset, load
from digital.gradcheck import gradient_metrics, numerical_gradients
from digital.losses import softmax_cross_entropy
from digital.network import MLP
from digital.optim import Adam
from digital.train import History, train
from digital.validation import check_choice, check_nonnegative, check_positive, check_positive_int
from photonic.imperfections import (
    DEFAULT_ADC_BITS,
    DEFAULT_IO_AMPLITUDE_ERROR,
    DEFAULT_IO_PHASE_ERROR,
    DEFAULT_PHASE_NOISE_RAD,
    DEFAULT_SPLITTING_ERROR_STD_RAD,
    DEFAULT_TAP_NOISE,
    Chip,
    check_bits,
)
from photonic.mesh import Mesh
from photonic.network import GRADIENT_METHODS, PhotonicNetwork
from scenarios import digital_baseline, gradient_fidelity, insitu_training
from scenarios.framework import (
    Result,
    child_rngs,
    count,
    curve_band,
    format_pm,
    map_jobs,
    new_figure,
    sample_std,
    save_figure,
    scenario_main,
    write_metrics,
)
from scenarios.report_html import (
    Figure,
    Table,
    format_energy_pj,
    format_time_ns,
    run_info,
    write_report,
)
from sim.engine import STATIC_COMPONENTS, simulate
from sim.hardware import DigitalHardware, PhotonicHardware
from sim.ops import Op, Recorder, loss_op, n_real_params, update_op
from sim.presets import check_presets, load_preset
from sim.report import summarize

__all__ = ["NAME", "Config", "main", "run", "step_ops"]

NAME = "compare"
"""Registry name of this scenario."""

Method = Literal["adjoint", "in_situ", "analog", "finite_difference"]
Measurement = Literal["per_sample", "aggregated"]
NETWORKS = ("mlp", "photonic")
NETWORK_LABELS = {"mlp": "digital reference (MLP)", "photonic": "photonic chip (Pai 2023)"}
#: The presets of the issue, plus the CPU (cheap to replay).
DEFAULT_PRESETS: tuple[str, ...] = ("pai2023-chip", "eo-integrated", "gpu-h100", "cpu")
_SEED_BOUND = 2**32
#: Grid resolution of the decision-boundary plot, points per axis.
BOUNDARY_GRID = 80
#: Central finite-difference step for the MLP's gradient check.
MLP_FD_STEP = 1e-4
#: |ε| below this is rounding (1 − cos of two equal float64 vectors can be ±1e-16).
EXACT_EPSILON = 1e-12

Array = NDArray[Any]


# --------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the main job.

    Parameters
    ----------
    dataset : str
        Two-feature, two-class data set (:data:`scenarios.insitu_training.DATASETS`),
        or the path of a ``.npz``/``.csv`` file with 2 features and 2 classes
        (``digital.datasets``).
    n_samples : int or None
        Points before the 80/20 split; ``None``: Pai et al.'s size (moons 500), or
        every row of a file (a smaller value draws a stratified subsample).
        ``config.json`` keeps ``None``, so that the file reused with another
        ``dataset`` takes that set's size; the summary's ``n_samples`` is the number
        the run used.
    hidden : tuple of int
        Hidden widths of the reference MLP (tanh; the output layer gives logits).
    epochs : int
        Passes over the training set, the same for both networks (50 × 20 steps = the
        1000 iterations of Pai et al. for moons).
    batch_size : int
        Minibatch size of both networks (and of the ε and cost measurements).
    lr : float
        Adam learning rate of the photonic network.
    mlp_lr : float
        Adam learning rate of the MLP.
    method : str
        Gradient method of the photonic network on the chip: ``"analog"`` (2-pass),
        ``"in_situ"`` (3-pass), ``"adjoint"`` (the exact gradient of this chip,
        computed digitally; not the table's "digital twin", which ignores the chip's
        fabrication errors) or ``"finite_difference"``.
    measurement : str
        ``"per_sample"`` or ``"aggregated"`` tap read-out of the in-situ methods;
        ``"aggregated"`` needs ``adc_bits = None`` and ``phase_noise_rad = 0``.
    adjoint_power_ratio : float
        Power of the injected adjoint relative to the forward pass's, for the in-situ
        methods (> 0; default 1). Lower values shrink the 3-pass method's loss bias and
        let tap noise weigh more (:mod:`photonic.insitu`).
    splitting_error_std_rad : float
        Coupler splitting error σ of the chip, rad (other imperfections at the
        ``Chip.draw`` defaults, but for the noise below).
    phase_noise_rad : float
        Phase noise of every shifter on every pass of the chip, σ_φ in rad (≥ 0;
        default Chip.draw's, 0.01).
    tap_noise : float
        Tap read-out noise s, in √power units (``P = |E|² + s|E|n``; ≥ 0; default 0.01).
    io_amplitude_error : float
        Relative amplitude error σ_a of every injected and measured field (≥ 0;
        default 0.025).
    io_phase_error : float
        Phase error σ_p of every injected and measured field, in units of π (≥ 0;
        default 0.025).
    drift_rad_per_step : float
        Random-walk step of every held phase per training step (the chip's slow
        drift; ≥ 0, rad; default 0: none, parameters.md gives no rate).
    adc_bits : int or None
        Resolution of the chip's power detectors (``None``: ideal; default Chip.draw's,
        8).
    eps_batches : int
        Training minibatches over which ε is measured at the end of training.
    eval_repeats : int
        Noisy forward passes averaged for the photonic final accuracies.
    presets : tuple of str
        Hardware to replay one training step on: bundled preset names (``sim/presets``)
        or paths of preset files; photonic presets get the photonic network's ops,
        digital presets the MLP's. Tables and plots name each by its ``name``.
    n_seeds : int
        Independent repetitions (data, init, chip, noise, order).
    workers : int
        Processes running seeds in parallel (1: this process); results do not depend on it.
    seed : int
        Root seed.
    """

    dataset: str = "moons"
    n_samples: int | None = None
    hidden: tuple[int, ...] = digital_baseline.Config.hidden
    epochs: int = 50
    batch_size: int = 20
    lr: float = 0.02
    mlp_lr: float = digital_baseline.Config.lr
    method: Method = "analog"
    measurement: Measurement = "per_sample"
    adjoint_power_ratio: float = 1.0
    splitting_error_std_rad: float = DEFAULT_SPLITTING_ERROR_STD_RAD
    phase_noise_rad: float = DEFAULT_PHASE_NOISE_RAD
    tap_noise: float = DEFAULT_TAP_NOISE
    io_amplitude_error: float = DEFAULT_IO_AMPLITUDE_ERROR
    io_phase_error: float = DEFAULT_IO_PHASE_ERROR
    drift_rad_per_step: float = 0.0
    adc_bits: int | None = DEFAULT_ADC_BITS
    eps_batches: int = 10
    eval_repeats: int = 10
    presets: tuple[str, ...] = DEFAULT_PRESETS
    n_seeds: int = 8
    workers: int = 2
    seed: int = 0

    PRESET_FIELDS: ClassVar[tuple[str, ...]] = ("presets",)
    """Settings that list hardware presets (see :mod:`scenarios.framework`)."""
    DATASET_FIELDS: ClassVar[tuple[str, ...]] = ("dataset",)
    """Settings that name datasets (see :mod:`scenarios.framework`)."""
    RESULT_NEUTRAL_FIELDS: ClassVar[tuple[str, ...]] = ("workers",)
    """Settings the results do not depend on (see :mod:`scenarios.framework`)."""

    def __post_init__(self) -> None:
        if self.n_samples is not None:
            check_positive_int(self.n_samples, "n_samples")
        dataset = check_dataset(
            self.dataset,
            "dataset",
            allowed=tuple(insitu_training.DATASETS),
            n_samples=self.n_samples,
            n_features=insitu_training.PAI_FEATURES,
            n_classes=insitu_training.PAI_CLASSES,
        )
        object.__setattr__(self, "dataset", dataset)
        if isinstance(self.hidden, list):
            object.__setattr__(self, "hidden", tuple(self.hidden))
        if not isinstance(self.hidden, tuple) or any(
            isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in self.hidden
        ):
            raise ValueError(f"hidden={self.hidden!r} must be a tuple of positive ints")
        for name in ("epochs", "batch_size", "eps_batches", "eval_repeats", "n_seeds", "workers"):
            check_positive_int(getattr(self, name), name)
        check_positive(self.lr, "lr")
        check_positive(self.mlp_lr, "mlp_lr")
        check_choice(self.method, "method", GRADIENT_METHODS)
        object.__setattr__(
            self,
            "adjoint_power_ratio",
            check_positive(self.adjoint_power_ratio, "adjoint_power_ratio"),
        )
        for name in ("splitting_error_std_rad", *insitu_training.CHIP_NOISE):
            object.__setattr__(self, name, check_nonnegative(getattr(self, name), name))
        object.__setattr__(self, "adc_bits", check_bits(self.adc_bits, "adc_bits"))
        insitu_training.check_measurement(
            self.measurement,
            (self.method,),
            adc_bits=self.adc_bits,
            phase_noise_rad=self.phase_noise_rad,
        )
        object.__setattr__(self, "presets", check_presets(self.presets))
        n_train = int(self.total_samples * 0.8)
        if self.batch_size > n_train:
            raise ValueError(
                f"batch_size={self.batch_size} exceeds the {n_train} training points "
                f"of n_samples={self.total_samples}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} must be a non-negative int")

    @property
    def total_samples(self) -> int:
        """Points of the data set before the split (``n_samples`` or Pai et al.'s size)."""
        return self.n_samples or insitu_training.dataset_size(self.dataset)

    @classmethod
    def smoke(cls) -> Config:
        """A seconds-long run: 100 points, 2 epochs, one seed, few measurements."""
        return cls(
            n_samples=100,
            hidden=(8,),
            epochs=2,
            eps_batches=2,
            eval_repeats=1,
            n_seeds=1,
            workers=1,
        )


# --------------------------------------------------------------------------- networks


def _mlp_shape(cfg: Config) -> tuple[list[int], list[str]]:
    sizes = [2, *cfg.hidden, 2]
    activations = [digital_baseline.Config.activation] * len(cfg.hidden) + [
        digital_baseline.Config.output_activation
    ]
    return sizes, activations


def _chip(cfg: Config, chip_seed: int) -> Chip:
    return Chip.draw(
        Mesh.reck(4),
        np.random.default_rng(chip_seed),
        splitting_error_std_rad=cfg.splitting_error_std_rad,
        phase_noise_rad=cfg.phase_noise_rad,
        tap_noise=cfg.tap_noise,
        io_amplitude_error=cfg.io_amplitude_error,
        io_phase_error=cfg.io_phase_error,
        drift_rad_per_step=cfg.drift_rad_per_step,
        adc_bits=cfg.adc_bits,
    )


def _photonic(cfg: Config, chip: Chip, noise_seed: int) -> PhotonicNetwork:
    return PhotonicNetwork.pai2023(
        chip,
        rng=np.random.default_rng(0),  # phases are set right after
        noise_rng=np.random.default_rng(noise_seed),
        gradient=cfg.method,
        measurement=cfg.measurement,
        adjoint_power_ratio=cfg.adjoint_power_ratio,
    )


def _load(cfg: Config, data_seed: int) -> Dataset:
    return load(cfg.dataset, n_samples=cfg.total_samples, rng=np.random.default_rng(data_seed))


def step_ops(net: MLP | PhotonicNetwork, x: Array, y: Array, lr: float) -> list[Op]:
    """The ops of one training step of ``net`` on the minibatch ``(x, y)``.

    What the network records during ``forward``, ``backward`` (its own default gradient
    method) and ``set_params`` (the photonic network: phase writes), with the loss and
    the Adam update added as host ``digital_compute`` ops in their place in the step,
    the ops :func:`digital.train.train` records for the same step (a test checks it).
    The network is updated (it takes the step).

    Parameters
    ----------
    net
        A trained network (its ``recorder`` is replaced during the call and restored).
    x, y
        Features ``(B, n_features)`` and labels ``(B,)``.
    lr
        Adam learning rate of the step.

    Returns
    -------
    list of Op
    """
    saved = net.recorder
    recorder = Recorder()
    net.recorder = recorder
    try:
        out = net.forward(x)
        last = net.n_layers - 1
        recorder.record(loss_op(last, n_samples=out.shape[0], n_outputs=out.shape[1]))
        _, grad = softmax_cross_entropy(out, y)
        grads = net.backward(grad)
        params = net.params()
        recorder.record(update_op(last, n_params=n_real_params(params), n_ports=1, rule="adam"))
        net.set_params(Adam(lr=lr).step(params, grads))
    finally:
        net.recorder = saved
    return list(recorder.ops)


def _curve_rows(history: History, steps_per_epoch: int, **keys: Any) -> list[dict[str, Any]]:
    rows = []
    for i, epoch in enumerate(history.epoch):
        for metric in ("loss", "test_loss", "train_accuracy", "test_accuracy"):
            rows.append(
                {
                    **keys,
                    "epoch": int(epoch),
                    "iteration": int(epoch) * steps_per_epoch,
                    "metric": metric,
                    "value": float(getattr(history, metric)[i]),
                }
            )
    return rows


def _run_seed(cfg: Config, seed_index: int, seeds: dict[str, int]) -> dict[str, Any]:
    """Train both networks of one seed; final accuracies, ε, trained parameters."""
    data = _load(cfg, seeds["data"])
    n_train = data.x_train.shape[0]
    steps = math.ceil(n_train / cfg.batch_size)
    rows: list[dict[str, Any]] = []
    base = {"seed": seed_index}
    init_rng = np.random.default_rng(seeds["init"])

    # digital reference
    sizes, activations = _mlp_shape(cfg)
    mlp = MLP(sizes, activation=activations, rng=init_rng)
    t0 = time.perf_counter()
    history = train(
        mlp,
        data,
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=cfg.mlp_lr),
        lr_name="mlp_lr",
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        rng=np.random.default_rng(seeds["train"]),
        progress="off",
    )
    keys = {**base, "network": "mlp", "method": "backprop"}
    rows += _curve_rows(history, steps, **keys)
    rows += [
        {**keys, "metric": "final_test_accuracy", "value": history.test_accuracy[-1]},
        {**keys, "metric": "final_train_accuracy", "value": history.train_accuracy[-1]},
        {**keys, "metric": "train_wall_time_s", "value": time.perf_counter() - t0},
    ]

    # photonic network on its chip, trained with the gradient measured on the chip
    chip = _chip(cfg, seeds["chip"])
    net = _photonic(cfg, chip, seeds["noise"])
    net.set_params(PhotonicNetwork.pai2023(rng=init_rng).params())  # Haar initial phases
    t0 = time.perf_counter()
    history = train(
        net,
        data,
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=cfg.lr),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        rng=np.random.default_rng(seeds["train"]),
        progress="off",
    )
    wall = time.perf_counter() - t0
    keys = {**base, "network": "photonic", "method": cfg.method}
    rows += _curve_rows(history, steps, **keys)
    test_acc, _ = insitu_training.evaluate(net, data.x_test, data.y_test, cfg.eval_repeats)
    train_acc, _ = insitu_training.evaluate(net, data.x_train, data.y_train, cfg.eval_repeats)
    rows += [
        {**keys, "metric": "final_test_accuracy", "value": test_acc},
        {**keys, "metric": "final_train_accuracy", "value": train_acc},
        {**keys, "metric": "train_wall_time_s", "value": wall},
    ]

    # gradient fidelity at the end of training, on training minibatches
    eps_rng = np.random.default_rng(seeds["eps"])
    trained, drift = net.params(), net.chip_drift()  # the chip as training left it
    methods = (cfg.method, "digital_twin")
    for b in range(cfg.eps_batches):
        idx = eps_rng.choice(n_train, size=cfg.batch_size, replace=False)
        measured = gradient_fidelity.measure_pai(
            trained,
            data.x_train[idx],
            data.y_train[idx],
            chip,
            methods=methods,
            noise_seed=int(eps_rng.integers(_SEED_BOUND)),
            measurement=cfg.measurement,
            adjoint_power_ratio=cfg.adjoint_power_ratio,
            drift=drift,
        )
        for method, metrics in measured.items():
            rows.append(
                {
                    **base,
                    "network": "photonic",
                    "method": method,
                    "minibatch": b,
                    "metric": "epsilon",
                    "value": metrics["epsilon"],
                }
            )
    idx = eps_rng.choice(n_train, size=cfg.batch_size, replace=False)
    x_b, y_b = data.x_train[idx], data.y_train[idx]
    _, g = softmax_cross_entropy(mlp.forward(x_b), y_b)
    backprop = mlp.backward(g)
    numeric = numerical_gradients(mlp, x_b, y_b, "softmax_cross_entropy", step=MLP_FD_STEP)
    try:
        eps_mlp = gradient_metrics(backprop, numeric)["epsilon"]
    except ValueError as exc:  # nothing the user set: say what it means
        raise ValueError(
            f"the trained MLP's gradient is zero ({exc}): its units saturated; lower "
            f"mlp_lr={cfg.mlp_lr:g}"
        ) from None
    rows.append(
        {
            **base,
            "network": "mlp",
            "method": "backprop",
            "minibatch": 0,
            "metric": "epsilon",
            "value": eps_mlp,
        }
    )
    return {"rows": rows, "mlp_params": mlp.params(), "photonic_params": trained}


# --------------------------------------------------------------------------- cost


def _cost(
    cfg: Config, seeds: dict[str, int], mlp_params: dict[str, Array], ph_params: dict[str, Array]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], dict[str, Any]]:
    """Record one training step of each trained network (seed 0), replay it on every preset."""
    data = _load(cfg, seeds["data"])
    sizes, activations = _mlp_shape(cfg)
    mlp = MLP(sizes, activation=activations, rng=np.random.default_rng(0))
    mlp.set_params(mlp_params)
    chip = _chip(cfg, seeds["chip"])
    net = _photonic(cfg, chip, seeds["noise"])
    net.set_params(ph_params)
    idx = np.random.default_rng(seeds["eps"]).choice(
        data.x_train.shape[0], size=cfg.batch_size, replace=False
    )
    x, y = data.x_train[idx], data.y_train[idx]
    traces = {
        "photonic": step_ops(net, x, y, cfg.lr),
        "mlp": step_ops(mlp, x, y, cfg.mlp_lr),
    }
    rows: list[dict[str, Any]] = []
    costs: dict[str, dict[str, Any]] = {}
    for preset in tqdm(cfg.presets, desc="replay", unit="preset", disable=None, leave=False):
        hw = load_preset(preset)
        network = "photonic" if isinstance(hw, PhotonicHardware) else "mlp"
        assert isinstance(hw, (PhotonicHardware, DigitalHardware))
        ops = traces[network]
        timeline = simulate(ops, hw)
        report = summarize(ops, timeline)
        costs[hw.name] = {
            "network": network,
            "kind": "photonic" if network == "photonic" else "digital",
            "n_ops": len(ops),
            "latency_ns": report.latency_ns,
            "energy_pj": report.energy_pj,
            "energy_by_component_pj": dict(report.energy_by_component_pj),
            "work_energy_pj": report.energy_pj
            - sum(report.energy_by_component_pj.get(k, 0.0) for k in STATIC_COMPONENTS),
            "phases": {k: (v.latency_ns, v.energy_pj) for k, v in report.phases.items()},
        }
        keys = {"preset": hw.name, "network": network, "batch": cfg.batch_size}
        rows.append({**keys, "metric": "step_latency_ns", "value": report.latency_ns})
        rows.append({**keys, "metric": "step_energy_pj", "value": report.energy_pj})
        rows.append(
            {**keys, "metric": "step_work_energy_pj", "value": costs[hw.name]["work_energy_pj"]}
        )
        rows.append({**keys, "metric": "step_n_ops", "value": len(ops)})
        for component, value in report.energy_by_component_pj.items():
            rows.append({**keys, "metric": f"energy_pj.{component}", "value": value})
        for phase, cost in report.phases.items():
            rows.append({**keys, "metric": f"phase_latency_ns.{phase}", "value": cost.latency_ns})
            rows.append({**keys, "metric": f"phase_energy_pj.{phase}", "value": cost.energy_pj})
    return rows, costs, {"mlp": mlp, "photonic": net, "data": data}


# --------------------------------------------------------------------------- tables


def _values(
    rows: list[dict[str, Any]], network: str, metric: str, method: str | None = None
) -> list:
    return [
        r["value"]
        for r in rows
        if r.get("network") == network
        and r["metric"] == metric
        and (method is None or r.get("method") == method)
        and r.get("epoch") is None
    ]


def _pm(values: Sequence[float], fmt: str | None = None) -> str:
    """Mean ± sample std of ``values``, both in ``fmt``, or by :func:`format_pm`."""
    if not values:
        return "-"
    mean = float(np.mean(values))
    std = sample_std(values) if len(values) > 1 else math.nan
    if fmt is None:
        return format_pm(mean, std)
    if math.isnan(std):
        return format(mean, fmt)
    return f"{format(mean, fmt)} ± {format(std, fmt)}"


def _eps_fmt(values: Sequence[float], cfg: Config, *, per_seed: int) -> str:
    """ε as mean ± std over the ``per_seed`` measured minibatches of every seed, saying so
    (the minibatches of one seed share its chip and network: they are not independent)."""
    if not values:
        return "-"
    batches = count(per_seed, "minibatch", "minibatches")
    n = f"n={len(values)}: {batches} × {count(cfg.n_seeds, 'seed')}"
    if max(abs(v) for v in values) < EXACT_EPSILON:
        return f"< {EXACT_EPSILON:g} (exact to rounding; {n})"
    mean = float(np.mean(values))
    fmt = ".2e" if abs(mean) < 1e-3 else ".4f"
    return _pm(values, fmt) + f" ({n})"


def side_by_side(cfg: Config, rows: list[dict[str, Any]]) -> Table:
    """Accuracy and gradient fidelity of both networks, mean ± std over seeds."""
    sizes, _ = _mlp_shape(cfg)
    arch = "-".join(str(s) for s in sizes)
    n_mlp = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    n_phases = sum(
        v.size for v in PhotonicNetwork.pai2023(rng=np.random.default_rng(0)).params().values()
    )
    table = [
        ("network", f"MLP {arch}, tanh, exact backprop", f"Pai 3×4×4 Reck, chip, {cfg.method}"),
        ("trainable parameters", f"{n_mlp} weights", f"{n_phases} phases"),
        (
            "test accuracy",
            _pm(_values(rows, "mlp", "final_test_accuracy"), ".3f"),
            _pm(_values(rows, "photonic", "final_test_accuracy"), ".3f"),
        ),
        (
            "train accuracy",
            _pm(_values(rows, "mlp", "final_train_accuracy"), ".3f"),
            _pm(_values(rows, "photonic", "final_train_accuracy"), ".3f"),
        ),
        (
            "gradient error ε = 1 − cos",
            _eps_fmt(_values(rows, "mlp", "epsilon"), cfg, per_seed=1) + " vs finite differences",
            _eps_fmt(
                _values(rows, "photonic", "epsilon", cfg.method), cfg, per_seed=cfg.eps_batches
            )
            + f" {cfg.method} vs exact, same chip",
        ),
        (
            "ε of an ideal-model (digital twin) gradient",
            "-",
            _eps_fmt(
                _values(rows, "photonic", "epsilon", "digital_twin"), cfg, per_seed=cfg.eps_batches
            ),
        ),
        (
            "training wall time in this simulator",
            _pm(_values(rows, "mlp", "train_wall_time_s")) + " s",
            _pm(_values(rows, "photonic", "train_wall_time_s")) + " s",
        ),
    ]
    return Table(
        f"{cfg.dataset}, {cfg.total_samples} points, {count(cfg.epochs, 'epoch')} × batch "
        f"{cfg.batch_size}; mean ± std over {count(cfg.n_seeds, 'seed')}",
        ("", NETWORK_LABELS["mlp"], NETWORK_LABELS["photonic"]),
        tuple(table),
    )


def cost_table(cfg: Config, costs: dict[str, dict[str, Any]]) -> Table:
    """Latency and energy of one training step per preset."""
    rows = []
    for preset, c in costs.items():
        total = c["energy_pj"]
        top, value = max(c["energy_by_component_pj"].items(), key=lambda kv: kv[1])
        share = value / total if total > 0 else 0.0
        rows.append(
            (
                preset,
                NETWORK_LABELS[c["network"]],
                str(c["n_ops"]),
                format_time_ns(c["latency_ns"]),
                format_energy_pj(total),
                format_energy_pj(total / cfg.batch_size),
                format_energy_pj(c["work_energy_pj"]),
                f"{top} ({share:.0%})",
            )
        )
    return Table(
        f"One training step (batch {cfg.batch_size}) replayed with the SimPy model: the ops "
        "each network recorded, plus loss and Adam on the host. 'Without idle power': the "
        "step's energy less the static power of its host or processor over the step, the "
        "energy the work itself costs (a small step leaves a GPU idle nearly all the time)",
        (
            "preset",
            "network replayed",
            "ops",
            "latency / step",
            "energy / step",
            "energy / sample",
            "without idle power",
            "largest energy share",
        ),
        tuple(rows),
    )


# --------------------------------------------------------------------------- plots


def _curves(rows: list[dict[str, Any]], network: str, metric: str) -> tuple[Array, Array, Array]:
    by_seed: dict[int, list[tuple[int, float]]] = {}
    for r in rows:
        if r.get("network") == network and r["metric"] == metric and r.get("epoch") is not None:
            by_seed.setdefault(r["seed"], []).append((r["iteration"], r["value"]))
    return curve_band(by_seed)


def _plot_curves(cfg: Config, rows: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    fig = new_figure(figsize=(10.0, 3.8), layout="constrained")
    ax_acc, ax_loss = fig.subplots(1, 2)
    for network, color in (("mlp", "C0"), ("photonic", "C3")):
        label = NETWORK_LABELS[network] + (f", {cfg.method}" if network == "photonic" else "")
        for ax, metric, scale in ((ax_acc, "test_accuracy", 100.0), (ax_loss, "loss", 1.0)):
            it, mean, std = _curves(rows, network, metric)
            ax.plot(it, scale * mean, color=color, label=label)
            ax.fill_between(it, scale * (mean - std), scale * (mean + std), color=color, alpha=0.2)
    ax_acc.set_ylabel("test accuracy (%)")
    ax_acc.set_ylim(40, 101)
    ax_loss.set_ylabel("training loss (nats)")
    for ax in (ax_acc, ax_loss):
        ax.set_xlabel("optimizer steps")
        ax.grid(True, alpha=0.3)
    ax_acc.legend(loc="lower right", fontsize=8)
    ax_acc.set_title("test accuracy (photonic: one noisy pass per epoch)")
    ax_loss.set_title("training loss")
    fig.suptitle(
        f"{cfg.dataset}: digital reference vs photonic chip trained in situ "
        f"(mean ± std over {count(cfg.n_seeds, 'seed')}{_unusual(cfg)})",
        wrap=True,
    )
    return save_figure(fig, out_dir, "accuracy_curves")


def _unusual(cfg: Config) -> str:
    """The opt-in chip and measurement settings a plot's title must name, if set."""
    parts = []
    if cfg.adjoint_power_ratio != 1.0:
        parts.append(f"adjoint at {cfg.adjoint_power_ratio:g}× the forward power")
    if cfg.drift_rad_per_step > 0:
        parts.append(f"drift {cfg.drift_rad_per_step:g} rad per step")
    return "".join(f"; {p}" for p in parts)


def _plot_boundaries(cfg: Config, nets: dict[str, Any], out_dir: Path) -> list[Path]:
    data: Dataset = nets["data"]
    x_all = np.vstack([data.x_train, data.x_test])
    lo, hi = x_all.min(axis=0) - 0.5, x_all.max(axis=0) + 0.5
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], BOUNDARY_GRID), np.linspace(lo[1], hi[1], BOUNDARY_GRID)
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    fig = new_figure(figsize=(10.8, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    levels = np.linspace(0.0, 1.0, 21)  # the same colour is the same probability in both
    filled: Any = None
    for ax, network in zip(axes, NETWORKS, strict=True):
        out = nets[network].forward(grid)
        logits = out - out.max(axis=1, keepdims=True)
        prob = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
        filled = ax.contourf(
            gx, gy, prob.reshape(gx.shape), levels=levels, cmap="RdBu_r", alpha=0.7
        )
        ax.contour(gx, gy, prob.reshape(gx.shape), levels=[0.5], colors="k", linewidths=1)
        ax.scatter(
            data.x_test[:, 0],
            data.x_test[:, 1],
            c=data.y_test,
            cmap="RdBu_r",
            edgecolors="k",
            s=18,
        )
        ax.set_title(NETWORK_LABELS[network], fontsize=10)
        ax.set_xlabel("feature 1 (standardized)")
        ax.set_ylabel("feature 2 (standardized)")
    fig.colorbar(filled, ax=list(axes), label="class-1 probability", ticks=levels[::4])
    fig.suptitle(
        f"Class-1 probability after training (seed 0) with the test points; photonic: one "
        f"noisy pass of the chip ({cfg.method} training{_unusual(cfg)})",
        wrap=True,
    )
    return save_figure(fig, out_dir, "decision_boundaries")


def _plot_cost(cfg: Config, costs: dict[str, dict[str, Any]], out_dir: Path) -> list[Path]:
    presets = list(costs)
    colors = ["C3" if costs[p]["network"] == "photonic" else "C0" for p in presets]
    fig = new_figure(figsize=(10.0, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, key, label, fmt in (
        (axes[0], "latency_ns", "latency per training step (ns)", format_time_ns),
        (axes[1], "energy_pj", "energy per training step (pJ)", format_energy_pj),
    ):
        values = [costs[p][key] for p in presets]
        pos = np.arange(len(presets))
        ax.bar(pos, values, color=colors)
        ax.set_yscale("log")
        ax.set_xticks(pos, presets, rotation=20, ha="right")
        ax.set_ylabel(label)
        for x, v in zip(pos, values, strict=True):
            ax.annotate(fmt(v), (x, v), ha="center", va="bottom", fontsize=8)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.margins(y=0.15)
    fig.suptitle(
        f"One training step, batch {cfg.batch_size}: photonic network on photonic presets "
        "(red), MLP on digital ones (blue)",
        wrap=True,
    )
    return save_figure(fig, out_dir, "cost_per_step")


def _plot_breakdown(costs: dict[str, dict[str, Any]], out_dir: Path) -> list[Path]:
    presets = list(costs)
    components = sorted(
        {k for c in costs.values() for k, v in c["energy_by_component_pj"].items() if v > 0}
    )
    fig = new_figure(figsize=(10.0, 3.6), layout="constrained")
    ax = fig.subplots()
    left = np.zeros(len(presets))
    from matplotlib import colormaps

    palette = colormaps["tab20"]
    cmap = {name: palette(i % palette.N) for i, name in enumerate(components)}
    for name in components:
        shares = np.array(
            [
                costs[p]["energy_by_component_pj"].get(name, 0.0) / costs[p]["energy_pj"]
                for p in presets
            ]
        )
        ax.barh(presets, 100 * shares, left=100 * left, color=cmap[name], label=name)
        left += shares
    ax.set_xlabel("share of the energy of one training step (%)")
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    ax.set_title("Where the energy of a training step goes, per preset")
    return save_figure(fig, out_dir, "energy_breakdown")


# --------------------------------------------------------------------------- run


def _summary(
    cfg: Config, rows: list[dict[str, Any]], costs: dict[str, dict[str, Any]]
) -> dict[str, float | str]:
    summary: dict[str, float | str] = {}
    for network in sorted(NETWORKS, key=lambda n: n != "photonic"):  # photonic first:
        for metric in ("final_test_accuracy", "final_train_accuracy"):  # a sweep's default
            values = _values(rows, network, metric)
            summary[f"{network}_{metric.removeprefix('final_')}"] = round(float(np.mean(values)), 4)
            if len(values) > 1:
                summary[f"{network}_{metric.removeprefix('final_')}_std"] = round(
                    sample_std(values), 4
                )
    # full precision (the table printed from it rounds; sweeps aggregate it)
    # the training method's ε under one key whatever the method (a sweep over
    # method keeps it), and the method named beside it
    summary["photonic_epsilon_measured"] = float(
        np.mean(_values(rows, "photonic", "epsilon", cfg.method))
    )
    summary["photonic_gradient_method"] = cfg.method
    summary["photonic_epsilon_digital_twin"] = float(
        np.mean(_values(rows, "photonic", "epsilon", "digital_twin"))
    )
    # 1 − cos of equal vectors rounds to ±1e-16: report the magnitude
    summary["mlp_epsilon_vs_finite_differences"] = float(
        f"{np.mean(np.abs(_values(rows, 'mlp', 'epsilon'))):.3g}"
    )
    for preset, c in costs.items():
        summary[f"{preset}_step_latency_ns"] = float(c["latency_ns"])
        summary[f"{preset}_step_energy_pj"] = float(c["energy_pj"])
        summary[f"{preset}_step_work_energy_pj"] = float(c["work_energy_pj"])
    summary["n_samples"] = cfg.total_samples  # what ran, where config.json may say None
    return summary


def run(cfg: Config, out_dir: Path, *, echo: Callable[[str], None] | None = print) -> Result:
    """Train both networks, measure ε, replay a step on every preset, write the report.

    Parameters
    ----------
    cfg : Config
        The study's settings.
    out_dir : Path
        Existing run folder for figures, ``table.md`` and ``report.html``.
    echo : callable or None
        Where the two tables are printed (``None``: not printed).

    Returns
    -------
    Result
        ``metrics``: tidy rows (curves, finals, ε, costs); ``summary``: accuracies, ε
        and per-preset latency/energy per step as numbers.
    """
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    names = ("data", "init", "chip", "noise", "train", "eps")
    rngs = child_rngs(cfg.seed, *names)
    per_seed = {n: [int(v) for v in rngs[n].integers(_SEED_BOUND, size=cfg.n_seeds)] for n in names}
    jobs = [{n: per_seed[n][s] for n in names} for s in range(cfg.n_seeds)]
    results = map_jobs(
        _run_seed,
        [(cfg, s, seeds) for s, seeds in enumerate(jobs)],
        workers=cfg.workers,
        desc=NAME,
        unit="seed",
    )
    rows = [row for r in results for row in r["rows"]]
    cost_rows, costs, nets = _cost(
        cfg, jobs[0], results[0]["mlp_params"], results[0]["photonic_params"]
    )
    rows += cost_rows
    write_metrics(rows, out_dir)  # before the plots: a full disk keeps the numbers

    tables = [side_by_side(cfg, rows), cost_table(cfg, costs)]
    (out_dir / "table.md").write_text(
        "\n\n".join(t.to_markdown() for t in tables) + "\n", encoding="utf-8"
    )
    with (out_dir / "costs.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["preset", "network", "n_ops", "latency_ns", "energy_pj", "work_energy_pj"])
        for preset, c in costs.items():
            writer.writerow(
                [
                    preset,
                    c["network"],
                    c["n_ops"],
                    c["latency_ns"],
                    c["energy_pj"],
                    c["work_energy_pj"],
                ]
            )
    if echo is not None:
        for t in tables:
            echo(t.to_text())
            echo("")
    figures: list[Path] = []
    figures += _plot_curves(cfg, rows, out_dir)
    figures += _plot_boundaries(cfg, nets, out_dir)
    figures += _plot_cost(cfg, costs, out_dir)
    figures += _plot_breakdown(costs, out_dir)
    summary = _summary(cfg, rows, costs)
    wall = time.perf_counter() - t0
    summary["wall_time_s"] = round(wall, 2)
    captions = {
        "accuracy_curves": "Test accuracy and training loss vs optimizer steps.",
        "decision_boundaries": "Decision boundaries of the trained networks (seed 0).",
        "cost_per_step": "Latency and energy of one training step per preset (log scale).",
        "energy_breakdown": "Energy of one training step by component.",
    }
    report_figs = [Figure(p, captions[p.stem]) for p in figures if p.suffix == ".png"]
    write_report(
        out_dir,
        title="photonic-backprop main job: digital reference vs photonic chip trained in situ",
        intro=_intro(cfg),
        tables=tables,
        figures=report_figs,
        config=cfg,
        info=run_info(scenario=NAME, seed=cfg.seed, wall_time_s=wall),
        notes=_notes(cfg),
    )
    return Result(out_dir=out_dir, metrics=rows, summary=summary, figures=figures)


def _intro(cfg: Config) -> list[str]:
    return [
        f"Both networks learn the same {cfg.dataset} data ({cfg.total_samples} points, 80/20 "
        f"split) for {count(cfg.epochs, 'epoch')} in minibatches of {cfg.batch_size} with "
        "Adam. The digital reference is a small MLP trained by exact backpropagation. The photonic "
        "network is the 3-layer 4-port network of Pai et al. (Science 2023) on a realistic "
        "imperfect chip (Chip.draw: 0.2 dB/MZI loss, splitting error "
        f"{cfg.splitting_error_std_rad:g} rad, 10-bit DAC, 2 % thermal crosstalk, phase "
        f"noise {cfg.phase_noise_rad:g} rad per pass, tap noise {cfg.tap_noise:g}, "
        + ("ideal ADC" if cfg.adc_bits is None else f"{cfg.adc_bits}-bit ADC")
        + f", I/O errors {cfg.io_amplitude_error:g} (amplitude) and "
        f"{cfg.io_phase_error:g}π (phase)"
        + (f", drift {cfg.drift_rad_per_step:g} rad per step" if cfg.drift_rad_per_step else "")
        + f"), trained with the '{cfg.method}' gradient "
        "measured on that chip.",
        "Gradient error ε = 1 − cos(measured, exact): 0 is perfect, 1 orthogonal. The "
        "photonic ε compares the chip's measurement with the exact gradient of the same "
        "noisy pass on the same chip; the digital-twin ε is what a model that ignores the "
        "fabrication errors would compute. The MLP's ε is its backpropagation against "
        "finite differences (exact up to rounding).",
        "Cost rows replay one recorded training step with the SimPy time/energy model: the "
        "photonic network's ops on photonic presets, the MLP's on digital ones.",
    ]


def _passes(n: int) -> str:
    """What a photonic accuracy is over: ``"means over 10 noisy forward passes"``, or
    ``"measured on one noisy forward pass"``."""
    if n == 1:
        return "measured on one noisy forward pass"
    return f"means over {n} noisy forward passes"


def _notes(cfg: Config) -> list[str]:
    return [
        "The two networks are not the same size: the cost rows say what one training step "
        "of each network costs on each machine, not which hardware is better per "
        "multiply-accumulate (see the energy_latency scenario for that).",
        f"Photonic accuracies are {_passes(cfg.eval_repeats)} of the chip; the curves show "
        "one noisy pass per epoch.",
        "Passes per layer in one photonic training step: the inference pass, then 3 more "
        "for 'analog' (the adjoint pass, which measures the field sent back to the layer "
        "before, and the 2 tap-reading passes that name the '2-pass' method), 2 for "
        "'in_situ' (adjoint and sum; with the inference pass, whose taps it reads, these "
        "are its 3 passes) and none for 'adjoint'. So 'analog' is the dearest of the "
        "in-situ steps; 'finite_difference' sends 2 whole-network passes per phase shifter.",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run this scenario from the command line (``photonic-backprop run compare``)."""
    return scenario_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
