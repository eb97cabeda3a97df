"""Tests for digital.datasets: shapes, labels, stratified split, scaling, seeding, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digital.datasets import DATASETS, Dataset, load

EXPECTED = {  # name -> (n_classes, n_features, samples with n_samples=None)
    "moons": (2, 2, 500),
    "circles": (2, 2, 500),
    "ring": (2, 2, 500),
    "spiral": (2, 2, 500),
    "xor": (2, 2, 500),
    "blobs": (3, 2, 500),
    "iris": (3, 4, 150),
    "digits": (10, 64, 1797),
}
SYNTHETIC = ("moons", "circles", "ring", "spiral", "xor", "blobs")
BUNDLED = ("iris", "digits")


def _load(name: str, seed: int = 0, **kwargs: object) -> Dataset:
    return load(name, rng=np.random.default_rng(seed), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=DATASETS)
def named(request: pytest.FixtureRequest) -> tuple[str, Dataset]:
    return request.param, _load(request.param, seed=1234)


def test_registry_lists_every_dataset() -> None:
    assert set(DATASETS) == set(EXPECTED)
    assert isinstance(DATASETS, tuple)


def test_shapes_dtypes_and_labels(named: tuple[str, Dataset]) -> None:
    name, ds = named
    n_classes, n_features, n_total = EXPECTED[name]
    assert ds.name == name
    assert ds.n_classes == n_classes
    assert ds.n_features == n_features
    assert ds.x_train.dtype == np.float64 and ds.x_test.dtype == np.float64
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert ds.x_train.ndim == 2 and ds.x_test.ndim == 2
    assert ds.x_train.shape[1] == ds.x_test.shape[1] == n_features
    assert ds.y_train.shape == (ds.x_train.shape[0],)
    assert ds.y_test.shape == (ds.x_test.shape[0],)
    assert ds.n_train + ds.n_test == n_total
    for y in (ds.y_train, ds.y_test):
        assert y.min() >= 0 and y.max() < n_classes
        # every class appears in both parts
        assert set(np.unique(y)) == set(range(n_classes))


def test_split_is_stratified_and_respects_fraction(named: tuple[str, Dataset]) -> None:
    _, ds = named
    n_total = ds.n_train + ds.n_test
    assert abs(ds.n_test - 0.2 * n_total) <= 1
    all_y = np.concatenate([ds.y_train, ds.y_test])
    overall = np.bincount(all_y) / n_total
    in_test = np.bincount(ds.y_test, minlength=ds.n_classes) / ds.n_test
    # per-class rounding can shift at most about one sample per class
    assert np.all(np.abs(in_test - overall) <= ds.n_classes / ds.n_test)


def test_finite(named: tuple[str, Dataset]) -> None:
    _, ds = named
    for arr in (ds.x_train, ds.x_test):
        assert np.all(np.isfinite(arr))


def test_train_part_is_standardized(named: tuple[str, Dataset]) -> None:
    _, ds = named
    assert ds.feature_scale is not None and ds.feature_mean is not None
    varying = ds.x_train.std(axis=0) > 0
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ds.x_train.std(axis=0)[varying], 1.0, rtol=1e-10)
    # features constant on the train part are centred to exactly zero, divided by 1
    np.testing.assert_array_equal(ds.x_train[:, ~varying], 0.0)
    np.testing.assert_array_equal(ds.feature_scale[~varying], 1.0)


def test_scaler_is_fitted_on_train_only(named: tuple[str, Dataset]) -> None:
    _, ds = named
    assert ds.feature_mean is not None and ds.feature_scale is not None
    raw_train = ds.x_train * ds.feature_scale + ds.feature_mean
    raw_test = ds.x_test * ds.feature_scale + ds.feature_mean
    # the stored statistics are those of the raw train part ...
    np.testing.assert_allclose(ds.feature_mean, raw_train.mean(axis=0), rtol=1e-9, atol=1e-9)
    varying = raw_train.std(axis=0) > 1e-9
    np.testing.assert_allclose(ds.feature_scale[varying], raw_train.std(axis=0)[varying], rtol=1e-9)
    # ... and not those of the test part or of the whole set
    pooled = np.concatenate([raw_train, raw_test])
    assert not np.allclose(ds.feature_mean, raw_test.mean(axis=0), rtol=0, atol=1e-6)
    assert not np.allclose(ds.feature_mean, pooled.mean(axis=0), rtol=0, atol=1e-9)
    assert not np.allclose(ds.x_test.mean(axis=0), 0.0, atol=1e-6)


def test_digits_constant_pixels_do_not_give_nan() -> None:
    ds = _load("digits", seed=3)
    assert ds.feature_scale is not None
    constant = ds.feature_scale == 1.0
    assert constant.any()  # digits has pixels that are always blank
    assert np.all(np.isfinite(ds.x_test))


@pytest.mark.parametrize("name", DATASETS)
def test_same_seed_gives_identical_arrays(name: str) -> None:
    a = _load(name, seed=7, n_samples=60)
    b = _load(name, seed=7, n_samples=60)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(a, field), getattr(b, field))


@pytest.mark.parametrize("name", DATASETS)
def test_different_seeds_differ(name: str) -> None:
    a = _load(name, seed=7, n_samples=60)
    b = _load(name, seed=8, n_samples=60)
    assert not np.array_equal(a.x_train, b.x_train)


def test_global_numpy_rng_untouched() -> None:
    state = np.random.get_state()  # noqa: NPY002 - checking that the legacy RNG is unused
    for name in DATASETS:
        _load(name, n_samples=40)
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0] and np.array_equal(state[1], after[1])  # type: ignore[index]


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_subsample(name: str) -> None:
    n_classes, _, n_total = EXPECTED[name]
    ds = _load(name, n_samples=50)
    assert ds.n_train + ds.n_test == 50
    assert set(np.unique(ds.y_train)) == set(range(n_classes))
    assert set(np.unique(ds.y_test)) == set(range(n_classes))
    # n_samples at or above the set size means the whole set
    full = _load(name, n_samples=n_total + 100)
    assert full.n_train + full.n_test == n_total


@pytest.mark.parametrize("name", SYNTHETIC)
def test_noise_parameter_changes_synthetic_data(name: str) -> None:
    quiet = _load(name, n_samples=100, noise=0.0)
    noisy = _load(name, n_samples=100, noise=0.5)
    assert not np.array_equal(quiet.x_train, noisy.x_train)


def test_default_noise_matches_documented_defaults() -> None:
    for name in ("moons", "circles"):
        assert np.array_equal(_load(name, noise=None).x_train, _load(name, noise=0.2).x_train)


def test_smallest_allowed_size() -> None:
    for name, (n_classes, _, _) in EXPECTED.items():
        ds = _load(name, n_samples=2 * n_classes)
        assert ds.n_train == ds.n_test == n_classes
        assert set(np.unique(ds.y_test)) == set(range(n_classes))


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(SYNTHETIC),
    seed=st.integers(0, 2**32 - 1),
    n_samples=st.integers(6, 120),
    test_fraction=st.floats(0.05, 0.95),
)
def test_split_invariants_hold_for_any_size(
    name: str, seed: int, n_samples: int, test_fraction: float
) -> None:
    ds = _load(name, seed=seed, n_samples=n_samples, test_fraction=test_fraction)
    k = ds.n_classes
    assert ds.n_train + ds.n_test == n_samples
    expected_test = min(max(math.floor(test_fraction * n_samples + 0.5), k), n_samples - k)
    assert ds.n_test == expected_test
    assert set(np.unique(ds.y_train)) == set(np.unique(ds.y_test)) == set(range(k))
    assert np.all(np.isfinite(ds.x_train)) and np.all(np.isfinite(ds.x_test))


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("bad", ["foo", "MOONS", "", 3, None])
def test_unknown_name(bad: object) -> None:
    pattern = r"name_or_path=.*not a known dataset.*moons, circles"
    with pytest.raises(ValueError, match=pattern) as info:
        _load(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [0, 1, 3, -5, 2.5, 100.0, "100", True])
def test_bad_n_samples(bad: object) -> None:
    with pytest.raises(ValueError, match=r"n_samples="):
        _load("moons", n_samples=bad)


def test_n_samples_minimum_depends_on_class_count() -> None:
    with pytest.raises(ValueError, match=r"n_samples=19 .* at least 20"):
        _load("digits", n_samples=19)
    with pytest.raises(ValueError, match=r"n_samples=5 .* at least 6"):
        _load("blobs", n_samples=5)
    _load("moons", n_samples=np.int64(4))  # NumPy integers are accepted


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan"), "0.2", None])
def test_bad_test_fraction(bad: object) -> None:
    with pytest.raises(ValueError, match=r"test_fraction=.*between 0 and 1"):
        _load("moons", test_fraction=bad)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.1"])
def test_bad_noise(bad: object) -> None:
    with pytest.raises(ValueError, match=r"noise="):
        _load("moons", noise=bad)


def test_noise_rejected_for_bundled_sets() -> None:
    with pytest.raises(ValueError, match=r"noise=0.1 .*'iris'"):
        _load("iris", noise=0.1)


def test_rng_must_be_generator() -> None:
    with pytest.raises(TypeError, match=r"rng="):
        load("moons", rng=0)  # type: ignore[arg-type]


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        load("moons", 100, np.random.default_rng(0))  # type: ignore[call-arg, arg-type]


def test_dataset_is_frozen_and_validates_shapes() -> None:
    ds = _load("xor", n_samples=40)
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]
    x, y = np.zeros((4, 2)), np.zeros(4, dtype=np.int64)
    with pytest.raises(ValueError, match="y_train"):
        Dataset(x, y[:3], x, y)
    with pytest.raises(ValueError, match="x_test"):
        Dataset(x, y, np.zeros((4, 3)), y)


def _raw(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """All raw (un-standardized) features and labels: x · scale + mean (documented)."""
    assert ds.feature_mean is not None and ds.feature_scale is not None
    x = np.concatenate([ds.x_train, ds.x_test]) * ds.feature_scale + ds.feature_mean
    return x, np.concatenate([ds.y_train, ds.y_test])


def test_xor_labels_are_the_exclusive_or_of_the_signs() -> None:
    """Without jitter every point sits on a corner (±1, ±1); opposite corners share a
    class, so the label is 1 exactly when the two coordinates differ in sign."""
    x, y = _raw(_load("xor", n_samples=101, noise=0.0))
    np.testing.assert_allclose(np.abs(x), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))


def test_spiral_arms_follow_their_closed_form() -> None:
    """Without jitter a point at radius r of arm y has angle 2π·1.5·r + π·y (mod 2π):
    the two arms are each other's half-turn rotation, interleaved."""
    x, y = _raw(_load("spiral", n_samples=200, noise=0.0))
    r = np.hypot(x[:, 0], x[:, 1])
    keep = r > 1e-6  # the angle of the centre is undefined
    assert np.all(r <= 1.0 + 1e-12)
    phase = np.exp(1j * np.arctan2(x[keep, 1], x[keep, 0]))
    expected = np.exp(1j * (2 * np.pi * 1.5 * r[keep] + np.pi * y[keep]))
    np.testing.assert_allclose(phase, expected, rtol=0, atol=1e-9)
    assert set(np.unique(y)) == {0, 1}


def test_ring_labels_are_radius_quantiles() -> None:
    """Without jitter the classes are split by distance from the centre: every point
    of the inner class 0 lies closer than every point of the outer class 1, and the
    two classes are equally large (the median radius divides them)."""
    x, y = _raw(_load("ring", n_samples=200, noise=0.0))
    r = np.hypot(x[:, 0], x[:, 1])
    assert r[y == 0].max() < r[y == 1].min()
    assert np.sum(y == 0) == np.sum(y == 1) == 100


def test_blob_centres_are_an_equilateral_triangle_of_circumradius_3() -> None:
    """With little jitter each class's mean is its blob centre: three points at
    distance 3 from the origin, pairwise 3·√3 apart (side of the equilateral triangle
    inscribed in a circle of radius 3)."""
    x, y = _raw(_load("blobs", n_samples=300, noise=1e-3))
    centres = np.array([x[y == k].mean(axis=0) for k in range(3)])
    np.testing.assert_allclose(np.hypot(centres[:, 0], centres[:, 1]), 3.0, rtol=0, atol=1e-3)
    sides = [np.linalg.norm(centres[i] - centres[j]) for i, j in ((0, 1), (1, 2), (0, 2))]
    np.testing.assert_allclose(sides, 3.0 * np.sqrt(3.0), rtol=0, atol=1e-3)


def test_split_of_unequal_classes_is_proportional_by_largest_remainder() -> None:
    """Digits' classes differ in size (174 … 183). Class c's ideal test share is
    n_c · n_test / n; the split must give each class its ideal rounded down or up, and
    round up only classes whose fractional part is at least that of every class it
    rounds down (largest remainder), so no allocation is closer to the ideal."""
    ds = _load("digits")
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_test]))
    assert counts.min() != counts.max()  # really unequal
    ideal = counts * ds.n_test / counts.sum()
    got = np.bincount(ds.y_test, minlength=len(counts))
    low = np.floor(ideal)
    assert np.all((got == low) | (got == low + 1))
    frac = ideal - low
    up, down = got == low + 1, got == low
    if up.any() and down.any():
        assert frac[up].min() >= frac[down].max()


@pytest.mark.parametrize("name", ["moons", "digits"])
def test_split_parts_are_in_random_order(name: str) -> None:
    """Both parts are shuffled, not grouped by class: a class-grouped part has at most
    n_classes − 1 label changes; the stratified parts here (moons 50 + 50 and 200 + 200,
    digits 10 × 10 …) are grouped by chance with probability below 1e-28."""
    ds = _load(name, n_samples=500)
    for y in (ds.y_train, ds.y_test):
        assert np.count_nonzero(np.diff(y)) > ds.n_classes - 1
