"""Where scores stop moving: each size's mean absolute score change from the largest size.

Paired by item (and interpolation, blur, repeat; each resize mode's sizes and the pixel budgets
alike), so each figure is how far one page's (or image's) score still is from where it ends up,
not a difference of averages across items.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from .store import ResultRow

SETTLED = 0.01  # a mean change below this is "no longer moving"


@dataclass(frozen=True)
class MovementRow:
    size: str
    visual_tokens: float
    n: int
    mean_abs_change: float
    max_abs_change: float


def movement(rows: Sequence[ResultRow]) -> tuple[tuple[MovementRow, ...], str | None]:
    """Rows ordered by visual tokens, and the smallest size from which every larger one stays
    within :data:`SETTLED` of the largest size's scores (``None`` when none does)."""
    scores: dict[tuple[object, ...], dict[str, float]] = defaultdict(dict)
    tokens: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        if r.score is None or r.error:
            continue
        label = r.size if r.mode in ("native", "") else f"{r.size} ({r.mode})"
        scores[(r.item, r.interpolation, r.blur, r.repeat)][label] = r.score
        tokens[label].append(r.visual_tokens or 0)
    if len(tokens) < 2:
        return (), None
    mean_tokens = {size: sum(t) / len(t) for size, t in tokens.items()}
    order = sorted(mean_tokens, key=lambda size: mean_tokens[size])
    largest = order[-1]
    out = []
    for size in order:
        deltas = [abs(v[size] - v[largest]) for v in scores.values() if size in v and largest in v]
        if deltas:
            out.append(
                MovementRow(size, mean_tokens[size], len(deltas), sum(deltas) / len(deltas), max(deltas))
            )
    settled = None
    for row in reversed(out):
        if row.mean_abs_change >= SETTLED:
            break
        settled = row.size
    return tuple(out), settled
