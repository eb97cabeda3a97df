"""Simulator speed: one training step of an N-port mesh layer versus one dense matmul.

What it covers
--------------
For every N in ``ports`` and batch size B in ``batches`` it times, in one process,

- ``matmul``: one dense complex product ``(B×N)·(N×N)`` — the lower bound any
  simulator of this layer must pay;
- ``fast``: one training step of an N-port mesh layer with the project's fast path —
  ``mesh.transfer`` (compose W once), ``transfer.forward`` (one matmul), the loss
  ``½ mean ‖|y|² − t‖²``, ``transfer.phase_gradients_from_outputs`` (the correlation
  sweep, back from the output plane) and an Adam update of every phase;
- ``per_sample``: the same step with every field propagated explicitly
  (``method="per_sample"``), the reference path;
- ``insitu_per_sample`` / ``insitu_aggregated``: the same step with the gradient
  *measured* by the 3-pass in-situ method (:func:`photonic.insitu.measure_in_situ`,
  every pass simulated; ideal chip), tap powers read per sample or aggregated over
  the batch. Their cost relative to ``fast`` is reported as ``*_vs_adjoint``;

and reports each step time as a multiple of the matmul (best of ``repeats`` after
a warm-up). These run on an ideal chip (``chip="ideal"``), so they time the
simulation of the passes and nothing else.

The matmul uses every BLAS thread (both cores of the reference machine), the mesh
kernels one core. The matmul is therefore also timed on one BLAS thread
(``matmul_one_thread``), and the fast step's ratio to it is reported as
``ratio_fast_N…_B…_one_thread_matmul``. Why the kernels use one core:
:mod:`photonic.kernels`, "Threads".

For N ≤ ``chip_max_ports`` the steps are also timed on an imperfect chip drawn
with :meth:`photonic.imperfections.Chip.draw` (0.2 dB/MZI loss, splitting errors
0.02 rad, tap noise 0.01, I/O errors 0.025):

- ``chip="noisy"``: without per-pass phase noise and ADC, i.e. everything the
  aggregated mode can represent — ``fast`` (the exact gradient of that chip),
  ``insitu_per_sample`` and ``insitu_aggregated``;
- ``chip="realistic"``: every default of ``Chip.draw`` (also phase noise 0.01 rad
  per pass and an 8-bit ADC) — ``insitu_per_sample`` only (the aggregated mode
  refuses it). Its static errors are those of the noisy chip, so its
  ``*_vs_adjoint`` is relative to the noisy chip's ``fast``.

Per-sample steps on a chip also need N ≤ ``per_sample_max_ports``.

On these chips the measurement pays for its random draws. Per-sample tap noise
is one standard normal per tap, sample and pass — 6 per MZI and sample for the
3-pass method — and NumPy draws one in about 8 ns, which alone costs more than
the exact step by an order of magnitude. The aggregated mode draws one normal per
tap, but the I/O errors stay per sample (2 normals per port, sample and injected
field). For tap noise alone the aggregated mode is exact in distribution; use it
when the chip allows. Two default runs (2 cores, AVX-512), in-situ step ÷ exact step:

======================  ============  ============
N = 64                  B = 256       B = 1024
======================  ============  ============
per-sample, ideal       4.2, 4.0      7.4, 7.1
per-sample, noisy       72, 71        161, 159
per-sample, realistic   214, 224      566, 580
aggregated, ideal       2.6, 2.6      3.1, 3.0
aggregated, noisy       4.6, 4.6      8.0, 7.9
======================  ============  ============

(the exact step's O(N³) part does not grow with the batch; the per-sample passes,
O(N²B), and the noise, O(N²B) or O(NB) draws, do: so the ratios grow with B).

With ``large_ports > 0`` it also times one fast step at ``large_ports × large_batch``
(ideal chip) and its peak traced memory (``tracemalloc``).

Peers on a 2-core CPU, one train step at B = 256 as a multiple of the matmul
(``shared/reference/parameters.md``): neuroptica 1751× (N=64), 2033× (N=128);
simphox 118×, 353×; meshes (C kernel) 62×, 77×. They are drawn for comparison.

Run through the ``photonic-backprop`` command, the process keeps its freed heap
(:func:`scenarios.cli.keep_heap`); with glibc's defaults the in-situ steps can spend
10–15 % of their time faulting the pages of the previous step's temporaries back in
(measured at N = 64 after an exact step), depending on what ran before them.

Outputs: ``metrics.csv`` (rows ``n_ports, batch, path, chip, time_s, ratio``),
``speed.png``/``.svg`` (ratio vs N), summary ratios.

The matmul of every size is timed again after its steps (path ``matmul_again``). If
the two differ by more than :data:`MATMUL_DRIFT_LIMIT`, something else was using
the cores meanwhile and the ratios of that size are not to be trusted: the summary
then carries a ``timing_warning`` naming those sizes.
"""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from digital.optim import Adam
from digital.validation import (
    check_choice,
    check_generator,
    check_matrix,
    check_positive_int,
)
from photonic.imperfections import Chip
from photonic.insitu import measure_in_situ
from photonic.jit import CONTRACT, compiled
from photonic.mesh import MAX_PORTS, Mesh, Phases
from scenarios.framework import (
    Result,
    child_rngs,
    new_figure,
    save_figure,
    scenario_main,
    write_metrics,
)

NAME = "simulator_speed"
StepPath = Literal["fast", "per_sample", "insitu_per_sample", "insitu_aggregated"]

#: Peer speeds from parameters.md: {peer: {N: step time / matmul time}} at B = 256.
PEER_RATIOS: dict[str, dict[int, float]] = {
    "neuroptica": {64: 1751.0, 128: 2033.0},
    "simphox": {64: 118.0, 128: 353.0},
    "meshes (C)": {64: 62.0, 128: 77.0},
}


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the speed study.

    Attributes
    ----------
    ports : tuple of int
        Mesh sizes N (each ≥ 2).
    batches : tuple of int
        Batch sizes B (each ≥ 1).
    topology : str
        ``"clements"`` or ``"reck"``.
    repeats : int
        Timed repetitions per measurement; the best is kept.
    per_sample_max_ports : int
        Largest N for which the (slow) per-sample path is timed.
    chip_max_ports : int
        Largest N for which the steps are also timed on the noisy and realistic
        chips (their per-sample noise costs O(N²B) random draws); 0 skips them.
    large_ports : int
        N of the extra large-N measurement (time and peak memory of one step);
        0 skips it.
    large_batch : int
        B of that measurement.
    seed : int
        Root seed.
    """

    ports: tuple[int, ...] = (16, 64, 128, 256)
    batches: tuple[int, ...] = (256, 1024)
    topology: str = "clements"
    repeats: int = 20
    per_sample_max_ports: int = 256
    chip_max_ports: int = 64
    large_ports: int = 1024
    large_batch: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.ports or any(
            isinstance(n, bool) or not 2 <= int(n) <= MAX_PORTS for n in self.ports
        ):
            raise ValueError(f"ports={self.ports!r} must list ints in 2 … {MAX_PORTS} (MAX_PORTS)")
        if not self.batches or any(isinstance(b, bool) or int(b) < 1 for b in self.batches):
            raise ValueError(f"batches={self.batches!r} must list ints ≥ 1")
        check_choice(self.topology, "topology", ("clements", "reck"))
        check_positive_int(self.repeats, "repeats")
        check_positive_int(self.large_batch, "large_batch")
        if self.large_ports != 0 and not 2 <= self.large_ports <= MAX_PORTS:
            raise ValueError(
                f"large_ports={self.large_ports!r} must be 0 (skip) or in 2 … {MAX_PORTS} "
                "(MAX_PORTS)"
            )
        if self.per_sample_max_ports < 0:
            raise ValueError(f"per_sample_max_ports={self.per_sample_max_ports!r} must be ≥ 0")
        if self.chip_max_ports < 0:
            raise ValueError(f"chip_max_ports={self.chip_max_ports!r} must be ≥ 0")

    @classmethod
    def smoke(cls) -> Config:
        """A seconds-long run."""
        return cls(ports=(8, 16), batches=(32,), repeats=2, large_ports=0)


def best_time_s(fn: Callable[[], Any], repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` after one warm-up call, in seconds."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def make_step(
    mesh: Mesh,
    x: np.ndarray,
    target: np.ndarray,
    *,
    path: StepPath,
    rng: np.random.Generator,
    chip: Chip | None = None,
) -> Callable[[], float]:
    """One training step of a mesh layer on a fixed batch; returns the loss.

    Loss and adjoint source: :func:`loss_and_delta`. ``rng``: draws the initial
    phases (uniform), then the in-situ measurement noise of every step; give each
    path a generator with the same seed to time them from the same phases.
    ``chip``: the device the step runs on (``None``: ideal).
    """
    check_generator(rng)
    state = {"phases": mesh.random_phases(rng, init="uniform")}
    optimizer = Adam(lr=1e-3)

    def step() -> float:
        phases = state["phases"]
        if path == "per_sample":
            y = mesh.forward(phases, x, chip, method="per_sample")
        else:  # compose the mesh once for the forward pass and the gradients
            transfer = mesh.transfer(phases, chip)
            y = transfer.forward(x)
        loss, delta = loss_and_delta(y, target)
        if path == "fast":  # the sweep back from the outputs, which the step has
            g = transfer.phase_gradients_from_outputs(y, delta)
        elif path == "per_sample":
            g = mesh.phase_gradients(phases, x, delta, chip, method="per_sample")
        else:  # measured on the chip, the 3 passes simulated (insitu.py)
            mode: Literal["per_sample", "aggregated"] = (
                "per_sample" if path == "insitu_per_sample" else "aggregated"
            )
            g = measure_in_situ(
                mesh, phases, x, delta, chip, rng, mode=mode, transfer=transfer
            ).gradients
        # one Adam update of all phases as one vector (a third of the per-array overhead)
        new = optimizer.step({"phases": phases.to_vector()}, {"phases": g.to_vector()})
        state["phases"] = Phases.from_vector(new["phases"], mesh.n_mzis)
        return loss

    return step


def loss_and_delta(y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The step's loss ``L = ½ mean_b ‖|y_b|² − t_b‖²`` and its adjoint source.

    ``L`` is the digital :func:`~digital.losses.half_squared_error` of the detected
    powers ``P = |y|²`` (the tests hold them equal), computed in one compiled pass over
    the batch. In NumPy the same arithmetic took eight passes and the loss's input
    checks: 70 µs at N = 64, B = 256, more than the dense matmul the step is measured
    against (12 µs compiled).

    Parameters
    ----------
    y
        Output fields, ``(B, N)`` complex.
    target
        Target powers, ``(B, N)``.

    Returns
    -------
    loss : float
        ``L``.
    delta : numpy.ndarray
        ``δ = ∂L/∂Re y − i·∂L/∂Im y = 2 conj(y) ∂L/∂P = (2/B) conj(y) (P − t)``,
        ``(B, N)``, by the chain rule through ``P``.

    Raises
    ------
    ValueError
        If ``y`` is not 2-D with at least one sample and one port, ``target`` has
        another shape (labels are not one-hot encoded here, and nothing is
        broadcast), or either holds NaN or infinity.
    TypeError
        If ``target`` is complex or either does not hold numbers.
    """
    y_arr, t_arr = np.asarray(y), np.asarray(target)
    if y_arr.ndim != 2 or 0 in y_arr.shape:
        raise ValueError(f"y has shape {y_arr.shape}; it must be (B ≥ 1, N ≥ 1)")
    if t_arr.shape != y_arr.shape:  # (no broadcasting of labels or of one row)
        raise ValueError(f"target has shape {t_arr.shape}; it must be y's {y_arr.shape}")
    if y_arr.dtype.kind not in "biufc" or t_arr.dtype.kind not in "biuf":
        raise TypeError(
            f"y must hold numbers and target real numbers; got dtypes {y_arr.dtype} and "
            f"{t_arr.dtype}"
        )
    loss, delta = _power_loss(
        np.ascontiguousarray(y_arr, dtype=np.complex128),
        np.ascontiguousarray(t_arr, dtype=np.float64),
    )
    if not np.isfinite(loss):  # NaN and inf reach the sum: name the culprit
        check_matrix(y_arr, "y", columns="n_outputs")
        check_matrix(t_arr, "target", values="real", columns="n_outputs")
        raise ValueError(f"the loss overflows float64 (largest |y| = {np.max(np.abs(y_arr)):.3g})")
    return loss, delta


@compiled(CONTRACT | {"reassoc"})  # the sum may be added up in vector lanes
def _power_loss(y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """:func:`loss_and_delta` on C-contiguous complex128 ``y`` and float64 ``target``."""
    n_samples = y.shape[0]
    yf, tf = y.ravel(), target.ravel()
    delta = np.empty_like(yf)
    scale = 2.0 / n_samples
    total = 0.0
    for i in range(yf.shape[0]):
        re, im = yf[i].real, yf[i].imag
        diff = re * re + im * im - tf[i]
        total += diff * diff
        g = scale * diff
        delta[i] = complex(re * g, -im * g)
    return 0.5 * total / n_samples, delta.reshape(y.shape)


#: The chips of the study: name -> keyword arguments of ``Chip.draw`` (see above).
CHIPS: dict[str, dict[str, Any]] = {
    "noisy": {"phase_noise_rad": 0.0, "adc_bits": None},
    "realistic": {},
}


def _measure(
    n: int,
    b: int,
    cfg: Config,
    rng: np.random.Generator,
    runs: list[tuple[str, str]],
    chip_seed: int,
    step_seed: int,
) -> dict[tuple[str, str], float]:
    """Best times of the matmul and of each ``(path, chip name)`` step, in seconds."""
    mesh = Mesh.clements(n) if cfg.topology == "clements" else Mesh.reck(n)
    x = (rng.normal(size=(b, n)) + 1j * rng.normal(size=(b, n))) / np.sqrt(2 * n)
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    target = rng.uniform(0, 2.0 / n, size=(b, n))
    # one seed for every chip: the same static errors, only the noise sources differ
    chips = {
        name: Chip.draw(mesh, np.random.default_rng(chip_seed), **kwargs)
        for name, kwargs in CHIPS.items()
    }
    matmul_repeats = max(cfg.repeats, 20)
    times = {("matmul", "ideal"): best_time_s(lambda: x @ a.T, matmul_repeats)}
    with threadpool_limits(limits=1, user_api="blas"):  # the cores the mesh kernels use
        times["matmul_one_thread", "ideal"] = best_time_s(lambda: x @ a.T, matmul_repeats)
    for path, chip in runs:
        step = make_step(
            mesh,
            x,
            target,
            path=path,  # type: ignore[arg-type]
            rng=np.random.default_rng(step_seed),  # every path from the same phases
            chip=chips.get(chip),
        )
        times[path, chip] = best_time_s(step, cfg.repeats)
    # timed again after the steps: a change means the machine was busy meanwhile
    times["matmul_again", "ideal"] = best_time_s(lambda: x @ a.T, matmul_repeats)
    return times


#: A size whose matmul, timed before and after its steps, changed by more than this
#: factor was measured on a busy machine (idle 2-core machine: ≤ 1.1).
MATMUL_DRIFT_LIMIT = 1.3


def busy_warning(matmul_s: dict[tuple[int, int], tuple[float, float]]) -> str | None:
    """The warning for sizes whose two matmul timings differ by > MATMUL_DRIFT_LIMIT.

    Parameters
    ----------
    matmul_s
        ``(N, B) -> (seconds before the steps, seconds after)``.

    Returns
    -------
    str or None
        ``None`` if every size was timed on a steady machine.
    """
    drifts = {size: max(t) / min(t) for size, t in matmul_s.items()}
    busy = [f"N={n}, B={b} ({d:.2f}×)" for (n, b), d in drifts.items() if d > MATMUL_DRIFT_LIMIT]
    if not busy:
        return None
    return (
        f"the reference matmul changed by more than {MATMUL_DRIFT_LIMIT}× while "
        f"{', '.join(busy)} ran: the machine was busy, so those ratios are unreliable; "
        "run again on an idle machine"
    )


def run(cfg: Config, out_dir: Path) -> Result:
    """Time the steps and the matmuls; write the ratio table and plot."""
    rngs = child_rngs(cfg.seed, "data", "chip", "step")
    chip_seed = int(rngs["chip"].integers(2**32))
    step_seed = int(rngs["step"].integers(2**32))
    rows: list[dict[str, Any]] = []
    summary: dict[str, float | str] = {}
    points = [(n, b) for n in cfg.ports for b in cfg.batches]
    matmul_s: dict[tuple[int, int], tuple[float, float]] = {}
    # a bar on a terminal only (it draws between measurements, never inside one)
    for n, b in tqdm(points, desc=NAME, unit="size", disable=None, leave=False):
        runs = [("fast", "ideal"), ("insitu_aggregated", "ideal")]
        if n <= cfg.per_sample_max_ports:
            runs += [("per_sample", "ideal"), ("insitu_per_sample", "ideal")]
        if n <= cfg.chip_max_ports:
            runs += [("fast", "noisy"), ("insitu_aggregated", "noisy")]
            if n <= cfg.per_sample_max_ports:
                runs += [("insitu_per_sample", "noisy"), ("insitu_per_sample", "realistic")]
        times = _measure(int(n), int(b), cfg, rngs["data"], runs, chip_seed, step_seed)
        matmul = times["matmul", "ideal"]
        matmul_s[n, b] = (matmul, times["matmul_again", "ideal"])
        for (path, chip), t in times.items():
            rows.append(
                {
                    "n_ports": n,
                    "batch": b,
                    "path": path,
                    "chip": chip,
                    "time_s": t,
                    "ratio": t / matmul,
                }
            )
            on = "" if chip == "ideal" else f"_{chip}_chip"
            if not path.startswith("matmul"):
                summary[f"ratio_{path}_N{n}_B{b}{on}"] = round(t / matmul, 2)
            if (path, chip) == ("fast", "ideal"):
                one_thread = times["matmul_one_thread", "ideal"]
                summary[f"ratio_fast_N{n}_B{b}_one_thread_matmul"] = round(t / one_thread, 2)
            if path.startswith("insitu"):  # issue: ≤ 5× (per sample), ≤ 2× (aggregated)
                exact = times["fast", "ideal" if chip == "ideal" else "noisy"]
                summary[f"{path}_vs_adjoint_N{n}_B{b}{on}"] = round(t / exact, 2)
    warning = busy_warning(matmul_s)
    if warning is not None:
        summary["timing_warning"] = warning
    if cfg.large_ports:
        n, b = cfg.large_ports, cfg.large_batch
        mesh = Mesh.clements(n) if cfg.topology == "clements" else Mesh.reck(n)
        x = (rngs["data"].normal(size=(b, n)) + 1j * rngs["data"].normal(size=(b, n))) / np.sqrt(
            2 * n
        )
        step = make_step(
            mesh, x, np.zeros((b, n)), path="fast", rng=np.random.default_rng(step_seed)
        )
        tracemalloc.start()
        start = time.perf_counter()
        step()
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append(
            {
                "n_ports": n,
                "batch": b,
                "path": "fast",
                "chip": "ideal",
                "time_s": elapsed,
                "ratio": None,
            }
        )
        rows.append(
            {
                "n_ports": n,
                "batch": b,
                "path": "fast",
                "chip": "ideal",
                "metric": "peak_memory_mb",
                "value": peak / 1e6,
            }
        )
        summary[f"step_time_s_N{n}_B{b}"] = round(elapsed, 3)
        summary[f"peak_memory_mb_N{n}_B{b}"] = round(peak / 1e6, 1)
    write_metrics(rows, out_dir)  # before the plots: a full disk keeps the numbers
    figures = _plot(rows, cfg, out_dir)
    return Result(out_dir=out_dir, metrics=rows, summary=summary, figures=figures)


def _plot(rows: list[dict[str, Any]], cfg: Config, out_dir: Path) -> list[Path]:
    fig = new_figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    styles = {
        "fast": "-o",
        "per_sample": "--s",
        "insitu_per_sample": ":^",
        "insitu_aggregated": "-.v",
    }
    for path, style in styles.items():
        for b in cfg.batches:
            pts = [
                (r["n_ports"], r["ratio"])
                for r in rows
                if r["path"] == path
                and r["batch"] == b
                and r["chip"] == "ideal"
                and r.get("ratio") is not None
            ]
            if pts:
                ns, ratios = zip(*pts, strict=True)
                ax.plot(ns, ratios, style, label=f"{path}, B={b}")
    for peer, values in PEER_RATIOS.items():
        ax.plot(list(values), list(values.values()), ":x", color="gray", alpha=0.7)
        n_last = max(values)
        ax.annotate(peer, (n_last, values[n_last]), fontsize=8, color="gray")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("mesh ports N")
    ax.set_ylabel("training step time / dense matmul time")
    ax.set_title(f"{cfg.topology} layer: step cost relative to one (B×N)·(N×N) matmul")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, out_dir, "speed")


def main(argv: list[str] | None = None) -> int:
    """Run this scenario from the command line (``photonic-backprop run simulator_speed``)."""
    return scenario_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
