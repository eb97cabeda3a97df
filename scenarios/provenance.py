"""Provenance of the input files a run reads: preset files and dataset files.

A scenario's ``Config`` may name, in class attributes (``ClassVar``), the settings
whose values can be files the run reads:

- ``Config.PRESET_FIELDS`` (:data:`PRESET_FIELDS_ATTR`): the settings that list
  hardware presets (:func:`sim.presets.check_presets`). A preset *file* named there is
  part of what the run computes (:func:`preset_files`). Every run folder keeps the
  resolved preset of each such file under ``presets/`` (:func:`write_presets`), so that
  the run can be repeated after the file changed, and a sweep's identity includes
  their digests (:func:`preset_digests`: of the resolved contents, not the bytes).
- ``Config.DATASET_FIELDS`` (:data:`DATASET_FIELDS_ATTR`): the settings that name
  datasets (:func:`digital.datasets.check_dataset`). A dataset *file* named there
  (``.npz``/``.csv``; :func:`dataset_files`) is not copied (data can be large); the
  run's manifest records, under ``datasets``, its path, size and the SHA-256 of its
  bytes (:func:`dataset_records`), and a sweep's identity includes their digests
  (:func:`dataset_digests`).

Bundled preset names and built-in dataset names are left out everywhere: their
contents are part of the code. :func:`scenarios.framework.run_scenario` writes the
preset copies and the dataset records of every run, and ``run --resume`` compares them
with the files as they are now (:func:`changed_inputs`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from digital.datasets import DATASET_FILE_SUFFIXES, is_dataset_file, read_dataset_file
from sim.presets import PRESET_SUFFIX, is_preset_file, load_preset, preset_path, preset_toml

__all__ = [
    "DATASET_FIELDS_ATTR",
    "INPUT_FILE_SUFFIXES",
    "PRESETS_DIRNAME",
    "PRESET_FIELDS_ATTR",
    "changed_inputs",
    "dataset_digests",
    "dataset_files",
    "dataset_records",
    "preset_digests",
    "preset_files",
    "undeclared_files",
    "write_presets",
]

PRESETS_DIRNAME = "presets"
"""Sub-folder of a run folder with the resolved preset files of its config."""
PRESET_FIELDS_ATTR = "PRESET_FIELDS"
"""Class attribute of a ``Config`` naming its settings that list hardware presets."""
DATASET_FIELDS_ATTR = "DATASET_FIELDS"
"""Class attribute of a ``Config`` naming its settings that name datasets."""


def preset_files(cfg: object) -> dict[str, Path]:
    """The preset files a config names, which its run reads.

    Parameters
    ----------
    cfg : dataclass instance
        A scenario's ``Config``; its class attribute ``PRESET_FIELDS`` names the
        settings that list presets (none if it has no such attribute).

    Returns
    -------
    dict of str to Path
        Every entry of those settings that is a file path (as written in the setting)
        -> the file, in order. Bundled preset names are left out: their contents are
        part of the code.

    Raises
    ------
    ValueError
        If a named file does not exist (:func:`sim.presets.preset_path`).
    """
    files: dict[str, Path] = {}
    for name in getattr(type(cfg), PRESET_FIELDS_ATTR, ()):
        value = getattr(cfg, name)
        entries = value if isinstance(value, (tuple, list)) else (value,)
        for entry in entries:
            if isinstance(entry, (str, Path)) and is_preset_file(entry):
                files.setdefault(str(entry), preset_path(entry))
    return files


def _resolved_preset(entry: str) -> str:
    """The preset ``entry`` as a complete preset file: its ``base`` chain, ``[host]
    preset`` and class defaults resolved (:func:`sim.presets.preset_toml`)."""
    return preset_toml(load_preset(entry))


def preset_digests(cfg: object) -> dict[str, str]:
    """SHA-256 of the resolved contents of every preset file the config names.

    What the run computes with, not the file's bytes: an edited value (in the file or a
    file it takes as ``base``) changes the digest, an edited comment does not.

    Returns
    -------
    dict of str to str
        Entry (as in :func:`preset_files`) -> hex digest; empty if the config names
        only bundled presets.

    Raises
    ------
    ValueError
        If a named file is missing or not a valid preset.
    """
    return {
        entry: hashlib.sha256(_resolved_preset(entry).encode("utf-8")).hexdigest()
        for entry in preset_files(cfg)
    }


def write_presets(cfg: object, out_dir: str | Path) -> dict[str, dict[str, str]]:
    """Save the resolved preset of every preset file the config names in the run folder.

    Each goes to ``out_dir/presets/<file stem>.toml`` (``-2``, ``-3`` ... added where two
    files share a stem), written out complete (:func:`sim.presets.preset_toml`), so that
    ``--set presets=<that file>`` repeats the run's energies even after the original
    file has changed. Bundled presets are not copied.

    Returns
    -------
    dict of str to dict
        Entry -> ``{"path": <the original file>, "file": <the copy, relative to
        out_dir>, "sha256": <digest of the copy, as preset_digests>}``; recorded in
        the manifest.
    """
    saved: dict[str, dict[str, str]] = {}
    files = preset_files(cfg)
    if not files:
        return saved
    folder = Path(out_dir) / PRESETS_DIRNAME
    folder.mkdir(exist_ok=True)
    used: set[str] = set()
    for entry, path in files.items():
        text = _resolved_preset(entry)
        stem, n = path.stem, 1
        while f"{stem}.toml" in used:
            n += 1
            stem = f"{path.stem}-{n}"
        used.add(f"{stem}.toml")
        (folder / f"{stem}.toml").write_text(text, encoding="utf-8")
        saved[entry] = {
            "path": str(path.absolute()),
            "file": f"{PRESETS_DIRNAME}/{stem}.toml",
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        }
    return saved


def dataset_files(cfg: object) -> dict[str, Path]:
    """The dataset files a config names, which its run reads.

    Parameters
    ----------
    cfg : dataclass instance
        A scenario's ``Config``; its class attribute ``DATASET_FIELDS`` names the
        settings that name datasets, one name or a tuple of them (none if it has no
        such attribute).

    Returns
    -------
    dict of str to Path
        Every entry of those settings that is a file path (as written in the setting)
        -> the file, in order. Built-in dataset names are left out: they are part of
        the code.

    Raises
    ------
    ValueError
        If a named file does not exist.
    """
    files: dict[str, Path] = {}
    for name in getattr(type(cfg), DATASET_FIELDS_ATTR, ()):
        value = getattr(cfg, name)
        entries = value if isinstance(value, (tuple, list)) else (value,)
        for entry in entries:
            if isinstance(entry, (str, Path)) and is_dataset_file(entry):
                path = Path(entry)
                if not path.is_file():
                    raise ValueError(f"{name}: dataset file {str(entry)!r} does not exist")
                files.setdefault(str(entry), path)
    return files


#: Suffixes of the input files a setting could name (dataset files, preset files).
INPUT_FILE_SUFFIXES: tuple[str, ...] = (*DATASET_FILE_SUFFIXES, PRESET_SUFFIX)


def undeclared_files(cfg: object) -> dict[str, str]:
    """The input files that settings of ``cfg`` name without being declared as such.

    A setting listed in neither ``Config.PRESET_FIELDS`` nor ``Config.DATASET_FIELDS``
    is text to the framework: a dataset or preset file it names gets no digest in the
    manifest, and neither a sweep nor ``run --resume`` notices the file change.

    Parameters
    ----------
    cfg : dataclass instance
        A scenario's ``Config``.

    Returns
    -------
    dict of str to str
        Setting -> the first existing file (as written) with a suffix of
        :data:`INPUT_FILE_SUFFIXES` that it names, for every undeclared setting that
        names one that no declared setting names too (energy_latency's
        ``crossover_presets`` picks from its ``presets``).
    """
    declared = {
        *getattr(type(cfg), PRESET_FIELDS_ATTR, ()),
        *getattr(type(cfg), DATASET_FIELDS_ATTR, ()),
    }

    def files(value: object) -> list[str]:
        entries = value if isinstance(value, (tuple, list)) else (value,)
        return [
            str(entry)
            for entry in entries
            if isinstance(entry, (str, Path))
            and str(entry).lower().endswith(INPUT_FILE_SUFFIXES)
            and Path(entry).is_file()
        ]

    fields = [field.name for field in dataclasses.fields(cfg)]  # type: ignore[arg-type]
    named = {  # a file a declared setting names, picked again by another, is recorded
        Path(file).resolve()
        for name in fields
        if name in declared
        for file in files(getattr(cfg, name))
    }
    found: dict[str, str] = {}
    for name in fields:
        if name not in declared:
            new = [f for f in files(getattr(cfg, name)) if Path(f).resolve() not in named]
            if new:
                found[name] = new[0]
    return found


def _file_sha256(path: Path, *, what: str = "dataset file") -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of a file, read in chunks (``what`` names it in
    the error)."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            for chunk in iter(functools.partial(fh.read, 1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise ValueError(f"{what} {str(path)!r} cannot be read: {exc}") from exc
    return digest.hexdigest(), size


def dataset_records(cfg: object) -> dict[str, dict[str, object]]:
    """What the manifest records of every dataset file the config names.

    The digest is of the bytes: any edit (a comment in a ``.csv`` included) changes
    it. The file is not copied into the run folder (data can be large); what it held
    is summed up (rows, features, and rows per class under the labels of the file).

    Parameters
    ----------
    cfg : dataclass instance
        A scenario's ``Config`` (see :func:`dataset_files`).

    Returns
    -------
    dict of str to dict
        Entry, the path as written in the setting -> ``{"path": <the file, absolute>,
        "sha256": <hex digest of its bytes>, "size_bytes": <its size>, "n_rows": ...,
        "n_features": ..., "class_rows": {<label>: <rows>}}`` (labels as in the file,
        in class order: :attr:`digital.datasets.Dataset.class_names`); empty if the
        config names only built-in datasets.

    Raises
    ------
    ValueError
        If a named file is missing or cannot be read.
    """
    records: dict[str, dict[str, object]] = {}
    for entry, path in dataset_files(cfg).items():
        digest, size = _file_sha256(path)
        data = read_dataset_file(path)
        names = data.class_names or tuple(str(k) for k in range(data.n_classes))
        records[entry] = {
            "path": str(path.absolute()),
            "sha256": digest,
            "size_bytes": size,
            "n_rows": data.n_samples,
            "n_features": data.n_features,
            "class_rows": dict(zip(names, np.bincount(data.y).tolist(), strict=True)),
        }
    return records


def dataset_digests(cfg: object) -> dict[str, str]:
    """SHA-256 of the bytes of every dataset file the config names.

    Parameters
    ----------
    cfg : dataclass instance
        A scenario's ``Config`` (see :func:`dataset_files`).

    Returns
    -------
    dict of str to str
        Entry (as in :func:`dataset_files`) -> hex digest, as :func:`dataset_records`
        records it (the file is not parsed); empty if the config names only built-in
        datasets.

    Raises
    ------
    ValueError
        If a named file is missing or cannot be read.
    """
    return {entry: _file_sha256(path)[0] for entry, path in dataset_files(cfg).items()}


def changed_inputs(cfg: object, manifest: Mapping[str, object]) -> list[str]:
    """The input files of a config whose contents differ from a run manifest's record.

    ``run --resume`` asks this before it continues a run: a checkpoint trained on other
    data, or energies from an edited preset, would mix two experiments in one folder.

    Parameters
    ----------
    cfg : dataclass instance
        The run's ``Config`` (see :func:`preset_files`, :func:`dataset_files`).
    manifest : mapping
        The run folder's ``manifest.json``: its ``presets`` (:func:`write_presets`) and
        ``datasets`` (:func:`dataset_records`) entries are the digests recorded when the
        run started. A file the manifest does not record (an older manifest) counts as
        unchanged.

    Returns
    -------
    list of str
        One phrase per changed file, e.g. ``"dataset file 'my.csv' (sha256 0a1b2c3d4e5f
        when the run started, 9f8e7d6c5b4a now)"``; empty if nothing changed.

    Raises
    ------
    ValueError
        If a named file is missing, cannot be read or is not a valid preset.
    """
    changed: list[str] = []
    for what, key, digests in (
        ("preset file", "presets", preset_digests),
        ("dataset file", "datasets", dataset_digests),
    ):
        recorded = manifest.get(key)
        if not isinstance(recorded, Mapping):
            continue
        for entry, digest in digests(cfg).items():
            record = recorded.get(entry)
            then = record.get("sha256") if isinstance(record, Mapping) else None
            if isinstance(then, str) and then != digest:
                changed.append(
                    f"{what} {entry!r} (sha256 {then[:12]} when the run started, {digest[:12]} now)"
                )
    return changed
