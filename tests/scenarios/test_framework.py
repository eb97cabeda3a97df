"""Tests of scenarios.framework and the helpers it re-exports (scenarios.config, pool,
plotting, stats, formatting): config overrides, run folders, outputs, registry."""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
import types
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from scenarios import framework as fw


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    """A config with one field of every supported type."""

    n: int = 3
    lr: float = 0.1
    name: str = "a"
    flag: bool = False
    widths: tuple[int, ...] = (4, 4)
    pair: tuple[float, str] = (1.0, "x")
    mode: Literal["fast", "exact"] = "fast"
    scale: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"n={self.n!r} must be >= 0")


# --------------------------------------------------------------------------- overrides


def test_overrides_parse_every_supported_type() -> None:
    cfg = fw.config_from_overrides(
        ToyConfig,
        {
            "n": "7",
            "lr": "1e-3",
            "name": " moons ",
            "flag": "true",
            "widths": "32,16",
            "pair": "(2.5, y)",
            "mode": "exact",
            "scale": "0.5",
        },
    )
    expected = ToyConfig(
        n=7,
        lr=1e-3,
        name="moons",
        flag=True,
        widths=(32, 16),
        pair=(2.5, "y"),
        mode="exact",
        scale=0.5,
    )
    assert cfg == expected
    assert isinstance(cfg.lr, float)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("16", (16,)), ("[8, 8]", (8, 8)), ("(1,2,3)", (1, 2, 3)), ("", ()), ("()", ()), ("5,", (5,))],
)
def test_tuple_spellings(text: str, expected: tuple[int, ...]) -> None:
    assert fw.config_from_overrides(ToyConfig, {"widths": text}).widths == expected


@pytest.mark.parametrize(("text", "expected"), [("none", None), ("NULL", None), ("2", 2.0)])
def test_optional_field(text: str, expected: float | None) -> None:
    assert fw.config_from_overrides(ToyConfig, {"scale": text}).scale == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", True), ("0", False), ("Off", False), ("false", False), ("TRUE", True)],
)
def test_bool_spellings(text: str, expected: bool) -> None:
    assert fw.config_from_overrides(ToyConfig, {"flag": text}).flag is expected


def test_overrides_start_from_base() -> None:
    base = ToyConfig(n=9, name="b")
    cfg = fw.config_from_overrides(ToyConfig, {"lr": "2"}, base=base)
    assert (cfg.n, cfg.name, cfg.lr) == (9, "b", 2.0)
    assert fw.config_from_overrides(ToyConfig, {}, base=base) == base


def test_native_values_from_files_are_converted() -> None:
    cfg = fw.config_from_overrides(ToyConfig, {"lr": 1, "widths": [3, 2], "flag": True, "n": 4})
    assert (cfg.lr, cfg.widths, cfg.flag, cfg.n) == (1.0, (3, 2), True, 4)
    assert isinstance(cfg.lr, float)


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(ValueError, match="unknown setting 'nope'") as info:
        fw.config_from_overrides(ToyConfig, {"nope": "1"})
    message = str(info.value)
    for field in dataclasses.fields(ToyConfig):
        assert field.name in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("n", "abc", "an int"),
        ("n", "1.5", "an int"),
        ("lr", "fast", "a float"),
        ("flag", "maybe", "bool"),
        ("widths", "4,x", "tuple of an int"),
        ("pair", "1,2,3", "tuple"),
        ("mode", "slow", "one of 'fast', 'exact'"),
        ("n", True, "an int"),
        ("name", 5, "a string"),
    ],
)
def test_bad_value_names_key_value_and_type(key: str, value: object, expected: str) -> None:
    with pytest.raises(ValueError) as info:
        fw.config_from_overrides(ToyConfig, {key: value})
    message = str(info.value)
    assert repr(key) in message
    assert repr(value) in message
    assert expected in message


def test_config_validation_still_runs() -> None:
    with pytest.raises(ValueError, match="n=-1"):
        fw.config_from_overrides(ToyConfig, {"n": "-1"})


def test_parse_set_options() -> None:
    assert fw.parse_set_options(["a=1", "b = x=y", "a=2"]) == {"a": "2", "b": "x=y"}
    with pytest.raises(ValueError, match="key=value"):
        fw.parse_set_options(["epochs"])
    with pytest.raises(ValueError, match="empty key"):
        fw.parse_set_options(["=3"])


# --------------------------------------------------------------------------- config files


def test_toml_config_file(tmp_path: Path) -> None:
    path = tmp_path / "cfg.toml"
    path.write_text('n = 5\nlr = 0.25\nwidths = [8, 2]\nmode = "exact"\nflag = true\n')
    overrides = fw.load_config_file(path)
    cfg = fw.config_from_overrides(ToyConfig, overrides)
    assert cfg == ToyConfig(n=5, lr=0.25, widths=(8, 2), mode="exact", flag=True)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('n = "5"', r"'n': '5' is not an int \(a string in the config file; write n = 5\)"),
        ('lr = "0.5"', r"'lr': '0\.5' is not a float .*write lr = 0\.5\)"),
        ('lr = "inf"', r"'lr': 'inf' is not a float .*write lr = inf\)"),  # TOML, not JSON
        ('flag = "true"', r"'flag': 'true' is not a bool .*write flag = true\)"),
        ('widths = "8,2"', r"'widths': '8,2' is not .*write widths = \[8, 2\]\)"),
        ('widths = ["8", 2]', r"'widths': \['8', 2\] is not"),
        ('mode = "slow"', r"'mode': 'slow' is not one of 'fast', 'exact'$"),
    ],
)
def test_a_config_file_keeps_its_types(tmp_path: Path, line: str, match: str) -> None:
    """TOML has numbers, booleans and arrays: a quoted number is a string where a number
    belongs, an error that says how to write it (``--set n=5`` is text, and parsed)."""
    path = tmp_path / "cfg.toml"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=match):
        fw.config_from_overrides(ToyConfig, fw.load_config_file(path))


def test_a_config_file_gives_text_settings_and_none_as_strings(tmp_path: Path) -> None:
    """Strings are right for text settings, choices and paths; TOML has no null, so
    ``"none"`` is how a file sets an optional setting to None. JSON has null."""
    path = tmp_path / "cfg.toml"
    path.write_text('name = "b"\nmode = "exact"\nscale = "none"\npair = [2, "y"]\n')
    cfg = fw.config_from_overrides(ToyConfig, fw.load_config_file(path))
    assert (cfg.name, cfg.mode, cfg.scale, cfg.pair) == ("b", "exact", None, (2.0, "y"))
    as_json = tmp_path / "config.json"
    as_json.write_text('{"scale": null, "n": 7, "widths": [1]}')
    cfg = fw.config_from_overrides(ToyConfig, fw.load_config_file(as_json))
    assert (cfg.scale, cfg.n, cfg.widths) == (None, 7, (1,))
    assert fw.config_from_overrides(ToyConfig, {"n": "5"}).n == 5  # --set text is parsed


def test_bad_toml_and_tables_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("n = = 3\n")
    with pytest.raises(ValueError, match="invalid TOML"):
        fw.load_config_file(bad)
    table = tmp_path / "table.toml"
    table.write_text("[digital_baseline]\nn = 3\n")
    with pytest.raises(ValueError, match="is a table"):
        fw.load_config_file(table)
    with pytest.raises(OSError, match="cannot read config file"):
        fw.load_config_file(tmp_path / "missing.toml")


def test_config_json_round_trips(tmp_path: Path) -> None:
    cfg = ToyConfig(n=2, widths=(5, 6), pair=(0.5, "z"), scale=1.5, mode="exact")
    path = fw.write_config(cfg, tmp_path)
    assert path == tmp_path / "config.json"
    again = fw.config_from_overrides(ToyConfig, fw.load_config_file(path))
    assert again == cfg
    shouted = path.rename(tmp_path / "CONFIG.JSON")  # read as JSON, not as TOML
    assert fw.config_from_overrides(ToyConfig, fw.load_config_file(shouted)) == cfg


# --------------------------------------------------------------------------- run folders


def test_run_dirs_are_unique_and_fresh(tmp_path: Path) -> None:
    first = fw.prepare_run_dir(tmp_path / "results", "toy")
    second = fw.prepare_run_dir(tmp_path / "results", "toy")
    assert first != second
    assert first.parent == second.parent == tmp_path / "results" / "toy"
    assert first.is_dir() and second.is_dir()
    assert list(first.iterdir()) == []
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", first.name)


def test_run_dir_under_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        fw.prepare_run_dir(blocker / "results", "toy")


def test_run_dir_rejects_path_like_scenario(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain folder name"):
        fw.prepare_run_dir(tmp_path, "../escape")


def test_run_ids_drawn_twice_never_share_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs started in the same second that draw the same suffix: the second gets a
    new one, and the first run's files stay as they were."""

    class _SameSecond:
        @staticmethod
        def now() -> datetime:
            return datetime(2025, 1, 1, 12, 0, 0)

    suffixes = iter(["aaaaaa", "aaaaaa", "bbbbbb"])
    monkeypatch.setattr(fw, "datetime", _SameSecond)
    monkeypatch.setattr(fw.secrets, "token_hex", lambda n_bytes: next(suffixes))
    first = fw.prepare_run_dir(tmp_path, "toy")
    (first / "metrics.csv").write_text("step,value\n1,0.5\n")
    second = fw.prepare_run_dir(tmp_path, "toy")
    assert (first.name, second.name) == ("20250101-120000-aaaaaa", "20250101-120000-bbbbbb")
    assert (first / "metrics.csv").read_text() == "step,value\n1,0.5\n"
    assert list(second.iterdir()) == []


# --------------------------------------------------------------------------- outputs


def test_metrics_csv_is_tidy_and_readable(tmp_path: Path) -> None:
    rows = [
        {"epoch": 1, "metric": "loss", "value": 0.5},
        {"epoch": 1, "metric": "accuracy", "value": np.float64(0.75), "split": "test"},
        {"epoch": 2, "metric": "loss", "value": None},
    ]
    path = fw.write_metrics(rows, tmp_path)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["epoch", "metric", "value", "split"]
        read = list(reader)
    assert len(read) == 3
    assert read[0] == {"epoch": "1", "metric": "loss", "value": "0.5", "split": ""}
    assert float(read[1]["value"]) == 0.75
    assert read[2]["value"] == ""


def test_metrics_csv_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    """A write that fails midway (here a cell that cannot be written; a full disk or a
    kill alike) used to leave a truncated metrics.csv in place of the good one."""

    class Unwritable:
        def __str__(self) -> str:
            raise RuntimeError("cannot be written")

    path = fw.write_metrics([{"metric": "loss", "value": 0.5}], tmp_path)
    before = path.read_bytes()
    rows = [{"metric": "loss", "value": 0.4}] * 1000 + [{"metric": "loss", "value": Unwritable()}]
    with pytest.raises(RuntimeError, match="cannot be written"):
        fw.write_metrics(rows, tmp_path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]  # no temporary left


def test_manifest_keys(tmp_path: Path) -> None:
    path = fw.write_manifest(tmp_path, scenario="toy", seed=3, wall_time_s=1.5, extra={"k": 1})
    data = json.loads(path.read_text())
    keys = ("scenario", "version", "git_commit", "python", "numpy", "numba", "seed")
    for key in (*keys, "wall_time_s"):
        assert key in data
    assert data["scenario"] == "toy"
    assert data["seed"] == 3
    assert data["wall_time_s"] == 1.5
    assert data["numpy"] == np.__version__
    assert data["numba"] == numba.__version__
    assert data["k"] == 1
    assert isinstance(data["version"], str)
    assert data["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40,64}", data["git_commit"])


def test_manifest_records_the_blas_thread_count_results_depend_on(tmp_path: Path) -> None:
    """Another BLAS thread count can move results in the last bits; the manifest says
    which one a run had, so that two runs that differ can be told apart."""
    from threadpoolctl import threadpool_info, threadpool_limits

    if not [lib for lib in threadpool_info() if lib["user_api"] == "blas"]:
        pytest.skip("NumPy's BLAS is not visible to threadpoolctl")
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
            expected = max(lib["num_threads"] for lib in blas)
            path = fw.write_manifest(tmp_path, scenario="toy", seed=0, wall_time_s=0.0)
        data = json.loads(path.read_text())
        assert data["blas_threads"] == expected
        assert isinstance(data["blas"], str) and data["blas"]
    assert fw.blas_state()[1] is not None


def test_manifest_names_the_commit_of_the_packages_repository(tmp_path: Path) -> None:
    root = Path(fw.__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        pytest.skip("git is not installed")
    if head.returncode != 0:
        pytest.skip("the package is not in a git repository with commits")
    path = fw.write_manifest(tmp_path, scenario="toy", seed=0, wall_time_s=0.0)
    data = json.loads(path.read_text())
    assert data["git_commit"] == head.stdout.strip()
    assert isinstance(data["git_dirty"], bool)


def test_manifest_wall_time_is_the_runs_duration(tmp_path: Path) -> None:
    module = _toy_module()
    plain_run = module.run

    def slow_run(cfg: ToyConfig, out_dir: Path) -> fw.Result:
        time.sleep(0.05)
        return plain_run(cfg, out_dir)

    module.run = slow_run  # type: ignore[attr-defined]
    result = fw.run_scenario(module, ToyConfig(), tmp_path)
    wall_time_s = json.loads((result.out_dir / "manifest.json").read_text())["wall_time_s"]
    assert 0.05 <= wall_time_s < 5.0


def test_save_figure_writes_png_and_svg(tmp_path: Path) -> None:
    fig = fw.new_figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    paths = fw.save_figure(fig, tmp_path, "curve")
    assert [p.name for p in paths] == ["curve.png", "curve.svg"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    assert "<svg" in paths[1].read_text()


def test_save_figure_refuses_values_matplotlib_cannot_draw(tmp_path: Path) -> None:
    """A log axis from 1e-10 to 1e286: matplotlib's tick arithmetic overflows (a bare
    OverflowError from deep inside it before); refused as a ValueError that points to
    metrics.csv, without a RuntimeWarning from numpy on the way."""
    import warnings

    fig = fw.new_figure(figsize=(2, 2))
    ax = fig.subplots()
    ax.plot([1, 2], [1e-10, 1e286])
    ax.set_yscale("log")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"the figure 'huge' cannot be drawn.*metrics\.csv"):
            fw.save_figure(fig, tmp_path, "huge")


def test_save_figure_lets_other_errors_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only an OverflowError is matplotlib's overflow; any other error passes unchanged."""
    fig = fw.new_figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("a bug elsewhere")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(ZeroDivisionError, match="a bug elsewhere"):
        fw.save_figure(fig, tmp_path, "broken")


# --------------------------------------------------------------------------- rng


def test_child_rngs_are_deterministic_and_order_matters() -> None:
    a = fw.child_rngs(7, "init", "data")
    b = fw.child_rngs(7, "init", "data")
    swapped = fw.child_rngs(7, "data", "init")
    draw_a = a["init"].random(4)
    assert np.array_equal(draw_a, b["init"].random(4))
    assert not np.array_equal(draw_a, a["data"].random(4))
    assert np.array_equal(draw_a, swapped["data"].random(4))
    # a name appended at the end leaves the earlier streams as they were
    assert np.array_equal(draw_a, fw.child_rngs(7, "init")["init"].random(4))
    assert np.array_equal(draw_a, fw.child_rngs(7, "init", "data", "noise")["init"].random(4))
    # the documented derivation, so that a seed gives the same numbers in every version
    spawned = np.random.SeedSequence(7).spawn(2)
    assert np.array_equal(draw_a, np.random.default_rng(spawned[0]).random(4))
    assert np.array_equal(
        fw.child_rngs(7, "init", "data")["data"].random(4),
        np.random.default_rng(spawned[1]).random(4),
    )


@pytest.mark.parametrize("args", [(-1, "a"), (0,), (0, "a", "a"), (True, "a")])
def test_child_rngs_rejects_bad_input(args: tuple) -> None:
    with pytest.raises(ValueError):
        fw.child_rngs(*args)


# --------------------------------------------------------------------------- running


def _toy_module(fail: bool = False, raises: BaseException | None = None) -> types.ModuleType:
    module = types.ModuleType("scenarios.toy", "Toy scenario.\n\nMore text.")

    def run(cfg: ToyConfig, out_dir: Path) -> fw.Result:
        if fail:
            raise RuntimeError("boom")
        if raises is not None:
            raise raises
        rows = [{"step": i, "metric": "x", "value": float(i * cfg.n)} for i in range(3)]
        return fw.Result(out_dir=out_dir, metrics=rows, summary={"total": 3.0 * cfg.n})

    module.Config = ToyConfig  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    return module


def test_run_scenario_writes_everything(tmp_path: Path) -> None:
    result = fw.run_scenario(_toy_module(), ToyConfig(n=2, seed=11), tmp_path)
    out = result.out_dir
    assert out.parent == tmp_path / "toy"
    assert {p.name for p in out.iterdir()} == {"config.json", "metrics.csv", "manifest.json"}
    assert json.loads((out / "config.json").read_text())["n"] == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 11
    assert manifest["status"] == "ok"
    assert manifest["summary"] == {"total": 6.0}
    assert manifest["wall_time_s"] >= 0.0
    with (out / "metrics.csv").open(newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 3


def test_run_scenario_writes_metrics_csv_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every scenario writes metrics.csv itself, before its plots: run_scenario wrote
    it a second time from the same rows (double the work, and a window with a partial
    file). Now it writes it only for a run that did not, a resumed one included."""
    writes: list[Path] = []
    write_metrics = fw.write_metrics

    def counted(rows: Any, out_dir: str | Path) -> Path:
        writes.append(Path(out_dir))
        return write_metrics(rows, out_dir)

    monkeypatch.setattr(fw, "write_metrics", counted)
    writing = _toy_module()
    plain_run = writing.run

    def run(cfg: ToyConfig, out_dir: Path) -> fw.Result:
        result = plain_run(cfg, out_dir)
        fw.write_metrics(result.metrics, out_dir)  # as the scenarios do, before plots
        return result

    writing.run = run  # type: ignore[attr-defined]
    result = fw.run_scenario(writing, ToyConfig(n=2), tmp_path)
    assert writes == [result.out_dir]
    with (result.out_dir / "metrics.csv").open(newline="") as fh:
        assert [r["value"] for r in csv.DictReader(fh)] == ["0.0", "2.0", "4.0"]
    # a run that does not write it gets it from its rows, over an earlier attempt's
    writes.clear()
    (result.out_dir / "metrics.csv").write_text("step,metric,value\n0,x,stale\n")
    fw.run_scenario(_toy_module(), ToyConfig(n=5), tmp_path, run_dir=result.out_dir)
    assert writes == [result.out_dir]
    with (result.out_dir / "metrics.csv").open(newline="") as fh:
        assert [r["value"] for r in csv.DictReader(fh)] == ["0.0", "5.0", "10.0"]
    # a resumed run that writes it itself, over an earlier file of the same size (0, 5,
    # 10 then 0, 6, 12): once
    writes.clear()
    fw.run_scenario(writing, ToyConfig(n=6), tmp_path, run_dir=result.out_dir)
    assert writes == [result.out_dir]


def test_run_scenario_quiet_silences_only_a_report_the_scenario_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reporting = _toy_module()
    plain_run = reporting.run

    def run(cfg: ToyConfig, out_dir: Path, *, echo: Any = print) -> fw.Result:
        if echo is not None:
            echo("the toy's report")
        return plain_run(cfg, out_dir)

    reporting.run = run  # type: ignore[attr-defined]
    fw.run_scenario(reporting, ToyConfig(), tmp_path)
    assert capsys.readouterr().out == "the toy's report\n"
    quiet = fw.run_scenario(reporting, ToyConfig(), tmp_path, report="quiet")
    assert capsys.readouterr().out == ""
    assert json.loads((quiet.out_dir / "manifest.json").read_text())["summary"] == {"total": 9.0}
    fw.run_scenario(_toy_module(), ToyConfig(), tmp_path, report="quiet")  # has no echo
    with pytest.raises(ValueError, match="report='loud'"):
        fw.run_scenario(reporting, ToyConfig(), tmp_path, report="loud")  # type: ignore[arg-type]


def test_run_scenario_records_failures(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        fw.run_scenario(_toy_module(fail=True), ToyConfig(), tmp_path, name="toy")
    (run_dir,) = (tmp_path / "toy").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert "boom" in manifest["error"]


def test_run_scenario_records_an_interruption_as_such(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        fw.run_scenario(_toy_module(raises=KeyboardInterrupt()), ToyConfig(), tmp_path)
    (run_dir,) = (tmp_path / "toy").iterdir()
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"


def test_a_write_error_without_a_file_names_the_run_folder(tmp_path: Path) -> None:
    """``[Errno 28] No space left on device`` alone does not say where."""
    full = OSError(28, "No space left on device")
    with pytest.raises(OSError, match=r"cannot write the results to '.*toy.*'.*No space") as info:
        fw.run_scenario(_toy_module(raises=full), ToyConfig(), tmp_path)
    assert info.value.__cause__ is full and info.value.errno == 28
    # anything else passes unchanged: a file named already (a full disk too), a closed
    # pipe (the CLI's quiet exit 141 needs its BrokenPipeError)
    for other in (
        FileNotFoundError(2, "No such file", "x.png"),
        OSError(28, "No space left on device", "curve.png"),
        BrokenPipeError(32, "pipe"),
    ):
        with pytest.raises(type(other)) as caught:
            fw.run_scenario(_toy_module(raises=other), ToyConfig(), tmp_path)
        assert caught.value is other


def test_registry() -> None:
    assert fw.DEFAULT_SCENARIO in fw.SCENARIOS
    module = fw.load_scenario("digital_baseline")
    assert fw.scenario_summary_line(module).startswith("Digital baseline")
    with pytest.raises(ValueError, match=r"valid scenarios: .*digital_baseline"):
        fw.load_scenario("nope")


@pytest.mark.parametrize("name", sorted(fw.SCENARIOS))
def test_every_registered_scenario_has_the_common_shape(name: str) -> None:
    """The check load_scenario applies to a user's module (docstring, a frozen Config
    dataclass with an int seed and smoke(), run), and main, which the CLI needs of
    registered ones only."""
    module = fw.load_scenario(name)
    config_cls: Any = module.Config
    assert fw.scenario_problems(module) == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        config_cls().seed = 1
    assert callable(module.main)
    assert fw.scenario_source(module) is None  # a registered scenario is known by name


def _marked_job(folder: str, index: int) -> int:
    """A pool job: job 0 is interrupted at once, the others leave a mark after 0.2 s."""
    if index == 0:
        raise KeyboardInterrupt
    time.sleep(0.2)
    (Path(folder) / str(index)).touch()
    return index


def test_map_jobs_interrupted_stops_every_job(tmp_path: Path) -> None:
    """Ctrl-C (or a failed job) in a pooled run stops the pool at once: of 20 jobs
    on 2 workers, none of the others gets to its end (0.2 s each)."""
    jobs = [(str(tmp_path), i) for i in range(20)]
    before = set(multiprocessing.active_children())
    with pytest.raises(KeyboardInterrupt):
        fw.map_jobs(_marked_job, jobs, workers=2, desc="jobs")
    # a plain ProcessPoolExecutor ran 19 of them (5 with cancel_futures: those queued)
    assert list(tmp_path.iterdir()) == []
    # the workers are gone (the executor's own thread may be the one reaping them)
    deadline = time.monotonic() + 30
    while not set(multiprocessing.active_children()) <= before:
        assert time.monotonic() < deadline, "the pool's workers are still alive"
        time.sleep(0.05)
    assert fw.map_jobs(_marked_job, jobs[1:4], workers=2, desc="jobs") == [1, 2, 3]


def _sigterm_is_default(index: int) -> bool:
    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_pool_workers_die_of_sigterm_by_default_whatever_the_parent_handles() -> None:
    """process_pool stops its workers with SIGTERM: a Python-level handler inherited from
    the parent (the CLI forwards SIGTERM to Ctrl-C) would wait for a running C call."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        assert fw.map_jobs(_sigterm_is_default, [(0,), (1,)], workers=2, desc="jobs") == [
            True,
            True,
        ]
    finally:
        signal.signal(signal.SIGTERM, previous)


def _blas_threads_of_job(index: int) -> int | None:
    return fw.blas_state()[1]


@pytest.mark.skipif(
    (os.cpu_count() or 1) < 2 or fw.blas_state()[1] in (None, 1),
    reason="needs a BLAS that starts with more than one thread",
)
def test_map_jobs_runs_every_job_with_the_same_blas_threads_wherever_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pai2023's digits jobs had one BLAS thread in a pool and the machine's count when
    serial (numbers that could move with ``workers``); a worker started by spawn (macOS)
    did not inherit the caller's limit (a sweep point's pools: every point has one)."""
    jobs = [(0,), (1,)]
    assert fw.map_jobs(_blas_threads_of_job, jobs, workers=1, desc="j", blas_threads=1) == [1, 1]
    assert fw.map_jobs(_blas_threads_of_job, jobs, workers=2, desc="j", blas_threads=1) == [1, 1]
    from scenarios import pool

    spawn = functools.partial(pool.process_pool, mp_context=multiprocessing.get_context("spawn"))
    monkeypatch.setattr(pool, "process_pool", spawn)  # where map_jobs looks it up
    with threadpool_limits(limits=1, user_api="blas"):
        assert fw.map_jobs(_blas_threads_of_job, jobs, workers=2, desc="j") == [1, 1]
    default = fw.blas_state()[1]
    assert fw.map_jobs(_blas_threads_of_job, jobs, workers=2, desc="j") == [default, default]


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "2"])
def test_map_jobs_refuses_a_blas_thread_count_that_is_not_a_positive_int(bad: object) -> None:
    """0 and -1 meant "no limit" to threadpoolctl, True meant 1; 2.5 and "2" raised its
    bare TypeError (review)."""
    with pytest.raises(ValueError, match=r"blas_threads=.* must be an int > 0"):
        fw.map_jobs(_blas_threads_of_job, [(0,)], workers=1, desc="j", blas_threads=bad)  # type: ignore[arg-type]


_TQDM_LOCK_SCRIPT = """
import os, signal
from tqdm.auto import tqdm
from scenarios.framework import map_jobs

def job(i):
    if i == 0:
        with tqdm.get_lock():  # as a worker killed inside any tqdm call
            os.kill(os.getpid(), signal.SIGKILL)
    return i

if __name__ == "__main__":
    tqdm(total=1, disable=True).close()  # the parent made tqdm's lock before forking
    try:
        map_jobs(job, [(0,), (1,)], workers=2, desc="jobs")
    except Exception as exc:
        print(type(exc).__name__, flush=True)
    tqdm(total=1, disable=True).close()
    print("no hang", flush=True)
"""


def test_a_worker_killed_inside_tqdm_does_not_hang_its_parent(tmp_path: Path) -> None:
    """A forked worker shared tqdm's multiprocessing lock with its parent: killed while
    holding it (the pool terminating it after another job failed, as in
    test_cli's killed-worker test), it left the lock held, and the parent hung for good
    at its next progress bar. The test suite itself hung on it once (compare's smoke
    fixture, right after that test)."""
    script = tmp_path / "tqdm_lock.py"
    script.write_text(_TQDM_LOCK_SCRIPT)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.splitlines() == ["BrokenProcessPool", "no hang"], done.stderr


_KILLED_POOL_SCRIPT = """
import os, sys, time
from scenarios.framework import process_pool

def note_pid(path):
    with open(path, "a") as fh:
        fh.write(f"{os.getpid()}\\n")

def job(i):
    time.sleep(60)
    return i

if __name__ == "__main__":
    import multiprocessing
    context = multiprocessing.get_context(sys.argv[2])
    with process_pool(2, mp_context=context, initializer=note_pid, initargs=(sys.argv[1],)) as pool:
        futures = [pool.submit(job, i) for i in range(6)]
        time.sleep(120)
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_exit_when_their_parent_is_killed(tmp_path: Path, method: str) -> None:
    """SIGKILL of a process with a pool (a sweep, a run with workers > 1) used to leave its
    workers running, reparented, starting the queued jobs: now they exit within a
    second or so."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    script = tmp_path / "pool.py"
    script.write_text(_KILLED_POOL_SCRIPT)
    pids_file = tmp_path / "pids"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, str(script), str(pids_file), method],
        env={**os.environ, "PYTHONPATH": str(root)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while len(pids) < 2:
            assert time.monotonic() < deadline, "the pool's workers did not start"
            assert proc.poll() is None, "the script ended early"
            time.sleep(0.05)
            if pids_file.exists():
                pids = [int(line) for line in pids_file.read_text().split()]
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in pids if _running(pid)], "workers outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for pid in pids:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("name", sorted(fw.SCENARIOS))
def test_every_setting_of_every_scenario_is_documented(name: str) -> None:
    """``list SCENARIO`` has a description for every field (names listed over two
    lines, as in gradient_fidelity, included), and --set reads back its defaults."""
    module = fw.load_scenario(name)
    rows = fw.describe_settings(module)
    assert [row[0] for row in rows] == [f.name for f in dataclasses.fields(module.Config)]
    assert [row[0] for row in rows if not row[3]] == []
    defaults = fw.config_from_overrides(module.Config, {row[0]: row[1] for row in rows})
    assert defaults == module.Config()


def test_list_shows_the_values_of_the_constants_a_setting_cites() -> None:
    """``list`` readers cannot look up ``METHODS`` or ``MAX_PORTS``: their values are
    shown where a description names them; other capitalised words are left alone."""
    from digital.datasets import DATASETS
    from photonic.mesh import MAX_PORTS

    docs = {
        name: text
        for name, _, _, text in fw.describe_settings(fw.load_scenario("digital_baseline"))
    }
    assert docs["dataset"].startswith(
        "One of digital.datasets.DATASETS: " + ", ".join(DATASETS) + ", or the path of a"
    )
    gf = fw.load_scenario("gradient_fidelity")
    assert (
        f"(2 … MAX_PORTS = {MAX_PORTS})"
        in dict((row[0], row[3]) for row in fw.describe_settings(gf))["base_ports"]
    )
    text = "Pai et al. and NOT_A_NAME and scenarios.nope.THING, from METHODS."
    from scenarios import config

    assert config._with_constant_values(text, gf) == (
        "Pai et al. and NOT_A_NAME and scenarios.nope.THING, from METHODS: "
        + ", ".join(gf.METHODS)
        + "."
    )


def test_sample_std_is_the_sweeps_estimate() -> None:
    """ddof = 1 everywhere a table, plot or sweep says "± std" (0 for one value)."""
    from scenarios import compare, insitu_training

    assert fw.sample_std([0.65, 0.85]) == pytest.approx(0.1414213562)  # not 0.1
    assert fw.sample_std([0.7]) == 0.0
    curves = np.array([[1.0, 2.0], [3.0, 2.0]])
    np.testing.assert_allclose(fw.sample_std(curves, axis=0), [np.sqrt(2.0), 0.0])
    np.testing.assert_array_equal(fw.sample_std(curves[:1], axis=0), [0.0, 0.0])
    assert compare._pm([0.65, 0.85], ".3f") == "0.750 ± 0.141"
    assert insitu_training._pm([81.0, 87.0]) == "84.0 ± 4.2 (n=2)"


def test_count_says_one_epoch_and_two_epochs() -> None:
    assert (fw.count(1, "epoch"), fw.count(2, "epoch"), fw.count(0, "seed")) == (
        "1 epoch",
        "2 epochs",
        "0 seeds",
    )
    assert fw.count(3, "minibatch", "minibatches") == "3 minibatches"
    assert fw.count(1, "minibatch", "minibatches") == "1 minibatch"


def test_curve_band_sorts_cuts_and_spreads_over_seeds() -> None:
    by_seed = {0: [(2, 3.0), (1, 1.0), (3, 9.0)], 1: [(1, 3.0), (2, 5.0)]}  # unsorted, short
    x, mean, std = fw.curve_band(by_seed)
    np.testing.assert_array_equal(x, [1.0, 2.0])
    np.testing.assert_array_equal(mean, [2.0, 4.0])
    np.testing.assert_allclose(std, [np.sqrt(2.0), np.sqrt(2.0)])  # ddof = 1


@pytest.mark.parametrize(
    ("mean", "std", "text"),
    [
        (0.9174, 0.005282, "0.9174 ± 0.0053"),
        (8.25, 0.3536, "8.25 ± 0.35"),
        (0.5, 0.0996, "0.50 ± 0.10"),  # the spread rounds up to a new digit
        (1234.5, 351.2, "1230 ± 350"),
        (-3.21, 0.5, "-3.21 ± 0.50"),
        (2e-5, 1e-6, "2.00e-05 ± 1.0e-06"),
        (1e12, 1e10, "1.000e+12 ± 1.0e+10"),
        (0.9174, 1e-7, "9.1740000e-01 ± 1.0e-07"),  # 1e-7 relative: a spread
        (0.9174, 1e-17, "0.9174 ± 0.0"),  # rounding, not spread
        (84.00000000000001, 1.4e-14, "84.0 ± 0.0"),
        (-1.0, 1e-15, "-1.0 ± 0.0"),
        (0.0, 1e-16, "0.0e+00 ± 1.0e-16"),  # no mean to be relative to: a spread
        (4.865072131017771e13, 0.0039, "4.865e+13 ± 0.0"),
        (1e-300, 1e-301, "1.00e-300 ± 1.0e-301"),  # 10 % of a small mean: a spread
        (1e-20, 5e-21, "1.00e-20 ± 5.0e-21"),  # an ε at tiny noise: not hidden as 0
        (-0.0001, 0.5, "0.00 ± 0.50"),  # not "-0.00"
        (5e6, 1.0, "5000000.0 ± 1.0"),
        (2.5e-5, 1.2e-5, "0.000025 ± 0.000012"),  # the spread's digit at 1e-6: fixed point
        (123456.0, 35000.0, "123000 ± 35000"),  # at 1e3: fixed point
        (123456.0, 350000.0, "1.2e+05 ± 3.5e+05"),  # at 1e4: e-notation
        (0.0, float("inf"), "0 ± inf"),
        (1.0, 1.76e308, "1 ± inf"),  # the spread's rounding overflows
        (48650721310177.71, 0.39, "4.865e+13 ± 0.0"),  # 8e-15 relative: rounding
        (48650721310177.71, 1e5, "4.865072131e+13 ± 1.0e+05"),
        (9.9996e-6, 1e-8, "1.0000e-05 ± 1.0e-08"),  # the mean rounded to the spread
        (-0.0, 1e-9, "0.0e+00 ± 1.0e-09"),
        (5.0, float("nan"), "5"),
        (0.5, 0.0, "0.5"),
        (-0.0, 0.0, "0"),  # not "-0"
    ],
)
def test_format_pm_gives_the_spread_two_digits_and_the_mean_as_many(
    mean: float, std: float, text: str
) -> None:
    assert fw.format_pm(mean, std) == text


def test_a_result_neutral_name_that_is_no_setting_is_refused() -> None:
    """A misspelt RESULT_NEUTRAL_FIELDS entry (``"wrokers"``) left the real setting in
    the sweep's identity, and nothing said why a re-run with other workers started over."""

    @dataclasses.dataclass(frozen=True)
    class Config:
        RESULT_NEUTRAL_FIELDS: ClassVar[tuple[str, ...]] = ("wrokers",)
        workers: int = 1

    with pytest.raises(TypeError, match=r"Config.RESULT_NEUTRAL_FIELDS names \['wrokers'\]"):
        fw.result_neutral_fields(Config)


def test_floor_markers_leave_no_slot_for_a_line_with_nothing_at_the_floor() -> None:
    """Two of three lines reach the floor at x = 2: their ▽ sit one slot either side of
    x = 2 (±3 pt), as if the third line were not there; a slot kept for the line with
    no ▽ pushed them off-centre."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        ax.set_yscale("log")
        colors = {"a": "C0", "none": "C1", "b": "C2"}
        at_floor = {"a": np.array([2.0]), "none": np.array([]), "b": np.array([2.0])}
        fw.floor_markers(ax, at_floor, colors, 1e-3)
        markers = [line for line in ax.get_lines() if line.get_marker() == "v"]
        assert [m.get_color() for m in markers] == ["C0", "C2"]
        at_x = ax.transData.transform((2.0, 1e-3))[0]
        shifts_pt = [
            (m.get_transform().transform((2.0, 1e-3))[0] - at_x) / fig.dpi * fw.POINTS_PER_INCH
            for m in markers
        ]
        half = fw.FLOOR_MARKER_SPACING_PT / 2
        np.testing.assert_allclose(shifts_pt, [-half, half])
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "holds a JSON list, not the object a manifest is"),
    ],
)
def test_resume_names_a_manifest_that_is_not_one(tmp_path: Path, text: str, match: str) -> None:
    """A manifest holding valid JSON that is not an object raised a bare AttributeError
    ('list' object has no attribute 'get'; the user-scenarios helper's note)."""
    run_dir = tmp_path / "compare" / "run-1"
    run_dir.mkdir(parents=True)
    (run_dir / fw.CONFIG_FILENAME).write_text("{}")
    (run_dir / fw.MANIFEST_FILENAME).write_text(text)
    with pytest.raises(ValueError, match=match):
        fw.resume_target(run_dir)
