"""Small classification datasets, split and standardized, for training benchmarks.

Contract
--------
``load(name, *, rng, n_samples=None, test_fraction=0.2, noise=None) -> Dataset``

* ``name`` is one of :data:`DATASETS`: ``"moons"``, ``"circles"``, ``"ring"``,
  ``"spiral"``, ``"xor"``, ``"blobs"`` (synthetic, 2-D) and ``"iris"``,
  ``"digits"`` (bundled with scikit-learn, no download).
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
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from digital.validation import check_generator

__all__ = ["BUNDLED_DATASETS", "DATASETS", "Dataset", "load"]

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
        Name of the dataset (one of :data:`DATASETS` when made by :func:`load`).
    feature_mean : numpy.ndarray or None, shape (n_features,)
        Per-feature mean of the raw training features that was subtracted.
    feature_scale : numpy.ndarray or None, shape (n_features,)
        Per-feature divisor: the raw training standard deviation, or 1 for a
        feature that is constant on the training part. Raw features are recovered
        as ``x * feature_scale + feature_mean``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "custom"
    feature_mean: np.ndarray | None = None
    feature_scale: np.ndarray | None = None

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


# --------------------------------------------------------------------------- validation


def _check_name(name: object) -> _Spec:
    if not isinstance(name, str) or name not in _SPECS:
        raise ValueError(
            f"name={name!r} is not a known dataset; choose one of: {', '.join(DATASETS)}"
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


# --------------------------------------------------------------------------- public API


def load(
    name: str,
    *,
    rng: np.random.Generator,
    n_samples: int | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    noise: float | None = None,
) -> Dataset:
    """Generate or read a dataset, split it (stratified) and standardize it.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    rng : numpy.random.Generator
        The only source of randomness (generation, subsampling and splitting).
    n_samples : int or None
        Total number of samples before the split, at least ``2 * n_classes``.
        Synthetic sets: ``None`` means 500. Bundled sets (iris, digits): ``None``
        or a value at least the set size means the whole set; a smaller value
        draws a seeded, stratified subsample of that size.
    test_fraction : float
        Fraction in (0, 1) of the samples held out for testing. The test part has
        ``round(test_fraction * n_samples)`` samples, clipped so that every class
        keeps at least one sample in each part (this only matters for tiny sets).
    noise : float or None
        Noise level of a synthetic set (see the module docstring for its meaning per
        dataset); ``None`` selects the dataset's default. Must be ``None`` for the
        bundled sets.

    Returns
    -------
    Dataset
        ``x_train`` (n_train, n_features) float64, ``y_train`` (n_train,) int64,
        ``x_test`` (n_test, n_features) float64, ``y_test`` (n_test,) int64, with
        features standardized using training statistics only.

    Raises
    ------
    ValueError
        Unknown ``name``; ``n_samples`` not an int or below ``2 * n_classes``;
        ``test_fraction`` outside (0, 1); ``noise`` negative or not finite, or
        given for a bundled set.
    TypeError
        ``rng`` is not a :class:`numpy.random.Generator`.

    Examples
    --------
    >>> ds = load("moons", n_samples=100, rng=np.random.default_rng(0))
    >>> ds.x_train.shape, ds.x_test.shape, ds.n_classes
    ((80, 2), (20, 2), 2)
    """
    spec = _check_name(name)
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
        if n_wanted is not None and n_wanted < len(y):
            keep, _ = _stratified_pick(
                np.asarray(y, dtype=np.int64), n_wanted, rng, min_in=2, min_out=0
            )
            x, y = x[keep], y[keep]
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)

    n_total = len(y)
    n_test = math.floor(fraction * n_total + 0.5)
    n_test = min(max(n_test, spec.n_classes), n_total - spec.n_classes)
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
    )
