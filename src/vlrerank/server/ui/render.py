"""HTML for the UI: image facts on upload, and ranked results with expandable details.

Everything user-supplied is escaped; thumbnails are inline data URIs, so the page needs nothing
from outside the server.
"""

from __future__ import annotations

import io
import os
from html import escape
from typing import Any

from PIL import Image

from ...inputs.data_uri import encode_data_uri
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
.vlr-probability { font-size: 0.9em; color: #0a3622; }
.vlr-below { opacity: 0.55; }
.vlr-below .vlr-probability { color: #842029; }
.vlr-nothing { background: #e2e3e5; padding: 8px; border-radius: 4px; margin-bottom: 8px; }
.vlr-compare { display: flex; gap: 24px; }
.vlr-compare > div { flex: 1; }
.vlr-moved td { padding: 2px 10px 2px 0; }
"""
QUALITY_MEASURES = ("sharpness", "exposure", "contrast", "resolution", "noise", "compression")


def file_facts(paths: list[str] | None) -> str:
    """A table of each uploaded file's size, aspect ratio and bytes, read from headers only."""
    if not paths:
        return "<div class='vlr-facts'><em>No candidate images yet.</em></div>"
    rows = []
    for path in paths:
        name = escape(os.path.basename(path))
        size = os.path.getsize(path)
        try:
            if path.lower().endswith(".pdf"):
                facts = f"PDF (each page rendered at the model's size) · {_bytes(size)}"
                rows.append(f"<tr class='vlr-fact'><td>{name}</td><td>{escape(facts)}</td></tr>")
                continue
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
    if path.lower().endswith(".pdf"):
        return ""
    try:
        with Image.open(path) as image:
            image.thumbnail((192, 144))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=80)
    except (OSError, ValueError):
        return ""
    return encode_data_uri(buffer.getvalue(), "image/jpeg")


def error(message: str) -> str:
    return f"<div class='vlr-error' role='alert'>{escape(message)}</div>"


def results(ranked: RankedResults, labels: list[str], thumbnails: dict[int, str], warning: str | None) -> str:
    parts = ["<div class='vlr-results'>"]
    if warning:
        parts.append(f"<div class='vlr-warning'>{escape(warning)}</div>")
    parts.append(_ranking(ranked, labels, thumbnails))
    parts.append("</div>")
    return "".join(parts)


def comparison(
    first: RankedResults,
    second: RankedResults,
    labels: list[str],
    thumbnails: dict[int, str],
    warning: str | None,
) -> str:
    """Two instructions' rankings side by side, and which candidates moved."""
    parts = ["<div class='vlr-results'>"]
    if warning:
        parts.append(f"<div class='vlr-warning'>{escape(warning)}</div>")
    parts.append("<div class='vlr-compare'>")
    for name, ranked in (("A", first), ("B", second)):
        parts.append(
            f"<div class='vlr-side' data-side='{name}'><h4>Instruction {name}</h4>"
            f"<p><small>{escape(ranked.instruction)}</small></p>{_calibrated_for(ranked)}"
            f"{_ranking(ranked, labels, thumbnails)}</div>"
        )
    parts.append("</div>")
    where_a = {r.index: p for p, r in enumerate(first.results, start=1)}
    where_b = {r.index: p for p, r in enumerate(second.results, start=1)}
    rows = []
    for index in sorted(where_a, key=where_a.__getitem__):
        a, b = where_a[index], where_b.get(index)
        if b is None:
            move = "not ranked in B"
        else:
            move = "unchanged" if a == b else (f"up {a - b}" if b < a else f"down {b - a}")
        rows.append(
            f"<tr data-index='{index}'><td>{escape(labels[index])}</td><td>{a}</td>"
            f"<td>{b if b is not None else '-'}</td><td>{move}</td></tr>"
        )
    moved = sum(1 for i in where_a if where_b.get(i) != where_a[i])
    parts.append(
        f"<h4>Moved: {moved} of {len(where_a)}</h4><table class='vlr-moved'>"
        "<tr><th>candidate</th><th>rank A</th><th>rank B</th><th>B vs A</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    parts.append("</div>")
    return "".join(parts)


def _calibrated_for(ranked: RankedResults) -> str:
    """Which calibrator gave this side's probabilities, and whether it fits this instruction (one
    calibrator serves both sides, fitted for one instruction at most)."""
    fitted = ranked.calibrated_for
    if fitted is None:
        return ""
    if fitted == ranked.instruction:
        return "<p class='vlr-calibration'><small>p: calibrator fitted for this instruction</small></p>"
    return (
        "<p class='vlr-calibration vlr-warning'><small>p: no calibrator fits this instruction; the "
        f"probabilities use the one fitted for “{escape(fitted)}” and may not hold</small></p>"
    )


def _ranking(ranked: RankedResults, labels: list[str], thumbnails: dict[int, str]) -> str:
    parts = []
    if ranked.nothing_relevant:
        parts.append(
            f"<div class='vlr-nothing'>Nothing relevant: no candidate reaches the calibrated "
            f"threshold p ≥ {ranked.threshold:.3f}.</div>"
        )
    parts.append("<ol class='vlr-ranked'>")
    for r in ranked.results:
        shown = f"<img alt='' src='{thumbnails[r.index]}'>" if thumbnails.get(r.index) else ""
        score = r.penalized_score if r.penalized_score is not None else r.score
        calibrated = ""
        if r.probability is not None:
            limit = "" if ranked.threshold is None else f" (threshold {ranked.threshold:.3f})"
            flag = " · below threshold" if r.below_threshold else ""
            calibrated = f"<div class='vlr-probability'>p = {r.probability:.3f}{limit}{flag}</div>"
        below = " vlr-below" if r.below_threshold else ""
        parts.append(
            f"<li class='vlr-result{below}' data-index='{r.index}'>{shown}"
            f"<div class='vlr-score'>{score:.4f}</div>"
            f"<div><div class='vlr-text'>{escape(labels[r.index])}</div>{calibrated}{_page(r)}"
            f"{_details(r)}</div></li>"
        )
    parts.append("</ol>")
    if ranked.rejected:
        parts.append("<h4>Rejected</h4><ul class='vlr-rejected'>")
        for rejected in ranked.rejected:
            failed = _failed_measures(rejected.images)
            parts.append(f"<li>{escape(labels[rejected.index])}: {escape(rejected.message)}{failed}</li>")
        parts.append("</ul>")
    parts.append(
        f"<p><small>prepare {ranked.prepare_s * 1000:.0f} ms · "
        f"model {ranked.forward_s * 1000:.0f} ms</small></p>"
    )
    return "".join(parts)


def _page(result: Any) -> str:
    if result.page is None:
        return ""
    return f"<div class='vlr-page'>best page {result.page}</div>"


def _failed_measures(images: tuple[ImageProvenance, ...]) -> str:
    """The quality measures that pulled a rejected image down, with their values (worst first).

    The quality score is the product of these measures, so each one under 1.0 lowered it."""
    measures = []
    for facts in images:
        if facts.quality is None:
            continue
        values = [(name, float(getattr(facts.quality, name))) for name in QUALITY_MEASURES]
        measures += [(v, n) for n, v in values if v < 1.0]
    if not measures:
        return ""
    shown = ", ".join(f"{name} {value:.2f}" for value, name in sorted(measures)[:3])
    return f" <span class='vlr-failed'>(lowered by: {escape(shown)})</span>"


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
