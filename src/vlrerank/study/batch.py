"""Scoring one batch of study conditions on a reranker, and measuring its peak memory.

Shared by every executor (in this process or on Ray actors), so their results are identical.
"""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path
from typing import Any

from ..errors import InputError
from .conditions import Condition
from .spec import StudyItem, StudySpec
from .store import ResultRow

MEMORY_CUDA = "the GPU's peak allocated memory during the batch (peak statistics reset before each)"
MEMORY_RSS = (
    "the process's peak resident memory during the batch (Linux VmHWM, reset before each; batches "
    "run from the smallest size up, since a process keeps memory it has used, and the figure "
    "includes the model's weights)"
)
MEMORY_PROCESS = "the process's peak resident memory so far (this system cannot reset it per batch)"


def memory_method(reranker: Any) -> str:
    """How :func:`score_batch` measures peak memory on this reranker's device and system."""
    if reranker.device.type == "cuda":
        return MEMORY_CUDA
    return MEMORY_RSS if _reset_rss_peak() else MEMORY_PROCESS


def _reset_rss_peak() -> bool:
    try:  # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _reset_peak_memory(reranker: Any) -> None:
    import torch

    if reranker.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(reranker.device)
    else:
        _reset_rss_peak()


def _peak_memory_mb(reranker: Any) -> float:
    import torch

    if reranker.device.type == "cuda":
        return float(torch.cuda.max_memory_allocated(reranker.device)) / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def warm_up(reranker: Any, spec: StudySpec, items: list[StudyItem], batch: list[Condition]) -> None:
    """One untimed pair, so the first timed batch does not carry one-off start-up costs."""
    first = batch[0]
    with contextlib.suppress(InputError):  # a bad image is reported by the real batch
        reranker.rank(items[first.item].query, [_document(items[first.item])], spec.instruction,
                      preprocess=[first.preprocess()])  # fmt: skip


def score_batch(
    reranker: Any, spec: StudySpec, items: list[StudyItem], batch: list[Condition]
) -> list[ResultRow]:
    """Score one batch (all the same query). A bad image becomes an error row; the rest is scored."""
    pending = list(batch)
    failed: dict[str, str] = {}
    _reset_peak_memory(reranker)
    ranked = None
    while pending:
        documents = [_document(items[c.item]) for c in pending]
        try:
            ranked = reranker.rank(
                items[pending[0].item].query,
                documents,
                spec.instruction,
                preprocess=[c.preprocess() for c in pending],
                explain=spec.explain,
            )
            break
        except InputError as exc:
            index = _failed_index(exc.field)
            if index is None:
                raise
            failed[pending[index].key] = str(exc.reason)
            del pending[index]
    per_pair_ms = 0.0
    by_index = {}
    if ranked is not None and pending:
        per_pair_ms = (ranked.prepare_s + ranked.forward_s) * 1000 / len(pending)
        by_index = {r.index: r for r in ranked.results}
    memory = _peak_memory_mb(reranker)
    rows = []
    for i, condition in enumerate(pending):
        result = by_index.get(i)
        rows.append(_row(items, condition, result, per_pair_ms, memory, None))
    rows += [_row(items, c, None, None, None, failed[c.key]) for c in batch if c.key in failed]
    return rows


def _document(item: StudyItem) -> dict[str, Any]:
    kind = "pdf" if str(item.image).partition("#")[0].lower().endswith(".pdf") else "image"
    return {kind: str(item.image), **({"text": item.text} if item.text else {})}


def _failed_index(field: str) -> int | None:
    if field.startswith("documents["):
        return int(field[len("documents[") : field.index("]")])
    return None


def _row(
    items: list[StudyItem],
    c: Condition,
    result: Any,
    latency: float | None,
    memory: float | None,
    error: str | None,
) -> ResultRow:
    item = items[c.item]
    facts = result.images[0] if result is not None and result.images else None
    explanation = result.explanation if result is not None else None
    return ResultRow(
        condition=c.key,
        item=c.item,
        image=item.image.name,
        category=item.category,
        query=item.query,
        grp=item.group,
        relevant=item.relevant,
        size=c.size_label,
        width=c.size[0] if c.size else None,
        height=c.size[1] if c.size else None,
        interpolation=c.interpolation,
        mode=c.mode,
        blur=c.blur,
        repeat=c.repeat,
        score=result.score if result is not None else None,
        visual_match=explanation.visual_match.value if explanation else None,
        text_alignment=explanation.text_alignment.value if explanation else None,
        model_width=facts.model_width if facts else None,
        model_height=facts.model_height if facts else None,
        visual_tokens=facts.visual_tokens if facts else None,
        latency_ms=latency,
        peak_memory_mb=memory,
        error=error,
    )
