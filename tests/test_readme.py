"""Every command and code example in README.md runs as written.

The two quick-start commands (make a virtual environment, install, run) are what
``.ci/run`` itself does on a fresh clone, so they are exercised by CI rather than
here; every other ``bash``, ``toml`` and ``python`` block is run by these tests, in
order, in a fresh working folder with ``photonic-backprop`` on the PATH. A ``toml``
or ``python`` block whose first line is a comment naming a file (``# my-chip.toml``,
``# my_study.py``) is that file: it is written into the folder before any block runs,
and a Python one is not run itself (the shell blocks use it). The Dask
block's scheduler port is the only change: it is swapped for a free one, so that two
test runs on one machine do not fight over port 8786.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
IMAGE = re.compile(r"!\[[^\]]+\]\(([^)\s]+)\)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
QUICK_START = "python3 -m venv"
DASK_PORT = "8786"  # the scheduler port the README's Dask block uses


def free_port() -> str:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def blocks() -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in BLOCK.findall((ROOT / "README.md").read_text())]


FILE_NAME = re.compile(r"#\s*([\w.-]+\.(?:toml|py))\s*$")


def file_block_name(lang: str, body: str) -> str | None:
    """The file a ``toml`` or ``python`` block is, named by its first line, or ``None``."""
    if lang not in ("toml", "python"):
        return None
    match = FILE_NAME.match(body.splitlines()[0]) if body.strip() else None
    return match.group(1) if match else None


def shell_blocks() -> list[str]:
    return [body for lang, body in blocks() if lang == "bash" and QUICK_START not in body]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A folder to run in, and an environment with the command on the PATH."""
    folder = tmp_path_factory.mktemp("readme")
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "photonic-backprop"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m scenarios.cli "$@"\n')
    shim.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env["MPLBACKEND"] = "Agg"
    for lang, body in blocks():
        name = file_block_name(lang, body)
        if name is not None:
            (folder / name).write_text(body)
    return folder, env


def readme_images() -> list[str]:
    return IMAGE.findall((ROOT / "README.md").read_text())


def test_readme_images_are_small_pngs_in_the_repository() -> None:
    images = readme_images()
    assert images, "the README shows an example figure"
    for link in images:
        path = ROOT / link
        assert path.is_file(), f"README links {link}, which is not in the repository"
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE), link
        assert len(data) <= 150_000, f"{link} is {len(data)} bytes; keep README figures small"


def test_the_readme_example_study_is_a_scenario(tmp_path: Path) -> None:
    """The "Your own scenario" module passes load_scenario's check and runs."""
    from scenarios import framework as fw
    from scenarios import registry

    (body,) = [body for lang, body in blocks() if file_block_name(lang, body) == "my_study.py"]
    path = tmp_path / "readme_study.py"
    path.write_text(body)
    saved = list(sys.path)
    try:
        module = fw.load_scenario(str(path))
        assert fw.scenario_problems(module) == []
        result = fw.run_scenario(module, module.Config.smoke(), tmp_path / "out")
        assert result.summary["y_mean"] == pytest.approx(4.5, abs=1.0)
    finally:
        sys.path[:] = saved
        sys.modules.pop("readme_study", None)
        registry._LOADED_FILES.pop("readme_study", None)


def test_readme_has_the_two_quick_start_commands() -> None:
    quick = [body for lang, body in blocks() if lang == "bash" and QUICK_START in body]
    assert len(quick) == 2
    assert "photonic-backprop run" in quick[0]
    assert "pytest" in quick[1]


@pytest.mark.parametrize("index", range(len(shell_blocks())))
def test_shell_block_runs(index: int, workdir: tuple[Path, dict[str, str]]) -> None:
    folder, env = workdir
    body = shell_blocks()[index]
    if "dask " in body and importlib.util.find_spec("distributed") is None:
        pytest.skip("the distributed extra is not installed")
    if DASK_PORT in body:
        port = free_port()
        body = body.replace(f":{DASK_PORT}", f":{port}").replace(
            f"--port {DASK_PORT}", f"--port {port}"
        )
        assert DASK_PORT not in body, "the README's Dask block uses port 8786 in a new way"
    script = f"set -e\n{body}\njobs -p | xargs -r kill\n"
    proc = subprocess.run(
        ["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"{body}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def test_toml_and_python_blocks_run(workdir: tuple[Path, dict[str, str]]) -> None:
    folder, _ = workdir
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        for lang, body in blocks():
            name = file_block_name(lang, body)
            if lang == "toml":
                assert name is not None, f"a toml block names its file on its first line:\n{body}"
                (folder / name).write_text(body)
            elif lang == "python" and name is None:
                exec(compile(body, "README.md", "exec"), {"__name__": "readme"})
    finally:
        os.chdir(cwd)


def test_the_hardware_example_changes_what_the_readme_says(tmp_path: Path) -> None:
    """compare with the README's my-chip.toml: the energies per step the text quotes."""
    from scenarios.compare import Config, run

    text = (ROOT / "README.md").read_text()
    (body,) = [body for lang, body in blocks() if lang == "toml"]
    (tmp_path / "my-chip.toml").write_text(body)
    quoted = re.search(r"drops\s+from (\d+) nJ to (\d+) nJ, at the same (\d+) ns", text)
    assert quoted, "the README quotes the example's energies and latency"
    before_nj, after_nj, latency_ns = (float(v) for v in quoted.groups())
    presets = (str(tmp_path / "my-chip.toml"), "eo-integrated")
    summary = run(dataclasses.replace(Config.smoke(), presets=presets), tmp_path, echo=None).summary
    assert float(summary["my-chip_step_energy_pj"]) / 1e3 == pytest.approx(after_nj, abs=0.5)
    assert float(summary["eo-integrated_step_energy_pj"]) / 1e3 == pytest.approx(before_nj, abs=0.5)
    for name in ("my-chip", "eo-integrated"):
        assert float(summary[f"{name}_step_latency_ns"]) == pytest.approx(latency_ns, abs=0.5)
