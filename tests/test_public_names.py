"""Every public function and class of a library module with ``__all__`` is listed there.

A user reading ``__all__`` (or ``from module import *`` in a notebook, or an API
page generated from it) missed ``NO_IMPERFECTIONS``, ``read_power`` and
``dac_phase_step_rad`` of ``photonic.imperfections`` and ``check_presets`` of
``sim.presets``, which the scenarios and the docs use. (The scenario modules are
programs whose ``__all__`` names their entry points only.)
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("digital", "photonic", "sim")


def _modules_with_all() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
                for node in tree.body
            ):
                names.append(f"{package}.{path.stem}")
    return names


def _public_definitions(module: str) -> set[str]:
    """Top-level ``def``/``class`` names not starting with ``_``."""
    path = ROOT / Path(*module.split(".")).with_suffix(".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return {name for name in names if not name.startswith("_")}


@pytest.mark.parametrize("module", _modules_with_all())
def test_all_lists_every_public_definition(module: str) -> None:
    listed = set(importlib.import_module(module).__all__)
    missing = sorted(_public_definitions(module) - listed)
    assert not missing, f"{module}.__all__ lacks {missing}"
