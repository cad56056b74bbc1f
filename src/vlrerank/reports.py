"""The shell the eval and study reports share: numbers as table cells, Markdown tables, one
self-contained HTML page (same head and style, figures embedded as base64 PNGs) and CSV files.

Each report keeps its own words and tables; only the layout lives here, so both look alike and a
fix to escaping or embedding reaches both.
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from .errors import MissingDependencyError

# A table as (header, rows), every cell already a string.
Table = tuple[list[str], list[list[str]]]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;font-size:.85em;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:3px 8px}"
    ".banner{background:#fff3cd;color:#664d03;padding:10px;border-radius:4px}img{max-width:100%}"
)


def number(value: float | None, digits: int) -> str:
    """A table cell: ``-`` for a missing or NaN value."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown_table(header: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"]
    lines += ["| " + " | ".join(cells) + " |\n" for cells in body]
    return "".join(lines)


def html_page(title: str, heading: str, body: Iterable[str]) -> str:
    """One self-contained page: the shared style, ``heading`` as its h1, then ``body`` (HTML)."""
    head = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>"
        f"{_STYLE}</style></head><body><h1>{escape(heading)}</h1>"
    )
    return head + "".join(body) + "</body></html>"


def html_banner(text: str) -> str:
    return f"<p class='banner'><strong>{escape(text)}</strong></p>"


def html_figure(title: str, encoded_png: str) -> str:
    return f"<h2>{escape(title)}</h2><img alt='{escape(title)}' src='data:image/png;base64,{encoded_png}'>"


def html_table(header: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    rows = ["<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>"]
    rows += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>" for cells in body]
    return "<table>" + "".join(rows) + "</table>"


@dataclass(frozen=True)
class Section:
    """One table of a report: a heading, ``notes`` as paragraphs, then the table, or ``empty`` when
    given and the table has no rows."""

    title: str
    header: Sequence[str]
    body: Sequence[Sequence[str]]
    notes: Sequence[str] = ()
    empty: str | None = None

    def markdown(self) -> str:
        out = f"\n## {self.title}\n\n" + "".join(f"{note}\n\n" for note in self.notes)
        if not self.body and self.empty is not None:
            return out + f"{self.empty}\n"
        return out + markdown_table(self.header, self.body)

    def html(self) -> str:
        out = f"<h2>{escape(self.title)}</h2>" + "".join(f"<p>{escape(note)}</p>" for note in self.notes)
        if not self.body and self.empty is not None:
            return out + f"<p>{escape(self.empty)}</p>"
        return out + html_table(self.header, self.body)


def write_csv(path: Path, header: Sequence[str], body: Iterable[Sequence[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(body)


def pyplot(extra: str) -> Any:
    """matplotlib's pyplot on the file-only backend; ``extra`` names the install extra that brings it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            f"the report's plots need matplotlib: pip install 'vlrerank[{extra}]'"
        ) from None
    return plt


def png_base64(figure: Any) -> str:
    """The figure as a base64 PNG for an ``<img>`` tag; the figure is closed (pyplot keeps open ones)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()
