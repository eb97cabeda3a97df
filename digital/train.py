"""The trainer shared by every :class:`~digital.network.Network`.

One epoch: shuffle the training set with the given ``rng``, then for each
minibatch ``forward → loss → backward → optimizer.step → set_params``. After each
epoch the network is evaluated on the full train and test sets; those evaluation
passes are not recorded in ``net.recorder`` (the trace holds training work only).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from digital.losses import LossFn, get_loss
from digital.network import Network
from digital.optim import Optimizer
from digital.validation import check_choice, check_matrix

Array = NDArray[Any]
Progress = Literal["auto", "on", "off"]


class Data(Protocol):
    """What :func:`train` needs of a data set (e.g. :class:`digital.datasets.Dataset`)."""

    @property
    def x_train(self) -> Array: ...
    @property
    def y_train(self) -> Array: ...
    @property
    def x_test(self) -> Array: ...
    @property
    def y_test(self) -> Array: ...


@dataclass
class History:
    """Per-epoch record of a training run; every list has one entry per epoch.

    Attributes
    ----------
    epoch
        1-based epoch numbers.
    loss
        Mean training loss over the epoch's minibatches (sample-weighted).
    test_loss
        Loss on the full test set after the epoch.
    train_accuracy, test_accuracy
        Fraction of correctly classified samples after the epoch, in [0, 1].
    grad_norm
        Mean over the epoch's minibatches of the global gradient 2-norm.
    wall_time_s
        Seconds since training started, at the end of each epoch.
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    wall_time_s: list[float] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows ``{"epoch", "metric", "value"}``, one per epoch and metric."""
        columns = asdict(self)
        epochs = columns.pop("epoch")
        return [
            {"epoch": e, "metric": name, "value": values[i]}
            for name, values in columns.items()
            for i, e in enumerate(epochs)
        ]


def predict_classes(outputs: Array) -> NDArray[np.int64]:
    """Class predictions from ``(n_samples, n_out)`` outputs: argmax, or > 0.5 for one output."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > 0.5).astype(np.int64)
    return np.argmax(outputs, axis=1).astype(np.int64)


def accuracy(outputs: Array, labels: Array) -> float:
    """Fraction of samples whose predicted class equals the integer label."""
    return float(np.mean(predict_classes(outputs) == np.asarray(labels)))


def grad_norm(grads: dict[str, Array]) -> float:
    """Global 2-norm of a gradient dict."""
    return float(np.sqrt(sum(float(np.sum(np.abs(g) ** 2)) for g in grads.values())))


def _evaluate(net: Network, x: Array, y: Array, loss_fn: LossFn) -> tuple[float, float]:
    recorder = getattr(net, "recorder", None)
    if recorder is not None:
        net.recorder = None  # type: ignore[attr-defined]
    try:
        out = net.forward(x)
    finally:
        if recorder is not None:
            net.recorder = recorder  # type: ignore[attr-defined]
    return loss_fn(out, y)[0], accuracy(out, y)


def train(
    net: Network,
    data: Data,
    *,
    loss: str | LossFn,
    optimizer: Optimizer,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    progress: Progress = "auto",
) -> History:
    """Train ``net`` on ``data`` by minibatch gradient descent.

    Parameters
    ----------
    net
        Any :class:`~digital.network.Network`; updated in place via ``set_params``.
    data
        Has ``x_train (n_train, n_in)``, ``y_train (n_train,)`` integer labels,
        ``x_test``, ``y_test``.
    loss
        A loss name (``"softmax_cross_entropy"``, ``"half_squared_error"``) or a
        callable ``(y, t) -> (loss, dloss_dy)``.
    optimizer
        Any object with ``step(params, grads) -> params``.
    epochs
        Number of passes over the training set, ≥ 1.
    batch_size
        Minibatch size, ≥ 1 (the last batch of an epoch may be smaller).
    rng
        Shuffles the training set each epoch. Same rng state ⇒ same run, bit for bit.
    progress
        ``"auto"``: a progress bar only on a terminal; ``"on"``; ``"off"``.

    Returns
    -------
    History
    """
    loss_fn = get_loss(loss)
    check_choice(progress, "progress", ("auto", "on", "off"))
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} must be an int ≥ 1")
    x_train = check_matrix(data.x_train, "data.x_train")
    x_test = check_matrix(data.x_test, "data.x_test", n_cols=x_train.shape[1])
    y_train, y_test = np.asarray(data.y_train), np.asarray(data.y_test)
    if y_train.shape[0] != x_train.shape[0] or y_test.shape[0] != x_test.shape[0]:
        raise ValueError("data labels and inputs differ in number of samples")

    history = History()
    n = x_train.shape[0]
    start = time.perf_counter()
    disable = {"auto": None, "on": False, "off": True}[progress]
    bar = tqdm(range(1, epochs + 1), desc="train", unit="epoch", disable=disable, leave=False)
    for epoch in bar:
        order = rng.permutation(n)
        total_loss = 0.0
        norms = []
        for lo in range(0, n, batch_size):
            idx = order[lo : lo + batch_size]
            out = net.forward(x_train[idx])
            batch_loss, dloss = loss_fn(out, y_train[idx])
            if not np.isfinite(batch_loss):
                raise FloatingPointError(
                    f"training diverged at epoch {epoch}: loss is {batch_loss}; "
                    "lower the learning rate"
                )
            grads = net.backward(dloss)
            net.set_params(optimizer.step(net.params(), grads))
            total_loss += batch_loss * len(idx)
            norms.append(grad_norm(grads))
        test_loss, test_acc = _evaluate(net, x_test, y_test, loss_fn)
        _, train_acc = _evaluate(net, x_train, y_train, loss_fn)
        history.epoch.append(epoch)
        history.loss.append(total_loss / n)
        history.test_loss.append(test_loss)
        history.train_accuracy.append(train_acc)
        history.test_accuracy.append(test_acc)
        history.grad_norm.append(float(np.mean(norms)))
        history.wall_time_s.append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{history.loss[-1]:.4f}", test_acc=f"{test_acc:.3f}")
    bar.close()
    return history
