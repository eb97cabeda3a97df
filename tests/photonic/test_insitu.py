"""Measured gradients: exact on an ideal chip, the loss physics, the two modes agree."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from photonic import insitu
from photonic.imperfections import NO_IMPERFECTIONS, Chip, phase_noise, read_power
from photonic.insitu import (
    COMBINE_FLOPS,
    InferencePass,
    measure_finite_difference,
    measure_in_situ,
)
from photonic.mesh import Mesh, Phases, TapPowers
from photonic.network import PhotonicNetwork
from sim.ops import Recorder

TOPOLOGIES = ("clements", "reck")


def quiet_chip(mesh: Mesh, rng: np.random.Generator, **changes: float) -> Chip:
    """A chip with nothing switched on, then the given imperfections."""
    return Chip.draw(mesh, rng, **(NO_IMPERFECTIONS | changes))


def problem(topology: str, n: int, n_samples: int, seed: int, chip: Chip | None = None):
    """A mesh, phases, inputs, the power-loss weights w = dL/dP and δ = 2 conj(y) w."""
    rng = np.random.default_rng(seed)
    mesh = Mesh.clements(n) if topology == "clements" else Mesh.reck(n)
    phases = mesh.random_phases(rng)
    x = rng.normal(size=(n_samples, n)) + 1j * rng.normal(size=(n_samples, n))
    w = rng.normal(size=(n_samples, n))
    y = mesh.forward(phases, x, chip)
    return mesh, phases, x, w, 2 * np.conj(y) * w


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("method", ["in_situ", "analog"])
@pytest.mark.parametrize("mode", ["per_sample", "aggregated"])
@pytest.mark.parametrize(("n", "static"), [(6, False), (6, True), (24, True)])
def test_lossless_noiseless_chip_measures_the_exact_gradient(
    topology: str, method: str, mode: str, n: int, static: bool
) -> None:
    """Ideal chip, or lossless with splitting errors and phase offsets (N = 24: blocked kernels)."""
    mesh = Mesh.clements(n) if topology == "clements" else Mesh.reck(n)
    chip = None
    if static:
        chip = quiet_chip(
            mesh, np.random.default_rng(5), splitting_error_std_rad=0.05, phase_offset_std_rad=0.1
        )
    _, phases, x, _, delta = problem(topology, n, 4, seed=1, chip=chip)
    exact = mesh.phase_gradients(phases, x, delta, chip)
    m = measure_in_situ(
        mesh, phases, x, delta, chip, np.random.default_rng(0), method=method, mode=mode
    )
    assert relative(m.gradients.to_vector(), exact.to_vector()) <= 1e-9
    np.testing.assert_allclose(
        m.input_adjoint, delta @ mesh.matrix(phases, chip), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_finite_differences_on_an_ideal_chip(topology: str) -> None:
    mesh, phases, x, w, delta = problem(topology, 5, 3, seed=2)
    exact = mesh.phase_gradients(phases, x, delta).to_vector()
    m = measure_finite_difference(mesh, phases, x, w, None, np.random.default_rng(0))
    assert relative(m.gradients.to_vector(), exact) <= 1e-5
    assert m.passes == 2 * mesh.n_phases


@pytest.mark.parametrize(
    ("changes", "step_rad"),
    [
        ({}, insitu.DEFAULT_FD_STEP_RAD),
        ({"tap_noise": 0.01}, insitu.NOISY_FD_STEP_RAD),
        ({"phase_noise_rad": 0.01}, insitu.NOISY_FD_STEP_RAD),
        ({"adc_bits": 8}, insitu.NOISY_FD_STEP_RAD),
        ({"drift_rad_per_step": 0.01}, insitu.NOISY_FD_STEP_RAD),
    ],
)
def test_finite_differences_choose_their_step_as_the_network_does(
    changes: dict[str, float], step_rad: float
) -> None:
    """The default step was 1e-4 rad whatever the chip: on a chip with 1 % detector
    noise the estimate was noise (cosine 0.17 to the exact gradient), while
    PhotonicNetwork took 0.1 rad there. Both now take fd_step_rad_for(chip)."""
    mesh = Mesh.clements(4)
    chip = quiet_chip(mesh, np.random.default_rng(3), **changes)
    assert insitu.fd_step_rad_for(chip) == step_rad
    assert chip.is_noisy == (step_rad == insitu.NOISY_FD_STEP_RAD and "adc_bits" not in changes)
    net = PhotonicNetwork(
        4,
        2,
        n_features=2,
        chip=chip,
        rng=np.random.default_rng(0),
        noise_rng=np.random.default_rng(1),
    )
    assert net.fd_step_rad == step_rad
    if changes.keys() <= {"tap_noise"}:  # what measure_finite_difference measures
        _, phases, x, w, delta = problem("clements", 4, 64, seed=8, chip=chip)
        exact = mesh.phase_gradients(phases, x, delta, chip).to_vector()
        got = measure_finite_difference(mesh, phases, x, w, chip, np.random.default_rng(2))
        cosine = got.gradients.to_vector() @ exact / np.linalg.norm(exact)
        assert cosine / np.linalg.norm(got.gradients.to_vector()) > 0.95


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_loss_breaks_the_three_pass_estimate_but_not_the_two_pass_one(topology: str) -> None:
    """0.2 dB per MZI, no noise: time reversal fails, the ± difference survives."""
    rng = np.random.default_rng(3)
    mesh0 = Mesh.clements(8) if topology == "clements" else Mesh.reck(8)
    chip = quiet_chip(mesh0, rng, loss_db_per_mzi=0.2)
    mesh, phases, x, _, delta = problem(topology, 8, 6, seed=3, chip=chip)
    exact = mesh.phase_gradients(phases, x, delta, chip).to_vector()
    three = measure_in_situ(mesh, phases, x, delta, chip, rng, method="in_situ")
    two = measure_in_situ(mesh, phases, x, delta, chip, rng, method="analog")
    cos3 = cosine(three.gradients.to_vector(), exact)
    cos2 = cosine(two.gradients.to_vector(), exact)
    assert cos2 > 0.98
    assert cos3 < 0.9
    # Still exact for the adjoint field itself: reciprocity holds with loss.
    np.testing.assert_allclose(
        two.input_adjoint, delta @ mesh.matrix(phases, chip), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("method", ["in_situ", "analog"])
@pytest.mark.parametrize("n", [6, 24])
def test_modes_read_the_same_powers_on_a_noiseless_lossy_chip(
    topology: str, method: str, n: int
) -> None:
    """Without noise the batch sums of per-sample readings are the aggregated readings.

    On a lossy chip the 3-pass result differs from the exact gradient, so this checks
    each pass's own readings (aggregated mode reads two passes in one sweep).
    """
    rng = np.random.default_rng(5)
    mesh0 = Mesh.clements(n) if topology == "clements" else Mesh.reck(n)
    chip = quiet_chip(
        mesh0, rng, loss_db_per_mzi=0.3, loss_spread_db=0.05, splitting_error_std_rad=0.03
    )
    mesh, phases, x, _, delta = problem(topology, n, 5, seed=5, chip=chip)
    got = {
        mode: measure_in_situ(
            mesh, phases, x, delta, chip, rng, method=method, mode=mode
        ).gradients.to_vector()
        for mode in ("per_sample", "aggregated")
    }
    assert relative(got["aggregated"], got["per_sample"]) <= 1e-10
    exact = mesh.phase_gradients(phases, x, delta, chip).to_vector()
    if method == "in_situ":
        assert relative(got["aggregated"], exact) > 1e-3  # lossy: not the closed form


def test_a_given_transfer_is_used_and_must_match(monkeypatch: pytest.MonkeyPatch) -> None:
    mesh, phases, x, _, delta = problem("clements", 6, 4, seed=6)
    rng = np.random.default_rng(0)
    transfer = mesh.transfer(phases)
    without = measure_in_situ(mesh, phases, x, delta, None, rng, mode="aggregated")

    def no_composing(*args: object, **kwargs: object) -> None:
        raise AssertionError("composed again although a transfer was given")

    with monkeypatch.context() as patch:
        patch.setattr(Mesh, "transfer", no_composing)
        copy = Phases(phases.theta_rad.copy(), phases.phi_rad.copy(), phases.out_rad.copy())
        for same in (phases, copy):  # equal values are enough
            given = measure_in_situ(
                mesh, same, x, delta, None, rng, mode="aggregated", transfer=transfer
            )
            np.testing.assert_allclose(given.gradients.to_vector(), without.gradients.to_vector())
    other = mesh.random_phases(rng)
    with pytest.raises(ValueError, match="transfer was composed for other phases"):
        measure_in_situ(mesh, other, x, delta, None, rng, mode="aggregated", transfer=transfer)
    phases.theta_rad[0] += 0.1  # changed in place after composing: refused, not stale
    with pytest.raises(ValueError, match="transfer was composed for other phases"):
        measure_in_situ(mesh, phases, x, delta, None, rng, mode="aggregated", transfer=transfer)
    chip = quiet_chip(mesh, rng)
    with pytest.raises(ValueError, match="another chip"):
        measure_in_situ(
            mesh, phases, x, delta, chip, rng, mode="aggregated", transfer=mesh.transfer(phases)
        )
    with pytest.raises(ValueError, match="transfer was composed for other phases"):
        measure_in_situ(mesh, other, x, delta, None, rng, mode="per_sample", transfer=transfer)


@pytest.mark.parametrize(
    "method", ["in_situ", "analog", "in_situ+inference"], ids=["3-pass", "analog", "inference"]
)
@pytest.mark.parametrize("noise", ["tap noise", "phase noise"])
def test_per_sample_passes_take_the_transfer_matrices(
    monkeypatch: pytest.MonkeyPatch, method: str, noise: str
) -> None:
    """Passes that see the programmed phases use the transfer's MZI matrices, draw for draw
    the same readings; passes with per-pass phase noise (the inference pass's own, too)
    build their own, as before."""
    mesh0 = Mesh.clements(8)
    rng = np.random.default_rng(13)
    changes = {"tap_noise": 0.02} if noise == "tap noise" else {"phase_noise_rad": 0.01}
    chip = quiet_chip(mesh0, rng, loss_db_per_mzi=0.2, **changes)
    mesh, phases, x, _, delta = problem("clements", 8, 5, seed=13, chip=chip)
    transfer = mesh.transfer(phases, chip)
    kwargs: dict[str, object] = {"method": method.split("+")[0], "mode": "per_sample"}
    if method.endswith("inference"):  # the phases the inference pass saw
        seen = phases if noise == "tap noise" else phase_noise(phases, chip, rng, n_samples=5)
        kwargs["inference"] = InferencePass(x, seen)
    without = measure_in_situ(mesh, phases, x, delta, chip, np.random.default_rng(1), **kwargs)
    halves = Mesh._halves_at
    calls = []

    def counted(self: Mesh, *args: object) -> object:
        calls.append(1)
        return halves(self, *args)

    monkeypatch.setattr(Mesh, "_halves_at", counted)
    given = measure_in_situ(
        mesh, phases, x, delta, chip, np.random.default_rng(1), transfer=transfer, **kwargs
    )
    np.testing.assert_allclose(
        given.gradients.to_vector(), without.gradients.to_vector(), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(given.input_adjoint, without.input_adjoint, rtol=1e-12)
    assert (len(calls) == 0) == (noise == "tap noise")


@pytest.mark.parametrize("loss_db", [0.3, 0.0], ids=["lossy", "lossless"])
@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("n", [6, 24])
def test_aggregated_readings_are_each_pass_summed(topology: str, n: int, loss_db: float) -> None:
    """Both passes of one sweep, and the adjoint sweep, equal Σ_b of the per-sample taps.

    Pass b carries 1e-8 of pass a's power: each keeps its own relative precision. The
    adjoint sweep inverts lossy MZIs and reuses the forward groups of lossless ones.
    """
    rng = np.random.default_rng(8)
    mesh0 = Mesh.clements(n) if topology == "clements" else Mesh.reck(n)
    chip = quiet_chip(mesh0, rng, loss_db_per_mzi=loss_db, splitting_error_std_rad=0.03)
    mesh, phases, x_a, _, delta = problem(topology, n, 5, seed=8, chip=chip)
    x_b = 1e-4 * (rng.normal(size=x_a.shape) + 1j * rng.normal(size=x_a.shape))
    transfer = mesh.transfer(phases, chip)
    pass_a, pass_b = insitu._aggregate_forward(transfer, x_a, x_b)
    adjoint = insitu._aggregate_adjoint(transfer, delta, transfer.adjoint(delta))
    for got, taps in (
        (pass_a, mesh.tap_powers(phases, x_a, chip)),
        (pass_b, mesh.tap_powers(phases, x_b, chip)),
        (adjoint, mesh.adjoint_tap_powers(phases, delta, chip)),
    ):
        for reading, powers in zip(got, (taps.theta, taps.phi, taps.out), strict=True):
            want = powers.sum(axis=0)
            assert relative(reading, want) <= 1e-12


@pytest.mark.parametrize(
    "noise",
    [
        {"tap_noise": 0.02},
        {"io_amplitude_error": 0.02, "io_phase_error": 0.02},
        {"tap_noise": 0.01, "io_phase_error": 0.01, "loss_db_per_mzi": 0.2},
    ],
    ids=["tap", "io", "mixed-lossy"],
)
def test_aggregated_and_per_sample_agree_in_mean_and_variance(noise: dict) -> None:
    """Both modes draw the measured gradient from the same distribution."""
    rng = np.random.default_rng(4)
    mesh = Mesh.clements(4)
    chip = quiet_chip(mesh, rng, **noise)
    _, phases, x, _, delta = problem("clements", 4, 3, seed=4, chip=chip)
    draws = 400
    samples = {
        mode: np.array(
            [
                measure_in_situ(mesh, phases, x, delta, chip, rng, mode=mode).gradients.to_vector()
                for _ in range(draws)
            ]
        )
        for mode in ("per_sample", "aggregated")
    }
    a, b = samples["per_sample"], samples["aggregated"]
    se = np.sqrt((a.var(axis=0) + b.var(axis=0)) / draws)
    assert np.max(np.abs(a.mean(axis=0) - b.mean(axis=0)) / se) < 5.0
    ratio = a.var(axis=0) / b.var(axis=0)
    assert np.all((ratio > 0.7) & (ratio < 1.45))
    assert np.all(a.std(axis=0) > 0)  # the noise is really there


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("method", ["in_situ", "analog"])
def test_modes_agree_on_a_mesh_large_enough_for_the_blocked_kernels(
    topology: str, method: str
) -> None:
    """N = 24 runs the blocked sweeps; a lossy chip with tap noise and I/O errors.

    Hundreds of components: their z-scores are pooled (mean z² ≈ 1 if the means
    agree) and the variance ratios judged by their median.
    """
    rng = np.random.default_rng(16)
    mesh = Mesh.clements(24) if topology == "clements" else Mesh.reck(24)
    noise = {"tap_noise": 0.05, "io_amplitude_error": 0.005, "io_phase_error": 0.005}
    chip = quiet_chip(mesh, rng, loss_db_per_mzi=0.2, splitting_error_std_rad=0.05, **noise)
    _, phases, x, _, delta = problem(topology, 24, 4, seed=16, chip=chip)
    draws = 300
    a, b = (
        np.array(
            [
                measure_in_situ(
                    mesh,
                    phases,
                    x,
                    delta,
                    chip,
                    rng,
                    method=method,
                    mode=mode,  # type: ignore[arg-type]
                ).gradients.to_vector()
                for _ in range(draws)
            ]
        )
        for mode in ("per_sample", "aggregated")
    )
    z = (a.mean(axis=0) - b.mean(axis=0)) / np.sqrt((a.var(axis=0) + b.var(axis=0)) / draws)
    assert np.mean(z**2) < 1.5 and np.max(np.abs(z)) < 5.5
    assert 0.9 < np.median(a.var(axis=0) / b.var(axis=0)) < 1.1
    assert np.all(a.std(axis=0) > 0)


def test_per_sample_reads_column_by_column_as_it_reads_a_stored_pass() -> None:
    """Without an ADC the taps are read as the pass goes, with one after it: same statistics.

    A 40-bit ADC quantizes far below the noise, so it only switches the implementation
    (with ``detector_clip="none"`` it does not saturate either).
    """
    rng = np.random.default_rng(15)
    mesh = Mesh.clements(4)
    chips = {
        bits: quiet_chip(mesh, np.random.default_rng(1), tap_noise=0.05, adc_bits=bits)
        for bits in (None, 40)
    }
    _, phases, x, _, delta = problem("clements", 4, 3, seed=15, chip=chips[None])
    draws = 400
    samples = [
        np.array(
            [
                measure_in_situ(mesh, phases, x, delta, chip, rng).gradients.to_vector()
                for _ in range(draws)
            ]
        )
        for chip in chips.values()
    ]
    a, b = samples
    se = np.sqrt((a.var(axis=0) + b.var(axis=0)) / draws)
    assert np.max(np.abs(a.mean(axis=0) - b.mean(axis=0)) / se) < 5.0
    ratio = a.var(axis=0) / b.var(axis=0)
    assert np.all((ratio > 0.7) & (ratio < 1.45))
    assert np.all(a.std(axis=0) > 0)


@pytest.mark.parametrize("clip", ["none", "zero"])
def test_the_column_detector_reads_as_read_power_does(clip: str) -> None:
    """Noise, clipping and the batch sum of one column's taps: read_power's, draw for draw."""
    rng = np.random.default_rng(16)
    mesh = Mesh.clements(4)
    chip = quiet_chip(mesh, rng, tap_noise=0.5)
    fields = 0.3 * (rng.normal(size=(3, 50)) + 1j * rng.normal(size=(3, 50)))
    read = insitu._detector(chip, np.random.default_rng(2), clip)  # type: ignore[arg-type]
    assert read is not None
    got = read(fields)
    want = read_power(np.abs(fields) ** 2, chip, np.random.default_rng(2), clip=clip)  # type: ignore[arg-type]
    np.testing.assert_allclose(got, want.sum(axis=1), rtol=1e-12)
    assert (want.min() < 0) == (clip == "none")  # weak light: the noise goes below 0
    assert insitu._detector(quiet_chip(mesh, rng), rng, clip) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("direction", ["forward", "adjoint"])
def test_an_adc_reads_every_tap_on_its_own_grid(direction: str) -> None:
    """With an ADC each reading is a level k·FS/(2^bits − 1), FS the brightest tap of its kind."""
    rng = np.random.default_rng(17)
    mesh = Mesh.reck(5)
    chip = quiet_chip(mesh, rng, tap_noise=0.05, adc_bits=4)
    phases = mesh.random_phases(rng)
    x = rng.normal(size=(6, 5)) + 1j * rng.normal(size=(6, 5))
    readings, _ = insitu._read_pass(mesh, phases, x, chip, rng, "zero", direction=direction)  # type: ignore[arg-type]
    pass_ = mesh.tap_powers if direction == "forward" else mesh.adjoint_tap_powers
    taps = pass_(phases, x, chip)
    for reading, powers in zip(readings, (taps.theta, taps.phi, taps.out), strict=True):
        levels = reading / (powers.max() / (2**4 - 1))
        np.testing.assert_allclose(levels, np.round(levels), rtol=0, atol=1e-9)


def test_noise_is_seeded() -> None:
    rng = np.random.default_rng(5)
    mesh = Mesh.reck(4)
    chip = Chip.draw(mesh, rng)  # every default imperfection, per-pass noise included
    _, phases, x, _, delta = problem("reck", 4, 3, seed=5, chip=chip)
    runs = [
        measure_in_situ(mesh, phases, x, delta, chip, np.random.default_rng(9)).gradients
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].to_vector(), runs[1].to_vector())


@pytest.mark.parametrize(
    ("changes", "clip", "match"),
    [
        ({"phase_noise_rad": 0.01}, "none", "phase noise"),
        ({"adc_bits": 8}, "none", "ADC"),
        ({}, "zero", "clipping"),
    ],
)
def test_aggregated_mode_refuses_what_it_cannot_represent(
    changes: dict, clip: str, match: str
) -> None:
    rng = np.random.default_rng(6)
    mesh = Mesh.clements(4)
    chip = quiet_chip(mesh, rng, **changes)
    _, phases, x, _, delta = problem("clements", 4, 2, seed=6)
    with pytest.raises(ValueError, match=match):
        measure_in_situ(mesh, phases, x, delta, chip, rng, mode="aggregated", detector_clip=clip)  # type: ignore[arg-type]


def test_ops_are_recorded_for_every_pass() -> None:
    mesh, phases, x, _, delta = problem("clements", 4, 3, seed=7)
    rec = Recorder()
    measure_in_situ(mesh, phases, x, delta, None, np.random.default_rng(0), recorder=rec)
    assert [(o.kind, o.direction) for o in rec.ops] == [
        ("mesh_pass", "adjoint"),
        ("tap_readout", "adjoint"),
        ("mesh_pass", "forward"),
        ("tap_readout", "forward"),
        ("mesh_pass", "sum"),
        ("tap_readout", "sum"),
        ("digital_compute", "backward"),  # the host combines the readings
    ]
    assert all(o.n_samples == 3 for o in rec.ops)
    assert rec.ops[1].n_phases == mesh.n_phases
    n = mesh.n_ports
    # every injected field is complex (x too, here), so 2 DAC samples per port (I, Q);
    # adjoint: δ in, x̂ measured (I, Q); forward: x in, the output field measured (I, Q:
    # the adjoint source needs its phase); sum: only taps read
    assert [o.inject for o in rec.ops[:6:2]] == ["field"] * 3
    assert [o.conversions for o in rec.ops[:6:2]] == [4 * 3 * n, 4 * 3 * n, 2 * 3 * n]
    assert all(o.conversions == 3 * mesh.n_phases for o in rec.ops[1:6:2])  # every sample
    assert rec.ops[-1].flops == COMBINE_FLOPS * 3 * mesh.n_phases  # every sample's readings
    rec = Recorder()
    measure_in_situ(
        mesh, phases, x, delta, None, np.random.default_rng(0), mode="aggregated", recorder=rec
    )
    assert [o.conversions for o in rec.ops[1:6:2]] == [mesh.n_phases] * 3  # batch-integrated
    assert rec.ops[-1].flops == COMBINE_FLOPS * mesh.n_phases  # the batch sums


@pytest.mark.parametrize("mode", ["per_sample", "aggregated"])
def test_analog_records_an_adjoint_pass_without_taps_then_two_read_passes(mode: str) -> None:
    mesh, phases, x, _, delta = problem("clements", 4, 3, seed=7)
    rec = Recorder()
    measure_in_situ(
        mesh,
        phases,
        x,
        delta,
        None,
        np.random.default_rng(0),
        method="analog",
        mode=mode,  # type: ignore[arg-type]
        recorder=rec,
    )
    assert [(o.kind, o.direction) for o in rec.ops] == [
        ("mesh_pass", "adjoint"),  # x̂ only: the analog method reads no adjoint taps
        ("mesh_pass", "sum"),
        ("tap_readout", "sum"),
        ("mesh_pass", "sum"),
        ("tap_readout", "sum"),
        ("digital_compute", "backward"),
    ]
    n, per_read = mesh.n_ports, (3 if mode == "per_sample" else 1) * mesh.n_phases
    # δ and x ∓ i·conj(x̂) are complex: 2 DAC samples per port (I, Q); x̂ read as I, Q
    assert [o.inject for o in rec.ops if o.kind == "mesh_pass"] == ["field"] * 3
    assert [o.conversions for o in rec.ops[:5]] == [12 * n, 6 * n, per_read, 6 * n, per_read]
    assert rec.ops[-1].flops == COMBINE_FLOPS * per_read
    assert all(o.n_phases == mesh.n_phases for o in rec.ops if o.kind == "tap_readout")


@pytest.mark.parametrize("method", ["in_situ", "analog"])
def test_complex_injections_are_recorded_as_fields_a_real_x_as_amplitudes(method: str) -> None:
    """δ, x − i·conj(x̂) and x ∓ i·conj(x̂) are complex: amplitude and phase at every port,
    two DAC samples per port (I and Q). They were recorded as one sample per port, like
    the real amplitudes a forward pass of real features injects."""
    mesh, phases, _, _, _ = problem("clements", 4, 2, seed=3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4))  # real amplitudes
    delta = 2 * np.conj(mesh.forward(phases, x)) * rng.normal(size=(2, 4))
    rec = Recorder()
    measure_in_situ(mesh, phases, x, delta, None, rng, method=method, recorder=rec)  # type: ignore[arg-type]
    passes = [(o.direction, o.inject) for o in rec.ops if o.kind == "mesh_pass"]
    if method == "in_situ":
        assert passes == [("adjoint", "field"), ("forward", "amplitude"), ("sum", "field")]
    else:
        assert passes == [("adjoint", "field"), ("sum", "field"), ("sum", "field")]
    assert insitu.injection(x) == insitu.injection(x + 0j) == "amplitude"
    assert insitu.injection(x + 1e-3j) == "field"
    fd = Recorder()
    measure_finite_difference(mesh, phases, x, np.ones((2, 4)), None, rng, recorder=fd)
    assert {o.inject for o in fd.ops if o.kind == "mesh_pass"} == {"amplitude"}


def test_adjoint_pass_pays_twice_the_forward_pass_dac_and_modulator_energy() -> None:
    """Same N = 4 and batch 2 on eo-integrated: the adjoint pass injects the complex δ
    (I and Q: 2 × 4 × 2 = 16 DAC samples at 0.5 pJ, 16 ring-modulator symbols at
    0.01 pJ: 8 and 0.16 pJ, from the preset file), the forward pass real amplitudes (8
    samples: 4 and 0.08 pJ). Both read the field at their exit, so only the input side
    differs. Before, both were charged 8 samples."""
    from sim.engine import simulate

    mesh, phases, _, _, _ = problem("clements", 4, 2, seed=3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4))
    delta = 2 * np.conj(mesh.forward(phases, x)) * rng.normal(size=(2, 4))
    rec = Recorder()
    measure_in_situ(mesh, phases, x, delta, None, rng, recorder=rec)
    by_direction = {o.direction: o for o in rec.ops if o.kind == "mesh_pass"}
    energy = {
        d: simulate([op], "eo-integrated").energy_by_component_pj for d, op in by_direction.items()
    }
    assert energy["forward"]["input_dac"] == pytest.approx(4.0, rel=1e-12)
    assert energy["adjoint"]["input_dac"] == pytest.approx(8.0, rel=1e-12)
    assert energy["adjoint"]["modulator"] == pytest.approx(0.16, rel=1e-12)
    assert energy["adjoint"]["modulator"] == pytest.approx(2 * energy["forward"]["modulator"])
    assert energy["sum"]["input_dac"] == pytest.approx(8.0, rel=1e-12)
    assert energy["adjoint"]["detector_adc"] == energy["forward"]["detector_adc"]


def test_a_shared_inference_pass_supplies_the_forward_taps() -> None:
    """Per-pass phase noise: the forward readings are those of the given pass."""
    rng = np.random.default_rng(12)
    mesh0 = Mesh.clements(5)
    chip = quiet_chip(mesh0, rng, phase_noise_rad=0.05)
    mesh, phases, x, _, delta = problem("clements", 5, 4, seed=12)
    noisy = [phase_noise(phases, chip, rng, n_samples=4) for _ in range(2)]
    got = []
    for seen in noisy:  # same seed: the adjoint and sum passes draw the same noise
        rec = Recorder()
        m = measure_in_situ(
            mesh,
            phases,
            x,
            delta,
            chip,
            np.random.default_rng(3),
            recorder=rec,
            inference=InferencePass(x, seen),
        )
        got.append(m.gradients)
        assert [o.kind for o in rec.ops].count("mesh_pass") == 2  # adjoint and sum only
    # dL/dphase = (I_sum − I_fwd − I_adj)/2 (rescaled): only I_fwd differs between them
    scale = np.sqrt(np.mean(np.sum(np.abs(x) ** 2, 1)) / np.mean(np.sum(np.abs(delta) ** 2, 1)))
    taps = [mesh.tap_powers(seen, x, chip) for seen in noisy]
    check_forward_taps_difference(got, taps, scale)


def check_forward_taps_difference(got: list[Phases], taps: list, scale: float) -> None:
    for name in ("theta", "phi", "out"):
        want = -(getattr(taps[0], name).sum(0) - getattr(taps[1], name).sum(0)) / 2 / scale
        diff = getattr(got[0], name + "_rad") - getattr(got[1], name + "_rad")
        np.testing.assert_allclose(diff, want, rtol=1e-9, atol=1e-12)


def test_a_shared_inference_pass_supplies_the_injected_field() -> None:
    """I/O error: the forward readings are of the field the inference pass injected."""
    rng = np.random.default_rng(14)
    mesh, phases, x, _, delta = problem("reck", 5, 4, seed=14)
    injected = [x * (1 + 0.05 * rng.normal(size=x.shape)) for _ in range(2)]
    got = [
        measure_in_situ(
            mesh,
            phases,
            x,
            delta,
            None,
            np.random.default_rng(3),
            inference=InferencePass(field, phases),
        ).gradients
        for field in injected
    ]
    scale = np.sqrt(np.mean(np.sum(np.abs(x) ** 2, 1)) / np.mean(np.sum(np.abs(delta) ** 2, 1)))
    check_forward_taps_difference(got, [mesh.tap_powers(phases, f) for f in injected], scale)


def test_inference_pass_bad_input() -> None:
    mesh, phases, x, _, delta = problem("clements", 4, 3, seed=13)
    rng = np.random.default_rng(0)
    noisy = Phases(
        *(
            np.broadcast_to(p, (2, p.size))
            for p in (phases.theta_rad, phases.phi_rad, phases.out_rad)
        )
    )
    with pytest.raises(ValueError, match="2 per-sample sets; the batch has 3"):
        measure_in_situ(mesh, phases, x, delta, None, rng, inference=InferencePass(x, noisy))
    with pytest.raises(ValueError, match=r"inference\.injected has shape"):
        measure_in_situ(mesh, phases, x, delta, None, rng, inference=InferencePass(x[:2], phases))
    other = mesh.random_phases(rng)
    with pytest.raises(ValueError, match="programmed phases"):
        measure_in_situ(
            mesh,
            phases,
            x,
            delta,
            None,
            rng,
            mode="aggregated",
            inference=InferencePass(x, other),
        )
    exact = mesh.phase_gradients(phases, x, delta).to_vector()
    for mode in ("per_sample", "aggregated"):  # an ideal chip: still exact
        m = measure_in_situ(
            mesh, phases, x, delta, None, rng, mode=mode, inference=InferencePass(x, phases)
        )
        assert relative(m.gradients.to_vector(), exact) <= 1e-9


def test_bad_input() -> None:
    mesh, phases, x, w, delta = problem("clements", 4, 2, seed=8)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="method='magic'"):
        measure_in_situ(mesh, phases, x, delta, None, rng, method="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode='batch'"):
        measure_in_situ(mesh, phases, x, delta, None, rng, mode="batch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step_rad"):
        measure_finite_difference(mesh, phases, x, w, None, rng, step_rad=0.0)
    with pytest.raises(ValueError, match="step_rad"):
        measure_finite_difference(mesh, phases, x, w, None, rng, step_rad=-1e-3)
    with pytest.raises(ValueError, match="shape"):
        measure_in_situ(mesh, phases, x, delta[:1], None, rng)
    with pytest.raises(ValueError, match=r"x must have shape \(n_samples, 4\)"):
        measure_in_situ(mesh, phases, x[0], delta[0], None, rng)
    with pytest.raises(ValueError, match=r"x must have shape \(n_samples, 4\)"):
        measure_finite_difference(mesh, phases, x[0], w[0], None, rng)
    with pytest.raises(ValueError, match=r"delta holds \d+ NaN"):
        measure_in_situ(mesh, phases, x, np.where(np.arange(4) == 0, np.nan, delta), None, rng)
    with pytest.raises(ValueError, match="tap_noise"):
        quiet_chip(mesh, rng, tap_noise=-0.01)
    zero = measure_in_situ(mesh, phases, x, np.zeros_like(delta), None, rng)
    assert np.all(zero.gradients.to_vector() == 0)
    assert isinstance(zero.gradients, Phases)


def test_phases_of_another_mesh_are_refused() -> None:
    """Same total length (5 + 5 + 6 = 6 + 6 + 4): still refused, naming the field."""
    mesh, phases, x, w, delta = problem("clements", 4, 2, seed=8)
    rng = np.random.default_rng(0)
    odd = Phases(np.zeros(5), np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match="theta_rad/phi_rad have length"):
        measure_finite_difference(mesh, odd, x, w, None, rng)
    with pytest.raises(ValueError, match="theta_rad/phi_rad have length"):
        measure_in_situ(mesh, odd, x, delta, None, rng)
    short_out = Phases(phases.theta_rad, phases.phi_rad, np.zeros(3))
    with pytest.raises(ValueError, match="out_rad has length"):
        measure_finite_difference(mesh, short_out, x, w, None, rng)


@pytest.mark.parametrize("measure", ["in_situ", "finite_difference"])
def test_a_seed_is_not_a_generator(measure: str) -> None:
    mesh, phases, x, w, delta = problem("clements", 4, 2, seed=8)
    with pytest.raises(TypeError, match=r"rng=0 must be a numpy.random.Generator"):
        if measure == "in_situ":
            measure_in_situ(mesh, phases, x, delta, None, 0)  # type: ignore[arg-type]
        else:
            measure_finite_difference(mesh, phases, x, w, None, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({"dac_bits": 10}, True),
        ({"crosstalk": 0.02}, True),  # thermal drive: the step leaks to the neighbours
        ({"crosstalk": 0.02, "drive": "electro_optic"}, False),  # no thermal crosstalk
        ({"tap_noise": 0.01}, False),
    ],
)
def test_finite_difference_refuses_what_it_cannot_perturb(
    changes: dict[str, object], refused: bool
) -> None:
    """±h lands exactly on the held phases: a DAC or thermal crosstalk could not do that."""
    rng = np.random.default_rng(3)
    mesh = Mesh.clements(4)
    chip = Chip.draw(mesh, rng, **(NO_IMPERFECTIONS | changes))  # type: ignore[arg-type]
    _, phases, x, w, _ = problem("clements", 4, 2, seed=8, chip=chip)
    if refused:
        with pytest.raises(ValueError, match=r"PhotonicNetwork\(gradient='finite_difference'\)"):
            measure_finite_difference(mesh, phases, x, w, chip, rng)
    else:
        got = measure_finite_difference(mesh, phases, x, w, chip, rng)
        assert got.passes == 2 * phases.to_vector().size


@pytest.mark.parametrize("method", ["in_situ", "analog"])
@pytest.mark.parametrize("mode", ["per_sample", "aggregated"])
@pytest.mark.parametrize("lossy", [False, True])
def test_dark_input_sends_only_the_adjoint_back(method: str, mode: str, lossy: bool) -> None:
    """x = 0: every gradient is 0 (even where loss would bias a measurement), and the
    layer before still gets x̂ = Wᵀδ from one adjoint pass."""
    mesh = Mesh.clements(4)
    chip = quiet_chip(mesh, np.random.default_rng(3), loss_db_per_mzi=0.5) if lossy else None
    _, phases, x, _, delta = problem("clements", 4, 3, seed=10, chip=chip)
    rec = Recorder()
    m = measure_in_situ(
        mesh,
        phases,
        np.zeros_like(x),
        delta,
        chip,
        np.random.default_rng(0),
        method=method,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        recorder=rec,
    )
    np.testing.assert_allclose(
        m.input_adjoint, delta @ mesh.matrix(phases, chip), rtol=0, atol=1e-12
    )
    assert np.all(m.gradients.to_vector() == 0)
    assert m.passes == 1
    assert [(o.kind, o.direction) for o in rec.ops] == [("mesh_pass", "adjoint")]


def test_finite_differences_record_one_write_and_one_pass_per_perturbation() -> None:
    """Per shifter: write +h, pass, write −h, pass, write it back (as the network does)."""
    mesh, phases, x, w, _ = problem("reck", 3, 2, seed=9)
    rec = Recorder()
    measure_finite_difference(mesh, phases, x, w, None, np.random.default_rng(0), recorder=rec)
    kinds = [op.kind for op in rec.ops]
    assert kinds == ["phase_update", "mesh_pass", "phase_update", "mesh_pass", "phase_update"] * (
        mesh.n_phases
    )
    assert all(op.n_phases == 1 for op in rec.ops if op.kind == "phase_update")
    assert all(op.passes == 2 for op in rec.ops if op.kind == "mesh_pass")


# -- scatter of the measured gradients: each noise source where the protocol puts it --
def _tap_vector(taps: TapPowers) -> np.ndarray:
    """Batch-summed (θ, φ, output) tap powers of a pass, as one vector like Phases.to_vector."""
    return np.concatenate([taps.theta.sum(0), taps.phi.sum(0), taps.out.sum(0)])


def _linearized_variance(
    model: Callable[[np.ndarray], np.ndarray], n_vars: int, stds: np.ndarray
) -> np.ndarray:
    """First-order variance Σ_j (∂model/∂ε_j)² σ_j² of ``model(ε)`` for independent
    zero-mean errors ε_j of std ``stds[j]`` (central differences, step 1e-6)."""
    h = 1e-6
    eye = np.eye(n_vars)
    jac = np.array([(model(h * eye[j]) - model(-h * eye[j])) / (2 * h) for j in range(n_vars)])
    return np.sum((jac * stds[:, None]) ** 2, axis=0)


def _unit_problem(mesh: Mesh, seed: int) -> tuple[Phases, np.ndarray, np.ndarray]:
    """Phases, one input x and one adjoint source δ of the same power (so the
    measurement's adjoint scaling is 1 and the passes below need no rescaling)."""
    rng = np.random.default_rng(seed)
    phases = mesh.random_phases(rng)
    x = rng.normal(size=(1, mesh.n_ports)) + 1j * rng.normal(size=(1, mesh.n_ports))
    delta = rng.normal(size=(1, mesh.n_ports)) + 1j * rng.normal(size=(1, mesh.n_ports))
    return phases, x, delta * np.linalg.norm(x) / np.linalg.norm(delta)


def test_phase_noise_of_the_adjoint_and_sum_passes_is_drawn_for_each_pass() -> None:
    """The 3-pass estimate's scatter is what fresh phase errors in *both* passes give.

    Reference: the protocol of DESIGN.md §4.4 written with the mesh's own tap passes,
    the adjoint pass at phases φ + ε_a and the sum pass at φ + ε_s (the forward taps
    come from a noiseless inference pass), and its first-order variance
    σ² Σ (∂G/∂ε)². If the sum pass saw the adjoint pass's errors (ε_s = ε_a) time
    reversal would be exact pass by pass: one component would scatter ≈ 7× less and
    several others ≈ 2× less; without noise on the adjoint pass some would not
    scatter at all.
    Sample variances of R = 500 draws: 5 standard errors = 5·√(2/R) ≈ 0.32.
    """
    sigma, draws = 0.01, 500
    mesh = Mesh.clements(4)
    chip = quiet_chip(mesh, np.random.default_rng(0), phase_noise_rad=sigma)
    phases, x, delta = _unit_problem(mesh, seed=1)
    base, m = phases.to_vector(), phases.to_vector().size
    forward = _tap_vector(mesh.tap_powers(phases, x))

    def estimate(eps: np.ndarray) -> np.ndarray:
        adjoint_phases = Phases.from_vector(base + eps[:m], mesh.n_mzis)
        sum_phases = Phases.from_vector(base + eps[m:], mesh.n_mzis)
        adjoint = mesh.adjoint_tap_powers(adjoint_phases, delta)
        summed = mesh.tap_powers(sum_phases, x - 1j * np.conj(adjoint.port))
        return (_tap_vector(summed) - forward - _tap_vector(adjoint)) / 2

    predicted = _linearized_variance(estimate, 2 * m, np.full(2 * m, sigma))
    rng = np.random.default_rng(2)
    inference = InferencePass(x, phases)  # the forward taps: a noiseless pass
    got = np.array(
        [
            measure_in_situ(
                mesh, phases, x, delta, chip, rng, inference=inference
            ).gradients.to_vector()
            for _ in range(draws)
        ]
    )
    np.testing.assert_allclose(
        got.var(axis=0) / predicted, 1.0, rtol=0, atol=5 * np.sqrt(2 / draws)
    )


@pytest.mark.parametrize("method", ["in_situ", "analog"])
def test_io_errors_of_every_injected_and_measured_field_reach_the_gradient(method: str) -> None:
    """Each field the protocol injects or measures carries its own I/O error.

    Reference: the passes of DESIGN.md §4.4 with ``E → (1 + u)·e^{iv}·E`` on the
    forward input (3-pass), on δ, on the measured x̂ and on the sum (or −, +) inputs,
    u ~ N(0, σ_a²), v ~ N(0, (πσ_p)²) independent per port and field; its
    first-order variance Σ (∂G/∂u)² σ_a² + (∂G/∂v)² (πσ_p)² must be the scatter of
    the measured gradient. Dropping any one of these errors lowers some component's
    variance to ≈ 0.2 of the prediction (δ, the sum or ± inputs), ≈ 0.5 (the forward
    input) or ≈ 0.6–0.66 (the measured x̂), against a tolerance of 5 standard errors
    5·√(2/R) ≈ 0.16 for R = 2000 (at R = 500 the x̂ case would sit at the tolerance).
    """
    sigma_a, sigma_p, draws = 0.01, 0.01, 2000
    mesh = Mesh.clements(4)
    n = mesh.n_ports
    chip = quiet_chip(
        mesh, np.random.default_rng(0), io_amplitude_error=sigma_a, io_phase_error=sigma_p
    )
    phases, x, delta = _unit_problem(mesh, seed=3)
    fields = (
        ("forward", "delta", "x_hat", "sum")
        if method == "in_situ"
        else ("delta", "x_hat", "minus", "plus")
    )

    def estimate(eps: np.ndarray) -> np.ndarray:
        u, v = eps.reshape(2, len(fields), n)
        gain = dict(zip(fields, (1 + u) * np.exp(1j * v), strict=True))
        adjoint = mesh.adjoint_tap_powers(phases, gain["delta"] * delta)
        x_hat = gain["x_hat"] * adjoint.port
        if method == "in_situ":
            forward = mesh.tap_powers(phases, gain["forward"] * x)
            summed = mesh.tap_powers(phases, gain["sum"] * (x - 1j * np.conj(x_hat)))
            return (_tap_vector(summed) - _tap_vector(forward) - _tap_vector(adjoint)) / 2
        minus = mesh.tap_powers(phases, gain["minus"] * (x - 1j * np.conj(x_hat)))
        plus = mesh.tap_powers(phases, gain["plus"] * (x + 1j * np.conj(x_hat)))
        return (_tap_vector(minus) - _tap_vector(plus)) / 4

    stds = np.repeat([sigma_a, np.pi * sigma_p], len(fields) * n)
    predicted = _linearized_variance(estimate, stds.size, stds)
    rng = np.random.default_rng(4)
    got = np.array(
        [
            measure_in_situ(mesh, phases, x, delta, chip, rng, method=method).gradients.to_vector()  # type: ignore[arg-type]
            for _ in range(draws)
        ]
    )
    np.testing.assert_allclose(
        got.var(axis=0) / predicted, 1.0, rtol=0, atol=5 * np.sqrt(2 / draws)
    )


def test_measured_adjoint_field_carries_the_injection_and_measurement_errors() -> None:
    """x̂ = g_meas ⊙ Wᵀ(g_in ⊙ δ): δ enters through a modulator, x̂ leaves through
    detectors, each with its own I/O error (1 + σ_a n)·e^{iπσ_p n'}.

    With δ on output port 0 only, g_in is one common factor per sample, so
    ``r_j = x̂_j / (Wᵀδ)_j = g_in,0 · g_meas,j``: to first order ``log|r_j|`` has
    variance 2σ_a² and ``arg r_j`` variance 2(πσ_p)², and two ports share exactly
    half of it (correlation 1/2). Tolerances: 5 standard errors for n = 4000
    samples, √(2/n) on a variance ratio and (1 − ρ²)/√n on a correlation.
    """
    sigma_a, sigma_p, n = 0.01, 0.01, 4000
    mesh = Mesh.clements(4)
    chip = quiet_chip(
        mesh, np.random.default_rng(0), io_amplitude_error=sigma_a, io_phase_error=sigma_p
    )
    rng = np.random.default_rng(1)
    phases = mesh.random_phases(rng)
    x = rng.normal(size=(n, 4)) + 1j * rng.normal(size=(n, 4))
    delta = np.zeros((n, 4), dtype=complex)
    delta[:, 0] = 0.7 - 0.2j
    m = measure_in_situ(
        mesh, phases, x, delta, chip, np.random.default_rng(2), method="analog", mode="aggregated"
    )
    r = m.input_adjoint / (delta @ mesh.matrix(phases))
    for values, sigma in ((np.log(np.abs(r)), sigma_a), (np.angle(r), np.pi * sigma_p)):
        np.testing.assert_allclose(
            values.var(axis=0) / (2 * sigma**2), 1.0, rtol=0, atol=5 * np.sqrt(2 / n)
        )
        corr = np.corrcoef(values, rowvar=False)[np.triu_indices(4, k=1)]
        np.testing.assert_allclose(corr, 0.5, rtol=0, atol=5 * 0.75 / np.sqrt(n))


@pytest.mark.parametrize("noise", ["tap", "io", "phase"])
def test_finite_differences_scatter_as_two_noisy_passes_predict(noise: str) -> None:
    """Each of the two passes per shifter is detected (and injected) with fresh noise.

    ``ℓ± = Σ w·P(±h)`` and the estimate is ``(ℓ₊ − ℓ₋)/2h``, so its variance is
    ``(Var ℓ₊ + Var ℓ₋)/(2h)²`` with, per pass,
    tap noise ``P = |y|² + s|y|n``: ``Var ℓ = s² Σ w²|y|²`` (exact);
    I/O error on the injected x: ``y = W(g ⊙ x)``, ``g ≈ 1 + u + iv``, so to first
    order ``δℓ = Σ_j Re(c_j)u_j − Im(c_j)v_j`` with ``c = (δ W) ⊙ x``, ``δ = 2 conj(y) w``:
    ``Var ℓ = Σ Re(c)²σ_a² + Im(c)²(πσ_p)²``;
    phase noise ε (fresh per sample and shifter): ``δℓ = Σ_b g_b·ε_b`` with ``g_b``
    sample b's exact phase gradient, ``Var ℓ = σ² Σ_b ‖g_b‖²`` (first order).
    The errors (estimate − noiseless central difference)/predicted std are pooled
    over every shifter and R repetitions; their variance must be 1 within 5 standard
    errors √(2/n). Without noise in the passes (or with the same draw for + and −)
    it would be 0.
    """
    mesh = Mesh.clements(3)
    rng = np.random.default_rng(6)
    phases = mesh.random_phases(rng)
    x = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    w = rng.normal(size=(2, 3))
    s, sigma_a, sigma_p, sigma, h = 0.01, 0.01, 0.01, 0.005, 0.05
    changes = {
        "tap": {"tap_noise": s},
        "io": {"io_amplitude_error": sigma_a, "io_phase_error": sigma_p},
        "phase": {"phase_noise_rad": sigma},
    }[noise]
    chip = quiet_chip(mesh, rng, **changes)
    base = phases.to_vector()

    def loss_variance(y: np.ndarray, trial: Phases) -> float:
        if noise == "tap":
            return float(s**2 * np.sum(w**2 * np.abs(y) ** 2))
        if noise == "phase":
            adjoint = 2 * np.conj(y) * w
            per_sample = [
                mesh.phase_gradients(trial, x[b : b + 1], adjoint[b : b + 1]).to_vector()
                for b in range(x.shape[0])
            ]
            return float(sigma**2 * np.sum(np.square(per_sample)))
        c = (2 * np.conj(y) * w) @ mesh.matrix(trial) * x
        return float(np.sum(c.real**2 * sigma_a**2 + c.imag**2 * (np.pi * sigma_p) ** 2))

    mean, std = np.empty(base.size), np.empty(base.size)
    for k in range(base.size):
        ell, var = [], 0.0
        for sign in (1.0, -1.0):
            trial = Phases.from_vector(base + sign * h * np.eye(base.size)[k], mesh.n_mzis)
            y = mesh.forward(trial, x)
            # P(|y|² + s|y|n < 0) = Φ(−|y|/s) < 3e-7: the clipping at 0 is negligible
            assert noise != "tap" or np.min(np.abs(y)) > 5 * s
            ell.append(float(np.sum(w * np.abs(y) ** 2)))
            var += loss_variance(y, trial)
        mean[k], std[k] = (ell[0] - ell[1]) / (2 * h), np.sqrt(var) / (2 * h)
    repeats = 60
    z = np.array(
        [
            (
                measure_finite_difference(
                    mesh, phases, x, w, chip, rng, step_rad=h
                ).gradients.to_vector()
                - mean
            )
            / std
            for _ in range(repeats)
        ]
    ).ravel()
    assert abs(z.mean()) < 5 / np.sqrt(z.size)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / z.size)


def test_finite_differences_check_the_power_weights() -> None:
    """``dloss_dpower`` must be finite and shaped like x: a per-port vector would
    broadcast silently over the batch, a NaN would give NaN gradients."""
    mesh, phases, x, w, _ = problem("clements", 4, 3, seed=8)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"dloss_dpower has shape \(4,\)"):
        measure_finite_difference(mesh, phases, x, w[0], None, rng)
    bad = w.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="dloss_dpower"):
        measure_finite_difference(mesh, phases, x, bad, None, rng)


def test_measurement_reports_the_passes_it_sent() -> None:
    """3 passes, 2 when the inference pass supplies the forward taps, 0 for δ = 0."""
    mesh, phases, x, _, delta = problem("clements", 4, 3, seed=7)
    rng = np.random.default_rng(0)
    assert measure_in_situ(mesh, phases, x, delta, None, rng).passes == 3
    shared = measure_in_situ(mesh, phases, x, delta, None, rng, inference=InferencePass(x, phases))
    assert shared.passes == 2
    assert measure_in_situ(mesh, phases, x, 0 * delta, None, rng).passes == 0


@pytest.mark.parametrize(
    ("x_scale", "delta_scale", "match"),
    [
        (1.0, 1e200, r"delta is too large: its power per sample .* overflows float64 "),
        (1e200, 1.0, r"x is too large: its power per sample .* overflows float64 "),
        (1e150, 1e-150, r"x and delta differ in power per sample .* by more than float64"),
        # the other way round the scale underflows to 0 instead of overflowing
        (1e-150, 1e150, r"x and delta differ in power per sample .* by more than float64"),
    ],
)
@pytest.mark.parametrize("method", ["in_situ", "analog"])
def test_overflowing_powers_are_blamed_on_their_field(
    x_scale: float, delta_scale: float, match: str, method: str
) -> None:
    """|δ| ≈ 1e200 is finite but its power overflows: the passes were scaled by 0 and
    the error was 'theta_rad holds 6 NaN', a field of the result, not delta."""
    mesh = Mesh.clements(4)
    rng = np.random.default_rng(0)
    phases = mesh.random_phases(rng)
    x = np.ones((3, 4), dtype=complex)
    with pytest.raises(ValueError, match=match):
        measure_in_situ(mesh, phases, x_scale * x, delta_scale * x, None, rng, method=method)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, p, x, r: measure_in_situ(None, p, x, x, None, r), r"mesh=None must be a"),
        (lambda m, p, x, r: measure_in_situ(m, p, x, x, 3, r), r"chip=3 must be a photonic"),
        (
            lambda m, p, x, r: measure_in_situ(m, p, x, x, None, r, recorder=[]),
            r"recorder=\[\] must be a sim\.ops\.Recorder or None",
        ),
        (
            lambda m, p, x, r: measure_in_situ(m, p, x, x, None, r, transfer=3),
            r"transfer=3 must be a photonic\.mesh\.Transfer or None",
        ),
        (
            lambda m, p, x, r: measure_in_situ(m, p, x, x, None, r, inference=3),
            r"inference=3 must be a photonic\.insitu\.InferencePass or None",
        ),
        (
            lambda m, p, x, r: measure_finite_difference(None, p, x, x.real, None, r),
            r"mesh=None must be a",
        ),
        (
            lambda m, p, x, r: measure_finite_difference(m, p, x, x.real, "chip", r),
            r"chip='chip' must be a photonic",
        ),
        (
            lambda m, p, x, r: measure_finite_difference(m, p, x, np.full((3, 4), "a"), None, r),
            r"dloss_dpower must be numeric",
        ),
        (
            lambda m, p, x, r: measure_finite_difference(m, p, x, x, None, r),
            r"dloss_dpower must be real",  # was cast, dropping the imaginary part
        ),
        (lambda m, p, x, r: insitu.check_mode("aggregated", 3, "none"), r"chip=3 must be a"),
    ],
)
def test_wrong_kinds_of_argument_are_named(call: Callable[..., object], match: str) -> None:
    """Each was an AttributeError from inside ('NoneType' object has no attribute
    'check_phases', 'int' object has no attribute 'record' ...) or a float() error."""
    mesh = Mesh.clements(4)
    rng = np.random.default_rng(0)
    phases = mesh.random_phases(rng)
    with pytest.raises(TypeError, match=match):
        call(mesh, phases, np.ones((3, 4), dtype=complex), rng)


def _lossy_chip(mesh: Mesh, **changes: float) -> Chip:
    return Chip.draw(
        mesh,
        np.random.default_rng(3),
        **(dict(NO_IMPERFECTIONS) | {"loss_db_per_mzi": 0.2} | changes),
    )


def _at_ratio(problem_: tuple, chip: Chip | None, ratio: object, **kwargs: object) -> np.ndarray:
    """measure_in_situ's gradient vector with the adjoint at ``ratio`` × the forward power."""
    mesh, phases, x, _, delta = problem_
    return measure_in_situ(
        mesh,
        phases,
        x,
        delta,
        chip,
        np.random.default_rng(0),
        adjoint_power_ratio=ratio,
        **kwargs,  # type: ignore[arg-type]
    ).gradients.to_vector()


@pytest.mark.parametrize("method", ["in_situ", "analog"])
@pytest.mark.parametrize("ratio", [1e-3, 0.3, 7.0])
def test_adjoint_power_does_not_change_an_exact_measurement(method: str, ratio: float) -> None:
    """Without loss or noise every method is exact whatever the adjoint's power; with
    loss the analog difference is linear in x̂, so its scale divides out exactly."""
    case = problem("clements", 6, 5, seed=4)
    mesh, phases, x, _, delta = case
    exact = mesh.phase_gradients(phases, x, delta).to_vector()
    assert relative(_at_ratio(case, None, ratio, method=method), exact) < 1e-10
    m = measure_in_situ(
        mesh,
        phases,
        x,
        delta,
        None,
        np.random.default_rng(0),
        method=method,  # type: ignore[arg-type]
        adjoint_power_ratio=ratio,
    )
    assert m.input_adjoint is not None  # x̂ in δ's units whatever the ratio
    assert relative(m.input_adjoint, mesh.adjoint(phases, delta)) < 1e-10
    chip = _lossy_chip(mesh)
    analog = [_at_ratio(case, chip, r, method="analog") for r in (1.0, ratio)]
    assert relative(analog[1], analog[0]) < 1e-10


def test_a_weaker_adjoint_shrinks_the_three_pass_loss_bias() -> None:
    """The additive error (η⁴ − 1)|â|² falls as |â|², the signal only as |â|: on a lossy,
    noiseless chip the 3-pass cosine rises as the adjoint gets weaker."""
    mesh, phases, x, _, _ = problem("clements", 8, 4, seed=6)
    chip = _lossy_chip(mesh)
    y = mesh.forward(phases, x, chip)
    delta = 2 * np.conj(y) * np.random.default_rng(7).normal(size=y.shape)
    exact = mesh.phase_gradients(phases, x, delta, chip).to_vector()
    case = (mesh, phases, x, None, delta)
    cos = [cosine(_at_ratio(case, chip, r), exact) for r in (3.0, 1.0, 0.1, 0.01)]
    assert cos == sorted(cos) and cos[-1] > 0.98 and cos[0] < 0.9, cos


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), "1"])
def test_adjoint_power_ratio_must_be_positive(bad: object) -> None:
    with pytest.raises((ValueError, TypeError), match="adjoint_power_ratio"):
        _at_ratio(problem("clements", 4, 2, seed=1), None, bad)


def test_finite_difference_records_its_work_as_probes() -> None:
    """Its writes and evaluations are the gradient measurement (direction "probe", the
    gradient phase of summarize), as PhotonicNetwork records them, not an update and
    forward work; each evaluation reads powers only."""
    from sim.engine import simulate
    from sim.report import summarize

    mesh, phases, x, w, _ = problem("clements", 2, 3, seed=2)
    rec = Recorder()
    measure_finite_difference(mesh, phases, x, w, None, np.random.default_rng(0), recorder=rec)
    assert {op.direction for op in rec.ops} == {"probe"}
    n_phases = mesh.n_phases
    assert sum(op.kind == "phase_update" for op in rec.ops) == 3 * n_phases  # ±h, restore
    passes = [op for op in rec.ops if op.kind == "mesh_pass"]
    assert len(passes) == 2 * n_phases
    # x is complex: I and Q samples per input port, + one power read per output port
    assert {(op.inject, op.conversions) for op in passes} == {("field", 3 * 3 * 2)}
    report = summarize(rec.ops, simulate(rec.ops, "eo-integrated"))
    assert report.phases["gradient"].latency_ns == pytest.approx(report.latency_ns, rel=1e-12)


@pytest.mark.parametrize("method", ["in_situ", "analog"])
def test_an_empty_batch_is_refused_by_name(method: str) -> None:
    """It failed inside with "zero-size array to reduction operation maximum" after a
    "Mean of empty slice" warning."""
    mesh = Mesh.clements(4)
    phases = mesh.random_phases(np.random.default_rng(0))
    empty = np.zeros((0, 4))
    with pytest.raises(ValueError, match=r"x has shape \(0, 4\): a measurement needs at least"):
        measure_in_situ(mesh, phases, empty, empty, None, np.random.default_rng(1), method=method)  # type: ignore[arg-type]
    net = PhotonicNetwork(4, 2, n_features=2, rng=np.random.default_rng(0), gradient=method)  # type: ignore[arg-type]
    y = net.forward(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"grad_output has shape \(0, 4\): method="):
        net.backward(np.zeros_like(y))


def test_finite_differences_of_an_empty_batch_on_a_chip_with_phase_noise() -> None:
    """An empty batch has a zero gradient on any chip; with per-pass phase noise it
    raised "n_samples=0 must be an integer ≥ 1", naming nothing the caller passed."""
    rng = np.random.default_rng(0)
    mesh = Mesh.clements(4)
    chip = Chip.draw(mesh, rng, dac_bits=None, crosstalk=0.0, adc_bits=None)
    empty = np.zeros((0, 4))
    m = measure_finite_difference(mesh, mesh.random_phases(rng), empty, empty, chip, rng)
    assert np.all(m.gradients.to_vector() == 0)


@pytest.mark.parametrize("chip", [Mesh.clements(4), "ideal", 0.1])
def test_fd_step_rad_for_refuses_what_is_not_a_chip_by_name(chip: object) -> None:
    """fd_step_rad_for(mesh) raised a bare "'Mesh' object has no attribute 'is_noisy'"."""
    with pytest.raises(TypeError, match=r"chip=.* must be a photonic.imperfections.Chip or None"):
        insitu.fd_step_rad_for(chip)  # type: ignore[arg-type]
