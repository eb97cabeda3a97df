"""Losses: values by hand, gradients by finite differences, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from digital.losses import (
    LOSSES,
    get_loss,
    half_squared_error,
    softmax,
    softmax_cross_entropy,
)


def test_half_squared_error_by_hand() -> None:
    y = np.array([[1.0, 2.0], [0.0, 0.0]])
    t = np.array([[0.0, 0.0], [1.0, 1.0]])
    loss, grad = half_squared_error(y, t)
    assert loss == pytest.approx(0.5 * (1 + 4 + 1 + 1) / 2)
    np.testing.assert_allclose(grad, (y - t) / 2)


def test_labels_are_taken_one_hot() -> None:
    y = np.array([[0.2, 0.9], [0.7, 0.1]])
    assert half_squared_error(y, np.array([1, 0]))[0] == pytest.approx(
        half_squared_error(y, np.array([[0.0, 1.0], [1.0, 0.0]]))[0]
    )


def test_softmax_cross_entropy_by_hand() -> None:
    y = np.array([[0.0, np.log(3.0)]])  # softmax = (1/4, 3/4)
    loss, grad = softmax_cross_entropy(y, np.array([1]))
    assert loss == pytest.approx(-np.log(0.75))
    np.testing.assert_allclose(grad, [[0.25, -0.25]])


def test_softmax_cross_entropy_is_stable_for_huge_logits() -> None:
    loss, grad = softmax_cross_entropy(np.array([[1000.0, -1000.0]]), np.array([0]))
    assert np.isfinite(loss) and loss == pytest.approx(0.0)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize(
    ("name", "targets"),
    [
        *((name, "labels") for name in LOSSES),
        ("half_squared_error", "real"),
        ("softmax_cross_entropy", "probabilities"),
        # Rows summing to w ≠ 1 (sample weights): the gradient is p·w − t, not p − t.
        ("softmax_cross_entropy", "weights"),
    ],
)
def test_gradient_matches_finite_differences(name: str, targets: str) -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(4, 3))
    t = {
        "labels": rng.integers(0, 3, size=4),
        "real": rng.normal(size=(4, 3)),
        "probabilities": rng.dirichlet(np.ones(3), size=4),
        "weights": rng.uniform(0.0, 2.0, size=(4, 3)),
    }[targets]
    loss_fn = get_loss(name)
    _, grad = loss_fn(y, t)
    h = 1e-6
    numeric = np.zeros_like(y)
    for idx in np.ndindex(y.shape):
        up, down = y.copy(), y.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (loss_fn(up, t)[0] - loss_fn(down, t)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize(
    ("y", "t", "match"),
    [
        (np.ones((2, 2)), np.array([0, 2]), r"labels in \[0, 2\]"),
        (np.ones((2, 2)), np.array([0]), "1 labels"),
        (np.ones((2, 2)), np.ones((2, 3)), "shape"),
        (np.array([[np.nan, 1.0]]), np.array([0]), "NaN"),
        (np.ones(3), np.array([0, 1, 0]), "2-D"),
    ],
)
def test_bad_inputs_raise_naming_the_problem(y: np.ndarray, t: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        half_squared_error(y, t)


def test_unknown_loss_lists_allowed() -> None:
    with pytest.raises(ValueError, match=r"loss=.l1.*half_squared_error"):
        get_loss("l1")


def test_losses_refuse_complex_outputs_and_empty_batches() -> None:
    for loss in (softmax_cross_entropy, half_squared_error):
        with pytest.raises(TypeError, match="y must be real; got complex"):
            loss(np.zeros((2, 2)) + 1j, np.array([0, 1]))
        with pytest.raises(ValueError, match="y holds no samples"):
            loss(np.zeros((0, 2)), np.zeros(0, dtype=int))


def test_one_output_takes_0_1_labels_as_its_target() -> None:
    """A one-output network reads class 1 above 0.5; its labels are the output's target."""
    y = np.array([[0.2], [0.9], [0.4]])
    loss, grad = half_squared_error(y, np.array([0, 1, 1]))
    assert loss == pytest.approx(0.5 * (0.04 + 0.01 + 0.36) / 3)
    np.testing.assert_allclose(grad, [[0.2 / 3], [-0.1 / 3], [-0.6 / 3]])
    with pytest.raises(ValueError, match=r"labels in \[0, 2\]; allowed 0 … 1"):
        half_squared_error(y, np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="needs ≥ 2 logits per sample; y has 1 column"):
        softmax_cross_entropy(y, np.array([0, 1, 1]))


def test_one_output_takes_real_targets_as_a_vector() -> None:
    """Regression with one output: ``t`` of shape ``(n_samples,)`` real is the target of
    that output, as ``(n_samples, 1)`` is; with more outputs a vector must be labels."""
    y = np.array([[0.2], [0.9], [0.4]])
    t = np.array([1.5, -0.1, 0.4])
    loss, grad = half_squared_error(y, t)
    assert loss == pytest.approx(0.5 * (1.69 + 1.0 + 0.0) / 3)
    np.testing.assert_array_equal(grad, half_squared_error(y, t[:, None])[1])
    with pytest.raises(ValueError, match="t holds 1 NaN"):
        half_squared_error(y, np.array([1.0, np.nan, 0.0]))
    with pytest.raises(TypeError, match="t as labels must be integers; got dtype float64"):
        half_squared_error(np.ones((3, 2)), t)
    with pytest.raises(ValueError, match=r"allowed 0 … 1 \(one output: pass real targets as"):
        half_squared_error(y, np.array([3, 5, 0]))  # integers are labels


def test_softmax_cross_entropy_refuses_negative_targets() -> None:
    with pytest.raises(ValueError, match=r"t holds a negative target \(-0.5\)"):
        softmax_cross_entropy(np.zeros((1, 2)), np.array([[1.5, -0.5]]))


def test_softmax_by_hand_and_for_huge_logits() -> None:
    """Row-wise softmax e^{y_k} / Σ_j e^{y_j}: by hand on small logits (rows of different
    scale, so a max taken over the wrong axis shows), and shift-invariant per row, so
    logits of 1e4 (e^{1e4} overflows) give the same as those logits minus 1e4."""
    y = np.array([[0.0, np.log(3.0)], [2.0, -5.0], [1.0, 1.0]])
    expected = np.exp(y) / np.exp(y).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax(y), expected, rtol=1e-14)
    np.testing.assert_allclose(softmax(y)[0], [0.25, 0.75], rtol=1e-14)
    with np.errstate(over="raise", invalid="raise", under="ignore"):
        huge = softmax(y + 1e4)
    np.testing.assert_allclose(huge, expected, rtol=1e-10)
    np.testing.assert_allclose(huge.sum(axis=1), 1.0, rtol=1e-14)


def test_softmax_cross_entropy_rows_of_very_different_scale() -> None:
    """The log-sum-exp shift must be per row: one row of logits near 1000 and one near 0
    in the same batch. Shifting both by the batch-wide max (1001) would underflow the
    second row's exponentials to 0 and give log 0 = −inf. Each row's loss is
    log(1 + e^{−1}) (the label is the larger logit), so the mean is that too, and the
    gradient is (softmax − onehot)/2 with softmax = (1/(1+e), e/(1+e)) in both rows."""
    y = np.array([[1000.0, 1001.0], [0.0, 1.0]])
    t = np.array([1, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss, grad = softmax_cross_entropy(y, t)
    assert loss == pytest.approx(np.log1p(np.exp(-1.0)), rel=1e-12)
    e = np.e
    row = np.array([1.0 / (1.0 + e), e / (1.0 + e) - 1.0]) / 2
    np.testing.assert_allclose(grad, [row, row], rtol=1e-12)


@pytest.mark.parametrize("loss", [half_squared_error, softmax_cross_entropy])
@pytest.mark.parametrize("t", [np.array([0, 1]), np.zeros((2, 0))])
def test_outputs_without_columns_are_refused_by_name(loss: object, t: np.ndarray) -> None:
    """y of shape (2, 0) with labels raised a bare IndexError from the one-hot encoding
    (and with (2, 0) targets half_squared_error returned a loss of 0.0)."""
    with pytest.raises(ValueError, match=r"y has shape \(2, 0\): no outputs"):
        loss(np.zeros((2, 0)), t)  # type: ignore[operator]
