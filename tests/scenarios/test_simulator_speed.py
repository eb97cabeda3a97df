"""simulator_speed: the timed step really trains, and the table has every measurement."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from digital.losses import half_squared_error
from photonic.imperfections import Chip
from photonic.mesh import Mesh, Phases
from scenarios import simulator_speed
from scenarios.framework import run_scenario


@pytest.mark.parametrize("path", ["fast", "per_sample", "insitu_per_sample", "insitu_aggregated"])
def test_timed_step_is_a_real_training_step(path: str) -> None:
    """Repeated steps must lower the loss (the timed code does the whole job)."""
    rng = np.random.default_rng(0)
    mesh = Mesh.clements(6)
    x = rng.normal(size=(16, 6)) + 1j * rng.normal(size=(16, 6))
    target = np.abs(x @ Mesh.clements(6).matrix(mesh.random_phases(rng)).T) ** 2
    step = simulator_speed.make_step(
        mesh,
        x,
        target,
        path=path,  # type: ignore[arg-type]
        rng=np.random.default_rng(0),
    )
    losses = [step() for _ in range(300)]
    assert losses[-1] < 0.5 * losses[0]


def test_loss_and_delta_against_finite_differences() -> None:
    """δ = ∂L/∂Re y − i ∂L/∂Im y of L = ½·mean‖|y|² − t‖², entry by entry."""
    rng = np.random.default_rng(3)
    y = rng.normal(size=(5, 4)) + 1j * rng.normal(size=(5, 4))
    target = rng.uniform(0, 2, size=(5, 4))
    y_before = y.copy()
    loss, delta = simulator_speed.loss_and_delta(y, target)
    np.testing.assert_array_equal(y, y_before)  # δ is built in place, but not in y
    assert loss == pytest.approx(0.5 * np.sum((np.abs(y) ** 2 - target) ** 2) / 5, rel=1e-14)
    assert loss == pytest.approx(half_squared_error(np.abs(y) ** 2, target)[0], rel=1e-14)
    h = 1e-6
    for idx in np.ndindex(y.shape):
        step = np.zeros_like(y)
        step[idx] = h
        d_re = (
            simulator_speed.loss_and_delta(y + step, target)[0]
            - simulator_speed.loss_and_delta(y - step, target)[0]
        ) / (2 * h)
        d_im = (
            simulator_speed.loss_and_delta(y + 1j * step, target)[0]
            - simulator_speed.loss_and_delta(y - 1j * step, target)[0]
        ) / (2 * h)
        assert delta[idx] == pytest.approx(d_re - 1j * d_im, rel=1e-6, abs=1e-8)


def test_timed_step_takes_an_adam_step_down_the_gradient_of_its_loss() -> None:
    """The step's first update is Adam's: θ and φ move by lr against the sign of the
    mesh gradient of its loss (the loss does not depend on the output phases)."""
    rng = np.random.default_rng(2)
    mesh = Mesh.clements(6)
    x = rng.normal(size=(16, 6)) + 1j * rng.normal(size=(16, 6))
    target = rng.uniform(0, 1, size=(16, 6))
    phases = mesh.random_phases(np.random.default_rng(0), init="uniform")  # make_step's start

    def loss(p: Phases) -> float:
        return simulator_speed.loss_and_delta(x @ mesh.matrix(p).T, target)[0]

    step = simulator_speed.make_step(mesh, x, target, path="fast", rng=np.random.default_rng(0))
    assert step() == pytest.approx(loss(phases), rel=1e-12)
    second = step()
    delta = simulator_speed.loss_and_delta(x @ mesh.matrix(phases).T, target)[1]
    grad = mesh.phase_gradients(phases, x, delta)
    moved = Phases(
        phases.theta_rad - 1e-3 * np.sign(grad.theta_rad),
        phases.phi_rad - 1e-3 * np.sign(grad.phi_rad),
        phases.out_rad,
    )
    assert second == pytest.approx(loss(moved), rel=1e-9)
    assert second < loss(phases)


def test_fast_and_per_sample_steps_follow_the_same_trajectory() -> None:
    rng = np.random.default_rng(1)
    mesh = Mesh.reck(5)
    x = rng.normal(size=(8, 5)) + 1j * rng.normal(size=(8, 5))
    target = rng.uniform(0, 1, size=(8, 5))
    fast = simulator_speed.make_step(mesh, x, target, path="fast", rng=np.random.default_rng(0))
    slow = simulator_speed.make_step(
        mesh, x, target, path="per_sample", rng=np.random.default_rng(0)
    )
    for _ in range(20):
        assert fast() == pytest.approx(slow(), rel=1e-10)


@pytest.mark.parametrize("name", sorted(simulator_speed.CHIPS))
def test_timed_steps_run_on_the_chip_they_are_given(name: str) -> None:
    """On a lossy, noisy chip: the exact paths agree, the measured ones still train."""
    rng = np.random.default_rng(2)
    mesh = Mesh.clements(6)
    x = rng.normal(size=(16, 6)) + 1j * rng.normal(size=(16, 6))
    target = np.abs(x @ Mesh.clements(6).matrix(mesh.random_phases(rng)).T) ** 2
    chip = Chip.draw(mesh, np.random.default_rng(5), **simulator_speed.CHIPS[name])
    ideal = simulator_speed.make_step(mesh, x, target, path="fast", rng=np.random.default_rng(0))()
    fast = simulator_speed.make_step(
        mesh, x, target, path="fast", rng=np.random.default_rng(0), chip=chip
    )
    slow = simulator_speed.make_step(
        mesh, x, target, path="per_sample", rng=np.random.default_rng(0), chip=chip
    )
    first = fast()
    assert first == pytest.approx(slow(), rel=1e-12)
    assert abs(first - ideal) > 1e-3 * ideal  # the chip's loss changed the forward pass
    for _ in range(20):
        assert fast() == pytest.approx(slow(), rel=1e-10)
    paths = ["insitu_per_sample"] + (["insitu_aggregated"] if name == "noisy" else [])
    for path in paths:
        step = simulator_speed.make_step(
            mesh,
            x,
            target,
            path=path,  # type: ignore[arg-type]
            rng=np.random.default_rng(0),
            chip=chip,
        )
        losses = [step() for _ in range(300)]
        assert losses[0] == pytest.approx(first, rel=1e-12)
        assert losses[-1] < 0.75 * losses[0]


def test_smoke_run_writes_every_ratio(tmp_path: Path) -> None:
    cfg = simulator_speed.Config.smoke()
    assert max(cfg.ports) <= cfg.chip_max_ports  # so the chip rows are checked too
    result = run_scenario(simulator_speed, cfg, tmp_path)
    timed = [r for r in result.metrics if r.get("ratio") is not None]
    runs = [
        ("matmul", "ideal"),
        ("matmul_one_thread", "ideal"),
        ("matmul_again", "ideal"),
        ("fast", "ideal"),
        ("per_sample", "ideal"),
        ("insitu_per_sample", "ideal"),
        ("insitu_aggregated", "ideal"),
        ("fast", "noisy"),
        ("insitu_per_sample", "noisy"),
        ("insitu_aggregated", "noisy"),
        ("insitu_per_sample", "realistic"),
    ]
    assert len(timed) == len(cfg.ports) * len(cfg.batches) * len(runs)
    for n in cfg.ports:
        for b in cfg.batches:
            by_run = {
                (r["path"], r["chip"]): r for r in timed if r["n_ports"] == n and r["batch"] == b
            }
            assert sorted(by_run) == sorted(runs)
            matmul = by_run["matmul", "ideal"]
            assert matmul["ratio"] == 1.0
            for run in runs:
                row = by_run[run]
                assert row["time_s"] > 0
                assert row["ratio"] == pytest.approx(row["time_s"] / matmul["time_s"])
            on_chip = result.summary[f"insitu_per_sample_vs_adjoint_N{n}_B{b}_realistic_chip"]
            exact = by_run["fast", "noisy"]["time_s"]
            realistic = by_run["insitu_per_sample", "realistic"]["time_s"]
            assert on_chip == pytest.approx(realistic / exact, abs=0.006)
    assert (result.out_dir / "speed.png").exists()
    assert (result.out_dir / "metrics.csv").exists()


def test_busy_warning_names_the_sizes_whose_matmul_changed() -> None:
    limit = simulator_speed.MATMUL_DRIFT_LIMIT
    steady = {(64, 256): (1.0e-4, 1.05e-4), (16, 32): (2.0e-6, 1.9e-6)}
    assert simulator_speed.busy_warning(steady) is None
    busy = {**steady, (128, 1024): (7.5e-3, 7.5e-3 / (limit + 0.1))}
    warning = simulator_speed.busy_warning(busy)
    assert warning is not None
    assert "N=128, B=1024 (1.40×)" in warning and "N=64" not in warning


def test_per_sample_max_ports_limits_the_chip_rows_too(tmp_path: Path) -> None:
    cfg = dataclasses.replace(simulator_speed.Config.smoke(), per_sample_max_ports=8)
    result = run_scenario(simulator_speed, cfg, tmp_path)
    runs = {(r["n_ports"], r["path"], r["chip"]) for r in result.metrics}
    assert (16, "insitu_aggregated", "noisy") in runs
    assert not {(16, "per_sample", "ideal"), (16, "insitu_per_sample", "noisy")} & runs
    assert (8, "insitu_per_sample", "realistic") in runs


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("ports", (1,), "ports"),
        ("batches", (0,), "batches"),
        ("topology", "hex", "topology"),
        ("repeats", 0, "repeats"),
        ("large_ports", 1, "large_ports"),
        ("ports", (16, 8192), r"ports=\(16, 8192\) must list ints in 2 … 4096"),
        ("large_ports", 8192, "large_ports=8192 must be 0 .skip. or in 2 … 4096"),
        ("chip_max_ports", -1, "chip_max_ports"),
    ],
)
def test_config_validation(field: str, value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        simulator_speed.Config(**{field: value})  # type: ignore[arg-type]


def test_busy_warning_sees_a_matmul_that_got_slower_as_well_as_faster() -> None:
    """Drift is the larger over the smaller timing, whichever came first; exactly the
    limit is not "more than" it."""
    limit = simulator_speed.MATMUL_DRIFT_LIMIT
    slower = simulator_speed.busy_warning({(64, 256): (1.0e-4, 1.5e-4)})
    assert slower is not None and "N=64, B=256 (1.50×)" in slower
    assert simulator_speed.busy_warning({(64, 256): (1.0, limit)}) is None


#: Fake best times (s) of one size: the matmul (before, after) and every step.
FAKE_TIMES: dict[tuple[str, str], float] = {
    ("matmul", "ideal"): 1e-3,
    ("matmul_one_thread", "ideal"): 1.6e-3,
    ("matmul_again", "ideal"): 2e-3,
    ("fast", "ideal"): 4e-3,
    ("insitu_aggregated", "ideal"): 6e-3,
    ("per_sample", "ideal"): 10e-3,
    ("insitu_per_sample", "ideal"): 20e-3,
    ("fast", "noisy"): 5e-3,
    ("insitu_aggregated", "noisy"): 15e-3,
    ("insitu_per_sample", "noisy"): 50e-3,
    ("insitu_per_sample", "realistic"): 100e-3,
}


def test_summary_ratios_from_known_timings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With fixed timings the ratios are known by hand: a step over the first matmul
    (4 ms / 1 ms = 4), an in-situ step over the exact step on the same chip (noisy:
    15/5 = 3, not 15/4 against the ideal chip's), the realistic chip over the noisy
    chip's exact step (100/5 = 20); the matmul doubled meanwhile: a warning."""

    def fake_measure(
        n: int,
        b: int,
        cfg: object,
        rng: object,
        runs: list[tuple[str, str]],
        chip_seed: int,
        step_seed: int,
    ) -> dict[tuple[str, str], float]:
        wanted = [("matmul", "ideal"), ("matmul_one_thread", "ideal"), *runs]
        wanted.append(("matmul_again", "ideal"))
        return {run: FAKE_TIMES[run] for run in wanted}

    monkeypatch.setattr(simulator_speed, "_measure", fake_measure)
    monkeypatch.setattr(simulator_speed, "save_figure", lambda fig, out_dir, stem: [])
    cfg = dataclasses.replace(simulator_speed.Config.smoke(), ports=(8,))
    s = simulator_speed.run(cfg, tmp_path).summary
    assert s["ratio_fast_N8_B32"] == 4.0
    assert s["ratio_fast_N8_B32_one_thread_matmul"] == 2.5  # 4 / 1.6
    assert s["ratio_insitu_per_sample_N8_B32_noisy_chip"] == 50.0
    assert s["insitu_aggregated_vs_adjoint_N8_B32"] == 1.5  # 6 / 4
    assert s["insitu_aggregated_vs_adjoint_N8_B32_noisy_chip"] == 3.0
    assert s["insitu_per_sample_vs_adjoint_N8_B32_noisy_chip"] == 10.0
    assert s["insitu_per_sample_vs_adjoint_N8_B32_realistic_chip"] == 20.0
    assert "N=8, B=32 (2.00×)" in str(s["timing_warning"])


def test_loss_and_delta_refuses_targets_of_another_shape() -> None:
    """Labels (B,) or one row of targets would broadcast silently; they are refused."""
    y = np.ones((4, 4), dtype=complex)
    for target in (np.zeros(4), np.zeros((1, 4)), np.zeros((4, 3))):
        with pytest.raises(ValueError, match="target has shape"):
            simulator_speed.loss_and_delta(y, target)


def test_loss_and_delta_refuses_what_half_squared_error_refused() -> None:
    """The compiled pass must not turn bad input into a NaN loss or a silent cast."""
    y = np.ones((3, 2), dtype=complex)
    target = np.ones((3, 2))
    with pytest.raises(ValueError, match="y holds 2 NaN"):
        simulator_speed.loss_and_delta(np.where(np.eye(3, 2) > 0, np.nan, y), target)
    with pytest.raises(ValueError, match="target holds 2 NaN"):
        simulator_speed.loss_and_delta(y, np.where(np.eye(3, 2) > 0, np.inf, target))
    with pytest.raises(
        TypeError,
        match="target real numbers; got dtypes complex128 and complex128",
    ):
        simulator_speed.loss_and_delta(y, target + 1j)
    with pytest.raises(ValueError, match="the loss overflows float64"):
        simulator_speed.loss_and_delta(y * 1e160, target)
    with pytest.raises(ValueError, match=r"target has shape \(3, 1\)"):
        simulator_speed.loss_and_delta(y, target[:, :1])
    for bad in (y[:, 0], y[:, :0], y[:0]):
        with pytest.raises(ValueError, match=r"y has shape .*; it must be \(B ≥ 1, N ≥ 1\)"):
            simulator_speed.loss_and_delta(bad, np.ones(bad.shape))
