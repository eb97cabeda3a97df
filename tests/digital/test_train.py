"""The trainer: accuracy targets, bit-for-bit reproducibility, input checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

from digital.datasets import load
from digital.losses import softmax_cross_entropy
from digital.network import MLP
from digital.optim import SGD, Adam, Momentum
from digital.train import Checkpoint, History, TrainingDiverged, accuracy, grad_norm, train
from sim.ops import Recorder


def _moons_run(seed: int, *, noise: float, epochs: int = 100) -> tuple[MLP, History]:
    rng = np.random.default_rng(seed)
    data = load("moons", n_samples=500, noise=noise, rng=rng)
    net = MLP([2, 16, 16, 2], activation="tanh", rng=rng)
    history = train(
        net,
        data,
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=0.01),
        epochs=epochs,
        batch_size=32,
        rng=rng,
    )
    return net, history


def test_moons_reaches_97_percent() -> None:
    """Moons with noise 0.1 (Bayes accuracy ≈ 99.9 %): ≥ 97 % test accuracy in 100 epochs.

    At the Pai et al. noise level 0.2 the Bayes accuracy itself is only ≈ 97.2 %
    (an RBF-SVM on 20 000 points), so there a 100-point test set sits at 97 % only by
    luck; the next test holds that case to what is reachable.
    """
    _, history = _moons_run(0, noise=0.1)
    assert history.test_accuracy[-1] >= 0.97


def test_moons_noise_02_near_bayes_limit() -> None:
    accs = [_moons_run(seed, noise=0.2, epochs=60)[1].test_accuracy[-1] for seed in range(3)]
    assert np.mean(accs) >= 0.94


def test_digits_reaches_95_percent() -> None:
    rng = np.random.default_rng(0)
    data = load("digits", rng=rng)
    net = MLP([64, 32, 10], activation="tanh", rng=rng)
    history = train(
        net,
        data,
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=0.005),
        epochs=30,
        batch_size=32,
        rng=rng,
    )
    assert history.test_accuracy[-1] >= 0.95
    assert history.loss[-1] < history.loss[0]


def test_same_seed_same_parameters_bit_for_bit() -> None:
    net_a, hist_a = _moons_run(7, noise=0.2, epochs=5)
    net_b, hist_b = _moons_run(7, noise=0.2, epochs=5)
    net_c, _ = _moons_run(8, noise=0.2, epochs=5)
    for key, value in net_a.params().items():
        np.testing.assert_array_equal(value, net_b.params()[key])
        assert not np.array_equal(value, net_c.params()[key])
    assert hist_a.loss == hist_b.loss


def test_history_has_one_entry_per_epoch_and_tidy_rows() -> None:
    _, history = _moons_run(0, noise=0.2, epochs=4)
    for values in (
        history.loss,
        history.test_loss,
        history.train_accuracy,
        history.test_accuracy,
        history.grad_norm,
        history.wall_time_s,
    ):
        assert len(values) == 4
    assert history.epoch == [1, 2, 3, 4]
    assert all(np.diff(history.wall_time_s) >= 0)
    rows = history.rows()
    assert len(rows) == 4 * 6
    assert {"epoch", "metric", "value"} == set(rows[0])


def test_half_squared_error_training_with_momentum() -> None:
    rng = np.random.default_rng(0)
    data = load("xor", n_samples=200, rng=rng)
    net = MLP([2, 8, 2], activation="tanh", rng=rng)
    history = train(
        net,
        data,
        loss="half_squared_error",
        optimizer=Momentum(lr=0.1),
        epochs=60,
        batch_size=16,
        rng=rng,
    )
    assert history.test_accuracy[-1] >= 0.9


def test_recorder_holds_training_work_only() -> None:
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=64, rng=rng)
    net = MLP([2, 4, 2], rng=rng)
    net.recorder = Recorder()
    train(
        net,
        data,
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=0.01),
        epochs=2,
        batch_size=16,
        rng=rng,
    )
    n_batches = 2 * int(np.ceil(data.x_train.shape[0] / 16))
    # 2 layers × (forward, backward) × (the product, the activation or its derivative),
    # then the loss and the update: no evaluation pass
    assert len(net.recorder.ops) == n_batches * (2 * 2 * 2 + 2)
    assert net.recorder is not None


@pytest.mark.parametrize(
    ("optimizer", "flops_per_param"),
    [(SGD(lr=0.1), 2), (Momentum(lr=0.1), 4), (Adam(lr=0.01), 12), (None, None)],
)
def test_each_step_records_its_loss_and_update_where_the_step_does_them(
    optimizer: object, flops_per_param: int | None
) -> None:
    """train recorded the network's passes only, so a recorded run lacked the host's
    loss and optimizer work that compare and energy_latency add by hand. Each step now
    records forward, loss (over the batch, the last one smaller), backward, update (per
    real parameter, a complex weight counting twice); an optimizer of unknown cost
    records no update."""

    class Halving:  # an optimizer train knows nothing about
        lr = 0.1

        def step(self, params: dict, grads: dict) -> dict:
            return {k: v - 0.5 * np.conj(grads[k]) for k, v in params.items()}

    rng = np.random.default_rng(0)
    data = load("moons", n_samples=50, rng=rng)  # 40 training samples: batches 16, 16, 8
    net = MLP([2, 3, 2], activation=["modrelu", "abs"], rng=rng, dtype=complex)
    net.recorder = Recorder()
    opt = Halving() if optimizer is None else optimizer
    train(net, data, loss="softmax_cross_entropy", optimizer=opt, epochs=1, batch_size=16, rng=rng)
    ops = net.recorder.ops
    per_pass = 2 * 2  # 2 layers × (the product, the activation or its derivative)
    per_step = 2 * per_pass + 1 + (optimizer is not None)
    assert len(ops) == 3 * per_step
    n_real = 2 * (3 * 3 + 2 * 4)  # complex W1 (3, 2+1) and W2 (2, 3+1)
    for step, batch in enumerate((16, 16, 8)):
        loss, update = ops[step * per_step + per_pass], ops[step * per_step + per_step - 1]
        assert (loss.kind, loss.direction, loss.layer) == ("digital_compute", "forward", 1)
        assert (loss.n_samples, loss.n_ports, loss.flops) == (batch, 2, 10 * batch * 2)
        if optimizer is None:
            assert update.direction == "backward"  # the last op is the backward pass's
        else:
            assert (update.direction, update.layer) == ("update", 1)
            assert update.flops == flops_per_param * n_real


def test_a_recorded_training_step_costs_what_compare_charges_for_it() -> None:
    """The trainer and compare's step_ops record the same ops for the same step, so a
    recorded training run and the compare scenario's cost of a step agree."""
    from photonic.network import PhotonicNetwork
    from scenarios.compare import step_ops

    data = load("moons", n_samples=20, rng=np.random.default_rng(0))
    n = data.x_train.shape[0]
    nets = [PhotonicNetwork.pai2023(rng=np.random.default_rng(1)) for _ in range(2)]
    nets[0].recorder = Recorder()
    train(
        nets[0],
        data,
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=0.01),
        epochs=1,
        batch_size=n,
        rng=np.random.default_rng(2),
    )
    assert nets[0].recorder.ops == step_ops(nets[1], data.x_train, data.y_train, lr=0.01)


def test_a_batch_larger_than_the_training_set_trains_full_batch() -> None:
    """One step per epoch on the whole set, the same as batch_size = n_train."""
    runs = []
    for size in (10_000, None):
        rng = np.random.default_rng(3)
        data = load("moons", n_samples=64, rng=rng)
        net = MLP([2, 4, 2], rng=rng)
        net.recorder = Recorder()
        history = train(
            net,
            data,
            loss="softmax_cross_entropy",
            optimizer=Adam(lr=0.01),
            epochs=3,
            batch_size=size or data.x_train.shape[0],
            rng=rng,
        )
        # 3 epochs × 1 step × (2 layers × 2 passes × (the product, the activation),
        # the loss, the update)
        assert len(net.recorder.ops) == 3 * (2 * 2 * 2 + 2)
        runs.append((history.loss, net.params()))
    assert runs[0][0] == runs[1][0]
    for key, value in runs[0][1].items():
        np.testing.assert_array_equal(value, runs[1][1][key])


def test_accuracy_helper() -> None:
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1])) == 0.5
    assert accuracy(np.array([[0.7], [0.2]]), np.array([1, 0])) == 1.0


@pytest.mark.parametrize(
    ("outputs", "labels", "match"),
    [
        # argmax takes a NaN for the top class: this was accuracy 1.0
        (np.array([[np.nan, 1.0]]), np.array([0]), "outputs holds 1 NaN"),
        (np.zeros((0, 2)), np.zeros(0, dtype=int), r"outputs has 0 samples"),  # was NaN
        (np.zeros((3, 2)), np.array([0, 1]), r"labels has shape \(2,\); outputs has 3"),
        (np.zeros((2, 2)), np.array([0.0, 1.0]), "labels must be 1-D integer class labels"),
        (None, np.array([0]), r"outputs must be 2-D"),  # was: no attribute 'shape'
    ],
)
def test_accuracy_refuses_what_it_cannot_score(outputs: Any, labels: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        accuracy(outputs, labels)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs=0"),
        ({"batch_size": -1}, "batch_size=-1"),
        ({"loss": "l1"}, "loss='l1'"),
        ({"progress": "yes"}, "progress='yes'"),
    ],
)
def test_bad_arguments_raise(kwargs: dict, match: str) -> None:
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    with pytest.raises(ValueError, match=match):
        _one_epoch(MLP([2, 2], rng=rng), data, rng, **kwargs)


@pytest.mark.parametrize(
    ("which", "bad", "match"),
    [
        ("optimizer", None, r"optimizer=None has no step\(\); expected an optimizer"),
        ("optimizer", "adam", r"optimizer='adam' has no step\(\)"),
        # the class, not an instance: its step() is there, unbound, and failed later
        ("optimizer", Adam, r"optimizer=Adam is a class; expected an optimizer .*, an instance"),
        ("net", MLP, r"net=MLP is a class; expected"),
        ("data", None, r"data=None has no x_train, y_train, x_test, y_test; expected a data"),
        ("net", None, r"net=None has no forward\(\), backward\(\), params\(\), set_params"),
        ("checkpoint", "run.npz", r"checkpoint='run.npz' must be a digital.train.Checkpoint"),
    ],
)
def test_wrong_kinds_of_argument_are_named(which: str, bad: Any, match: str) -> None:
    """They reached an AttributeError deep inside train ('NoneType' object has no
    attribute 'step' / 'x_train')."""
    rng = np.random.default_rng(0)
    args: dict[str, Any] = {
        "net": MLP([2, 2], rng=rng),
        "data": load("moons", n_samples=40, rng=rng),
    }
    if which in args:
        args[which] = bad
        changes = {}
    else:
        changes = {which: bad}
    with pytest.raises(TypeError, match=match):
        _one_epoch(args["net"], args["data"], rng, **changes)


def _one_epoch(net: MLP, data: Any, rng: np.random.Generator, **changes: Any) -> None:
    """One epoch of Adam in batches of 8 on softmax cross-entropy; ``changes`` override."""
    args = {
        "loss": "softmax_cross_entropy",
        "optimizer": Adam(lr=0.01),
        "epochs": 1,
        "batch_size": 8,
        "rng": rng,
        **changes,
    }
    train(net, data, **args)


def test_nan_in_data_raises() -> None:
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    x_bad = data.x_train.copy()
    x_bad[0, 0] = np.nan

    class Bad:
        x_train, y_train, x_test, y_test = x_bad, data.y_train, data.x_test, data.y_test

    with pytest.raises(ValueError, match=r"data.x_train holds 1 NaN"):
        train(
            MLP([2, 2], rng=rng),
            Bad(),
            loss="half_squared_error",
            optimizer=Adam(lr=0.01),
            epochs=1,
            batch_size=8,
            rng=rng,
        )


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_overflow_in_the_gradient_norm_or_the_update_is_divergence(optimizer: str) -> None:
    """Adam at lr=1e60 kept finite losses but recorded an infinite gradient norm."""
    from digital.optim import make_optimizer

    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    net = MLP([2, 8, 2], activation="relu", rng=rng)
    with pytest.raises(TrainingDiverged, match=r"\(base_lr=1e\+60\)"):
        with np.errstate(all="raise"):  # nothing escapes as a warning
            train(
                net,
                data,
                loss="half_squared_error",
                optimizer=make_optimizer(optimizer, lr=1e60),
                epochs=20,
                batch_size=8,
                rng=rng,
                lr_name="base_lr",
            )


def test_divergence_is_reported_not_silent() -> None:
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    net = MLP([2, 4, 2], activation="identity", rng=rng)

    pattern = r"diverged at epoch \d+: .* lower the learning rate \(lr=1e\+06\)"
    with pytest.raises(TrainingDiverged, match=pattern) as caught:
        with np.errstate(all="raise"):  # no overflow escapes the trainer as a warning
            train(
                net,
                data,
                loss="half_squared_error",
                optimizer=SGD(lr=1e6),
                epochs=50,
                batch_size=8,
                rng=rng,
            )
    assert isinstance(caught.value, FloatingPointError)  # the CLI's one-line input error
    history = caught.value.history  # the epochs finished before it diverged
    assert history.epoch == list(range(1, len(history.epoch) + 1))
    assert np.all(np.isfinite(history.loss))


def test_a_failure_before_any_update_does_not_blame_the_learning_rate() -> None:
    """Features of 1e200 overflow on the first forward pass; the message said "lower
    the learning rate (lr=0.001)" though no step had been taken."""
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    big = dataclasses.replace(data, x_train=data.x_train * 1e200)
    net = MLP([2, 4, 2], activation="relu", rng=rng)
    pattern = r"at the first step, before any update: .*largest \|x\| = [0-9.]+e\+200"
    with pytest.raises(TrainingDiverged, match=pattern) as caught:
        train(
            net,
            big,
            loss="softmax_cross_entropy",
            optimizer=Adam(lr=1e-3),
            epochs=1,
            batch_size=8,
            rng=rng,
        )
    assert "learning rate (" not in str(caught.value)
    assert caught.value.history.epoch == []


def test_a_first_update_that_overflows_blames_the_learning_rate() -> None:
    """The first step's update is the learning rate's doing: with lr=1e308 the updated
    weights overflow, and the message said "before any update: look at the training
    features ..., not the learning rate"."""
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    net = MLP([2, 4, 2], activation="identity", rng=rng)
    with pytest.raises(TrainingDiverged, match=r"the updated W\d is not finite") as caught:
        train(
            net,
            data,
            loss="half_squared_error",
            optimizer=SGD(lr=1e308),
            epochs=1,
            batch_size=8,
            rng=rng,
        )
    assert "lower the learning rate (lr=1e+308)" in str(caught.value)
    assert "before any update" not in str(caught.value)


def test_complex_features_are_refused_not_cast() -> None:
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    complex_data = dataclasses.replace(data, x_train=data.x_train + 1j)
    with pytest.raises(TypeError, match=r"data\.x_train must be real; got complex"):
        _one_epoch(MLP([2, 2], rng=rng), complex_data, rng)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (lambda y: y.astype(float), r"data\.y_test must be 1-D integer class labels"),
        (
            lambda y: y + 2,
            r"data\.y_test holds labels in \[2, 3\]; the network's outputs allow 0 … 1",
        ),
        (lambda y: y - 1, r"data\.y_test holds labels in \[-1, 0\]"),
    ],
)
def test_bad_labels_are_refused_before_training(labels: Any, match: str) -> None:
    """Not after a whole epoch, and naming the data's field, not the loss's ``t``."""
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    bad = dataclasses.replace(data, y_test=labels(data.y_test))
    net = MLP([2, 2], rng=rng)
    before = net.params()
    with pytest.raises(ValueError, match=match):
        _one_epoch(net, bad, rng)
    assert all(np.array_equal(before[k], v) for k, v in net.params().items())  # no step


@pytest.mark.parametrize("part", ["train", "test"])
def test_an_empty_split_is_refused_before_training(part: str) -> None:
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    empty = dataclasses.replace(
        data, **{f"x_{part}": np.zeros((0, 2)), f"y_{part}": np.zeros(0, dtype=int)}
    )
    net = MLP([2, 2], rng=rng)
    before = net.params()
    with pytest.raises(ValueError, match=rf"data\.x_{part} holds no samples"):
        _one_epoch(net, empty, rng)
    assert all(np.array_equal(before[k], v) for k, v in net.params().items())  # no step


def test_a_single_output_classifier_trains_on_0_1_labels() -> None:
    """One output reads class 1 above 0.5 (predict_classes): labels 0 and 1 are valid."""

    def binary_cross_entropy(y: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
        p, target = np.clip(y, 1e-9, 1 - 1e-9), np.asarray(t, dtype=float)[:, None]
        loss = -np.mean(target * np.log(p) + (1 - target) * np.log(1 - p))
        return float(loss), (p - target) / (p * (1 - p)) / y.shape[0]

    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    net = MLP([2, 4, 1], activation=["tanh", "sigmoid"], rng=rng)
    history = train(
        net,
        data,
        loss=binary_cross_entropy,
        optimizer=Adam(lr=0.05),
        epochs=3,
        batch_size=8,
        rng=rng,
    )
    assert len(history.test_accuracy) == 3
    with pytest.raises(
        ValueError, match=r"holds labels in \[0, 2\]; the network's outputs allow 0 … 1"
    ):
        _one_epoch(
            net, dataclasses.replace(data, y_test=data.y_test * 2), rng, loss=binary_cross_entropy
        )


@pytest.mark.parametrize("loss", ["half_squared_error", "softmax_cross_entropy"])
def test_a_single_output_classifier_with_the_built_in_losses(loss: str) -> None:
    """half_squared_error trains it on the 0/1 labels; softmax over one logit is refused."""
    rng = np.random.default_rng(1)
    data = load("moons", n_samples=200, rng=rng)
    net = MLP([2, 8, 1], activation=["tanh", "sigmoid"], rng=rng)
    if loss == "softmax_cross_entropy":
        with pytest.raises(ValueError, match="needs ≥ 2 logits"):
            _one_epoch(net, data, rng, loss=loss)
        return
    history = train(
        net, data, loss=loss, optimizer=Adam(lr=0.05), epochs=30, batch_size=16, rng=rng
    )
    assert history.test_accuracy[-1] >= 0.8


class _Frozen:
    """An optimizer that never moves the parameters: each epoch sees the same network.
    (No ``lr``: train() takes any object with ``step``, ``state`` and ``load_state``.)"""

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> dict:
        return params

    def state(self) -> dict[str, Any]:
        return {"t": 0}

    def load_state(self, state: dict[str, Any]) -> None:
        pass


class _Spy(MLP):
    """An MLP that keeps the inputs of every training forward pass."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[np.ndarray] = []

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.batches.append(np.array(x))
        return super().forward(x)


def _frozen_run(net: MLP, data: Any, *, epochs: int, batch_size: int, seed: int) -> History:
    """Softmax cross-entropy training that never moves the parameters (:class:`_Frozen`)."""
    return train(
        net,
        data,
        loss="softmax_cross_entropy",
        optimizer=_Frozen(),  # type: ignore[arg-type]
        epochs=epochs,
        batch_size=batch_size,
        rng=np.random.default_rng(seed),
    )


def test_history_entries_are_the_epoch_means_of_what_training_saw() -> None:
    """On a fixed network: the sample-weighted loss over batches of 4, 4 and 2 (not the
    mean of the three batch losses), mean gradient norm over the batches, and the train
    and test accuracies each of its own set."""
    rng = np.random.default_rng(4)
    data = load("moons", n_samples=13, rng=rng)  # 10 train + 3 test
    net = _Spy([2, 5, 2], activation="tanh", rng=rng)
    history = _frozen_run(net, data, epochs=1, batch_size=4, seed=9)
    assert [len(b) for b in net.batches[:3]] == [4, 4, 2]
    full_loss = softmax_cross_entropy(net.forward(data.x_train), data.y_train)[0]
    assert history.loss == [pytest.approx(full_loss, rel=1e-12)]
    norms = []
    for batch in net.batches[:3]:
        rows = [int(np.flatnonzero((data.x_train == row).all(axis=1))[0]) for row in batch]
        _, dloss = softmax_cross_entropy(net.forward(batch), data.y_train[rows])
        norms.append(grad_norm(net.backward(dloss)))
    assert history.grad_norm == [pytest.approx(np.mean(norms), rel=1e-12)]
    assert history.train_accuracy == [accuracy(net.forward(data.x_train), data.y_train)]
    assert history.test_accuracy == [accuracy(net.forward(data.x_test), data.y_test)]
    assert history.train_accuracy != history.test_accuracy  # the check can tell them apart


def test_each_epoch_visits_the_training_set_in_the_rng_s_fresh_permutation() -> None:
    rng = np.random.default_rng(2)
    data = load("moons", n_samples=25, rng=rng)  # 20 train
    net = _Spy([2, 3, 2], rng=rng)
    _frozen_run(net, data, epochs=2, batch_size=20, seed=5)
    twin = np.random.default_rng(5)
    first, second = twin.permutation(20), twin.permutation(20)
    # Training batches are the 1st and 4th forward passes (each epoch also evaluates
    # on the test and the training set).
    np.testing.assert_array_equal(net.batches[0], data.x_train[first])
    np.testing.assert_array_equal(net.batches[3], data.x_train[second])
    assert not np.array_equal(first, second)


def test_features_that_do_not_fit_the_network_are_named_as_the_data_s() -> None:
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)  # 2 features
    with pytest.raises(ValueError, match=r"data\.x_train must have 3 columns"):
        _one_epoch(MLP([3, 2], rng=rng), data, rng)


def _hooked_run(
    epochs: int,
    make_hook: Callable[[MLP], Any] | None = None,
    recorder: Recorder | None = None,
    checkpoint: Checkpoint | None = None,
) -> tuple[MLP, History]:
    """Adam on 64 moons in batches of 16; ``make_hook(net)`` gives ``on_epoch``."""
    rng = np.random.default_rng(3)
    data = load("moons", n_samples=64, rng=rng)
    net = MLP([2, 4, 2], rng=rng)
    net.recorder = recorder
    history = train(
        net,
        data,
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=0.01),
        epochs=epochs,
        batch_size=16,
        rng=rng,
        checkpoint=checkpoint,
        on_epoch=None if make_hook is None else make_hook(net),
    )
    return net, history


def test_on_epoch_sees_each_epoch_with_that_epoch_s_parameters() -> None:
    seen: list[tuple[list[int], dict[str, np.ndarray]]] = []

    def make_hook(net: MLP) -> Callable[[History], None]:
        def hook(history: History) -> None:
            seen.append((list(history.epoch), {k: v.copy() for k, v in net.params().items()}))

        return hook

    _hooked_run(3, make_hook)
    assert [epochs for epochs, _ in seen] == [[1], [1, 2], [1, 2, 3]]
    for epoch, (_, params) in enumerate(seen, start=1):
        shorter, _ = _hooked_run(epoch)  # trained for exactly that many epochs
        for key, value in shorter.params().items():
            np.testing.assert_array_equal(params[key], value)


def test_on_epoch_stop_ends_the_run_as_if_it_had_fewer_epochs() -> None:
    stopped, _ = _hooked_run(10, lambda net: lambda h: "stop" if h.epoch[-1] == 2 else None)
    two, _ = _hooked_run(2)
    for key, value in two.params().items():
        np.testing.assert_array_equal(stopped.params()[key], value)


def test_passes_run_by_on_epoch_are_not_in_the_trace() -> None:
    plain, hooked = Recorder(), Recorder()
    _hooked_run(2, recorder=plain)

    def make_hook(net: MLP) -> Callable[[History], None]:
        def hook(history: History) -> None:
            assert net.recorder is None
            net.forward(np.zeros((5, 2)))

        return hook

    net, _ = _hooked_run(2, make_hook, recorder=hooked)
    assert len(hooked.ops) == len(plain.ops) > 0
    assert net.recorder is hooked


@pytest.mark.parametrize(
    ("hook", "error", "match"),
    [
        ("stop", TypeError, "on_epoch='stop' must be a function"),
        (lambda h: "halt", ValueError, "on_epoch returned 'halt'"),
        (lambda h: True, ValueError, "on_epoch returned True"),
    ],
)
def test_a_bad_on_epoch_is_named(hook: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        _hooked_run(2, lambda net: hook)


def test_accuracy_of_outputs_without_columns_is_refused_by_name() -> None:
    """accuracy(np.zeros((2, 0)), labels) raised NumPy's bare 'attempt to get argmax of
    an empty sequence', which names no parameter."""
    with pytest.raises(ValueError, match=r"outputs has shape \(2, 0\): no outputs"):
        accuracy(np.zeros((2, 0)), np.array([0, 1]))


def test_train_builds_no_ops_without_a_recorder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loss and update ops are built only when the network has a recorder."""
    import digital.train as train_module

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an op was built with no recorder attached")

    data = load("xor", n_samples=40, rng=np.random.default_rng(0))

    def run() -> History:
        net = MLP([2, 4, 2], activation=["tanh", "identity"], rng=np.random.default_rng(1))
        return train(
            net,
            data,
            loss="softmax_cross_entropy",
            optimizer=Adam(lr=0.01),
            epochs=2,
            batch_size=8,
            rng=np.random.default_rng(2),
            progress="off",
        )

    expected = run()
    monkeypatch.setattr(train_module, "loss_op", refuse)
    monkeypatch.setattr(train_module, "update_op", refuse)
    got = run()
    assert got.loss == expected.loss and got.test_accuracy == expected.test_accuracy


def test_a_run_stopped_by_on_epoch_resumes_as_stopped(tmp_path: Path) -> None:
    """Resuming a checkpoint of a run that on_epoch stopped trains no further (it trained
    one more epoch per resume before): same history, same parameters."""
    path = tmp_path / "stopped.npz"

    def run(existing: Literal["refuse", "resume"]) -> tuple[MLP, History]:
        return _hooked_run(
            10,
            lambda net: lambda h: "stop" if h.epoch[-1] >= 2 else None,
            checkpoint=Checkpoint(path, existing=existing),
        )

    first, history = run("refuse")
    again, resumed = run("resume")
    assert history.epoch == resumed.epoch == [1, 2]
    assert resumed.loss == history.loss
    for key, value in first.params().items():
        np.testing.assert_array_equal(again.params()[key], value)


def test_an_error_in_on_epoch_keeps_the_finished_epochs(tmp_path: Path) -> None:
    """An exception from the hook used to end the run without saving: with few steps
    per checkpoint interval the finished epochs were lost. Now the checkpoint holds
    them, and resuming without the hook ends where an uninterrupted run does."""
    path = tmp_path / "hook-error.npz"

    def fail_at_two(net: MLP) -> Callable[[History], None]:
        def hook(history: History) -> None:
            if history.epoch[-1] == 2:
                raise RuntimeError("the user's metric failed")

        return hook

    every = Checkpoint(path, every_steps=10_000)  # no periodic save within 2 epochs
    with pytest.raises(RuntimeError, match="the user's metric failed"):
        _hooked_run(4, fail_at_two, checkpoint=every)
    assert path.exists()
    trained: list[int] = []
    resumed_net, resumed = _hooked_run(
        4,
        lambda net: lambda h: trained.append(h.epoch[-1]),
        checkpoint=Checkpoint(path, existing="resume"),
    )
    plain_net, plain = _hooked_run(4)
    assert trained == [3, 4]
    assert resumed.epoch == plain.epoch == [1, 2, 3, 4]
    assert resumed.loss == plain.loss
    for key, value in plain_net.params().items():
        np.testing.assert_array_equal(resumed_net.params()[key], value)
