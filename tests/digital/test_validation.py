"""Shared input checks: messages name the parameter, the value and what is allowed."""

from __future__ import annotations

import numpy as np
import pytest

from digital.validation import (
    check_choice,
    check_choices,
    check_finite,
    check_fraction,
    check_generator,
    check_matrix,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_real,
)


def test_check_choices() -> None:
    assert check_choices(["a", "b"], "names", ("a", "b", "c")) == ("a", "b")
    assert check_choices((), "names", ("a",), empty="allow") == ()
    with pytest.raises(ValueError, match=r"names=\(\) must name at least one"):
        check_choices((), "names", ("a",))
    with pytest.raises(ValueError, match="names='z'"):
        check_choices(("a", "z"), "names", ("a", "b"))
    with pytest.raises(ValueError, match="twice"):
        check_choices(("a", "a"), "names", ("a", "b"))
    with pytest.raises(ValueError, match="tuple of names"):
        check_choices("a", "names", ("a",))


def test_check_real_and_check_fraction() -> None:
    assert check_real(-2, "bias") == -2.0
    assert check_real(np.float32(0.5), "bias") == 0.5
    assert check_fraction(0, "beta") == 0.0
    assert check_fraction(np.array(0.25), "beta") == 0.25
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"bias=.* must be a finite number"):
            check_real(bad, "bias")
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"beta=.* must be in \[0, 1\)"):
            check_fraction(bad, "beta")
    for wrong in ("0.1", None, True):
        with pytest.raises(TypeError, match="bias="):
            check_real(wrong, "bias")
        with pytest.raises(TypeError, match=r"beta=.* must be a number in \[0, 1\)"):
            check_fraction(wrong, "beta")


def test_scalar_checks() -> None:
    assert check_positive(0.5, "lr") == 0.5
    assert check_positive_int(np.int64(3), "n") == 3
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="lr="):
            check_positive(bad, "lr")
    for not_a_number in ("fast", "0.1", True, np.array([0.1, 0.2])):
        with pytest.raises(TypeError, match="lr="):
            check_positive(not_a_number, "lr")
    assert check_positive(np.array(0.25), "lr") == 0.25  # a 0-d array is its value
    for bad_int in (0, 2.0, True):
        with pytest.raises(ValueError, match="n="):
            check_positive_int(bad_int, "n")
    with pytest.raises(ValueError, match=r"mode='x'.*a, b"):
        check_choice("x", "mode", ("a", "b"))


def test_check_nonnegative() -> None:
    assert check_nonnegative(0, "loss_db") == 0.0
    assert check_nonnegative(np.float32(0.25), "loss_db") == 0.25
    assert check_nonnegative(np.array(0.5), "loss_db") == 0.5  # 0-d array: its value
    for bad in (-1e-9, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=r"loss_db=.* must be a finite number ≥ 0"):
            check_nonnegative(bad, "loss_db")
    for wrong in (True, np.bool_(True), "0.1", None, np.array([0.1, 0.2])):
        with pytest.raises(TypeError, match=r"loss_db=.* must be a number ≥ 0"):
            check_nonnegative(wrong, "loss_db")


@pytest.mark.parametrize("shape", [(7, 5), (64, 20)])  # entry by entry / reduced first
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_check_finite_finds_every_bad_entry_and_passes_huge_finite_ones(
    dtype: type, shape: tuple[int, int]
) -> None:
    x = np.ones(shape, dtype=dtype)
    check_finite(x, "x")
    check_finite(np.full(shape, 1e308, dtype=dtype), "x")  # finite entries whose sum overflows
    bads: list[complex] = [np.nan, np.inf, -np.inf]
    if np.dtype(dtype).kind == "c":
        bads += [complex(1, np.nan), complex(0, -np.inf)]
    for bad in bads:
        y = x.copy()
        y[3, 2] = bad
        with pytest.raises(ValueError, match="x holds 1 NaN or infinite"):
            check_finite(y, "x")
        with pytest.raises(ValueError, match="x holds 1 NaN or infinite"):
            check_finite(y.T, "x")  # not contiguous: the sum, or entry by entry
    z = x.copy()
    z[0, 0], z[1, 1] = np.inf, -np.inf  # their sum is NaN, still caught
    with pytest.raises(ValueError, match="holds 2 NaN"):
        check_finite(z, "x")
    check_finite(np.array(["a"]), "x")  # not numeric: not this check's business


def test_array_checks() -> None:
    with pytest.raises(ValueError, match="x holds 2 NaN"):
        check_finite(np.array([np.nan, 1.0, np.inf]), "x")
    assert check_matrix([[1, 2]], "x", n_cols=2).shape == (1, 2)
    with pytest.raises(ValueError, match="3 columns"):
        check_matrix(np.zeros((2, 2)), "x", n_cols=3)
    with pytest.raises(TypeError, match="numeric"):
        check_matrix(np.array([["a"]]), "x")


@pytest.mark.parametrize("bad", [0, None, np.random.RandomState(0), "seed"])
def test_check_generator_refuses_seeds_by_name(bad: object) -> None:
    rng = np.random.default_rng(0)
    assert check_generator(rng) is rng
    with pytest.raises(TypeError, match=r"noise_rng=.* must be a numpy.random.Generator"):
        check_generator(bad, "noise_rng")


def test_digital_entry_points_refuse_a_seed() -> None:
    from digital.datasets import load
    from digital.network import MLP
    from digital.optim import Adam
    from digital.train import train

    rng = np.random.default_rng(0)
    data = load("moons", n_samples=40, rng=rng)
    with pytest.raises(TypeError, match="rng=0 must be"):
        load("moons", n_samples=40, rng=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rng=0 must be"):
        MLP([2, 2], rng=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rng=0 must be"):
        train(
            MLP([2, 2], rng=rng),
            data,
            loss="softmax_cross_entropy",
            optimizer=Adam(lr=0.01),
            epochs=1,
            batch_size=8,
            rng=0,  # type: ignore[arg-type]
        )


def test_check_not_overflowed_names_the_input_and_its_remedy() -> None:
    """The message names the caller's input three times: what is too large, its
    largest magnitude, and what to scale down (not a generic 'it')."""
    from digital.validation import check_not_overflowed

    check_not_overflowed(np.array([1.0, 2.0]), np.array([3.0]), "x", "the outputs")
    with pytest.raises(ValueError, match=r"\(largest \|x\| = 1\.23e\+300\)"):
        check_not_overflowed(np.array([np.nan]), np.array([1.2345e300]), "x", "the outputs")
    with pytest.raises(
        ValueError,
        match=r"^grad_output is too large: the outputs are not finite, they overflow "
        r"float64 \(largest \|grad_output\| = 4e\+300\); scale grad_output down$",
    ):
        check_not_overflowed(
            np.array([1.0, np.inf]), np.array([-4e300, 1.0]), "grad_output", "the outputs"
        )


def test_an_object_passed_for_a_number_is_shown_short_with_its_type() -> None:
    """laser_electrical_power_mw(hardware, n_ports), the arguments swapped, printed the
    whole PhotonicHardware (1.5 kB) as the value of n_ports."""
    from sim.hardware import laser_electrical_power_mw
    from sim.presets import load_preset

    with pytest.raises(ValueError) as info:
        laser_electrical_power_mw(load_preset("eo-integrated"), 4)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith("n_ports=PhotonicHardw")
    assert message.endswith("(a PhotonicHardware) must be an int > 0")
    assert len(message) < 120
    with pytest.raises(ValueError, match=r"^lr=-1\.5 must be a finite number > 0$"):
        check_positive(-1.5, "lr")  # short values are shown whole, with no type


def test_choices_show_a_long_object_short_and_a_string_whole() -> None:
    from sim.presets import load_preset

    with pytest.raises(ValueError) as info:
        check_choice(load_preset("eo-integrated"), "n_ports", ("a", "b"))
    assert len(str(info.value)) < 150 and "(a PhotonicHardware)" in str(info.value)
    long_name = "a-very-long-preset-name-that-someone-typed-wrong"
    with pytest.raises(ValueError, match=f"name='{long_name}' is not allowed"):
        check_choice(long_name, "name", ("a", "b"))
