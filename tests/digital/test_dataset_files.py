"""Tests for users' dataset files in digital.datasets: formats, labels, determinism, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digital import datasets
from digital.datasets import (
    Dataset,
    check_dataset,
    dataset_name,
    is_dataset_file,
    load,
    read_dataset_file,
)


def _arrays(n_per_class: tuple[int, ...] = (12, 8), n_features: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    x = rng.normal(size=(len(y), n_features)) * np.arange(1, n_features + 1) + y[:, None]
    order = rng.permutation(len(y))
    return x[order], y[order]


def _write_csv(path: Path, x: np.ndarray, labels: object, *, header: bool = False) -> Path:
    lines = ["# made by a test", ""]
    if header:
        lines.append(",".join([f"f{j}" for j in range(x.shape[1])] + ["label"]))
    for row, label in zip(x, labels, strict=True):  # type: ignore[call-overload]
        lines.append(",".join([repr(float(v)) for v in row] + [str(label)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _load(path: object, seed: int = 0, **kwargs: object) -> Dataset:
    return load(path, rng=np.random.default_rng(seed), **kwargs)  # type: ignore[arg-type]


def _same(a: Dataset, b: Dataset) -> None:
    for field in ("x_train", "y_train", "x_test", "y_test", "feature_mean", "feature_scale"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), strict=True)
    assert a.class_names == b.class_names


def _raw_rows(ds: Dataset) -> set[tuple[float, ...]]:
    """Every (raw features..., label) row of a Dataset, un-standardized and rounded."""
    assert ds.feature_scale is not None and ds.feature_mean is not None
    rows = set()
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        raw = x * ds.feature_scale + ds.feature_mean
        rows |= {(*np.round(r, 9), int(label)) for r, label in zip(raw, y, strict=True)}
    return rows


# --------------------------------------------------------------------------- formats


def test_npz_and_csv_with_and_without_header_give_the_same_dataset(tmp_path: Path) -> None:
    x, y = _arrays()
    np.savez(tmp_path / "set.npz", x=x, y=y)
    plain = _write_csv(tmp_path / "plain.csv", x, y)
    headed = _write_csv(tmp_path / "headed.csv", x, y, header=True)
    ref = _load(tmp_path / "set.npz", seed=3)
    _same(ref, _load(str(plain), seed=3))
    _same(ref, _load(headed, seed=3))
    assert ref.name == "set" and _load(plain).name == "plain"
    assert ref.class_names is None  # labels 0 .. k-1 are used as they are
    assert ref.n_train + ref.n_test == len(y) and ref.n_features == 3
    expected = {(*np.round(r, 9), int(label)) for r, label in zip(x, y, strict=True)}
    assert _raw_rows(ref) == expected  # every row, each with its own label


def test_train_part_is_standardized_with_its_own_statistics(tmp_path: Path) -> None:
    x, y = _arrays((30, 20), n_features=2)
    np.savez(tmp_path / "s.npz", x=x, y=y)
    ds = _load(tmp_path / "s.npz")
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1.0)
    assert np.abs(ds.x_test.mean(axis=0)).max() > 1e-6  # the test part is not refitted


def test_text_labels_are_numbered_in_sorted_order(tmp_path: Path) -> None:
    x, y = _arrays((6, 5, 4))
    names = np.array(["setosa", "versicolor", "virginica"])
    path = _write_csv(tmp_path / "flowers.csv", x, names[y], header=True)
    ds = _load(path)
    assert ds.class_names == ("setosa", "versicolor", "virginica")
    codes = _load(_write_csv(tmp_path / "codes.csv", x, y))  # the same rows, numbered
    np.testing.assert_array_equal(ds.y_train, codes.y_train)
    np.testing.assert_array_equal(ds.x_train, codes.x_train)
    np.savez(tmp_path / "flowers.npz", x=x, y=names[y])
    assert _load(tmp_path / "flowers.npz").class_names == ds.class_names
    np.savez(tmp_path / "bytes.npz", x=x, y=names[y].astype("S"))
    assert _load(tmp_path / "bytes.npz").class_names == ds.class_names


@pytest.mark.parametrize(
    ("labels", "names"),
    [
        ((1, 2), ("1", "2")),
        ((-1, 1), ("-1", "1")),
        ((0, 2), ("0", "2")),
        ((10.0, 20.0), ("10", "20")),
    ],
)
def test_other_integer_labels_are_mapped_and_named(
    tmp_path: Path, labels: tuple[float, float], names: tuple[str, str]
) -> None:
    x, y = _arrays()
    np.savez(tmp_path / "a.npz", x=x, y=np.asarray(labels)[y])
    np.savez(tmp_path / "b.npz", x=x, y=y)
    ds = _load(tmp_path / "a.npz")
    assert ds.class_names == names
    np.testing.assert_array_equal(ds.y_train, _load(tmp_path / "b.npz").y_train)


def test_subsample_is_stratified_and_keeps_every_class(tmp_path: Path) -> None:
    x, y = _arrays((60, 30, 10))
    np.savez(tmp_path / "s.npz", x=x, y=y)
    full = _load(tmp_path / "s.npz")
    assert full.n_train + full.n_test == 100
    for part in (full.y_train, full.y_test):
        assert set(part.tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(np.bincount(full.y_test), [12, 6, 2])  # 20 % of each
    sub = _load(tmp_path / "s.npz", n_samples=50)
    assert sub.n_train + sub.n_test == 50
    counts = np.bincount(np.concatenate([sub.y_train, sub.y_test]))
    np.testing.assert_array_equal(counts, [30, 15, 5])
    assert _load(tmp_path / "s.npz", n_samples=100).n_train == full.n_train


def test_same_file_and_seed_give_identical_arrays(tmp_path: Path) -> None:
    x, y = _arrays()
    path = _write_csv(tmp_path / "d.csv", x, y)
    _same(_load(path, seed=5, n_samples=15), _load(path, seed=5, n_samples=15))
    other = _load(path, seed=6)
    assert not np.array_equal(other.y_train, _load(path, seed=5).y_train) or not np.array_equal(
        other.x_train, _load(path, seed=5).x_train
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    counts=st.lists(st.integers(2, 9), min_size=2, max_size=4),
    n_features=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_any_valid_file_reads_the_same_in_both_formats(
    tmp_path: Path, counts: list[int], n_features: int, seed: int
) -> None:
    x, y = _arrays(tuple(counts), n_features=n_features, seed=seed)
    np.savez(tmp_path / "h.npz", x=x, y=y)
    ds = _load(tmp_path / "h.npz", seed=seed)
    _same(ds, _load(_write_csv(tmp_path / "h.csv", x, y), seed=seed))
    assert ds.n_train + ds.n_test == len(y)
    for part in (ds.y_train, ds.y_test):  # every class in both parts
        assert set(part.tolist()) == set(range(len(counts)))


def test_is_dataset_file_and_dataset_name() -> None:
    for text in ("my.csv", "my.npz", "data/my", "C:\\data\\x", Path("moons")):
        assert is_dataset_file(text)
    for text in ("moons", "digits", "my.txt"):
        assert not is_dataset_file(text)
    assert dataset_name("data/my-set.csv") == "my-set"
    assert dataset_name("moons") == "moons"


def test_read_dataset_file_reports_its_shape(tmp_path: Path) -> None:
    x, y = _arrays((5, 4, 3), n_features=2)
    np.savez(tmp_path / "r.npz", x=x, y=y)
    data = read_dataset_file(tmp_path / "r.npz")
    assert (data.n_samples, data.n_features, data.n_classes, data.name) == (12, 2, 3, "r")
    with pytest.raises(ValueError):
        data.x[0, 0] = 1.0  # read-only: nobody edits what the checks passed


# --------------------------------------------------------------------------- errors


def _bad_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "holds no rows"),
        ("# only a comment\n", "holds no rows"),
        ("a,b,label\n", "header but no rows"),
        (
            "1,0\n2,1\n3\n",
            "not a rectangular CSV table: the number of columns changed .* on line 3$",
        ),
        ("1\n2\n", "has 1 column; .* at least one feature column"),
        (
            "1,x,0\n2,3,0\n4,5,1\n6,7,1\n",
            "not numbers, the first 'x' on line 1, column 2 \\(feature",
        ),
        ("1,,0\n2,3,0\n4,5,1\n6,7,1\n", "the first '' on line 1, column 2; missing values are"),
        ("1,nan,0\n2,3,0\n4,5,1\n6,7,1\n", "1 NaN or infinite .* on line 1, column 2"),
        ("1,inf,0\n2,3,0\n4,5,1\n6,7,1\n", "NaN or infinite"),
        ("1,2,0.5\n3,4,1\n", "non-integer numeric labels \\(e.g. 0.5\\)"),
        ("1,2,0\n3,4,0\n", "has 1 class \\(every label is '0'\\)"),
        ("1,2,0\n3,4,0\n5,6,1\n", "class '1' with 1 row; every class needs at least 2"),
        ("1,2,a\n3,4,a\n5,6,b\n", "class 'b' with 1 row"),
        # unlabelled rows were a class named '' (review); a trailing comma, one class ''
        ("1,2,0\n3,4,\n5,6,1\n7,8,\n9,9,0\n8,8,1\n", "2 missing label cell.*on line 2"),
        ("1,2,0,\n3,4,1,\n5,6,0,\n", "3 missing label cell.*trailing comma"),
    ],
)
def test_bad_csv_files_are_refused_naming_the_file(tmp_path: Path, text: str, match: str) -> None:
    path = _bad_csv(tmp_path, text)
    with pytest.raises(ValueError, match=match) as info:
        _load(path)
    assert repr(str(path)) in str(info.value)


def test_non_utf8_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("1,2,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"is not UTF-8 text"):
        _load(path)


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"x": np.zeros((4, 2))}, "has no array 'y' \\(it holds: x\\)"),
        ({"features": np.zeros((4, 2))}, "has no array 'x' or 'y' \\(it holds: features\\)"),
        ({"x": np.zeros(4), "y": np.array([0, 0, 1, 1])}, "x of shape \\(4,\\); x must be 2-D"),
        ({"x": np.zeros((4, 2)), "y": np.zeros((4, 1))}, "y of shape \\(4, 1\\); y must be 1-D"),
        ({"x": np.zeros((4, 2)), "y": np.array([0, 1, 1])}, "3 labels for 4 rows"),
        ({"x": np.zeros((0, 2)), "y": np.zeros(0)}, "at least one sample and one feature"),
        ({"x": np.zeros((4, 2), complex), "y": np.array([0, 0, 1, 1])}, "must be real numbers"),
        ({"x": np.array([["a", "b"]] * 4), "y": np.array([0, 0, 1, 1])}, "must be real"),
        (
            {"x": np.array([[0.0, np.nan]] * 4), "y": np.array([0, 0, 1, 1])},
            "4 NaN or infinite feature value",
        ),
        ({"x": np.zeros((4, 2)), "y": np.array([0, 0, 1, 1]) * 1j}, "y of dtype complex"),
        ({"x": np.zeros((4, 2)), "y": np.array([0.0, 0, 1, np.nan])}, "NaN or infinite labels"),
        (
            {"x": np.zeros((4, 2)), "y": np.array([None, 1, 2, 3], dtype=object)},
            "holds Python objects",
        ),
    ],
)
def test_bad_npz_files_are_refused_naming_the_file(
    tmp_path: Path, arrays: dict[str, np.ndarray], match: str
) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match) as info:
        _load(path)
    assert repr(str(path)) in str(info.value)


def test_a_file_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"'.*fake.npz' is not an .npz archive"):
        _load(path)


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'.*nowhere.csv' does not exist"):
        _load(tmp_path / "nowhere.csv")
    (tmp_path / "data.txt").write_text("1,2,0\n")
    with pytest.raises(ValueError, match=r"suffix '.txt'; a dataset file is .npz or .csv"):
        _load(tmp_path / "data.txt")


def test_options_that_do_not_fit_a_file_are_refused(tmp_path: Path) -> None:
    x, y = _arrays((6, 4))
    np.savez(tmp_path / "s.npz", x=x, y=y)
    with pytest.raises(ValueError, match=r"noise=0.1 has no meaning for the dataset file"):
        _load(tmp_path / "s.npz", noise=0.1)
    with pytest.raises(ValueError, match=r"n_samples=11 is more than the 10 rows"):
        _load(tmp_path / "s.npz", n_samples=11)
    with pytest.raises(ValueError, match=r"n_samples=3 is too small .* at least 4"):
        _load(tmp_path / "s.npz", n_samples=3)
    with pytest.raises(ValueError, match=r"test_fraction="):
        _load(tmp_path / "s.npz", test_fraction=1.0)
    with pytest.raises(TypeError, match=r"rng="):
        load(tmp_path / "s.npz", rng=0)  # type: ignore[arg-type]


def test_check_dataset_names_the_field_and_what_was_found(tmp_path: Path) -> None:
    x, y = _arrays((6, 4, 3), n_features=3)
    np.savez(tmp_path / "three.npz", x=x, y=y)
    path = str(tmp_path / "three.npz")
    assert check_dataset(path, "dataset") == path
    assert check_dataset(Path(path), "dataset") == path
    with pytest.raises(ValueError) as info:
        check_dataset(path, "datasets", n_features=2, n_classes=2)
    message = str(info.value)
    assert message.startswith(f"datasets={path!r}: the file has 3 features and 3 classes")
    assert message.endswith("needs 2 features and 2 classes")
    with pytest.raises(ValueError, match=r"^dataset: n_samples=99 is more than the 13 rows"):
        check_dataset(path, "dataset", n_samples=99)
    with pytest.raises(ValueError, match=r"^dataset: noise=0.2 has no meaning"):
        check_dataset(path, "dataset", noise=0.2)
    with pytest.raises(ValueError, match=r"^dataset: dataset file '.*gone.csv' does not exist"):
        check_dataset(str(tmp_path / "gone.csv"), "dataset")
    with pytest.raises(ValueError, match=r"dataset='iris' is not allowed; choose one of: moons"):
        check_dataset("iris", "dataset", allowed=("moons",))


def test_pandas_default_column_names_are_a_header(tmp_path: Path) -> None:
    """pd.DataFrame(np.c_[x, y]).to_csv(f, index=False) writes the header 0,1,2: all
    numbers, so it was read as a data row (the sample (0, 1) of class 2; review)."""
    x, y = _arrays((3, 3, 3), n_features=2)
    plain = _write_csv(tmp_path / "plain.csv", x, y)
    pandas = tmp_path / "pandas.csv"
    pandas.write_text("0,1,2\n" + plain.read_text(encoding="utf-8"), encoding="utf-8")
    assert read_dataset_file(pandas).n_samples == read_dataset_file(plain).n_samples == 9
    _same(_load(pandas), _load(plain))


def test_an_npz_in_a_folder_named_pickle_gets_the_right_message(tmp_path: Path) -> None:
    """A missing-array error was raised inside the block that maps any message with
    "pickle" in it (the path's too) to "holds Python objects" (review)."""
    folder = tmp_path / "pickle_runs"
    folder.mkdir()
    path = folder / "set.npz"
    np.savez(path, X=np.zeros((4, 2)), y=np.array([0, 0, 1, 1]))
    with pytest.raises(ValueError, match=r"has no array 'x' \(it holds: X, y\)"):
        _load(path)


def test_big_integer_labels_stay_apart_and_suffixes_match_in_any_case(tmp_path: Path) -> None:
    """Integer labels went through float64, where 2**53 + 1 is 2**53 (review)."""
    path = tmp_path / "BIG.NPZ"
    with path.open("wb") as file:  # savez would append .npz to a name in capitals
        np.savez(file, x=np.zeros((4, 2)), y=np.array([2**53, 2**53 + 1] * 2))
    assert is_dataset_file("data.CSV") and is_dataset_file("BIG.NPZ")
    assert read_dataset_file(path).class_names == (str(2**53), str(2**53 + 1))


# --------------------------------------------------------------------------- user study


@pytest.mark.parametrize(
    "header",
    [",f0,f1,label", ",0,1,2", "Unnamed: 0,f0,f1,label", '"","f0","f1","label"'],
    ids=["named-columns", "array-columns", "read-and-written-again", "R-write.csv"],
)
def test_the_index_column_pandas_writes_by_default_is_refused(tmp_path: Path, header: str) -> None:
    """df.to_csv(path) writes the row index as a first column with an empty name. It
    was read as a feature, and in a file sorted by class it gives the label away (a
    user study: test accuracy 1.0 on pure noise)."""
    rng = np.random.default_rng(0)
    rows = [f"{i},{a!r},{b!r},{i // 20}" for i, (a, b) in enumerate(rng.normal(size=(40, 2)))]
    path = _bad_csv(tmp_path, header + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(
        ValueError, match=r"first column named .* the row index that pandas"
    ) as info:
        _load(path)
    assert "df.to_csv(path, index=False)" in str(info.value)


def test_the_line_numbers_in_csv_errors_are_the_lines_of_the_file(tmp_path: Path) -> None:
    """Errors counted data rows, which differ from the lines an editor shows once there
    are comments, blank lines or a header (a user study)."""
    text = "# made by hand\n\nf0,f1,label\n1,2,0\n   \n3,x,0\n4,5,1\n6,7,1\n"
    with pytest.raises(ValueError, match=r"the first 'x' on line 6, column 2"):
        _load(_bad_csv(tmp_path, text))
    # a line of white space only is blank, as an empty one (it was a row of one cell)
    fixed = _bad_csv(tmp_path, text.replace("3,x,0", "3,9,0"))
    assert read_dataset_file(fixed).n_samples == 4


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1;2;0\n3;4;1\n", "has 1 column.*separated by ';', but only ','"),
        ("1\t2\t0\n3\t4\t1\n", "has 1 column.*separated by a tab"),
        ("1,5;2,0;0\n3,5;4,0;1\n", "the first '5;2' .* separated by ';'.* decimal point"),
        ("1,NA,0\n2,3,0\n4,5,1\n6,7,1\n", "the first 'NA' on line 1, column 2; missing values"),
        (",,0\n1,2,0\n3,4,1\n5,6,1\n", "the first '' on line 1, column 1; missing values"),
        ("1,2,NA\n1,2,0\n3,4,0\n5,6,1\n7,8,1\n", "1 missing label cell.*'NA' on line 1;"),
        ("1,2,#3\n1,2,0\n3,4,0\n5,6,1\n7,8,1\n", "the first '' on line 1 \\(text after '#' is a"),
        # review: a ';' in a quoted header cell is no sign of a ';'-separated table
        ('f0,f1,"a;b"\n1,z,0\n3,4,0\n5,6,1\n', "first 'z' on line 2, column 2 \\(feature columns"),
        ("1,2,a\n3,4,a\n5,6,NaN\n7,8,b\n9,9,b\n", "1 missing label cell.*'NaN' on line 3;"),
        ("# page one\x0cpage two\n1,x,0\n3,4,0\n5,6,1\n", "the first 'x' on line 2, column 2"),
    ],
    ids=[
        *("semicolons", "tabs", "decimal-commas", "NA-feature", "empty-first-row", "NA-label"),
        *("#", "quoted-semicolon", "NaN-text-label", "form-feed"),
    ],
)
def test_csv_mistakes_a_user_study_made_are_named(tmp_path: Path, text: str, match: str) -> None:
    """A first row with empty feature cells was dropped as a header; an ``NA`` label
    became a class; ';'-separated files and a '#' in a label gave no hint (a user study)."""
    with pytest.raises(ValueError, match=match):
        _load(_bad_csv(tmp_path, text))


def test_numeric_column_names_over_numeric_labels_are_a_header(tmp_path: Path) -> None:
    """A header ``1,2,label`` (numbers as feature names) was a data row of class 'label'."""
    x, y = _arrays((3, 3), n_features=2)
    plain = _write_csv(tmp_path / "plain.csv", x, y)
    named = tmp_path / "named.csv"
    named.write_text("1,2,label\n" + plain.read_text(encoding="utf-8"), encoding="utf-8")
    assert read_dataset_file(named).class_names is None
    _same(_load(named), _load(plain))


@pytest.mark.parametrize(
    "header",
    ["RI,Na,Mg,Type", "NA,EU,region", "x,,label", "None,null,Fe,kind"],
    ids=["glass-sodium", "north-america", "one-unnamed", "mostly-missing-words"],
)
def test_column_names_that_read_as_missing_values_still_make_a_header(
    tmp_path: Path, header: str
) -> None:
    """The glass set's ``RI,Na,Mg,Type`` (Na: sodium) was read as a data row and refused
    for its "missing" value 'Na' (review): one real name and no number make a header."""
    n_features = header.count(",")
    x, y = _arrays((3, 3), n_features=n_features)
    names = np.array(["float", "window"])[y]
    plain = _write_csv(tmp_path / "plain.csv", x, names)
    named = tmp_path / "named.csv"
    named.write_text(header + "\n" + plain.read_text(encoding="utf-8"), encoding="utf-8")
    assert read_dataset_file(named).class_names == ("float", "window")
    _same(_load(named), _load(plain))


def test_a_file_is_parsed_once_per_contents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run read a dataset file four times (config check, manifest, run, step count):
    ~10 s of parsing for a 20 MB .csv (review). Same bytes: the same parse; an edit
    of the same size (same line count, same mtime tick possible) is parsed again."""
    parsed: list[bytes] = []
    parse = datasets._read_csv

    def counting(path: Path, raw: bytes) -> tuple[np.ndarray, np.ndarray, list[int]]:
        parsed.append(raw)
        return parse(path, raw)

    monkeypatch.setattr(datasets, "_read_csv", counting)
    path = _bad_csv(tmp_path, "1,2,a\n3,4,a\n5,6,b\n7,8,b\n")
    first = read_dataset_file(path)
    assert read_dataset_file(path) is first
    assert len(parsed) == 1
    path.write_text("1,2,a\n3,4,a\n5,6,b\n7,9,b\n", encoding="utf-8")
    edited = read_dataset_file(path)
    assert len(parsed) == 2 and edited.x[3, 1] == 9.0 and first.x[3, 1] == 8.0
    with pytest.raises(ValueError, match="read-only"):
        edited.x[0, 0] = 0.0  # shared between callers: nobody may edit it
