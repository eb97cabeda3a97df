"""Pai et al. 2023 reproduction: their setup, our numbers next to the paper's, with differences.

What it covers
--------------
Pai, Sun, Hughes, ... Fan, Miller, "Experimentally realized in situ backpropagation for
deep learning in photonic neural networks", Science 380 (2023). Every published number
this project can simulate (``shared/reference/parameters.md``), each in one row of one
table with the paper's value, ours and the difference:

1. **Digitally trained weights, simulation vs device** (moons, ring). The network of
   :meth:`PhotonicNetwork.pai2023` (three 4×4 Reck layers on one chip, inputs = 2
   features + 2 bias ports at fixed power, ``|z|`` between layers, optical softmax over
   ports {0, 1} and {2, 3}, softmax cross-entropy) is trained with exact gradients on an
   ideal model ("simulation"), then the same phases are programmed onto an imperfect chip
   and evaluated there ("device"). Our device is :meth:`Chip.draw` with every default —
   it carries the paper's noise levels (tap noise 0.01, I/O amplitude and phase errors
   0.025) plus 0.2 dB/MZI loss, splitting error ``splitting_error_std_rad``, 10-bit DAC,
   thermal crosstalk, phase noise and an 8-bit ADC; the paper's device is their real
   chip, which we can only model. Train and test accuracy, 80/20 split.
2. **In-situ training** (moons, circle): trained from the same initial phases on that
   chip with the gradient measured on it, for each method of ``insitu_methods``
   (``"in_situ"`` = 3 passes forward/adjoint/sum, ``"analog"`` = 2-pass ±), Adam,
   ``iterations`` steps (paper: 1000–2000). Test accuracy, paper value read off their
   figure (a range).
3. **Gradient error ε = 1 − ĝ·g** (normalized) vs minibatch size (``eps_batches``,
   default 1, 2, 4, 10), on moons, for the network after ``eps_train_epochs`` of digital
   training, measured vs the exact gradient of the same pass on the same chip
   (:func:`scenarios.gradient_fidelity.measure_pai`), for each method and each chip
   profile of ``eps_profiles``: ``"pai_sim"`` (tap noise 0.01 + I/O errors 0.025 and
   nothing else: the paper's simulation noise) and ``"realistic"`` (every
   ``Chip.draw`` default). Paper: 0.016–0.020 for their analog batch measurement at
   batch 1–4; ≈ 0.03 at batch 1 to ≈ 0.3 at batch 10 during training (the method of the
   training measurement is not separated in our reference, so both methods are compared
   with it).
4. **The 64-port simulation.** The paper simulates a 64-port, 2-layer network trained in
   situ on MNIST (8×8 low-frequency FFT features): test error 2.97 % without noise,
   5.41 % with tap noise 0.02, 6.95 % with tap noise 0.02 plus I/O phase error 0.05π.
   **MNIST cannot be downloaded here; we use the 8×8 digits bundled with scikit-learn
   instead (1797 images, 10 classes) — a different, smaller and easier-to-overfit data
   set, so these rows compare the trend, not the number.** Features: the 64 pixels,
   standardized per pixel on the training part, amplitude-encoded on the 64 input ports
   at fixed total power. We do not take an FFT: for an 8×8 image the full 8×8 2-D DFT is
   unitary, so the paper's "8×8 low-frequency FFT" of an 8×8 image is the pixels in
   another basis, which the first (trainable, Haar-initialized) unitary mesh absorbs; for
   MNIST's 28×28 images it is a real low-pass compression that digits do not need.
   Network: two 64-port Reck (triangular) meshes, ``|z|`` between them, the powers of
   ports 0–9 as class scores (×10, softmax cross-entropy — the paper uses a normalized
   squared error), Adam. Gradient methods: ``"adjoint"`` (exact; a noiseless
   simulation measures exactly this) without noise, and the measured 3-pass
   ``"in_situ"`` gradient with ``"aggregated"`` tap read-out on the noisy chips (tap
   noise enters the batch-summed reading with exactly the per-sample statistics; the
   chips have no phase noise or ADC, which is what aggregation cannot represent). Noise
   is on every detected power (taps and outputs) and, for the I/O row, on every injected
   and measured field of every pass, training and test.

How to read the results
-----------------------
- ``table.md`` (paste into a note), ``table.csv`` (numbers: ``paper_low``,
  ``paper_high``, ``ours``, ``ours_std``, ``difference``) and the printed table: one row
  per published number. "difference" = ours − paper, and for a published *range* the
  distance to the nearest end (0 inside it); accuracies in percentage points. The
  printed difference says "within noise" when it is smaller than 2 standard errors of
  our mean: those runs cannot tell agreement from disagreement (more seeds can).
- ``report.html``: the table, the plots and the configuration on one offline page.
- ``metrics.csv``: tidy rows of every part, its ``part`` column ``comparison`` (the
  table's rows: ``key``, ``value``, ``std``, ``n``, ``difference``, ...),
  ``insitu_training`` and ``epsilon`` (the rows of those scenarios, with their
  columns) or ``digits64`` (test accuracy per epoch, seed and case); columns a part
  does not use are empty.
- ``paper_vs_ours.png``: every row, paper range vs ours ± std.
- ``insitu_training/``: the accuracy part as run by :mod:`scenarios.insitu_training`
  (its curves, final accuracies and ``accuracy_table.csv``).
- ``pai2023_epsilon.png``: ε vs batch size per chip profile (from
  :mod:`scenarios.gradient_fidelity`). ``digits64_curves.png``: test error vs epoch of
  the three 64-port runs with the paper's MNIST levels.
- Accuracies are means ± std over ``n_seeds`` seeds (data draw, initial phases, chip,
  noise, order); ε over ``eps_repeats`` draws; the 64-port rows over ``digits_seeds``
  seeds (paired across the three cases: same split, initial phases and minibatch
  order), each evaluated as the mean over ``digits_eval_repeats`` noisy passes of the
  test set (359 images: one image is 0.28 points).

Randomness: ``child_rngs(seed, "insitu", "eps", "digits")``; each part derives its own
named streams from its child.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from digital.datasets import load
from digital.optim import Adam
from digital.train import History, train
from digital.validation import (
    check_choice,
    check_choices,
    check_nonnegative,
    check_positive,
    check_positive_int,
)
from photonic.imperfections import DEFAULT_SPLITTING_ERROR_STD_RAD, Chip
from photonic.mesh import Mesh
from photonic.network import PAI2023_READOUT_SCALE, PhotonicNetwork
from scenarios import gradient_fidelity, insitu_training
from scenarios.framework import (
    Result,
    child_rngs,
    count,
    map_jobs,
    new_figure,
    sample_std,
    save_figure,
    scenario_main,
    write_metrics,
)
from scenarios.report_html import Figure, Table, run_info, write_report

__all__ = [
    "DIGITS_CASES",
    "NAME",
    "Comparison",
    "Config",
    "Reference",
    "digits_network",
    "main",
    "run",
]

NAME = "pai2023"
"""Registry name of this scenario."""

InSituMethod = Literal["in_situ", "analog"]
Measurement = Literal["per_sample", "aggregated"]
_SEED_BOUND = 2**31 - 1

#: The 64-port network: ports, features (8×8 pixels), classes.
DIGITS_PORTS = 64
DIGITS_CLASSES = 10
#: The three noise cases of the 64-port simulation, in the paper's order.
DIGITS_CASES: tuple[str, ...] = ("no_noise", "tap", "tap_io")

Array = NDArray[Any]


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class Reference:
    """A published number: a value (``low == high``) or a range, and how the paper says it.

    Parameters
    ----------
    low, high : float
        The range, in the unit of the row (a single value has ``low == high``).
    text : str
        The paper's value as written in the table (e.g. ``"≈ 87–95 % (read off figure)"``).
    """

    low: float
    high: float
    text: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ValueError(f"Reference({self.low!r}, {self.high!r}) must have low ≤ high")

    def difference(self, ours: float) -> float:
        """``ours − paper``; for a range, ``ours`` minus the nearest end (0 inside it)."""
        return float(ours - min(max(ours, self.low), self.high))


#: Pai et al. 2023 (parameters.md): digitally trained weights, accuracy in %.
PAPER_DEPLOYED: dict[tuple[str, str, str], Reference] = {
    ("moons", "simulation", "train"): Reference(96.5, 96.5, "96.5 %"),
    ("moons", "simulation", "test"): Reference(94.0, 94.0, "94.0 %"),
    ("moons", "device", "train"): Reference(96.0, 96.0, "96.0 %"),
    ("moons", "device", "test"): Reference(94.0, 94.0, "94.0 %"),
    ("ring", "simulation", "train"): Reference(96.75, 96.75, "96.75 %"),
    ("ring", "simulation", "test"): Reference(100.0, 100.0, "100 %"),
    ("ring", "device", "train"): Reference(89.5, 89.5, "89.5 %"),
    ("ring", "device", "test"): Reference(90.0, 90.0, "90.0 %"),
}
#: In-situ training, test accuracy in % (read off the paper's figure).
PAPER_INSITU: dict[str, Reference] = {
    "moons": Reference(87.0, 95.0, "≈ 87–95 % (read off figure)"),
    "circles": Reference(80.0, 95.0, "≈ 80–95 % (read off figure)"),
}
#: Gradient error ε by minibatch size.
PAPER_EPSILON: dict[int, Reference] = {
    1: Reference(0.016, 0.03, "0.016–0.020 (analog, batch); ≈ 0.03 (training)"),
    2: Reference(0.016, 0.020, "0.016–0.020 (analog, batch)"),
    4: Reference(0.016, 0.020, "0.016–0.020 (analog, batch)"),
    10: Reference(0.3, 0.3, "≈ 0.3 (training)"),
}
#: 64-port simulation on MNIST, test error in %.
PAPER_DIGITS: dict[str, Reference] = {
    "no_noise": Reference(2.97, 2.97, "2.97 % (MNIST)"),
    "tap": Reference(5.41, 5.41, "5.41 % (MNIST)"),
    "tap_io": Reference(6.95, 6.95, "6.95 % (MNIST)"),
}
DATASET_LABELS = {"moons": "moons", "ring": "ring", "circles": "circle"}
#: Short labels of the ε chip profiles (:data:`scenarios.gradient_fidelity.PAI_PROFILES`).
EPS_PROFILE_LABELS = {
    "tap": "tap noise 0.01",
    "pai_sim": "Pai noise (tap 0.01, I/O 0.025)",
    "realistic": "all Chip.draw defaults",
    "lossy": "0.2 dB/MZI loss only",
}


@dataclass(frozen=True)
class Comparison:
    """One row of the comparison table.

    Attributes
    ----------
    key : str
        Stable short id (e.g. ``"moons.device.test"``).
    section : str
        Which part of the paper.
    quantity : str
        What is compared, in words.
    method : str
        The gradient method (and read-out) our number used.
    unit : str
        ``"%"`` (accuracy or error, differences in percentage points) or ``""`` (ε).
    paper : Reference or None
        The published value; ``None`` where the paper gives none.
    ours, ours_std : float
        Our mean and standard deviation (0 for a single run).
    n : int
        Number of runs or draws behind ``ours``.
    note : str
        What differs from the paper's setup.
    """

    key: str
    section: str
    quantity: str
    method: str
    unit: str
    paper: Reference | None
    ours: float
    ours_std: float
    n: int
    note: str = ""

    @property
    def difference(self) -> float | None:
        """``ours − paper`` (nearest end of a range, 0 inside); ``None`` without a paper value."""
        return None if self.paper is None else self.paper.difference(self.ours)

    def ours_text(self) -> str:
        """Ours as ``mean ± std unit (n=…)``."""
        fmt = ".1f" if self.unit == "%" else ".4f"
        text = format(self.ours, fmt)
        if self.n > 1:
            text += f" ± {format(self.ours_std, fmt)}"
        if self.unit:
            text += f" {self.unit}"
        return text + (f" (n={self.n})" if self.n > 1 else "")

    def difference_text(self) -> str:
        """The difference in words: points for percentages, absolute and ratio for ε;
        marked "within noise" when it is below 2 standard errors of our mean (then the
        runs cannot tell agreement from disagreement)."""
        diff = self.difference
        if diff is None or self.paper is None:
            return "n/a (no published value)"
        if diff == 0:
            return "0 (within the published range)" if self.paper.low < self.paper.high else "0"
        sem = self.ours_std / math.sqrt(self.n) if self.n > 1 else 0.0
        noise = f"; within noise, 2 s.e.m. = {2 * sem:.2g}" if abs(diff) < 2 * sem else ""
        if self.unit == "%":
            return f"{round(diff, 1) + 0.0:+.1f} pts{noise}"  # + 0.0: no "-0.0"
        nearest = self.paper.low if diff < 0 else self.paper.high
        return f"{round(diff, 4) + 0.0:+.4f} (×{self.ours / nearest:.2g} of {nearest:g}){noise}"


# --------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the Pai et al. 2023 reproduction.

    Parameters
    ----------
    n_seeds : int
        Seeds of the accuracy parts (1 and 2).
    iterations : int
        Optimizer steps (about) of every 4-port training (paper: 1000–2000).
    batch_size : int
        Minibatch size of the 4-port trainings.
    lr : float
        Adam learning rate of the 4-port trainings.
    insitu_methods : tuple of str
        Measured gradient methods (``"in_situ"``, ``"analog"``) of parts 2 and 3.
    splitting_error_std_rad : float
        Coupler splitting error of the device chip, rad (other imperfections at the
        ``Chip.draw`` defaults).
    eval_repeats : int
        Noisy passes averaged for the 4-port accuracies on the chip.
    eps_profiles : tuple of str
        Chip profiles of the ε study (:data:`scenarios.gradient_fidelity.PAI_PROFILES`).
    eps_batches : tuple of int
        Minibatch sizes of the ε study.
    eps_repeats : int
        Draws (network, minibatch, chip, noise) per ε point.
    eps_train_epochs : int
        Digital training epochs of the network whose gradient is measured.
    digits_n_samples : int or None
        Digits images used (``None``: all 1797), split 80/20.
    digits_seeds : int
        Seeds of every 64-port case (data split, initial phases, noise, order; paired
        across the cases).
    digits_layers : int
        Mesh layers of the 64-port network (paper: 2).
    digits_epochs : int
        Epochs of Adam training of the 64-port network.
    digits_batch_size : int
        Minibatch size of that training.
    digits_lr : float
        Adam learning rate of that training.
    digits_tap_noise : float
        Tap noise ``s`` of the noisy 64-port cases (paper: 0.02).
    digits_io_phase_error : float
        I/O phase error σ_p of the last case, in units of π (paper: 0.05, i.e. 0.05π).
    digits_method : str
        Measured gradient of the noisy 64-port cases: ``"in_situ"`` (3-pass, as the
        paper's simulation) or ``"analog"``.
    digits_measurement : str
        Tap read-out of the noisy cases: ``"aggregated"`` (fast, exact statistics for
        these chips) or ``"per_sample"``.
    digits_eval_repeats : int
        Noisy passes averaged for the 64-port test errors.
    workers : int
        Processes for the independent runs (1: this process); numbers do not depend on it.
    seed : int
        Root seed.
    """

    n_seeds: int = 3
    iterations: int = 1000
    batch_size: int = 20
    lr: float = 0.02
    insitu_methods: tuple[str, ...] = ("in_situ", "analog")
    splitting_error_std_rad: float = DEFAULT_SPLITTING_ERROR_STD_RAD
    eval_repeats: int = 10
    eps_profiles: tuple[str, ...] = ("pai_sim", "realistic")
    eps_batches: tuple[int, ...] = (1, 2, 4, 10)
    eps_repeats: int = 20
    eps_train_epochs: int = 10
    digits_n_samples: int | None = None
    digits_seeds: int = 2
    digits_layers: int = 2
    digits_epochs: int = 15
    digits_batch_size: int = 32
    digits_lr: float = 0.01
    digits_tap_noise: float = 0.02
    digits_io_phase_error: float = 0.05
    digits_method: InSituMethod = "in_situ"
    digits_measurement: Measurement = "aggregated"
    digits_eval_repeats: int = 3
    workers: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(
            self,
            "insitu_methods",
            check_choices(self.insitu_methods, "insitu_methods", ("in_situ", "analog")),
        )
        put(
            self,
            "eps_profiles",
            check_choices(self.eps_profiles, "eps_profiles", tuple(gradient_fidelity.PAI_PROFILES)),
        )
        batches = self.eps_batches
        if isinstance(batches, list):
            batches = tuple(batches)
            put(self, "eps_batches", batches)
        if not isinstance(batches, tuple) or not batches:
            raise ValueError(f"eps_batches={batches!r} must be a non-empty tuple of ints ≥ 1")
        for b in batches:
            check_positive_int(b, "eps_batches")
        if len(set(batches)) != len(batches):
            raise ValueError(f"eps_batches={batches!r} lists a batch size twice")
        for name in (
            "n_seeds",
            "iterations",
            "batch_size",
            "eval_repeats",
            "eps_repeats",
            "eps_train_epochs",
            "digits_seeds",
            "digits_layers",
            "digits_epochs",
            "digits_batch_size",
            "digits_eval_repeats",
            "workers",
        ):
            check_positive_int(getattr(self, name), name)
        if self.digits_n_samples is not None:
            check_positive_int(self.digits_n_samples, "digits_n_samples")
            if self.digits_n_samples < 10 * DIGITS_CLASSES:
                raise ValueError(
                    f"digits_n_samples={self.digits_n_samples} must be ≥ {10 * DIGITS_CLASSES} "
                    "(every class in both parts of the split)"
                )
        check_positive(self.lr, "lr")
        check_positive(self.digits_lr, "digits_lr")
        for name in ("splitting_error_std_rad", "digits_tap_noise", "digits_io_phase_error"):
            object.__setattr__(self, name, check_nonnegative(getattr(self, name), name))
        check_choice(self.digits_method, "digits_method", get_args(InSituMethod))
        check_choice(self.digits_measurement, "digits_measurement", get_args(Measurement))
        smallest = min(insitu_training.DATASETS[d] for d in ("moons", "circles", "ring"))
        if self.batch_size > int(0.8 * smallest):
            raise ValueError(
                f"batch_size={self.batch_size} exceeds the {int(0.8 * smallest)} training "
                "points of the circle data set"
            )
        if max(self.eps_batches) > int(0.8 * gradient_fidelity.PAI_DATA_SAMPLES):
            raise ValueError(f"eps_batches={self.eps_batches!r} exceed the training points")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} must be a non-negative int")

    @classmethod
    def smoke(cls) -> Config:
        """A seconds-long run with every row of the table: one seed, few steps, few draws."""
        return cls(
            n_seeds=1,
            iterations=40,
            eval_repeats=2,
            eps_repeats=2,
            eps_train_epochs=1,
            digits_n_samples=300,
            digits_seeds=1,
            digits_epochs=1,
            digits_eval_repeats=1,
            workers=1,
        )


# --------------------------------------------------------------------------- part 1 + 2


def _insitu_config(cfg: Config, seed: int) -> insitu_training.Config:
    return insitu_training.Config(
        datasets=("moons", "circles", "ring"),
        methods=cfg.insitu_methods,
        splitting_error_std_rad=(cfg.splitting_error_std_rad,),
        n_seeds=cfg.n_seeds,
        iterations=cfg.iterations,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        fd_datasets=(),
        fd_seeds=0,
        measurement="per_sample",
        eval_repeats=cfg.eval_repeats,
        workers=cfg.workers,
        seed=seed,
    )


def _finals(
    rows: list[dict[str, Any]], *, dataset: str, case: str, method: str, metric: str
) -> list[float]:
    return [
        100.0 * r["value"]
        for r in rows
        if r["metric"] == metric
        and r["dataset"] == dataset
        and r["case"] == case
        and r["method"] == method
    ]


def _stats(values: Sequence[float]) -> tuple[float, float, int]:
    return float(np.mean(values)), sample_std(values), len(values)


def _accuracy_rows(cfg: Config, rows: list[dict[str, Any]]) -> list[Comparison]:
    out: list[Comparison] = []
    cases = {"simulation": "digital", "device": "deployed"}
    for (dataset, where, split), ref in PAPER_DEPLOYED.items():
        values = _finals(
            rows,
            dataset=dataset,
            case=cases[where],
            method="adjoint",
            metric=f"final_{split}_accuracy",
        )
        mean, std, n = _stats(values)
        out.append(
            Comparison(
                key=f"{dataset}.{where}.{split}",
                section="digitally trained weights",
                quantity=f"{DATASET_LABELS[dataset]}, {where}, {split} accuracy",
                method="adjoint, ideal model",
                unit="%",
                paper=ref,
                ours=mean,
                ours_std=std,
                n=n,
                note="" if where == "simulation" else "model chip, not theirs",
            )
        )
    for dataset, ref in PAPER_INSITU.items():
        for method in cfg.insitu_methods:
            values = _finals(
                rows, dataset=dataset, case="on_chip", method=method, metric="final_test_accuracy"
            )
            mean, std, n = _stats(values)
            out.append(
                Comparison(
                    key=f"{dataset}.insitu.{method}",
                    section="in-situ training",
                    quantity=f"{DATASET_LABELS[dataset]}, trained in situ, test accuracy",
                    method=_method_text(method),
                    unit="%",
                    paper=ref,
                    ours=mean,
                    ours_std=std,
                    n=n,
                    note=f"{cfg.iterations} steps",
                )
            )
    return out


def _method_text(method: str) -> str:
    passes = {"in_situ": "3-pass", "analog": "2-pass"}
    return f"{method} ({passes[method]})" if method in passes else method


# --------------------------------------------------------------------------- part 3


def _eps_config(cfg: Config, seed: int) -> gradient_fidelity.Config:
    return gradient_fidelity.Config(
        methods=cfg.insitu_methods,
        pai_profiles=cfg.eps_profiles,
        pai_states=("trained",),
        pai_batches=cfg.eps_batches,
        pai_repeats=cfg.eps_repeats,
        pai_train_epochs=cfg.eps_train_epochs,
        measurement="per_sample",
        seed=seed,
    )


def _eps_rows(cfg: Config, rows: list[dict[str, Any]]) -> list[Comparison]:
    out: list[Comparison] = []
    for profile in cfg.eps_profiles:
        for method in cfg.insitu_methods:
            for batch in cfg.eps_batches:
                row = next(
                    r
                    for r in rows
                    if r["study"] == "pai2023"
                    and r["profile"] == profile
                    and r["batch"] == batch
                    and r["method"] == method
                    and r["metric"] == "epsilon"
                )
                out.append(
                    Comparison(
                        key=f"eps.{profile}.{method}.B{batch}",
                        section="gradient error ε",
                        quantity=f"ε, batch {batch}, {EPS_PROFILE_LABELS.get(profile, profile)}",
                        method=_method_text(method),
                        unit="",
                        paper=PAPER_EPSILON.get(batch),
                        ours=float(row["mean"]),
                        ours_std=float(row["std"]),
                        n=int(row["n"]),
                        note="",
                    )
                )
    return out


# --------------------------------------------------------------------------- part 4


def digits_network(
    cfg: Config,
    chip: Chip | None,
    *,
    rng: np.random.Generator,
    noise_rng: np.random.Generator | None,
    gradient: Literal["adjoint", "in_situ", "analog"],
) -> PhotonicNetwork:
    """The 64-port network of the paper's simulation (see the module docstring).

    Parameters
    ----------
    cfg
        Supplies ``digits_layers`` and ``digits_measurement``.
    chip
        ``None`` (ideal) or a 64-port Reck chip.
    rng, noise_rng
        Initial phases (Haar); per-pass noise (required on a noisy chip).
    gradient
        Gradient method of :meth:`PhotonicNetwork.backward`.
    """
    return PhotonicNetwork(
        DIGITS_PORTS,
        cfg.digits_layers,
        n_features=DIGITS_PORTS,
        rng=rng,
        normalization="fixed_power",
        topology="reck",
        activation="abs",
        readout_groups=[(c,) for c in range(DIGITS_CLASSES)],
        readout_scale=PAI2023_READOUT_SCALE,
        chip=chip,
        noise_rng=noise_rng,
        gradient=gradient,
        measurement=cfg.digits_measurement,
    )


def _digits_chip(cfg: Config, case: str, chip_seed: int) -> Chip | None:
    if case == "no_noise":
        return None
    settings = {**gradient_fidelity.QUIET_CHIP, "tap_noise": cfg.digits_tap_noise}
    if case == "tap_io":
        settings["io_phase_error"] = cfg.digits_io_phase_error
    return Chip.draw(Mesh.reck(DIGITS_PORTS), np.random.default_rng(chip_seed), **settings)


def _digits_method(cfg: Config, case: str) -> Literal["adjoint", "in_situ", "analog"]:
    return "adjoint" if case == "no_noise" else cfg.digits_method


def _run_digits(cfg: Config, case: str, seed_index: int, seeds: dict[str, int]) -> dict[str, Any]:
    """Train the 64-port network of one noise case and seed; its history and test error."""
    data = load("digits", n_samples=cfg.digits_n_samples, rng=np.random.default_rng(seeds["data"]))
    chip = _digits_chip(cfg, case, seeds["chip"])
    net = digits_network(
        cfg,
        chip,
        rng=np.random.default_rng(seeds["init"]),
        noise_rng=None if chip is None else np.random.default_rng(seeds["noise"]),
        gradient=_digits_method(cfg, case),
    )
    t0 = time.perf_counter()
    history = train(
        net,
        data,
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=cfg.digits_lr),
        lr_name="digits_lr",
        epochs=cfg.digits_epochs,
        batch_size=cfg.digits_batch_size,
        rng=np.random.default_rng(seeds["train"]),
        progress="off",
    )
    wall = time.perf_counter() - t0
    repeats = 1 if chip is None else cfg.digits_eval_repeats
    test_acc, _ = insitu_training.evaluate(net, data.x_test, data.y_test, repeats)
    return {
        "case": case,
        "seed": seed_index,
        "history": history,
        "test_error_pct": 100.0 * (1.0 - test_acc),
        "n_train": int(data.x_train.shape[0]),
        "n_test": int(data.x_test.shape[0]),
        "wall_time_s": wall,
    }


def _digits(cfg: Config, seeds: list[dict[str, int]]) -> list[dict[str, Any]]:
    """Every (noise case, seed) run; seed ``s`` of every case shares data, init and order."""
    jobs = [(case, s) for s in range(len(seeds)) for case in DIGITS_CASES]
    return map_jobs(
        _run_digits,
        [(cfg, case, s, seeds[s]) for case, s in jobs],
        workers=cfg.workers,
        desc="64-port digits",
        blas_threads=1,  # two processes on two cores; the same count when serial
    )


def _digits_rows(cfg: Config, results: list[dict[str, Any]]) -> list[Comparison]:
    labels = {
        "no_noise": "no noise",
        "tap": f"tap noise {cfg.digits_tap_noise:g}",
        "tap_io": f"tap {cfg.digits_tap_noise:g} + I/O phase {cfg.digits_io_phase_error:g}π",
    }
    out = []
    for case in DIGITS_CASES:
        errors = [r["test_error_pct"] for r in results if r["case"] == case]
        mean, std, n = _stats(errors)
        method = _digits_method(cfg, case)
        method_text = (
            "adjoint (exact)"
            if method == "adjoint"
            else f"{_method_text(method)}, {cfg.digits_measurement} taps"
        )
        out.append(
            Comparison(
                key=f"digits64.{case}",
                section="64-port simulation (digits stand in for MNIST)",
                quantity=f"64-port, test error, {labels[case]}",
                method=method_text,
                unit="%",
                paper=PAPER_DIGITS[case],
                ours=mean,
                ours_std=std,
                n=n,
                note="digits, not MNIST",
            )
        )
    return out


# --------------------------------------------------------------------------- table


COLUMNS = ("#", "quantity", "our gradient", "Pai et al. 2023", "ours", "difference", "note")


def comparison_table(rows: Sequence[Comparison]) -> Table:
    """The comparison rows as one :class:`Table` (accuracies and errors in %)."""
    cells = []
    for i, r in enumerate(rows, start=1):
        paper = "-" if r.paper is None else r.paper.text
        cells.append(
            (str(i), r.quantity, r.method, paper, r.ours_text(), r.difference_text(), r.note)
        )
    return Table(
        "Pai et al., Science 380 (2023) vs this simulator (difference = ours − paper; for a "
        "published range, distance to its nearest end)",
        COLUMNS,
        tuple(cells),
    )


def _write_csv(rows: Sequence[Comparison], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "key",
                "section",
                "quantity",
                "method",
                "unit",
                "paper_text",
                "paper_low",
                "paper_high",
                "ours",
                "ours_std",
                "n",
                "difference",
                "note",
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    r.key,
                    r.section,
                    r.quantity,
                    r.method,
                    r.unit,
                    "" if r.paper is None else r.paper.text,
                    "" if r.paper is None else r.paper.low,
                    "" if r.paper is None else r.paper.high,
                    r.ours,
                    r.ours_std,
                    r.n,
                    "" if r.difference is None else r.difference,
                    r.note,
                ]
            )
    return path


# --------------------------------------------------------------------------- plots


def _plot_comparison(rows: Sequence[Comparison], out_dir: Path) -> list[Path]:
    groups = [
        ("accuracy (%)", [r for r in rows if r.unit == "%" and not r.key.startswith("digits")]),
        ("ε = 1 − cos (log)", [r for r in rows if r.unit == ""]),
        ("64-port test error (%)", [r for r in rows if r.key.startswith("digits")]),
    ]
    heights = [max(1.5, 0.28 * len(g) + 0.6) for _, g in groups]
    fig = new_figure(figsize=(10.0, sum(heights) + 0.8), layout="constrained")
    axes = fig.subplots(len(groups), 1, gridspec_kw={"height_ratios": heights})
    for ax, (label, group) in zip(axes, groups, strict=True):
        pos = np.arange(len(group))[::-1]
        for y, r in zip(pos, group, strict=True):
            if r.paper is not None:
                width = max(r.paper.high - r.paper.low, 0.0)
                if width > 0:
                    ax.barh(y, width, left=r.paper.low, height=0.6, color="0.75")
                else:
                    ax.plot(r.paper.low, y, "k|", ms=12, mew=2)
            lower = min(r.ours_std, 0.9 * r.ours) if r.unit == "" else r.ours_std  # log axis
            ax.errorbar(
                r.ours, y, xerr=[[lower], [r.ours_std]], fmt="o", color="C3", ms=4, capsize=2
            )
        ax.set_yticks(pos, [r.key for r in group], fontsize=7)
        ax.set_xlabel(label)
        if r.unit == "":
            ax.set_xscale("log")
        ax.grid(True, axis="x", which="both", alpha=0.3)
    axes[0].set_title(
        "Pai et al. 2023 (grey range / black tick) vs ours (red, ± std); "
        "64-port rows: digits, not MNIST"
    )
    return save_figure(fig, out_dir, "paper_vs_ours")


def _plot_digits(cfg: Config, results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    fig = new_figure(figsize=(8.0, 4.0), layout="constrained")
    ax = fig.subplots()
    for i, case in enumerate(DIGITS_CASES):
        runs = [r["history"] for r in results if r["case"] == case]
        epochs = np.asarray(runs[0].epoch)
        errors = np.array([[100.0 * (1.0 - a) for a in h.test_accuracy] for h in runs])
        mean, std = errors.mean(axis=0), sample_std(errors, axis=0)
        color = f"C{i}"
        ax.plot(epochs, mean, color=color, marker="o", ms=3, label=f"ours: {case}")
        if len(runs) > 1:
            ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.15)
        ax.axhline(PAPER_DIGITS[case].low, color=color, ls="--", label=f"Pai 2023 (MNIST): {case}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test error (%), one noisy pass per epoch")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(
        f"64-port, {cfg.digits_layers}-layer network on sklearn 8×8 digits (stand-in for MNIST), "
        f"mean ± std over {count(cfg.digits_seeds, 'seed')}",
        fontsize=10,
    )
    return save_figure(fig, out_dir, "digits64_curves")


# --------------------------------------------------------------------------- run


def _derived(rng: np.random.Generator, *names: str) -> dict[str, int]:
    return {name: int(rng.integers(_SEED_BOUND)) for name in names}


def run(cfg: Config, out_dir: Path, *, echo: Callable[[str], None] | None = print) -> Result:
    """Run the four parts, write the comparison table, the plots and ``report.html``.

    Parameters
    ----------
    cfg : Config
        The study's settings.
    out_dir : Path
        Existing run folder.
    echo : callable or None
        Where the table is printed (``None``: not printed).

    Returns
    -------
    Result
        ``metrics``: one tidy row per comparison (``key, section, metric, paper_low,
        paper_high, value, std, n, difference``) plus the rows of the parts;
        ``summary``: one line per comparison.
    """
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    rngs = child_rngs(cfg.seed, "insitu", "eps", "digits")
    insitu_seed = int(rngs["insitu"].integers(_SEED_BOUND))
    eps_rngs = child_rngs(
        int(rngs["eps"].integers(_SEED_BOUND)), "data", "init", "chip", "noise", "train"
    )
    digits_seeds = [
        _derived(rngs["digits"], "data", "init", "chip", "noise", "train")
        for _ in range(cfg.digits_seeds)
    ]
    part_s: dict[str, float] = {}

    stages = tqdm(total=3, desc=NAME, unit="part", disable=None, leave=False)
    insitu_dir = out_dir / "insitu_training"
    insitu_dir.mkdir(exist_ok=True)
    start = time.perf_counter()
    insitu = insitu_training.run(_insitu_config(cfg, insitu_seed), insitu_dir, echo=None)
    part_s["accuracy_parts_wall_time_s"] = time.perf_counter() - start
    stages.update()
    start = time.perf_counter()
    eps_cfg = _eps_config(cfg, insitu_seed)
    eps_rows = gradient_fidelity.pai_study(eps_cfg, eps_rngs)
    part_s["epsilon_part_wall_time_s"] = time.perf_counter() - start
    stages.update()
    start = time.perf_counter()
    digits = _digits(cfg, digits_seeds)
    part_s["digits64_part_wall_time_s"] = time.perf_counter() - start
    stages.update()
    stages.close()

    comparisons = _accuracy_rows(cfg, insitu.metrics) + _eps_rows(cfg, eps_rows)
    comparisons += _digits_rows(cfg, digits)
    table = comparison_table(comparisons)
    notes = _notes(cfg, digits)
    (out_dir / "table.md").write_text(
        table.to_markdown() + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n",
        encoding="utf-8",
    )
    _write_csv(comparisons, out_dir / "table.csv")
    if echo is not None:
        echo(table.to_text())
        for note in notes:
            echo(f"- {note}")

    metrics: list[dict[str, Any]] = [
        {
            "part": "comparison",
            "key": r.key,
            "section": r.section,
            "metric": "ours",
            "unit": r.unit,
            "paper_low": None if r.paper is None else r.paper.low,
            "paper_high": None if r.paper is None else r.paper.high,
            "value": r.ours,
            "std": r.ours_std,
            "n": r.n,
            "difference": r.difference,
        }
        for r in comparisons
    ]
    metrics += [{"part": "insitu_training", **row} for row in insitu.metrics]
    metrics += [{"part": "epsilon", **row} for row in eps_rows]
    for r in digits:
        history: History = r["history"]
        for i, epoch in enumerate(history.epoch):
            metrics.append(
                {
                    "part": "digits64",
                    "key": f"digits64.{r['case']}",
                    "seed": r["seed"],
                    "epoch": epoch,
                    "metric": "test_accuracy",
                    "value": history.test_accuracy[i],
                }
            )
    write_metrics(metrics, out_dir)  # before the plots: a full disk keeps the numbers
    figures = _plot_comparison(comparisons, out_dir)
    figures += gradient_fidelity.plot_pai(eps_cfg, eps_rows, out_dir)
    figures += _plot_digits(cfg, digits, out_dir)
    figures += [p for p in insitu.figures]
    wall = time.perf_counter() - t0
    captions = {
        "paper_vs_ours": "Every row: the paper's value or range vs ours (± std).",
        "pai2023_epsilon": "Gradient error ε vs minibatch size per chip profile, with the "
        "paper's measured values.",
        "digits64_curves": "64-port network on digits: test error per epoch, with the paper's "
        "MNIST levels (dashed).",
        "final_accuracy": "4-port network: final test accuracy per case (insitu_training).",
    }
    report_figs = [
        Figure(p, captions.get(p.stem, "Training curves on the chip (insitu_training)."))
        for p in figures
        if p.suffix == ".png"
    ]
    write_report(
        out_dir,
        title="Pai et al., Science 380 (2023): our reproduction next to the paper",
        intro=_intro(cfg),
        tables=[table],
        figures=report_figs,
        config=cfg,
        info=run_info(scenario=NAME, seed=cfg.seed, wall_time_s=wall),
        notes=notes,
    )
    summary: dict[str, float | str] = {
        r.key: f"{r.ours_text()} | paper {'-' if r.paper is None else r.paper.text} | "
        f"{r.difference_text()}"
        for r in comparisons
    }
    summary.update({f"{r.key}.ours": float(r.ours) for r in comparisons})  # numbers, for sweeps
    summary.update({k: round(v, 2) for k, v in part_s.items()})
    summary["wall_time_s"] = round(time.perf_counter() - t0, 2)
    return Result(out_dir=out_dir, metrics=metrics, summary=summary, figures=figures)


def _intro(cfg: Config) -> list[str]:
    return [
        "Every number of Pai et al. (Science 380, 2023) this simulator can reproduce, in one "
        "table with the paper's value, ours and the difference. Setup as in the paper: moons "
        "(500 points, noise 0.2), circle (250 points, factor 0.5, noise 0.2) and ring (500 "
        "points) split 80/20; the 3-layer 4-port network with bias ports, |z| nonlinearity and "
        "optical softmax; their noise levels (tap noise 0.01, I/O errors 0.025).",
        "'Simulation' = digitally trained on an ideal model; 'device' = the same phases "
        "programmed on an imperfect chip (Chip.draw defaults, which include the paper's noise "
        "levels plus loss, splitting errors, DAC, crosstalk, phase noise and ADC) — the paper's "
        "device is their real chip. In-situ rows train on that chip with the measured gradient.",
        "The 64-port rows use the 8×8 digits bundled with scikit-learn instead of MNIST, which "
        "cannot be downloaded here: the data set differs, and so the comparison is of trends "
        f"(noise costs accuracy), not of the numbers. {count(cfg.digits_epochs, 'epoch')} of Adam, "
        f"batch {cfg.digits_batch_size}; the paper trained 5 epochs of MNIST at batch 1.",
    ]


def _notes(cfg: Config, digits: list[dict[str, Any]]) -> list[str]:
    n_train, n_test = digits[0]["n_train"], digits[0]["n_test"]
    return [
        "64-port rows: MNIST cannot be downloaded here; the 8×8 digits bundled with "
        f"scikit-learn stand in for it ({n_train} training / {n_test} test images, pixels "
        "amplitude-encoded on 64 ports). The data set differs, so those differences compare "
        f"trends, not numbers. {count(cfg.digits_layers, 'Reck layer')}, "
        f"{count(cfg.digits_epochs, 'epoch')} of Adam (lr {cfg.digits_lr:g}) at batch "
        f"{cfg.digits_batch_size}; the paper trained 5 epochs of MNIST at batch 1. Mean ± std "
        f"over {count(cfg.digits_seeds, 'seed')}, paired across the three rows (same split, "
        "initial phases and order); one test image is "
        f"{100 / n_test:.2f} points and the test error moves by 1–2 points from epoch to "
        "epoch, so smaller differences are not significant.",
        "'device' is our model of a chip (Chip.draw defaults: the paper's tap noise 0.01 and "
        "I/O errors 0.025, plus 0.2 dB/MZI loss, splitting error "
        f"{cfg.splitting_error_std_rad:g} rad, 10-bit DAC, 2 % crosstalk, 0.01 rad phase "
        "noise, 8-bit ADC); the paper's is their real chip.",
        "The 4-port readout multiplies the grouped powers by 10 before the softmax (our "
        "choice, see PhotonicNetwork.pai2023).",
        "ε: moons minibatches, network after "
        f"{count(cfg.eps_train_epochs, 'digital epoch')}, measured vs the exact gradient of "
        "the same pass on the same chip. Batch 1 is compared with the union of the paper's "
        "two batch-1 values (0.016–0.020 in their analog batch measurement, ≈ 0.03 during "
        "training), batch 10 with ≈ 0.3 (training), batches 2 and 4 with 0.016–0.020.",
        f"Accuracies: mean ± std over {count(cfg.n_seeds, 'seed')}; on a chip, each accuracy "
        f"is the mean over {cfg.eval_repeats} noisy passes; in-situ rows: {cfg.iterations} Adam "
        f"steps at batch {cfg.batch_size}.",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run this scenario from the command line (``photonic-backprop run pai2023``)."""
    return scenario_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
