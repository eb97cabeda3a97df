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
