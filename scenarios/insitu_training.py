"""In-situ training: the Pai et al. 2023 network trained digitally, deployed, and trained on chip.

What it covers
--------------
The network of :meth:`photonic.network.PhotonicNetwork.pai2023` (three 4×4 Reck
layers on one chip, ``|z|`` between layers, optical-softmax readout, softmax
cross-entropy) on the data sets of Pai et al. — moons (500 points, noise 0.2), circle
(``"circles"``: 250 points, factor 0.5, noise 0.2) and ring (500 points, Gaussian
quantiles), or the user's own two-feature, two-class ``.npz``/``.csv`` files (every
row; see ``datasets``) — split 80/20, trained with Adam (``lr``) on minibatches of ``batch_size``
for about ``iterations`` optimizer steps (Pai et al.: 1000–2000), in three ways:

(a) ``digital``: trained with the exact ``"adjoint"`` gradient on an ideal chip
    (``chip=None``) — digital training on a perfect model;
(b) ``deployed``: the (a) phases programmed onto an imperfect chip (same requested
    phases, through its DAC and thermal crosstalk) and evaluated there, without
    retraining; on a drifting chip (``drift_rad_per_step > 0``) they are programmed
    once more per step of (a)'s run before the evaluation, so the chip has drifted as
    many steps as (c)'s chips did while they trained (finite differences excepted:
    they train only ``fd_iterations`` steps);
(c) ``on_chip``: trained from the same initial phases on that same imperfect chip, with
    each gradient method of ``methods``: ``"in_situ"`` (3-pass), ``"analog"`` (2-pass)
    and ``"finite_difference"`` measured on the chip, and ``"adjoint"`` = the exact
    gradient of the imperfect chip (a perfect digital twin of it: the best any method
    can do on that chip, not a measurement).

The imperfect chips are :meth:`photonic.imperfections.Chip.draw` with every default
(0.2 dB/MZI loss, DAC/ADC 10/8 bits, crosstalk 0.02, phase noise 0.01 rad, tap noise
0.01, I/O errors 0.025; the loss and the noise are settings) except the coupler
splitting error, one chip per value of
``splitting_error_std_rad`` (default 0.02 = the Chip.draw default, "realistic", and
0.05, the classic case for in-situ training). Chips of different σ share the same
random draws (common random numbers), so only σ differs. Tap read-out is
``"per_sample"``: the chips have phase noise and an ADC, which the aggregated mode
cannot represent (it is refused).

Finite differences cost 2 forward passes of the whole network per phase shifter (48
shifters: 96 passes per step, ≈ 25–30× the time of an in-situ step in this simulator:
84 ms against 3.0–3.3 ms), so they run only on
``fd_datasets``, for the first ``fd_seeds`` seeds and ``fd_iterations`` steps (default:
moons if ``datasets`` has it, 1 seed, 200 steps); their phase step ``fd_step_rad``
(0.1 rad) must exceed the DAC step and the phase noise, or the perturbation is
quantized away or drowned.

Every case is repeated for ``n_seeds`` seeds (data draw, initial phases, chip, noise
and minibatch order change together; (a), (b) and (c) of one seed share them, so
differences are paired). Final accuracies are on the chip as a user would see them:
the mean over ``eval_repeats`` noisy forward passes of the test set.

How to read the results
-----------------------
- ``metrics.csv``: tidy rows ``dataset, seed, case, method, splitting_error_std_rad,
  epoch, iteration, metric, value``; per-epoch ``loss`` (train), ``test_loss``,
  ``test_accuracy``, ``train_accuracy``, ``grad_norm``, and per run
  ``final_test_accuracy``, ``final_test_loss``, ``final_train_accuracy``, ``wall_time_s``.
- ``curves_sigma<σ>.png``/``.svg``: training loss and test accuracy vs iteration per data
  set (mean over seeds, ± std shaded), (b) as a dotted level.
- ``final_accuracy.png``/``.svg``: final test accuracy per case with Pai et al.'s numbers.
- ``accuracy_table.csv`` and the printed table: our final test accuracy (mean ± std over
  seeds) next to Pai et al.'s (digitally trained weights: moons 94.0 % in simulation and
  on the chip, ring 100 % / 90.0 %; in situ: moons ≈ 87–95 %, circle ≈ 80–95 %, read off
  their figure).
- The summary holds the two acceptance comparisons as paired differences in points:
  ``c − a`` per method on the default chip (moons and circles: is it within 5 points?)
  and ``c − b`` on the chip with the largest splitting error.

What the default run shows (3 seeds, mean ± std; ``--set n_seeds=5`` in brackets)
---------------------------------------------------------------------------------
- The 2-pass ``"analog"`` method trains as well as the exact twin of the chip and lands
  within about a point of (a): ``c − a`` = −1.1 ± 0.3 (−0.4) points on moons, −0.7 ±
  0.3 (+0.5) on circles with the default chip.
- The 3-pass ``"in_situ"`` method does **not**: −13.4 ± 3.1 (−10.0) points on moons,
  −4.2 ± 2.5 (−1.5) on circles; its seed-to-seed spread is large (seed 0 alone: −12.2
  and −4.4; at σ = 0.05 on circles −13.7 ± 18.5), so these move by several points
  with the seeds. The cause is the chip's
  0.2 dB/MZI insertion loss, not the noise: the time-reversal error of the sum pass is
  a same-sign bias that grows with the batch (see ``gradient_fidelity``). Sweeping the
  loss shows where the gap opens (``--set datasets=moons,circles --set
  methods=adjoint,in_situ,analog --set splitting_error_std_rad=0.02, --set fd_datasets=
  --set n_seeds=8 --set loss_db_per_mzi=L --set loss_spread_db=L/4`` for L = 0, 0.05,
  0.1, 0.15, 0.2): ``c − a`` of the 3-pass method on moons = −0.3, −1.5, −4.6, −7.1,
  −9.8 points (std over seeds 0.8–4.0), on circles −0.5, +0.5, −0.5, −0.6, −5.7 (std
  2.5–9.2); the analog method stays within 0.6 points of (a) at every loss. All of this is
  at ``adjoint_power_ratio = 1``; a weaker adjoint shrinks the bias (``compare``'s
  docstring has the numbers).
- (b) deploying the digitally trained phases costs accuracy that (c) recovers, more so
  as the splitting error grows and on the data set with the finest boundary — on
  average, not on every seed: at σ = 0.05, ``c − b`` (analog) = +4.0 ± 9.8 (+3.9,
  better in 4/5 seeds) points on moons, +1.7 ± 1.3 (+1.6, 5/5) on circles and +7.2 ±
  5.5 (+6.1, 4/5) on ring, while seed 0 alone gives −3.8, +1.0 and +5.3. With a few
  seeds the seed-to-seed spread is as large as the effect. With ``--set n_seeds=30
  --set methods=analog,in_situ --set splitting_error_std_rad=0.05`` (about 6 minutes
  on 2 idle cores; 12 with other work running) the paired differences are clear:
  ``c − b`` (analog) = +2.5 ± 0.7 (s.e.m.; one-sided paired t-test p = 5e-4, c better
  in 24/30 seeds) on moons, +3.7 ± 1.1 (p = 1e-3, 25/30) on circles, +5.5 ± 1.0 (p =
  2e-6, 28/30) on ring; its first 3 seeds are the default run's. The 3-pass method,
  biased by the loss, ends below (b) instead: −5.7, −1.8 and −3.2 points.
- Finite differences (200 steps, moons, 1 seed) reach 90.2 % (σ = 0.02) and 89.1 %
  (σ = 0.05): they work with a 0.1 rad step through the 10-bit DAC and the noise, but
  at 25–30× the time per step.
- Drift (opt-in, ``drift_rad_per_step``) is where training on the chip pays most:
  ``--set drift_rad_per_step=D --set datasets=moons --set methods=analog,adjoint --set
  splitting_error_std_rad=0.02, --set fd_datasets=`` (3 seeds, 1000 steps, so the
  held phases wander by D·√1000) gives (b) 95.3 / 74.5 / 46.4 % and (c) analog 95.2 /
  95.1 / 93.4 % for D = 0 / 0.01 / 0.03 rad: ``c − b`` = −0.1, +20.6 ± 13.2 and
  +47.0 ± 5.4 points (c better in 3/3 seeds at D > 0).

Randomness: ``child_rngs(seed, "data", "init", "chip", "noise", "train")``. A method's
noise stream is named by the method, and every σ has the same drawn errors (scaled by
σ) and the same noise streams, so the chips differ only by σ: ``--set
splitting_error_std_rad=0.05`` alone draws, seed for seed, what the default run draws
for its σ = 0.05, and reordering or dropping methods or σ leaves the others' numbers.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from digital.datasets import Dataset, check_dataset, dataset_name, load, read_dataset_file
from digital.losses import softmax_cross_entropy
from digital.optim import Adam
from digital.train import History, accuracy, train
from digital.validation import (
    check_choice,
    check_choices,
    check_nonnegative,
    check_positive,
    check_positive_int,
)
from photonic.imperfections import (
    DEFAULT_ADC_BITS,
    DEFAULT_IO_AMPLITUDE_ERROR,
    DEFAULT_IO_PHASE_ERROR,
    DEFAULT_LOSS_DB_PER_MZI,
    DEFAULT_LOSS_SPREAD_DB,
    DEFAULT_PHASE_NOISE_RAD,
    DEFAULT_SPLITTING_ERROR_STD_RAD,
    DEFAULT_TAP_NOISE,
    Chip,
    check_bits,
)
from photonic.mesh import Mesh
from photonic.network import PhotonicNetwork
from scenarios.framework import (
    Result,
    child_rngs,
    count,
    curve_band,
    map_jobs,
    new_figure,
    sample_std,
    save_figure,
    scenario_main,
    write_metrics,
)

__all__ = [
    "CHIP_NOISE",
    "DATASETS",
    "METHODS",
    "NAME",
    "PAI_REPORTED",
    "Config",
    "check_measurement",
    "check_pai_datasets",
    "dataset_size",
    "evaluate",
    "main",
    "run",
    "within_verdict",
]

NAME = "insitu_training"
"""Registry name of this scenario."""

Method = Literal["adjoint", "in_situ", "analog", "finite_difference"]
METHODS: tuple[str, ...] = get_args(Method)
Measurement = Literal["per_sample", "aggregated"]

#: Chip noise settings (``Chip.draw``'s names) of this scenario and of compare.
CHIP_NOISE: tuple[str, ...] = (
    "phase_noise_rad",
    "tap_noise",
    "io_amplitude_error",
    "io_phase_error",
    "drift_rad_per_step",
)


def check_measurement(
    measurement: str, methods: Sequence[str], *, adc_bits: int | None, phase_noise_rad: float
) -> None:
    """Refuse ``measurement="aggregated"`` for a tap-reading method on chips it cannot
    represent: aggregated read-out sums the taps over the batch before they are read,
    so an ADC and per-pass phase noise, which act on each sample's reading, are lost.

    Raises
    ------
    ValueError
        Naming the settings to change (this scenario's names).
    """
    check_choice(measurement, "measurement", get_args(Measurement))
    if measurement != "aggregated" or not any(m in methods for m in ("in_situ", "analog")):
        return
    problems, remedies = [], []
    if adc_bits is not None:
        problems.append(f"an ADC (adc_bits={adc_bits})")
        remedies.append("adc_bits=none")
    if phase_noise_rad > 0:
        problems.append(f"per-pass phase noise (phase_noise_rad={phase_noise_rad:g})")
        remedies.append("phase_noise_rad=0")
    if problems:
        raise ValueError(
            "measurement='aggregated' sums the taps over the batch before reading them, so "
            f"it cannot represent {' or '.join(problems)}; set {' and '.join(remedies)}, "
            "or use measurement='per_sample'"
        )


#: Two-feature, two-class data sets the Pai network can take, with Pai et al.'s sizes.
DATASETS: dict[str, int] = {"moons": 500, "circles": 250, "ring": 500, "spiral": 500, "xor": 500}
#: Features and classes of a data set the Pai network takes (a file must have them).
PAI_FEATURES, PAI_CLASSES = 2, 2


def dataset_size(dataset: str) -> int:
    """Points a data set is drawn with when no size is set: Pai et al.'s size of a
    built-in set (:data:`DATASETS`), every row of a dataset file.

    Parameters
    ----------
    dataset : str
        A name from :data:`DATASETS` or the path of a dataset file.

    Returns
    -------
    int
    """
    if dataset in DATASETS:
        return DATASETS[dataset]
    return read_dataset_file(dataset).n_samples


def check_pai_datasets(
    value: object, name: str, *, empty: Literal["refuse", "allow"] = "refuse"
) -> tuple[str, ...]:
    """A tuple of data sets for the Pai network: names from :data:`DATASETS` or paths of
    two-feature, two-class dataset files, no two with the same name (a file is named
    by its stem in the tables and summary keys).

    Parameters
    ----------
    value : object
        A tuple (or list) of strings.
    name : str
        The setting's name, for the messages.
    empty : {"refuse", "allow"}
        Whether ``()`` is allowed.

    Returns
    -------
    tuple of str
    """
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, tuple) or any(not isinstance(v, str) for v in value):
        raise ValueError(
            f"{name}={value!r} must be a tuple of names from {tuple(DATASETS)} or paths of "
            ".npz/.csv files"
        )
    if not value and empty == "refuse":
        raise ValueError(f"{name}=() must name at least one of {tuple(DATASETS)} or a file")
    for v in value:
        check_dataset(
            v, name, allowed=tuple(DATASETS), n_features=PAI_FEATURES, n_classes=PAI_CLASSES
        )
    labels = [dataset_name(v) for v in value]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ValueError(f"{name}={value!r} names {', '.join(map(repr, twice))} twice")
    return value


#: Pai et al. 2023 test accuracies (%), by data set and case (parameters.md).
PAI_REPORTED: dict[str, dict[str, str]] = {
    "moons": {
        "digital": "94.0 (simulation)",
        "deployed": "94.0 (on chip)",
        "on_chip": "~87-95 (in situ, read off figure)",
    },
    "circles": {"on_chip": "~80-95 (in situ, read off figure)"},
    "ring": {"digital": "100 (simulation)", "deployed": "90.0 (on chip)"},
}
CASE_LABELS = {
    "digital": "(a) digital, ideal chip",
    "deployed": "(b) (a) deployed on chip",
    "on_chip": "(c) trained on chip",
}
CURVE_METRICS: tuple[tuple[str, str], ...] = (
    ("loss", "loss"),
    ("test_loss", "test_loss"),
    ("test_accuracy", "test_accuracy"),
    ("train_accuracy", "train_accuracy"),
    ("grad_norm", "grad_norm"),
)
#: Acceptance threshold: in-situ training within this many points of (a).
WITHIN_POINTS = 5.0
_SEED_BOUND = 2**32

Array = NDArray[Any]


# --------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the in-situ training study.

    Parameters
    ----------
    datasets : tuple of str
        From :data:`DATASETS` (2 features, 2 classes), with Pai et al.'s sizes, or
        paths of ``.npz``/``.csv`` files with 2 features and 2 classes, every row used
        (``digital.datasets``); tables, plots and summary keys name a file by its stem.
    methods : tuple of str
        Gradient methods of case (c), from :data:`METHODS`.
    splitting_error_std_rad : tuple of float
        One imperfect chip per value (coupler splitting error σ, rad; the loss and the
        noise as the settings below, every other imperfection at its Chip.draw
        default). Values ≥ 0.
    loss_db_per_mzi : float
        Mean insertion loss per MZI of the imperfect chips, dB (≥ 0; default Chip.draw's,
        0.2). The 3-pass method's bias grows with the loss (time reversal of a lossy
        mesh), so this is the setting to sweep for it; 0 with ``loss_spread_db = 0``
        makes the chips lossless.
    loss_spread_db : float
        Spread (std) of the insertion loss between MZIs, dB (≥ 0; default Chip.draw's,
        0.05).
    phase_noise_rad : float
        Phase noise of every shifter on every pass of the imperfect chips, σ_φ in rad
        (≥ 0; default Chip.draw's, 0.01). This and the next three are the settings to
        sweep for accuracy against noise.
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
        Resolution of the imperfect chips' power detectors (``None``: ideal; default
        Chip.draw's, 8).
    n_seeds : int
        Seeds per data set.
    iterations : int
        Optimizer steps (about): each data set trains ``ceil(iterations / steps per
        epoch)`` epochs.
    batch_size : int
        Minibatch size.
    lr : float
        Adam learning rate.
    fd_datasets : tuple of str or None
        Data sets on which ``"finite_difference"`` runs (a subset of ``datasets``, as
        written there). ``None``: ``("moons",)`` if ``datasets`` has moons, else none
        (so ``--set datasets=my.csv`` runs without also clearing this).
    fd_seeds : int
        Finite differences run for the first ``fd_seeds`` seeds only.
    fd_iterations : int
        Optimizer steps of the finite-difference runs.
    fd_step_rad : float
        Phase step of finite differences, rad.
    measurement : str
        ``"per_sample"`` or ``"aggregated"`` tap read-out of the in-situ methods;
        ``"aggregated"`` needs ``adc_bits = None`` and ``phase_noise_rad = 0``.
    adjoint_power_ratio : float
        Power of the injected adjoint relative to the forward pass's, for the in-situ
        methods (> 0; default 1). Lower values shrink the 3-pass method's loss bias and
        let tap noise weigh more (:mod:`photonic.insitu`).
    eval_repeats : int
        Noisy forward passes averaged for the final accuracies.
    workers : int
        Processes running (data set, seed) jobs in parallel; 1 runs in this process. The
        numbers do not depend on it (every job has its own seeds).
    seed : int
        Root seed.
    """

    datasets: tuple[str, ...] = ("moons", "circles", "ring")
    methods: tuple[str, ...] = ("adjoint", "in_situ", "analog", "finite_difference")
    splitting_error_std_rad: tuple[float, ...] = (DEFAULT_SPLITTING_ERROR_STD_RAD, 0.05)
    loss_db_per_mzi: float = DEFAULT_LOSS_DB_PER_MZI
    loss_spread_db: float = DEFAULT_LOSS_SPREAD_DB
    phase_noise_rad: float = DEFAULT_PHASE_NOISE_RAD
    tap_noise: float = DEFAULT_TAP_NOISE
    io_amplitude_error: float = DEFAULT_IO_AMPLITUDE_ERROR
    io_phase_error: float = DEFAULT_IO_PHASE_ERROR
    drift_rad_per_step: float = 0.0
    adc_bits: int | None = DEFAULT_ADC_BITS
    n_seeds: int = 3
    iterations: int = 1000
    batch_size: int = 20
    lr: float = 0.02
    fd_datasets: tuple[str, ...] | None = None
    fd_seeds: int = 1
    fd_iterations: int = 200
    fd_step_rad: float = 0.1
    measurement: Measurement = "per_sample"
    adjoint_power_ratio: float = 1.0
    eval_repeats: int = 10
    workers: int = 2
    seed: int = 0

    RESULT_NEUTRAL_FIELDS: ClassVar[tuple[str, ...]] = ("workers",)
    """Settings the results do not depend on (see :mod:`scenarios.framework`)."""
    DATASET_FIELDS: ClassVar[tuple[str, ...]] = ("datasets", "fd_datasets")
    """Settings that name datasets (see :mod:`scenarios.framework`)."""

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("datasets", check_pai_datasets(self.datasets, "datasets"))
        put("methods", check_choices(self.methods, "methods", METHODS, empty="allow"))
        if self.fd_datasets is not None:
            fd = tuple(self.fd_datasets) if isinstance(self.fd_datasets, list) else self.fd_datasets
            if not isinstance(fd, tuple) or any(not isinstance(d, str) for d in fd):
                raise ValueError(
                    f"fd_datasets={self.fd_datasets!r} must be a tuple of entries of "
                    "datasets, or None"
                )
            put("fd_datasets", fd)
            extra = [d for d in fd if d not in self.datasets]
            if extra:
                raise ValueError(
                    f"fd_datasets={self.fd_datasets!r} names {extra}, which are not in "
                    f"datasets={self.datasets!r}"
                )
        sigmas = self.splitting_error_std_rad
        if isinstance(sigmas, list):
            sigmas = tuple(sigmas)
            put("splitting_error_std_rad", sigmas)
        if not isinstance(sigmas, tuple) or not sigmas:
            raise ValueError(
                f"splitting_error_std_rad={sigmas!r} must be a non-empty tuple of numbers ≥ 0"
            )
        sigmas = tuple(check_nonnegative(s, "splitting_error_std_rad") for s in sigmas)
        put("splitting_error_std_rad", sigmas)
        if len(set(sigmas)) != len(sigmas):
            raise ValueError(f"splitting_error_std_rad={sigmas!r} lists a value twice")
        for name in ("loss_db_per_mzi", "loss_spread_db", *CHIP_NOISE):
            put(name, check_nonnegative(getattr(self, name), name))
        for name in (
            "n_seeds",
            "iterations",
            "batch_size",
            "fd_iterations",
            "eval_repeats",
            "workers",
        ):
            check_positive_int(getattr(self, name), name)
        if isinstance(self.fd_seeds, bool) or not isinstance(self.fd_seeds, int):
            raise ValueError(f"fd_seeds={self.fd_seeds!r} must be an int ≥ 0")
        if self.fd_seeds < 0:
            raise ValueError(f"fd_seeds={self.fd_seeds!r} must be an int ≥ 0")
        check_positive(self.lr, "lr")
        check_positive(self.fd_step_rad, "fd_step_rad")
        put("adc_bits", check_bits(self.adc_bits, "adc_bits"))
        put("adjoint_power_ratio", check_positive(self.adjoint_power_ratio, "adjoint_power_ratio"))
        check_measurement(
            self.measurement,
            self.methods,
            adc_bits=self.adc_bits,
            phase_noise_rad=self.phase_noise_rad,
        )
        smallest = min(dataset_size(d) for d in self.datasets)
        if self.batch_size > int(smallest * 0.8):
            raise ValueError(
                f"batch_size={self.batch_size} exceeds the {int(smallest * 0.8)} training "
                "points of the smallest data set"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} must be a non-negative int")

    @property
    def fd_runs_on(self) -> tuple[str, ...]:
        """The entries of ``datasets`` that finite differences run on: ``fd_datasets``,
        or for ``None`` moons if ``datasets`` has it."""
        if self.fd_datasets is None:
            return ("moons",) if "moons" in self.datasets else ()
        return self.fd_datasets

    @classmethod
    def smoke(cls) -> Config:
        """A seconds-long run: moons only, one seed, a few dozen steps."""
        return cls(
            datasets=("moons",),
            splitting_error_std_rad=(0.05,),
            n_seeds=1,
            iterations=40,
            fd_iterations=2,
            eval_repeats=2,
            workers=1,
        )


# --------------------------------------------------------------------------- runs


def evaluate(net: PhotonicNetwork, x: Array, y: Array, repeats: int) -> tuple[float, float]:
    """Mean test accuracy and softmax cross-entropy over ``repeats`` forward passes.

    Parameters
    ----------
    net
        The network as programmed (on a noisy chip every pass has fresh noise).
    x, y
        Features ``(n, 2)`` and labels ``(n,)``.
    repeats
        Number of passes (≥ 1).

    Returns
    -------
    (accuracy, loss)
        Accuracy as a fraction in [0, 1]; loss in nats.
    """
    accs, losses = [], []
    for _ in range(check_positive_int(repeats, "repeats")):
        out = net.forward(x)
        accs.append(accuracy(out, y))
        losses.append(softmax_cross_entropy(out, y)[0])
    return float(np.mean(accs)), float(np.mean(losses))


def _epochs(iterations: int, n_train: int, batch_size: int) -> int:
    return max(1, math.ceil(iterations / math.ceil(n_train / batch_size)))


def _chip(sigma: float, cfg: Config, chip_seed: int) -> Chip:
    return Chip.draw(
        Mesh.reck(4),
        np.random.default_rng(chip_seed),
        splitting_error_std_rad=sigma,
        loss_db_per_mzi=cfg.loss_db_per_mzi,
        loss_spread_db=cfg.loss_spread_db,
        phase_noise_rad=cfg.phase_noise_rad,
        tap_noise=cfg.tap_noise,
        io_amplitude_error=cfg.io_amplitude_error,
        io_phase_error=cfg.io_phase_error,
        drift_rad_per_step=cfg.drift_rad_per_step,
        adc_bits=cfg.adc_bits,
    )


def _curve_rows(history: History, steps_per_epoch: int, **keys: Any) -> list[dict[str, Any]]:
    rows = []
    for i, epoch in enumerate(history.epoch):
        for metric, attribute in CURVE_METRICS:
            rows.append(
                {
                    **keys,
                    "epoch": int(epoch),
                    "iteration": int(epoch) * steps_per_epoch,
                    "metric": metric,
                    "value": float(getattr(history, attribute)[i]),
                }
            )
    return rows


def _final_rows(
    net: PhotonicNetwork,
    data: Dataset,
    repeats: int,
    *,
    wall_s: float,
    iterations: int,
    **keys: Any,
) -> list[dict[str, Any]]:
    test_acc, test_loss = evaluate(net, data.x_test, data.y_test, repeats)
    train_acc, _ = evaluate(net, data.x_train, data.y_train, repeats)
    return [
        {**keys, "metric": "final_test_accuracy", "value": test_acc},
        {**keys, "metric": "final_test_loss", "value": test_loss},
        {**keys, "metric": "final_train_accuracy", "value": train_acc},
        {**keys, "metric": "iterations", "value": iterations},
        {**keys, "metric": "wall_time_s", "value": wall_s},
    ]


def _train(
    net: PhotonicNetwork, data: Dataset, cfg: Config, epochs: int, order_seed: int
) -> tuple[History, float]:
    t0 = time.perf_counter()
    history = train(
        net,
        data,
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=cfg.lr),
        epochs=epochs,
        batch_size=cfg.batch_size,
        rng=np.random.default_rng(order_seed),
        progress="off",
    )
    return history, time.perf_counter() - t0


def _run_one(cfg: Config, dataset: str, seed_index: int, seeds: dict[str, int]) -> list[dict]:
    """Cases (a), (b) and (c) of one data set and seed."""
    data = load(dataset, n_samples=dataset_size(dataset), rng=np.random.default_rng(seeds["data"]))
    n_train = data.x_train.shape[0]
    steps = math.ceil(n_train / cfg.batch_size)
    epochs = _epochs(cfg.iterations, n_train, cfg.batch_size)
    init = PhotonicNetwork.pai2023(rng=np.random.default_rng(seeds["init"])).params()
    rows: list[dict[str, Any]] = []
    base = {"dataset": dataset_name(dataset), "seed": seed_index}

    digital = PhotonicNetwork.pai2023(rng=np.random.default_rng(0))
    digital.set_params(init)
    history, wall = _train(digital, data, cfg, epochs, seeds["train"])
    keys = {**base, "case": "digital", "method": "adjoint", "splitting_error_std_rad": None}
    rows += _curve_rows(history, steps, **keys)
    rows += _final_rows(
        digital, data, cfg.eval_repeats, wall_s=wall, iterations=epochs * steps, **keys
    )
    trained = digital.params()

    for sigma in cfg.splitting_error_std_rad:
        # every σ has the same drawn errors (scaled) and the same noise streams, so the
        # chips differ only by σ, and a run of one σ draws what a run of several does
        chip = _chip(sigma, cfg, seeds["chip"])
        deployed = PhotonicNetwork.pai2023(
            chip,
            rng=np.random.default_rng(0),
            noise_rng=np.random.default_rng((seeds["noise"], 0)),
            measurement=cfg.measurement,
        )
        deployed.set_params(trained)
        if cfg.drift_rad_per_step > 0:  # left running as long as (c) trains: it drifts
            for _ in range(epochs * steps):  # as (c): its initial phases, then each step
                deployed.set_params(trained)
        keys = {**base, "case": "deployed", "method": "adjoint", "splitting_error_std_rad": sigma}
        rows += _final_rows(deployed, data, cfg.eval_repeats, wall_s=0.0, iterations=0, **keys)
        for method in cfg.methods:
            # the noise stream of a method is fixed by its name, not its place in
            # cfg.methods: reordering or dropping methods leaves the others' results
            k = 1 + METHODS.index(method)
            run_epochs = epochs
            if method == "finite_difference":
                if dataset not in cfg.fd_runs_on or seed_index >= cfg.fd_seeds:
                    continue
                run_epochs = _epochs(cfg.fd_iterations, n_train, cfg.batch_size)
            net = PhotonicNetwork.pai2023(
                chip,
                rng=np.random.default_rng(0),
                noise_rng=np.random.default_rng((seeds["noise"], k)),
                gradient=method,  # type: ignore[arg-type]
                measurement=cfg.measurement,
                fd_step_rad=cfg.fd_step_rad,
                adjoint_power_ratio=cfg.adjoint_power_ratio,
            )
            net.set_params(init)
            history, wall = _train(net, data, cfg, run_epochs, seeds["train"])
            keys = {**base, "case": "on_chip", "method": method, "splitting_error_std_rad": sigma}
            rows += _curve_rows(history, steps, **keys)
            rows += _final_rows(
                net, data, cfg.eval_repeats, wall_s=wall, iterations=run_epochs * steps, **keys
            )
    return rows


# --------------------------------------------------------------------------- tables


def _labels(cfg: Config) -> tuple[str, ...]:
    """The names of ``cfg.datasets`` in the rows, tables and keys: a file's stem."""
    return tuple(dataset_name(d) for d in cfg.datasets)


_T = TypeVar("_T")


def _reported(cfg: Config, label: str, table: dict[str, _T]) -> _T | None:
    """``table[label]`` (Pai et al.'s numbers) for a built-in data set, ``None`` for a
    file, even one named like a built-in set (``moons.csv``), and for a set they did
    not report."""
    return table.get(label) if label in cfg.datasets else None


def _finals(
    rows: list[dict[str, Any]],
    *,
    dataset: str,
    case: str,
    method: str,
    sigma: float | None,
    metric: str = "final_test_accuracy",
    scale: float = 100.0,
) -> dict[int, float]:
    """A final number by seed index (default: test accuracy in %)."""
    return {
        r["seed"]: scale * r["value"]
        for r in rows
        if r["metric"] == metric
        and r["dataset"] == dataset
        and r["case"] == case
        and r["method"] == method
        and r["splitting_error_std_rad"] == sigma
    }


def _steps(
    rows: list[dict[str, Any]], *, dataset: str, case: str, method: str, sigma: float | None
) -> int | None:
    """The training steps a case ran (the most over its seeds), ``None`` if none ran."""
    steps = _finals(
        rows, dataset=dataset, case=case, method=method, sigma=sigma, metric="iterations", scale=1
    )
    return int(max(steps.values())) if steps else None


def _pm(values: Sequence[float], digits: int = 1) -> str:
    if not values:
        return "-"
    return f"{np.mean(values):.{digits}f} ± {sample_std(values):.{digits}f} (n={len(values)})"


def _accuracy_cases(
    cfg: Config, rows: list[dict[str, Any]]
) -> list[tuple[str, str, str, str, float | None, list[float]]]:
    """``(dataset, case label, case, method, σ, final test accuracies in %)`` per table row."""
    cases: list[tuple[str, str, str, str, float | None, list[float]]] = []

    def add(dataset: str, case: str, method: str, sigma: float | None, note: str = "") -> None:
        finals = _finals(rows, dataset=dataset, case=case, method=method, sigma=sigma)
        if not finals:
            return
        label = CASE_LABELS[case]
        if case != "digital":
            label += f" σ={sigma:g}"
        if case == "on_chip":
            label += f", {method}"
            if method == "adjoint":
                label += " (exact twin of chip)"
        cases.append((dataset, label + note, case, method, sigma, list(finals.values())))

    for dataset in _labels(cfg):
        add(dataset, "digital", "adjoint", None)
        for sigma in cfg.splitting_error_std_rad:
            add(dataset, "deployed", "adjoint", sigma)
            for method in cfg.methods:
                note = ""
                if method == "finite_difference":
                    steps = _steps(
                        rows, dataset=dataset, case="on_chip", method=method, sigma=sigma
                    )
                    if steps is not None:
                        note = f" [{steps} steps only]"
                add(dataset, "on_chip", method, sigma, note)
    return cases


def accuracy_table(cfg: Config, rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Final test accuracy (%) per data set and case, next to Pai et al.'s numbers."""
    return [
        {
            "dataset": dataset,
            "case": label,
            "test_accuracy_pct": _pm(finals),
            "pai2023_pct": (_reported(cfg, dataset, PAI_REPORTED) or {}).get(case, "-"),
        }
        for dataset, label, case, _, _, finals in _accuracy_cases(cfg, rows)
    ]


def mean_accuracies(cfg: Config, rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean final test accuracy (%) of every row of :func:`accuracy_table`, as numbers.

    Keys name no setting's value, so that a sweep over the settings keeps them:
    ``acc_mean_pct_<dataset>_<case>`` with case ``digital``, ``deployed`` or
    ``on_chip_<method>``, and ``_chip<k>`` (the chip's position in
    ``splitting_error_std_rad``, not its σ) only when the run has several σ. The rows
    trained on chip with measured gradients come first (a sweep plots the first
    number by default), then the exact twin.
    """
    several = len(cfg.splitting_error_std_rad) > 1
    ranked: list[tuple[int, str, float]] = []
    for dataset, _, case, method, sigma, finals in _accuracy_cases(cfg, rows):
        key = f"acc_mean_pct_{dataset}_{case}" + (f"_{method}" if case == "on_chip" else "")
        if several and sigma is not None:
            key += f"_chip{cfg.splitting_error_std_rad.index(sigma)}"
        # measured on chip, then the exact twin on chip, then (a) and (b)
        rank = (0 if method != "adjoint" else 1) if case == "on_chip" else 2
        ranked.append((rank, key, float(np.mean(finals))))
    ranked.sort(key=lambda item: item[0])  # stable: table order within a rank
    return {key: mean for _, key, mean in ranked}


def within_verdict(diff: Sequence[float]) -> str:
    """Whether paired differences ``c − a`` (points) are within :data:`WITHIN_POINTS`,
    judged with their uncertainty: ``"within 5"`` if the mean minus 2 s.e.m. is at or
    above −5, ``"NOT within 5"`` if the mean plus 2 s.e.m. is below it, else
    undecided. One seed has no spread: its verdict is the value's, and says so."""
    w, n, mean = WITHIN_POINTS, len(diff), float(np.mean(diff))
    if n < 2:
        return f"{'within' if mean >= -w else 'NOT within'} {w:g}; one seed, no spread"
    sem = float(np.std(diff, ddof=1)) / math.sqrt(n)
    if mean - 2 * sem >= -w:
        return f"within {w:g}"
    if mean + 2 * sem < -w:
        return f"NOT within {w:g}"
    return f"undecided: −{w:g} lies within 2 s.e.m. ({2 * sem:.1f}) of the mean"


def _paired(a: dict[int, float], b: dict[int, float]) -> list[float]:
    return [a[s] - b[s] for s in sorted(a) if s in b]


def acceptance(cfg: Config, rows: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, float]]:
    """The two acceptance comparisons as paired differences (points of test accuracy).

    1. ``c − a`` for every measured method on the chip with the default splitting error
       (if configured), per data set: within :data:`WITHIN_POINTS`, given the
       spread over seeds (:func:`within_verdict`)?
    2. ``c − b`` for every method on the chip with the largest splitting error.

    Returns the readable verdicts (keys name σ) and the mean differences as numbers
    (``c_minus_a_mean_<dataset>_<method>`` at every σ, with ``_chip<k>`` — the
    chip's position in ``splitting_error_std_rad`` — when there are several;
    ``c_minus_b_mean_…`` at the largest σ; no setting's value in a key, so sweeps
    keep them).
    """
    out: dict[str, str] = {}
    numbers: dict[str, float] = {}
    measured = [m for m in cfg.methods if m != "adjoint"]
    sigmas = cfg.splitting_error_std_rad
    for k, sigma in enumerate(sigmas):  # the numbers at every σ (sweeps over σ keep them)
        for dataset in _labels(cfg):
            a = _finals(rows, dataset=dataset, case="digital", method="adjoint", sigma=None)
            for method in measured:
                c = _finals(rows, dataset=dataset, case="on_chip", method=method, sigma=sigma)
                diff = _paired(c, a)
                if not diff:
                    continue
                mean = float(np.mean(diff))
                key = f"c_minus_a_mean_{dataset}_{method}"
                numbers[key + (f"_chip{k}" if len(sigmas) > 1 else "")] = mean
                if sigma == DEFAULT_SPLITTING_ERROR_STD_RAD:  # the verdict: default σ only
                    out[f"c_minus_a_{dataset}_{method}_sigma{sigma:g}"] = (
                        f"{_pm(diff)} points ({within_verdict(diff)})"
                        + _fd_note(rows, dataset=dataset, method=method, sigma=sigma)
                    )
    sigma = max(cfg.splitting_error_std_rad)
    for dataset in _labels(cfg):
        b = _finals(rows, dataset=dataset, case="deployed", method="adjoint", sigma=sigma)
        for method in cfg.methods:
            c = _finals(rows, dataset=dataset, case="on_chip", method=method, sigma=sigma)
            diff = _paired(c, b)
            if diff:
                numbers[f"c_minus_b_mean_{dataset}_{method}"] = float(np.mean(diff))
                wins = sum(d > 0 for d in diff)
                out[f"c_minus_b_{dataset}_{method}_sigma{sigma:g}"] = (
                    f"{_pm(diff)} points, mean ± std (c better in {wins}/{len(diff)} seeds"
                    f"{_paired_test(diff)})"
                    + _fd_note(rows, dataset=dataset, method=method, sigma=sigma)
                )
    return out, numbers


def _paired_test(diff: Sequence[float]) -> str:
    """Standard error of the mean paired difference and the one-sided t-test of c > b.

    ``p`` is the chance of a mean at least this far above 0 if the true mean
    difference were 0; "measurably worse" (b) means a small ``p``, not a win on every
    seed.
    """
    if len(diff) < 3 or np.std(diff) == 0:
        return ""
    sem = float(np.std(diff, ddof=1) / np.sqrt(len(diff)))
    p = float(stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue)
    return f"; s.e.m. of the mean {sem:.1f}, one-sided paired t-test p = {p:.2g}"


def _fd_note(rows: list[dict[str, Any]], *, dataset: str, method: str, sigma: float) -> str:
    """When finite differences trained fewer steps than the rest: how many, as run."""
    if method != "finite_difference":
        return ""
    fd = _steps(rows, dataset=dataset, case="on_chip", method=method, sigma=sigma)
    others = _steps(rows, dataset=dataset, case="digital", method="adjoint", sigma=None)
    if fd is None or others is None or fd >= others:
        return ""
    return f" [FD trained {fd} steps, not {others}]"


def format_table(table: list[dict[str, str]]) -> str:
    """A plain-text table (columns padded to their widest cell)."""
    if not table:
        return "(empty)"
    columns = list(table[0])
    widths = {c: max(len(c), *(len(r[c]) for r in table)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines.append("  ".join("-" * widths[c] for c in columns))
    lines.extend("  ".join(r[c].ljust(widths[c]) for c in columns) for r in table)
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def _mean_curve(
    rows: list[dict[str, Any]], metric: str, **keys: Any
) -> tuple[Array, Array, Array] | None:
    by_seed: dict[int, list[tuple[int, float]]] = {}
    for r in rows:
        if (
            r["metric"] == metric
            and r.get("epoch") is not None
            and all(r.get(k) == v for k, v in keys.items())
        ):
            by_seed.setdefault(r["seed"], []).append((r["iteration"], r["value"]))
    if not by_seed:
        return None
    return curve_band(by_seed)


def _plot_curves(cfg: Config, rows: list[dict[str, Any]], sigma: float, out_dir: Path) -> list:
    n = len(cfg.datasets)
    fig = new_figure(figsize=(10.0, 3.0 * n), layout="constrained")
    axes = np.asarray(fig.subplots(n, 2, squeeze=False))
    runs = [("digital", "adjoint", None, "(a) digital, ideal chip")] + [
        ("on_chip", m, sigma, f"(c) {m}" + (" (exact twin)" if m == "adjoint" else ""))
        for m in cfg.methods
    ]
    for row, dataset in enumerate(_labels(cfg)):
        ax_loss, ax_acc = axes[row]
        lowest: list[float] = []
        for case, method, s, label in runs:
            for ax, metric, scale in ((ax_loss, "loss", 1.0), (ax_acc, "test_accuracy", 100.0)):
                curve = _mean_curve(
                    rows,
                    metric,
                    dataset=dataset,
                    case=case,
                    method=method,
                    splitting_error_std_rad=s,
                )
                if curve is None:
                    continue
                it, mean, std = curve
                color = _bar_color(case, method)  # the bar chart's colours
                ax.plot(it, scale * mean, label=label, color=color)
                ax.fill_between(
                    it, scale * (mean - std), scale * (mean + std), color=color, alpha=0.15
                )
                if metric == "test_accuracy":  # the band's lower edge must show too
                    lowest.append(float(np.min(scale * (mean - std))))
        b = _finals(rows, dataset=dataset, case="deployed", method="adjoint", sigma=sigma)
        if b:
            level = float(np.mean(list(b.values())))
            ax_acc.axhline(level, color="k", linestyle=":", label="(b) (a) deployed on chip")
            lowest.append(level)
        ax_loss.set_ylabel("training loss (nats)")
        ax_acc.set_ylabel("test accuracy (%)")
        ax_acc.set_ylim(_accuracy_floor(lowest, 40.0), 101)
        for ax in (ax_loss, ax_acc):
            ax.set_xlabel("optimizer steps (iterations)")
            ax.grid(True, alpha=0.3)
        ax_loss.set_title(f"{dataset}: training loss")
        ax_acc.set_title(f"{dataset}: test accuracy")
    axes[0, 1].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"Pai 2023 network, chip with splitting error σ={sigma:g} rad, "
        f"{_chip_text(cfg)}; mean ± std over {count(cfg.n_seeds, 'seed')}",
        wrap=True,
    )
    return save_figure(fig, out_dir, f"curves_sigma{sigma:g}")


def _accuracy_floor(values: Sequence[float], default: float) -> float:
    """Lower y limit of an accuracy axis (%): ``default``, or lower (a multiple of 10,
    ≥ 0) when a plotted value would fall below it — a network near chance must show."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite or min(finite) >= default + 2:
        return default
    return max(0.0, 10.0 * math.floor((min(finite) - 2) / 10))


def _bar_color(case: str, method: str) -> str:
    """Gray for (a), black for (b), one colour per gradient method for (c): the same
    in the bar chart and the curves."""
    if case == "digital":
        return "0.6"
    if case == "deployed":
        return "0.15"
    return f"C{METHODS.index(method)}"


def _chip_text(cfg: Config) -> str:
    """The chips' loss and noise settings, for plot titles."""
    return (
        f"{cfg.loss_db_per_mzi:g} ± {cfg.loss_spread_db:g} dB/MZI, phase noise "
        f"{cfg.phase_noise_rad:g} rad, tap noise {cfg.tap_noise:g}, I/O errors "
        f"{cfg.io_amplitude_error:g} / {cfg.io_phase_error:g}π, "
        + (f"drift {cfg.drift_rad_per_step:g} rad/step, " if cfg.drift_rad_per_step else "")
        + ("ideal ADC" if cfg.adc_bits is None else f"{cfg.adc_bits}-bit ADC")
        + (
            f", adjoint at {cfg.adjoint_power_ratio:g}× the forward power"
            if cfg.adjoint_power_ratio != 1.0
            else ""
        )
    )


def _plot_finals(cfg: Config, rows: list[dict[str, Any]], out_dir: Path) -> list:
    fig = new_figure(figsize=(max(6.0, 3.8 * len(cfg.datasets)), 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(cfg.datasets))).ravel()
    for ax, dataset in zip(axes, _labels(cfg), strict=True):
        labels, means, stds, colors = [], [], [], []
        entries: list[tuple[str, str, float | None, str]] = [("digital", "adjoint", None, "(a)")]
        for s in cfg.splitting_error_std_rad:
            entries.append(("deployed", "adjoint", s, f"(b) σ={s:g}"))
            entries += [("on_chip", m, s, f"(c) {m} σ={s:g}") for m in cfg.methods]
        for case, method, sigma, label in entries:
            finals = list(
                _finals(rows, dataset=dataset, case=case, method=method, sigma=sigma).values()
            )
            if finals:
                labels.append(label)
                means.append(float(np.mean(finals)))
                stds.append(sample_std(finals))
                colors.append(_bar_color(case, method))
        pos = np.arange(len(labels))
        ax.bar(pos, means, yerr=stds, capsize=3, color=colors, alpha=0.8)
        ax.set_xticks(pos, labels, rotation=60, ha="right", fontsize=7)
        reported = _reported(cfg, dataset, {"moons": (94.0, 94.0), "ring": (100.0, 90.0)})
        if reported is not None and reported[0] == reported[1]:  # one line, both named
            ax.axhline(reported[0], color="g", ls="--", label="Pai: digital (sim.) = deployed")
        elif reported is not None:
            ax.axhline(reported[0], color="g", ls="--", label="Pai: digital (sim.)")
            ax.axhline(reported[1], color="r", ls=":", label="Pai: deployed on chip")
        band = _reported(cfg, dataset, {"moons": (87.0, 95.0), "circles": (80.0, 95.0)})
        if band is not None:
            ax.axhspan(*band, color="orange", alpha=0.15, label="Pai: in situ (range)")
        ax.set_ylim(_accuracy_floor([m - e for m, e in zip(means, stds, strict=True)], 50.0), 101)
        ax.set_ylabel("final test accuracy (%)")
        ax.set_title(dataset)
        ax.grid(True, axis="y", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(
        f"Final test accuracy on the chip, mean ± std over seeds (n ≤ {cfg.n_seeds}); "
        "gray (a) digital, black (b) deployed, colours (c) trained on chip; chips: "
        f"{_chip_text(cfg)}",
        wrap=True,
    )
    return save_figure(fig, out_dir, "final_accuracy")


# --------------------------------------------------------------------------- run


def run(cfg: Config, out_dir: Path, *, echo: Callable[[str], None] | None = print) -> Result:
    """Train every case, write the curves, the table and the acceptance numbers.

    Parameters
    ----------
    cfg : Config
        The study's settings.
    out_dir : Path
        Existing folder for figures and ``accuracy_table.csv``.
    echo : callable or None
        Where the table is printed (``None``: not printed).

    Returns
    -------
    Result
        ``metrics``: curves and final numbers (tidy); ``summary``: the acceptance
        comparisons and the final test accuracies.
    """
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    rngs = child_rngs(cfg.seed, "data", "init", "chip", "noise", "train")
    per_seed = {
        name: [int(v) for v in rngs[name].integers(_SEED_BOUND, size=cfg.n_seeds)]
        for name in ("data", "init", "chip", "noise", "train")
    }
    jobs = [
        (dataset, s, {name: values[s] for name, values in per_seed.items()})
        for dataset in cfg.datasets
        for s in range(cfg.n_seeds)
    ]
    results = map_jobs(
        _run_one,
        [(cfg, d, s, seeds) for d, s, seeds in jobs],
        workers=cfg.workers,
        desc="insitu_training",
    )
    rows = [row for job_rows in results for row in job_rows]
    write_metrics(rows, out_dir)  # before the plots: a full disk keeps the numbers

    table = accuracy_table(cfg, rows)
    with (out_dir / "accuracy_table.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(
            fh, fieldnames=["dataset", "case", "test_accuracy_pct", "pai2023_pct"]
        )
        writer.writeheader()
        writer.writerows(table)
    checks, differences = acceptance(cfg, rows)
    if echo is not None:
        echo("Final test accuracy (%), mean ± std over seeds, next to Pai et al. 2023")
        echo(format_table(table))
        echo("Acceptance (paired differences, points of test accuracy)")
        for key, value in checks.items():
            echo(f"  {key}: {value}")
    figures: list[Path] = []
    for sigma in cfg.splitting_error_std_rad:
        figures += _plot_curves(cfg, rows, sigma, out_dir)
    figures += _plot_finals(cfg, rows, out_dir)
    # numbers first (a sweep plots the first by default), then the readable texts
    summary: dict[str, float | str] = {**mean_accuracies(cfg, rows), **differences}
    summary.update(checks)
    for entry in table:
        summary[f"acc {entry['dataset']} {entry['case']}"] = entry["test_accuracy_pct"]
    summary["wall_time_s"] = round(time.perf_counter() - t0, 2)
    return Result(out_dir=out_dir, metrics=rows, summary=summary, figures=figures)


def main(argv: list[str] | None = None) -> int:
    """Run this scenario from the command line (``photonic-backprop run insitu_training``)."""
    return scenario_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
