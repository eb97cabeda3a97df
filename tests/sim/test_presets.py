"""sim.presets: the bundled presets, user files, and clear errors for bad files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.hardware import (
    Camera,
    DigitalHardware,
    Photodetector,
    PhotonicHardware,
)
from sim.presets import (
    PRESET_DIR,
    available_presets,
    check_presets,
    load_preset,
    preset_toml,
)

REQUIRED = ("pai2023-chip", "thermal-integrated", "eo-integrated", "gpu-h100", "cpu")


def test_required_presets_exist_and_load() -> None:
    assert set(REQUIRED) <= set(available_presets())
    for name in available_presets():
        hw = load_preset(name)
        assert hw.name == name
        assert hw.description


def test_preset_contents() -> None:
    pai = load_preset("pai2023-chip")
    assert isinstance(pai, PhotonicHardware)
    assert isinstance(pai.detector, Camera) and isinstance(pai.taps, Camera)
    assert pai.phase_shifter.technology == "thermo_optic"
    assert pai.mesh.topology == "reck" and pai.pass_mode == "sequential"
    assert pai.host.precision == "fp32"  # copied from the cpu preset
    thermal = load_preset("thermal-integrated")
    assert isinstance(thermal, PhotonicHardware) and isinstance(thermal.taps, Photodetector)
    eo = load_preset("eo-integrated")
    assert isinstance(eo, PhotonicHardware)
    assert eo.phase_shifter.technology == "electro_optic"
    assert eo.phase_shifter.holding_power_mw == 0.0
    assert eo.modulator.sample_rate_hz >= 1e9 and eo.detector.kind == "photodetector"
    gpu = load_preset("gpu-h100")
    assert isinstance(gpu, DigitalHardware)
    proc = gpu.processor
    # At full utilization the board draws its TDP: (dynamic + static/peak) = 700 W / 989 TFLOP/s
    total = proc.flop_energy_pj + proc.static_power_w / proc.peak_flops_per_s["bf16"] * 1e12
    assert total == pytest.approx(700 / 989e12 * 1e12, rel=1e-3)


def test_every_preset_value_cites_a_source() -> None:
    """Every number in a bundled preset says where it comes from: a comment citing
    parameters.md or marking an assumption, on its line or above it in its block (the
    value lines up to the previous comment, blank line or table header)."""
    source = re.compile(r"parameters\.md|assumption", re.IGNORECASE)
    value = re.compile(r"\s*\w+\s*=\s*([-+.\d{]|true|false)")  # numbers, maps, flags
    uncited = []
    for path in sorted(PRESET_DIR.glob("*.toml")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if not value.match(line) or source.search(line.partition("#")[2]):
                continue
            j = i - 1
            while j >= 0 and lines[j].strip() and not lines[j].lstrip().startswith(("#", "[")):
                j -= 1  # other values of the same block share its comment
            while j >= 0 and lines[j].lstrip().startswith("#"):
                if source.search(lines[j]) and "Sources:" not in lines[j]:  # not the header
                    break
                j -= 1
            else:
                uncited.append(f"{path.name}:{i + 1}: {line.strip()}")
    assert uncited == []


def test_load_by_path_and_base(tmp_path: Path) -> None:
    own = tmp_path / "my-chip.toml"
    own.write_text(
        'name = "my-chip"\nkind = "photonic"\nbase = "eo-integrated"\n'
        "[mesh]\nloss_db_per_mzi = 0.05  # assumption: a better chip\n"
        '[detector]\ntype = "camera"\nintegration_ns = 1e6\n'
    )
    hw = load_preset(own)
    assert isinstance(hw, PhotonicHardware)
    assert hw.name == "my-chip"
    assert hw.mesh.loss_db_per_mzi == 0.05
    assert hw.mesh.coupling_loss_db == 1.0  # kept from the base
    assert isinstance(hw.detector, Camera) and hw.detector.integration_ns == 1e6
    assert load_preset(str(own)).name == "my-chip"
    base = load_preset("eo-integrated")
    assert hw.description == f"eo-integrated, changed ({base.description})"  # not the base's
    bad = tmp_path / "bad-base.toml"
    bad.write_text('base = "eo-integrated"\ndescription = 5\n')
    child = tmp_path / "child-of-bad.toml"
    child.write_text('base = "bad-base.toml"\n')
    with pytest.raises(ValueError, match="description"):  # still refused through a child
        load_preset(child)


def test_base_tables_merge_key_by_key_at_any_depth(tmp_path: Path) -> None:
    """A child that restates a table's default type, or sets one entry of a map, keeps
    the base's other values; a table of another type replaces the base's."""
    base = tmp_path / "base.toml"
    base.write_text(
        'kind = "photonic"\n[host]\npreset = "cpu"\n'
        "[detector]\nbits = 10\nsample_rate_hz = 1e8\n"  # no type: a photodetector
    )
    child = tmp_path / "child.toml"
    child.write_text('base = "base.toml"\n[detector]\ntype = "photodetector"\nbits = 12\n')
    hw = load_preset(child)
    assert isinstance(hw, PhotonicHardware) and isinstance(hw.detector, Photodetector)
    assert (hw.detector.bits, hw.detector.sample_rate_hz) == (12, 1e8)  # not the defaults
    camera = tmp_path / "camera.toml"
    camera.write_text('base = "base.toml"\n[detector]\ntype = "camera"\n')
    assert isinstance(load_preset(camera).detector, Camera)  # type: ignore[union-attr]
    gpu = tmp_path / "gpu.toml"
    gpu.write_text('base = "gpu-h100"\n[processor]\nenergy_per_flop_pj = { bf16 = 0.5 }\n')
    fp32 = tmp_path / "gpu-fp32.toml"
    fp32.write_text('base = "gpu.toml"\n[processor]\nprecision = "fp32"\n')
    original = load_preset("gpu-h100").processor  # type: ignore[union-attr]
    processor = load_preset(fp32).processor  # type: ignore[union-attr]
    assert processor.energy_per_flop_pj["bf16"] == 0.5
    assert processor.energy_per_flop_pj["fp32"] == original.energy_per_flop_pj["fp32"]


def test_a_detector_table_without_type_changes_the_base_s_camera(tmp_path: Path) -> None:
    """No ``type``: the base's detector type, with its other values kept."""
    child = tmp_path / "faster-camera.toml"
    child.write_text('base = "pai2023-chip"\n[detector]\nintegration_ns = 1e6\n')
    hw = load_preset(child)
    base = load_preset("pai2023-chip")
    assert isinstance(hw, PhotonicHardware) and isinstance(base, PhotonicHardware)
    assert isinstance(hw.detector, Camera) and isinstance(base.detector, Camera)
    assert hw.detector.integration_ns == 1e6
    assert hw.detector.wait_ns == base.detector.wait_ns == 2e7


def test_a_host_table_s_own_values_override_its_host_preset(tmp_path: Path) -> None:
    chip = tmp_path / "chip.toml"
    chip.write_text('base = "eo-integrated"\n[host]\npreset = "cpu"\nstatic_power_w = 5.0\n')
    hw = load_preset(chip)
    cpu = load_preset("cpu")
    assert isinstance(hw, PhotonicHardware) and isinstance(cpu, DigitalHardware)
    assert hw.host.static_power_w == 5.0 != cpu.processor.static_power_w


def test_a_host_preset_in_a_child_replaces_the_base_s_host(tmp_path: Path) -> None:
    """``base = "eo-integrated"`` with ``[host] preset = "cpu"`` kept the base's ASIC
    host: its values were merged in and overrode every one of the CPU's."""
    cpu = load_preset("cpu")
    assert isinstance(cpu, DigitalHardware)
    chip = tmp_path / "eo-cpu.toml"
    chip.write_text('base = "eo-integrated"\n[host]\npreset = "cpu"\n')
    hw = load_preset(chip)
    assert isinstance(hw, PhotonicHardware) and hw.host == cpu.processor
    # naming the base's own preset again keeps the base's changes to it
    (tmp_path / "slow-host.toml").write_text(
        'base = "pai2023-chip"\n[host]\nlaunch_overhead_ns = 5e3\n'
    )
    again = tmp_path / "again.toml"
    again.write_text('base = "slow-host.toml"\n[host]\npreset = "cpu"\nstatic_power_w = 9.0\n')
    host = load_preset(again).host  # type: ignore[union-attr]
    assert (host.launch_overhead_ns, host.static_power_w) == (5e3, 9.0)
    assert host.precision == cpu.processor.precision


def test_an_inherited_host_preset_path_is_relative_to_its_own_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "mycpu.toml").write_text('base = "cpu"\n[processor]\nstatic_power_w = 7.0\n')
    (tmp_path / "a" / "chip.toml").write_text('kind = "photonic"\n[host]\npreset = "mycpu.toml"\n')
    child = tmp_path / "b" / "child.toml"
    child.write_text('base = "../a/chip.toml"\n[mesh]\nloss_db_per_mzi = 0.05\n')
    hw = load_preset(child)
    assert isinstance(hw, PhotonicHardware) and hw.host.static_power_w == 7.0


def test_relative_preset_paths_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--set presets=sub/chip.toml`: every path inside is taken from its own file once."""
    test_an_inherited_host_preset_path_is_relative_to_its_own_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    for relative in ("a/chip.toml", "b/child.toml", "b/../b/child.toml"):
        hw = load_preset(relative)
        assert isinstance(hw, PhotonicHardware) and hw.host.static_power_w == 7.0, relative


def test_check_presets_takes_names_and_paths(tmp_path: Path) -> None:
    own = tmp_path / "my-chip.toml"
    own.write_text('name = "my-chip"\nbase = "eo-integrated"\n[mesh]\nloss_db_per_mzi = 0.05\n')
    assert check_presets(["cpu", str(own)]) == ("cpu", str(own))
    twin = tmp_path / "twin.toml"
    twin.write_text('name = "cpu"\nbase = "cpu"\n')
    with pytest.raises(
        ValueError, match=r"heat=.* name the same hardware twice \(\['cpu', 'cpu'\]\)"
    ):
        check_presets(("cpu", str(twin)), "heat")
    with pytest.raises(ValueError, match=r"^presets: unknown preset 'nope'"):
        check_presets(("cpu", "nope"))
    with pytest.raises(ValueError, match=r"^presets: preset file .*missing\.toml' does not exist"):
        check_presets((str(tmp_path / "missing.toml"),))
    for bad in ((), "cpu", ("cpu", 3)):
        with pytest.raises(ValueError, match="must be a non-empty list of preset names or paths"):
            check_presets(bad)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


GOOD_DIGITAL = """
kind = "digital"
[processor]
precision = "fp32"
peak_flops_per_s = { fp32 = 1e12 }
energy_per_flop_pj = { fp32 = 1.0 }
memory_bandwidth_bytes_per_s = 1e11
energy_per_byte_pj = 10.0
static_power_w = 5.0
launch_overhead_ns = 100.0
"""


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("kind = 'photonic'\n[laser\n", ["is not valid TOML"]),
        ("kind = 'quantum'\n", ["kind='quantum' is not allowed", "photonic, digital"]),
        ("kind = 'photonic'\n[host]\npreset = 'cpu'\n[lazer]\n", ["unknown key(s) 'lazer'"]),
        (
            "kind = 'photonic'\n[host]\npreset = 'cpu'\n[laser]\nwallplug = 0.2\n",
            ["[laser] unknown field(s) 'wallplug'", "wall_plug_efficiency"],
        ),
        (
            "kind = 'photonic'\n[host]\npreset = 'cpu'\n[laser]\nwall_plug_efficiency = 0\n",
            ["[laser]", "wall_plug_efficiency=0"],
        ),
        (
            "kind = 'photonic'\n[host]\npreset = 'cpu'\n[modulator]\nsample_rate_hz = -1e9\n",
            ["[modulator]", "sample_rate_hz=-1000000000.0", "> 0"],
        ),
        (
            "kind = 'photonic'\n[host]\npreset = 'cpu'\n[taps]\nsample_rate_hz = 'fast'\n",
            ["[taps]", "sample_rate_hz='fast' must be a number"],
        ),
        (
            "kind = 'photonic'\n[host]\npreset = 'cpu'\n[detector]\ntype = 'eye'\n",
            ["[detector] type='eye' is not allowed", "photodetector, camera"],
        ),
        ("kind = 'photonic'\n", ["missing the [host] table"]),
        ("kind = 'photonic'\n[host]\npreset = 'gpu-h200'\n", ["[host] preset", "gpu-h200"]),
        ("kind = 'photonic'\n[host]\npreset = 'eo-integrated'\n", ["not a digital preset"]),
        ("kind = 'photonic'\nlaser = 3\n[host]\npreset = 'cpu'\n", ["'laser' must be a table"]),
        ("kind = 'digital'\n", ["missing the [processor] table"]),
        (
            "kind = 'digital'\n[processor]\nprecision = 'fp32'\n",
            ["[processor] missing required field(s)", "peak_flops_per_s"],
        ),
        (
            GOOD_DIGITAL.replace("1e11", "0.0"),
            ["[processor]", "memory_bandwidth_bytes_per_s=0.0"],
        ),
        (GOOD_DIGITAL.replace("fp32 = 1e12", "fp32 = -1e12"), ["peak_flops_per_s['fp32']"]),
        (
            GOOD_DIGITAL.replace('precision = "fp32"', 'precision = ["fp32"]'),
            ["[processor]", "precision=['fp32'] must be the name of one precision"],
        ),
        ("kind = 'digital'\nbase = 'no-such-preset'\n", ["base:", "no-such-preset"]),
        (  # the README's own-hardware file without its base line
            'name = "my-chip"\n[host]\nstatic_power_w = 0.1\n',
            ["has no kind", 'base = "eo-integrated"', 'kind = "photonic" or "digital"'],
        ),
    ],
)
def test_malformed_files_name_the_file_and_the_field(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        load_preset(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_good_user_digital_file(tmp_path: Path) -> None:
    hw = load_preset(_write(tmp_path, GOOD_DIGITAL))
    assert isinstance(hw, DigitalHardware) and hw.name == "bad"  # name defaults to the stem


def test_unknown_names_and_missing_files() -> None:
    with pytest.raises(ValueError, match=r"unknown preset 'gpu-h200'; available presets: .*cpu"):
        load_preset("gpu-h200")
    with pytest.raises(ValueError, match=r"preset file '/nowhere/x.toml' does not exist"):
        load_preset("/nowhere/x.toml")


def test_base_cycles_are_caught(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("kind = 'digital'\nbase = 'b.toml'\n")
    b.write_text("kind = 'digital'\nbase = 'a.toml'\n")
    with pytest.raises(ValueError, match="deeper than"):
        load_preset(a)


@pytest.mark.parametrize("name", available_presets())
def test_a_written_out_preset_reads_back_equal(name: str, tmp_path: Path) -> None:
    """preset_toml resolves base files and class defaults into one file that
    load_preset reads back to an equal object (floats exactly, maps included)."""
    hw = load_preset(name)
    path = tmp_path / "copy.toml"
    path.write_text(preset_toml(hw))
    assert load_preset(path) == hw
    assert "base" not in preset_toml(hw)  # complete: no chain left to follow


def test_a_written_out_user_preset_keeps_its_changes_and_marks_unset_fields(
    tmp_path: Path,
) -> None:
    own = tmp_path / "my-chip.toml"
    own.write_text('base = "eo-integrated"\n[mesh]\nloss_db_per_mzi = 0.05  # assumption\n')
    text = preset_toml(load_preset(own))
    assert "loss_db_per_mzi = 0.05\n" in text
    assert 'name = "my-chip"' in text and "sample_rate_hz = 1e+09\n" in text
    assert "# output_power_mw: not set (None, see sim.hardware.Laser)" in text
    with pytest.raises(TypeError, match="hardware is a str"):
        preset_toml("eo-integrated")  # type: ignore[arg-type]
    # any string a TOML file can hold is written so that it reads back (DEL must be
    # escaped), and tiny, huge and negative-zero floats come back exactly
    odd = tmp_path / "odd.toml"
    odd.write_text(
        'base = "eo-integrated"\ndescription = "rev\\u007f2 \\"q\\" \\\\ \\t ☃"\n'
        "[mesh]\nloss_db_per_mzi = 5e-324\n[link]\nlatency_ns = 1.7e308\n"
        "[modulator]\nsettling_ns = -0.0\n"
    )
    hw = load_preset(odd)
    assert "\x7f" in hw.description
    copy = tmp_path / "copy.toml"
    copy.write_text(preset_toml(hw))
    assert load_preset(copy) == hw
