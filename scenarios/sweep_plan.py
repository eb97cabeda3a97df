"""Planning a sweep: its points, their configurations and its identity; runs nothing.

:func:`parse_grid_options` reads the ``--grid key=v1,v2`` options and :func:`plan_sweep`
validates a sweep and builds every point's configuration up front: a
:class:`SweepPlan` of :class:`Point`, whose ``sweep_id`` names the sweep's folder
(:meth:`SweepPlan.folder`). Running the points is :mod:`scenarios.sweep`'s; bad input
anywhere in a sweep is a :class:`SweepError`.

Points and seeds
----------------
The configuration of a point is built in layers: ``Config()`` (or ``Config.smoke()``
with ``--smoke``), the settings of ``--config``, each ``--set key=value``, then the
point's grid values. The grid overrides the file: ``--config <run>/config.json --grid
lr=0.01,0.1`` sweeps ``lr`` around an earlier run (the file's own ``lr`` plays no part,
not even in the sweep's identity); a key both ``--set`` and swept is an error.
Repeat ``k = 0 .. K-1`` (``--repeat K``) then sets ``seed = <that seed> + k``. Two
points that would run the same configuration (a grid over ``seed`` with values closer
than ``--repeat``: seed 0 repeat 1 is seed 1 repeat 0) are refused: their results
would count twice as independent. Every point's ``Config`` is built and validated by
:func:`scenarios.config.config_from_overrides` before anything runs, so a value
of the wrong type, an unknown key or an invalid combination is an error up front.

A repeat is one run of the scenario. A scenario with an ``n_seeds`` setting
(insitu_training, compare, pai2023) also averages that many seeds of its own, derived
from the run's seed, inside every run: ``--repeat 3`` with ``n_seeds=2`` gives 3
numbers per point, each already a mean over 2 seeds. The plot's title and the
console table count repeats (``n=3 repeats``) and say how many seeds each one runs
(:func:`scenarios.sweep_metrics.describe_n`).

``--grid`` values are separated by commas; commas inside ``()`` or ``[]`` belong to
one value, so a tuple field is swept as ``--grid "hidden=(8),(16,16)"``.

The sweep's identity
--------------------
``<out>/sweeps/<scenario>-<hash>/`` where ``<hash>`` is the first 12 hex digits of
the SHA-256 of the scenario name, the fully resolved base configuration, the grid
(keys and values, in canonical order) and, if the base configuration or a grid value
names hardware preset *files* (``--set presets=mychip.toml,cpu``), the digest of each
file's resolved contents (:func:`scenarios.provenance.preset_digests`; bundled preset
names are part of the code and count by name) and, likewise, if they name dataset
*files* (``--set dataset=my.csv``), the digest of each file's bytes
(:func:`scenarios.provenance.dataset_digests`; built-in dataset names count by name).
A scenario of your own (a ``.py`` file or a dotted module path:
:func:`scenarios.registry.load_scenario`) is named in the hash and the folder by
:func:`scenarios.registry.scenario_name` (the file's stem, or the module path), and
the hash also holds the SHA-256 of its source file (``scenario_sha256``; registered
scenarios are part of the package's code and keep the hash they had).
The same command therefore maps to the same folder, whatever the order of the
``--grid`` options or of their values; a different base configuration or grid, or an
edited preset, dataset or scenario file, is a different sweep.
Settings that a scenario marks as not changing its results
(:func:`scenarios.config.result_neutral_fields`: compare's and insitu_training's
``workers``) count at their ``Config()`` (or ``--smoke``) value whatever
``--set`` or ``--config`` says, so that ``--set workers=4`` resumes the sweep run with
``workers=2``; swept, they are part of the grid. ``--repeat``,
``--executor``, ``--workers``, ``--scheduler`` and ``--metric`` are not part of the
hash: raising ``--repeat`` later extends the same sweep and reuses the repeats
already done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scenarios.framework import (
    config_from_overrides,
    result_neutral_fields,
)
from scenarios.provenance import (
    dataset_digests,
    dataset_files,
    preset_digests,
    preset_files,
)
from scenarios.registry import (
    load_scenario,
    scenario_name,
    scenario_source,
)

__all__ = [
    "SWEEPS_DIRNAME",
    "Point",
    "SweepError",
    "SweepPlan",
    "describe_params",
    "parse_grid_options",
    "plan_sweep",
]


SWEEPS_DIRNAME = "sweeps"
"""Sub-folder of the results root that holds one folder per sweep."""

HASH_HEX_DIGITS = 12
"""Length of the grid-spec hash in the sweep folder name (48 bits)."""


class SweepError(ValueError):
    """Bad input to a sweep (reported by the CLI as one line, exit status 2)."""


# --------------------------------------------------------------------------- canonical JSON


def _json_default(obj: object) -> object:
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


def _plain(obj: object) -> object:
    """Tuples to lists, numpy scalars to Python (so JSON round trips compare equal)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _canonical(obj: object) -> str:
    """Compact JSON with sorted keys: equal values give equal strings."""
    return json.dumps(
        _plain(obj), sort_keys=True, separators=(",", ":"), default=_json_default, allow_nan=True
    )


def _dumps(obj: object) -> str:
    return json.dumps(_plain(obj), default=_json_default, allow_nan=True)


# --------------------------------------------------------------------------- planning


@dataclasses.dataclass(frozen=True)
class Point:
    """One run of a sweep.

    Attributes
    ----------
    key : str
        Canonical JSON of ``{"params": params, "repeat": repeat}``; unique in a sweep.
    params : dict
        The grid values of this point (field name -> converted value).
    repeat : int
        Repeat index ``k`` in ``0 .. K-1``.
    config : dataclass instance
        The scenario's full ``Config`` for this point (``seed`` already offset by k).
    """

    key: str
    params: dict[str, Any]
    repeat: int
    config: Any

    @property
    def seed(self) -> int | None:
        """The point's seed (``None`` if the scenario has no ``seed`` field)."""
        seed = getattr(self.config, "seed", None)
        return None if seed is None else int(seed)


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: what runs, and where its results live.

    Attributes
    ----------
    scenario : str
        The scenario's name (:func:`scenarios.registry.scenario_name`: a registered
        name, a file's stem or a dotted module path).
    base_config : dataclass instance
        ``Config`` before the grid values (after ``--smoke``, ``--config``, ``--set``).
    grid : tuple of (str, tuple)
        ``(key, values)`` in command-line order; values converted to the field types.
    repeat : int
        Number of seeds per grid combination, ``K >= 1``.
    points : tuple of Point
        Grid combinations in command-line order (last key fastest), repeats innermost.
    sweep_id : str
        ``"<scenario>-<hash>"``: the name of the sweep folder.
    spec : dict
        What the hash is computed from (scenario, base config, canonical grid and,
        if any config names preset files, ``preset_digests``: entry -> digest; if any
        names dataset files, ``dataset_digests``: entry -> digest; for a user's
        scenario, ``scenario_sha256``: the digest of its source).
    source : dict or None
        For a user's scenario (a file or module path), how to load it again
        (:func:`scenarios.registry.scenario_source`); ``None`` for a registered one.
    """

    scenario: str
    base_config: Any
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    repeat: int
    points: tuple[Point, ...]
    sweep_id: str
    spec: dict[str, Any]
    source: dict[str, Any] | None = None

    @property
    def load(self) -> str:
        """What :func:`scenarios.registry.load_scenario` takes to load the scenario
        (on any worker): a registered name, a file's absolute path or a module path."""
        return str(self.source["load"]) if self.source is not None else self.scenario

    @property
    def grid_keys(self) -> tuple[str, ...]:
        """The swept keys in command-line order (the first is the plot's x axis)."""
        return tuple(key for key, _ in self.grid)

    def folder(self, out_root: str | Path) -> Path:
        """``<out_root>/sweeps/<sweep_id>``."""
        return Path(out_root) / SWEEPS_DIRNAME / self.sweep_id


def _split_values(text: str) -> list[str]:
    """Split on commas that are not inside (), [] or {}."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                raise SweepError(f"--grid values {text!r} have an unmatched {char!r}")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise SweepError(f"--grid values {text!r} have an unclosed bracket")
    parts.append("".join(current).strip())
    return parts


def parse_grid_options(items: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Parse ``--grid key=v1,v2`` options into ``[(key, ["v1", "v2"]), ...]``.

    Values are split on commas outside brackets (``hidden=(8),(16,16)`` is two
    tuples). Only the syntax is checked here; types are checked by
    :func:`plan_sweep`.

    Raises
    ------
    SweepError
        If there is no option, an option has no ``=`` or an empty key, a key is
        repeated, the value list is empty or has an empty item.
    """
    if not items:
        raise SweepError("a sweep needs at least one --grid key=v1,v2,...")
    grid: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep:
            raise SweepError(f"--grid expects key=v1,v2,..., got {item!r} (no '=')")
        if not key:
            raise SweepError(f"--grid expects key=v1,v2,..., got {item!r} (empty key)")
        if key in seen:
            raise SweepError(f"--grid key {key!r} is given twice; list all its values in one")
        seen.add(key)
        if not values.strip():
            raise SweepError(f"--grid {key}= has an empty value list; give v1,v2,...")
        parts = _split_values(values)
        if any(not part for part in parts):
            raise SweepError(f"--grid {item!r} has an empty value; values must be non-empty")
        grid.append((key, parts))
    return grid


def _short_hash(spec: Mapping[str, object]) -> str:
    return hashlib.sha256(_canonical(spec).encode("utf-8")).hexdigest()[:HASH_HEX_DIGITS]


def plan_sweep(
    scenario: str,
    *,
    grid: Sequence[tuple[str, Sequence[object]]],
    overrides: Mapping[str, object] | None = None,
    file_settings: Mapping[str, object] | None = None,
    base: Literal["default", "smoke"] = "default",
    repeat: int = 1,
) -> SweepPlan:
    """Validate a sweep and build every point's configuration; runs nothing.

    Parameters
    ----------
    scenario : str
        A registered scenario name, the path of a scenario file or a dotted module
        path (:func:`scenarios.registry.load_scenario`).
    grid : sequence of (str, sequence)
        ``(key, values)`` in the order of the plot's axes (first key on x); values as
        strings (from the command line) or native values.
    overrides : mapping, optional
        Settings applied to the base config before the grid (``--set``); a key here
        cannot also be swept.
    file_settings : mapping, optional
        Settings of a config file (``--config``, e.g. an earlier run's
        ``config.json``), applied before ``overrides``; a swept key takes the grid's
        values instead of the file's, as if the file did not set it.
    base : {"default", "smoke"}
        Start from ``Config()`` or from ``Config.smoke()`` (``--smoke``).
    repeat : int
        Seeds per grid combination; repeat ``k`` runs with ``seed = base seed + k``.

    Returns
    -------
    SweepPlan

    Raises
    ------
    ValueError
        Unknown scenario or key, a value that is not of the field's type, a key both
        in ``overrides`` and the grid, duplicate values, an invalid combination, or
        ``repeat < 1`` (or ``> 1`` for a scenario without a ``seed``).
    """
    module = load_scenario(scenario)
    source = scenario_source(module)
    scenario = scenario_name(scenario)
    config_cls = module.Config
    if isinstance(repeat, bool) or not isinstance(repeat, (int, np.integer)) or repeat < 1:
        raise SweepError(f"--repeat {repeat!r} must be an int >= 1")
    repeat = int(repeat)
    overrides = dict(overrides or {})
    swept = {key for key, _ in grid}
    # the grid replaces what the file says (and a key only the file sets is no conflict)
    layered = {k: v for k, v in (file_settings or {}).items() if k not in swept}
    layered.update(overrides)
    if base not in ("default", "smoke"):
        raise SweepError(f"base={base!r} must be one of 'default', 'smoke'")
    start = config_cls.smoke() if base == "smoke" else config_cls()
    if layered:
        start = config_from_overrides(config_cls, layered, base=start)
    field_names = {f.name for f in dataclasses.fields(config_cls) if f.init}
    if repeat > 1 and "seed" not in field_names:
        raise SweepError(f"scenario {scenario!r} has no seed setting; --repeat must be 1")
    if not grid:
        raise SweepError("a sweep needs at least one --grid key=v1,v2,...")

    converted: list[tuple[str, tuple[Any, ...]]] = []
    seen: set[str] = set()
    for key, values in grid:
        if key in seen:
            raise SweepError(f"--grid key {key!r} is given twice; list all its values in one")
        seen.add(key)
        if key in overrides:
            raise SweepError(f"{key!r} is both set (--set) and swept (--grid); pick one")
        if not values:
            raise SweepError(f"--grid {key}= has an empty value list; give v1,v2,...")
        typed: list[Any] = []
        canon: set[str] = set()
        for value in values:
            try:
                cfg = config_from_overrides(config_cls, {key: value}, base=start)
            except ValueError as exc:
                raise SweepError(f"--grid {key}: {exc}") from None
            typed_value = getattr(cfg, key)
            text = _canonical(typed_value)
            if text in canon:
                raise SweepError(f"--grid {key}: value {value!r} is listed twice")
            canon.add(text)
            typed.append(typed_value)
        converted.append((key, tuple(typed)))

    points: list[Point] = []
    keys = [key for key, _ in converted]
    for combo in itertools.product(*(values for _, values in converted)):
        params = dict(zip(keys, combo, strict=True))
        try:
            cfg = config_from_overrides(config_cls, params, base=start)
        except ValueError as exc:
            raise SweepError(f"grid point {describe_params(params)}: {exc}") from None
        for k in range(repeat):
            point_cfg = cfg
            if k > 0:
                try:
                    point_cfg = dataclasses.replace(cfg, seed=cfg.seed + k)
                except ValueError as exc:
                    raise SweepError(
                        f"grid point {describe_params(params)}, repeat {k}: {exc}"
                    ) from None
            key = _canonical({"params": params, "repeat": k})
            points.append(Point(key=key, params=params, repeat=k, config=point_cfg))
    _refuse_twins(points)

    # settings the results do not depend on (workers) count at their unset values: a
    # sweep re-run with another --set workers=N is the same sweep
    origin = config_cls.smoke() if base == "smoke" else config_cls()
    identity = _plain(dataclasses.asdict(start))
    for name in result_neutral_fields(config_cls):
        identity[name] = _plain(getattr(origin, name))  # type: ignore[index]
    spec: dict[str, Any] = {
        "scenario": scenario,
        "base_config": identity,
        "grid": {
            key: sorted((_plain(v) for v in values), key=_canonical)
            for key, values in sorted(converted)
        },
    }
    configs = [start, *(point.config for point in points)]
    digests = _file_digests(configs, preset_files, preset_digests)
    if digests:  # only then: a sweep of bundled presets keeps the hash it always had
        spec["preset_digests"] = digests
    data_digests = _file_digests(configs, dataset_files, dataset_digests)
    if data_digests:  # likewise: a sweep of built-in datasets keeps its hash
        spec["dataset_digests"] = data_digests
    if source is not None:  # a user's scenario: its edited code is another sweep
        spec["scenario_sha256"] = source["sha256"]
    return SweepPlan(
        scenario=scenario,
        base_config=start,
        grid=tuple(converted),
        repeat=repeat,
        points=tuple(points),
        sweep_id=f"{scenario}-{_short_hash(spec)}",
        spec=spec,
        source=source,
    )


def _file_digests(
    configs: Iterable[object],
    files: Callable[[object], Mapping[str, Path]],
    digest: Callable[[object], Mapping[str, str]],
) -> dict[str, str]:
    """Entry -> digest of every file the configs name (``files``: :func:`preset_files`
    or :func:`dataset_files`; ``digest``: the matching ``*_digests``), each config's
    files hashed only if one of them is new."""
    digests: dict[str, str] = {}
    for cfg in configs:
        try:
            if not files(cfg).keys() - digests.keys():
                continue
            digests.update(digest(cfg))
        except ValueError as exc:  # a file removed or spoiled since the config checked it
            raise SweepError(str(exc)) from None
    return dict(sorted(digests.items()))


def _refuse_twins(points: Sequence[Point]) -> None:
    """Raise if two points would run the same configuration (e.g. seed 0 + repeat 1 and
    seed 1 + repeat 0): one run would be counted twice as independent."""
    first: dict[str, Point] = {}
    for point in points:
        text = _canonical(_plain(dataclasses.asdict(point.config)))
        twin = first.setdefault(text, point)
        if twin is not point:
            raise SweepError(
                f"grid point {describe_params(twin.params)} repeat {twin.repeat} and grid "
                f"point {describe_params(point.params)} repeat {point.repeat} would run the "
                "same configuration (repeat k adds k to the seed); space the --grid seed "
                "values at least --repeat apart, or drop one of them"
            )


def _format_value(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_format_value(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_params(params: Mapping[str, object]) -> str:
    """``"key=value, key=value"`` for messages and legends (tuples as ``(8,8)``)."""
    return ", ".join(f"{k}={_format_value(v)}" for k, v in params.items())
