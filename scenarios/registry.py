"""What a scenario is, and how one is found, loaded and checked.

A scenario is a module ``scenarios.<name>`` registered in :data:`SCENARIOS`, or a
researcher's own module: a ``.py`` file or an importable dotted module path, given
where a scenario name is (:func:`load_scenario`, :func:`scenario_kind`). The shape it
must have (``Config``, ``run``, ``main``, the class attributes a ``Config`` may carry)
is the contract in the docstring of :mod:`scenarios.framework`; this module holds the
registry and the loading:

- :func:`scenario_kind` reads a name as a registered scenario, a file or a module
  path, and :func:`scenario_name` gives the folder-safe name its runs go under
  (``<out_root>/<name>/<run-id>/``: a file's stem, or the dotted module path);
- :func:`load_scenario` imports it, and refuses a user's module that lacks part of
  a scenario's shape (:func:`scenario_problems`) with one message listing what;
- :func:`scenario_source` says how to load a user's scenario again and the SHA-256
  of its source, which a run's manifest records under ``scenario_module`` (already
  while it runs, so that ``run --resume`` finds it) and a sweep's identity includes;
- :func:`scenario_summary_line` is the line ``photonic-backprop list`` shows.

Registering a new scenario is one line in :data:`SCENARIOS`.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.machinery
import importlib.util
import keyword
import os
import re
import sys
import types
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scenarios.provenance import _file_sha256

__all__ = [
    "DEFAULT_SCENARIO",
    "SCENARIOS",
    "SCENARIO_FILE_SUFFIX",
    "ScenarioKind",
    "load_scenario",
    "scenario_kind",
    "scenario_name",
    "scenario_problems",
    "scenario_source",
    "scenario_summary_line",
]

SCENARIOS: dict[str, str] = {
    "digital_baseline": "scenarios.digital_baseline",
    "energy_latency": "scenarios.energy_latency",
    "simulator_speed": "scenarios.simulator_speed",
    "gradient_fidelity": "scenarios.gradient_fidelity",
    "insitu_training": "scenarios.insitu_training",
    "compare": "scenarios.compare",
    "pai2023": "scenarios.pai2023",
}
"""Registry: scenario name -> importable module path (imported lazily)."""

DEFAULT_SCENARIO = "compare"
"""The scenario ``photonic-backprop run`` runs when no name is given."""

SCENARIO_FILE_SUFFIX = ".py"
"""A scenario given by a name ending in this (or holding a path separator) is a file."""

_MODULE_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")

ScenarioKind = Literal["registered", "file", "module"]

#: Scenario files imported by :func:`load_scenario`: module name -> (absolute path,
#: SHA-256 of the bytes that were imported).
_LOADED_FILES: dict[str, tuple[str, str]] = {}


def _registered_key(name: str) -> str | None:
    """The registry key of ``name``: itself, or the key whose module path it is."""
    if name in SCENARIOS:
        return name
    for key, module_path in SCENARIOS.items():
        if name == module_path:
            return key
    return None


def _unknown(name: str) -> ValueError:
    valid = ", ".join(sorted(SCENARIOS))
    return ValueError(
        f"unknown scenario {name!r}; valid scenarios: {valid}, or the path of your own "
        f"scenario file (ending in {SCENARIO_FILE_SUFFIX}), or an importable module path "
        "with a dot (mylab.my_study)"
    )


def scenario_kind(name: str) -> ScenarioKind:
    """How :func:`load_scenario` reads ``name``.

    The rule, in this order: a key of :data:`SCENARIOS` (or the module path it maps
    to, ``scenarios.compare``) is ``"registered"``; a name that ends in ``.py`` or
    holds a path separator (``/``) is a ``"file"``; a dotted name whose every part is
    a Python identifier (``mylab.studies.fidelity``) is a ``"module"``. A name that
    is none of these (``compar``, a plain ``my_study``: a top-level module is given as
    its file, so that a typo of a registered name is never imported) is refused.

    Parameters
    ----------
    name : str
        What the user typed after ``run``, ``list`` or ``sweep``.

    Returns
    -------
    {"registered", "file", "module"}

    Raises
    ------
    ValueError
        If ``name`` is none of the three; the message lists the registered names.
    """
    if not isinstance(name, str):
        raise TypeError(f"scenario must be a str, got {name!r}")
    if _registered_key(name) is not None:
        return "registered"
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    if name.endswith(SCENARIO_FILE_SUFFIX) or any(sep in name for sep in separators):
        return "file"
    if _MODULE_PATH.fullmatch(name):
        return "module"
    raise _unknown(name)


def scenario_name(name: str) -> str:
    """The folder-safe name of a scenario: its run folders are ``<out>/<name>/<run-id>/``.

    A registered scenario keeps its registry key; a file is named by its stem
    (``studies/my_study.py`` -> ``my_study``, the name it is imported under); a module
    by its full dotted path (``mylab.studies.fidelity``), which cannot collide with a
    registered name or another module.

    Parameters
    ----------
    name : str
        A registered name, a ``.py`` file or a dotted module path (:func:`scenario_kind`).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``name`` is none of these.
    """
    kind = scenario_kind(name)
    if kind == "registered":
        return str(_registered_key(name))
    if kind == "file":
        return Path(name).stem
    return name


def load_scenario(name: str) -> types.ModuleType:
    """Import and return a scenario module: a registered one, a file, or a module path.

    ``name`` is read by :func:`scenario_kind`. A registered name imports the module
    :data:`SCENARIOS` maps it to. A ``.py`` file (relative to the working folder, or
    absolute) is imported as an ordinary module named by its stem, with its folder put
    at the front of ``sys.path``: its ``Config`` then pickles by reference, and pool
    workers started by spawn (which get this ``sys.path``) import it too. A file
    edited since this process imported it is imported again. A dotted module path is
    imported as it is (an installed package, or one on ``PYTHONPATH``). A file or
    module path must be a scenario (:func:`scenario_problems`); registered ones are
    held to that by the tests.

    Parameters
    ----------
    name : str
        A key of :data:`SCENARIOS`, the path of a ``.py`` file, or a dotted module path.

    Returns
    -------
    module

    Raises
    ------
    ValueError
        If ``name`` is not registered and not a file or module path (the message lists
        the valid names); if the file does not exist, its name is not an identifier or
        is a registered scenario's, or another module of that name is importable or
        imported already (``json.py``); if the file or module fails to import (the
        message shows the error); or if it lacks part of a scenario's shape (the
        message lists what).
    """
    kind = scenario_kind(name)
    if kind == "registered":
        return importlib.import_module(SCENARIOS[str(_registered_key(name))])
    module = _import_scenario_file(name) if kind == "file" else _import_scenario_module(name)
    problems = scenario_problems(module)
    if problems:
        raise ValueError(
            f"{name!r} is not a scenario module; it lacks {'; '.join(problems)} "
            "(see the docstring of scenarios.framework)"
        )
    return module


def _import_error(what: str, exc: BaseException) -> ValueError:
    detail = " ".join(str(exc).split()) or "(no message)"
    return ValueError(f"{what} failed to import: {type(exc).__name__}: {detail}")


def _import_scenario_module(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise ValueError(
                f"scenario module {name!r} cannot be imported: no module named {missing!r} "
                f"(install it, or put its folder on PYTHONPATH); registered scenarios: "
                f"{', '.join(sorted(SCENARIOS))}"
            ) from None
        raise _import_error(f"scenario module {name!r}", exc) from exc
    except Exception as exc:
        raise _import_error(f"scenario module {name!r}", exc) from exc


def _import_scenario_file(name: str) -> types.ModuleType:
    """Import the scenario file ``name`` as the module named by its stem (:func:`load_scenario`)."""
    path = Path(name).expanduser()
    if path.suffix != SCENARIO_FILE_SUFFIX:
        raise ValueError(
            f"scenario file {name!r} must be a Python file ending in {SCENARIO_FILE_SUFFIX}"
        )
    if not path.is_file():
        where = "is a folder" if path.is_dir() else "does not exist"
        raise ValueError(f"scenario file {name!r} {where}")
    path = path.resolve()
    stem = path.stem
    if not stem.isidentifier() or keyword.iskeyword(stem):
        fixed = re.sub(r"\W", "_", stem)
        fixed = fixed if fixed[:1].isalpha() or fixed[:1] == "_" else f"_{fixed}"
        raise ValueError(
            f"scenario file {name!r}: its name {stem!r} must be a Python identifier "
            f"(letters, digits and _, not a keyword) to be imported; rename it, "
            f"e.g. to {fixed}{SCENARIO_FILE_SUFFIX}"
        )
    if stem in SCENARIOS:
        raise ValueError(
            f"scenario file {name!r} has the name of the registered scenario {stem!r}, whose "
            "run folders it would share; rename it"
        )
    digest, _ = _file_sha256(path, what="scenario file")
    importlib.invalidate_caches()  # a file written since the folder was last listed
    loaded = sys.modules.get(stem)
    if loaded is None:
        other = _importable_origin(stem)
        if other is not None and other != str(path):
            raise ValueError(
                f"scenario file {name!r} would be imported as module {stem!r}, but another "
                f"module of that name exists ({other}); rename the file"
            )
    else:
        origin = getattr(loaded, "__file__", None)
        if origin is None or Path(origin).resolve() != path:
            raise ValueError(
                f"scenario file {name!r} would be imported as module {stem!r}, but a "
                f"different module of that name is imported already "
                f"({origin or 'built in'}); rename the file"
            )
        if _LOADED_FILES.get(stem, (str(path), digest))[1] == digest:
            _LOADED_FILES[stem] = (str(path), digest)
            return loaded
    shadowed = _shadowed_modules(path.parent, besides=stem)
    if shadowed:
        listed = ", ".join(
            f"{file} (module {module!r} is {origin})" for file, module, origin in shadowed
        )
        raise ValueError(
            f"scenario file {name!r}: its folder goes first on sys.path (pool and Dask "
            f"workers import the study from there), and there it would hide modules this "
            f"run uses: {listed}; rename those files or move the study to another folder"
        )
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(stem) if loaded is None else importlib.reload(loaded)
    except Exception as exc:
        sys.modules.pop(stem, None)
        _LOADED_FILES.pop(stem, None)
        if added and folder in sys.path:
            sys.path.remove(folder)
        raise _import_error(f"scenario file {name!r}", exc) from exc
    _LOADED_FILES[stem] = (str(path), digest)
    return module


#: Top-level modules a run or its workers may import after the check, imported here
#: yet or not: ours and what we depend on (a worker imports ``dask`` for a Dask sweep).
_RUN_MODULES = frozenset(
    {"digital", "photonic", "sim", "scenarios", "numpy", "numba", "scipy", "matplotlib"}
    | {"simpy", "sklearn", "tqdm", "dask", "distributed"}
)


def _shadowed_modules(folder: Path, *, besides: str) -> list[tuple[str, str, str]]:
    """The files in ``folder`` that would hide a module a run uses.

    A study's folder goes first on ``sys.path``, and a worker process (spawn pool,
    Dask) imports everything afresh, so ``sim.py`` beside a study would be the
    worker's ``sim``. Returns ``(file name, module, where it is now)`` for each
    ``<module>.py`` or ``<module>/__init__.py`` in ``folder`` (but the study
    ``besides`` itself, and ``__main__``) whose module this process has imported,
    or is in :data:`_RUN_MODULES` and installed, from elsewhere. Built-in and frozen
    modules (``time``, ``os``) are found before ``sys.path`` is searched: a file of
    their name hides nothing.
    """
    found = []
    imported = {m.partition(".")[0] for m in sys.modules if not m.startswith("__")}
    for module in sorted((imported | _RUN_MODULES) - {besides}):
        loaded = sys.modules.get(module)
        spec = getattr(loaded, "__spec__", None)
        if spec is not None and spec.origin in ("built-in", "frozen"):
            continue
        for file in (f"{module}.py", f"{module}/__init__.py"):
            candidate = folder / file
            if not candidate.is_file():
                continue
            origin = (
                getattr(loaded, "__file__", None) or "built in"
                if loaded is not None
                else _origin_elsewhere(module, folder)
            )
            if origin is None:  # not installed (Dask is optional): nothing to hide
                continue
            if origin == "built in" or Path(origin).resolve() != candidate.resolve():
                found.append((file, module, origin))
    return found


def _origin_elsewhere(module: str, folder: Path) -> str | None:
    """Where ``import module`` would find a file on ``sys.path`` without ``folder``
    (which may be on it already, from an earlier load), or ``None`` if nowhere."""
    here = folder.resolve()
    path = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    spec = importlib.machinery.PathFinder.find_spec(module, path)
    return None if spec is None else spec.origin


def _importable_origin(stem: str) -> str | None:
    """Where ``import stem`` would find a module now (its file, ``built-in`` or
    ``frozen``), or ``None`` if nowhere (namespace packages count as nowhere)."""
    try:
        spec = importlib.util.find_spec(stem)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    if spec.has_location:
        return str(Path(spec.origin).resolve())
    return spec.origin


def scenario_problems(module: types.ModuleType) -> list[str]:
    """What ``module`` lacks of a scenario's shape (see :mod:`scenarios.framework`).

    Checks a module docstring (``list`` shows its first line), ``Config`` as a frozen
    dataclass whose ``Config()`` builds (every field has a default) with an int
    ``seed`` field and a classmethod ``smoke()`` returning a ``Config``, and a
    callable ``run``. ``main`` is not required of a user's module (the command runs
    it); registered scenarios have one.

    Parameters
    ----------
    module : module
        The module to check.

    Returns
    -------
    list of str
        One phrase per missing part (``"a seed field in Config"``); empty if none.
    """
    problems: list[str] = []
    if not scenario_summary_line(module):
        problems.append("a module docstring (its first line is what 'list' shows)")
    config = getattr(module, "Config", None)
    if config is None:
        problems.append("a Config class")
    elif not (isinstance(config, type) and dataclasses.is_dataclass(config)):
        problems.append("Config as a dataclass (@dataclasses.dataclass(frozen=True))")
    else:
        params = getattr(config, "__dataclass_params__", None)
        if not getattr(params, "frozen", False):
            problems.append("a frozen Config (@dataclasses.dataclass(frozen=True))")
        if "seed" not in {f.name for f in dataclasses.fields(config)}:
            problems.append("a seed field in Config (seed: int = 0)")
        else:
            try:
                default: Any = config()
                seed = default.seed
            except Exception as exc:
                problems.append(f"a default for every Config field (Config() raised {exc})")
            else:
                if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
                    problems.append(f"an int seed in Config (its default is {seed!r})")
        smoke = getattr(config, "smoke", None)
        if not callable(smoke):
            problems.append("a classmethod Config.smoke() (a seconds-long configuration)")
        else:
            try:
                smoked = smoke()
            except Exception as exc:
                problems.append(f"a classmethod Config.smoke() that works (it raised {exc})")
            else:
                if not isinstance(smoked, config):
                    problems.append("a Config.smoke() that returns a Config")
    if not callable(getattr(module, "run", None)):
        problems.append("a function run(cfg, out_dir) returning a Result")
    return problems


def scenario_source(module: types.ModuleType) -> dict[str, str | None] | None:
    """How to load a user's scenario module again, for its manifest and sweeps.

    Parameters
    ----------
    module : module
        A scenario module.

    Returns
    -------
    dict or None
        ``None`` for a registered scenario (its name is enough) and for a module with
        no source file; else ``{"kind": "file" | "module", "load": <what
        load_scenario takes: the file's absolute path, or the dotted module path>,
        "module": <module name>, "path": <its source file, absolute>, "sha256": <the
        digest of that file's bytes>}``. A file's digest is that of the bytes that
        were imported; a module's covers its own source file only, not what it imports.
    """
    name = module.__name__
    if name in SCENARIOS.values():
        return None
    if name in _LOADED_FILES:
        path, digest = _LOADED_FILES[name]
        return {"kind": "file", "load": path, "module": name, "path": path, "sha256": digest}
    origin = getattr(module, "__file__", None)
    if not origin or not Path(origin).is_file():
        return None
    source = Path(origin).resolve()
    digest, _ = _file_sha256(source, what="scenario module file")
    return {
        "kind": "module",
        "load": name,
        "module": name,
        "path": str(source),
        "sha256": digest,
    }


def scenario_summary_line(module: types.ModuleType) -> str:
    """First non-empty line of a scenario module's docstring (``""`` if none)."""
    for line in (module.__doc__ or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""
