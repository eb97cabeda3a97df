"""A scenario's settings: read from the command line and config files, and listed.

- :func:`parse_set_options` reads the ``--set key=value`` options,
  :func:`load_config_file` a TOML or JSON file of settings (a run's own
  ``config.json`` included), and :func:`config_from_overrides` turns either into the
  scenario's ``Config``, converting every value to its field's type (the ``Config``
  then validates itself);
- :func:`describe_settings` lists a scenario's settings for ``photonic-backprop list``,
  their values spelt as ``--set`` takes them;
- :func:`result_neutral_fields` names the settings that the results do not depend on
  (``Config.RESULT_NEUTRAL_FIELDS``: see :mod:`scenarios.framework`).

Writing a run's ``config.json`` is :func:`scenarios.framework.write_config`. This
module imports nothing of :mod:`scenarios`; :mod:`scenarios.framework` re-exports its
names.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import numpy as np

from sim.presets import toml_literal

__all__ = [
    "RESULT_NEUTRAL_ATTR",
    "config_from_overrides",
    "describe_settings",
    "load_config_file",
    "parse_set_options",
    "result_neutral_fields",
]


RESULT_NEUTRAL_ATTR = "RESULT_NEUTRAL_FIELDS"
"""Class attribute of a ``Config`` naming its settings that the results do not depend on."""


_TRUE_STRINGS = frozenset({"true", "yes", "on", "1"})
_FALSE_STRINGS = frozenset({"false", "no", "off", "0"})
_NONE_STRINGS = frozenset({"none", "null"})


C = TypeVar("C")


def parse_set_options(items: Sequence[str]) -> dict[str, str]:
    """Turn ``["key=value", ...]`` (the CLI's ``--set`` options) into a dict.

    The value is everything after the first ``=``; later keys win.

    Raises
    ------
    ValueError
        If an item has no ``=`` or an empty key.
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"--set expects key=value, got {item!r} (no '=')")
        if not key:
            raise ValueError(f"--set expects key=value, got {item!r} (empty key)")
        out[key] = value.strip()
    return out


class _FileText(str):
    """A string read from a config file: a value, not text to parse. TOML and JSON have
    numbers, booleans and arrays, so ``epochs = "3"`` is a string where an int belongs
    (an error), while ``--set epochs=3`` is text to parse. Only ``"none"``/``"null"``
    is read for ``X | None`` settings (TOML has no null)."""


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a config file into an overrides mapping for :func:`config_from_overrides`.

    TOML (any suffix but ``.json``) with top-level ``key = value`` settings, or JSON
    (``.json``) so that a run's own ``config.json`` can be fed back to repeat it.
    Values keep their file types: a string is accepted only where the setting is text
    (a name, a path, a choice), or ``"none"`` for a setting that may be ``None``.

    Raises
    ------
    OSError
        If the file cannot be read.
    ValueError
        If the file is not valid TOML/JSON or its top level is not flat settings.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise OSError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}") from exc
    data: object
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"invalid JSON in config file {str(path)!r}: {exc}") from exc
    else:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - exercised on Python 3.10 only
            import tomli as tomllib
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"invalid TOML in config file {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"config file {str(path)!r} must hold a table of settings")
    for key, value in data.items():
        if isinstance(value, dict):
            raise ValueError(
                f"config file {str(path)!r}: {key!r} is a table; "
                "settings must be top-level key = value pairs"
            )
    return {key: _file_value(value) for key, value in data.items()}


def _file_value(value: object) -> object:
    """Mark the strings of a config file's value (arrays too) as :class:`_FileText`."""
    if isinstance(value, str):
        return _FileText(value)
    if isinstance(value, list):
        return [_file_value(item) for item in value]
    return value


def config_from_overrides(
    config_cls: type[C], overrides: Mapping[str, object], base: C | None = None
) -> C:
    """Build a config from ``key -> value`` overrides, converting to the field types.

    String values (from ``--set``) are parsed; native values (from TOML/JSON, read by
    :func:`load_config_file`, whose strings stay strings) are checked and converted
    (``int`` -> ``float``, list -> tuple). Supported field
    types: ``int``, ``float``, ``str``, ``bool``, ``pathlib.Path``, ``Literal[...]``
    (membership is checked), ``X | None`` (``"none"``/``"null"`` give ``None``) and
    tuples of those (``tuple[int, ...]`` from ``"16,16"``, ``"(16, 16)"`` or
    ``"[16, 16]"``; ``""`` or ``"()"`` is the empty tuple). The resulting config is
    validated by its own ``__post_init__``.

    Parameters
    ----------
    config_cls : type
        A dataclass type.
    overrides : mapping of str to object
        Field name -> value.
    base : config_cls instance, optional
        Start from this config instead of ``config_cls()``.

    Raises
    ------
    ValueError
        On an unknown key (the message lists the valid keys), on a value that does
        not parse as the field's type (naming key, value and expected type), or from
        the config's own validation.
    """
    if not dataclasses.is_dataclass(config_cls) or not isinstance(config_cls, type):
        raise TypeError(f"config_cls must be a dataclass type, got {config_cls!r}")
    fields = {f.name: f for f in dataclasses.fields(config_cls) if f.init}
    hints = typing.get_type_hints(config_cls)
    label = _config_label(config_cls)
    unknown = [key for key in overrides if key not in fields]
    if unknown:
        valid = ", ".join(fields)
        keys = ", ".join(repr(k) for k in unknown)
        raise ValueError(f"unknown setting {keys} for {label}; valid keys: {valid}")
    parsed = {key: _coerce(key, value, hints[key]) for key, value in overrides.items()}
    if base is None:
        return config_cls(**parsed)
    return typing.cast(C, dataclasses.replace(typing.cast(Any, base), **parsed))


def _config_label(config_cls: type) -> str:
    module = config_cls.__module__.rsplit(".", 1)[-1]
    return f"{module}.{config_cls.__qualname__}"


def _type_name(tp: object) -> str:
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join("None" if a is type(None) else _type_name(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a comma-separated tuple of {_type_name(args[0])}"
        return "a tuple (" + ", ".join(_type_name(a) for a in args) + ")"
    names = {int: "an int", float: "a float", str: "a string", bool: "a bool (true/false)"}
    if isinstance(tp, type) and tp in names:
        return names[tp]
    return getattr(tp, "__name__", repr(tp))


class _CoerceError(Exception):
    """Internal: a value does not fit a type (turned into a ValueError by the caller)."""


def _coerce(key: str, value: object, tp: object) -> object:
    try:
        return _coerce_value(value, tp)
    except _CoerceError:
        hint = ""
        if isinstance(value, _FileText):
            try:
                literal = toml_literal(_coerce_value(str(value), tp))
                hint = f" (a string in the config file; write {key} = {literal})"
            except (_CoerceError, TypeError, ValueError):
                pass
        shown = str(value) if isinstance(value, _FileText) else value
        raise ValueError(
            f"bad value for {key!r}: {shown!r} is not {_type_name(tp)}{hint}"
        ) from None


def _coerce_value(value: object, tp: object) -> object:
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any or tp is object:
        return value
    if origin in (Union, types.UnionType):
        if type(None) in args and (
            value is None or (isinstance(value, str) and value.strip().lower() in _NONE_STRINGS)
        ):
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce_value(value, arg)
            except _CoerceError:
                continue
        raise _CoerceError
    if origin is Literal:
        for choice in args:
            try:
                candidate = _coerce_value(value, type(choice))
            except _CoerceError:
                continue
            if candidate == choice:
                return choice
        raise _CoerceError
    if origin is tuple:
        items = _split_tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce_value(item, args[0]) for item in items)
        if len(items) != len(args):
            raise _CoerceError
        return tuple(_coerce_value(item, arg) for item, arg in zip(items, args, strict=True))
    if isinstance(value, _FileText) and tp in (bool, int, float):
        raise _CoerceError  # a file's string is not a number: the file has numbers
    if tp is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE_STRINGS:
                return True
            if text in _FALSE_STRINGS:
                return False
        raise _CoerceError
    if tp is int:
        if isinstance(value, (bool, np.bool_)):
            raise _CoerceError
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise _CoerceError from None
        raise _CoerceError
    if tp is float:
        if isinstance(value, (bool, np.bool_)):
            raise _CoerceError
        if isinstance(value, (int, float, np.integer, np.floating)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise _CoerceError from None
        raise _CoerceError
    if tp is str:
        if isinstance(value, str):
            return value.strip()
        raise _CoerceError
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise _CoerceError
    raise TypeError(f"config field type {tp!r} cannot be set from the command line")


def _split_tuple(value: object) -> list[object]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str) and not isinstance(value, _FileText):  # a file has arrays
        text = value.strip()
        if len(text) >= 2 and (text[0], text[-1]) in {("(", ")"), ("[", "]")}:
            text = text[1:-1].strip()
        if not text:
            return []
        parts = [part.strip() for part in text.split(",")]
        if parts and parts[-1] == "":  # allow a trailing comma: "16,"
            parts.pop()
        return list(parts)
    raise _CoerceError


def result_neutral_fields(config_cls: type) -> tuple[str, ...]:
    """The settings of a scenario's ``Config`` that its results do not depend on.

    Parameters
    ----------
    config_cls : type
        A scenario's ``Config``; its class attribute ``RESULT_NEUTRAL_FIELDS`` names them
        (none if it has no such attribute).

    Returns
    -------
    tuple of str
        Field names, e.g. ``("workers",)``.

    Raises
    ------
    TypeError
        If the attribute names something that is not a field of ``config_cls``.
    """
    names = tuple(getattr(config_cls, RESULT_NEUTRAL_ATTR, ()))
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = [name for name in names if name not in fields]
    if unknown:
        raise TypeError(
            f"{config_cls.__qualname__}.{RESULT_NEUTRAL_ATTR} names {unknown}, which are not "
            f"fields; fields: {', '.join(sorted(fields))}"
        )
    return names


_SECTION_TITLES = ("Parameters", "Attributes")
_ROLE = re.compile(r":\w+:`~?([^`]+)`")


def _entry_docs(doc: str) -> dict[str, str]:
    """``name -> description`` from the Parameters/Attributes section of a numpydoc text.

    ``a, b : int`` documents both names with one description; a list of names may
    go on over several lines, each but the last ending in a comma.
    """
    lines = doc.splitlines()
    docs: dict[str, list[str]] = {}
    inside, current, names = False, None, ""
    for i, line in enumerate(lines):
        underline = i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}
        if underline:
            inside, current, names = line.strip() in _SECTION_TITLES, None, ""
            continue
        if not inside or set(line.strip()) == {"-"} or not line.strip():
            continue
        if line[0].isspace():
            if current is not None:
                docs[current].append(line.strip())
            continue
        names += line.split(":")[0].strip()
        if names.endswith(","):  # the list of names goes on on the next line
            names += " "
            continue
        current, names = names, ""
        docs[current] = []
    out: dict[str, str] = {}
    for names, text in docs.items():
        plain = _ROLE.sub(r"\1", " ".join(text)).replace("``", "")
        for name in names.split(","):
            out[name.strip()] = plain
    return out


def _setting_text(value: object) -> str:
    """A value as ``--set KEY=VALUE`` spells it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(_setting_text(v) for v in value) if value else "()"
    return str(value)


def describe_settings(module: types.ModuleType) -> list[tuple[str, str, str, str]]:
    """The settings of a scenario, for ``photonic-backprop list SCENARIO``.

    Returns
    -------
    list of (name, default, smoke, description)
        Every field of ``module.Config``: its default and its ``--smoke`` value in
        ``--set`` spelling, and its docstring entry (``""`` if it has none).
    """
    config = module.Config
    docs = _entry_docs(inspect.getdoc(config) or "")
    default, smoke = config(), config.smoke()
    return [
        (
            f.name,
            _setting_text(getattr(default, f.name)),
            _setting_text(getattr(smoke, f.name)),
            _with_constant_values(docs.get(f.name, ""), module),
        )
        for f in dataclasses.fields(config)
    ]


_CONSTANT = re.compile(r"\b((?:[a-z_][a-z0-9_]*\.)*[A-Z][A-Z0-9_]{2,})\b")


def _with_constant_values(text: str, module: types.ModuleType) -> str:
    """``text`` with the value after every named constant it cites (``from METHODS``,
    ``2 … MAX_PORTS``, ``digital.datasets.DATASETS``): a user of ``list`` should not
    have to read the source. Names that are not a constant of ``module`` or of an
    importable module, or whose value is not an int or a collection of strings, are
    left as they are."""

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        owner_name, _, attr = name.rpartition(".")
        try:
            owner = importlib.import_module(owner_name) if owner_name else module
        except ImportError:
            return name
        value = getattr(owner, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{name} = {value}"
        if (
            isinstance(value, (tuple, list, dict))
            and value
            and all(isinstance(v, str) for v in value)
        ):
            return f"{name}: {', '.join(value)}"
        return name

    return _CONSTANT.sub(value_of, text)
