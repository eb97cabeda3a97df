"""Simulator speed: one training step of an N-port mesh layer versus one dense matmul.

What it covers
--------------
For every N in ``ports`` and batch size B in ``batches`` it times, in one process,

- ``matmul``: one dense complex product ``(B×N)·(N×N)`` — the lower bound any
  simulator of this layer must pay;
- ``fast``: one training step of an N-port mesh layer with the project's fast path —
  ``mesh.transfer`` (compose W once), ``transfer.forward`` (one matmul), the loss
  ``½ mean ‖|y|² − t‖²``, ``transfer.phase_gradients`` (correlation sweep) and an
  Adam update of every phase;
- ``per_sample``: the same step with every field propagated explicitly
  (``method="per_sample"``), the reference path;
- ``insitu_per_sample`` / ``insitu_aggregated``: the same step with the gradient
  *measured* by the 3-pass in-situ method (:func:`photonic.insitu.measure_in_situ`,
  every pass simulated; ideal chip), tap powers read per sample or aggregated over
  the batch. Their cost relative to ``fast`` is reported as ``*_vs_adjoint``;

and reports each step time as a multiple of the matmul (best of ``repeats`` after
a warm-up). With ``large_ports > 0`` it also times one fast step at
``large_ports × large_batch`` and its peak traced memory (``tracemalloc``).

Peers on a 2-core CPU, one train step at B = 256 as a multiple of the matmul
(``shared/reference/parameters.md``): neuroptica 1751× (N=64), 2033× (N=128);
simphox 118×, 353×; meshes (C kernel) 62×, 77×. They are drawn for comparison.

Run through the ``photonic-backprop`` command, the process keeps its freed heap
(:func:`scenarios.cli.keep_heap`); with glibc's defaults the in-situ steps can spend
10–15 % of their time faulting the pages of the previous step's temporaries back in
(measured at N = 64 after an exact step), depending on what ran before them.

Outputs: ``metrics.csv`` (rows ``n_ports, batch, path, time_s, ratio``),
``speed.png``/``.svg`` (ratio vs N), summary ratios.
"""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from digital.optim import Adam
from digital.validation import check_choice, check_positive_int
from photonic.insitu import measure_in_situ
from photonic.mesh import Mesh, Phases
from scenarios.framework import Result, child_rngs, new_figure, save_figure, scenario_main

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
    large_ports, large_batch : int
        The extra large-N measurement; ``large_ports = 0`` skips it.
    seed : int
        Root seed.
    """

    ports: tuple[int, ...] = (16, 64, 128, 256)
    batches: tuple[int, ...] = (256, 1024)
    topology: str = "clements"
    repeats: int = 20
    per_sample_max_ports: int = 256
    large_ports: int = 1024
    large_batch: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.ports or any(isinstance(n, bool) or int(n) < 2 for n in self.ports):
            raise ValueError(f"ports={self.ports!r} must list ints ≥ 2")
        if not self.batches or any(isinstance(b, bool) or int(b) < 1 for b in self.batches):
            raise ValueError(f"batches={self.batches!r} must list ints ≥ 1")
        check_choice(self.topology, "topology", ("clements", "reck"))
        check_positive_int(self.repeats, "repeats")
        check_positive_int(self.large_batch, "large_batch")
        if self.large_ports != 0 and self.large_ports < 2:
            raise ValueError(f"large_ports={self.large_ports!r} must be 0 (skip) or ≥ 2")
        if self.per_sample_max_ports < 0:
            raise ValueError(f"per_sample_max_ports={self.per_sample_max_ports!r} must be ≥ 0")

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
    mesh: Mesh, x: np.ndarray, target: np.ndarray, *, path: StepPath
) -> Callable[[], float]:
    """One training step of a mesh layer on a fixed batch; returns the loss.

    Loss ``L = ½ mean_b ‖|y_b|² − t_b‖²``, so ``δ = 2 conj(y) (|y|² − t) / B``.
    """
    rng = np.random.default_rng(0)
    state = {"phases": mesh.random_phases(rng, init="uniform")}
    optimizer = Adam(lr=1e-3)
    n = x.shape[0]

    def step() -> float:
        phases = state["phases"]
        if path == "per_sample":
            y = mesh.forward(phases, x, method="per_sample")
        else:  # compose the mesh once for the forward pass and the gradients
            transfer = mesh.transfer(phases)
            y = transfer.forward(x)
        power = np.abs(y) ** 2
        err = power - target
        delta = 2 * np.conj(y) * err / n
        if path == "fast":
            g = transfer.phase_gradients(x, delta)
        elif path == "per_sample":
            g = mesh.phase_gradients(phases, x, delta, method="per_sample")
        else:  # measured on an ideal chip, the 3 passes simulated (insitu.py)
            mode: Literal["per_sample", "aggregated"] = (
                "per_sample" if path == "insitu_per_sample" else "aggregated"
            )
            g = measure_in_situ(
                mesh, phases, x, delta, None, rng, mode=mode, transfer=transfer
            ).gradients
        params = {"theta": phases.theta_rad, "phi": phases.phi_rad, "out": phases.out_rad}
        grads = {"theta": g.theta_rad, "phi": g.phi_rad, "out": g.out_rad}
        new = optimizer.step(params, grads)
        state["phases"] = Phases(new["theta"], new["phi"], new["out"])
        return 0.5 * float(np.sum(err**2)) / n

    return step


def _measure(
    n: int, b: int, cfg: Config, rng: np.random.Generator, paths: tuple[str, ...]
) -> dict[str, float]:
    mesh = Mesh.clements(n) if cfg.topology == "clements" else Mesh.reck(n)
    x = (rng.normal(size=(b, n)) + 1j * rng.normal(size=(b, n))) / np.sqrt(2 * n)
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    target = rng.uniform(0, 2.0 / n, size=(b, n))
    times = {"matmul": best_time_s(lambda: x @ a.T, max(cfg.repeats, 20))}
    for path in paths:
        step = make_step(mesh, x, target, path=path)  # type: ignore[arg-type]
        times[path] = best_time_s(step, cfg.repeats)
    return times


def run(cfg: Config, out_dir: Path) -> Result:
    """Time the steps and the matmuls; write the ratio table and plot."""
    rngs = child_rngs(cfg.seed, "data")
    rows: list[dict[str, Any]] = []
    summary: dict[str, float | str] = {}
    for n in cfg.ports:
        for b in cfg.batches:
            paths: tuple[str, ...] = ("fast", "insitu_aggregated")
            if n <= cfg.per_sample_max_ports:
                paths += ("per_sample", "insitu_per_sample")
            times = _measure(int(n), int(b), cfg, rngs["data"], paths)
            for path, t in times.items():
                rows.append(
                    {
                        "n_ports": n,
                        "batch": b,
                        "path": path,
                        "time_s": t,
                        "ratio": t / times["matmul"],
                    }
                )
                if path != "matmul":
                    summary[f"ratio_{path}_N{n}_B{b}"] = round(t / times["matmul"], 2)
                if path.startswith("insitu"):  # issue: ≤ 5× (per sample), ≤ 2× (aggregated)
                    summary[f"{path}_vs_adjoint_N{n}_B{b}"] = round(t / times["fast"], 2)
    if cfg.large_ports:
        n, b = cfg.large_ports, cfg.large_batch
        mesh = Mesh.clements(n) if cfg.topology == "clements" else Mesh.reck(n)
        x = (rngs["data"].normal(size=(b, n)) + 1j * rngs["data"].normal(size=(b, n))) / np.sqrt(
            2 * n
        )
        step = make_step(mesh, x, np.zeros((b, n)), path="fast")
        tracemalloc.start()
        start = time.perf_counter()
        step()
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append({"n_ports": n, "batch": b, "path": "fast", "time_s": elapsed, "ratio": None})
        rows.append(
            {
                "n_ports": n,
                "batch": b,
                "path": "fast",
                "metric": "peak_memory_mb",
                "value": peak / 1e6,
            }
        )
        summary[f"step_time_s_N{n}_B{b}"] = round(elapsed, 3)
        summary[f"peak_memory_mb_N{n}_B{b}"] = round(peak / 1e6, 1)
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
                if r["path"] == path and r["batch"] == b and r.get("ratio") is not None
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
