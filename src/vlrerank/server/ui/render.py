"""HTML for the UI: image facts on upload, and ranked results with expandable details.

Everything user-supplied is escaped; thumbnails are inline data URIs, so the page needs nothing
from outside the server.
"""

from __future__ import annotations

import base64
import io
import os
from html import escape
from typing import Any

from PIL import Image

from ...preprocess.provenance import ImageProvenance, aspect_label
from ...ranking import RankedResults

CSS = """
.vlr-facts table, .vlr-details table { border-collapse: collapse; font-size: 0.9em; }
.vlr-facts td, .vlr-details td { padding: 2px 10px 2px 0; vertical-align: top; }
.vlr-result { display: flex; gap: 12px; align-items: flex-start; margin: 10px 0; }
.vlr-result img { width: 96px; height: 72px; object-fit: cover; border-radius: 4px; }
.vlr-score { font-size: 1.3em; font-weight: 600; min-width: 5em; }
.vlr-text { max-width: 40em; white-space: pre-wrap; }
.vlr-warning { background: #fff3cd; color: #664d03; padding: 8px; border-radius: 4px; margin-bottom: 8px; }
.vlr-error { background: #f8d7da; color: #58151c; padding: 8px; border-radius: 4px; }
.vlr-rejected li { color: #842029; }
"""


def file_facts(paths: list[str] | None) -> str:
    """A table of each uploaded file's size, aspect ratio and bytes, read from headers only."""
    if not paths:
        return "<div class='vlr-facts'><em>No candidate images yet.</em></div>"
    rows = []
    for path in paths:
        name = escape(os.path.basename(path))
        size = os.path.getsize(path)
        try:
            with Image.open(path) as image:
                width, height = image.size
            facts = f"{width}×{height} · {aspect_label(width, height)} · {_bytes(size)}"
        except (OSError, ValueError) as exc:
            facts = f"not an image ({escape(str(exc)[:80])}) · {_bytes(size)}"
        rows.append(f"<tr class='vlr-fact'><td>{name}</td><td>{escape(facts)}</td></tr>")
    return "<div class='vlr-facts'><table>" + "".join(rows) + "</table></div>"


def _bytes(size: int) -> str:
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def thumbnail(path: str) -> str:
    try:
        with Image.open(path) as image:
            image.thumbnail((192, 144))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=80)
    except (OSError, ValueError):
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def error(message: str) -> str:
    return f"<div class='vlr-error' role='alert'>{escape(message)}</div>"


def results(ranked: RankedResults, labels: list[str], thumbnails: dict[int, str], warning: str | None) -> str:
    parts = ["<div class='vlr-results'>"]
    if warning:
        parts.append(f"<div class='vlr-warning'>{escape(warning)}</div>")
    parts.append("<ol class='vlr-ranked'>")
    for r in ranked.results:
        shown = f"<img alt='' src='{thumbnails[r.index]}'>" if r.index in thumbnails else ""
        score = r.penalized_score if r.penalized_score is not None else r.score
        parts.append(
            f"<li class='vlr-result' data-index='{r.index}'>{shown}"
            f"<div class='vlr-score'>{score:.4f}</div>"
            f"<div><div class='vlr-text'>{escape(labels[r.index])}</div>"
            f"{_details(r)}</div></li>"
        )
    parts.append("</ol>")
    if ranked.rejected:
        parts.append("<h4>Rejected</h4><ul class='vlr-rejected'>")
        for rejected in ranked.rejected:
            parts.append(f"<li>{escape(labels[rejected.index])}: {escape(rejected.message)}</li>")
        parts.append("</ul>")
    parts.append(
        f"<p><small>prepare {ranked.prepare_s * 1000:.0f} ms · "
        f"model {ranked.forward_s * 1000:.0f} ms</small></p>"
    )
    parts.append("</div>")
    return "".join(parts)


def _details(result: Any) -> str:
    rows = [("overall score", f"{result.score:.4f}")]
    if result.penalized_score is not None:
        rows.append(("penalized score", f"{result.penalized_score:.4f}"))
    if result.explanation is not None:
        for name, sub in vars(result.explanation).items():
            label = name.replace("_", " ")
            rows.append((label, f"{sub.value:.4f}" if sub.value is not None else f"n/a: {sub.reason}"))
    for facts in result.images:
        rows += _image_rows(facts)
    body = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<details class='vlr-details'><summary>details</summary><table>{body}</table></details>"


def _image_rows(facts: ImageProvenance) -> list[tuple[str, str]]:
    rows = [
        ("resolution", f"{facts.original_width}×{facts.original_height} ({facts.aspect_ratio}) → model sees "
         f"{facts.model_width}×{facts.model_height}"),
        ("visual tokens", str(facts.visual_tokens)),
    ]  # fmt: skip
    if facts.quality is not None:
        reasons = ", ".join(facts.quality.reasons) or "none"
        rows.append(("quality", f"{facts.quality.score:.2f} (reasons: {reasons})"))
    steps = "; ".join(step.describe() for step in facts.steps) or "none"
    rows.append(("preprocessing", steps))
    return rows
