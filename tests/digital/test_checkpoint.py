"""Checkpoints: an interrupted run resumed from its checkpoint ends bit for bit identical."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digital.datasets import load
from digital.losses import softmax_cross_entropy
from digital.network import MLP, Network
from digital.optim import Adam, Momentum
from digital.train import Checkpoint, History, train
from photonic.imperfections import Chip
from photonic.mesh import Mesh
from photonic.network import PhotonicNetwork


def build(kind: str, seed: int) -> tuple[Network, object]:
    """A fresh network and optimizer, as a new process would build them."""
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        return MLP([2, 8, 2], rng=rng), Adam(lr=0.01)
    # noisy: noise_rng matters; drifting: so does the drift the chip has accumulated
    drift = 0.01 if kind == "photonic_drift" else 0.0
    chip = Chip.draw(Mesh.reck(4), np.random.default_rng(seed + 1), drift_rad_per_step=drift)
    net = PhotonicNetwork.pai2023(chip, rng=rng, noise_rng=np.random.default_rng(seed + 2))
    return net, Momentum(lr=0.05)


class Interrupting:
    """Wraps a network and sends SIGINT to this process during one forward pass."""

    def __init__(self, net: Network, at_call: int) -> None:
        self.net, self.at_call, self.calls = net, at_call, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.net, name)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls == self.at_call:
            os.kill(os.getpid(), signal.SIGINT)
        return self.net.forward(x)

    def backward(self, g: np.ndarray) -> dict[str, np.ndarray]:
        return self.net.backward(g)

    def params(self) -> dict[str, np.ndarray]:
        return self.net.params()

    def set_params(self, p: dict[str, np.ndarray]) -> None:
        self.net.set_params(p)


# run(): 96 training samples in minibatches of 16 → 6 steps per epoch, 4 epochs; every
# epoch also calls forward twice more (test and training accuracy).
STEPS_PER_EPOCH, EPOCHS, EVALS_PER_EPOCH = 6, 4, 2


def run(
    kind: str, checkpoint: Checkpoint | None, *, interrupt_at: int = 0
) -> tuple[Network, History]:
    net, history, _ = run_counting(kind, checkpoint, interrupt_at=interrupt_at)
    return net, history


def run_counting(
    kind: str, checkpoint: Checkpoint | None, *, interrupt_at: int = 0
) -> tuple[Network, History, int]:
    """:func:`run`, and how many forward passes this call made."""
    data = load("moons", n_samples=120, rng=np.random.default_rng(0))
    net, opt = build(kind, 3)
    target = Interrupting(net, interrupt_at)
    history = train(
        target,  # type: ignore[arg-type]
        data,
        loss="softmax_cross_entropy",
        optimizer=opt,  # type: ignore[arg-type]
        epochs=4,
        batch_size=16,
        rng=np.random.default_rng(4),
        checkpoint=checkpoint,
    )
    return net, history, target.calls


def resume_or_start(
    net: Network, data: object, path: Path, *, epochs: int, batch_size: int
) -> History:
    """Adam (lr 0.01) on softmax cross-entropy, resuming from ``path`` if it exists."""
    return train(
        net,
        data,  # type: ignore[arg-type]
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=0.01),
        epochs=epochs,
        batch_size=batch_size,
        rng=np.random.default_rng(4),
        checkpoint=Checkpoint(path, existing="resume"),
    )


@pytest.mark.parametrize("kind", ["mlp", "photonic", "photonic_drift"])
def test_interrupted_and_resumed_run_equals_uninterrupted(kind: str, tmp_path: Path) -> None:
    reference, ref_history = run(kind, None)
    path = tmp_path / "ckpt.npz"
    with pytest.raises(KeyboardInterrupt):
        run(kind, Checkpoint(path, every_steps=5), interrupt_at=11)  # mid-epoch 2
    assert path.exists()
    resumed, history, calls = run_counting(kind, Checkpoint(path, every_steps=5, existing="resume"))
    # forward call 11 is epoch 2's third step (after 6 steps + 2 evaluations), which
    # finishes before the save: the resumed run does only the 24 − 9 steps left
    # and the evaluations of epochs 2 … 4, not a fresh start's 24 + 8 calls
    done = STEPS_PER_EPOCH + 3
    left = STEPS_PER_EPOCH * EPOCHS - done + EVALS_PER_EPOCH * (EPOCHS - 1)
    assert calls == left
    for key, value in reference.params().items():
        np.testing.assert_array_equal(resumed.params()[key], value)
    assert history.loss == ref_history.loss
    assert history.test_accuracy == ref_history.test_accuracy
    assert history.epoch == [1, 2, 3, 4]
    # every per-epoch statistic, also those of the interrupted epoch's partial state
    # (its gradient norms so far): all but the wall times, bit for bit
    for name in ("test_loss", "train_accuracy", "grad_norm"):
        assert getattr(history, name) == getattr(ref_history, name), name
    if kind == "photonic_drift":  # the chip drifted on, from where it had drifted to
        drift = resumed.chip_drift()  # type: ignore[attr-defined]
        assert drift and drift.keys() == reference.chip_drift().keys()  # type: ignore[attr-defined]
        for key, value in reference.chip_drift().items():  # type: ignore[attr-defined]
            np.testing.assert_array_equal(drift[key], value)


def test_periodic_checkpoint_resumes_after_a_hard_stop(tmp_path: Path) -> None:
    """No Ctrl-C: the last periodic checkpoint alone is enough to finish identically."""
    reference, _ = run("mlp", None)
    path = tmp_path / "ckpt.npz"

    class Stop(Exception):
        pass

    data = load("moons", n_samples=120, rng=np.random.default_rng(0))
    net, opt = build("mlp", 3)
    real_forward = net.forward
    calls = {"n": 0}

    def dying_forward(x: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 17:
            raise Stop  # like a crash: nothing saved at this moment
        return real_forward(x)

    net.forward = dying_forward  # type: ignore[method-assign]
    with pytest.raises(Stop):
        train(
            net,
            data,
            loss="softmax_cross_entropy",
            optimizer=opt,
            epochs=4,
            batch_size=16,
            rng=np.random.default_rng(4),
            checkpoint=Checkpoint(path, every_steps=3),
        )
    resumed, _, calls = run_counting("mlp", Checkpoint(path, every_steps=3, existing="resume"))
    for key, value in reference.params().items():
        np.testing.assert_array_equal(resumed.params()[key], value)
    # call 17 is epoch 3's first step; the last save was after step 12 (epoch 2's
    # last, before its evaluations): left are those 2 calls and epochs 3 and 4
    assert calls == EVALS_PER_EPOCH + 2 * (STEPS_PER_EPOCH + EVALS_PER_EPOCH)


def test_existing_checkpoint_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.npz"
    run("mlp", Checkpoint(path, every_steps=5))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="already exists"):
        run("mlp", Checkpoint(path, every_steps=5))
    assert path.read_bytes() == before


def test_finished_run_resumes_to_the_same_result(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.npz"
    net_a, hist_a = run("mlp", Checkpoint(path, every_steps=5))
    net_b, hist_b, calls = run_counting("mlp", Checkpoint(path, every_steps=5, existing="resume"))
    assert calls == 0  # nothing left to do
    assert hist_a.loss == hist_b.loss
    for key, value in net_a.params().items():
        np.testing.assert_array_equal(net_b.params()[key], value)


def test_bad_checkpoint_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="every_steps"):
        Checkpoint(tmp_path / "c.npz", every_steps=0)
    with pytest.raises(ValueError, match="existing='maybe'"):
        Checkpoint(tmp_path / "c.npz", existing="maybe")  # type: ignore[arg-type]
    bad = tmp_path / "bad.npz"
    bad.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        run("mlp", Checkpoint(bad, existing="resume"))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda meta: meta.pop("optimizer_t"), "lacks or garbles 'optimizer_t'"),
        (lambda meta: meta["position"].pop("epoch"), "lacks or garbles 'epoch'"),
        (lambda meta: meta["generators"].update(extra={}), "holds generator 'extra'"),
    ],
)
def test_a_damaged_checkpoint_is_refused_before_anything_changes(
    tmp_path: Path, damage: Callable[[dict], object], match: str
) -> None:
    """Refused by name (not a bare KeyError), and the network, optimizer and generators
    are left as they were."""
    import json

    from digital.train import load_checkpoint

    path = tmp_path / "ckpt.npz"
    with pytest.raises(KeyboardInterrupt):
        run("photonic", Checkpoint(path, every_steps=5), interrupt_at=11)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    damage(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    net, opt = build("photonic", 3)
    before = net.params()
    noise = net.noise_rng.bit_generator.state  # type: ignore[attr-defined]
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match=match):
        load_checkpoint(path, net=net, optimizer=opt, rng=rng)  # type: ignore[arg-type]
    for key, value in before.items():
        np.testing.assert_array_equal(net.params()[key], value)
    assert opt.velocity == {}  # type: ignore[attr-defined]
    assert net.noise_rng.bit_generator.state == noise  # type: ignore[attr-defined]
    assert rng.bit_generator.state == np.random.default_rng(4).bit_generator.state


def test_resuming_with_other_run_settings_is_refused(tmp_path: Path) -> None:
    """Another loss, batch size, optimizer or lr would mix two runs in one history."""
    path = tmp_path / "ckpt.npz"
    with pytest.raises(KeyboardInterrupt):
        run("mlp", Checkpoint(path, every_steps=5), interrupt_at=11)
    before = path.read_bytes()
    data = load("moons", n_samples=120, rng=np.random.default_rng(0))
    base = {"loss": "softmax_cross_entropy", "batch_size": 16, "lr": 0.01}
    for change, match in (
        (
            {"loss": "half_squared_error"},
            "loss='softmax_cross_entropy' there, 'half_squared_error' here",
        ),
        ({"batch_size": 8}, "batch_size=16 there, 8 here"),
        ({"lr": 0.02}, "lr=0.01 there, 0.02 here"),
    ):
        args = {**base, **change}
        net, _ = build("mlp", 3)
        with pytest.raises(ValueError, match=f"belongs to another run: {match}"):
            train(
                net,
                data,
                loss=args["loss"],
                optimizer=Adam(lr=args["lr"]),
                epochs=4,
                batch_size=args["batch_size"],
                rng=np.random.default_rng(4),
                checkpoint=Checkpoint(path, existing="resume"),
            )
    assert path.read_bytes() == before  # left as it was
    copy = tmp_path / "copy.npz"
    copy.write_bytes(before)
    net, _ = build("mlp", 3)
    train(  # the same loss given as the function, not by name: the same run, it goes on
        net,
        data,
        loss=softmax_cross_entropy,
        optimizer=Adam(lr=0.01),
        epochs=1,
        batch_size=16,
        rng=np.random.default_rng(4),
        checkpoint=Checkpoint(copy, existing="resume"),
    )
    resumed, _ = run("mlp", Checkpoint(path, existing="resume"))  # the same settings go on
    reference, _ = run("mlp", None)
    for key, value in reference.params().items():
        np.testing.assert_array_equal(resumed.params()[key], value)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"gradient": "in_situ"}, "network.gradient='adjoint' there, 'in_situ' here"),
        ({"adjoint_power_ratio": 0.1}, "network.adjoint_power_ratio=1.0 there, 0.1 here"),
        ({"drift": 0.1}, r"network.chip.layer1.drift_rad_per_step=0.02 there, 0.1 here"),
        ({"chip_seed": 9}, r"network.chip.layer1='static errors [0-9a-f]{16}' there"),
        ({"chip_seed": None}, r"network.chip.layer1='static errors [0-9a-f]{16}' there, 'ideal'"),
    ],
)
def test_resuming_on_another_chip_or_gradient_is_refused(
    tmp_path: Path, change: dict[str, Any], match: str
) -> None:
    """A photonic network's own settings belong to the run: the gradient method, its
    measurement settings and the chip (its scalar settings and its drawn errors)."""
    data = load("moons", n_samples=120, rng=np.random.default_rng(0))

    def network(
        gradient: str = "adjoint",
        adjoint_power_ratio: float = 1.0,
        drift: float = 0.02,
        chip_seed: int | None = 4,
    ) -> PhotonicNetwork:
        chip = (
            None
            if chip_seed is None
            else Chip.draw(Mesh.reck(4), np.random.default_rng(chip_seed), drift_rad_per_step=drift)
        )
        return PhotonicNetwork.pai2023(
            chip,
            rng=np.random.default_rng(3),
            noise_rng=np.random.default_rng(5),
            gradient=gradient,  # type: ignore[arg-type]
            adjoint_power_ratio=adjoint_power_ratio,
        )

    def fit(net: PhotonicNetwork, epochs: int) -> History:
        return resume_or_start(net, data, tmp_path / "ckpt.npz", epochs=epochs, batch_size=16)

    fit(network(), 1)
    changed = network(**change)
    before = changed.params()
    with pytest.raises(ValueError, match=f"belongs to another run: .*{match}"):
        fit(changed, 2)
    for key, value in before.items():  # refused before anything changed
        np.testing.assert_array_equal(changed.params()[key], value)
    assert fit(network(), 2).epoch == [1, 2]  # the same network goes on


def test_a_drifting_chips_checkpoint_is_refused_by_a_network_that_cannot_take_it(
    tmp_path: Path,
) -> None:
    """Loaded directly (no settings to compare): the drift is checked before the
    network, optimizer or generators change, and the message names the file."""
    from digital.train import load_checkpoint

    path = tmp_path / "ckpt.npz"
    with pytest.raises(KeyboardInterrupt):
        run("photonic_drift", Checkpoint(path, every_steps=5), interrupt_at=11)
    net, opt = build("photonic", 3)  # the same network on a chip that does not drift
    before = net.params()
    with pytest.raises(ValueError, match=r"ckpt.npz' holds chip drift this network cannot take"):
        load_checkpoint(path, net=net, optimizer=opt, rng=np.random.default_rng(4))  # type: ignore[arg-type]
    for key, value in before.items():
        np.testing.assert_array_equal(net.params()[key], value)


def test_resumed_wall_time_continues_the_first_run_s_clock(tmp_path: Path) -> None:
    """History.wall_time_s is seconds since training started, so a resumed run counts
    on from the time the checkpoint recorded, and the times never go backwards. The
    first run is slowed to at least 0.3 s; the resumed epoch takes milliseconds, so
    a clock restarted on resume would put epoch 3 before epoch 2."""
    data = load("moons", n_samples=40, rng=np.random.default_rng(0))
    path = tmp_path / "ckpt.npz"
    pause_s = 0.05

    class Slow(Interrupting):
        def forward(self, x: np.ndarray) -> np.ndarray:
            time.sleep(pause_s)
            return self.net.forward(x)

    def fit(net: Network, epochs: int) -> History:
        return resume_or_start(net, data, path, epochs=epochs, batch_size=32)

    first = fit(Slow(build("mlp", 3)[0], 0), 2)  # type: ignore[arg-type]
    assert first.wall_time_s[-1] >= 6 * pause_s  # 2 epochs × (1 step + 2 evaluations)
    resumed = fit(build("mlp", 3)[0], 3)
    assert resumed.epoch == [1, 2, 3]
    assert resumed.wall_time_s[:2] == first.wall_time_s
    assert resumed.wall_time_s[2] >= resumed.wall_time_s[1]


def test_checkpoint_settings_are_checked_by_name() -> None:
    """path=None was a bare 'expected str, bytes or os.PathLike object' from Path();
    every_steps=np.int64(5), an int from a config array, was refused."""
    with pytest.raises(TypeError, match=r"path=None must be a file path"):
        Checkpoint(None)  # type: ignore[arg-type]
    assert Checkpoint("run.npz", every_steps=np.int64(5)).every_steps == 5
    assert type(Checkpoint("run.npz", every_steps=np.int64(5)).every_steps) is int
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match=rf"every_steps={bad!r} must be an int ≥ 1"):
            Checkpoint("run.npz", every_steps=bad)  # type: ignore[arg-type]


def test_an_optimizer_that_cannot_take_the_state_is_refused_before_the_network_changes(
    tmp_path: Path,
) -> None:
    """A Momentum checkpoint loaded into Adam (directly, without train's settings)."""
    from digital.train import load_checkpoint

    path = tmp_path / "ckpt.npz"
    with pytest.raises(KeyboardInterrupt):
        run("photonic", Checkpoint(path, every_steps=5), interrupt_at=11)
    net, _ = build("photonic", 3)
    before = net.params()
    with pytest.raises(ValueError, match="holds optimizer state this optimizer cannot take"):
        load_checkpoint(path, net=net, optimizer=Adam(lr=0.01), rng=np.random.default_rng(4))
    for key, value in before.items():
        np.testing.assert_array_equal(net.params()[key], value)


def test_a_caller_s_own_settings_must_match_to_resume(tmp_path: Path) -> None:
    """``Checkpoint(settings=...)`` adds the caller's choices (e.g. a data file's digest)
    to those a resumed run must share; a checkpoint without them still resumes."""
    path = tmp_path / "ckpt.npz"
    with pytest.raises(KeyboardInterrupt):
        run("mlp", Checkpoint(path, every_steps=5, settings={"data": "a"}), interrupt_at=11)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="belongs to another run: data='a' there, 'b' here"):
        run("mlp", Checkpoint(path, existing="resume", settings={"data": "b"}))
    assert path.read_bytes() == before  # refused before anything was changed
    _, resumed = run("mlp", Checkpoint(path, existing="resume", settings={"data": "a"}))
    _, reference = run("mlp", None)
    assert resumed.loss == reference.loss
    with pytest.raises(TypeError, match=r"settings=.* must be a mapping"):
        Checkpoint(path, settings=["data"])  # type: ignore[arg-type]


def test_a_caller_s_settings_resume_as_json_reads_them_back(tmp_path: Path) -> None:
    """A tuple setting refused its own resume ([1, 2] there, (1, 2) here), an array
    failed only when the checkpoint was first saved, and a setting named like the
    trainer's own silently replaced it (review)."""
    path = tmp_path / "ckpt.npz"
    with pytest.raises(KeyboardInterrupt):
        run("mlp", Checkpoint(path, every_steps=5, settings={"a": (1, 2)}), interrupt_at=11)
    _, resumed = run("mlp", Checkpoint(path, existing="resume", settings={"a": (1, 2)}))
    _, reference = run("mlp", None)
    assert resumed.loss == reference.loss
    with pytest.raises(TypeError, match=r"settings=.* must hold JSON values"):
        Checkpoint(path, settings={"a": np.zeros(2)})
    with pytest.raises(TypeError, match=r"must hold JSON values"):
        Checkpoint(path, settings={"a": float("nan")})
    with pytest.raises(ValueError, match="names batch_size, which train\\(\\) records itself"):
        run("mlp", Checkpoint(tmp_path / "other.npz", settings={"batch_size": 16}))
