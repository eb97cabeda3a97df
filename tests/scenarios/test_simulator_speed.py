"""simulator_speed: the timed step really trains, and the table has every measurement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photonic.mesh import Mesh
from scenarios import simulator_speed
from scenarios.framework import run_scenario


@pytest.mark.parametrize("path", ["fast", "per_sample", "insitu_per_sample", "insitu_aggregated"])
def test_timed_step_is_a_real_training_step(path: str) -> None:
    """Repeated steps must lower the loss (the timed code does the whole job)."""
    rng = np.random.default_rng(0)
    mesh = Mesh.clements(6)
    x = rng.normal(size=(16, 6)) + 1j * rng.normal(size=(16, 6))
    target = np.abs(x @ Mesh.clements(6).matrix(mesh.random_phases(rng)).T) ** 2
    step = simulator_speed.make_step(mesh, x, target, path=path)  # type: ignore[arg-type]
    losses = [step() for _ in range(300)]
    assert losses[-1] < 0.5 * losses[0]


def test_fast_and_per_sample_steps_follow_the_same_trajectory() -> None:
    rng = np.random.default_rng(1)
    mesh = Mesh.reck(5)
    x = rng.normal(size=(8, 5)) + 1j * rng.normal(size=(8, 5))
    target = rng.uniform(0, 1, size=(8, 5))
    fast = simulator_speed.make_step(mesh, x, target, path="fast")
    slow = simulator_speed.make_step(mesh, x, target, path="per_sample")
    for _ in range(20):
        assert fast() == pytest.approx(slow(), rel=1e-10)


def test_smoke_run_writes_every_ratio(tmp_path: Path) -> None:
    cfg = simulator_speed.Config.smoke()
    result = run_scenario(simulator_speed, cfg, tmp_path)
    timed = [r for r in result.metrics if r.get("ratio") is not None]
    assert len(timed) == len(cfg.ports) * len(cfg.batches) * 5  # matmul + 4 step paths
    for n in cfg.ports:
        for b in cfg.batches:
            by_path = {r["path"]: r for r in timed if r["n_ports"] == n and r["batch"] == b}
            assert by_path["matmul"]["ratio"] == 1.0
            for path in ("fast", "per_sample", "insitu_per_sample", "insitu_aggregated"):
                row = by_path[path]
                assert row["time_s"] > 0
                assert row["ratio"] == pytest.approx(row["time_s"] / by_path["matmul"]["time_s"])
    assert (result.out_dir / "speed.png").exists()
    assert (result.out_dir / "metrics.csv").exists()


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("ports", (1,), "ports"),
        ("batches", (0,), "batches"),
        ("topology", "hex", "topology"),
        ("repeats", 0, "repeats"),
        ("large_ports", 1, "large_ports"),
    ],
)
def test_config_validation(field: str, value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        simulator_speed.Config(**{field: value})  # type: ignore[arg-type]
