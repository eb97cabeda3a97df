"""One self-contained static HTML page per run: tables, embedded plots, config and run info.

Contract
--------
:func:`write_report` writes ``report.html`` into a run folder. The page needs nothing
but itself: no scripts, no style sheets or fonts from the network, and every plot is
embedded as ``<img src="data:image/png;base64,…">`` (the PNG that
:func:`scenarios.plotting.save_figure` saved next to it), so it can be mailed,
archived or opened offline. It holds, in order: the title and a few paragraphs that say
how to read it, the tables (:class:`Table`), the figures, the configuration of the run
(every field of its ``Config``) and the run information of :func:`run_info`
(package version, git commit, Python and NumPy versions, platform, seed, wall time).

:class:`Table` also renders as Markdown (for closing notes: ``table.md``) and as
padded plain text (for the terminal).

Every piece of text is HTML-escaped; nothing a config or a table holds can inject
markup.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from scenarios.framework import PACKAGE_NAME, git_state, package_version
from sim.report import format_energy_pj, format_time_ns  # re-exported: the table's units

__all__ = [
    "PNG_SIGNATURE",
    "REPORT_FILENAME",
    "Figure",
    "Table",
    "format_energy_pj",
    "format_time_ns",
    "png_data_uri",
    "run_info",
    "write_report",
]

REPORT_FILENAME = "report.html"
#: The eight bytes every PNG file starts with (PNG specification, section 5.2).
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 2em auto; max-width: 1150px; padding: 0 1em; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em 0; font-size: 0.92em; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f5; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0 2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
.note { color: #444; font-size: 0.92em; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Table:
    """A small table of strings, rendered as HTML, Markdown or plain text.

    Parameters
    ----------
    caption : str
        One line said above the table.
    columns : tuple of str
        Column headers.
    rows : tuple of tuple of str
        Cells, one tuple per row, as many cells as ``columns``.
    """

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))
        object.__setattr__(self, "rows", tuple(tuple(str(c) for c in r) for r in self.rows))
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"row {i} of table {self.caption!r} has {len(row)} cells; "
                    f"the table has {len(self.columns)} columns"
                )

    def to_html(self) -> str:
        """An HTML ``<table>`` with a caption; every cell escaped."""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "\n".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self.rows
        )
        return (
            f"<table>\n<caption>{html.escape(self.caption)}</caption>\n"
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
        )

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table (``|`` in cells escaped), caption in bold."""

        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        lines = [f"**{cell(self.caption)}**", ""]
        lines.append("| " + " | ".join(cell(c) for c in self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows)
        return "\n".join(lines)

    def to_text(self) -> str:
        """Plain text, columns padded to their widest cell."""
        widths = [
            max(len(self.columns[j]), *(len(r[j]) for r in self.rows)) if self.rows else 0
            for j in range(len(self.columns))
        ]
        widths = [max(w, len(c)) for w, c in zip(widths, self.columns, strict=True)]
        lines = [self.caption]
        lines.append("  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in self.rows
        )
        return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True)
class Figure:
    """A saved PNG plot and the caption said under it."""

    png: Path
    caption: str


# --------------------------------------------------------------------------- helpers


def png_data_uri(path: str | Path) -> str:
    """``data:image/png;base64,…`` of a PNG file.

    Raises
    ------
    ValueError
        If the file does not start with the PNG signature.
    OSError
        If it cannot be read.
    """
    data = Path(path).read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"{str(path)!r} is not a PNG file (no PNG signature)")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def run_info(*, scenario: str, seed: int | None, wall_time_s: float) -> dict[str, object]:
    """What the run's ``manifest.json`` will say, known while the study still runs.

    Keys: ``scenario``, ``package``, ``version``, ``git_commit``, ``git_dirty``,
    ``python``, ``numpy``, ``platform``, ``seed``, ``wall_time_s`` (of the study
    itself; ``manifest.json`` holds the final figure), ``written_at``.
    """
    commit, dirty = git_state()
    return {
        "scenario": scenario,
        "package": PACKAGE_NAME,
        "version": package_version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "seed": seed,
        "wall_time_s": round(float(wall_time_s), 2),
        "written_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def _key_value_table(caption: str, items: Mapping[str, object]) -> str:
    return Table(
        caption, ("key", "value"), tuple((str(k), _cell(v)) for k, v in items.items())
    ).to_html()


def _cell(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


# --------------------------------------------------------------------------- page


def write_report(
    out_dir: str | Path,
    *,
    title: str,
    intro: Sequence[str],
    tables: Sequence[Table],
    figures: Sequence[Figure],
    config: object,
    info: Mapping[str, object],
    notes: Sequence[str] = (),
) -> Path:
    """Write ``out_dir/report.html``: one static, self-contained page.

    Parameters
    ----------
    out_dir : str or Path
        The run folder (must exist).
    title : str
        Page title and heading.
    intro : sequence of str
        Paragraphs (plain text) under the title: what the study covers, how to read it.
    tables : sequence of Table
        Shown in order under "Results".
    figures : sequence of Figure
        PNG files embedded as base64 data URIs, in order, with their captions.
    config : dataclass instance
        The run's ``Config``; every field is listed.
    info : mapping
        Run information (see :func:`run_info`).
    notes : sequence of str
        Paragraphs (plain text) after the tables: caveats, differences.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    TypeError
        If ``config`` is not a dataclass instance.
    ValueError
        If a figure is not a PNG file.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a dataclass instance, got {config!r}")
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
    ]
    parts.extend(f"<p>{esc(p)}</p>" for p in intro)
    parts.append("<h2>Results</h2>")
    parts.extend(t.to_html() for t in tables)
    parts.extend(f'<p class="note">{esc(n)}</p>' for n in notes)
    if figures:
        parts.append("<h2>Figures</h2>")
    for fig in figures:
        uri = png_data_uri(fig.png)
        parts.append(
            f'<figure><img src="{uri}" alt="{esc(fig.caption)}">'
            f"<figcaption>{esc(fig.caption)} (<code>{esc(Path(fig.png).name)}</code>)"
            "</figcaption></figure>"
        )
    parts.append("<h2>Configuration</h2>")
    parts.append(_key_value_table("config.json of this run", dataclasses.asdict(config)))
    parts.append("<h2>Run information</h2>")
    parts.append(
        _key_value_table(
            "as recorded while the study ran; manifest.json next to this page has the final "
            "wall time",
            info,
        )
    )
    parts.extend(["</body>", "</html>", ""])
    path = Path(out_dir) / REPORT_FILENAME
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
