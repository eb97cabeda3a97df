"""pai2023: every published number has a row: the paper's value, ours, a correct difference."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from scenarios import pai2023 as pai
from scenarios.framework import Result


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Result:
    return pai.run(pai.Config.smoke(), tmp_path_factory.mktemp("pai2023"), echo=None)


def _table(result: Result) -> list[dict[str, str]]:
    with (result.out_dir / "table.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _expected_keys(cfg: pai.Config) -> list[str]:
    keys = [f"{d}.{w}.{s}" for d, w, s in pai.PAPER_DEPLOYED]
    keys += [f"{d}.insitu.{m}" for d in pai.PAPER_INSITU for m in cfg.insitu_methods]
    keys += [
        f"eps.{p}.{m}.B{b}"
        for p in cfg.eps_profiles
        for m in cfg.insitu_methods
        for b in cfg.eps_batches
    ]
    keys += [f"digits64.{c}" for c in pai.DIGITS_CASES]
    return keys


def test_every_row_is_there_with_the_papers_value(smoke: Result) -> None:
    table = _table(smoke)
    cfg = pai.Config.smoke()
    assert [r["key"] for r in table] == _expected_keys(cfg)
    for row in table:
        assert row["paper_text"], row["key"]  # every default batch size has a paper value
        assert row["ours"] != ""
        assert math.isfinite(float(row["ours"]))


def test_difference_column_is_ours_minus_paper(smoke: Result) -> None:
    for row in _table(smoke):
        ours, low, high = float(row["ours"]), float(row["paper_low"]), float(row["paper_high"])
        nearest = min(max(ours, low), high)
        assert float(row["difference"]) == pytest.approx(ours - nearest, abs=1e-12), row["key"]


def test_paper_values_are_the_published_ones(smoke: Result) -> None:
    table = {r["key"]: r for r in _table(smoke)}
    published = {
        "moons.simulation.train": (96.5, 96.5),
        "moons.simulation.test": (94.0, 94.0),
        "moons.device.train": (96.0, 96.0),
        "moons.device.test": (94.0, 94.0),
        "ring.simulation.train": (96.75, 96.75),
        "ring.simulation.test": (100.0, 100.0),
        "ring.device.train": (89.5, 89.5),
        "ring.device.test": (90.0, 90.0),
        "moons.insitu.analog": (87.0, 95.0),
        "circles.insitu.analog": (80.0, 95.0),
        "eps.pai_sim.analog.B2": (0.016, 0.020),
        "eps.pai_sim.in_situ.B10": (0.3, 0.3),
        "digits64.no_noise": (2.97, 2.97),
        "digits64.tap": (5.41, 5.41),
        "digits64.tap_io": (6.95, 6.95),
    }
    for key, (low, high) in published.items():
        assert (float(table[key]["paper_low"]), float(table[key]["paper_high"])) == (low, high)


def test_numbers_in_range_and_methods_stated(smoke: Result) -> None:
    for row in _table(smoke):
        value = float(row["ours"])
        if row["unit"] == "%":
            assert 0.0 <= value <= 100.0, row["key"]
        else:
            assert 0.0 <= value <= 2.0, row["key"]  # ε = 1 − cos
        assert row["method"], row["key"]
    table = {r["key"]: r for r in _table(smoke)}
    assert table["digits64.no_noise"]["method"].startswith("adjoint")
    assert table["digits64.tap"]["method"].startswith("in_situ")
    assert "aggregated" in table["digits64.tap_io"]["method"]


def test_outputs_say_the_data_set_differs(smoke: Result) -> None:
    md = (smoke.out_dir / "table.md").read_text(encoding="utf-8")
    page = (smoke.out_dir / "report.html").read_text(encoding="utf-8")
    for text in (md, page, pai.__doc__ or ""):
        assert "MNIST" in text and "scikit-learn" in text
    assert "digits, not MNIST" in md
    assert md.count("\n| ") == len(_expected_keys(pai.Config.smoke())) + 1  # header + rows
    assert page.count('<img src="data:image/png;base64,') == len(
        [p for p in smoke.figures if p.suffix == ".png"]
    )
    assert (smoke.out_dir / "insitu_training" / "accuracy_table.csv").exists()


def test_reference_difference() -> None:
    ref = pai.Reference(87.0, 95.0, "87–95 %")
    assert ref.difference(90.0) == 0.0
    assert ref.difference(96.5) == pytest.approx(1.5)
    assert ref.difference(80.0) == pytest.approx(-7.0)
    with pytest.raises(ValueError):
        pai.Reference(2.0, 1.0, "bad")


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="insitu_methods"):
        pai.Config(insitu_methods=("adjoint",))
    with pytest.raises(ValueError, match="eps_profiles"):
        pai.Config(eps_profiles=("nope",))
    with pytest.raises(ValueError, match="digits_n_samples"):
        pai.Config(digits_n_samples=50)
    with pytest.raises(ValueError, match="digits_measurement"):
        pai.Config(digits_measurement="nope")  # type: ignore[arg-type]


def test_digits_network_shape(tmp_path: Path) -> None:
    import numpy as np

    cfg = pai.Config.smoke()
    net = pai.digits_network(
        cfg, None, rng=np.random.default_rng(0), noise_rng=None, gradient="adjoint"
    )
    out = net.forward(np.ones((3, 64)))
    assert out.shape == (3, 10)
    assert net.n_layers == cfg.digits_layers


def test_summary_has_numbers_for_sweeps(smoke: Result) -> None:
    """Each comparison has our mean as a number next to its text (sweeps aggregate numbers)."""
    ours = [k for k in smoke.summary if k.endswith(".ours")]
    assert ours
    for key in ours:
        value = smoke.summary[key]
        assert isinstance(value, float) and math.isfinite(value)
        assert key.removesuffix(".ours") in smoke.summary


# -- rows, differences and texts from inputs whose answers are known by hand ------------------


def _insitu_row(dataset: str, case: str, method: str, metric: str, seed: int, value: float) -> dict:
    return {
        "dataset": dataset,
        "case": case,
        "method": method,
        "metric": metric,
        "seed": seed,
        "value": value,
    }


def test_accuracy_rows_put_simulation_and_device_in_percent() -> None:
    """Simulation = (a) digitally trained on the ideal model, device = (b) the same phases
    on the chip; fractions become %; mean and sample std over seeds (95 and 93 %: mean 94,
    std 2/√2 = 1.41; ddof = 0 would say 1.0)."""
    rows = []
    for dataset in ("moons", "ring", "circles"):
        for seed, (digital, deployed, on_chip) in enumerate(
            ((0.95, 0.85, 0.90), (0.93, 0.81, 0.88))
        ):
            rows += [
                _insitu_row(dataset, "digital", "adjoint", "final_test_accuracy", seed, digital),
                _insitu_row(dataset, "digital", "adjoint", "final_train_accuracy", seed, 0.97),
                _insitu_row(dataset, "deployed", "adjoint", "final_test_accuracy", seed, deployed),
                _insitu_row(dataset, "deployed", "adjoint", "final_train_accuracy", seed, 0.87),
                _insitu_row(dataset, "on_chip", "analog", "final_test_accuracy", seed, on_chip),
            ]
    cfg = pai.Config(insitu_methods=("analog",))
    out = {r.key: r for r in pai._accuracy_rows(cfg, rows)}
    sim, dev = out["moons.simulation.test"], out["moons.device.test"]
    assert (sim.ours, sim.ours_std, sim.n) == pytest.approx((94.0, math.sqrt(2.0), 2))
    assert (dev.ours, dev.ours_std, dev.n) == pytest.approx((83.0, math.sqrt(8.0), 2))
    assert out["ring.simulation.train"].ours == pytest.approx(97.0)
    assert out["ring.device.train"].ours == pytest.approx(87.0)
    assert out["circles.insitu.analog"].ours == pytest.approx(89.0)
    assert dev.difference == pytest.approx(83.0 - 94.0)  # the paper's device test: 94.0 %
    assert pai._stats([1.0, 2.0, 6.0]) == pytest.approx((3.0, math.sqrt(7.0), 3))


def test_epsilon_rows_read_epsilon_and_the_papers_value_for_that_batch() -> None:
    """Ours is the ε row (not the cosine), with its std and n; the paper's batch-1 value
    is the union of their two batch-1 numbers, 0.016–0.020 and ≈ 0.03 (parameters.md)."""
    rows = [
        {
            "study": "pai2023",
            "profile": "pai_sim",
            "batch": b,
            "method": "analog",
            "metric": metric,
            "mean": mean,
            "std": 0.004,
            "n": 20,
        }
        for b, eps in ((1, 0.05), (10, 0.2))
        for metric, mean in (("cosine", 1 - eps), ("epsilon", eps))
    ]
    cfg = pai.Config(eps_profiles=("pai_sim",), insitu_methods=("analog",), eps_batches=(1, 10))
    b1, b10 = pai._eps_rows(cfg, rows)
    assert (b1.key, b1.ours, b1.ours_std, b1.n) == ("eps.pai_sim.analog.B1", 0.05, 0.004, 20)
    assert b1.paper is not None and (b1.paper.low, b1.paper.high) == (0.016, 0.03)
    assert b1.difference == pytest.approx(0.05 - 0.03)
    assert b10.paper is not None and (b10.paper.low, b10.paper.high) == (0.3, 0.3)
    assert b10.difference == pytest.approx(0.2 - 0.3)


def _comparison(
    unit: str, low: float, high: float, ours: float, std: float, n: int
) -> pai.Comparison:
    return pai.Comparison(
        key="k",
        section="s",
        quantity="q",
        method="m",
        unit=unit,
        paper=pai.Reference(low, high, "paper"),
        ours=ours,
        ours_std=std,
        n=n,
    )


def test_difference_and_ours_texts() -> None:
    """ε above the range is compared with its upper end, below with its lower end, and the
    ratio is ours / paper (0.05 / 0.020 = 2.5; 0.004 / 0.016 = 0.25); accuracies in
    points with one decimal, ε with four."""
    above = _comparison("", 0.016, 0.020, 0.05, 0.01, 20)
    assert above.difference_text() == "+0.0300 (×2.5 of 0.02)"
    assert above.ours_text() == "0.0500 ± 0.0100 (n=20)"
    below = _comparison("", 0.016, 0.020, 0.004, 0.001, 20)
    assert below.difference_text() == "-0.0120 (×0.25 of 0.016)"
    inside = _comparison("", 0.016, 0.020, 0.018, 0.001, 20)
    assert inside.difference_text() == "0 (within the published range)"
    acc = _comparison("%", 94.0, 94.0, 91.26, 1.234, 3)
    assert acc.difference_text() == "-2.7 pts"
    assert acc.ours_text() == "91.3 ± 1.2 % (n=3)"
    assert _comparison("%", 94.0, 94.0, 91.26, 0.0, 1).ours_text() == "91.3 %"


def test_a_difference_below_two_standard_errors_is_marked_as_noise() -> None:
    """The study's smoke row "0.2891 ± 0.2573 (n=2) vs 0.3: −0.0109" read as agreement;
    with s.e.m. 0.18 it cannot tell. Marked when |Δ| < 2 s.e.m., not otherwise."""
    noisy = _comparison("", 0.3, 0.3, 0.2891, 0.2573, 2)  # 2 s.e.m. = 0.364
    assert noisy.difference_text() == "-0.0109 (×0.96 of 0.3); within noise, 2 s.e.m. = 0.36"
    resolved = _comparison("%", 94.0, 94.0, 91.26, 1.234, 3)  # 2 s.e.m. = 1.42 < 2.74
    assert resolved.difference_text() == "-2.7 pts"
    close = _comparison("%", 94.0, 94.0, 93.5, 1.234, 3)  # 0.5 < 1.42
    assert close.difference_text() == "-0.5 pts; within noise, 2 s.e.m. = 1.4"
    assert _comparison("%", 94.0, 94.0, 93.5, 0.0, 1).difference_text() == "-0.5 pts"


def test_comparison_table_puts_ours_and_the_difference_in_their_columns() -> None:
    row = _comparison("%", 94.0, 94.0, 91.26, 1.234, 3)
    table = pai.comparison_table([row])
    cells = dict(zip(table.columns, table.rows[0], strict=True))
    assert cells["ours"] == "91.3 ± 1.2 % (n=3)"
    assert cells["difference"] == "-2.7 pts"
    assert cells["Pai et al. 2023"] == "paper"


def test_digits_test_error_is_100_minus_the_test_accuracy() -> None:
    """Without noise the chip is ideal and evaluated once: the final test error is 100 %
    minus the test accuracy after the last epoch, which the training history records
    by another route (32 of 60 test images right → 46.7 %, not 53.3 %)."""
    seeds = {"data": 1, "init": 2, "chip": 3, "noise": 4, "train": 5}
    run = pai._run_digits(pai.Config.smoke(), "no_noise", 0, seeds)
    last = run["history"].test_accuracy[-1]
    assert run["n_test"] == 60 and last != 0.5  # 300 images, 80/20; a swap would show
    assert run["test_error_pct"] == pytest.approx(100.0 * (1.0 - last))
