"""sim.hardware: validation of every component and the laser-sizing physics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from sim.hardware import (
    ELEMENTARY_CHARGE_C,
    Camera,
    DigitalHardware,
    DigitalProcessor,
    Laser,
    Link,
    MeshOptics,
    Modulator,
    PhaseShifter,
    Photodetector,
    PhotonicHardware,
    laser_electrical_power_mw,
    mesh_depth,
    mesh_transmission,
    required_detector_power_mw,
)


def processor(**changes: Any) -> DigitalProcessor:
    values: dict[str, Any] = {
        "peak_flops_per_s": {"fp32": 1e12},
        "precision": "fp32",
        "energy_per_flop_pj": {"fp32": 1.0},
        "memory_bandwidth_bytes_per_s": 1e11,
        "energy_per_byte_pj": 10.0,
        "static_power_w": 5.0,
        "launch_overhead_ns": 100.0,
    }
    values.update(changes)
    return DigitalProcessor(**values)


@pytest.mark.parametrize(
    ("cls", "field", "value", "fragment"),
    [
        (Laser, "wall_plug_efficiency", 0.0, "wall_plug_efficiency=0.0 must be a finite number"),
        (Laser, "wall_plug_efficiency", 1.5, "must be at most 1.0"),
        (Laser, "output_power_mw", -1.0, "output_power_mw=-1.0"),
        (Modulator, "sample_rate_hz", 0.0, "sample_rate_hz=0.0 must be a finite number > 0"),
        (Modulator, "sample_rate_hz", -1e9, "sample_rate_hz=-1000000000.0"),
        (Modulator, "dac_energy_pj", -0.1, "dac_energy_pj=-0.1 must be a finite number ≥ 0"),
        (Modulator, "channels", 0, "channels=0 must be an int ≥ 1 (or None)"),
        (Modulator, "bits", 0, "bits=0 must be an int ≥ 1"),
        (Modulator, "bits", 80, "bits=80 must be at most 32"),
        (Modulator, "settling_ns", float("nan"), "settling_ns=nan"),
        (PhaseShifter, "dac_rate_hz", 0.0, "dac_rate_hz=0.0"),
        (PhaseShifter, "settling_ns", -5.0, "settling_ns=-5.0"),
        (PhaseShifter, "technology", "magnetic", "technology='magnetic' is not allowed"),
        (PhaseShifter, "holding_power_mw", "25", "holding_power_mw='25' must be a number"),
        (PhaseShifter, "dac_channels", 2.5, "dac_channels=2.5"),
        (MeshOptics, "topology", "hexagonal", "choose one of: clements, reck"),
        (MeshOptics, "loss_db_per_mzi", -0.2, "loss_db_per_mzi=-0.2"),
        (Photodetector, "sample_rate_hz", 0, "Photodetector.sample_rate_hz=0"),
        (Photodetector, "responsivity_a_per_w", 0.0, "responsivity_a_per_w=0.0"),
        (Photodetector, "bits", True, "bits=True"),
        (Camera, "integration_ns", 0.0, "integration_ns=0.0"),
        (Camera, "power_w", -1.0, "power_w=-1.0"),
        (Link, "bandwidth_bytes_per_s", 0.0, "bandwidth_bytes_per_s=0.0"),
        (Link, "latency_ns", -1.0, "latency_ns=-1.0"),
    ],
)
def test_component_validation_names_the_field(
    cls: type, field: str, value: object, fragment: str
) -> None:
    with pytest.raises(ValueError, match=cls.__name__) as info:
        cls(**{field: value})
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"peak_flops_per_s": {"fp32": 0.0}}, "peak_flops_per_s['fp32']=0 must be > 0"),
        ({"peak_flops_per_s": {"fp32": -1.0}}, "peak_flops_per_s['fp32']=-1.0"),
        ({"peak_flops_per_s": {"fp13": 1.0}}, "precision 'fp13'; allowed"),
        ({"peak_flops_per_s": {}}, "must map precisions to numbers"),
        ({"precision": "bf16"}, "precision='bf16' has no peak_flops_per_s entry"),
        ({"energy_per_flop_pj": {"fp64": 1.0}}, "has no energy_per_flop_pj entry"),
        ({"memory_bandwidth_bytes_per_s": 0.0}, "memory_bandwidth_bytes_per_s=0.0"),
        ({"static_power_w": -3.0}, "static_power_w=-3.0"),
        ({"launch_overhead_ns": float("inf")}, "launch_overhead_ns=inf"),
    ],
)
def test_processor_validation(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match="DigitalProcessor") as info:
        processor(**changes)
    assert fragment in str(info.value)


def test_machines_validate_their_parts() -> None:
    with pytest.raises(ValueError, match=r"PhotonicHardware\.laser must be a Laser"):
        PhotonicHardware(name="x", host=processor(), laser="bright")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name='' must be a non-empty string"):
        DigitalHardware(name="", processor=processor())
    with pytest.raises(ValueError, match="pass_mode='parallel' is not allowed"):
        PhotonicHardware(name="x", host=processor(), pass_mode="parallel")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="taps_in_detector_frame=True needs a camera"):
        PhotonicHardware(name="x", host=processor(), taps_in_detector_frame=True)
    hw = PhotonicHardware(name="x", host=processor())
    assert hw.kind == "photonic" and DigitalHardware("y", processor()).kind == "digital"


def test_mappings_are_read_only() -> None:
    proc = processor()
    with pytest.raises(TypeError):
        proc.peak_flops_per_s["fp32"] = 2.0  # type: ignore[index]
    assert proc.word_bytes == 4
    assert proc.peak_ns_per_flop == pytest.approx(1e-3)


def test_required_detector_power_by_hand() -> None:
    # Shot-noise limit (no TIA noise), 1 bit: SNR 2, B = 0.5 GHz:
    #   I = 2 s² q B = 2 · 4 · q · 0.5e9 = 4e9 q ;  P = I / (0.5 A/W)
    det = Photodetector(
        bits=1, noise_current_pa_per_rthz=0.0, sample_rate_hz=1e9, responsivity_a_per_w=0.5
    )
    assert required_detector_power_mw(det) == pytest.approx(8e9 * ELEMENTARY_CHARGE_C * 1e3)
    # Default: 8 bits, 10 pA/√Hz, 1 GS/s, 1 A/W. s = 256, B = 5e8 Hz:
    #   s² q B = 5.25e-6 A;  s² i_n² B = 65536 · 1e-22 · 5e8 = 3.28e-9 A²
    #   I = 5.25e-6 + sqrt(5.25e-6² + 3.28e-9) = 6.27e-5 A → 62.7 µW
    shot = 256**2 * ELEMENTARY_CHARGE_C * 5e8
    expected_a = shot + math.sqrt(shot**2 + 65536 * (10e-12) ** 2 * 5e8)
    assert required_detector_power_mw(Photodetector()) == pytest.approx(expected_a * 1e3)
    assert required_detector_power_mw(Photodetector()) == pytest.approx(0.0627, rel=1e-2)
    assert required_detector_power_mw(Camera(required_power_nw=3.0)) == pytest.approx(3e-6)


def test_more_bits_need_more_light() -> None:
    powers = [required_detector_power_mw(Photodetector(bits=b)) for b in (4, 6, 8, 10)]
    assert powers == sorted(powers)


def test_mesh_loss_and_laser_sizing_by_hand() -> None:
    assert mesh_depth(8, "clements") == 8
    assert mesh_depth(8, "reck") == 13
    assert mesh_depth(2, "reck") == 1
    optics = MeshOptics(topology="clements", loss_db_per_mzi=0.25, coupling_loss_db=1.0)
    # 2 facets × 1 dB + 8 columns × 0.25 dB = 4 dB
    assert mesh_transmission(8, optics) == pytest.approx(10 ** (-0.4))
    hw = PhotonicHardware(
        name="x",
        host=processor(),
        mesh=optics,
        laser=Laser(wall_plug_efficiency=0.25),
        detector=Camera(required_power_nw=1000.0),  # 1 µW per detector
    )
    # 8 detectors × 1 µW / T(4 dB) / 0.25 wall-plug
    assert laser_electrical_power_mw(8, hw) == pytest.approx(8 * 1e-3 / 10 ** (-0.4) / 0.25)
    fixed = PhotonicHardware(
        name="x", host=processor(), laser=Laser(wall_plug_efficiency=0.5, output_power_mw=3.0)
    )
    assert laser_electrical_power_mw(64, fixed) == pytest.approx(6.0)


@pytest.mark.parametrize("n_ports", [16_000, 20_000])
def test_a_mesh_too_lossy_for_float64_is_refused_by_name(n_ports: int) -> None:
    """At 0.2 dB per MZI a Clements mesh of ≈ 16 000 ports loses ≈ 3200 dB: its
    transmission underflows to 0 (the laser sizing divided by it: ZeroDivisionError, a
    traceback from the CLI) or the laser power overflows to inf. Both are ValueErrors
    naming n_ports, which the CLI prints as one line."""
    optics = MeshOptics(topology="clements", loss_db_per_mzi=0.2, coupling_loss_db=1.5)
    hw = PhotonicHardware(name="lossy", host=processor(), mesh=optics)
    with pytest.raises(ValueError, match=rf"n_ports={n_ports}:.*fewer ports or less loss"):
        laser_electrical_power_mw(n_ports, hw)
    if n_ports == 20_000:
        with pytest.raises(ValueError, match=r"n_ports=20000: .*4003 dB of loss"):
            mesh_transmission(n_ports, optics)
    assert 0 < mesh_transmission(15_000, optics) < 1e-300  # still representable
    assert math.isfinite(laser_electrical_power_mw(15_000, hw))


def test_hardware_knows_the_topologies_photonic_builds() -> None:
    from photonic.mesh import TOPOLOGIES as BUILT
    from sim.hardware import TOPOLOGIES

    assert TOPOLOGIES == BUILT


@pytest.mark.parametrize("topology", ["clements", "reck"])
@pytest.mark.parametrize("n_ports", range(2, 11))
def test_mesh_depth_is_the_column_count_of_the_photonic_mesh(topology: str, n_ports: int) -> None:
    """The engine times the optics by mesh_depth; sim.hardware computes it without
    importing photonic, so it must agree with the layout photonic.mesh builds.
    A 2-port Clements mesh has one column (its second would be empty), not 2."""
    from photonic.mesh import Mesh

    assert mesh_depth(n_ports, topology) == Mesh(n_ports, topology).n_columns  # type: ignore[arg-type]
    # an SVD layer: V, one column of attenuator MZIs, U
    svd = mesh_depth(n_ports, topology, meshes=2)  # type: ignore[arg-type]
    assert svd == 2 * Mesh(n_ports, topology).n_columns + 1  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: mesh_depth(4, "Clements"), ValueError, r"topology='Clements' is not allowed"),
        (lambda: mesh_depth(4, None), ValueError, r"topology=None is not allowed"),
        (lambda: mesh_depth(4.5, "clements"), ValueError, r"n_ports=4\.5 must be an int > 0"),
        (lambda: mesh_depth(-3, "reck"), ValueError, r"n_ports=-3 must be an int > 0"),
        (lambda: mesh_depth(4, "reck", meshes=0), ValueError, r"meshes=0 must be an int > 0"),
        (lambda: mesh_transmission(-4, MeshOptics()), ValueError, r"n_ports=-4"),
        (lambda: mesh_transmission(4, None), TypeError, r"optics is a NoneType; expected a Mesh"),
        (lambda: mesh_transmission(4, MeshOptics(), meshes=0), ValueError, r"meshes=0"),
        (
            lambda: laser_electrical_power_mw(
                4, PhotonicHardware(name="chip", host=processor()), meshes=-1
            ),
            ValueError,
            r"meshes=-1",
        ),
        (
            lambda: laser_electrical_power_mw(-4, PhotonicHardware(name="chip", host=processor())),
            ValueError,
            r"n_ports=-4 must be an int > 0",
        ),
        (
            lambda: laser_electrical_power_mw(
                4, DigitalHardware(name="cpu", processor=processor())
            ),
            TypeError,
            r"hardware is a DigitalHardware; expected a PhotonicHardware",
        ),
        (
            lambda: required_detector_power_mw(None),
            TypeError,
            r"readout is a NoneType; expected a Photodetector or Camera",
        ),
    ],
)
def test_physics_helpers_refuse_bad_arguments_by_name(
    call: Any, error: type[Exception], match: str
) -> None:
    """mesh_depth(4, 'Clements') silently returned the Reck depth, 4.5 ports gave 4.5
    columns and -4 ports a negative laser power; a wrong object was an AttributeError;
    meshes=0 would size the laser for the facets' loss alone."""
    with pytest.raises(error, match=match):
        call()


def test_numpy_scalars_are_accepted_as_plain_numbers() -> None:
    """Values read from arrays (np.float32, np.int64) were refused ('must be a number',
    'must be an int ≥ 1'); they are stored as plain floats and ints, bools stay refused."""
    laser = Laser(wall_plug_efficiency=np.float32(0.5))
    assert laser.wall_plug_efficiency == 0.5 and type(laser.wall_plug_efficiency) is float
    det = Photodetector(bits=np.int64(8), channels=np.int32(4))
    assert (det.bits, det.channels) == (8, 4)
    assert type(det.bits) is int and type(det.channels) is int
    proc = processor(peak_flops_per_s={"fp32": np.float64(1e12)}, static_power_w=np.float32(5))
    assert proc.static_power_w == 5.0 and type(proc.static_power_w) is float
    for bad in (True, np.bool_(True)):
        with pytest.raises(ValueError, match=r"Photodetector\.bits=.* must be an int ≥ 1"):
            Photodetector(bits=bad)
        with pytest.raises(ValueError, match=r"Laser\.wall_plug_efficiency=.* must be a number"):
            Laser(wall_plug_efficiency=bad)
