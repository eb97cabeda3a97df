"""Small classification datasets, split and standardized, for training benchmarks.

Contract
--------
``load(name_or_path, *, rng, n_samples=None, test_fraction=0.2, noise=None) -> Dataset``

* ``name_or_path`` is one of :data:`DATASETS`: ``"moons"``, ``"circles"``, ``"ring"``,
  ``"spiral"``, ``"xor"``, ``"blobs"`` (synthetic, 2-D) and ``"iris"``,
  ``"digits"`` (bundled with scikit-learn, no download) — or the path of a user's
  ``.npz`` or ``.csv`` file (:func:`is_dataset_file`; see *Dataset files* below).
* All randomness comes from ``rng`` (a :class:`numpy.random.Generator`); the global
  NumPy RNG is never touched. Scikit-learn generators get
  ``random_state=int(rng.integers(2**31 - 1))``. The same generator state gives
  bit-identical arrays.
* The train/test split is seeded and stratified: every class appears in both parts.
* Features are standardized (zero mean, unit variance per feature) with statistics
  fitted on the **train part only** and applied unchanged to the test part. A feature
  that is constant on the train part is only centred (divided by 1), never NaN.
* Shapes and types: ``x_train`` ``(n_train, n_features)`` float64, ``y_train``
  ``(n_train,)`` int64 labels in ``0 .. n_classes - 1``; ``x_test`` and ``y_test``
  likewise with ``n_test`` rows.

Datasets and defaults (``noise=None`` selects the default)
-----------------------------------------------------------
========== ======= ======== ===================================================
name       classes features ``noise`` meaning (default)
========== ======= ======== ===================================================
moons      2       2        Gaussian jitter std of ``make_moons`` (0.2)
circles    2       2        Gaussian jitter std of ``make_circles``, radius
                            ratio ``factor=0.5`` (0.2)
ring       2       2        jitter std added to ``make_gaussian_quantiles``
                            points after labelling by radius quantile (0.0)
spiral     2       2        jitter std around two interleaved 1.5-turn
                            spiral arms of radius 1 (0.05)
xor        2       2        std of four Gaussian blobs at (±1, ±1); opposite
                            corners share a class (0.35)
blobs      3       2        std of three Gaussian blobs centred on the
                            vertices of a triangle of circumradius 3 (1.0)
iris       3       4        not used; must be ``None``
digits     10      64       not used; must be ``None``
========== ======= ======== ===================================================

The moons and circles defaults (noise 0.2, circles factor 0.5) are the settings
used for the Pai et al. (2023) comparison.

Synthetic sets have ``n_samples`` points (default 500), spread over the classes as
evenly as possible. The bundled sets use all their samples (iris 150, digits 1797)
unless ``n_samples`` is smaller than that, in which case a seeded, stratified
subsample of ``n_samples`` points is drawn before splitting.

Dataset files
-------------
A :class:`~pathlib.Path`, or text with a path separator or ending in ``.npz`` or
``.csv``, is a file (as hardware presets: :func:`sim.presets.is_preset_file`); a
bare name is a built-in set. Two formats:

* ``.npz`` (``numpy.savez``) with the arrays ``x``, shape (n_samples, n_features),
  real, and ``y``, shape (n_samples,), the labels (integers or strings).
* ``.csv``: comma-separated numeric feature columns, the **last** column the label.
  One header row is allowed. The first row is the header when none of its feature
  cells is a number and at least one is text that does not read as missing (so a
  column may be named ``Na`` or ``NA``, but ``,,label`` is a row of missing values);
  when it is exactly ``0,1,…`` up to the last column (the column names pandas writes
  for a DataFrame made from an array); or when its label cell is text over a column
  of numeric labels (numbers as column names). A header whose first cell is empty
  or ``Unnamed: 0`` is refused: that column is the row index ``DataFrame.to_csv``
  writes unless ``index=False``, and read as a feature it can give the label away.
  Text after ``#`` is a comment; blank lines are skipped; a cell may be quoted with
  ``"``. No missing values (an empty cell, ``NA``, ``N/A``, ``nan``, ``null``;
  ``none`` too among features), labels included. Errors about a cell name its line
  in the file, as an editor counts them.
  Suffixes are matched in any case (``.CSV``).

Labels that are exactly the integers ``0 .. k - 1`` are used as they are
(``Dataset.class_names`` is ``None``). Any other labels — other integers
(``1, 2``; ``-1, 1``; ``0, 2``), integral floats, or text — are sorted (numerically
when they are numbers, else as text) and numbered ``0 .. k - 1`` in that order;
``Dataset.class_names`` keeps them as text (``class_names[i]`` is the label of class
``i``). Non-integral numeric labels are refused (they look like regression targets).

A file is read whole and then treated exactly as a bundled set: ``n_samples=None``
uses every row, a smaller ``n_samples`` draws a seeded stratified subsample (more
rows than the file holds is an error), then the seeded stratified split and the
train-only standardization. ``noise`` must be ``None``. Every class needs at least
two rows (one for each part), and at least two classes are needed. Reading a file
uses no randomness: the same file and generator state give bit-identical arrays.
``Dataset.name`` is the file's stem (``"data/my-set.csv"`` → ``"my-set"``), as a
preset file's copy in a run folder is named by its stem.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from digital.validation import check_generator

__all__ = [
    "BUNDLED_DATASETS",
    "DATASETS",
    "DATASET_FILE_SUFFIXES",
    "Dataset",
    "DatasetFile",
    "check_dataset",
    "dataset_name",
    "is_dataset_file",
    "load",
    "read_dataset_file",
]

DEFAULT_N_SAMPLES = 500
"""Number of points drawn for a synthetic dataset when ``n_samples`` is ``None``."""

DEFAULT_TEST_FRACTION = 0.2
"""Fraction of the samples held out for testing."""

CIRCLES_FACTOR = 0.5
"""Radius of the inner circle relative to the outer one (``make_circles(factor=...)``)."""

SPIRAL_TURNS = 1.5
"""Number of turns of each spiral arm."""

XOR_CENTER = 1.0
"""Blob centres of the XOR set sit at ``(±XOR_CENTER, ±XOR_CENTER)``."""

BLOBS_RADIUS = 3.0
"""Circumradius of the triangle whose vertices are the centres of the three blobs."""

_SEED_BOUND = 2**31 - 1
_CONSTANT_FEATURE_ULPS = 16.0  # std within this many ulps of |mean| counts as zero variance

_Generator = Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]
_Loader = Callable[[], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Dataset:
    """A standardized train/test split of a classification dataset.

    Parameters
    ----------
    x_train : numpy.ndarray, shape (n_train, n_features), float64
        Standardized training features.
    y_train : numpy.ndarray, shape (n_train,), int64
        Training class labels in ``0 .. n_classes - 1``.
    x_test : numpy.ndarray, shape (n_test, n_features), float64
        Test features, standardized with the training statistics.
    y_test : numpy.ndarray, shape (n_test,), int64
        Test class labels.
    name : str
        Name of the dataset (one of :data:`DATASETS`, or a file's stem, when made by
        :func:`load`).
    feature_mean : numpy.ndarray or None, shape (n_features,)
        Per-feature mean of the raw training features that was subtracted.
    feature_scale : numpy.ndarray or None, shape (n_features,)
        Per-feature divisor: the raw training standard deviation, or 1 for a
        feature that is constant on the training part. Raw features are recovered
        as ``x * feature_scale + feature_mean``.
    class_names : tuple of str or None
        The original label of each class, ``class_names[i]`` for label ``i``, when a
        dataset file's labels were not already ``0 .. k - 1`` (see the module
        docstring); ``None`` otherwise.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "custom"
    feature_mean: np.ndarray | None = None
    feature_scale: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            x = getattr(self, f"x_{part}")
            y = getattr(self, f"y_{part}")
            if np.ndim(x) != 2:
                raise ValueError(
                    f"x_{part} must be 2-D (n_samples, n_features); got shape {np.shape(x)}"
                )
            if np.ndim(y) != 1 or len(y) != len(x):
                raise ValueError(
                    f"y_{part} must be 1-D with one label per row of x_{part} "
                    f"({len(x)}); got shape {np.shape(y)}"
                )
        if np.shape(self.x_test)[1] != np.shape(self.x_train)[1]:
            raise ValueError(
                f"x_test has {np.shape(self.x_test)[1]} features but x_train has "
                f"{np.shape(self.x_train)[1]}; they must match"
            )

    @property
    def n_features(self) -> int:
        """Number of input features (columns of ``x_train``)."""
        return int(np.shape(self.x_train)[1])

    @property
    def n_classes(self) -> int:
        """Number of classes: one more than the largest label in either part."""
        labels = np.concatenate([np.ravel(self.y_train), np.ravel(self.y_test)])
        return int(labels.max()) + 1 if labels.size else 0

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return int(np.shape(self.x_train)[0])

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return int(np.shape(self.x_test)[0])


# --------------------------------------------------------------------------- generators


def _seed(rng: np.random.Generator) -> int:
    """Draw an integer ``random_state`` for a scikit-learn function from ``rng``."""
    return int(rng.integers(_SEED_BOUND))


def _even_counts(n: int, k: int) -> np.ndarray:
    """Split ``n`` items into ``k`` groups as evenly as possible, shape (k,)."""
    counts = np.full(k, n // k, dtype=np.int64)
    counts[: n % k] += 1
    return counts


def _moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=_seed(rng))
    return x, y


def _circles(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=n, noise=noise, factor=CIRCLES_FACTOR, random_state=_seed(rng))
    return x, y


def _ring(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_gaussian_quantiles

    x, y = make_gaussian_quantiles(n_samples=n, n_features=2, n_classes=2, random_state=_seed(rng))
    if noise > 0:
        x = x + noise * rng.standard_normal(x.shape)
    return x, y


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = np.repeat(np.arange(2), _even_counts(n, 2))
    radius = rng.uniform(0.0, 1.0, size=n)  # position along the arm, 0 = centre
    angle = 2.0 * np.pi * SPIRAL_TURNS * radius + np.pi * y
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = x + noise * rng.standard_normal(x.shape)
    order = rng.permutation(n)
    return x[order], y[order]


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centers = XOR_CENTER * np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    blob_labels = np.array([0, 0, 1, 1])
    blob = np.repeat(np.arange(4), _even_counts(n, 4))
    # interleave the blobs so that both classes get points even when n is tiny
    blob = np.array([0, 2, 1, 3])[blob]
    x = centers[blob] + noise * rng.standard_normal((n, 2))
    y = blob_labels[blob]
    order = rng.permutation(n)
    return x[order], y[order]


def _blobs(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    angles = np.pi / 2 + 2.0 * np.pi * np.arange(3) / 3
    centers = BLOBS_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x, y = make_blobs(n_samples=n, centers=centers, cluster_std=noise, random_state=_seed(rng))
    return x, y


def _iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    return x, y


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x, y


@dataclass(frozen=True)
class _Spec:
    n_classes: int
    default_noise: float | None  # None: bundled dataset, noise not used
    make: _Generator | None = None
    read: _Loader | None = None


_SPECS: dict[str, _Spec] = {
    "moons": _Spec(2, 0.2, make=_moons),
    "circles": _Spec(2, 0.2, make=_circles),
    "ring": _Spec(2, 0.0, make=_ring),
    "spiral": _Spec(2, 0.05, make=_spiral),
    "xor": _Spec(2, 0.35, make=_xor),
    "blobs": _Spec(3, 1.0, make=_blobs),
    "iris": _Spec(3, None, read=_iris),
    "digits": _Spec(10, None, read=_digits),
}

#: Names accepted by :func:`load`.
DATASETS: tuple[str, ...] = tuple(_SPECS)
#: Data sets bundled with scikit-learn: fixed samples, so ``noise`` does not apply.
BUNDLED_DATASETS: tuple[str, ...] = tuple(k for k, spec in _SPECS.items() if spec.read is not None)


# --------------------------------------------------------------------------- splitting


def _allocate(ideal: np.ndarray, total: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Integer counts close to ``ideal`` with ``low <= counts <= high`` summing to ``total``.

    Parameters
    ----------
    ideal : numpy.ndarray, shape (k,)
        Real-valued target counts.
    total : int
        Required sum; must satisfy ``low.sum() <= total <= high.sum()``.
    low, high : numpy.ndarray, shape (k,)
        Per-group bounds.

    Returns
    -------
    numpy.ndarray, shape (k,), int64
    """
    counts = np.clip(np.floor(ideal).astype(np.int64), low, high)
    while (missing := total - int(counts.sum())) != 0:
        step = 1 if missing > 0 else -1
        room = counts < high if step > 0 else counts > low
        gap = (ideal - counts) * step  # largest gap first; ties go to the lowest index
        counts[np.flatnonzero(room)[np.argmax(gap[room])]] += step
    return counts


def _stratified_pick(
    y: np.ndarray, n_pick: int, rng: np.random.Generator, *, min_in: int, min_out: int
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly pick ``n_pick`` indices of ``y``, stratified by class.

    Each class contributes close to its proportional share, at least ``min_in`` picked
    and at least ``min_out`` left out (the caller guarantees feasibility).

    Parameters
    ----------
    y : numpy.ndarray, shape (n,), int
        Class labels ``0 .. k - 1``.
    n_pick : int
        Number of indices to pick.
    rng : numpy.random.Generator
        Source of randomness.
    min_in, min_out : int
        Per-class minimum number of picked and of left-out samples.

    Returns
    -------
    picked, rest : numpy.ndarray, shapes (n_pick,) and (n - n_pick,), int64
        Disjoint index arrays in random order.
    """
    class_counts = np.bincount(y)
    ideal = class_counts * (n_pick / len(y))
    take = _allocate(
        ideal,
        n_pick,
        np.minimum(min_in, class_counts),
        np.maximum(class_counts - min_out, 0),
    )
    picked: list[np.ndarray] = []
    rest: list[np.ndarray] = []
    for label, n_take in enumerate(take):
        members = rng.permutation(np.flatnonzero(y == label))
        picked.append(members[:n_take])
        rest.append(members[n_take:])
    picked_idx = rng.permutation(np.concatenate(picked)).astype(np.int64)
    rest_idx = rng.permutation(np.concatenate(rest)).astype(np.int64)
    return picked_idx, rest_idx


def _standardize(
    x_train: np.ndarray, x_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scale features with statistics of the train part only.

    Returns ``(x_train_std, x_test_std, mean, scale)``; ``mean`` and ``scale`` have shape
    (n_features,), and ``scale`` is 1 where the train part is constant.
    """
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    constant = std <= _CONSTANT_FEATURE_ULPS * np.finfo(np.float64).eps * np.abs(mean)
    scale = np.where(constant, 1.0, std)
    return (x_train - mean) / scale, (x_test - mean) / scale, mean, scale


# --------------------------------------------------------------------------- files

#: Suffixes of the dataset files :func:`load` reads.
DATASET_FILE_SUFFIXES: tuple[str, ...] = (".npz", ".csv")
_CSV_DELIMITER = ","
_CSV_COMMENT = "#"
_CSV_QUOTE = '"'
_FILE_FORMATS = (
    "an .npz file with arrays x (n_samples, n_features) and y (n_samples,), or a .csv "
    "file with numeric feature columns and the label in the last column"
)


@dataclass(frozen=True)
class DatasetFile:
    """The validated contents of a dataset file, before any subsample, split or scaling.

    Parameters
    ----------
    path : pathlib.Path
        The file as given.
    x : numpy.ndarray, shape (n_samples, n_features), float64
        Raw features, all finite.
    y : numpy.ndarray, shape (n_samples,), int64
        Labels in ``0 .. n_classes - 1``, every class present.
    class_names : tuple of str or None
        Original label of each class when the file's labels were not ``0 .. k - 1``.
    """

    path: Path
    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...] | None = None

    @property
    def n_samples(self) -> int:
        """Number of rows."""
        return int(self.x.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.x.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of distinct labels."""
        return int(self.y.max()) + 1

    @property
    def name(self) -> str:
        """The file's stem, the :class:`Dataset` name :func:`load` gives it."""
        return self.path.stem


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.lower().endswith(DATASET_FILE_SUFFIXES)


def is_dataset_file(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a dataset file (a path) rather than a built-in set.

    A :class:`~pathlib.Path`, or text with a path separator or ending in one of
    :data:`DATASET_FILE_SUFFIXES`, is a file; a bare name is one of :data:`DATASETS`
    (mirrors :func:`sim.presets.is_preset_file`).

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        A dataset name or a path.

    Returns
    -------
    bool
    """
    return isinstance(name_or_path, Path) or _looks_like_path(str(name_or_path))


def dataset_name(name_or_path: str | Path) -> str:
    """The :attr:`Dataset.name` that :func:`load` gives ``name_or_path``.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        A built-in dataset name or the path of a dataset file.

    Returns
    -------
    str
        The name itself for a built-in set; the file's stem for a file.
    """
    return Path(name_or_path).stem if is_dataset_file(name_or_path) else str(name_or_path)


def _file_error(path: Path, problem: str) -> ValueError:
    return ValueError(f"dataset file {str(path)!r} {problem}")


def _read_npz(path: Path, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` of the ``.npz`` archive ``raw``, the bytes of ``path``."""
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise _file_error(path, f"is not an .npz archive (numpy.savez); expected {_FILE_FORMATS}")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            keys = sorted(archive.files)
            arrays = {key: archive[key] for key in ("x", "y") if key in keys}
    except ValueError as exc:  # only the reads are in here: the path may say "pickle" too
        if "pickle" in str(exc) or "Object arrays" in str(exc):
            raise _file_error(
                path, "holds Python objects (pickled); save x as numbers and y as integers or text"
            ) from None
        raise
    except (OSError, zipfile.BadZipFile) as exc:
        raise _file_error(path, f"cannot be read as .npz: {exc}") from None
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise _file_error(
            path,
            f"has no array {' or '.join(repr(k) for k in missing)} (it holds: "
            f"{', '.join(keys) or 'nothing'}); expected {_FILE_FORMATS}",
        )
    return arrays["x"], arrays["y"]


_CSV_QUOTED = re.compile(r'"[^"]*"')
_CSV_OTHER_SEPARATORS = {";": "';'", "\t": "a tab"}
#: Cells read as a missing value (as pandas writes and reads them), compared lower-case.
_MISSING_CELLS = frozenset({"", "na", "n/a", "nan", "null", "none"})
#: Missing-value labels: as above but "none", which is also a plausible class name.
_MISSING_LABELS = frozenset({"", "na", "n/a", "nan", "null"})
_PANDAS_INDEX_NAME = re.compile(r"Unnamed: \d+")


def _lines(text: str) -> list[str]:
    """The lines of ``text`` as an editor counts them: ended by ``\\n`` or ``\\r\\n`` only
    (``str.splitlines`` also ends lines at form feeds and other separators)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _csv_rows(text: str) -> tuple[list[str], list[int]]:
    """The lines of ``text`` that hold data, and their 1-based line numbers in the file.

    A line holds data if anything but white space is left once quoted cells and the
    comment are taken out (NumPy would read a blank line as a row of one empty cell).
    """
    lines = _lines(text)
    numbers = [
        n
        for n, line in enumerate(lines, 1)
        if _CSV_QUOTED.sub('""', line).split(_CSV_COMMENT, 1)[0].strip()
    ]
    return [lines[n - 1] for n in numbers], numbers


def _separator_hint(text: str) -> str:
    """What a table separated by something other than commas looks like it used, if
    ``text`` (its first line, or a cell that is not a number) holds such a separator."""
    for separator, name in _CSV_OTHER_SEPARATORS.items():
        if separator in text:
            return (
                f"; it looks separated by {name}, but only ',' separates columns and '.' "
                "is the decimal point (save it as comma-separated)"
            )
    return ""


def _is_name(cell: str) -> bool:
    """Whether a CSV cell is a column name: text that is neither a number nor missing."""
    return cell.lower() not in _MISSING_CELLS and not _is_number(cell)


def _has_header(cells: np.ndarray) -> bool:
    """Whether the first row of a CSV table is its header (rules in the module docstring)."""
    first, labels = cells[0], cells[1:, -1]
    if list(first) == [str(j) for j in range(first.size)]:  # DataFrame(array).to_csv's
        return True
    features = first[:-1]
    if not any(_is_number(cell) for cell in features) and any(map(_is_name, features)):
        return True  # a column may be named like a missing value: "Na" (sodium), "NA"
    # numeric column names: a text label over a column of numeric labels
    return _is_name(first[-1]) and labels.size > 0 and all(_is_number(c) for c in labels)


def _check_no_index_column(path: Path, header: np.ndarray) -> None:
    """Refuse the row index ``DataFrame.to_csv`` writes unless ``index=False`` (R's
    ``write.csv`` too, with ``""`` for its name, unless ``row.names = FALSE``)."""
    name = str(header[0])
    if name == "" or _PANDAS_INDEX_NAME.fullmatch(name):
        raise _file_error(
            path,
            f"has a first column named {name!r} in its header: the row index that pandas "
            "(and R's write.csv) write by default. It would be read as a feature (and a "
            "row index can give the label away); write the file with "
            "df.to_csv(path, index=False) (R: write.csv(df, path, row.names = FALSE)), "
            "or delete that column",
        )


def _read_csv(path: Path, raw: bytes) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Features, labels and the file line number of each row of the ``.csv`` dataset
    ``raw``, the bytes of ``path``."""
    try:
        text = raw.decode("utf-8-sig")  # -sig: a spreadsheet's byte-order mark
    except UnicodeDecodeError as exc:
        raise _file_error(path, f"is not UTF-8 text: {exc}") from None
    lines, line_numbers = _csv_rows(text)
    if not lines:
        raise _file_error(path, "holds no rows")
    try:
        cells = np.loadtxt(
            lines,
            delimiter=_CSV_DELIMITER,
            comments=_CSV_COMMENT,
            quotechar=_CSV_QUOTE,
            dtype=str,
            ndmin=2,
        )
    except ValueError as exc:
        reason = str(exc).split(";")[0]  # NumPy's hint about usecols does not apply
        match = re.search(r"at row (\d+)", reason)
        if match:  # NumPy counts the rows it read; a user counts the lines of the file
            reason = reason[: match.start()] + f"on line {line_numbers[int(match[1]) - 1]}"
        raise _file_error(
            path, f"is not a rectangular CSV table: {reason}{_separator_hint(lines[0])}"
        ) from None
    cells = np.char.strip(cells)
    if cells.shape[1] < 2:
        raise _file_error(
            path,
            f"has {cells.shape[1]} column; a .csv dataset needs at least one feature "
            f"column and the label in the last column{_separator_hint(lines[0])}",
        )
    if (
        _has_header(cells)
        or _PANDAS_INDEX_NAME.fullmatch(str(cells[0, 0]))
        or (cells[0, 0] == "" and _has_header(cells[:, 1:]))
    ):
        _check_no_index_column(path, cells[0])
        cells, line_numbers = cells[1:], line_numbers[1:]
        if cells.shape[0] == 0:
            raise _file_error(path, "holds a header but no rows")
    features = cells[:, :-1]
    try:
        x = features.astype(np.float64)
    except ValueError:
        bad = [(i, j) for (i, j), cell in np.ndenumerate(features) if not _is_number(cell)]
        i, j = bad[0]
        cell = str(features[i, j])
        hint = (
            "; missing values are not allowed (drop or fill those rows first)"
            if cell.lower() in _MISSING_CELLS
            else _separator_hint(cell)
            or " (feature columns must be numeric; the label goes in the last column)"
        )
        raise _file_error(
            path,
            f"has {len(bad)} feature cell(s) that are not numbers, the first {cell!r} on "
            f"line {line_numbers[i]}, column {j + 1}{hint}",
        ) from None
    labels = cells[:, -1]
    missing = np.flatnonzero(np.isin(np.char.lower(labels), list(_MISSING_LABELS)))
    if missing.size:
        line = line_numbers[missing[0]]
        comment = (
            f" (text after '{_CSV_COMMENT}' is a comment: put a label that holds "
            f"'{_CSV_COMMENT}' in double quotes)"
            if _CSV_COMMENT in _lines(text)[line - 1]
            else ""
        )
        raise _file_error(
            path,
            f"has {missing.size} missing label cell(s), the first "
            f"{str(labels[missing[0]])!r} on line {line}{comment}; every row needs its "
            "label in the last column (a trailing comma adds an empty column)",
        )
    y: np.ndarray = labels
    if all(_is_number(cell) for cell in labels):
        y = labels.astype(np.float64)
    return x, y, line_numbers


def _is_number(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def _check_features(path: Path, x: np.ndarray, line_numbers: list[int] | None) -> np.ndarray:
    if x.ndim != 2:
        raise _file_error(path, f"has x of shape {x.shape}; x must be 2-D (n_samples, n_features)")
    if x.dtype.kind not in "biuf":
        raise _file_error(
            path, f"has x of dtype {x.dtype}; features must be real numbers (not complex or text)"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise _file_error(
            path, f"has x of shape {x.shape}; it needs at least one sample and one feature"
        )
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    if not finite.all():
        rows, cols = np.nonzero(~finite)
        where = f"on line {line_numbers[rows[0]]}" if line_numbers else f"in row {rows[0] + 1}"
        raise _file_error(
            path,
            f"has {rows.size} NaN or infinite feature value(s), the first "
            f"{float(x[rows[0], cols[0]])!r} {where}, column {cols[0] + 1}; every feature "
            "must be finite (drop or fill such rows first)",
        )
    return x


def _check_labels(
    path: Path, y: np.ndarray, n_rows: int
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Labels ``0 .. k - 1`` and the original names (``None`` if already so)."""
    if y.ndim != 1:
        raise _file_error(path, f"has y of shape {y.shape}; y must be 1-D (n_samples,)")
    if y.shape[0] != n_rows:
        raise _file_error(
            path, f"has {y.shape[0]} labels for {n_rows} rows of features; one label per row"
        )
    kind = y.dtype.kind
    if kind == "S":
        y = np.char.decode(y, "utf-8")
        kind = "U"
    if kind == "f":
        values = y.astype(np.float64)
        if not np.isfinite(values).all():
            raise _file_error(path, "has NaN or infinite labels; labels must be integers or text")
        if not (values == np.round(values)).all():
            first = float(values[values != np.round(values)][0])
            raise _file_error(
                path,
                f"has non-integer numeric labels (e.g. {first!r}); labels must be integers "
                "or text (this loader is for classification)",
            )
    elif kind not in "biuU":
        raise _file_error(path, f"has y of dtype {y.dtype}; labels must be integers or text")
    # in y's own dtype: integers through float64 would merge 2**53 + 1 with 2**53
    unique, codes = np.unique(y, return_inverse=True)
    codes = codes.astype(np.int64).reshape(-1)
    if kind == "U":
        return codes, tuple(str(v) for v in unique)
    if np.array_equal(unique, np.arange(unique.size)):
        return codes, None
    return codes, tuple(str(int(v)) for v in unique)


def _check_classes(path: Path, y: np.ndarray, names: tuple[str, ...] | None) -> None:
    counts = np.bincount(y)
    if counts.size < 2:
        label = names[0] if names else "0"
        raise _file_error(
            path, f"has 1 class (every label is {label!r}); a classification set needs at least 2"
        )
    small = np.flatnonzero(counts < 2)
    if small.size:
        label = names[small[0]] if names else str(small[0])
        raise _file_error(
            path,
            f"has class {label!r} with {counts[small[0]]} row; every class needs at least 2 "
            "rows, one for the train part and one for the test part",
        )


def read_dataset_file(path: str | Path) -> DatasetFile:
    """Read and check a dataset file (no subsample, split or scaling).

    Parameters
    ----------
    path : str or pathlib.Path
        An ``.npz`` or ``.csv`` file (formats in the module docstring).

    Returns
    -------
    DatasetFile
        ``x`` (n_samples, n_features) float64, ``y`` (n_samples,) int64 in
        ``0 .. k - 1``, and the original label names if they were other labels.

    Raises
    ------
    ValueError
        Naming the file and the problem: missing file, unknown suffix, unreadable
        contents, missing ``x``/``y``, wrong dimensions, mismatched row counts,
        non-numeric or non-finite features, non-integral numeric labels, fewer than
        two classes, or a class with fewer than two rows.
    """
    file = Path(path)
    if file.suffix.lower() not in DATASET_FILE_SUFFIXES:
        raise ValueError(
            f"dataset file {str(file)!r} has the suffix {file.suffix!r}; a dataset file is "
            f"{' or '.join(DATASET_FILE_SUFFIXES)}: {_FILE_FORMATS}"
        )
    if not file.is_file():
        raise _file_error(file, "does not exist")
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise _file_error(file, f"cannot be read: {exc}") from None
    key = (str(file), hashlib.sha256(raw).hexdigest())
    if key in _PARSED:
        _PARSED[key] = _PARSED.pop(key)  # most recently used goes last
        return _PARSED[key]
    if file.suffix.lower() == ".npz":
        (x, y), line_numbers = _read_npz(file, raw), None
    else:
        x, y, line_numbers = _read_csv(file, raw)
    x = _check_features(file, np.asarray(x), line_numbers)
    labels, names = _check_labels(file, np.asarray(y), x.shape[0])
    _check_classes(file, labels, names)
    x.setflags(write=False)
    labels.setflags(write=False)
    _PARSED[key] = DatasetFile(path=file, x=x, y=labels, class_names=names)
    while len(_PARSED) > _PARSED_KEPT:
        del _PARSED[next(iter(_PARSED))]
    return _PARSED[key]


#: Files parsed in this process, by (path as given, SHA-256 of the bytes), oldest first.
#: One run reads its file up to four times (the config check, the manifest, the run,
#: the step count); hashing costs ~1 ms per MB where parsing a .csv costs ~100 ms per
#: MB. Keyed by the bytes, a hit is exactly what parsing again would give (the
#: arrays are read-only), and an edited file is parsed again.
_PARSED: dict[tuple[str, str], DatasetFile] = {}
_PARSED_KEPT = 4


# --------------------------------------------------------------------------- validation


def _suffix_note(value: object) -> str:
    """For a name that looks like a file of another kind (``my.txt``): say so."""
    suffix = Path(value).suffix if isinstance(value, str) else ""
    if not re.fullmatch(r"\.[A-Za-z]\w*", suffix):
        return ""
    return (
        f"; {value!r} looks like a file name, but a dataset file ends in "
        f"{' or '.join(DATASET_FILE_SUFFIXES)}, not {suffix!r}"
    )


def _check_name(name: object) -> _Spec:
    if not isinstance(name, str) or name not in _SPECS:
        raise ValueError(
            f"name_or_path={name!r} is not a known dataset; choose one of: "
            f"{', '.join(DATASETS)} (or pass the path of a "
            f"{' or '.join(DATASET_FILE_SUFFIXES)} file){_suffix_note(name)}"
        )
    return _SPECS[name]


def _check_n_samples(n_samples: object, name: str, n_classes: int) -> int | None:
    if n_samples is None:
        return None
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral):
        raise ValueError(f"n_samples={n_samples!r} must be an int (or None for the default)")
    minimum = 2 * n_classes
    if n_samples < minimum:
        raise ValueError(
            f"n_samples={n_samples!r} is too small for dataset {name!r} with {n_classes} "
            f"classes; need at least {minimum} (two per class)"
        )
    return int(n_samples)


def _check_file_n_samples(n_samples: object, data: DatasetFile) -> int | None:
    n_wanted = _check_n_samples(n_samples, str(data.path), data.n_classes)
    if n_wanted is not None and n_wanted > data.n_samples:
        raise ValueError(
            f"n_samples={n_wanted!r} is more than the {data.n_samples} rows of dataset file "
            f"{str(data.path)!r}; give at most {data.n_samples} (or None for every row)"
        )
    return n_wanted


def _check_file_noise(noise: object, path: Path) -> None:
    if noise is not None:
        raise ValueError(
            f"noise={noise!r} has no meaning for the dataset file {str(path)!r}; pass noise=None"
        )


def _check_test_fraction(test_fraction: object) -> float:
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, Real)
        or not 0.0 < float(test_fraction) < 1.0
    ):
        raise ValueError(
            f"test_fraction={test_fraction!r} must be a number strictly between 0 and 1"
        )
    return float(test_fraction)


def _check_noise(noise: object, name: str, spec: _Spec) -> float:
    if spec.default_noise is None:
        if noise is not None:
            raise ValueError(
                f"noise={noise!r} has no meaning for the bundled dataset {name!r}; pass noise=None"
            )
        return 0.0
    if noise is None:
        return spec.default_noise
    if (
        isinstance(noise, bool)
        or not isinstance(noise, Real)
        or not math.isfinite(float(noise))
        or float(noise) < 0.0
    ):
        raise ValueError(f"noise={noise!r} must be a finite number >= 0 (or None for the default)")
    return float(noise)


def check_dataset(
    value: object,
    name: str = "dataset",
    *,
    allowed: tuple[str, ...] = DATASETS,
    n_samples: int | None = None,
    noise: float | None = None,
    n_features: int | None = None,
    n_classes: int | None = None,
) -> str:
    """A settings field that names a dataset: a built-in name or a dataset file's path.

    A file is read and checked now, so that a bad file is refused before a run starts.

    Parameters
    ----------
    value : object
        The setting: one of ``allowed``, or the path of a dataset file
        (:func:`is_dataset_file`; a :class:`~pathlib.Path` is turned into text).
    name : str
        The field's name, for the error messages.
    allowed : tuple of str
        The built-in names this field takes (e.g. only the two-class 2-D sets).
    n_samples : int or None
        The run's sample count, checked against a file's rows (at most that many).
    noise : float or None
        The run's noise level; must be ``None`` for a file.
    n_features, n_classes : int or None
        What the field's consumer needs of a file (``None``: anything).

    Returns
    -------
    str
        ``value`` (as text).

    Raises
    ------
    ValueError
        Naming ``name``: an unknown built-in name, or a file that does not load
        (:func:`read_dataset_file`) or does not fit (found vs required).
    """
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not is_dataset_file(value):
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(
                f"{name}={value!r} is not allowed; choose one of: {', '.join(allowed)} (or "
                f"the path of a {' or '.join(DATASET_FILE_SUFFIXES)} dataset file)"
                f"{_suffix_note(value)}"
            )
        return value
    try:
        data = read_dataset_file(value)
        _check_file_n_samples(n_samples, data)
        _check_file_noise(noise, data.path)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    wanted = {"features": n_features, "classes": n_classes}
    found = {"features": data.n_features, "classes": data.n_classes}
    if any(need is not None and found[k] != need for k, need in wanted.items()):
        required = " and ".join(f"{v} {k}" for k, v in wanted.items() if v is not None)
        raise ValueError(
            f"{name}={value!r}: the file has {data.n_features} features and "
            f"{data.n_classes} classes; this setting needs {required}"
        )
    return value


# --------------------------------------------------------------------------- public API


def load(
    name_or_path: str | Path,
    *,
    rng: np.random.Generator,
    n_samples: int | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    noise: float | None = None,
) -> Dataset:
    """Generate or read a dataset, split it (stratified) and standardize it.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        One of :data:`DATASETS`, or the path of an ``.npz`` or ``.csv`` dataset file
        (:func:`is_dataset_file`; formats in the module docstring).
    rng : numpy.random.Generator
        The only source of randomness (generation, subsampling and splitting).
    n_samples : int or None
        Total number of samples before the split, at least ``2 * n_classes``.
        Synthetic sets: ``None`` means 500. Bundled sets (iris, digits): ``None``
        or a value at least the set size means the whole set; a smaller value
        draws a seeded, stratified subsample of that size. Files: ``None`` means
        every row, a smaller value a seeded stratified subsample; more rows than the
        file holds is an error.
    test_fraction : float
        Fraction in (0, 1) of the samples held out for testing. The test part has
        ``round(test_fraction * n_samples)`` samples, clipped so that every class
        keeps at least one sample in each part (this only matters for tiny sets).
    noise : float or None
        Noise level of a synthetic set (see the module docstring for its meaning per
        dataset); ``None`` selects the dataset's default. Must be ``None`` for the
        bundled sets and for files.

    Returns
    -------
    Dataset
        ``x_train`` (n_train, n_features) float64, ``y_train`` (n_train,) int64,
        ``x_test`` (n_test, n_features) float64, ``y_test`` (n_test,) int64, with
        features standardized using training statistics only; ``name`` is the
        dataset's name or the file's stem.

    Raises
    ------
    ValueError
        Unknown ``name_or_path``; ``n_samples`` not an int, below ``2 * n_classes``
        or above a file's rows; ``test_fraction`` outside (0, 1); ``noise`` negative
        or not finite, or given for a bundled set or a file; any problem of a file
        (:func:`read_dataset_file`).
    TypeError
        ``rng`` is not a :class:`numpy.random.Generator`.

    Examples
    --------
    >>> ds = load("moons", n_samples=100, rng=np.random.default_rng(0))
    >>> ds.x_train.shape, ds.x_test.shape, ds.n_classes
    ((80, 2), (20, 2), 2)
    """
    if is_dataset_file(name_or_path):
        return _load_file(
            Path(name_or_path),
            rng=rng,
            n_samples=n_samples,
            test_fraction=test_fraction,
            noise=noise,
        )
    spec = _check_name(name_or_path)
    name = str(name_or_path)
    n_wanted = _check_n_samples(n_samples, name, spec.n_classes)
    fraction = _check_test_fraction(test_fraction)
    noise_level = _check_noise(noise, name, spec)
    check_generator(rng)

    if spec.make is not None:
        n = DEFAULT_N_SAMPLES if n_wanted is None else n_wanted
        x, y = spec.make(n, noise_level, rng)
    else:
        assert spec.read is not None
        x, y = spec.read()
        x, y = _subsample(x, np.asarray(y, dtype=np.int64), n_wanted, rng)
    return _split(x, y, spec.n_classes, fraction, rng, name=name)


def _load_file(
    path: Path,
    *,
    rng: np.random.Generator,
    n_samples: object,
    test_fraction: object,
    noise: object,
) -> Dataset:
    """:func:`load` for a dataset file."""
    fraction = _check_test_fraction(test_fraction)
    _check_file_noise(noise, path)
    check_generator(rng)
    data = read_dataset_file(path)
    n_wanted = _check_file_n_samples(n_samples, data)
    x, y = _subsample(data.x, data.y, n_wanted, rng)
    return _split(x, y, data.n_classes, fraction, rng, name=data.name, class_names=data.class_names)


def _subsample(
    x: np.ndarray, y: np.ndarray, n_wanted: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded stratified subsample of ``n_wanted`` rows (all rows if ``None`` or more)."""
    if n_wanted is not None and n_wanted < len(y):
        keep, _ = _stratified_pick(
            np.asarray(y, dtype=np.int64), n_wanted, rng, min_in=2, min_out=0
        )
        return x[keep], y[keep]
    return x, y


def _split(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    fraction: float,
    rng: np.random.Generator,
    *,
    name: str,
    class_names: tuple[str, ...] | None = None,
) -> Dataset:
    """The seeded stratified split and the train-only standardization of ``(x, y)``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    n_total = len(y)
    n_test = math.floor(fraction * n_total + 0.5)
    n_test = min(max(n_test, n_classes), n_total - n_classes)
    test_idx, train_idx = _stratified_pick(y, n_test, rng, min_in=1, min_out=1)
    x_train, x_test, mean, scale = _standardize(x[train_idx], x[test_idx])
    return Dataset(
        x_train=np.ascontiguousarray(x_train),
        y_train=np.ascontiguousarray(y[train_idx]),
        x_test=np.ascontiguousarray(x_test),
        y_test=np.ascontiguousarray(y[test_idx]),
        name=name,
        feature_mean=mean,
        feature_scale=scale,
        class_names=class_names,
    )
