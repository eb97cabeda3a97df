"""Named hardware, read from TOML preset files.

``load_preset("gpu-h100")`` reads ``sim/presets/gpu-h100.toml``;
``load_preset("my-chip.toml")`` (any path) reads a user's file. The bundled presets:

=====================  ==============================================================
``pai2023-chip``       the experiment of Pai et al. 2023: thermal shifters, thermally
                       tuned inputs, an IR camera imaging outputs and taps
``thermal-integrated`` thermal shifters with GHz modulators, integrated output and
                       tap photodiodes with ADCs
``eo-integrated``      the optimistic future chip: electro-optic shifters, ring
                       modulators, low-loss mesh, co-packaged digital host
``gpu-h100``           NVIDIA H100 SXM (BF16 dense)
``cpu``                a 16-core AVX-512 server CPU (FP32)
=====================  ==============================================================

File format
-----------
Top-level keys: ``name``, ``kind`` (``"photonic"`` or ``"digital"``),
``description``, optionally ``base`` (a preset name or a path, relative to this
file, whose settings this file overrides key by key: inside a table, and inside a
map such as ``energy_per_flop_pj``, the keys this file leaves out keep the base's
values; a ``[detector]`` or ``[taps]`` table of another ``type``, or a ``[host]``
table with another ``preset``, replaces the base's). Photonic files also take
``pass_mode`` and ``taps_in_detector_frame`` and the tables ``[laser]``,
``[modulator]``, ``[phase_shifter]``, ``[mesh]``, ``[detector]``, ``[taps]``,
``[host]``, ``[link]``; digital files take ``[processor]``. Keys inside a table are
the fields of the matching class in :mod:`sim.hardware`; an omitted key keeps the
class default. ``[detector]`` and ``[taps]`` take ``type = "photodetector"`` or
``"camera"``. ``[host]`` may start with ``preset = "cpu"`` to copy the
``[processor]`` table of a digital preset (a path is relative to the file that
writes it, also when a child inherits it). Write each value's source in a comment
next to it.

Every problem (unknown name, missing file, invalid TOML, unknown or misspelled key,
wrong type, out-of-range value) raises ``ValueError`` naming the file, the table,
the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.hardware import (
    Camera,
    DigitalHardware,
    DigitalProcessor,
    Hardware,
    Laser,
    Link,
    MeshOptics,
    Modulator,
    PhaseShifter,
    Photodetector,
    PhotonicHardware,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

__all__ = [
    "PRESET_DIR",
    "available_presets",
    "check_presets",
    "is_preset_file",
    "load_preset",
    "preset_path",
    "preset_toml",
    "toml_literal",
]

#: Folder of the bundled preset files.
PRESET_DIR = Path(__file__).resolve().parent / "presets"
PRESET_SUFFIX = ".toml"
KINDS = ("photonic", "digital")
_COMMON_KEYS = ("name", "kind", "description", "base")
_PHOTONIC_SCALARS = ("pass_mode", "taps_in_detector_frame")
_PHOTONIC_TABLES: dict[str, type] = {
    "laser": Laser,
    "modulator": Modulator,
    "phase_shifter": PhaseShifter,
    "mesh": MeshOptics,
    "detector": Photodetector,
    "taps": Photodetector,
    "host": DigitalProcessor,
    "link": Link,
}
_READOUT_TYPES: dict[str, type] = {"photodetector": Photodetector, "camera": Camera}
_DEFAULT_READOUT_TYPE = "photodetector"  # a [detector] or [taps] table without type
_READOUT_TABLES = ("detector", "taps")
_MAX_BASE_DEPTH = 8


def available_presets() -> tuple[str, ...]:
    """Names of the bundled presets.

    Returns
    -------
    tuple of str
        Sorted.
    """
    return tuple(sorted(p.stem for p in PRESET_DIR.glob(f"*{PRESET_SUFFIX}")))


def preset_path(name_or_path: str | Path, *, relative_to: Path | None = None) -> Path:
    """The file a preset name or path refers to.

    A bare name without a path separator or ``.toml`` suffix is a bundled preset;
    anything else is a path (relative paths are taken from ``relative_to`` when
    given, else from the working directory).

    Parameters
    ----------
    name_or_path
        A bundled preset name (e.g. ``"gpu-h100"``, see :func:`available_presets`)
        or the path of a preset file; a :class:`~pathlib.Path` is always a path.
    relative_to
        Directory that relative paths are resolved against (e.g. the folder of a
        file that names the preset); ``None``: the working directory. Not used for
        bundled names.

    Returns
    -------
    pathlib.Path
        The preset file; it exists.

    Raises
    ------
    ValueError
        For an unknown preset name or a file that does not exist.
    """
    if is_preset_file(name_or_path):
        path = Path(name_or_path)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        if not path.is_file():
            raise ValueError(f"preset file {str(path)!r} does not exist")
        return path
    if not isinstance(name_or_path, str):
        raise ValueError(f"preset={name_or_path!r} must be a preset name or a path")
    path = PRESET_DIR / f"{name_or_path}{PRESET_SUFFIX}"
    if not path.is_file():
        raise ValueError(
            f"unknown preset {name_or_path!r}; available presets: "
            f"{', '.join(available_presets())} (or pass the path of a {PRESET_SUFFIX} file)"
        )
    return path


def check_presets(presets: object, name: str = "presets") -> tuple[str, ...]:
    """A settings field that lists hardware: preset names or preset-file paths.

    Parameters
    ----------
    presets
        A non-empty list or tuple of strings, each a bundled preset name or the path
        of a preset file (:func:`preset_path`).
    name
        The field's name, for the error messages.

    Returns
    -------
    tuple of str
        ``presets`` as a tuple, every entry loaded once to check it.

    Raises
    ------
    ValueError
        For anything else, an entry that does not load (the loader's message, prefixed
        with ``name``), or two entries that are the same hardware (same ``name``).
    """
    if isinstance(presets, list):
        presets = tuple(presets)
    if (
        not isinstance(presets, tuple)
        or not presets
        or any(not isinstance(p, str) for p in presets)
    ):
        raise ValueError(f"{name}={presets!r} must be a non-empty list of preset names or paths")
    names = []
    for preset in presets:
        try:
            names.append(load_preset(preset).name)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if len(set(names)) != len(names):
        raise ValueError(f"{name}={presets!r} name the same hardware twice ({names})")
    return presets


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.endswith(PRESET_SUFFIX)


def is_preset_file(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a preset file (a path) rather than a bundled preset.

    A :class:`~pathlib.Path`, or text with a path separator or the ``.toml`` suffix, is
    a file (as in :func:`preset_path`); a bare name is a bundled preset, whose contents
    are part of the code.

    Parameters
    ----------
    name_or_path
        A preset name or a path.

    Returns
    -------
    bool
    """
    return isinstance(name_or_path, Path) or _looks_like_path(str(name_or_path))


def load_preset(name_or_path: str | Path) -> Hardware:
    """Read a preset into a :class:`~sim.hardware.PhotonicHardware` or ``DigitalHardware``.

    Parameters
    ----------
    name_or_path
        A bundled preset name (see :func:`available_presets`) or the path of a TOML
        preset file.

    Returns
    -------
    PhotonicHardware or DigitalHardware

    Raises
    ------
    ValueError
        Naming the file, table and field of any problem.
    """
    path = preset_path(name_or_path)
    data = _read_resolved(path, depth=0)
    return _build(path, data)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"preset file {str(path)!r} cannot be read: {exc}") from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"preset file {str(path)!r} is not valid TOML: {exc}") from exc


def _read_resolved(path: Path, *, depth: int) -> dict[str, Any]:
    """The file's settings with its ``base`` chain merged in (base first)."""
    if depth > _MAX_BASE_DEPTH:
        raise ValueError(
            f"preset file {str(path)!r}: 'base' chain is deeper than {_MAX_BASE_DEPTH} (a cycle?)"
        )
    data = _anchor_host_preset(_read_toml(path), path)
    base = data.pop("base", None)
    own_name = data.get("name", path.stem)
    if base is None:
        data.setdefault("name", own_name)
        return data
    if not isinstance(base, str):
        raise ValueError(f"preset file {str(path)!r}: base={base!r} must be a preset name or path")
    try:
        base_path = preset_path(base, relative_to=path.parent)
    except ValueError as exc:
        raise ValueError(f"preset file {str(path)!r}: base: {exc}") from None
    inherited = _read_resolved(base_path, depth=depth + 1)
    merged = _merge(inherited, data)
    merged["name"] = own_name
    described = inherited.get("description")
    if "description" not in data and isinstance(described, str):
        # the base's words describe the base, not this file (a bad value stays, to be
        # refused like any other)
        merged["description"] = f"{inherited['name']}, changed" + (
            f" ({described})" if described else ""
        )
    return merged


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``base`` overridden by ``child`` key by key, into tables and maps at any depth.

    A table that switches ``type`` (e.g. photodetector → camera) replaces the base's:
    the fields of one kind of read-out mean nothing to the other. So does a ``[host]``
    table that names another ``preset``: the base's host values would override the
    preset's, and be the whole host where the base gives them all.
    """
    merged = dict(base)
    for key, value in child.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and _same_type(key, old, value):
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


def _same_type(key: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``new`` keeps the ``type`` of ``old`` (a read-out table without one is a
    photodetector), or for ``[host]`` its ``preset`` (none: the base's)."""
    if key == "host":
        return new.get("preset", old.get("preset")) == old.get("preset")
    if "type" not in new:
        return True
    return old.get("type", _DEFAULT_READOUT_TYPE) == new["type"]


def _anchor_host_preset(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """``data`` with a relative ``[host] preset`` path made absolute from ``path``'s folder.

    So that a child preset in another folder that inherits the table still finds it.
    """
    host = data.get("host")
    if not isinstance(host, dict):
        return data
    preset = host.get("preset")
    if isinstance(preset, str) and _looks_like_path(preset) and not Path(preset).is_absolute():
        data["host"] = {**host, "preset": str(path.parent.resolve() / preset)}
    return data


def _build(path: Path, data: dict[str, Any]) -> Hardware:
    where = f"preset file {str(path)!r}"
    kind = data.get("kind")
    if kind is None:
        raise ValueError(
            f"{where} has no kind: start it from a bundled preset with base = "
            f'"eo-integrated" (or another: {", ".join(available_presets())}), or give every value '
            "with kind = " + " or ".join(f'"{k}"' for k in KINDS)
        )
    if kind not in KINDS:
        raise ValueError(
            f"{where}: kind={kind!r} is not allowed; choose one of: {', '.join(KINDS)}"
        )
    allowed: tuple[str, ...]
    if kind == "digital":
        allowed = (*_COMMON_KEYS, "processor")
    else:
        allowed = (*_COMMON_KEYS, *_PHOTONIC_SCALARS, *_PHOTONIC_TABLES)
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
            f"allowed top-level keys: {', '.join(allowed)}"
        )
    name = data.get("name")
    description = data.get("description", "")
    if kind == "digital":
        if "processor" not in data:
            raise ValueError(f"{where}: missing the [processor] table")
        processor = _component(where, "processor", DigitalProcessor, data["processor"], path)
        return _construct(
            where, "", DigitalHardware, name=name, processor=processor, description=description
        )
    if "host" not in data:
        raise ValueError(f'{where}: missing the [host] table (e.g. host.preset = "cpu")')
    parts: dict[str, Any] = {}
    for table, cls in _PHOTONIC_TABLES.items():
        if table not in data:
            continue
        values = data[table]
        if table in _READOUT_TABLES:
            cls = _readout_class(where, table, values)
        parts[table] = _component(where, table, cls, values, path)
    scalars = {key: data[key] for key in _PHOTONIC_SCALARS if key in data}
    return _construct(
        where, "", PhotonicHardware, name=name, description=description, **scalars, **parts
    )


def _readout_class(where: str, table: str, values: object) -> type:
    kind = values.get("type", _DEFAULT_READOUT_TYPE) if isinstance(values, dict) else None
    if kind not in _READOUT_TYPES:
        raise ValueError(
            f"{where}: [{table}] type={kind!r} is not allowed; choose one of: "
            f"{', '.join(_READOUT_TYPES)}"
        )
    return _READOUT_TYPES[kind]


def _component(where: str, table: str, cls: type, values: object, path: Path) -> Any:
    if not isinstance(values, dict):
        raise ValueError(f"{where}: {table!r} must be a table ([{table}]); got {values!r}")
    values = dict(values)
    values.pop("type", None)
    if table == "host" and "preset" in values:
        values = {**_host_from_preset(where, values.pop("preset"), path), **values}
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = [key for key in values if key not in fields]
    if unknown:
        raise ValueError(
            f"{where}: [{table}] unknown field(s) {', '.join(repr(k) for k in unknown)}; "
            f"allowed: {', '.join(fields)}"
        )
    return _construct(where, table, cls, **values)


def _host_from_preset(where: str, preset: object, path: Path) -> dict[str, Any]:
    if not isinstance(preset, str):
        raise ValueError(f"{where}: [host] preset={preset!r} must name a digital preset")
    try:
        other = preset_path(preset, relative_to=path.parent)
        data = _read_resolved(other, depth=1)
    except ValueError as exc:
        raise ValueError(f"{where}: [host] preset: {exc}") from None
    if data.get("kind") != "digital" or not isinstance(data.get("processor"), dict):
        raise ValueError(
            f"{where}: [host] preset={preset!r} is not a digital preset with a [processor] table"
        )
    return dict(data["processor"])


def _construct(where: str, table: str, cls: type, **kwargs: Any) -> Any:
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        scope = f"[{table}] " if table else ""
        if missing:
            raise ValueError(
                f"{where}: {scope}missing required field(s): {', '.join(missing)}"
            ) from None
        raise ValueError(f"{where}: {scope}{exc}") from None
    except ValueError as exc:
        scope = f"[{table}] " if table else ""
        raise ValueError(f"{where}: {scope}{exc}") from None


def preset_toml(hardware: Hardware) -> str:
    """``hardware`` written out as a complete preset file, every value resolved.

    What a chain of ``base`` files and class defaults adds up to, in the file format
    above: :func:`load_preset` of the text gives back an equal object, so it is a
    starting point for one's own preset (``photonic-backprop preset NAME``). Fields
    left at ``None`` (no limit, sized automatically) are written as comments.

    Parameters
    ----------
    hardware
        A machine, e.g. from :func:`load_preset`.

    Returns
    -------
    str
        The TOML text.
    """
    if isinstance(hardware, DigitalHardware):
        head: dict[str, object] = {
            "name": hardware.name,
            "kind": "digital",
            "description": hardware.description,
        }
        tables: dict[str, Any] = {"processor": hardware.processor}
    elif isinstance(hardware, PhotonicHardware):
        head = {
            "name": hardware.name,
            "kind": "photonic",
            "description": hardware.description,
            "pass_mode": hardware.pass_mode,
            "taps_in_detector_frame": hardware.taps_in_detector_frame,
        }
        tables = {table: getattr(hardware, table) for table in _PHOTONIC_TABLES}
    else:
        raise TypeError(
            f"hardware is a {type(hardware).__name__}; expected PhotonicHardware or DigitalHardware"
        )
    lines = [f"{key} = {toml_literal(value)}" for key, value in head.items()]
    for table, part in tables.items():
        lines += ["", f"[{table}]"]
        if table in _READOUT_TABLES:
            kind = next(k for k, cls in _READOUT_TYPES.items() if isinstance(part, cls))
            lines.append(f"type = {toml_literal(kind)}")
        for f in dataclasses.fields(part):
            value = getattr(part, f.name)
            if value is None:  # TOML has no null: left out, the class default applies
                if f.default is not None:  # then reading back would not give None
                    raise ValueError(
                        f"{type(part).__name__}.{f.name} is None but defaults to "
                        f"{f.default!r}: a preset file cannot write it"
                    )
                lines.append(f"# {f.name}: not set (None, see sim.hardware.{type(part).__name__})")
            else:
                lines.append(f"{f.name} = {toml_literal(value)}")
    return "\n".join(lines) + "\n"


def toml_literal(value: object) -> str:
    """A value written as a TOML literal.

    Parameters
    ----------
    value
        A boolean, number (repr: round trips exactly, ``inf`` and ``nan`` included),
        string, map, or array (list, tuple) of these.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        For any other value.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        text = repr(value)  # the shortest text that reads back as the same float
        if math.isfinite(value) and "e" not in text and abs(value) >= 1e5:
            text = next(t for d in range(17) if float(t := f"{value:.{d}e}") == value)
        return text
    if isinstance(value, str):
        # a TOML basic string: JSON's escapes, plus DEL, which TOML forbids raw
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml_key(k)} = {toml_literal(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) as a TOML value")


def _toml_key(key: object) -> str:
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else json.dumps(text)
