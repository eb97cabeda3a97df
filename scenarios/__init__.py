"""Runnable studies that produce tables and plots, plus the ``photonic-backprop`` CLI.

Every scenario is a module of one shape (see :mod:`scenarios.framework`): a frozen
``Config`` dataclass with ``Config.smoke()``, ``run(cfg, out_dir) -> Result`` and
``main()``. They are registered by name in :data:`scenarios.registry.SCENARIOS` and
run with ``photonic-backprop run SCENARIO`` (see :mod:`scenarios.cli`).
"""

from __future__ import annotations

from scenarios.framework import DEFAULT_SCENARIO, SCENARIOS, Result, run_scenario

__all__ = ["DEFAULT_SCENARIO", "SCENARIOS", "Result", "run_scenario"]
