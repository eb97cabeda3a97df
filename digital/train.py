"""The trainer shared by every :class:`~digital.network.Network`.

One epoch: shuffle the training set with the given ``rng``, then for each
minibatch ``forward → loss → backward → optimizer.step → set_params``. After each
epoch the network is evaluated on the full train and test sets; those evaluation
passes are not recorded in ``net.recorder`` (the trace holds training work only).
Then ``on_epoch``, if given, sees the history so far and may stop the run early.
The trainer records its own host work there too, where the step does it: the loss
and its gradient (:func:`sim.ops.loss_op`, charged as softmax cross-entropy's for
every loss) and the optimizer's update (one :func:`sim.ops.update_op` for all
parameters; an optimizer other than ``SGD``, ``Momentum`` or ``Adam`` has no known
cost and is not recorded).

Checkpoints (:class:`Checkpoint`): every ``every_steps`` minibatches, and when the
run is interrupted with Ctrl-C, the whole training state — parameters, optimizer
moments, the position in the current epoch and its shuffled order, the partial
epoch statistics, the history, the states of the shuffling generator and of a
network's ``noise_rng``, and a drifting photonic chip's accumulated drift
(``chip_drift``) — is written atomically to one ``.npz`` file. A run
resumed from it continues bit for bit as if it had never stopped, given the same NumPy,
BLAS and number of BLAS threads (a matrix product split between another number of
threads sums in another order and can move the last bits).
"""

from __future__ import annotations

import copy
import json
import os
import reprlib
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from digital.losses import LOSSES, LossFn, get_loss
from digital.network import Network, not_recording
from digital.optim import SGD, Adam, Momentum, Optimizer
from digital.validation import check_choice, check_generator, check_matrix
from sim.ops import loss_op, n_real_params, update_op

Array = NDArray[Any]
Progress = Literal["auto", "on", "off"]
#: ``train``'s per-epoch hook: the history so far -> ``"stop"`` to end the run, or None.
EpochHook = Callable[["History"], Literal["stop"] | None]


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
        """The record in long form.

        Returns
        -------
        list of dict
            Tidy rows ``{"epoch", "metric", "value"}``, one per epoch and metric.
        """
        columns = asdict(self)
        epochs = columns.pop("epoch")
        return [
            {"epoch": e, "metric": name, "value": values[i]}
            for name, values in columns.items()
            for i, e in enumerate(epochs)
        ]


@dataclass(frozen=True)
class Checkpoint:
    """Where and how often :func:`train` saves its state.

    Parameters
    ----------
    path
        The checkpoint file (``.npz``).
    every_steps
        Save after every this many minibatch steps (and on Ctrl-C, and once more when
        training ends).
    existing
        What to do when ``path`` already exists: ``"refuse"`` (raise, so no
        earlier run is overwritten) or ``"resume"`` (continue from it).
    settings
        More of the run's choices that a resumed run must share, beside the
        trainer's own (JSON values, compared as a resumed run reads them back, so a
        tuple equals the list it was saved as; names the trainer records itself —
        ``loss``, ``batch_size``, ``optimizer``, ``lr``, ``n_train``, ``network.*`` —
        are refused when training starts): e.g. the digest of the
        data file the caller trained on, so that a checkpoint is not continued on
        other data. ``None``: none.
    """

    path: Path
    every_steps: int = 100
    existing: Literal["refuse", "resume"] = "refuse"
    settings: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | os.PathLike):
            raise TypeError(f"path={self.path!r} must be a file path (str or pathlib.Path)")
        object.__setattr__(self, "path", Path(self.path))
        if (
            isinstance(self.every_steps, bool)
            or not isinstance(self.every_steps, int | np.integer)
            or self.every_steps < 1
        ):
            raise ValueError(f"every_steps={self.every_steps!r} must be an int ≥ 1")
        object.__setattr__(self, "every_steps", int(self.every_steps))
        check_choice(self.existing, "existing", ("refuse", "resume"))
        if self.settings is not None:
            if not isinstance(self.settings, Mapping) or not all(
                isinstance(k, str) for k in self.settings
            ):
                raise TypeError(
                    f"settings={self.settings!r} must be a mapping of names to JSON values or None"
                )
            try:  # as a resumed run reads them back: (1, 2) is [1, 2] there
                canonical = json.loads(json.dumps(dict(self.settings), allow_nan=False))
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"settings={reprlib.repr(self.settings)} must hold JSON values "
                    f"(numbers, strings, lists, dicts, None): {exc}"
                ) from None
            object.__setattr__(self, "settings", canonical)


@dataclass
class _Position:
    """Where a training run is: everything a checkpoint must restore besides arrays."""

    epoch: int = 1
    start: int = 0  # index into ``order`` of the next minibatch
    order: NDArray[np.int64] | None = None
    total_loss: float = 0.0
    norms: list[float] = field(default_factory=list)
    steps: int = 0
    elapsed_s: float = 0.0
    stopped: bool = False  # on_epoch returned "stop": a resumed run trains no further


def _generators(net: Network, rng: np.random.Generator) -> dict[str, np.random.Generator]:
    gens = {"train": rng}
    noise = getattr(net, "noise_rng", None)
    if isinstance(noise, np.random.Generator):
        gens["noise"] = noise
    return gens


def save_checkpoint(
    path: Path,
    *,
    net: Network,
    optimizer: Optimizer,
    rng: np.random.Generator,
    history: History,
    position: _Position,
    settings: dict[str, Any] | None = None,
) -> None:
    """Write the training state atomically (temporary file, then rename).

    ``settings`` are the run's choices a resumed run must share (loss, batch size,
    optimizer and learning rate, training-set size, and a network's own
    ``checkpoint_settings()`` as ``network.*`` keys): see :func:`load_checkpoint`.

    Parameters
    ----------
    path
        The checkpoint file (``.npz``); missing parent directories are created. The
        state is first written to ``<name>.tmp.npz`` beside it, then renamed.
    net
        Its ``params()`` are saved; so are the accumulated drift of a network with a
        ``chip_drift()`` method and the state of its ``noise_rng`` generator, if any.
    optimizer
        Its ``state()`` is saved (moments and step count).
    rng
        The generator that shuffles the training set; its state is saved.
    history
        The epochs finished so far.
    position
        Where the run is: epoch, next minibatch, the epoch's shuffled order and
        partial statistics, step count and elapsed seconds.
    settings
        JSON-serialisable run choices to check on resume; ``None`` saves none.

    Raises
    ------
    TypeError
        If ``settings`` (or anything else in the metadata) is not JSON-serialisable.
    OSError
        If the file cannot be written.
    """
    arrays: dict[str, Any] = {f"param/{k}": v for k, v in net.params().items()}
    # a drifting photonic chip's accumulated drift is device state params() lacks
    drift = getattr(net, "chip_drift", None)
    if callable(drift):
        arrays.update({f"drift/{k}": v for k, v in drift().items()})
    opt_state = optimizer.state()
    arrays.update({f"opt/{k}": v for k, v in opt_state.items() if k != "t"})
    if position.order is not None:
        arrays["order"] = position.order
    meta = {
        "position": {
            "epoch": position.epoch,
            "start": position.start,
            "total_loss": position.total_loss,
            "norms": position.norms,
            "steps": position.steps,
            "elapsed_s": position.elapsed_s,
            "stopped": position.stopped,
        },
        "optimizer_t": int(opt_state.get("t", 0)),
        "history": asdict(history),
        "generators": {k: g.bit_generator.state for k, g in _generators(net, rng).items()},
        "settings": settings or {},
    }
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_checkpoint(
    path: Path,
    *,
    net: Network,
    optimizer: Optimizer,
    rng: np.random.Generator,
    settings: dict[str, Any] | None = None,
) -> tuple[History, _Position]:
    """Restore a state written by :func:`save_checkpoint` into ``net``, ``optimizer``, ``rng``.

    Parameters
    ----------
    path
        The checkpoint file (``.npz``).
    net
        Receives the saved parameters through ``set_params`` (and, for a drifting
        photonic chip, the saved drift through ``set_chip_drift``); the state of its
        ``noise_rng`` generator, if it has one, is restored.
    optimizer
        Receives the saved moments and step count through ``load_state``.
    rng
        The generator that shuffles the training set; its state is restored.
    settings
        This run's choices (loss, batch size, optimizer, learning rate, training-set
        size), compared with the saved ones; ``None`` compares nothing.

    Returns
    -------
    history : History
        The epochs finished before the checkpoint was written.
    position : _Position
        Where to continue: epoch, next minibatch, the epoch's shuffled order and
        partial statistics, step count and elapsed seconds.

    Raises
    ------
    ValueError
        If the file cannot be read, or was written with other ``settings`` (a resumed
        run continues the same run, bit for bit; another loss or batch size would mix
        two runs in one history). The message names every setting that differs.
        Only the settings both sides know are compared (none for ``settings=None`` or
        a checkpoint written before settings were saved). Also if the checkpoint holds
        the state of a generator this run lacks (a ``noise_rng`` of another network).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            params = {k[len("param/") :]: data[k] for k in data.files if k.startswith("param/")}
            opt = {k[len("opt/") :]: data[k] for k in data.files if k.startswith("opt/")}
            drift = {k[len("drift/") :]: data[k] for k in data.files if k.startswith("drift/")}
            order = data["order"] if "order" in data.files else None
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"checkpoint {str(path)!r} cannot be read: {exc}") from exc
    saved = meta.get("settings") or {}
    differ = [
        f"{key}={saved[key]!r} there, {value!r} here"
        for key, value in (settings or {}).items()
        if key in saved and saved[key] != value
    ]
    if differ:
        raise ValueError(
            f"checkpoint {str(path)!r} belongs to another run: {'; '.join(differ)}. Resume "
            "with the settings it was written with, or remove it to start over"
        )
    try:  # everything read before anything is changed: a bad file changes nothing
        opt["t"] = meta["optimizer_t"]
        generator_states = dict(meta["generators"])
        history = History(**meta["history"])
        pos = meta["position"]
        position = _Position(
            epoch=pos["epoch"],
            start=pos["start"],
            order=None if order is None else order.astype(np.int64),
            total_loss=pos["total_loss"],
            norms=list(pos["norms"]),
            steps=pos["steps"],
            elapsed_s=pos["elapsed_s"],
            stopped=bool(pos.get("stopped", False)),  # absent in older checkpoints
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be read: its metadata lacks or garbles {exc}"
        ) from exc
    gens = _generators(net, rng)
    for name in generator_states:
        if name not in gens:
            raise ValueError(f"checkpoint {str(path)!r} holds generator {name!r} this run lacks")
    if drift:
        check = getattr(net, "check_chip_drift", None)
        try:
            if not callable(check):
                raise ValueError("this network does not drift")
            check(drift)
        except ValueError as exc:
            raise ValueError(
                f"checkpoint {str(path)!r} holds chip drift this network cannot take: {exc} "
                "(written with another drift_rad_per_step or chip?)"
            ) from exc
    try:  # the optimizer's state is checked on a copy: a refusal changes nothing
        copy.deepcopy(optimizer).load_state(dict(opt))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"checkpoint {str(path)!r} holds optimizer state this optimizer cannot take: {exc}"
        ) from exc
    net.set_params(params)
    optimizer.load_state(opt)
    for name, state in generator_states.items():
        gens[name].bit_generator.state = state
    if drift:  # after set_params, whose own drift step it replaces
        net.set_chip_drift(drift)  # type: ignore[attr-defined]
    return history, position


def _loss_name(loss: str | LossFn) -> str:
    """What a checkpoint records of the loss: a built-in's registry name (whether it was
    given by name or as the function), else ``module.qualname`` of the function (of
    ``func`` for a ``functools.partial``, of the type for other callables)."""
    if isinstance(loss, str):
        return loss
    for name, fn in LOSSES.items():
        if fn is loss:
            return name
    named = getattr(loss, "func", loss)
    if not hasattr(named, "__qualname__"):
        named = type(named)
    return f"{named.__module__}.{named.__qualname__}"


class _InterruptFlag:
    """Turns the first Ctrl-C into a flag checked between steps; a second one aborts."""

    def __init__(self) -> None:
        self.raised = False
        self._previous: Any = None

    def __enter__(self) -> _InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.raised:
            raise KeyboardInterrupt
        self.raised = True


class TrainingDiverged(FloatingPointError):
    """Training produced a non-finite output, loss or gradient.

    Attributes
    ----------
    history
        The epochs finished before it diverged (may be empty).
    """

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


def predict_classes(outputs: Array) -> NDArray[np.int64]:
    """Class predictions from ``(n_samples, n_out)`` outputs: argmax, or > 0.5 for one output.

    The outputs must be finite real numbers (argmax would take a NaN for the top class).

    Parameters
    ----------
    outputs
        Network outputs ``(n_samples, n_out)``, real.

    Returns
    -------
    numpy.ndarray
        Int64 class indices ``(n_samples,)``.
    """
    outputs = check_matrix(outputs, "outputs", values="real", columns="n_outputs")
    if outputs.shape[1] == 0:  # argmax of nothing: a bare NumPy error
        raise ValueError(f"outputs has shape {outputs.shape}: no outputs to predict a class from")
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > 0.5).astype(np.int64)
    return np.argmax(outputs, axis=1).astype(np.int64)


def _check_labels(y: Array, name: str, n_classes: int | None) -> None:
    """Class labels: 1-D integers in ``0 … n_classes−1`` (any ≥ 0 if unknown)."""
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be 1-D integer class labels; got shape {y.shape}, dtype {y.dtype}"
        )
    top = "" if n_classes is None else f" … {n_classes - 1}"
    if y.size and (y.min() < 0 or (n_classes is not None and y.max() >= n_classes)):
        raise ValueError(
            f"{name} holds labels in [{y.min()}, {y.max()}]; the network's outputs allow 0{top}"
        )


def accuracy(outputs: Array, labels: Array) -> float:
    """Fraction of samples whose predicted class equals the integer label.

    ``outputs`` ``(n_samples ≥ 1, n_out)`` finite, ``labels`` ``(n_samples,)`` integers ≥ 0.

    Parameters
    ----------
    outputs
        Network outputs ``(n_samples, n_out)``, finite real numbers; the predicted
        class is the argmax, or ``outputs > 0.5`` for ``n_out = 1`` (see
        :func:`predict_classes`).
    labels
        Integer class labels ``(n_samples,)``, ≥ 0.

    Returns
    -------
    float
        The fraction of correct predictions, in [0, 1].

    Raises
    ------
    TypeError
        If ``outputs`` is complex or not numeric.
    ValueError
        If ``outputs`` is not 2-D or not finite, ``labels`` is not 1-D integers ≥ 0,
        or the two differ in number of samples or hold none.
    """
    predicted = predict_classes(outputs)
    y = np.asarray(labels)
    _check_labels(y, "labels", None)
    if y.shape != predicted.shape or y.size == 0:
        raise ValueError(
            f"labels has shape {y.shape}; outputs has {predicted.size} samples (need the "
            "same number, at least 1)"
        )
    return float(np.mean(predicted == y))


def grad_norm(grads: dict[str, Array]) -> float:
    """Global 2-norm of a gradient dict.

    Parameters
    ----------
    grads
        Gradient arrays keyed by parameter name, real or complex.

    Returns
    -------
    float
        ``√(Σ |g|²)`` over every entry of every array.
    """
    return float(np.sqrt(sum(float(np.sum(np.abs(g) ** 2)) for g in grads.values())))


def _asks_to_stop(on_epoch: EpochHook, net: Network, history: History) -> bool:
    """Call ``on_epoch`` with the recorder detached; True if it returned ``"stop"``."""
    with not_recording(net):
        answer = on_epoch(history)
    if answer is None or (isinstance(answer, str) and answer == "stop"):
        return answer == "stop"
    raise ValueError(
        f'on_epoch returned {reprlib.repr(answer)}; it must return "stop" (end the '
        "run after this epoch) or None (go on)"
    )


def _evaluate(net: Network, x: Array, y: Array, loss_fn: LossFn) -> tuple[float, float]:
    with not_recording(net):  # the trace holds training work only
        out = net.forward(x)
    return loss_fn(out, y)[0], accuracy(out, y)


def _require(value: Any, name: str, attributes: tuple[str, ...], expected: str) -> None:
    """Raise ``TypeError`` naming ``name`` unless ``value`` has every one of ``attributes``
    (callable ones where they end in ``()``), e.g. ``optimizer=None`` for ``("step()",)``.
    A class is refused too: its methods are there, but unbound (``optimizer=Adam``)."""
    if isinstance(value, type):
        raise TypeError(f"{name}={value.__name__} is a class; expected {expected}, an instance")
    missing = [
        a
        for a in attributes
        if not (callable(getattr(value, a[:-2], None)) if a.endswith("()") else hasattr(value, a))
    ]
    if missing:
        raise TypeError(
            f"{name}={reprlib.repr(value)} has no {', '.join(missing)}; expected {expected}"
        )


#: The :data:`sim.ops.UPDATE_COSTS` key of each built-in optimizer (exact type: a
#: subclass may update otherwise, and its cost is not known).
UPDATE_RULES: dict[type, Literal["sgd", "momentum", "adam"]] = {
    SGD: "sgd",
    Momentum: "momentum",
    Adam: "adam",
}


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
    checkpoint: Checkpoint | None = None,
    lr_name: str = "lr",
    on_epoch: EpochHook | None = None,
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
        Minibatch size, ≥ 1 (the last batch of an epoch may be smaller; a size of at
        least the training set's trains full-batch, one step per epoch).
    rng
        Shuffles the training set each epoch. Same rng state ⇒ same run, bit for bit.
    progress
        ``"auto"``: a progress bar only on a terminal; ``"on"``; ``"off"``.
    checkpoint
        Save the training state periodically and on Ctrl-C (then re-raise
        ``KeyboardInterrupt``); with ``existing="resume"`` continue from the file.
    lr_name
        What the caller calls the learning rate (e.g. a scenario setting such as
        ``"mlp_lr"``), named when training diverges.
    on_epoch
        Called after every epoch's evaluation with the :class:`History` so far (its
        last entries are that epoch's), while ``net`` holds that epoch's parameters:
        to log a metric of your own, save a snapshot, or stop early. Return
        ``"stop"`` to end training after this epoch, else ``None``. ``net.recorder``
        is detached during the call, so its passes are not in the trace; on a noisy
        chip they still draw from the network's noise generator, like the
        evaluation does. Epochs that a resumed checkpoint had finished are not
        passed again; a run stopped early says so in its checkpoint, and resuming it
        trains no further (it returns the history, as an uninterrupted run would).
        If it raises, the checkpoint is saved (with that epoch) before the error
        propagates, so resuming continues from the next epoch.

    Returns
    -------
    History
    """
    _require(
        net,
        "net",
        ("forward()", "backward()", "params()", "set_params()"),
        "a Network such as digital.network.MLP",
    )
    _require(
        data,
        "data",
        ("x_train", "y_train", "x_test", "y_test"),
        "a data set such as digital.datasets.load(...)",
    )
    _require(optimizer, "optimizer", ("step()",), "an optimizer such as digital.optim.SGD(lr=0.1)")
    if on_epoch is not None and not callable(on_epoch):
        raise TypeError(
            f"on_epoch={reprlib.repr(on_epoch)} must be a function of the History "
            'returning "stop" or None, or None'
        )
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        raise TypeError(
            f"checkpoint={reprlib.repr(checkpoint)} must be a digital.train.Checkpoint or None"
        )
    loss_fn = get_loss(loss)
    check_choice(progress, "progress", ("auto", "on", "off"))
    check_generator(rng)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} must be an int ≥ 1")
    n_in = getattr(net, "n_features", None)  # the network's inputs, if it says
    x_train = check_matrix(data.x_train, "data.x_train", n_cols=n_in, values="real")
    x_test = check_matrix(data.x_test, "data.x_test", n_cols=x_train.shape[1], values="real")
    for name, x in (("data.x_train", x_train), ("data.x_test", x_test)):
        if x.shape[0] == 0:  # now, not after the first epoch
            raise ValueError(
                f"{name} holds no samples; train needs ≥ 1 to train on and ≥ 1 to "
                "evaluate every epoch"
            )
    y_train, y_test = np.asarray(data.y_train), np.asarray(data.y_test)
    if y_train.shape[0] != x_train.shape[0] or y_test.shape[0] != x_test.shape[0]:
        raise ValueError("data labels and inputs differ in number of samples")
    n_classes = getattr(net, "n_outputs", None)
    if n_classes == 1:  # one output: class 1 when it is above 0.5 (predict_classes)
        n_classes = 2
    for name, y in (("data.y_train", y_train), ("data.y_test", y_test)):
        _check_labels(y, name, n_classes)  # now, not after the first epoch

    history, pos = History(), _Position()
    lr = getattr(optimizer, "lr", None)  # any object with step() is an optimizer
    settings = {
        "loss": _loss_name(loss),
        "batch_size": int(batch_size),
        "optimizer": type(optimizer).__name__,
        "lr": None if lr is None else float(lr),
        "n_train": int(x_train.shape[0]),
    }
    describe = getattr(net, "checkpoint_settings", None)  # e.g. a photonic chip's settings
    if callable(describe):
        settings.update({f"network.{k}": v for k, v in describe().items()})
    if checkpoint is not None and checkpoint.settings:
        clash = sorted(set(checkpoint.settings) & set(settings))
        if clash:
            raise ValueError(
                f"checkpoint.settings names {', '.join(clash)}, which train() records "
                "itself; give your settings other names"
            )
        settings.update(checkpoint.settings)
    if checkpoint is not None and checkpoint.path.exists():
        if checkpoint.existing == "refuse":
            raise ValueError(
                f"checkpoint {str(checkpoint.path)!r} already exists; resume it "
                "(existing='resume', CLI --resume) or remove it"
            )
        history, pos = load_checkpoint(
            checkpoint.path, net=net, optimizer=optimizer, rng=rng, settings=settings
        )

    def save() -> None:
        if checkpoint is not None:
            pos.elapsed_s = elapsed()
            save_checkpoint(
                checkpoint.path,
                net=net,
                optimizer=optimizer,
                rng=rng,
                history=history,
                position=pos,
                settings=settings,
            )

    n = x_train.shape[0]
    start = time.perf_counter() - pos.elapsed_s

    def elapsed() -> float:
        return time.perf_counter() - start

    def diverged(
        epoch: int,
        what: str,
        value: Array | float,
        *,
        made_by: Literal["the_inputs", "the_update"] = "the_inputs",
    ) -> None:
        """Raise if ``value`` is not finite. ``made_by="the_update"``: ``value`` comes out
        of an optimizer step, which the learning rate drives (even the first one)."""
        if np.isfinite(value).all():
            return
        if pos.steps == 0 and made_by == "the_inputs":
            # the parameters are the caller's: no learning rate did this
            largest = float(np.max(np.abs(x_train))) if x_train.size else 0.0
            raise TrainingDiverged(
                f"{what} is not finite at the first step, before any update: look at the "
                f"training features (largest |x| = {largest:.3g}), the initial parameters "
                "and the loss, not the learning rate",
                history,
            )
        raise TrainingDiverged(
            f"training diverged at epoch {epoch}: {what} is not finite; lower the "
            "learning rate" + (f" ({lr_name}={lr:g})" if lr is not None else ""),
            history,
        )

    last = getattr(net, "n_layers", 1) - 1  # the layer host work is filed under
    rule = UPDATE_RULES.get(type(optimizer))

    def recorder() -> Any:
        """The network's recorder, looked up each step as the net does (None: no op is
        built)."""
        return getattr(net, "recorder", None)

    disable = {"auto": None, "on": False, "off": True}[progress]
    bar = tqdm(
        range(pos.epoch, epochs + 1) if not pos.stopped else range(0),
        desc="train",
        unit="epoch",
        disable=disable,
        leave=False,
    )
    with _InterruptFlag() as interrupt:
        for epoch in bar:
            pos.epoch = epoch
            if pos.order is None:
                pos.order = rng.permutation(n)
                pos.start, pos.total_loss, pos.norms = 0, 0.0, []
            while pos.start < n:
                idx = pos.order[pos.start : pos.start + batch_size]
                with np.errstate(over="ignore", invalid="ignore"):  # each checked below
                    out = net.forward(x_train[idx])
                    diverged(epoch, "the network output", out)
                    batch_loss, dloss = loss_fn(out, y_train[idx])
                    diverged(epoch, "the loss", batch_loss)
                    if (rec := recorder()) is not None:
                        rec.record(loss_op(last, n_samples=out.shape[0], n_outputs=out.shape[1]))
                    grads = net.backward(dloss)
                    for name, grad in grads.items():
                        diverged(epoch, f"the gradient of {name}", grad)
                    norm = grad_norm(grads)
                    diverged(epoch, "the gradient norm", norm)
                    params = net.params()
                    new = optimizer.step(params, grads)
                    if rule is not None and (rec := recorder()) is not None:
                        n_params = n_real_params(params)
                        rec.record(update_op(last, n_params=n_params, n_ports=1, rule=rule))
                    for name, updated in new.items():
                        diverged(epoch, f"the updated {name}", updated, made_by="the_update")
                net.set_params(new)
                pos.total_loss += batch_loss * len(idx)
                pos.norms.append(norm)
                pos.start += batch_size
                pos.steps += 1
                if checkpoint is not None and pos.steps % checkpoint.every_steps == 0:
                    save()
                if interrupt.raised:
                    save()
                    raise KeyboardInterrupt
            with np.errstate(over="ignore", invalid="ignore"):
                test_loss, test_acc = _evaluate(net, x_test, y_test, loss_fn)
                diverged(epoch, "the test loss", test_loss)
                _, train_acc = _evaluate(net, x_train, y_train, loss_fn)
            history.epoch.append(epoch)
            history.loss.append(pos.total_loss / n)
            history.test_loss.append(test_loss)
            history.train_accuracy.append(train_acc)
            history.test_accuracy.append(test_acc)
            history.grad_norm.append(float(np.mean(pos.norms)))
            history.wall_time_s.append(elapsed())
            pos.order = None
            pos.epoch = epoch + 1
            bar.set_postfix(loss=f"{history.loss[-1]:.4f}", test_acc=f"{test_acc:.3f}")
            if on_epoch is not None:
                try:
                    stop = _asks_to_stop(on_epoch, net, history)
                except BaseException:
                    save()  # the epoch is finished: an error in the hook must not lose it
                    raise
                if stop:
                    pos.stopped = True
                    break
    save()
    bar.close()
    return history
