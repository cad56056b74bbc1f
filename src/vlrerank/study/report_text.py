"""The report's words: what each empty table needs, how cost was measured, and the spec that ran.

Kept apart from :mod:`.report` so the advice sits in one place and each table's title maps to one
sentence a user can act on.
"""

from __future__ import annotations

import json
from typing import Any

# What to add to the spec or manifest so an empty table gets rows.
REMEDIES = {
    "Score by size and category": "no scored results: see the error column of results.csv",
    "Peak and plateau per category": "no scored results: see the error column of results.csv",
    "Interpolation vs baseline (paired)": (
        "needs bicubic and at least one other interpolation at a resized size: add e.g. "
        "`interpolations: [bicubic, nearest]` (`--interpolations bicubic,nearest`) and a size other "
        "than native"
    ),
    "Rank stability across repeats": (
        "needs at least 2 repeats and 2 images per size: add `repeats: 3` (`--repeats 3`) and rerun; "
        "stored rows are kept"
    ),
    "Ranking quality (labelled groups)": (
        "needs labels: give manifest rows a `relevant` value (1 for a match, 0 otherwise) and a `group` "
        "(rows ranked together), with at least one relevant row and one other per group"
    ),
    "Sub-score correlations": (
        "needs sub-scores: set `explain: true` (`--explain`); a different explain setting starts a new "
        "results folder (or `--restart`)"
    ),
    "Cost per size": "no scored results: see the error column of results.csv",
}


def remedy(title: str) -> str:
    return f"(no rows: {REMEDIES.get(title, 'not applicable to these results')})"


def spec_lines(spec_json: str | None) -> list[str]:
    """The stored spec as ``key: value`` lines (the manifest path is not part of the stored spec)."""
    if not spec_json:
        return ["(no spec stored)"]
    try:
        spec = json.loads(spec_json)
    except json.JSONDecodeError:
        return [spec_json]
    lines = []
    for key, value in spec.items():
        shown = "[" + ", ".join(_size(v) for v in value) + "]" if key == "sizes" else json.dumps(value)
        lines.append(f"{key}: {shown}")
    return lines


def grid_summary(spec: dict[str, Any], conditions: int) -> str:
    """One line a user can check before a long run: the grid and how many conditions it makes."""

    def listed(values: Any) -> str:
        return "[" + ", ".join(_size(v) for v in values) + "]"

    parts = [
        f"sizes {listed(spec.get('sizes', []))}",
        f"interpolations {listed(spec.get('interpolations', []))}",
        f"modes {listed(spec.get('modes', []))}",
        f"blur sigmas {listed(spec.get('blur_sigmas', []))}",
        f"repeats {spec.get('repeats')}",
    ]
    return f"grid: {'; '.join(parts)} -> {conditions} conditions"


def _size(value: Any) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{value[0]}x{value[1]}"
    return str(value)
