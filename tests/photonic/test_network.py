"""PhotonicNetwork: gradients, export to the digital MLP, programming, training, errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from digital.activations import COMPLEX_ACTIVATIONS, get_activation
from digital.datasets import load
from digital.gradcheck import gradcheck
from digital.network import Network
from digital.optim import Adam
from digital.train import train
from photonic.imperfections import (
    DEFAULT_LOSS_DB_PER_MZI,
    DEFAULT_LOSS_SPREAD_DB,
    DEFAULT_SPLITTING_ERROR_STD_RAD,
    NO_IMPERFECTIONS,
    Chip,
    mzi_neighbours,
)
from photonic.mesh import Mesh, Phases
from photonic.network import PhotonicNetwork
from sim.engine import simulate
from sim.ops import Recorder
from sim.report import summarize

GRADCHECK_TOL = 1e-6


def static_chip(mesh: Mesh, seed: int = 3, **changes: float) -> Chip:
    """Lossy chip with coupler errors and phase offsets, but nothing random per pass."""
    static = {
        "splitting_error_std_rad": DEFAULT_SPLITTING_ERROR_STD_RAD,
        "loss_db_per_mzi": DEFAULT_LOSS_DB_PER_MZI,
        "loss_spread_db": DEFAULT_LOSS_SPREAD_DB,
        "phase_offset_std_rad": 0.05,
    }
    return Chip.draw(mesh, np.random.default_rng(seed), **(NO_IMPERFECTIONS | static | changes))


@pytest.mark.parametrize("activation", COMPLEX_ACTIVATIONS)
@pytest.mark.parametrize("layer_kind", ["unitary", "svd"])
def test_gradcheck_every_activation(activation: str, layer_kind: str) -> None:
    rng = np.random.default_rng(0)
    net = PhotonicNetwork(
        4,
        2,
        n_features=3,
        bias_ports=1,
        activation=activation,
        layer_kind=layer_kind,
        readout_groups=((0, 1), (2,), (3,)),
        rng=rng,
    )
    x, t = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    assert gradcheck(net, x, t, "softmax_cross_entropy") <= GRADCHECK_TOL


@pytest.mark.parametrize("chip_kind", ["ideal", "static"])
@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "half_squared_error"])
def test_gradcheck_pai_network(chip_kind: str, loss: str) -> None:
    rng = np.random.default_rng(1)
    chip = None if chip_kind == "ideal" else static_chip(Mesh.reck(4))
    net = PhotonicNetwork.pai2023(chip, rng=rng)
    assert isinstance(net, Network)
    x, t = rng.normal(size=(6, 2)), rng.integers(0, 2, size=6)
    assert gradcheck(net, x, t, loss) <= GRADCHECK_TOL


@pytest.mark.parametrize("layer_kind", ["unitary", "svd"])
@pytest.mark.parametrize("chip_kind", ["ideal", "static"])
def test_exported_matrices_reproduce_outputs_in_the_digital_mlp(
    layer_kind: str, chip_kind: str
) -> None:
    rng = np.random.default_rng(2)
    n_meshes = 3 * (2 if layer_kind == "svd" else 1)
    chip = (
        None
        if chip_kind == "ideal"
        else [static_chip(Mesh.clements(5), s) for s in range(n_meshes)]
    )
    net = PhotonicNetwork(
        5,
        3,
        n_features=4,
        bias_ports=1,
        layer_kind=layer_kind,
        activation="modrelu",
        chip=chip,
        rng=rng,
        normalization="fixed_power",
    )
    x = rng.normal(size=(9, 4))
    powers = net.to_mlp().forward(net.encode(x))
    assert np.max(np.abs(powers * net.readout_scale - net.forward(x))) <= 1e-10


def test_an_activation_with_its_own_settings_is_used_trained_and_exported() -> None:
    """electro_optic(gain_rad=…) as an object: at unit input power the paper's settings
    leave a 3-layer network dark; a gain scaled to that power does not."""
    from digital.activations import electro_optic

    def network(activation: Any) -> PhotonicNetwork:
        return PhotonicNetwork(
            4,
            3,
            n_features=2,
            bias_ports=2,
            activation=activation,
            normalization="fixed_power",
            rng=np.random.default_rng(5),
        )

    x = np.random.default_rng(6).normal(size=(16, 2))
    paper, scaled = network("electro_optic"), network(electro_optic(gain_rad=4 * np.pi))
    assert paper.forward(x).sum(axis=1).max() < 1e-4  # (1 − α) sin²(g/2) ≈ 0.6 % per layer
    assert scaled.forward(x).sum(axis=1).min() > 0.05
    assert scaled.activations[0].name == "electro_optic"
    t = np.random.default_rng(7).integers(0, 4, size=16)
    assert gradcheck(scaled, x, t, "softmax_cross_entropy") <= GRADCHECK_TOL
    powers = scaled.to_mlp().forward(scaled.encode(x))  # the settings travel with it
    assert np.max(np.abs(powers * scaled.readout_scale - scaled.forward(x))) <= 1e-10
    with pytest.raises(ValueError, match="activation"):
        network(get_activation("tanh"))  # not a kind the chip has


def test_pai_readout_groups_sum_ports() -> None:
    rng = np.random.default_rng(3)
    net = PhotonicNetwork.pai2023(rng=rng)
    x = rng.normal(size=(4, 2))
    powers = net.to_mlp().forward(net.encode(x))
    grouped = np.stack([powers[:, :2].sum(1), powers[:, 2:].sum(1)], axis=1)
    np.testing.assert_allclose(net.forward(x), net.readout_scale * grouped, rtol=0, atol=1e-12)
    # Lossless and fixed input power: the two class powers sum to 1.
    np.testing.assert_allclose(grouped.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_set_params_programs_the_chip() -> None:
    rng = np.random.default_rng(4)
    mesh = Mesh.reck(4)
    chip = Chip.draw(
        mesh,
        rng,
        dac_bits=4,
        crosstalk=0.0,
        phase_noise_rad=0.0,
        tap_noise=0.0,
        adc_bits=None,
        io_amplitude_error=0.0,
        io_phase_error=0.0,
    )
    net = PhotonicNetwork.pai2023(chip, rng=rng)
    wanted = {k: v + 0.123 for k, v in net.params().items()}
    net.set_params(wanted)
    for k, v in net.params().items():
        np.testing.assert_array_equal(v, wanted[k])  # params() is what was asked for
    held = net._stages[0].programmed.theta_rad  # what the 4-bit DAC could really set
    levels = 2 * np.pi * (np.arange(16) / 15) ** 2
    assert np.all(np.min(np.abs(held[:, None] - levels[None, :]), axis=1) < 1e-12)
    assert not np.allclose(held, np.mod(wanted["layer1.theta_rad"], 2 * np.pi))


def test_pai_network_learns_moons() -> None:
    rng = np.random.default_rng(0)
    data = load("moons", n_samples=500, rng=rng)
    net = PhotonicNetwork.pai2023(rng=rng)
    history = train(
        net,
        data,
        loss="softmax_cross_entropy",
        optimizer=Adam(lr=0.02),
        epochs=60,
        batch_size=32,
        rng=rng,
    )
    assert history.test_accuracy[-1] >= 0.9


def test_pai_network_moons_five_seeds_reaches_paper_simulation() -> None:
    """Pai et al. 2023 report 94.0 % test accuracy in simulation (≈ 6 s: in the default run)."""
    accs = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        data = load("moons", n_samples=500, rng=rng)
        net = PhotonicNetwork.pai2023(rng=rng)
        h = train(
            net,
            data,
            loss="softmax_cross_entropy",
            optimizer=Adam(lr=0.02),
            epochs=100,
            batch_size=32,
            rng=rng,
        )
        accs.append(h.test_accuracy[-1])
    assert np.mean(accs) >= 0.94


def test_noisy_chip_is_seeded_and_needs_a_generator() -> None:
    mesh = Mesh.reck(4)
    chip = Chip.draw(mesh, np.random.default_rng(0))
    with pytest.raises(ValueError, match="noise_rng"):
        PhotonicNetwork.pai2023(chip, rng=np.random.default_rng(1))
    x = np.random.default_rng(2).normal(size=(8, 2))
    outs = []
    for _ in range(2):
        net = PhotonicNetwork.pai2023(
            chip, rng=np.random.default_rng(1), noise_rng=np.random.default_rng(9)
        )
        outs.append(net.forward(x))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.array_equal(net.forward(x), outs[1])  # a fresh pass, fresh noise
    net.noise_rng = None  # taken away later: refused, not a fixed stand-in generator
    with pytest.raises(ValueError, match="noise_rng=None, but the chip has per-pass noise"):
        net.forward(x)


@pytest.mark.parametrize(
    "noise",
    [{"phase_noise_rad": 0.01}, {"tap_noise": 0.01}, {"io_amplitude_error": 0.01}],
)
def test_every_kind_of_per_pass_noise_refuses_a_missing_generator(noise: dict[str, float]) -> None:
    chip = Chip.draw(Mesh.reck(4), np.random.default_rng(0), **(dict(NO_IMPERFECTIONS) | noise))
    net = PhotonicNetwork.pai2023(
        chip, rng=np.random.default_rng(1), noise_rng=np.random.default_rng(2)
    )
    net.noise_rng = None
    with pytest.raises(ValueError, match="noise_rng=None"):
        net.forward(np.ones((2, 2)))


def _repeated_outputs(noise: dict[str, Any], n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of one input sent ``n`` times through a Pai network with only ``noise``,
    and the noiseless outputs of the same network (same phases)."""
    x = np.tile([[0.3, -0.7]], (n, 1))
    outs = []
    for kwargs in (noise, {}):
        chip = Chip.draw(
            Mesh.reck(4), np.random.default_rng(0), **(dict(NO_IMPERFECTIONS) | kwargs)
        )
        net = PhotonicNetwork.pai2023(
            chip, rng=np.random.default_rng(1), noise_rng=np.random.default_rng(2)
        )
        outs.append(net.forward(x))
    return outs[0], outs[1][0]


@pytest.mark.parametrize(
    "noise",
    [{"phase_noise_rad": 0.01}, {"io_amplitude_error": 0.01, "io_phase_error": 0.01}],
    ids=["phase-noise", "io-errors"],
)
def test_per_pass_noise_spreads_repeated_outputs_in_proportion(noise: dict[str, float]) -> None:
    """Each pass draws its own errors: one input sent many times spreads, ∝ σ (small σ)."""
    noisy, clean = _repeated_outputs(noise)
    doubled, _ = _repeated_outputs({key: 2 * value for key, value in noise.items()})
    spread = noisy.std(axis=0)
    assert np.all(spread > 1e-3 * np.abs(clean))
    np.testing.assert_allclose(doubled.std(axis=0) / spread, 2.0, rtol=0.1)
    np.testing.assert_allclose(noisy.mean(axis=0), clean, rtol=0, atol=3 * spread.max())


def test_detector_noise_of_the_readout_has_the_tap_noise_std() -> None:
    """``P = |E|² + s|E|n`` per port, summed over a group's 2 ports and scaled by r:
    the output's standard deviation is ``r·s·√(P₀ + P₁) = s·√(r·clean output)``."""
    s = 0.01
    noisy, clean = _repeated_outputs({"tap_noise": s})
    net = PhotonicNetwork.pai2023(rng=np.random.default_rng(1))
    np.testing.assert_allclose(noisy.std(axis=0), s * np.sqrt(net.readout_scale * clean), rtol=0.05)
    # the mean is unbiased: within 5 standard errors (n = 4000 repeats)
    np.testing.assert_allclose(noisy.mean(axis=0), clean, rtol=0, atol=5 * noisy.std() / 63)


def test_adc_quantizes_the_readout() -> None:
    """With a 3-bit ADC each port reads one of 8 levels: a group (2 ports) at most 15
    values, each within one step of the exact power (the range is the batch maximum)."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 2))
    outs = []
    for bits in (3, None):
        chip = Chip.draw(
            Mesh.reck(4), np.random.default_rng(0), **(dict(NO_IMPERFECTIONS) | {"adc_bits": bits})
        )
        net = PhotonicNetwork.pai2023(chip, rng=np.random.default_rng(1))
        outs.append(net.forward(x))
    quantized, exact = outs
    for column in quantized.T:
        assert len(np.unique(np.round(column, 12))) <= 15
    assert len(np.unique(np.round(exact[:, 0], 12))) == 64
    # one port's error ≤ half a step = range/14; range ≤ the largest group output
    assert np.max(np.abs(quantized - exact)) <= exact.max() / 7 + 1e-12


def test_adc_full_scale_is_set_per_call_by_the_brightest_reading_of_the_batch() -> None:
    """The documented auto-ranging (class Notes): a sample's quantised outputs depend on
    the rest of its batch; alone, its brightest port reads full scale (exactly)."""
    chip = Chip.draw(
        Mesh.clements(4), np.random.default_rng(0), **(dict(NO_IMPERFECTIONS) | {"adc_bits": 3})
    )
    net = PhotonicNetwork(4, 2, n_features=2, rng=np.random.default_rng(1), chip=chip)
    x = np.random.default_rng(2).normal(size=(64, 2))
    in_batch = net.forward(x)[:8]
    alone = np.concatenate([net.forward(x[i : i + 1]) for i in range(8)])
    assert not np.allclose(in_batch, alone)
    exact = net.to_mlp().forward(net.encode(x[7:8]))  # noiseless powers |y|² of x[7]
    assert alone[7].max() == pytest.approx(exact.max(), rel=1e-12)
    assert "auto-ranged per call" in (PhotonicNetwork.__doc__ or "")  # and it says so


def test_recorder_sees_mesh_passes_and_digital_work() -> None:
    rng = np.random.default_rng(5)
    net = PhotonicNetwork.pai2023(rng=rng)
    net.recorder = Recorder()
    y = net.forward(rng.normal(size=(7, 2)))
    net.backward(np.ones_like(y))
    passes = [op for op in net.recorder.ops if op.kind == "mesh_pass"]
    assert [(op.layer, op.direction, op.n_samples) for op in passes] == [
        (0, "forward", 7),
        (1, "forward", 7),
        (2, "forward", 7),
    ]
    backward = [op for op in net.recorder.ops if op.direction == "backward"]
    # the digital twin's layer gradients (last layer first), each after the derivative
    # of the activation before it (6 FLOPs per port and sample)
    assert [op.layer for op in backward] == [2, 1, 1, 0, 0]
    assert all(op.kind == "digital_compute" and op.flops > 0 for op in backward)
    assert [op.flops for op in backward[1::2]] == [6 * 7 * 4] * 2


@pytest.mark.parametrize(
    ("gradient", "read_per_port"),
    [("adjoint", 1), ("finite_difference", 1), ("in_situ", 2), ("analog", 2)],
)
def test_forward_reads_the_output_field_when_the_gradient_is_measured(
    gradient: str, read_per_port: int
) -> None:
    """A measured gradient injects ``2·w·conj(y)`` and differentiates ``|z|`` with the
    phase of each layer's output: its forward pass reads I and Q (two reads per port and
    sample); a digital twin or finite differences need only the powers (one read)."""
    rng = np.random.default_rng(5)
    net = PhotonicNetwork.pai2023(rng=rng, gradient=gradient)  # type: ignore[arg-type]
    net.recorder = Recorder()
    net.forward(rng.normal(size=(3, 2)))
    passes = [op for op in net.recorder.ops if op.kind == "mesh_pass"]
    # conversions = the input DAC samples (one per port and sample) + the exit reads
    assert [op.conversions for op in passes] == [(1 + read_per_port) * 3 * 4] * 3


@pytest.mark.parametrize(
    ("activation", "injects"),
    [
        ("abs", ["amplitude"] * 3),
        ("abs2", ["amplitude"] * 3),
        ("modrelu", ["amplitude", "field", "field"]),
        ("electro_optic", ["amplitude", "field", "field"]),
        (["abs", "modrelu"], ["amplitude", "amplitude", "field"]),
    ],
)
def test_forward_passes_after_a_complex_activation_inject_fields(
    activation: object, injects: list[str]
) -> None:
    """The first layer's features are real amplitudes, and so is a detected |z| or |z|²;
    after modReLU or the electro-optic activation a layer re-emits a complex field:
    amplitude and phase (I and Q), two DAC samples per port. Every forward pass was
    recorded with one sample per port. The in-situ passes inject fields whatever the
    activation (δ and x − i·conj(x̂) are complex); finite-difference probes inject as the
    forward pass does."""
    rng = np.random.default_rng(5)
    net = PhotonicNetwork(
        4,
        3,
        n_features=4,
        rng=rng,
        activation=activation,
        gradient="in_situ",  # type: ignore[arg-type]
    )
    net.recorder = Recorder()
    y = net.forward(rng.normal(size=(3, 4)))
    passes = [op for op in net.recorder.ops if op.kind == "mesh_pass"]
    assert [op.inject for op in passes] == injects
    samples = {"amplitude": 1, "field": 2}
    # the inputs' DAC samples + the output field read (I and Q), per port and sample
    assert [op.conversions for op in passes] == [(samples[i] + 2) * 3 * 4 for i in injects]
    net.recorder.clear()
    net.backward(np.ones_like(y))
    measured = [op for op in net.recorder.ops if op.kind == "mesh_pass"]
    in_situ = [("adjoint", "field"), ("sum", "field")] * 3
    assert [(op.direction, op.inject) for op in measured] == in_situ
    net.recorder.clear()
    net.backward(np.ones_like(y), method="finite_difference")
    probes = [op for op in net.recorder.ops if op.kind == "mesh_pass"]
    assert [op.inject for op in probes[:3]] == injects  # one evaluation: the 3 layers


def test_finite_difference_probes_read_powers_on_an_in_situ_network() -> None:
    rng = np.random.default_rng(5)
    net = PhotonicNetwork.pai2023(rng=rng, gradient="in_situ")
    net.recorder = Recorder()
    y = net.forward(rng.normal(size=(2, 2)))
    net.backward(np.ones_like(y), method="finite_difference")
    probes = [op for op in net.recorder.ops if op.kind == "mesh_pass" and op.direction == "probe"]
    n_params = sum(v.size for v in net.params().values())
    assert len(probes) == 2 * n_params * 3  # ±h, each through the 3 layers
    assert {op.conversions for op in probes} == {2 * 2 * 4}


@pytest.mark.parametrize("method", ["in_situ", "analog"])
def test_measuring_after_a_forward_recorded_with_powers_is_refused(method: str) -> None:
    """The recorded forward pass read powers only: the measurement's phases were never
    read, so its cost would be undercounted."""
    rng = np.random.default_rng(5)
    net = PhotonicNetwork.pai2023(rng=rng)  # gradient="adjoint"
    net.recorder = Recorder()
    y = net.forward(rng.normal(size=(2, 2)))
    with pytest.raises(ValueError, match=f"set gradient='{method}' before forward"):
        net.backward(np.ones_like(y), method=method)  # type: ignore[arg-type]
    net.recorder = None  # nothing recorded: nothing to undercount
    assert net.backward(np.ones_like(y), method=method)
    y = net.forward(rng.normal(size=(2, 2)))
    net.recorder = Recorder()  # only the measurement recorded, as the caller chose
    assert net.backward(np.ones_like(y), method=method)


def test_svd_layers_are_recorded_as_layers_with_all_their_shifters() -> None:
    """An SVD layer is two meshes and N attenuators: its ops carry the layer's index,
    a full write programs 2N² + N shifters, and the chip holds that many."""
    from sim.engine import count_shifters

    rng = np.random.default_rng(5)
    net = PhotonicNetwork(4, 2, n_features=2, rng=rng, layer_kind="svd")
    net.recorder = Recorder()
    y = net.forward(rng.normal(size=(3, 2)))
    net.backward(np.ones_like(y))
    net.set_params(net.params())
    ops = net.recorder.ops
    assert {op.layer for op in ops} == {0, 1}
    assert [(op.layer, op.meshes) for op in ops if op.kind == "mesh_pass"] == [(0, 2), (1, 2)]
    writes = [(op.layer, op.n_phases) for op in ops if op.kind == "phase_update"]
    assert writes == [(0, 2 * 16 + 4), (1, 2 * 16 + 4)]
    assert net.n_shifters == count_shifters(ops) == 72
    # a trace without a full write shows one mesh per layer: simulate takes the count
    from sim.engine import simulate

    inference = [op for op in ops if op.kind != "phase_update"]
    assert count_shifters(inference) == 32
    counted, given = (
        simulate(inference, "thermal-integrated", n_shifters=n) for n in (None, net.n_shifters)
    )
    ratio = (
        given.energy_by_component_pj["phase_hold"] / counted.energy_by_component_pj["phase_hold"]
    )
    assert ratio == pytest.approx(72 / 32)
    assert PhotonicNetwork.pai2023(rng=rng).n_shifters == 3 * 16


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_ports": 1}, "n_ports"),
        ({"n_features": 5}, "must fit"),
        ({"activation": "tanh"}, "activation='tanh'"),
        ({"layer_kind": "dense"}, "layer_kind='dense'"),
        ({"topology": "hex"}, "topology='hex'"),
        ({"readout_groups": ((0, 1), (1, 2))}, "disjoint"),
        ({"readout_groups": ((0, 9),)}, "outside"),
        ({"readout_scale": 0.0}, "readout_scale"),
        ({"gradient": "magic"}, "gradient='magic'"),
        ({"chip": [None]}, "1 chips"),
        ({"measurement": "batch"}, "measurement='batch'"),
        ({"fd_step_rad": 0.0}, "fd_step_rad"),
        ({"bias_amplitude": float("nan")}, "bias_amplitude=nan"),
        ({"bias_amplitude": "x"}, "bias_amplitude='x' must be a finite real number"),
        ({"adjoint_power_ratio": 0.0}, "adjoint_power_ratio=0.0"),
        ({"activation": 3}, "activation=3 must be a name, an Activation, or a sequence"),
        ({"readout_groups": 3}, "readout_groups=3 must be a sequence of port groups"),
        ({"readout_groups": (0, 1)}, "must list groups of port numbers"),
        ({"chip": "ideal"}, "chip='ideal' must be None"),
        ({"chip": ["x", None]}, "chip lists 'x'; each entry must be a Chip or None"),
        ({"bias_ports": 1.5}, r"bias_ports=1.5 must be an int ≥ 0"),  # not silently 1
        # an in-situ network whose aggregated read-out cannot represent the chip: refused
        (
            {"measurement": "aggregated", "gradient": "in_situ"}
            | {"noise_rng": np.random.default_rng(0)}
            | {"chip": Chip.draw(Mesh.clements(4), np.random.default_rng(0), adc_bits=None)},
            "measurement='aggregated' cannot represent per-pass phase noise",
        ),
        (
            {"measurement": "aggregated", "gradient": "analog"}
            | {"noise_rng": np.random.default_rng(0)}
            | {"chip": Chip.draw(Mesh.clements(4), np.random.default_rng(0), phase_noise_rad=0)},
            "ADC",
        ),
        (
            {"measurement": "aggregated", "gradient": "in_situ", "detector_clip": "zero"},
            "use measurement='per_sample' or detector_clip='none'",
        ),
    ],
)
def test_bad_construction(kwargs: dict, match: str) -> None:
    args = {"n_ports": 4, "n_layers": 2, "n_features": 2, "rng": np.random.default_rng(0)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        PhotonicNetwork(args.pop("n_ports"), args.pop("n_layers"), **args)


@pytest.mark.parametrize("name", ["rng", "noise_rng"])
def test_a_seed_is_not_a_generator(name: str) -> None:
    args = {"n_features": 2, "rng": np.random.default_rng(0), name: 0}
    with pytest.raises(TypeError, match=f"{name}=0 must be a numpy.random.Generator"):
        PhotonicNetwork(4, 2, **args)
    with pytest.raises(TypeError, match=f"{name}=0 must be"):
        PhotonicNetwork.pai2023(**{"rng": np.random.default_rng(0), name: 0})


def test_aggregated_measurement_is_checked_only_where_it_is_used() -> None:
    """A network that measures nothing in situ may carry any read-out setting."""
    chip = Chip.draw(Mesh.reck(4), np.random.default_rng(0))  # phase noise and an ADC
    net = PhotonicNetwork.pai2023(
        chip,
        rng=np.random.default_rng(1),
        noise_rng=np.random.default_rng(2),
        measurement="aggregated",
    )
    y = net.forward(np.ones((3, 2)))
    assert np.all(np.isfinite(flat(net.backward(np.ones_like(y), method="adjoint"))))
    with pytest.raises(ValueError, match="measurement='aggregated' cannot represent"):
        net.backward(np.ones_like(y), method="analog")


def test_bad_calls() -> None:
    net = PhotonicNetwork.pai2023(rng=np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="forward"):
        net.backward(np.ones((2, 2)))
    with pytest.raises(ValueError, match="2 columns"):
        net.forward(np.ones((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        net.forward(np.array([[np.nan, 1.0]]))
    y = net.forward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="method='magic'"):
        net.backward(np.ones_like(y), method="magic")  # type: ignore[arg-type]
    bad = net.params()
    bad["layer1.theta_rad"] = np.full_like(bad["layer1.theta_rad"], np.nan)
    with pytest.raises(ValueError, match=r"\['layer1.theta_rad'\].* holds 6 NaN or infinite"):
        net.set_params(bad)
    bad["layer1.theta_rad"] = bad["layer1.theta_rad"].astype(complex)
    with pytest.raises(ValueError, match=r"finite real phases \(rad\); got dtype complex128"):
        net.set_params(bad)
    with pytest.raises(ValueError, match=r"grad_output must be 2-D \(n_samples, n_outputs\)"):
        net.backward(np.ones(3))
    bad = net.params()
    bad["layer2.out_rad"] = np.zeros(3)
    with pytest.raises(ValueError, match="shape"):
        net.set_params(bad)


def flat(grads: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([grads[k].ravel() for k in sorted(grads)])


@pytest.mark.parametrize("measurement", ["per_sample", "aggregated"])
@pytest.mark.parametrize("chip", ["ideal", "lossless"])
def test_measured_methods_equal_adjoint_on_a_lossless_noiseless_chip(
    measurement: str, chip: str
) -> None:
    """3-pass and 2-pass ≤ 1e-9, finite differences ≤ 1e-5; the ideal chip, or a lossless
    one with coupler errors and phase offsets (static: the adjoint is that chip's)."""
    from digital.losses import softmax_cross_entropy

    rng = np.random.default_rng(7)
    device = None
    if chip == "lossless":
        device = static_chip(
            Mesh.reck(4),
            4,
            splitting_error_std_rad=0.05,
            loss_db_per_mzi=0.0,
            loss_spread_db=0.0,
            phase_offset_std_rad=0.1,
        )
    net = PhotonicNetwork.pai2023(device, rng=rng, measurement=measurement)  # type: ignore[arg-type]
    x, t = rng.normal(size=(8, 2)), rng.integers(0, 2, size=8)
    _, g = softmax_cross_entropy(net.forward(x), t)
    exact = flat(net.backward(g, method="adjoint"))
    before = net.params()
    for method, tol in (("in_situ", 1e-9), ("analog", 1e-9), ("finite_difference", 1e-5)):
        measured = flat(net.backward(g, method=method))  # type: ignore[arg-type]
        assert np.linalg.norm(measured - exact) <= tol * np.linalg.norm(exact), method
    for k, v in net.params().items():  # finite differences leave the chip as it was
        np.testing.assert_array_equal(v, before[k])


def test_set_params_forgets_the_forward_pass_and_copies_its_values() -> None:
    """Re-programmed, the chip no longer matches the last forward: backward refuses
    (every method would mix the old pass with the new phases), a new forward measures
    the new state; the caller's arrays are not kept."""
    from digital.losses import softmax_cross_entropy

    rng = np.random.default_rng(9)
    net = PhotonicNetwork.pai2023(rng=rng, measurement="aggregated")
    x, t = rng.normal(size=(8, 2)), rng.integers(0, 2, size=8)
    _, g = softmax_cross_entropy(net.forward(x), t)
    first = flat(net.backward(g, method="in_situ"))
    same = {k: v.copy() for k, v in net.params().items()}
    net.set_params(same)
    for method in ("adjoint", "in_situ", "analog", "finite_difference"):
        with pytest.raises(RuntimeError, match="forward"):
            net.backward(g, method=method)
    _, g = softmax_cross_entropy(net.forward(x), t)
    np.testing.assert_allclose(flat(net.backward(g, method="in_situ")), first, rtol=1e-12)
    same["layer1.theta_rad"][:] = 99.0  # the caller's array, after the call
    assert not np.any(net.params()["layer1.theta_rad"] == 99.0)
    net.set_params({k: v + 0.1 for k, v in net.params().items()})  # new values
    _, g = softmax_cross_entropy(net.forward(x), t)
    again = flat(net.backward(g, method="in_situ"))
    assert np.all(np.isfinite(again)) and not np.allclose(again, first)


def test_measured_gradients_on_a_realistic_chip_point_downhill() -> None:
    """Default imperfections: the 2-pass estimate still agrees in direction."""
    from digital.losses import softmax_cross_entropy

    rng = np.random.default_rng(8)
    chip = Chip.draw(Mesh.reck(4), rng)
    net = PhotonicNetwork.pai2023(chip, rng=rng, noise_rng=np.random.default_rng(1))
    x, t = rng.normal(size=(8, 2)), rng.integers(0, 2, size=8)
    _, g = softmax_cross_entropy(net.forward(x), t)
    exact = flat(net.backward(g))
    analog = flat(net.backward(g, method="analog"))
    cos = analog @ exact / (np.linalg.norm(analog) * np.linalg.norm(exact))
    assert cos > 0.8


def test_in_situ_refuses_svd_layers() -> None:
    rng = np.random.default_rng(9)
    net = PhotonicNetwork(4, 2, n_features=2, layer_kind="svd", rng=rng)
    y = net.forward(rng.normal(size=(3, 2)))
    with pytest.raises(ValueError, match="unitary"):
        net.backward(np.ones_like(y), method="in_situ")


@pytest.mark.parametrize("measurement", ["per_sample", "aggregated"])
def test_in_situ_records_three_passes_per_layer(measurement: str) -> None:
    """The inference pass is the first of the three: its taps are read, not re-run."""
    rng = np.random.default_rng(10)
    net = PhotonicNetwork.pai2023(
        rng=rng,
        gradient="in_situ",
        measurement=measurement,  # type: ignore[arg-type]
    )
    net.recorder = Recorder()
    y = net.forward(rng.normal(size=(5, 2)))
    net.backward(np.ones_like(y))
    passes = [(op.layer, op.direction) for op in net.recorder.ops if op.kind == "mesh_pass"]
    assert passes[:3] == [(0, "forward"), (1, "forward"), (2, "forward")]
    assert sorted(passes[3:]) == sorted(
        [(layer, d) for layer in range(3) for d in ("adjoint", "sum")]
    )
    taps = [(op.layer, op.direction) for op in net.recorder.ops if op.kind == "tap_readout"]
    assert sorted(taps) == sorted(
        [(layer, d) for layer in range(3) for d in ("adjoint", "forward", "sum")]
    )


def test_analog_sends_its_own_passes_and_set_params_writes_every_shifter() -> None:
    """Analog: adjoint + two sum passes per layer; in situ after a new forward: 2."""
    rng = np.random.default_rng(10)
    net = PhotonicNetwork.pai2023(rng=rng)
    y = net.forward(rng.normal(size=(5, 2)))
    net.recorder = Recorder()
    net.backward(np.ones_like(y), method="analog")
    assert sum(op.kind == "mesh_pass" for op in net.recorder.ops) == 3 * 3
    taps = [(op.layer, op.direction) for op in net.recorder.ops if op.kind == "tap_readout"]
    assert sorted(taps) == sorted([(layer, "sum") for layer in range(3)] * 2)  # the − and +
    net.recorder = Recorder()
    net.set_params({k: v + 0.1 for k, v in net.params().items()})
    writes = [(op.layer, op.n_phases) for op in net.recorder.ops if op.kind == "phase_update"]
    assert writes == [(layer, 6 * 2 + 4) for layer in range(3)]  # 6 MZIs + 4 output phases
    net.recorder = None
    y = net.forward(rng.normal(size=(5, 2)))  # set_params forgot the old one
    net.recorder = Recorder()
    net.backward(np.ones_like(y), method="in_situ")  # forward taps from that pass
    passes = [op.direction for op in net.recorder.ops if op.kind == "mesh_pass"]
    assert sorted(passes) == sorted(["adjoint", "sum"] * 3)


def test_finite_differences_record_single_phase_writes() -> None:
    """Per shifter: +h, −h and restore are one-phase writes; two whole-network passes."""
    rng = np.random.default_rng(11)
    net = PhotonicNetwork.pai2023(rng=rng)
    y = net.forward(rng.normal(size=(3, 2)))
    net.recorder = Recorder()
    net.backward(np.ones_like(y), method="finite_difference")
    n_shifters = sum(v.size for v in net.params().values())
    writes = [op for op in net.recorder.ops if op.kind == "phase_update"]
    assert len(writes) == 3 * n_shifters and all(op.n_phases == 1 for op in writes)
    per_layer = [
        sum(v.size for k, v in net.params().items() if k.startswith(f"layer{i + 1}."))
        for i in range(net.n_layers)
    ]
    assert [sum(op.layer == i for op in writes) for i in range(net.n_layers)] == [
        3 * n for n in per_layer
    ]
    passes = sum(op.kind == "mesh_pass" for op in net.recorder.ops)
    assert passes == 2 * n_shifters * net.n_layers
    # all of it is the gradient measurement, not forward work or the optimizer's update
    assert {op.direction for op in net.recorder.ops} == {"probe"}
    report = summarize(net.recorder.ops, simulate(net.recorder.ops, "eo-integrated"))
    assert report.phases["gradient"].latency_ns == pytest.approx(report.latency_ns, rel=1e-12)
    # the chip is back in its state: an in-situ gradient still reads the inference pass
    net.recorder = Recorder()
    net.backward(np.ones_like(y), method="in_situ")
    assert sum(op.kind == "mesh_pass" for op in net.recorder.ops) == 2 * net.n_layers


def test_finite_difference_step_respects_the_dac() -> None:
    """A step below the DAC's resolution is refused; the automatic one measures well."""
    from digital.losses import softmax_cross_entropy
    from photonic.imperfections import dac_phase_step_rad

    rng = np.random.default_rng(11)
    mesh = Mesh.reck(4)
    chip = Chip.draw(
        mesh,
        rng,
        dac_bits=10,
        splitting_error_std_rad=0.0,
        loss_db_per_mzi=0.0,
        loss_spread_db=0.0,
        crosstalk=0.0,
        phase_noise_rad=0.0,
        tap_noise=0.0,
        adc_bits=None,
        io_amplitude_error=0.0,
        io_phase_error=0.0,
    )
    step = dac_phase_step_rad(chip)
    assert step == pytest.approx(2 * np.pi * (2 * 1023 - 1) / 1023**2)
    with pytest.raises(ValueError, match="below the DAC"):
        PhotonicNetwork.pai2023(chip, rng=rng, fd_step_rad=1e-4)
    net = PhotonicNetwork.pai2023(chip, rng=rng)
    assert net.fd_step_rad == pytest.approx(2 * step)
    x, t = rng.normal(size=(8, 2)), rng.integers(0, 2, size=8)
    _, g = softmax_cross_entropy(net.forward(x), t)
    exact = flat(net.backward(g))
    fd = flat(net.backward(g, method="finite_difference"))
    assert fd @ exact / (np.linalg.norm(fd) * np.linalg.norm(exact)) > 0.95


@pytest.mark.parametrize(
    ("noise", "max_fine_cosine", "min_cosine"),
    # with a 1e-4 rad step, 8 seeds gave cosines −0.18 … 0.19 (noise, I/O errors) and
    # 0.25 … 0.91 (ADC); with 0.1 rad, 0.70 … 0.99, 0.12 … 0.72 (I/O) and ≥ 0.998 (ADC)
    [
        ({"phase_noise_rad": 0.01}, 0.5, 0.6),
        ({"tap_noise": 0.01}, 0.5, 0.6),
        ({"io_amplitude_error": 0.025, "io_phase_error": 0.025}, 0.5, 0.3),
        ({"adc_bits": 8}, 0.95, 0.99),
    ],
    ids=["phase-noise", "detector-noise", "io-errors", "adc"],
)
def test_automatic_fd_step_is_coarse_on_noisy_chips(
    noise: dict[str, float], max_fine_cosine: float, min_cosine: float
) -> None:
    """A 1e-4 rad step is drowned by per-pass noise or quantized away by an ADC."""
    from digital.losses import softmax_cross_entropy
    from photonic.insitu import NOISY_FD_STEP_RAD

    chip = Chip.draw(Mesh.reck(4), np.random.default_rng(0), **(dict(NO_IMPERFECTIONS) | noise))

    def median_cosine(**step: float) -> float:
        rng = np.random.default_rng(1)
        net = PhotonicNetwork.pai2023(chip, rng=rng, noise_rng=np.random.default_rng(2), **step)
        x, t = rng.normal(size=(32, 2)), rng.integers(0, 2, size=32)
        cosines = []
        for _ in range(3):
            _, g = softmax_cross_entropy(net.forward(x), t)
            exact = flat(net.backward(g))
            fd = flat(net.backward(g, method="finite_difference"))
            cosines.append(fd @ exact / (np.linalg.norm(fd) * np.linalg.norm(exact)))
        assert net.fd_step_rad == step.get("fd_step_rad", NOISY_FD_STEP_RAD)
        return float(np.median(cosines))

    # seeds 0, 1, 2: 1e-4 rad gives −0.00, 0.10, 0.19, 0.91; the automatic step
    # 0.98, 0.99, 0.72, 1.00
    assert median_cosine(fd_step_rad=1e-4) < max_fine_cosine
    assert median_cosine() > min_cosine


def test_inputs_that_would_be_cast_or_truncated_are_refused() -> None:
    rng = np.random.default_rng(12)
    net = PhotonicNetwork.pai2023(rng=rng)
    x = rng.normal(size=(3, 2))
    with pytest.raises(TypeError, match=r"x must be real; got complex"):
        net.forward(x + 1j)
    y = net.forward(x)
    with pytest.raises(TypeError, match=r"grad_output must be real"):
        net.backward(np.ones_like(y) + 1j)
    with pytest.raises(ValueError, match=r"readout_groups=.* must list port numbers \(ints\)"):
        PhotonicNetwork(4, 1, n_features=2, rng=rng, readout_groups=((0.6, 1.9), (2.2, 3.7)))
    once = PhotonicNetwork(
        4, 1, n_features=2, rng=rng, readout_groups=(g for g in [[0, 1], [2, 3]])
    )
    assert once.readout_groups == [[0, 1], [2, 3]]  # an iterator is read once, fully
    with pytest.raises(ValueError, match="measures unitary mesh layers"):  # now, not later
        PhotonicNetwork(4, 1, n_features=2, rng=rng, layer_kind="svd", gradient="in_situ")
    params = net.params()
    missing = {k: v for k, v in params.items() if k != "layer2.phi_rad"}
    with pytest.raises(ValueError, match=r"lacks keys \['layer2.phi_rad'\]"):
        net.set_params(missing)
    with pytest.raises(ValueError, match=r"params\['layer1.out_rad'\] must be finite real"):
        net.set_params({**params, "layer1.out_rad": np.array(["a"] * 4)})


def test_fixed_power_encoding_does_not_overflow() -> None:
    """|x|² of 1e155 overflows; the normalised field does not depend on the scale, and
    ordinary inputs are divided by their norm exactly as before (bit for bit)."""
    net = PhotonicNetwork.pai2023(rng=np.random.default_rng(13))
    x = np.random.default_rng(3).normal(size=(50, 2)) * 3
    field = np.concatenate([x, np.ones((50, 2))], axis=1)
    assert np.array_equal(net.encode(x), field / np.linalg.norm(field, axis=1, keepdims=True))
    small, huge = net.encode(np.array([[1.0, 2.0]])), net.encode(np.array([[1e155, 2e155]]))
    np.testing.assert_allclose(np.linalg.norm(small), 1.0)
    np.testing.assert_allclose(huge[0, :2], small[0, :2] / np.linalg.norm(small[0, :2]))
    assert np.all(np.isfinite(net.forward(np.array([[1e155, 2e155]]))))


@pytest.mark.parametrize(
    ("activation", "where"),
    [("abs", r"the outputs \(detected powers"), ("abs2", r"the activations after layer 1")],
)
def test_features_too_large_for_the_network_are_refused_by_name(
    activation: str, where: str
) -> None:
    """Features of 1e200 made forward() return inf with only a RuntimeWarning (|y|²
    overflows), or, through |z|², fail in the next mesh blaming its field for NaNs."""
    net = PhotonicNetwork(4, 2, n_features=2, rng=np.random.default_rng(0), activation=activation)
    match = rf"x is too large: {where}.* are not finite.*largest \|x\| = 1e\+200"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused by name, not with a RuntimeWarning
        with pytest.raises(ValueError, match=match):
            net.forward(np.full((2, 2), 1e200))
    assert np.all(np.isfinite(net.forward(np.full((2, 2), 1e50))))


def test_features_that_overflow_in_one_sample_of_the_batch_are_refused() -> None:
    """One sample of 1e200 among ordinary ones: forward() must refuse the batch, not
    return inf for that sample next to finite outputs for the others."""
    net = PhotonicNetwork(4, 2, n_features=2, rng=np.random.default_rng(0), activation="abs")
    x = np.array([[1.0, 2.0], [1e200, 1e200], [0.5, -1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"x is too large: the outputs .*= 1e\+200"):
            net.forward(x)


def test_a_noisy_chip_on_any_mesh_sets_the_coarse_finite_difference_step() -> None:
    """With one chip per mesh, detector noise or an ADC on the last mesh's chip (the
    output detectors) makes a 1e-4 rad finite difference measure noise: the automatic
    step must be the noisy one whichever mesh's chip is noisy."""
    from photonic.insitu import DEFAULT_FD_STEP_RAD, NOISY_FD_STEP_RAD

    def step(noisy: dict[str, float], at: int) -> float:
        chips = [
            Chip.draw(Mesh.clements(4), np.random.default_rng(i), **dict(NO_IMPERFECTIONS))
            for i in range(2)
        ]
        chips[at] = chips[at].with_(**noisy)
        net = PhotonicNetwork(
            4,
            2,
            n_features=2,
            chip=chips,
            rng=np.random.default_rng(0),
            noise_rng=np.random.default_rng(1),
        )
        return net.fd_step_rad

    for noisy in ({"tap_noise": 0.01}, {"adc_bits": 8}):
        assert step(noisy, 0) == step(noisy, 1) == NOISY_FD_STEP_RAD
    assert step({}, 1) == DEFAULT_FD_STEP_RAD


def test_svd_attenuators_start_where_their_gradient_is_not_zero() -> None:
    """At θ = π (full transmission) dσ/dθ = 0: plain SGD would never train them."""
    from digital.losses import softmax_cross_entropy
    from digital.optim import SGD

    rng = np.random.default_rng(14)
    net = PhotonicNetwork(4, 2, n_features=2, bias_ports=1, layer_kind="svd", rng=rng)
    start = net.params()["layer1.sigma_rad"]
    assert np.all((start >= np.pi / 2) & (start < np.pi))
    x, t = rng.normal(size=(16, 2)), rng.integers(0, 2, size=16)
    _, g = softmax_cross_entropy(net.forward(x), t)
    grads = net.backward(g)
    assert np.min(np.abs(grads["layer1.sigma_rad"])) > 1e-6
    params = SGD(lr=0.5).step(net.params(), grads)
    assert np.all(params["layer1.sigma_rad"] != start)


# -- encoding, the Pai layout, export, I/O errors and per-layer chips ----------------
def _io_chip(mesh: Mesh, sigma_a: float, sigma_p: float, **changes: float) -> Chip:
    """A chip whose only per-pass imperfection is the I/O error (plus ``changes``)."""
    io = {"io_amplitude_error": sigma_a, "io_phase_error": sigma_p}
    return Chip.draw(mesh, np.random.default_rng(0), **(NO_IMPERFECTIONS | io | changes))


def test_encoding_puts_features_then_bias_ports_then_dark_ports() -> None:
    """Ports 0…F−1 carry the features, the next B ports the bias amplitude, the rest
    nothing (by hand, 6 ports: 2 features, 2 bias ports, 2 dark ports)."""
    net = PhotonicNetwork(
        6, 1, n_features=2, bias_ports=2, bias_amplitude=0.5, rng=np.random.default_rng(0)
    )
    field = net.encode(np.array([[0.3, -1.2], [2.0, 0.0]]))
    np.testing.assert_array_equal(
        field, [[0.3, -1.2, 0.5, 0.5, 0.0, 0.0], [2.0, 0.0, 0.5, 0.5, 0.0, 0.0]]
    )


def test_pai2023_is_three_reck_unitaries_with_modulus_between_them() -> None:
    """Pai et al.: 4×4 unitaries on a triangular (Reck) mesh, |z| between layers, ports {0, 1}
    and {2, 3} summed. Recomputed by hand from the exported matrices."""
    rng = np.random.default_rng(15)
    net = PhotonicNetwork.pai2023(rng=rng)
    reck, params = Mesh.reck(4), net.params()
    for i, w in enumerate(net.matrices(), start=1):  # each layer's phases, on a Reck layout
        phases = Phases(*(params[f"layer{i}.{k}"] for k in ("theta_rad", "phi_rad", "out_rad")))
        np.testing.assert_allclose(w, reck.matrix(phases), rtol=0, atol=1e-13)
    x = rng.normal(size=(5, 2))
    field = np.concatenate([x, np.ones((5, 2))], axis=1)
    field /= np.linalg.norm(field, axis=1, keepdims=True)  # fixed total input power
    w1, w2, w3 = net.matrices()
    y = np.abs(np.abs(np.abs(field @ w1.T) @ w2.T) @ w3.T) ** 2
    want = net.readout_scale * np.stack([y[:, :2].sum(1), y[:, 2:].sum(1)], axis=1)
    np.testing.assert_allclose(net.forward(x), want, rtol=1e-12)


def test_exported_matrices_are_what_a_quantizing_chip_holds() -> None:
    """``matrices()`` is what the programmed chip computes: with a coarse DAC and
    thermal crosstalk the requested phases would give another matrix."""
    rng = np.random.default_rng(16)
    chip = Chip.draw(Mesh.reck(4), rng, **(NO_IMPERFECTIONS | {"dac_bits": 4, "crosstalk": 0.05}))
    net = PhotonicNetwork.pai2023(chip, rng=rng)
    x = rng.normal(size=(6, 2))
    powers = net.to_mlp().forward(net.encode(x))  # per port, before grouping
    grouped = np.stack([powers[:, :2].sum(1), powers[:, 2:].sum(1)], axis=1)
    np.testing.assert_allclose(grouped * net.readout_scale, net.forward(x), rtol=1e-12)


def test_output_power_fluctuates_with_independent_input_and_output_io_errors() -> None:
    """One layer, one lit input port: ``P_j = |g_out,j|²·|W_j0|²·|g_in,0|²``.

    The emitted field and the measured one each carry a fresh amplitude error
    ``|1 + σ_a n|``, independent of each other, so to first order
    ``Var log P_j = 4σ_a² + 4σ_a² = 8σ_a²`` on every port (the phase error does not
    change a power). n = 4000 passes: 5 standard errors √(2/n) on the ratio.
    """
    sigma_a, n = 0.01, 4000
    mesh = Mesh.clements(4)
    net = PhotonicNetwork(
        4,
        1,
        n_features=1,
        chip=_io_chip(mesh, sigma_a, 0.02),
        rng=np.random.default_rng(1),
        noise_rng=np.random.default_rng(2),
    )
    log_p = np.log(net.forward(np.ones((n, 1))))
    np.testing.assert_allclose(
        log_p.var(axis=0) / (8 * sigma_a**2), 1.0, rtol=0, atol=5 * np.sqrt(2 / n)
    )


def test_adjoint_gradient_is_exact_for_the_pass_with_its_io_errors() -> None:
    """ "adjoint" differentiates the very pass that ran, its I/O errors included.

    Freezing the errors (the same noise seed for every pass), the directional
    derivative of Σ g·outputs along a random phase direction v by central differences
    (h = 1e-5, error O(h²)) must equal Σ grads·v.
    """
    rng = np.random.default_rng(17)
    chip = _io_chip(Mesh.reck(4), 0.05, 0.05, splitting_error_std_rad=0.02, loss_db_per_mzi=0.2)
    net = PhotonicNetwork.pai2023(chip, rng=rng, noise_rng=np.random.default_rng(0))
    x, g = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))

    def objective() -> float:
        net.noise_rng = np.random.default_rng(5)  # the same I/O errors on every pass
        return float(np.sum(g * net.forward(x)))

    base = net.params()
    objective()
    grads = net.backward(g, method="adjoint")
    direction = {k: rng.normal(size=v.shape) for k, v in base.items()}
    h = 1e-5
    values = []
    for sign in (1.0, -1.0):
        net.set_params({k: v + sign * h * direction[k] for k, v in base.items()})
        values.append(objective())
    numeric = (values[0] - values[1]) / (2 * h)
    analytic = sum(float(np.sum(grads[k] * direction[k])) for k in base)
    assert numeric == pytest.approx(analytic, rel=1e-6)


@pytest.mark.parametrize("measurement", ["per_sample", "aggregated"])
def test_tap_readouts_are_integrated_as_the_measurement_mode_says(measurement: str) -> None:
    """ "aggregated": the tap detectors integrate the batch and are read once per pass
    (n_phases conversions); "per_sample": every sample's taps are read."""
    rng = np.random.default_rng(18)
    net = PhotonicNetwork.pai2023(
        rng=rng,
        gradient="in_situ",
        measurement=measurement,  # type: ignore[arg-type]
    )
    y = net.forward(rng.normal(size=(5, 2)))
    net.recorder = Recorder()
    net.backward(np.ones_like(y))
    reads = [op.conversions for op in net.recorder.ops if op.kind == "tap_readout"]
    n_phases = 6 + 6 + 4  # 4-port Reck: θ and φ of 6 MZIs, 4 output shifters
    assert reads == [n_phases * (5 if measurement == "per_sample" else 1)] * 9


def test_in_situ_measurement_gets_the_field_the_modulators_were_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The controller builds the sum pass x − i·conj(x̂) from the field it asked the
    modulators for (it cannot know their I/O error); the forward taps come from the
    field that really entered the mesh. On layer 1 these are encode(x) and that field
    with the error, which must differ."""
    import photonic.network as network_module

    calls: list[dict[str, Any]] = []
    real = network_module.measure_in_situ

    def spy(mesh: Mesh, phases: Any, x: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        calls.append({"x": x, **kwargs})
        return real(mesh, phases, x, *args, **kwargs)

    monkeypatch.setattr(network_module, "measure_in_situ", spy)
    rng = np.random.default_rng(19)
    chip = _io_chip(Mesh.reck(4), 0.02, 0.02)
    net = PhotonicNetwork.pai2023(chip, rng=rng, noise_rng=np.random.default_rng(1))
    features = rng.normal(size=(4, 2))
    y = net.forward(features)
    net.backward(np.ones_like(y), method="in_situ")
    first = next(c for c in calls if c["layer"] == 0)
    np.testing.assert_array_equal(first["x"], net.encode(features))
    assert not np.allclose(first["inference"].injected, first["x"])


@pytest.mark.parametrize(
    "noise",
    [
        {"phase_noise_rad": 0.01},
        {"tap_noise": 0.01},
        {"io_amplitude_error": 0.01},
        {"io_phase_error": 0.01},
    ],
    ids=["phase", "tap", "io-amplitude", "io-phase"],
)
def test_every_kind_of_per_pass_noise_needs_a_generator(noise: dict[str, float]) -> None:
    """Without noise_rng a noisy chip would silently draw the same noise every pass."""
    chip = Chip.draw(Mesh.reck(4), np.random.default_rng(0), **(NO_IMPERFECTIONS | noise))
    with pytest.raises(ValueError, match="noise_rng"):
        PhotonicNetwork.pai2023(chip, rng=np.random.default_rng(1))


def test_each_layer_uses_the_chips_of_its_own_meshes() -> None:
    """One chip per mesh: the read-out detectors are the last mesh's; an SVD layer
    emits with its V mesh's I/O error and is read with its U mesh's, not with
    another mesh's."""
    mesh = Mesh.clements(4)
    ideal = Chip.ideal(mesh)
    tap = Chip.draw(mesh, np.random.default_rng(0), **(NO_IMPERFECTIONS | {"tap_noise": 0.05}))
    io = _io_chip(mesh, 0.05, 0.05)
    x = np.random.default_rng(1).normal(size=(3, 2))

    def spread(chips: list[Chip], layer_kind: str) -> float:
        net = PhotonicNetwork(
            4,
            2,
            n_features=2,
            chip=chips,
            layer_kind=layer_kind,  # type: ignore[arg-type]
            rng=np.random.default_rng(2),
            noise_rng=np.random.default_rng(3),
        )
        return float(np.max(np.abs(net.forward(x) - net.forward(x))))

    assert spread([ideal, tap], "unitary") > 0  # detected with the noisy last chip
    assert spread([tap, ideal], "unitary") == 0  # the first chip's taps are not the read-out
    assert spread([ideal, ideal, io, ideal], "svd") > 0  # layer 2 emits through chip 3
    # each SVD layer's output is read after its U mesh, with that mesh's chip
    assert spread([ideal, io, ideal, ideal], "svd") > 0
    assert spread([ideal, ideal, ideal, io], "svd") > 0


def test_measured_gradients_are_held_phase_gradients_under_crosstalk() -> None:
    """Thermal crosstalk makes the held phases ``p = J r`` of the requested ``r``, with
    ``J = I + c·A`` (``A``: the symmetric adjacency of neighbouring shifters), so
    ``∂L/∂r = Jᵀ ∂L/∂p = J ∂L/∂p``. ``"adjoint"`` and ``"in_situ"`` give ``∂L/∂p``
    (what the taps measure); ``"finite_difference"`` perturbs ``r`` and gives
    ``J ∂L/∂p``. With c = 0.1 the two differ by ~10 % of the gradient, far above the
    finite-difference error (≤ 1e-6 here)."""
    c = 0.1
    rng = np.random.default_rng(5)
    mesh = Mesh.reck(4)
    chip = Chip.draw(mesh, rng, **(NO_IMPERFECTIONS | {"crosstalk": c}))
    net = PhotonicNetwork.pai2023(chip, rng=rng)
    for value in net.params().values():  # a ±h step must not wrap around [0, 2π)
        assert np.all((value > 1e-3) & (value < 2 * np.pi - 1e-3))
    x = rng.normal(size=(8, 2))
    g = rng.normal(size=(8, 2))
    net.forward(x)
    held = net.backward(g, method="adjoint")
    measured = net.backward(g, method="in_situ")
    requested = net.backward(g, method="finite_difference")
    i, j = mzi_neighbours(mesh)
    ports = np.arange(mesh.n_ports - 1)
    largest_shift = 0.0
    for key, grad in held.items():
        np.testing.assert_allclose(measured[key], grad, rtol=0, atol=1e-12)
        pairs = (ports, ports + 1) if key.endswith("out_rad") else (i, j)
        heat = np.zeros_like(grad)  # A·grad
        np.add.at(heat, pairs[0], grad[pairs[1]])
        np.add.at(heat, pairs[1], grad[pairs[0]])
        largest_shift = max(largest_shift, float(np.max(np.abs(c * heat))))
        np.testing.assert_allclose(requested[key], grad + c * heat, rtol=0, atol=1e-6)
    assert largest_shift > 1e-3  # not vacuous: 0.97 here (out_rad: 0, |z| drops phases)


def test_a_users_own_complex_activation_is_accepted_and_differentiated() -> None:
    """Between layers any complex activation works (it runs on the host after
    detection): a user's own Activation, not in the registry, passes gradcheck; one
    defined only for real input is refused by name."""
    import dataclasses as dc

    from digital.activations import ACTIVATIONS, Activation

    def forward(z: np.ndarray) -> np.ndarray:
        return z / (1.0 + np.abs(z) ** 2)  # a saturable absorber, f = z/(1 + z z̄)

    def derivatives(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = (1.0 + np.abs(z) ** 2) ** 2  # ∂f/∂z = 1/d,  ∂f/∂z̄ = −z²/d
        return 1.0 / d, -(z**2) / d

    mine = Activation("saturable", forward, derivatives, complex_input=True, real_output=False)
    rng = np.random.default_rng(4)
    net = PhotonicNetwork(4, 2, n_features=2, activation=mine, rng=rng)
    x, t = rng.normal(size=(5, 2)), rng.integers(0, 4, size=5)
    assert gradcheck(net, x, t, "softmax_cross_entropy") <= GRADCHECK_TOL
    relu = dc.replace(ACTIVATIONS["relu"], name="myrelu")
    with pytest.raises(ValueError, match=r"activation 'myrelu' is not defined for complex"):
        PhotonicNetwork(4, 2, n_features=2, activation=relu, rng=rng)
    with pytest.raises(ValueError, match=r"activation='tanh' is not allowed"):  # as by name
        PhotonicNetwork(4, 2, n_features=2, activation=ACTIVATIONS["tanh"], rng=rng)


def test_adjoint_power_ratio_reaches_the_measurement() -> None:
    """On a lossy chip a weaker adjoint brings the 3-pass gradient of every layer closer
    to the exact one; the network passes the ratio to each measurement."""
    chip = Chip.draw(
        Mesh.reck(4),
        np.random.default_rng(0),
        **(dict(NO_IMPERFECTIONS) | {"loss_db_per_mzi": 0.3}),
    )
    x = np.random.default_rng(2).normal(size=(6, 2))
    g = np.random.default_rng(3).normal(size=(6, 2))
    cos = []
    for ratio in (1.0, 0.01):
        net = PhotonicNetwork.pai2023(
            chip, rng=np.random.default_rng(1), gradient="in_situ", adjoint_power_ratio=ratio
        )
        net.forward(x)
        exact = np.concatenate([v.ravel() for v in net.backward(g, method="adjoint").values()])
        got = np.concatenate([v.ravel() for v in net.backward(g).values()])
        cos.append(got @ exact / (np.linalg.norm(got) * np.linalg.norm(exact)))
    assert cos[1] > cos[0] + 0.5, cos  # measured: 0.13 at ratio 1, 0.88 at 0.01


def test_a_drifting_chip_walks_one_step_per_set_params() -> None:
    """Reprogramming the same phases k times leaves the held phases off by a random walk
    of k steps (std σ√k over the shifters), reported by chip_drift; a chip that does not
    drift reports none and set_params draws nothing."""
    mesh = Mesh.clements(16)
    still = Chip.draw(mesh, np.random.default_rng(0), **dict(NO_IMPERFECTIONS))
    drifting = still.with_(drift_rad_per_step=0.01)
    with pytest.raises(ValueError, match="noise_rng"):
        PhotonicNetwork(16, 1, n_features=16, rng=np.random.default_rng(1), chip=drifting)
    nets = [
        PhotonicNetwork(
            16,
            1,
            n_features=16,
            rng=np.random.default_rng(1),
            chip=c,
            noise_rng=np.random.default_rng(2),
        )
        for c in (still, drifting)
    ]
    params = nets[0].params()
    state = nets[0].noise_rng.bit_generator.state  # type: ignore[union-attr]
    for _ in range(25):
        for net in nets:
            net.set_params(params)
    assert nets[0].chip_drift() == {}
    assert nets[0].noise_rng.bit_generator.state == state  # type: ignore[union-attr]
    held = [net._stages[0].programmed for net in nets]
    offset = np.concatenate(
        [getattr(held[1], f) - getattr(held[0], f) for f in ("theta_rad", "phi_rad", "out_rad")]
    )
    assert offset.size == 256
    assert np.std(offset) == pytest.approx(0.01 * 5, rel=0.15)  # √25 steps
    drift = nets[1].chip_drift()
    np.testing.assert_allclose(
        np.concatenate([drift[f"layer1.{f}"] for f in ("theta_rad", "phi_rad", "out_rad")]),
        offset,
        atol=1e-12,
    )


def test_set_chip_drift_restores_the_held_phases_without_a_step() -> None:
    chip = Chip.draw(Mesh.reck(4), np.random.default_rng(0), drift_rad_per_step=0.05)
    net = PhotonicNetwork.pai2023(
        chip, rng=np.random.default_rng(1), noise_rng=np.random.default_rng(2)
    )
    net.set_params(net.params())
    saved, x = net.chip_drift(), np.random.default_rng(3).normal(size=(5, 2))
    noise_state = net.noise_rng.bit_generator.state  # type: ignore[union-attr]
    y = net.forward(x)
    other = PhotonicNetwork.pai2023(
        chip, rng=np.random.default_rng(1), noise_rng=np.random.default_rng(2)
    )
    other.set_chip_drift(saved)
    other.noise_rng.bit_generator.state = noise_state  # type: ignore[union-attr]
    np.testing.assert_array_equal(other.forward(x), y)
    with pytest.raises(ValueError, match="lacks"):
        other.set_chip_drift({"layer1.theta_rad": saved["layer1.theta_rad"]})
    with pytest.raises(ValueError, match="not a mesh on a drifting chip"):
        other.set_chip_drift({"layer9.theta_rad": np.zeros(6)})


def test_finite_differences_hold_the_drift_and_leave_the_chip_as_it_was() -> None:
    """Their perturbations program the chip within one training step: no drift step, so
    the gradient is that of the chip's state, and afterwards the same forward pass can
    still be measured by another method (backward's promise)."""
    chip = Chip.draw(
        Mesh.reck(4),
        np.random.default_rng(0),
        **(dict(NO_IMPERFECTIONS) | {"drift_rad_per_step": 0.05}),
    )
    net = PhotonicNetwork.pai2023(
        chip, rng=np.random.default_rng(1), noise_rng=np.random.default_rng(2), fd_step_rad=1e-4
    )
    for _ in range(3):
        net.set_params(net.params())
    drift = net.chip_drift()
    g = np.random.default_rng(3).normal(size=(4, 2))
    net.forward(np.random.default_rng(4).normal(size=(4, 2)))
    fd = np.concatenate([v.ravel() for v in net.backward(g, method="finite_difference").values()])
    for key, value in net.chip_drift().items():
        np.testing.assert_array_equal(value, drift[key])
    exact = np.concatenate([v.ravel() for v in net.backward(g, method="adjoint").values()])
    measured = np.concatenate([v.ravel() for v in net.backward(g, method="in_situ").values()])
    # a drift step between the ±h evaluations would move them by ~0.05 rad ≫ h
    assert np.linalg.norm(fd - exact) < 1e-6 * np.linalg.norm(exact)
    assert np.linalg.norm(measured - exact) < 1e-9 * np.linalg.norm(exact)


def _probe_by_probe(net: PhotonicNetwork, x: np.ndarray, g: np.ndarray) -> dict[str, Any]:
    """The finite-difference gradient the long way: ``set_params`` and ``forward`` of the
    whole network for every ``±h`` (a chip without drift takes no drift step)."""
    base, h = net.params(), net.fd_step_rad
    grads = {}
    for key, value in base.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            losses = []
            for sign in (1.0, -1.0):
                trial = {k: v.copy() for k, v in base.items()}
                trial[key][index] += sign * h
                net.set_params(trial)
                losses.append(float(np.sum(g * net.forward(x))))
            grad[index] = (losses[0] - losses[1]) / (2 * h)
        grads[key] = grad
    net.set_params(base)
    return grads


@pytest.mark.parametrize("chip_kind", ["ideal", "static", "noisy", "svd"])
def test_finite_differences_equal_probing_the_whole_network_bit_for_bit(chip_kind: str) -> None:
    """The probes reprogram and recompose only the mesh they perturb (the other meshes'
    matrices are reused): the gradient, and the noise drawn, are exactly those of
    programming and sending the whole network through for every probe."""

    def build() -> PhotonicNetwork:
        if chip_kind == "svd":
            chip = static_chip(Mesh.clements(4))
            return PhotonicNetwork(
                4, 2, n_features=3, layer_kind="svd", chip=chip, rng=np.random.default_rng(1)
            )
        chip = {
            "ideal": None,
            "static": static_chip(Mesh.reck(4), dac_bits=8, crosstalk=0.02),
            "noisy": Chip.draw(Mesh.reck(4), np.random.default_rng(3)),  # every default
        }[chip_kind]
        return PhotonicNetwork.pai2023(
            chip, rng=np.random.default_rng(1), noise_rng=np.random.default_rng(2)
        )

    net, twin = build(), build()
    x = np.random.default_rng(4).normal(size=(5, net.n_features))
    g = np.random.default_rng(5).normal(size=(5, net.n_outputs))
    net.recorder = Recorder()
    net.forward(x)
    twin.forward(x)
    fd = net.backward(g, method="finite_difference")
    reference = _probe_by_probe(twin, x, g)
    assert fd.keys() == reference.keys()
    for key in fd:
        np.testing.assert_array_equal(fd[key], reference[key])
    np.testing.assert_array_equal(net.forward(x), twin.forward(x))  # same noise drawn
    n_probes = 2 * sum(v.size for v in fd.values())
    probes = [op for op in net.recorder.ops if op.kind == "mesh_pass" and op.direction == "probe"]
    assert len(probes) == n_probes * net.n_layers


def test_set_chip_drift_checks_everything_before_it_changes_anything() -> None:
    chip = Chip.draw(Mesh.reck(4), np.random.default_rng(0), drift_rad_per_step=0.05)
    net = PhotonicNetwork.pai2023(
        chip, rng=np.random.default_rng(1), noise_rng=np.random.default_rng(2)
    )
    net.set_params(net.params())

    def moved(drift: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # valid values unlike the current ones, so that a partial update would show
        return {key: value + 0.25 for key, value in drift.items()}

    cases = [
        ({"layer1.theta_rad": np.zeros(5)}, r"drift\['layer1.theta_rad'\] must hold 6"),
        ({"layer1.phi_rad": np.full(6, np.nan)}, "finite phases"),
        ({"layer1.bogus": np.zeros(6)}, "unknown keys"),
        ({"layer9.theta_rad": np.zeros(6)}, "'layer9', which is not a mesh on a drifting chip"),
    ]
    for change, match in cases:
        good = net.chip_drift()
        with pytest.raises(ValueError, match=match):
            net.set_chip_drift({**moved(good), **change})
        for key, value in net.chip_drift().items():  # unchanged, and still programmable
            np.testing.assert_array_equal(value, good[key])
        net.set_params(net.params())


def test_an_svd_layer_is_one_pass_through_two_meshes() -> None:
    """V, the attenuators and U are one coherent pass (the physics feeds V's field into U
    undetected): the layer's DACs, ADCs and link are paid once, as for a unitary layer
    (two full mesh passes charged them twice); its light crosses two meshes, so it has
    twice one mesh's optical delay and the laser is sized for twice its loss (a record
    of V as a conversion-free pass had sized it for one mesh: 4.4x too little light at
    N = 64 on eo-integrated), plus one column of attenuator MZIs; and it computes one
    N x N product: N² MACs per vector."""
    from sim.engine import simulate
    from sim.hardware import laser_electrical_power_mw
    from sim.presets import load_preset
    from sim.report import mesh_macs

    rng = np.random.default_rng(5)
    costs = {}
    for kind in ("unitary", "svd"):
        net = PhotonicNetwork(4, 2, n_features=2, rng=rng, layer_kind=kind)  # type: ignore[arg-type]
        net.recorder = Recorder()
        net.forward(rng.normal(size=(3, 2)))
        passes = [op for op in net.recorder.ops if op.kind == "mesh_pass"]
        assert [op.meshes for op in passes] == [2 if kind == "svd" else 1] * 2
        assert mesh_macs(net.recorder.ops) == 2 * 3 * 4**2  # 2 layers, 3 vectors, N²
        tl = simulate(net.recorder.ops, "thermal-integrated", n_shifters=16)
        costs[kind] = (sum(op.conversions for op in passes), tl)
    assert costs["svd"][0] == costs["unitary"][0] == 2 * (2 * 3 * 4)  # 2 layers: B·N in, B·N out
    unitary, svd = costs["unitary"][1], costs["svd"][1]
    for component in ("input_dac", "modulator", "detector_adc", "link"):
        assert svd.energy_by_component_pj[component] == pytest.approx(
            unitary.energy_by_component_pj[component]
        )
    # per layer V's 4 columns and the attenuator column more, 0.01 ns each (thermal-integrated)
    delay = 2 * (4 + 1) * 0.01
    assert svd.latency_ns == pytest.approx(unitary.latency_ns + delay)
    hw = load_preset("thermal-integrated")
    more_db = (4 + 1) * hw.mesh.loss_db_per_mzi  # 4 Clements columns and the attenuators
    assert laser_electrical_power_mw(4, hw, meshes=2) == pytest.approx(
        laser_electrical_power_mw(4, hw) * 10 ** (more_db / 10)
    )
    assert svd.energy_by_component_pj["laser"] > unitary.energy_by_component_pj["laser"]


def test_a_forward_that_fails_leaves_nothing_for_backward() -> None:
    """A failed forward() kept the previous batch's cache, so backward() went on with
    gradients of a batch the caller no longer had."""
    net = PhotonicNetwork(4, 2, n_features=2, rng=np.random.default_rng(0))
    y = net.forward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="x"):
        net.forward(np.full((3, 2), np.nan))
    with pytest.raises(RuntimeError, match=r"backward\(\) needs a forward\(\) first"):
        net.backward(np.ones_like(y))


@pytest.mark.parametrize("method", ["adjoint", "in_situ", "analog", "finite_difference"])
def test_a_grad_output_that_overflows_the_adjoint_is_refused_by_name(method: str) -> None:
    """grad_output of 1e308 overflows 2·conj(y)·readout_scale·grad_output: the error
    said "delta holds 8 NaN or infinite value(s)" (an internal name) after a
    RuntimeWarning; it must name grad_output, and 1e300 must still work."""
    net = PhotonicNetwork.pai2023(rng=np.random.default_rng(0))
    y = net.forward(np.random.default_rng(1).normal(size=(4, 2)))
    match = r"grad_output is too large: the adjoint fields .* overflow.*= 1e\+308"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=match):
            net.backward(np.full_like(y, 1e308), method=method)
    if method == "adjoint":  # exact: linear in grad_output (and not all ones: the
        # total power a lossless chip conserves has no gradient)
        g = np.random.default_rng(2).normal(size=y.shape)
        big, small = net.backward(1e300 * g), net.backward(g)
        largest = max(float(np.max(np.abs(v))) for v in small.values())
        for key in big:  # atol: out_rad of the last layer has no gradient (round-off)
            np.testing.assert_allclose(
                big[key] / 1e300, small[key], rtol=1e-12, atol=1e-14 * largest
            )


def test_resuming_with_an_activation_of_other_settings_is_refused(tmp_path: Any) -> None:
    """checkpoint_settings named the activations only, so a run checkpointed with
    modrelu(bias=-0.05) resumed silently with modrelu(bias=-0.4): another function."""
    from digital.activations import electro_optic, modrelu
    from digital.train import Checkpoint

    def network(activation: Any) -> PhotonicNetwork:
        return PhotonicNetwork(
            4, 2, n_features=2, bias_ports=2, activation=activation, rng=np.random.default_rng(1)
        )

    for a, b in (
        (modrelu(-0.05), modrelu(-0.4)),
        (electro_optic(), electro_optic(gain_rad=4 * np.pi)),
    ):
        assert network(a).checkpoint_settings() != network(b).checkpoint_settings()
    assert (
        network(modrelu(-0.05)).checkpoint_settings()
        == network(modrelu(-0.05)).checkpoint_settings()
    )

    data = load("moons", n_samples=40, rng=np.random.default_rng(0))
    path = tmp_path / "ckpt.npz"

    def fit(net: PhotonicNetwork, epochs: int, existing: str) -> None:
        train(
            net,
            data,
            loss="softmax_cross_entropy",
            optimizer=Adam(lr=0.02),
            epochs=epochs,
            batch_size=16,
            rng=np.random.default_rng(2),
            progress="off",
            checkpoint=Checkpoint(path, existing=existing),  # type: ignore[arg-type]
        )

    fit(network(modrelu(-0.05)), 1, "refuse")
    with pytest.raises(ValueError, match=r"belongs to another run: network\.activation_settings"):
        fit(network(modrelu(-0.4)), 2, "resume")
    fit(network(modrelu(-0.05)), 2, "resume")  # the same network goes on


def test_finite_differences_refuse_a_grad_output_whose_probed_losses_overflow() -> None:
    """grad_output·outputs summed over the batch overflowed in every probe while the
    adjoint fields 2·conj(y)·grad_output did not: backward(method="finite_difference")
    returned NaN gradients with only a RuntimeWarning (never a silent NaN)."""
    net = PhotonicNetwork(4, 2, n_features=2, rng=np.random.default_rng(0))
    y = net.forward(np.full((4, 2), 1e50))
    before = net.params()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"grad_output is too large: the probed losses"):
            net.backward(np.full_like(y, 3e208), method="finite_difference")
        for key, value in net.params().items():  # the probes are undone
            np.testing.assert_array_equal(value, before[key])
        grads = net.backward(np.full_like(y, 1e200), method="finite_difference")
    assert all(np.isfinite(v).all() for v in grads.values())


@pytest.mark.parametrize("method", ["in_situ", "analog"])
def test_a_measured_gradient_names_grad_output_when_the_adjoint_power_overflows(
    method: str,
) -> None:
    """The measurement scales δ by its power Σ|δ|², which overflows from |δ| ≈ 1e154:
    grad_output = 1e300 was refused as "delta is too large", a name the caller of
    backward never gave."""
    net = PhotonicNetwork.pai2023(rng=np.random.default_rng(0))
    y = net.forward(np.random.default_rng(1).normal(size=(4, 2)))
    with warnings.catch_warnings():  # refused, with no RuntimeWarning on the way
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"grad_output is too large: the powers per sample"):
            net.backward(np.full_like(y, 1e300), method=method)
    grads = net.backward(np.full_like(y, 1e150), method=method)
    assert all(np.isfinite(v).all() for v in grads.values())


def test_finite_difference_gradient_is_of_the_forward_pass_not_of_the_callers_array() -> None:
    """forward() kept the caller's float64 ``x`` itself for the finite-difference probes:
    reusing that array before backward() (a minibatch buffer) silently gave the gradient
    of other inputs, disagreeing with the adjoint one of the same forward pass."""
    rng = np.random.default_rng(0)
    net = PhotonicNetwork.pai2023(rng=rng)
    x = np.array([[0.3, 0.5], [0.1, -0.2]])
    g = np.array([[1.0, 0.0], [0.0, 1.0]])
    net.forward(x)
    x[:] = [[5.0, -3.0], [2.0, 7.0]]  # the caller's buffer, refilled
    exact = flat(net.backward(g, method="adjoint"))
    probed = flat(net.backward(g, method="finite_difference"))
    np.testing.assert_allclose(probed, exact, atol=1e-6)


def test_an_empty_batch_on_a_chip_with_phase_noise_is_an_empty_batch() -> None:
    """On an ideal chip forward() of 0 samples gives (0, n_outputs); with per-pass phase
    noise it raised "n_samples=0 must be an integer ≥ 1", a parameter the caller never
    passed. No pass is sent, so nothing is drawn either."""
    rng = np.random.default_rng(0)
    chip = Chip.draw(Mesh.reck(4), rng, dac_bits=None, adc_bits=None)
    noise_rng = np.random.default_rng(1)
    net = PhotonicNetwork.pai2023(chip, rng=rng, noise_rng=noise_rng)
    state = noise_rng.bit_generator.state
    y = net.forward(np.zeros((0, 2)))
    assert y.shape == (0, 2)
    grads = net.backward(np.zeros((0, 2)), method="adjoint")
    assert all(np.all(v == 0) for v in grads.values())
    grads = net.backward(np.zeros((0, 2)), method="finite_difference")
    assert all(np.all(v == 0) for v in grads.values())
    assert noise_rng.bit_generator.state == state


@pytest.mark.parametrize("params", [None, 3, ["layer1.theta_rad"], "layer1.theta_rad"])
def test_set_params_refuses_what_is_not_a_dict_by_name(params: Any) -> None:
    """set_params(None) raised a bare "'NoneType' object is not iterable", and a list or
    a string was read as a set of keys ("has unknown keys ['a', 'b', …]"); MLP.set_params
    refuses them as not a dict."""
    net = PhotonicNetwork.pai2023(rng=np.random.default_rng(0))
    before = net.params()
    with pytest.raises(TypeError, match=r"params is a \w+; expected a dict of arrays keyed"):
        net.set_params(params)
    for key, value in net.params().items():
        np.testing.assert_array_equal(value, before[key])


def test_a_network_without_a_recorder_builds_no_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Op records are built only for a recorder: a finite-difference gradient sends the
    batch through thousands of times, and every unrecorded op was work thrown away."""
    import photonic.network as network_module

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an op was built with no recorder attached")

    net = PhotonicNetwork.pai2023(rng=np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(3, 2))
    g = np.ones((3, 2))
    net.forward(x)  # an ideal chip: every pass gives the same numbers
    expected = {m: net.backward(g, method=m) for m in ("adjoint", "finite_difference")}
    monkeypatch.setattr(network_module, "activation_op", refuse)
    monkeypatch.setattr(network_module.ops, "digital_compute", refuse)
    monkeypatch.setattr(network_module.ops, "mesh_pass", refuse)
    monkeypatch.setattr(network_module.ops, "phase_update", refuse)
    net.forward(x)
    for method, grads in expected.items():
        got = net.backward(g, method=method)
        for key in grads:
            np.testing.assert_array_equal(got[key], grads[key])
