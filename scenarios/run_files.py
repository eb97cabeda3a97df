"""The names of the files that every run folder ``<out_root>/<scenario>/<run-id>/`` holds.

- ``config.json``: the settings of the run (:func:`scenarios.framework.write_config`);
- ``metrics.csv``: its tidy rows (:func:`scenarios.framework.write_metrics`);
- ``manifest.json``: what ran, with what software, how long
  (:func:`scenarios.framework.write_manifest`).

A module of its own so that the modules :mod:`scenarios.framework` builds on (the
plots, :mod:`scenarios.plotting`) can name these files without importing it.
"""

from __future__ import annotations

__all__ = ["CONFIG_FILENAME", "MANIFEST_FILENAME", "METRICS_FILENAME"]


CONFIG_FILENAME = "config.json"
METRICS_FILENAME = "metrics.csv"
MANIFEST_FILENAME = "manifest.json"
