"""gradient_fidelity: metrics mean what they say, the physics checks hold, the run is complete."""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digital.gradcheck import gradient_metrics
from photonic.imperfections import Chip
from photonic.mesh import Mesh
from photonic.network import PhotonicNetwork
from scenarios import gradient_fidelity as gf
from scenarios.framework import Result, child_rngs, config_from_overrides, errorbars_above_floor

SEEDS = (11, 12, 13, 14)


# -- the metrics -------------------------------------------------------------------------------


def test_the_metrics_are_the_library_s() -> None:
    """Outside users import ``gradient_metrics`` from here; it is digital.gradcheck's."""
    assert gf.gradient_metrics is gradient_metrics


# -- physics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("topology", ["clements", "reck"])
def test_ideal_chip_every_measurement_is_exact(topology: str) -> None:
    """Lossless and noiseless: 3-pass and 2-pass reproduce the adjoint gradient."""
    h = 0.1
    out = gf.measure_layer(
        n_ports=5,
        batch=3,
        chip_settings=gf.QUIET_CHIP,
        methods=gf.METHODS,
        seeds=SEEDS,
        topology=topology,  # type: ignore[arg-type]
        fd_step_rad=h,
    )
    for method in ("in_situ", "analog", "digital_twin"):
        assert out[method]["epsilon"] < 1e-12, method
        assert out[method]["relative_error"] < 1e-9, method
        assert out[method]["sign_agreement"] == 1.0
    # Every detected power is a first-order trigonometric polynomial of each phase, so a
    # central difference returns exactly sin(h)/h times the gradient: a pure scale error.
    fd = out["finite_difference"]
    assert fd["epsilon"] < 1e-12
    assert fd["relative_error"] == pytest.approx(1 - np.sin(h) / h, rel=1e-6)


def test_loss_breaks_three_pass_but_not_two_pass() -> None:
    """0.2 dB per MZI, no noise (acceptance): 3-pass cosine well below the 2-pass one."""
    settings = {**gf.QUIET_CHIP, "loss_db_per_mzi": 0.2}
    cos = {"in_situ": [], "analog": [], "finite_difference": []}
    for r in range(3):
        out = gf.measure_layer(
            n_ports=8,
            batch=4,
            chip_settings=settings,
            methods=tuple(cos),
            seeds=(r, r + 10, r + 20, r + 30),
        )
        for method in cos:
            cos[method].append(out[method]["cosine"])
    assert np.mean(cos["analog"]) > 0.99
    assert np.mean(cos["in_situ"]) < 0.9
    assert np.mean(cos["finite_difference"]) > 0.999  # FD measures the loss itself


def test_splitting_error_fools_the_twin_not_the_measurement() -> None:
    settings = {**gf.QUIET_CHIP, "splitting_error_std_rad": 0.05}
    out = gf.measure_layer(
        n_ports=6, batch=4, chip_settings=settings, methods=gf.METHODS, seeds=SEEDS
    )
    assert out["in_situ"]["epsilon"] < 1e-12 and out["analog"]["epsilon"] < 1e-12
    assert out["digital_twin"]["epsilon"] > 1e-4


def test_fd_is_skipped_above_fd_max_ports_and_draws_are_seeded() -> None:
    settings = {**gf.QUIET_CHIP, "tap_noise": 0.01}
    kwargs = {"n_ports": 6, "batch": 2, "chip_settings": settings, "seeds": SEEDS}
    a = gf.measure_layer(methods=gf.METHODS, fd_max_ports=4, **kwargs)  # type: ignore[arg-type]
    b = gf.measure_layer(methods=gf.METHODS, fd_max_ports=4, **kwargs)  # type: ignore[arg-type]
    assert "finite_difference" not in a
    assert a == b
    assert a["in_situ"]["epsilon"] > 0  # the noise is really there


def test_the_layer_study_draws_the_phases_once_per_size_and_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every point of the single-layer study uses the same seeds, so the same initial
    phases; drawing them decomposes a Haar unitary, most of a draw's time at N = 256
    (≈ 60 % there; a --set base_ports=256 run took over 400 s). One draw per (N, seed)
    now, with the same numbers."""
    cfg = dataclasses.replace(gf.Config.smoke(), pai_profiles=(), repeats=3)
    seeds = gf._seeds(child_rngs(cfg.seed, "init", "data", "chip", "noise"), cfg.repeats)
    expected = gf._layer_study(cfg, seeds)
    calls: list[int] = []
    original = Mesh.random_phases

    def counted(self: Mesh, *args: Any, **kwargs: Any) -> Any:
        calls.append(self.n_ports)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Mesh, "random_phases", counted)
    rows = gf._layer_study(cfg, seeds)
    sizes = {cfg.base_ports, *cfg.port_values}
    assert sorted(calls) == sorted(n for n in sizes for _ in range(cfg.repeats))
    assert rows == expected


def test_pai_network_on_an_ideal_chip_is_measured_exactly() -> None:
    from photonic.network import PhotonicNetwork

    rng = np.random.default_rng(3)
    params = PhotonicNetwork.pai2023(rng=rng).params()
    x, labels = rng.normal(size=(4, 2)), rng.integers(0, 2, size=4)
    out = gf.measure_pai(params, x, labels, None, methods=gf.METHODS, noise_seed=0)
    for method in ("in_situ", "analog", "digital_twin"):
        assert out[method]["epsilon"] < 1e-12, method
        assert out[method]["relative_error"] < 1e-9, method
    assert out["finite_difference"]["epsilon"] < 1e-3


# -- the smoke run ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Result:
    return gf.run(gf.Config.smoke(), tmp_path_factory.mktemp("gf"), echo=None)


def _value(result: Result, **keys: object) -> float:
    hits = [r for r in result.metrics if all(r.get(k) == v for k, v in keys.items())]
    assert len(hits) == 1, keys
    return float(hits[0]["mean"])


def test_smoke_has_every_point_method_and_metric(smoke: Result) -> None:
    cfg = gf.Config.smoke()
    layer = [r for r in smoke.metrics if r["study"] == "layer"]
    for factor, (field, _) in gf.FACTORS.items():
        for value in getattr(cfg, field):
            for method in cfg.methods:
                n_ports = value if factor == "n_ports" else cfg.base_ports
                if method == "finite_difference" and n_ports > cfg.fd_max_ports:
                    continue
                for metric in gf.METRICS:
                    _value(smoke, study="layer", factor=factor, value=value, method=method,
                           metric=metric)  # fmt: skip
    for row in layer + [r for r in smoke.metrics if r["study"] == "pai2023"]:
        assert row["n"] >= 1 and row["std"] >= 0
        if row["metric"] == "epsilon":
            assert 0 <= row["mean"] <= 2 + 1e-12
        elif row["metric"] in ("cosine",):
            assert -1 - 1e-12 <= row["mean"] <= 1 + 1e-12
        elif row["metric"] == "sign_agreement":
            assert 0 <= row["mean"] <= 1
    n_pai = len(cfg.pai_profiles) * len(cfg.pai_states) * len(cfg.pai_batches)
    assert len([r for r in smoke.metrics if r["study"] == "pai2023"]) == (
        n_pai * len(cfg.methods) * len(gf.METRICS)
    )


def test_smoke_physics(smoke: Result) -> None:
    for method in ("in_situ", "analog"):  # noiseless point: exact
        eps = _value(smoke, study="layer", factor="tap_noise", value=0.0, method=method,
                     metric="epsilon")  # fmt: skip
        assert abs(eps) < 1e-12
        noisy = _value(smoke, study="layer", factor="tap_noise", value=0.01, method=method,
                       metric="epsilon")  # fmt: skip
        assert 0 < noisy < 0.1
    cos3 = _value(smoke, study="layer", factor="loss_db_per_mzi", value=0.2, method="in_situ",
                  metric="cosine")  # fmt: skip
    cos2 = _value(smoke, study="layer", factor="loss_db_per_mzi", value=0.2, method="analog",
                  metric="cosine")  # fmt: skip
    assert cos3 < cos2
    key = "cosine_in_situ_layer_N4_B2_loss0.2dB"
    assert key in smoke.summary and "±" in str(smoke.summary[key])
    assert any(k.startswith("eps_pai_tap_init_B1") for k in smoke.summary)


def test_smoke_outputs(smoke: Result) -> None:
    names = {p.name for p in smoke.figures}
    for stem in [f"layer_{m}" for m in gf.METRICS] + ["pai2023_epsilon"]:
        assert {f"{stem}.png", f"{stem}.svg"} <= names
    assert all(p.is_file() for p in smoke.figures)
    with (smoke.out_dir / "pai_comparison.csv").open() as fh:
        table = list(csv.DictReader(fh))
    cfg = gf.Config.smoke()
    assert len(table) == len(cfg.pai_profiles) * len(cfg.pai_states) * len(cfg.pai_batches)
    assert table[0]["pai2023_measured_eps"].startswith("0.016")
    assert "±" in table[0]["eps_analog"]
    assert list(table[0]) == gf._table_columns(cfg)
    assert "chip" in gf.format_table(gf.comparison_table(cfg, smoke.metrics))


# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"methods": ("adjoint",)}, "methods='adjoint'"),
        ({"methods": ()}, "at least one"),
        ({"methods": ("analog", "analog")}, "twice"),
        ({"repeats": 0}, "repeats=0"),
        ({"layer_topology": "hex"}, "layer_topology='hex'"),
        ({"base_ports": 1}, "base_ports=1"),
        ({"tap_noise_values": (0.01, -0.1)}, "tap_noise_values"),
        ({"loss_db_values": (float("nan"),)}, "loss_db_values"),
        ({"batch_values": (0,)}, "batch_values"),
        ({"port_values": (1,)}, "port_values"),
        ({"port_values": (4, 100_000)}, r"port_values=.*in 2 … 4096 \(MAX_PORTS\); got 100000"),
        ({"base_ports": 5000}, "base_ports=5000 must be an int in 2 … 4096"),
        ({"fd_step_rad": 0.0}, "fd_step_rad=0.0"),
        ({"fd_max_ports": -1}, "fd_max_ports=-1"),
        ({"measurement": "batch"}, "measurement='batch'"),
        ({"adjoint_power_ratio": 0.0}, "adjoint_power_ratio=0.0"),
        ({"pai_profiles": ("lab",)}, "pai_profiles='lab'"),
        ({"pai_states": ("done",)}, "pai_states='done'"),
        ({"pai_batches": (1000,)}, "cannot exceed"),
        ({"reference_tap_noise": -0.01}, "reference_tap_noise"),
        ({"seed": -1}, "seed=-1"),
        (
            {**{field: () for field, _ in gf.FACTORS.values()}, "pai_profiles": ()},
            r"every single-layer sweep \(tap_noise_values, .*\) is empty and "
            r"pai_profiles=\(\): nothing to measure",
        ),
    ],
)
def test_config_validation(changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gf.Config(**changes)


def test_aggregated_mode_is_refused_where_it_cannot_represent_the_chip() -> None:
    with pytest.raises(ValueError, match=r"aggregated.*phase_noise_values_rad"):
        gf.Config(measurement="aggregated")
    cfg = gf.Config(
        measurement="aggregated", phase_noise_values_rad=(0.0,), pai_profiles=("tap", "lossy")
    )
    assert cfg.measurement == "aggregated"


def test_config_from_the_command_line() -> None:
    cfg = config_from_overrides(
        gf.Config, {"methods": "in_situ,analog", "batch_values": "1,2", "pai_profiles": ""}
    )
    assert cfg.methods == ("in_situ", "analog")
    assert cfg.batch_values == (1, 2)
    assert cfg.pai_profiles == ()


def test_no_pai_study_when_no_profiles(tmp_path: Path) -> None:
    cfg = gf.Config(
        repeats=1,
        base_ports=3,
        base_batch=1,
        methods=("analog",),
        tap_noise_values=(0.01,),
        loss_db_values=(),
        splitting_error_values_rad=(),
        phase_noise_values_rad=(),
        io_error_values=(),
        batch_values=(),
        port_values=(),
        pai_profiles=(),
    )
    lines: list[str] = []
    result = gf.run(cfg, tmp_path, echo=lines.append)
    assert {r["study"] for r in result.metrics} == {"layer"}
    assert not (tmp_path / "pai2023_epsilon.png").exists()
    # No study, no table: not a 0-byte pai_comparison.csv (no header breaks CSV readers),
    # and no paragraph about how simulated values bracket Pai et al.'s when there are none.
    assert not (tmp_path / "pai_comparison.csv").exists()
    assert lines == ["Pai et al. 2023 network: not simulated (pai_profiles is empty)"]
    assert _header(tmp_path / "metrics.csv") == _documented_columns()  # no Pai columns lost


def _documented_columns() -> list[str]:
    """The metrics.csv columns the module docstring lists (````study, factor, …````)."""
    match = re.search(r"``(study,\s+factor,[^`]+)``", gf.__doc__ or "")
    assert match, "the module docstring no longer lists metrics.csv's columns"
    return [c.strip() for c in match.group(1).split(",")]


def _header(path: Path) -> list[str]:
    with path.open(newline="") as fh:
        return next(csv.reader(fh))


def test_metrics_csv_has_the_documented_columns(smoke: Result) -> None:
    """The docstring said ``study, factor, value, profile, state, method, …``; the file had
    ``…, n_ports, batch, …, profile, state``: the documented list is the file's header."""
    assert _documented_columns() == list(gf.METRICS_COLUMNS)
    assert _header(smoke.out_dir / "metrics.csv") == list(gf.METRICS_COLUMNS)
    assert all(list(row) == list(gf.METRICS_COLUMNS) for row in smoke.metrics)


def test_summary_has_numbers_for_sweeps(smoke: Result) -> None:
    """Every ``mean ± std`` text has its mean as a number, first, under a key that names
    none of the base settings (sweeps aggregate numbers, under keys every point has)."""
    cfg = gf.Config.smoke()
    numbers = [k for k, v in smoke.summary.items() if isinstance(v, float)]
    assert numbers[0] == "cosine_in_situ_layer_loss0.2dB_mean" and numbers[-1] == "wall_time_s"
    assert all(k.endswith("_mean") for k in numbers[:-1])
    base = (f"_N{cfg.base_ports}_", f"_B{cfg.base_batch}_", f"_s{cfg.reference_tap_noise:g}_")
    assert not any(part in k for k in numbers for part in (base[0], base[2]))
    layer = [k for k in numbers if "_layer_" in k]  # pai keys carry the pai batches
    assert layer and not any(base[1] in k for k in layer)
    for method in ("in_situ", "analog"):
        text = smoke.summary[f"cosine_{method}_layer_N4_B2_loss0.2dB"]
        mean = smoke.summary[f"cosine_{method}_layer_loss0.2dB_mean"]
        shown_mean, _ = str(text).split(" ± ")
        assert isinstance(mean, float) and float(shown_mean) == pytest.approx(mean, abs=1e-3)
    eps = [k for k in numbers if k.startswith("eps_")]
    assert "eps_layer_B1_in_situ_mean" in eps and any("_pai_" in k for k in eps)
    # One key per factor and method, ε at the factor's last value, named without it.
    for factor, (field, _) in gf.FACTORS.items():
        last = getattr(cfg, field)[-1]
        for method in ("in_situ", "analog", "digital_twin"):
            expected = _value(
                smoke, study="layer", factor=factor, value=last, method=method, metric="epsilon"
            )
            assert smoke.summary[f"eps_{factor}_{method}_mean"] == expected
    assert smoke.summary["eps_phase_noise_rad_analog_mean"] > 0  # σ = 0.01: not exact
    # Exact points (the twin on a noise-only chip) are ε ≥ 0, never −1e-16 of rounding.
    assert all(smoke.summary[k] >= 0 for k in eps)
    assert smoke.summary["eps_tap_noise_digital_twin_mean"] < 1e-28


def test_the_pai_study_does_not_depend_on_the_layer_study_settings(
    smoke: Result, tmp_path: Path
) -> None:
    """Each study has its own random streams: fewer layer draws, the same Pai rows."""
    cfg = dataclasses.replace(
        gf.Config.smoke(), repeats=1, port_values=(4,), batch_values=(1,), pai_profiles=("tap",)
    )
    other = gf.run(cfg, tmp_path, echo=None)

    def pai_rows(result: Result) -> list[dict[str, object]]:
        return [r for r in result.metrics if r["study"] == "pai2023" and r["profile"] == "tap"]

    assert pai_rows(other) and pai_rows(other) == pai_rows(smoke)


# -- the numbers behind the tables and plots --------------------------------------------------


def _draw(eps: float) -> dict[str, dict[str, float]]:
    return {
        "analog": {
            "epsilon": eps,
            "cosine": 1.0 - eps,
            "relative_error": 2.0 * eps,
            "sign_agreement": 1.0,
        }
    }


def test_aggregate_gives_the_mean_and_sample_std_over_draws() -> None:
    """Three draws ε = 0.1, 0.2, 0.6: mean 0.3, sample std √((0.04 + 0.01 + 0.09)/2) = √0.07
    (ddof = 1, the "± std" of every table; ddof = 0 would give √(0.14/3) ≈ 0.216)."""
    rows = gf._rows(gf._aggregate([_draw(0.1), _draw(0.2), _draw(0.6)]), study="layer")
    eps = next(r for r in rows if r["metric"] == "epsilon")
    assert eps["mean"] == pytest.approx(0.3)
    assert eps["std"] == pytest.approx(np.sqrt(0.07))
    assert eps["n"] == 3
    cos = next(r for r in rows if r["metric"] == "cosine")
    assert cos["mean"] == pytest.approx(0.7)  # 1 − mean ε
    assert cos["std"] == pytest.approx(np.sqrt(0.07))


def test_error_bars_are_standard_errors_that_stay_above_the_log_floor() -> None:
    """The plots' bars: std/√n (0.4 over n = 4 draws → 0.2, not std/n = 0.1), and the
    lower bar is the first row of matplotlib's 2×N ``yerr``, cut so that the bar stays
    above 0 on a log axis (a mean at the floor 1e-10 gets a lower bar of 0.5e-10)."""
    assert gf._sem({"std": 0.4, "n": 4}) == pytest.approx(0.2)
    assert gf._sem({"std": 0.4, "n": 1}) == pytest.approx(0.4)
    shown, yerr = errorbars_above_floor(np.array([1e-12, 0.5]), np.array([0.1, 0.1]), 1e-10)
    np.testing.assert_allclose(shown, [1e-10, 0.5])
    np.testing.assert_allclose(yerr[0], [0.5e-10, 0.1])  # lower
    np.testing.assert_allclose(yerr[1], [0.1, 0.1])  # upper
    assert np.all(shown - yerr[0] > 0)


def test_every_point_has_as_many_draws_as_configured(smoke: Result) -> None:
    """n of every row is the number of draws the config asks for (no seed lost or added)."""
    cfg = gf.Config.smoke()
    for row in smoke.metrics:
        assert row["n"] == (cfg.repeats if row["study"] == "layer" else cfg.pai_repeats), row


def test_headline_cosine_is_one_minus_the_mean_epsilon(smoke: Result) -> None:
    """``cosine_*_loss0.2dB_mean`` is the cosine: the mean of cos = 1 − ε over the same
    draws equals 1 − (mean ε) of the ε row at 0.2 dB/MZI."""
    for method in ("in_situ", "analog"):
        eps = _value(smoke, study="layer", factor="loss_db_per_mzi", value=0.2, method=method,
                     metric="epsilon")  # fmt: skip
        headline = smoke.summary[f"cosine_{method}_layer_loss0.2dB_mean"]
        assert headline == pytest.approx(1.0 - eps, abs=1e-12)


def test_pai_comparison_table_shows_epsilon_next_to_the_papers_row_for_that_batch() -> None:
    """The ε column holds the ε rows (not the cosine), the paper's value is the one of
    the same batch size (parameters.md: 0.016–0.020 at batch 1–4, ≈ 0.3 at 10)."""
    cfg = gf.Config(
        methods=("in_situ",), pai_profiles=("tap",), pai_states=("init",), pai_batches=(1, 10)
    )
    rows = [
        {
            "study": "pai2023",
            "profile": "tap",
            "state": "init",
            "batch": b,
            "method": "in_situ",
            "metric": metric,
            "mean": mean,
            "std": 0.002,
            "n": 5,
        }
        for b, eps in ((1, 0.0123), (10, 0.25))
        for metric, mean in (("cosine", 1.0 - eps), ("epsilon", eps))
    ]
    table = gf.comparison_table(cfg, rows)
    assert [e["eps_in_situ"] for e in table] == ["0.0123 ± 0.0020", "0.2500 ± 0.0020"]
    assert [e["n"] for e in table] == ["5", "5"]
    assert table[0]["pai2023_measured_eps"].startswith("0.016-0.020")
    assert table[1]["pai2023_measured_eps"] == "~0.3 in training"


def test_mean_and_std_texts_never_show_a_spread_of_zero() -> None:
    """The lossy Pai point printed ``0.9990 ± 0.0000`` and ``0.0010 ± 0.0000`` (4 fixed
    decimals) although its draws differ: the spread is given to 2 significant digits and
    the mean to the same place."""
    assert gf._pm({"mean": 0.99902, "std": 4.1e-5}) == "0.999020 ± 0.000041"
    assert gf._pm({"mean": 0.0010281, "std": 1.3e-5}) == "0.001028 ± 0.000013"
    assert gf._pm({"mean": 0.0123, "std": 0.002}) == "0.0123 ± 0.0020"
    assert gf._pm(None) == "-"


def test_epsilon_below_the_floor_is_marked_and_not_joined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ε = 1e-16 (exact) at s = 0 and 1e-3 at s = 0.01: the exact point is a hollow ▽ at
    the floor, and the method's line has no segment from it (that slope would be the
    floor's, not the data's)."""
    figures: list = []
    monkeypatch.setattr(gf, "save_figure", lambda fig, out, stem: figures.append(fig) or [])
    cfg = dataclasses.replace(gf.Config.smoke(), methods=("analog",))
    rows = [
        {"study": "layer", "factor": "tap_noise", "method": "analog", "metric": "epsilon",
         "value": s, "mean": eps, "std": 0.0, "n": 2}
        for s, eps in ((0.0, 1e-16), (0.01, 1e-3), (0.02, 4e-3))
    ]  # fmt: skip
    gf._plot_layer(cfg, rows, "epsilon", tmp_path)
    ax = figures[0].axes[0]
    (marker,) = [ln for ln in ax.get_lines() if ln.get_marker() == "v"]
    (line,) = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert marker.get_marker() == "v" and marker.get_markerfacecolor() == "none"
    np.testing.assert_array_equal(marker.get_xdata(), [0.0])
    np.testing.assert_array_equal(marker.get_ydata(), [gf.EPSILON_FLOOR])
    np.testing.assert_array_equal(line.get_ydata(), [np.nan, 1e-3, 4e-3])  # not joined


def _layer_figure(
    cfg: gf.Config, rows: list[dict], metric: str, monkeypatch: pytest.MonkeyPatch
) -> object:
    figures: list = []
    monkeypatch.setattr(gf, "save_figure", lambda fig, out, stem: figures.append(fig) or [])
    gf._plot_layer(cfg, rows, metric, Path("."))
    return figures[0]


@pytest.mark.parametrize(
    ("n_factors", "grid"), [(1, (1, 1)), (2, (1, 2)), (5, (2, 3)), (7, (2, 4))]
)
def test_layer_plot_grid_fits_the_swept_factors(
    n_factors: int, grid: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two swept factors made a 1×4 grid, half of it blank: the grid has one panel per
    factor (rows of at most 4, evenly filled), titled with the factor's name and units."""
    swept = list(gf.FACTORS)[:n_factors]
    cfg = dataclasses.replace(
        gf.Config.smoke(),
        methods=("analog",),
        **{field: () for factor, (field, _) in gf.FACTORS.items() if factor not in swept},
    )
    rows = [
        {"study": "layer", "factor": factor, "method": "analog", "metric": "cosine",
         "value": v, "mean": 0.9, "std": 0.01, "n": 2}
        for factor in swept
        for v in getattr(cfg, gf.FACTORS[factor][0])
    ]  # fmt: skip
    fig = _layer_figure(cfg, rows, "cosine", monkeypatch)
    axes = fig.axes  # type: ignore[attr-defined]
    assert axes[0].get_subplotspec().get_gridspec().get_geometry() == grid
    assert sum(ax.get_visible() for ax in axes) == n_factors
    titles = [ax.get_title().splitlines()[0] for ax in axes if ax.get_visible()]
    assert titles == [gf.FACTORS[f][1] for f in swept]
    assert titles[0] == "tap noise s (|E| units)"
    if n_factors >= 2:
        assert titles[1] == "insertion loss per MZI (dB)"


def test_every_methods_floor_marker_shows_where_several_are_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At tap noise 0 every method is exact: their ▽ all sat at (0, floor), on top of each
    other. Each method's ▽ is shifted sideways (in points, its data stay x = 0), in the
    methods' order, so all of them show; the legend says what the ▽ are."""
    methods = ("in_situ", "analog", "finite_difference")
    cfg = dataclasses.replace(gf.Config.smoke(), methods=methods)
    rows = [
        {"study": "layer", "factor": "tap_noise", "method": m, "metric": "epsilon",
         "value": s, "mean": eps * (k + 1), "std": 0.0, "n": 2}
        for k, m in enumerate(methods)
        for s, eps in ((0.0, 1e-32), (0.01, 1e-3))
    ]  # fmt: skip
    fig = _layer_figure(cfg, rows, "epsilon", monkeypatch)
    ax = fig.axes[0]  # type: ignore[attr-defined]
    markers = [ln for ln in ax.get_lines() if ln.get_marker() == "v"]
    assert [m.get_color() for m in markers] == ["C0", "C1", "C2"]  # in_situ, analog, FD
    for m in markers:
        np.testing.assert_array_equal(m.get_xdata(), [0.0])
        np.testing.assert_array_equal(m.get_ydata(), [gf.EPSILON_FLOOR])
    shown_x = [m.get_transform().transform((0.0, gf.EPSILON_FLOOR))[0] for m in markers]
    gap_pt = np.diff(shown_x) / fig.dpi * 72  # type: ignore[attr-defined]
    width_pt = markers[0].get_markersize()
    assert np.all(gap_pt >= width_pt), gap_pt  # left to right in the methods' order, apart
    np.testing.assert_allclose(gap_pt, gap_pt[0])
    at_zero = ax.transData.transform((0.0, gf.EPSILON_FLOOR))[0]
    assert np.mean(shown_x) == pytest.approx(at_zero)  # centred on x = 0
    assert any("ε < 1e-10" in t.get_text() for t in ax.get_legend().get_texts())


@pytest.mark.parametrize(
    "methods",
    [("in_situ", "analog", "finite_difference"), ("finite_difference", "in_situ", "analog")],
)
def test_the_legend_names_a_method_drawn_only_in_a_later_panel(
    monkeypatch: pytest.MonkeyPatch, methods: tuple[str, ...]
) -> None:
    """With base_ports above fd_max_ports, finite differences are measured only in the N
    sweep's small meshes: their line was drawn there but the legend, taken from the first
    panel, left it out, so a green line went unnamed. The legend keeps the methods'
    order, not the order the panels first drew them in."""
    cfg = dataclasses.replace(
        gf.Config.smoke(), methods=methods, base_ports=64, fd_max_ports=16, port_values=(4, 64)
    )
    rows = [
        {"study": "layer", "factor": "tap_noise", "method": m, "metric": "epsilon",
         "value": s, "mean": 1e-3, "std": 0.0, "n": 2}
        for m in methods
        if m != "finite_difference"
        for s in cfg.tap_noise_values
    ] + [
        {"study": "layer", "factor": "n_ports", "method": m, "metric": "epsilon",
         "value": n, "mean": 1e-2, "std": 0.0, "n": 2}
        for m in methods
        for n in cfg.port_values
        if m != "finite_difference" or n <= cfg.fd_max_ports
    ]  # fmt: skip
    fig = _layer_figure(cfg, rows, "epsilon", monkeypatch)
    legend = fig.axes[0].get_legend()  # type: ignore[attr-defined]
    assert [t.get_text() for t in legend.get_texts()] == list(methods)


def test_pai_plot_marks_epsilon_below_its_floor_and_does_not_join_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The digital twin on a tap-noise chip is exact at B = 1 (ε ≈ 1e-32) and not at B = 4:
    its B = 1 point was drawn at the floor 1e-5 and joined to B = 4, a slope the data do
    not have. As in the single-layer plots it is a ▽ at the floor, not joined."""
    figures: list = []
    monkeypatch.setattr(gf, "save_figure", lambda fig, out, stem: figures.append(fig) or [])
    cfg = gf.Config(
        methods=("digital_twin",), pai_profiles=("tap",), pai_states=("init",), pai_batches=(1, 4)
    )
    rows = [
        {"study": "pai2023", "profile": "tap", "state": "init", "batch": b,
         "method": "digital_twin", "metric": "epsilon", "mean": eps, "std": 0.0, "n": 2}
        for b, eps in ((1, 1e-32), (4, 2.6e-3))
    ]  # fmt: skip
    gf.plot_pai(cfg, rows, Path("."))
    ax = figures[0].axes[0]
    (line,) = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    np.testing.assert_array_equal(line.get_ydata(), [np.nan, 2.6e-3])
    (marker,) = [ln for ln in ax.get_lines() if ln.get_marker() == "v"]
    np.testing.assert_array_equal(marker.get_xdata(), [1.0])
    np.testing.assert_array_equal(marker.get_ydata(), [gf.PAI_EPSILON_FLOOR])


def test_log_x_axes_are_ticked_at_the_swept_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """A base-2 log axis labels only powers of 2: N = 4, 6 showed one tick (2²), B = 10 none.
    The B and N panels are ticked and labelled at the swept values."""
    cfg = dataclasses.replace(
        gf.Config.smoke(),
        methods=("analog",),
        batch_values=(1, 4, 10),
        port_values=(4, 6),
        **{f: () for k, (f, _) in gf.FACTORS.items() if k not in ("batch", "n_ports")},
    )
    rows = [
        {"study": "layer", "factor": factor, "method": "analog", "metric": "epsilon",
         "value": v, "mean": 1e-3, "std": 0.0, "n": 2}
        for factor, values in (("batch", cfg.batch_values), ("n_ports", cfg.port_values))
        for v in values
    ]  # fmt: skip
    fig = _layer_figure(cfg, rows, "epsilon", monkeypatch)
    batch_ax, ports_ax = fig.axes[:2]  # type: ignore[attr-defined]
    assert [t.get_text() for t in batch_ax.get_xticklabels()] == ["1", "4", "10"]
    assert [t.get_text() for t in ports_ax.get_xticklabels()] == ["4", "6"]
    assert len(ports_ax.get_xticks(minor=True)) == 0


def test_a_pai_only_run_draws_no_blank_single_layer_figures(tmp_path: Path) -> None:
    """Every single-layer sweep empty: four layer_*.png of one hidden panel each were
    written. Only the study that ran is plotted."""
    cfg = gf.Config(
        **{field: () for field, _ in gf.FACTORS.values()},
        methods=("analog",),
        pai_profiles=("tap",),
        pai_states=("init",),
        pai_batches=(1,),
        pai_repeats=1,
    )
    result = gf.run(cfg, tmp_path, echo=None)
    assert {r["study"] for r in result.metrics} == {"pai2023"}
    assert sorted(p.name for p in result.figures) == ["pai2023_epsilon.png", "pai2023_epsilon.svg"]
    assert not list(tmp_path.glob("layer_*"))


def test_adjoint_power_ratio_reaches_both_studies() -> None:
    """On a lossy chip a weaker adjoint lowers the 3-pass ε of a single layer and of
    the Pai network; the analog ε does not move (its scale divides out)."""
    lossy = dict(gf.QUIET_CHIP) | {"loss_db_per_mzi": 0.2}
    layer = {
        r: gf.measure_layer(
            n_ports=8,
            batch=4,
            chip_settings=lossy,
            methods=("in_situ", "analog"),
            seeds=(1, 2, 3, 4),
            adjoint_power_ratio=r,
        )
        for r in (1.0, 0.01)
    }
    assert layer[0.01]["in_situ"]["epsilon"] < 0.1 * layer[1.0]["in_situ"]["epsilon"]
    assert layer[0.01]["analog"]["epsilon"] == pytest.approx(
        layer[1.0]["analog"]["epsilon"], rel=1e-6
    )
    chip = Chip.draw(Mesh.reck(4), np.random.default_rng(0), **lossy)
    params = PhotonicNetwork.pai2023(rng=np.random.default_rng(1)).params()
    x = np.random.default_rng(2).normal(size=(4, 2))
    labels = np.array([0, 1, 1, 0])
    pai = {
        r: gf.measure_pai(
            params, x, labels, chip, methods=("in_situ",), noise_seed=0, adjoint_power_ratio=r
        )["in_situ"]["epsilon"]
        for r in (1.0, 0.01)
    }
    assert pai[0.01] < 0.5 * pai[1.0], pai


def test_a_methods_result_does_not_depend_on_the_other_methods() -> None:
    """Each method draws its measurement noise from a stream named by the method, so
    listing, reordering or dropping other methods leaves its numbers as they are."""
    noisy = dict(gf.QUIET_CHIP) | {"tap_noise": 0.01, "io_amplitude_error": 0.02}
    layer = [
        gf.measure_layer(n_ports=6, batch=3, chip_settings=noisy, methods=order, seeds=(1, 2, 3, 4))
        for order in (("in_situ", "analog"), ("analog", "in_situ"), ("analog",))
    ]
    assert layer[0]["analog"] == layer[1]["analog"] == layer[2]["analog"]
    assert layer[0]["in_situ"] == layer[1]["in_situ"]
    assert layer[0]["analog"]["epsilon"] > 0  # noisy: the streams matter
    chip = Chip.draw(Mesh.reck(4), np.random.default_rng(0), **noisy)
    params = PhotonicNetwork.pai2023(rng=np.random.default_rng(1)).params()
    x, labels = np.random.default_rng(2).normal(size=(4, 2)), np.array([0, 1, 1, 0])
    pai = [
        gf.measure_pai(params, x, labels, chip, methods=order, noise_seed=5)
        for order in (("in_situ", "analog"), ("analog", "in_situ"), ("analog",))
    ]
    assert pai[0]["analog"] == pai[1]["analog"] == pai[2]["analog"]
    assert pai[0]["in_situ"] == pai[1]["in_situ"]


def test_measure_pai_measures_on_the_drifted_chip() -> None:
    """With the chip's drift given, the measured pass runs on the drifted phases: the
    digital twin (which knows no drift) is then far off, and without it, close."""
    chip = Chip.draw(
        Mesh.reck(4),
        np.random.default_rng(0),
        **(dict(gf.QUIET_CHIP) | {"drift_rad_per_step": 0.01}),
    )
    params = PhotonicNetwork.pai2023(rng=np.random.default_rng(1)).params()
    x, labels = np.random.default_rng(2).normal(size=(4, 2)), np.array([0, 1, 1, 0])
    drift = {
        f"layer{i}.{f}": np.full(n, 0.5)
        for i in (1, 2, 3)
        for f, n in (("theta_rad", 6), ("phi_rad", 6), ("out_rad", 4))
    }
    eps = {
        given: gf.measure_pai(
            params,
            x,
            labels,
            chip,
            methods=("digital_twin",),
            noise_seed=0,
            drift=drift if given else None,
        )["digital_twin"]["epsilon"]
        for given in (False, True)
    }
    # measured: 0.0007 (one 0.01-rad step) against 1.15 (0.5 rad everywhere)
    assert eps[True] > 10 * eps[False] and eps[True] > 0.1


def test_plot_titles_name_a_non_default_adjoint_power() -> None:
    assert gf._ratio_text(gf.Config.smoke()) == ""
    cfg = dataclasses.replace(gf.Config.smoke(), adjoint_power_ratio=0.01)
    assert gf._ratio_text(cfg) == "; adjoint at 0.01× the forward power"


def test_a_shared_phase_cache_keeps_the_topologies_apart() -> None:
    """The cache is keyed by N, topology and init seed: a Reck layer after a Clements
    one of the same N and seed gets its own draw, as without a cache."""
    settings = {**gf.QUIET_CHIP, "splitting_error_std_rad": 0.05}
    kwargs: dict[str, Any] = {
        "n_ports": 4, "batch": 2, "chip_settings": settings, "methods": ("digital_twin",),
        "seeds": SEEDS,
    }  # fmt: skip
    cache: dict[Any, Any] = {}
    clements = gf.measure_layer(topology="clements", phase_cache=cache, **kwargs)
    reck = gf.measure_layer(topology="reck", phase_cache=cache, **kwargs)
    assert len(cache) == 2
    assert reck == gf.measure_layer(topology="reck", **kwargs)
    assert clements == gf.measure_layer(topology="clements", phase_cache=cache, **kwargs)
