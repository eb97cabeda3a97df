"""Chip imperfections: drawing a device, programming it, per-pass noise and detection."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photonic.constants import TWO_PI
from photonic.imperfections import (
    DEFAULT_LOSS_DB_PER_MZI,
    DEFAULT_LOSS_SPREAD_DB,
    DEFAULT_SPLITTING_ERROR_STD_RAD,
    Chip,
    apply_io_error,
    dac_phase_step_rad,
    detect_power,
    drift_step,
    mzi_neighbours,
    phase_noise,
    program,
    quantize,
    read_power,
    wrap_rad,
)
from photonic.mesh import Mesh, Phases
from photonic.network import PhotonicNetwork

ARRAY_FIELDS = (
    "splitting_error_rad",
    "coupler_loss_db",
    "theta_offset_rad",
    "phi_offset_rad",
    "out_offset_rad",
)


def _phases(theta: Any, phi: Any, out: Any) -> Phases:
    return Phases(
        theta_rad=np.asarray(theta, dtype=float),
        phi_rad=np.asarray(phi, dtype=float),
        out_rad=np.asarray(out, dtype=float),
    )


def _random_phases(mesh: Mesh, rng: np.random.Generator, low: float, high: float) -> Phases:
    return _phases(
        rng.uniform(low, high, mesh.n_mzis),
        rng.uniform(low, high, mesh.n_mzis),
        rng.uniform(low, high, mesh.n_ports),
    )


def _ideal_programming(mesh: Mesh, **changes: Any) -> Chip:
    """A chip whose programming is exact unless ``changes`` say otherwise."""
    return Chip.ideal(mesh).with_(**changes)


# ------------------------------------------------------------------------- drawing a chip
@pytest.mark.parametrize("topology", ["clements", "reck"])
@pytest.mark.parametrize("n_ports", [2, 3, 6])
def test_drawn_chip_has_the_mesh_shapes(topology: str, n_ports: int) -> None:
    mesh = Mesh.clements(n_ports) if topology == "clements" else Mesh.reck(n_ports)
    chip = Chip.draw(mesh, np.random.default_rng(0))
    m = n_ports * (n_ports - 1) // 2
    assert (chip.n_ports, chip.n_mzis) == (n_ports, m) == (mesh.n_ports, mesh.n_mzis)
    assert chip.splitting_error_rad.shape == (m, 2)
    assert chip.coupler_loss_db.shape == (m, 2, 2)
    assert chip.theta_offset_rad.shape == chip.phi_offset_rad.shape == (m,)
    assert chip.out_offset_rad.shape == (n_ports,)
    for name in ARRAY_FIELDS:
        arr = getattr(chip, name)
        assert arr.dtype == np.float64 and not arr.flags.writeable
    assert (chip.dac_bits, chip.adc_bits, chip.drive) == (10, 8, "thermal")
    assert np.all(chip.theta_offset_rad == 0)  # calibrated chip by default


def test_same_seed_gives_the_same_chip_bit_for_bit() -> None:
    mesh = Mesh.clements(8)
    a = Chip.draw(mesh, np.random.default_rng(7), phase_offset_std_rad=0.1)
    b = Chip.draw(mesh, np.random.default_rng(7), phase_offset_std_rad=0.1)
    c = Chip.draw(mesh, np.random.default_rng(8), phase_offset_std_rad=0.1)
    for name in ARRAY_FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(getattr(a, name), getattr(c, name))


def test_parameter_sweeps_use_common_random_numbers() -> None:
    mesh = Mesh.clements(6)
    a = Chip.draw(mesh, np.random.default_rng(3), splitting_error_std_rad=0.01)
    b = Chip.draw(mesh, np.random.default_rng(3), splitting_error_std_rad=0.03)
    np.testing.assert_allclose(b.splitting_error_rad, 3 * a.splitting_error_rad, rtol=1e-14)
    assert np.array_equal(a.coupler_loss_db, b.coupler_loss_db)


def test_statistics_of_a_large_chip() -> None:
    chip = Chip.draw(Mesh.clements(64), np.random.default_rng(2023))
    n = chip.n_mzis  # 2016
    sigma_eps, mean_l, spread = (
        DEFAULT_SPLITTING_ERROR_STD_RAD,
        DEFAULT_LOSS_DB_PER_MZI,
        DEFAULT_LOSS_SPREAD_DB,
    )
    eps = chip.splitting_error_rad.ravel()
    assert abs(eps.mean()) < 4 * sigma_eps / np.sqrt(eps.size)
    assert abs(eps.std() / sigma_eps - 1) < 4 / np.sqrt(2 * eps.size)

    loss = chip.coupler_loss_db
    assert np.all(loss >= 0)
    # A path through an MZI (top arm of coupler 0, any arm of coupler 1) loses L_k on
    # average; var = spread² (between MZIs) + 2·(spread/2)² (arm shares).
    path = loss[:, 0, 0] + loss[:, 1, 1]
    path_std = spread * np.sqrt(1.5)
    assert abs(path.mean() - mean_l) < 4 * path_std / np.sqrt(n)
    assert abs(path.std() / path_std - 1) < 4 / np.sqrt(2 * n)
    # Per-MZI estimate (mean of its two possible paths) tracks L_k: std ≈ spread·√1.25.
    per_mzi = loss.sum(axis=(1, 2)) / 2
    assert abs(per_mzi.mean() - mean_l) < 4 * spread * np.sqrt(1.25) / np.sqrt(n)
    assert abs(per_mzi.std() / (spread * np.sqrt(1.25)) - 1) < 4 / np.sqrt(2 * n)


def test_losses_are_clipped_at_zero() -> None:
    chip = Chip.draw(Mesh.clements(16), np.random.default_rng(1), loss_db_per_mzi=0.0)
    assert np.all(chip.coupler_loss_db >= 0)
    assert np.any(chip.coupler_loss_db == 0) and np.any(chip.coupler_loss_db > 0)


def test_ideal_chip_is_all_zero() -> None:
    mesh = Mesh.reck(5)
    chip = Chip.ideal(mesh)
    for name in ARRAY_FIELDS:
        assert not np.any(getattr(chip, name))
    assert chip.is_lossless
    assert (chip.dac_bits, chip.adc_bits) == (None, None)
    assert chip.crosstalk == chip.phase_noise_rad == chip.tap_noise == 0
    assert chip.io_amplitude_error == chip.io_phase_error == 0


def test_the_mesh_reads_the_chip_fields() -> None:
    mesh = Mesh.clements(5)
    phases = mesh.random_phases(np.random.default_rng(0))
    ideal = mesh.matrix(phases, Chip.ideal(mesh))
    np.testing.assert_allclose(ideal, mesh.matrix(phases), rtol=0, atol=1e-13)
    lossy = mesh.matrix(phases, Chip.draw(mesh, np.random.default_rng(1)))
    assert np.linalg.norm(lossy, 2) < 1  # loss makes the mesh strictly contractive
    assert not np.allclose(lossy, ideal, atol=1e-3)


def test_chip_arrays_are_copies() -> None:
    eps = np.zeros((1, 2))
    chip = Chip.ideal(Mesh.clements(2)).with_(splitting_error_rad=eps)
    eps[0, 0] = 1.0
    assert chip.splitting_error_rad[0, 0] == 0
    with pytest.raises(ValueError, match="read-only"):
        chip.splitting_error_rad[0, 0] = 1.0


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"coupler_loss_db": -np.ones((3, 2, 2))}, "coupler_loss_db"),
        ({"coupler_loss_db": np.zeros((3, 2))}, r"coupler_loss_db must have shape \(3, 2, 2\)"),
        ({"splitting_error_rad": np.zeros(3)}, "splitting_error_rad"),
        ({"splitting_error_rad": np.full((3, 2), np.nan)}, "splitting_error_rad"),
        ({"theta_offset_rad": np.zeros(4)}, "theta_offset_rad"),
        ({"phi_offset_rad": np.array([0.0, np.inf, 0.0])}, "phi_offset_rad"),
        ({"out_offset_rad": np.zeros(2)}, "out_offset_rad"),
        ({"tap_noise": -0.1}, "tap_noise"),
        ({"tap_noise": float("nan")}, "tap_noise"),
        ({"phase_noise_rad": -1.0}, "phase_noise_rad"),
        ({"io_amplitude_error": -1e-3}, "io_amplitude_error"),
        ({"io_phase_error": float("inf")}, "io_phase_error"),
        ({"crosstalk": 1.5}, "crosstalk"),
        ({"crosstalk": -0.01}, "crosstalk"),
        ({"drive": "pneumatic"}, "drive='pneumatic'.*thermal, electro_optic"),
        ({"dac_bits": 0}, "dac_bits=0"),
        ({"adc_bits": 64}, "adc_bits=64"),
        ({"n_ports": 1}, "n_ports"),
    ],
)
def test_bad_chip_fields_raise_naming_the_field(changes: dict[str, Any], match: str) -> None:
    base = Chip.ideal(Mesh.clements(3))
    with pytest.raises(ValueError, match=match):
        base.with_(**changes)


@pytest.mark.parametrize(
    ("changes", "match"),
    [({"dac_bits": 8.0}, "dac_bits"), ({"n_mzis": "3"}, "n_mzis"), ({"tap_noise": "x"}, "tap")],
)
def test_wrong_types_raise_type_error(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        Chip.ideal(Mesh.clements(3)).with_(**changes)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss_db_per_mzi": -0.2}, "loss_db_per_mzi"),
        ({"loss_spread_db": -0.1}, "loss_spread_db"),
        ({"splitting_error_std_rad": float("nan")}, "splitting_error_std_rad"),
        ({"drive": "manual"}, "drive"),
    ],
)
def test_bad_draw_options_raise(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Chip.draw(Mesh.clements(3), np.random.default_rng(0), **kwargs)


def test_a_seed_is_not_a_generator() -> None:
    """Where random numbers are drawn, an int seed is refused by name (not AttributeError)."""
    mesh = Mesh.clements(3)
    with pytest.raises(TypeError, match=r"rng=7 must be a numpy\.random\.Generator"):
        Chip.draw(mesh, 7)  # type: ignore[arg-type]
    chip = Chip.draw(mesh, np.random.default_rng(0))  # phase, tap and I/O noise on
    phases = mesh.random_phases(np.random.default_rng(1))
    field = np.ones((2, 3), dtype=complex)
    for draw in (
        lambda: phase_noise(phases, chip, 7, n_samples=2),  # type: ignore[arg-type]
        lambda: read_power(np.ones((2, 3)), chip, 7),  # type: ignore[arg-type]
        lambda: apply_io_error(field, chip, 7),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match="rng=7 must be"):
            draw()


# ---------------------------------------------------------------------------- programming
def test_program_without_chip_is_the_identity() -> None:
    mesh = Mesh.clements(4)
    phases = _random_phases(mesh, np.random.default_rng(0), -10.0, 10.0)
    assert program(phases, mesh, None) is phases


def test_exact_programming_wraps_phases_into_the_heater_range() -> None:
    mesh = Mesh.clements(5)
    phases = _random_phases(mesh, np.random.default_rng(0), -20.0, 20.0)
    held = program(phases, mesh, Chip.ideal(mesh))
    for name in ("theta_rad", "phi_rad", "out_rad"):
        got = getattr(held, name)
        np.testing.assert_allclose(got, np.mod(getattr(phases, name), TWO_PI), rtol=0, atol=1e-12)
        assert np.all((got >= 0) & (got < TWO_PI))
    # a tiny negative phase must wrap to 0 (np.mod alone gives exactly 2π)
    tiny = _phases(np.full(mesh.n_mzis, -1e-300), np.zeros(mesh.n_mzis), np.zeros(5))
    assert np.all(program(tiny, mesh, Chip.ideal(mesh)).theta_rad == 0)


@pytest.mark.parametrize("bits", [1, 3, 10])
def test_thermal_dac_quantizes_the_voltage(bits: int) -> None:
    mesh = Mesh.clements(8)
    chip = _ideal_programming(mesh, dac_bits=bits, drive="thermal")
    phases = _random_phases(mesh, np.random.default_rng(bits), 0.0, TWO_PI)
    held = program(phases, mesh, chip)
    n_steps = 2**bits - 1
    for name in ("theta_rad", "phi_rad", "out_rad"):
        asked, got = getattr(phases, name), getattr(held, name)
        v_asked, v_got = np.sqrt(asked / TWO_PI), np.sqrt(got / TWO_PI)
        k = np.rint(v_got * n_steps)
        assert np.array_equal(got, TWO_PI * (k / n_steps) ** 2)  # exactly the DAC levels
        assert np.all(np.abs(v_got - v_asked) <= 0.5 / n_steps + 1e-12)


def test_electro_optic_dac_quantizes_the_phase_linearly() -> None:
    mesh = Mesh.clements(8)
    bits = 4
    chip = _ideal_programming(mesh, dac_bits=bits, drive="electro_optic", crosstalk=0.1)
    phases = _random_phases(mesh, np.random.default_rng(1), 0.0, TWO_PI)
    held = program(phases, mesh, chip)
    n_steps = 2**bits - 1
    got = held.theta_rad
    k = np.rint(got / TWO_PI * n_steps)
    np.testing.assert_allclose(got, TWO_PI * k / n_steps, rtol=0, atol=1e-15)  # no crosstalk
    assert np.all(np.abs(got - phases.theta_rad) <= np.pi / n_steps + 1e-12)


def test_neighbours_of_small_meshes_by_hand() -> None:
    # Clements 4: MZIs (column, top) = (0,0) (0,2) (1,1) (2,0) (2,2) (3,1).
    i, j = mzi_neighbours(Mesh.clements(4))
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (3, 4)]
    # Reck 4: (0,0) (1,1) (2,0) (2,2) (3,1) (4,0).
    i, j = mzi_neighbours(Mesh.reck(4))
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(2, 3)]
    i, j = mzi_neighbours(Mesh.clements(2))
    assert i.size == j.size == 0


def test_thermal_crosstalk_by_hand_on_a_four_port_clements_mesh() -> None:
    mesh = Mesh.clements(4)
    c = 0.1
    theta = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    phi = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    out = np.array([0.5, 1.0, 1.5, 2.0])
    held = program(_phases(theta, phi, out), mesh, _ideal_programming(mesh, crosstalk=c))
    # MZI neighbour pairs (0, 1) and (3, 4); MZIs 2 and 5 are alone in their columns.
    np.testing.assert_allclose(
        held.theta_rad, [0.1 + c * 0.2, 0.2 + c * 0.1, 0.3, 0.4 + c * 0.5, 0.5 + c * 0.4, 0.6]
    )
    np.testing.assert_allclose(held.phi_rad, [1 + c * 2, 2 + c * 1, 3.0, 4 + c * 5, 5 + c * 4, 6.0])
    np.testing.assert_allclose(
        held.out_rad, [0.5 + c * 1.0, 1.0 + c * 2.0, 1.5 + c * 3.0, 2.0 + c * 1.5]
    )


def test_crosstalk_acts_on_the_quantized_phases() -> None:
    mesh = Mesh.clements(4)
    phases = _random_phases(mesh, np.random.default_rng(5), 0.0, TWO_PI)
    quantized = program(phases, mesh, _ideal_programming(mesh, dac_bits=6))
    both = program(phases, mesh, _ideal_programming(mesh, dac_bits=6, crosstalk=0.05))
    expected = program(quantized, mesh, _ideal_programming(mesh, crosstalk=0.05))
    np.testing.assert_allclose(both.theta_rad, expected.theta_rad, rtol=0, atol=1e-12)


def test_program_checks_shapes() -> None:
    mesh = Mesh.clements(4)
    chip = Chip.ideal(mesh)
    with pytest.raises(ValueError, match="n_ports, n_mzis"):
        program(
            _random_phases(mesh, np.random.default_rng(0), 0, 1), mesh, Chip.ideal(Mesh.clements(5))
        )
    batched = _phases(np.zeros((2, 6)), np.zeros((2, 6)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"phases.theta_rad must have shape \(6,\)"):
        program(batched, mesh, chip)


# ------------------------------------------------------------------------------- per pass
def test_phase_noise_has_the_requested_std() -> None:
    mesh = Mesh.clements(6)
    sigma = 0.03
    phases = _random_phases(mesh, np.random.default_rng(0), 0.0, TWO_PI)
    noisy = phase_noise(
        phases,
        _ideal_programming(mesh, phase_noise_rad=sigma),
        np.random.default_rng(1),
        n_samples=4000,
    )
    assert noisy.theta_rad.shape == (4000, mesh.n_mzis)
    assert noisy.out_rad.shape == (4000, mesh.n_ports)
    for name in ("theta_rad", "phi_rad", "out_rad"):
        err = getattr(noisy, name) - getattr(phases, name)
        assert np.all(np.abs(err.mean(axis=0)) < 5 * sigma / np.sqrt(4000))
        assert abs(err.std() / sigma - 1) < 0.02
    # the errors of different shifters and passes are independent
    corr = np.corrcoef(noisy.theta_rad[:, 0], noisy.theta_rad[:, 1])[0, 1]
    assert abs(corr) < 5 / np.sqrt(4000)


@pytest.mark.parametrize("make_chip", [lambda mesh: None, Chip.ideal])
def test_noiseless_phase_noise_copies_without_drawing(make_chip: Any) -> None:
    mesh = Mesh.reck(4)
    phases = _random_phases(mesh, np.random.default_rng(0), 0.0, TWO_PI)
    rng = np.random.default_rng(9)
    out = phase_noise(phases, make_chip(mesh), rng, n_samples=3)
    for name in ("theta_rad", "phi_rad", "out_rad"):
        got = getattr(out, name)
        assert got.shape == (3, *getattr(phases, name).shape)
        assert np.array_equal(got, np.broadcast_to(getattr(phases, name), got.shape))
    assert rng.random() == np.random.default_rng(9).random()  # nothing was drawn


# ------------------------------------------------------------------------------ detection
def _field(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return scale * (rng.normal(size=shape) + 1j * rng.normal(size=shape))


@pytest.mark.parametrize("make_chip", [lambda mesh: None, Chip.ideal])
def test_ideal_detection_is_the_squared_modulus(make_chip: Any) -> None:
    e = _field(np.random.default_rng(0), (5, 4))
    p = detect_power(e, make_chip(Mesh.clements(4)), np.random.default_rng(1))
    np.testing.assert_allclose(p, np.abs(e) ** 2, rtol=1e-15)
    assert p.dtype == np.float64


def test_tap_noise_is_unbiased_with_std_s_times_amplitude() -> None:
    s, n_draws = 0.02, 20000
    amplitude = np.array([0.5, 1.0, 2.0, 4.0])
    e = np.broadcast_to(amplitude * np.exp(1j * np.array([0.0, 1.0, 2.0, 3.0])), (n_draws, 4))
    chip = _ideal_programming(Mesh.clements(4), tap_noise=s)
    p = detect_power(e, chip, np.random.default_rng(2))
    dev = p - amplitude**2
    assert np.all(np.abs(dev.mean(axis=0)) < 4 * s * amplitude / np.sqrt(n_draws))
    np.testing.assert_allclose(dev.std(axis=0), s * amplitude, rtol=4 / np.sqrt(2 * n_draws))


def test_clipping_keeps_weak_readings_nonnegative() -> None:
    chip = _ideal_programming(Mesh.clements(4), tap_noise=0.5)
    e = np.full((2000, 4), 0.1 + 0j)  # |E|² = 0.01 ≪ s|E| = 0.05
    clipped = detect_power(e, chip, np.random.default_rng(3))
    raw = detect_power(e, chip, np.random.default_rng(3), clip="none")
    assert np.all(clipped >= 0) and np.any(raw < 0)
    np.testing.assert_array_equal(clipped, np.maximum(raw, 0))
    assert clipped.mean() > 0.01  # clipping biases the mean upward
    with pytest.raises(ValueError, match="clip='both'"):
        detect_power(e, chip, np.random.default_rng(3), clip="both")  # type: ignore[arg-type]


def test_adc_has_two_to_the_bits_levels() -> None:
    bits = 3
    chip = _ideal_programming(Mesh.clements(4), adc_bits=bits)
    amplitude = np.sqrt(np.linspace(0.0, 2.0, 1001))
    p = detect_power(amplitude[:, None] + 0j, chip, np.random.default_rng(0))
    levels = np.unique(p)
    assert levels.size == 2**bits
    np.testing.assert_allclose(levels, np.linspace(0.0, 2.0, 2**bits), rtol=0, atol=1e-15)
    assert np.all(np.abs(p[:, 0] - amplitude**2) <= 1.0 / (2**bits - 1) + 1e-12)


def test_adc_full_scale_saturates() -> None:
    chip = _ideal_programming(Mesh.clements(4), adc_bits=4)
    e = np.array([[1.0 + 0j, 3.0 + 0j]])
    p = detect_power(e, chip, np.random.default_rng(0), full_scale=4.0)
    assert p[0, 0] == pytest.approx(1.0, abs=4 / 15 / 2) and p[0, 1] == 4.0
    zero = detect_power(np.zeros((2, 3), complex), chip, np.random.default_rng(0))
    assert np.all(zero == 0)
    with pytest.raises(ValueError, match="full_scale"):
        detect_power(e, chip, np.random.default_rng(0), full_scale=-1.0)


def test_detection_rejects_bad_fields() -> None:
    chip = Chip.ideal(Mesh.clements(4))
    with pytest.raises(ValueError, match="field"):
        detect_power(np.array([[np.nan + 0j]]), chip, np.random.default_rng(0))
    with pytest.raises(ValueError, match="field"):
        apply_io_error(np.array([[1.0, np.inf]]), chip, np.random.default_rng(0))


def test_reading_powers_is_detecting_their_fields() -> None:
    """read_power(|E|²) draws and reads exactly as detect_power(E) does."""
    chip = _ideal_programming(Mesh.clements(4), tap_noise=0.05, adc_bits=6)
    e = _field(np.random.default_rng(0), (50, 4))
    for clip in ("zero", "none"):
        fields = detect_power(e, chip, np.random.default_rng(7), clip=clip)  # type: ignore[arg-type]
        powers = read_power(np.abs(e) ** 2, chip, np.random.default_rng(7), clip=clip)  # type: ignore[arg-type]
        np.testing.assert_allclose(powers, fields, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="negative"):
        read_power(np.array([0.5, -0.1]), chip, np.random.default_rng(0))
    with pytest.raises(TypeError, match="real"):
        read_power(e, chip, np.random.default_rng(0))
    with pytest.raises(ValueError, match="power"):
        read_power(np.array([np.nan]), chip, np.random.default_rng(0))


def test_io_error_statistics() -> None:
    sigma_a, sigma_p, n = 0.03, 0.02, 20000
    chip = _ideal_programming(Mesh.clements(4), io_amplitude_error=sigma_a, io_phase_error=sigma_p)
    e = _field(np.random.default_rng(0), (n, 4))
    out = apply_io_error(e, chip, np.random.default_rng(1))
    assert out.shape == e.shape and out.dtype == np.complex128
    ratio = out / e
    amp, ang = np.abs(ratio) - 1, np.angle(ratio) / np.pi
    for x, sigma in ((amp, sigma_a), (ang, sigma_p)):
        assert abs(x.mean()) < 4 * sigma / np.sqrt(x.size)
        assert abs(x.std() / sigma - 1) < 4 / np.sqrt(2 * x.size)
    assert abs(np.corrcoef(amp.ravel(), ang.ravel())[0, 1]) < 4 / np.sqrt(amp.size)
    again = apply_io_error(e, chip, np.random.default_rng(1))
    assert np.array_equal(out, again)


def test_io_error_free_chip_returns_a_copy() -> None:
    e = _field(np.random.default_rng(0), (3, 4))
    for chip in (None, Chip.ideal(Mesh.clements(4))):
        out = apply_io_error(e, chip, np.random.default_rng(0))
        assert np.array_equal(out, e) and out is not e


# ------------------------------------------------------------------------------ quantizer
@settings(max_examples=200, deadline=None)
@given(
    bits=st.integers(1, 16),
    full_scale=st.floats(1e-6, 1e6),
    fraction=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20),
)
def test_quantize_is_idempotent_and_within_half_a_step(
    bits: int, full_scale: float, fraction: list[float]
) -> None:
    x = np.asarray(fraction) * full_scale
    q = quantize(x, bits, full_scale)
    step = full_scale / (2**bits - 1)
    assert np.all(np.abs(q - x) <= step / 2 * (1 + 1e-9))
    assert np.all((q >= 0) & (q <= full_scale))
    assert np.array_equal(quantize(q, bits, full_scale), q)
    k = q / step
    np.testing.assert_allclose(k, np.rint(k), rtol=0, atol=1e-6)


def test_quantize_out_of_range() -> None:
    x = np.array([-0.3, 0.5, 1.4])
    np.testing.assert_allclose(quantize(x, 2, 1.0), [0.0, 2 / 3, 1.0])
    np.testing.assert_allclose(quantize(x, 2, 1.0, out_of_range="extend"), [-1 / 3, 2 / 3, 4 / 3])
    with pytest.raises(ValueError, match="bits=0"):
        quantize(x, 0, 1.0)
    with pytest.raises(ValueError, match="full_scale"):
        quantize(x, 4, 0.0)
    with pytest.raises(ValueError, match="out_of_range"):
        quantize(x, 4, 1.0, out_of_range="wrap")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "x", [np.array([0.5 + 0.4j]), np.array(["0.5"]), ["0.5"], np.array([True]), [None]]
)
def test_quantize_refuses_values_that_are_not_real_numbers(x: object) -> None:
    """A complex x was cast to float with only a ComplexWarning, its imaginary part
    dropped (0.5+0.4j quantized as 0.5), and strings were parsed as numbers."""
    with pytest.raises(TypeError, match=r"x must hold real numbers; got dtype"):
        quantize(x, 4, 1.0)  # type: ignore[arg-type]
    np.testing.assert_array_equal(quantize([0.75], 1, 1.0), [1.0])  # real lists still work


# -- statistics of the drawn errors, DAC levels, neighbours, unclipped ADC ------------
def test_static_phase_offsets_are_independent_with_the_requested_std() -> None:
    """θ, φ and output offsets are three independent N(0, σ²) draws, and 0 by default.

    A calibrated chip (the default) must hold no offset on any shifter; an
    uncalibrated one must not reuse one random stream for θ and φ (their offsets
    would then be perfectly correlated, a systematic error no real chip has).
    Tolerances are 5 standard errors for n = 2016 MZIs (64 output shifters).
    """
    mesh = Mesh.clements(64)
    calibrated = Chip.draw(mesh, np.random.default_rng(11))
    for name in ("theta_offset_rad", "phi_offset_rad", "out_offset_rad"):
        assert not np.any(getattr(calibrated, name)), name
    sigma = 0.1
    chip = Chip.draw(mesh, np.random.default_rng(11), phase_offset_std_rad=sigma)
    for name in ("theta_offset_rad", "phi_offset_rad", "out_offset_rad"):
        offsets = getattr(chip, name)
        n = offsets.size
        assert abs(offsets.mean()) < 5 * sigma / np.sqrt(n), name
        assert abs(offsets.std() / sigma - 1) < 5 / np.sqrt(2 * n), name
    n = chip.n_mzis
    corr = np.corrcoef(chip.theta_offset_rad, chip.phi_offset_rad)[0, 1]
    assert abs(corr) < 5 / np.sqrt(n)


def test_insertion_loss_is_clipped_per_mzi_before_it_is_shared_between_arms() -> None:
    """With a mean loss of 0 dB, a coupler arm loses nothing in 3/8 of the cases.

    The documented model is ``L_k = max(0, s·z)``, arm ``max(0, L_k/2 + (s/2)·z_a)``
    with independent standard normals z, z_a. By hand: if z < 0 (probability 1/2)
    then L_k = 0 and the arm is lossless when z_a < 0 (1/2): 1/4. If z > 0 the arm is
    lossless when z + z_a < 0; in the (z, z_a) plane that is the 45° wedge between the
    directions (0, −1) and (1, −1): 45/360 = 1/8. Total 3/8. Without the clip of L_k
    the arm is lossless when z + z_a < 0: probability 1/2.
    Arms of one MZI share z, so the standard error is bounded by that of n_mzis
    independent Bernoulli(3/8) draws; the tolerance is 5 of those.
    """
    chip = Chip.draw(
        Mesh.clements(64), np.random.default_rng(4), loss_db_per_mzi=0.0, loss_spread_db=0.1
    )
    lossless = chip.coupler_loss_db == 0
    se = np.sqrt(3 / 8 * 5 / 8 / chip.n_mzis)
    assert abs(lossless.mean() - 3 / 8) < 5 * se


@pytest.mark.parametrize("drive", ["thermal", "electro_optic"])
@pytest.mark.parametrize("bits", [3, 5])
def test_dac_phase_step_is_the_largest_gap_between_reachable_phases(drive: str, bits: int) -> None:
    """dac_phase_step_rad promises the coarsest phase step the DAC can make.

    The reachable phases are found by programming a fine grid of requested phases
    (it starts at 0, and its spacing 2π/2016 is below the width of every other level's
    rounding interval, ≥ 2π·2/31² for 5 bits, so every level is hit) and the largest
    gap between neighbouring levels must be the step, for both drive laws.
    """
    mesh = Mesh.clements(64)  # 2016 θ shifters: one fine grid over [0, 2π)
    chip = _ideal_programming(mesh, dac_bits=bits, drive=drive)
    grid = np.linspace(0.0, TWO_PI, mesh.n_mzis, endpoint=False)
    held = program(_phases(grid, grid, np.zeros(mesh.n_ports)), mesh, chip)
    levels = np.unique(held.theta_rad)
    assert levels.size == 2**bits  # 0 … 2π, every level reached
    assert dac_phase_step_rad(chip) == pytest.approx(np.max(np.diff(levels)), rel=1e-12)


def test_neighbours_are_in_the_same_column() -> None:
    """mzi_neighbours takes any layout with ``column`` and ``top``: two MZIs in
    different columns are never neighbours, even when their tops differ by 2."""
    layout = SimpleNamespace(column=np.array([0, 1, 1]), top=np.array([0, 2, 4]))
    i, j = mzi_neighbours(layout)  # type: ignore[arg-type]
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(1, 2)]


def test_phase_noise_of_all_shifters_is_uncorrelated() -> None:
    """Every shifter (θ, φ and output) draws its own error: θ_k and φ_k of one MZI too.

    Sample correlations of independent variables over n = 4000 passes have standard
    error 1/√n; every pair must be within 5 of them.
    """
    mesh = Mesh.clements(4)
    n = 4000
    phases = _random_phases(mesh, np.random.default_rng(0), 0.0, TWO_PI)
    noisy = phase_noise(
        phases,
        _ideal_programming(mesh, phase_noise_rad=0.02),
        np.random.default_rng(3),
        n_samples=n,
    )
    err = np.concatenate(
        [getattr(noisy, k) - getattr(phases, k) for k in ("theta_rad", "phi_rad", "out_rad")],
        axis=1,
    )
    corr = np.corrcoef(err, rowvar=False)
    off_diagonal = corr[~np.eye(corr.shape[0], dtype=bool)]
    assert np.max(np.abs(off_diagonal)) < 5 / np.sqrt(n)


def test_crosstalk_of_one_is_refused() -> None:
    """A crosstalk fraction of 1 would heat a neighbour as much as the shifter itself."""
    with pytest.raises(ValueError, match=r"crosstalk=1\.0 must be in \[0, 1\)"):
        Chip.ideal(Mesh.clements(3)).with_(crosstalk=1.0)


def test_adc_without_clipping_keeps_negative_readings_and_is_unbiased() -> None:
    """clip='none' is the idealized detector: noise below 0 and above full scale is
    kept on the extended ADC grid, so the mean reading stays |E|² (within 5 standard
    errors s|E|/√n); a saturating ADC would cut the readings to [0, |E|²]."""
    s, n = 0.5, 20000
    chip = _ideal_programming(Mesh.clements(4), tap_noise=s, adc_bits=6)
    e = np.full((n, 1), 0.1 + 0j)  # |E|² = 0.01 ≪ s|E| = 0.05: readings often < 0
    p = detect_power(e, chip, np.random.default_rng(5), clip="none")
    assert np.any(p < 0) and np.any(p > 0.01)
    assert abs(p.mean() - 0.01) < 5 * s * 0.1 / np.sqrt(n)


_MESH = Mesh.clements(4)
_PHASES = _MESH.random_phases(np.random.default_rng(0))
_CHIP = Chip.draw(_MESH, np.random.default_rng(1))
_FIELD = np.ones((2, 4), dtype=complex)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda rng: Chip.draw(4, rng), r"mesh=4 must be a photonic\.mesh\.Mesh"),
        (lambda rng: Chip.ideal(None), r"mesh=None must be a photonic\.mesh\.Mesh"),
        (lambda rng: mzi_neighbours(4), r"mesh=4 must be a photonic\.mesh\.Mesh"),
        (lambda rng: program(_PHASES, 4, _CHIP), r"mesh=4 must be a photonic\.mesh\.Mesh"),
        (lambda rng: program(None, _MESH, _CHIP), r"phases=None must be a photonic\.mesh"),
        (lambda rng: program(_PHASES, _MESH, 3), r"chip=3 must be a photonic\.imperfections"),
        (lambda rng: phase_noise(_PHASES, 3, rng, n_samples=2), r"chip=3 must be a"),
        (lambda rng: phase_noise(None, _CHIP, rng, n_samples=2), r"phases=None must be"),
        (lambda rng: detect_power(_FIELD, "ideal", rng), r"chip='ideal' must be a"),
        (lambda rng: read_power(np.ones(2), 3, rng), r"chip=3 must be a"),
        (lambda rng: apply_io_error(_FIELD, 3, rng), r"chip=3 must be a"),
        (lambda rng: dac_phase_step_rad(3), r"chip=3 must be a"),
    ],
)
def test_wrong_kinds_of_mesh_chip_and_phases_are_named(call: Any, match: str) -> None:
    """Each was an AttributeError from inside ('int' object has no attribute
    'n_ports' / 'tap_noise' / ...), naming no parameter."""
    with pytest.raises(TypeError, match=match):
        call(np.random.default_rng(2))


def test_one_phase_wrap_serves_programming_and_decomposition() -> None:
    """program and decompose each had their own copy of the [0, 2π) wrap; one is kept
    here, next to the shifter model that defines the range."""
    from photonic import decompose, imperfections

    assert decompose.wrap_rad is wrap_rad
    assert not hasattr(decompose, "_wrap") and not hasattr(imperfections, "_wrap")
    got = wrap_rad([-1e-18, TWO_PI, 7.0, -np.pi])
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, [0.0, 0.0, 7.0 - TWO_PI, np.pi], rtol=0, atol=1e-15)
    assert np.all((got >= 0) & (got < TWO_PI))


# -- drift ------------------------------------------------------------------------------


def _zeros(mesh: Mesh) -> Phases:
    return Phases(np.zeros(mesh.n_mzis), np.zeros(mesh.n_mzis), np.zeros(mesh.n_ports))


def test_drift_is_a_random_walk_of_the_given_step() -> None:
    """k steps of σ leave every shifter's drift N(0, kσ²), in the documented draw order,
    and the same seed gives the same walk."""
    mesh = Mesh.clements(32)
    chip = Chip.ideal(mesh).with_(drift_rad_per_step=0.01)
    drift, rng = _zeros(mesh), np.random.default_rng(5)
    for _ in range(16):
        drift = drift_step(drift, chip, rng)
    walked = np.concatenate([drift.theta_rad, drift.phi_rad, drift.out_rad])
    assert walked.size == 2 * mesh.n_mzis + mesh.n_ports == 1024
    assert np.std(walked) == pytest.approx(0.01 * 4, rel=0.1)  # √16 steps
    assert abs(np.mean(walked)) < 4 * 0.04 / np.sqrt(walked.size)
    z = np.random.default_rng(5).standard_normal(2 * mesh.n_mzis + mesh.n_ports)
    first = drift_step(_zeros(mesh), chip, np.random.default_rng(5))
    np.testing.assert_array_equal(first.theta_rad, 0.01 * z[: mesh.n_mzis])
    np.testing.assert_array_equal(first.out_rad, 0.01 * z[2 * mesh.n_mzis :])


def test_no_drift_draws_nothing_and_program_adds_drift_last() -> None:
    mesh = Mesh.clements(4)
    chip = Chip.draw(mesh, np.random.default_rng(0))  # DAC, crosstalk, no drift
    rng = np.random.default_rng(1)
    before = rng.bit_generator.state
    zero = _zeros(mesh)
    assert drift_step(zero, chip, rng) is zero
    assert rng.bit_generator.state == before
    phases = mesh.random_phases(np.random.default_rng(2))
    drift = drift_step(zero, chip.with_(drift_rad_per_step=0.1), rng)
    held, drifted = program(phases, mesh, chip), program(phases, mesh, chip, drift=drift)
    for name in ("theta_rad", "phi_rad", "out_rad"):  # after DAC and crosstalk: exactly added
        np.testing.assert_array_equal(
            getattr(drifted, name), getattr(held, name) + getattr(drift, name)
        )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda m, c: program(
                m.random_phases(np.random.default_rng(0)), m, None, drift=_zeros(m)
            ),
            "ideal device does not drift",
        ),
        (
            lambda m, c: program(m.random_phases(np.random.default_rng(0)), m, c, drift=3),
            "drift=3 must be a photonic.mesh.Phases",
        ),
        (
            lambda m, c: drift_step(_zeros(Mesh.clements(6)), c, np.random.default_rng(0)),
            r"drift.theta_rad must have shape \(6,\)",
        ),
        (lambda m, c: drift_step(_zeros(m), None, np.random.default_rng(0)), "chip=None"),
        (lambda m, c: c.with_(drift_rad_per_step=-0.1), "drift_rad_per_step=-0.1"),
    ],
)
def test_bad_drift(call: Callable[[Mesh, Chip], object], match: str) -> None:
    mesh = Mesh.clements(4)
    with pytest.raises((ValueError, TypeError), match=match):
        call(mesh, Chip.ideal(mesh))


def test_three_drift_steps_are_the_sum_of_three_draws_in_order() -> None:
    """Every field accumulates (θ, φ and the output column), step after step."""
    mesh = Mesh.clements(4)
    chip = Chip.ideal(mesh).with_(drift_rad_per_step=0.01)
    drift, rng = _zeros(mesh), np.random.default_rng(5)
    for _ in range(3):
        drift = drift_step(drift, chip, rng)
    z = np.random.default_rng(5).standard_normal((3, 2 * mesh.n_mzis + mesh.n_ports))
    np.testing.assert_allclose(
        np.concatenate([drift.theta_rad, drift.phi_rad, drift.out_rad]),
        0.01 * z.sum(axis=0),
        rtol=1e-12,
    )


@pytest.mark.parametrize(("drawn", "used"), [("reck", "clements"), ("clements", "reck")])
def test_a_chip_drawn_for_one_topology_is_refused_by_the_other(drawn: str, used: str) -> None:
    """Both layouts have N(N − 1)/2 MZIs, so the size check let a Reck chip program a
    Clements mesh, its per-MZI errors landing on other physical MZIs."""
    build = {"clements": Mesh.clements, "reck": Mesh.reck}
    chip = Chip.draw(build[drawn](4), np.random.default_rng(0))
    assert chip.topology == drawn == Chip.ideal(build[drawn](4)).topology
    mesh = build[used](4)
    phases = mesh.random_phases(np.random.default_rng(1))
    match = f"chip was drawn for a {drawn} mesh; Mesh.{used}\\(4\\) is {used}"
    with pytest.raises(ValueError, match=match):
        mesh.matrix(phases, chip)
    with pytest.raises(ValueError, match=match):
        PhotonicNetwork(
            4,
            1,
            n_features=2,
            topology=used,
            chip=chip,
            rng=np.random.default_rng(2),
            noise_rng=np.random.default_rng(3),
        )  # type: ignore[arg-type]
    untied = chip.with_(topology=None)  # a chip built field by field fits either
    np.testing.assert_array_equal(
        mesh.matrix(phases, untied), mesh.matrix(phases, chip.with_(topology=used))
    )


@pytest.mark.parametrize(("drawn", "used"), [("reck", "clements"), ("clements", "reck")])
def test_program_refuses_a_chip_drawn_for_the_other_topology(drawn: str, used: str) -> None:
    """program() checked only the sizes, so it applied a Reck chip's crosstalk to a
    Clements mesh's neighbours (and returned held phases no mesh call would accept)."""
    build = {"clements": Mesh.clements, "reck": Mesh.reck}
    chip = Chip.draw(build[drawn](4), np.random.default_rng(0), crosstalk=0.05)
    mesh = build[used](4)
    phases = mesh.random_phases(np.random.default_rng(1))
    with pytest.raises(ValueError, match=f"chip was drawn for a {drawn} mesh; mesh=Mesh.{used}"):
        program(phases, mesh, chip)
    held = program(phases, mesh, chip.with_(topology=None))  # untied: fits either
    assert held == program(phases, mesh, chip.with_(topology=used))


def test_a_chip_refuses_an_mzi_count_no_mesh_has_and_an_unknown_topology() -> None:
    chip = Chip.ideal(Mesh.clements(4))
    with pytest.raises(
        ValueError, match=r"n_mzis=5 does not fit n_ports=4: every 4-port mesh has 6"
    ):
        Chip(4, 5, np.zeros((5, 2)), np.zeros((5, 2, 2)), np.zeros(5), np.zeros(5), np.zeros(4))
    with pytest.raises(ValueError, match=r"topology='butterfly' is not allowed; choose one of"):
        chip.with_(topology="butterfly")


def test_a_chips_repr_summarises_its_arrays() -> None:
    """It printed every drawn array (N² numbers for an N-port chip)."""
    text = repr(Chip.draw(Mesh.clements(16), np.random.default_rng(0)))
    assert "array" not in text and len(text) < 400
    assert "topology='clements'" in text and "splitting error rms" in text


def test_a_chips_repr_summary_by_hand() -> None:
    """The summary is the rms splitting error over every coupler and the mean over MZIs
    of each MZI's loss (its two couplers' losses, each the mean of the coupler's two
    arms): a user comparing two drawn chips reads these numbers, not the arrays."""
    chip = Chip.ideal(Mesh.clements(3)).with_(
        splitting_error_rad=np.array([[0.03, -0.04], [0.0, 0.0], [0.0, 0.0]]),
        coupler_loss_db=np.stack([np.full((2, 2), 0.1), np.zeros((2, 2)), np.full((2, 2), 0.2)]),
    )
    # rms: √((0.03² + 0.04²) / 6) = 0.0204 rad; MZI losses 0.2, 0, 0.4 dB: mean 0.2 dB
    assert repr(chip).endswith("splitting error rms 0.0204 rad, mean MZI loss 0.2 dB)")


def test_with_names_what_is_not_a_field_and_points_draw_arguments_to_draw() -> None:
    """Chip.with_(splitting_error_std_rad=...) raised dataclasses' bare 'unexpected
    keyword argument', which lists no fields and does not say the spread is a draw
    argument (user study)."""
    chip = Chip.draw(Mesh.reck(4), np.random.default_rng(0))
    with pytest.raises(
        TypeError, match=r"splitting_error_std_rad is not a field of Chip \(fields: adc_bits, "
    ) as info:
        chip.with_(splitting_error_std_rad=0.1)
    assert "is an argument of Chip.draw" in str(info.value)
    with pytest.raises(TypeError, match=r"^Chip.with_: bogus is not a field of Chip \([^;]*\)$"):
        chip.with_(bogus=1)
    assert chip.with_(tap_noise=0.0).tap_noise == 0.0
    with pytest.raises(TypeError, match=r"^Chip.with_: rng is not a field of Chip \([^;]*\)$"):
        chip.with_(rng=1)  # a draw argument, but not a spread: no "draw again" hint
