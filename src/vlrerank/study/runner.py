"""Run a study: score every missing condition, write each batch as it is made, show progress."""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InputError
from .conditions import Condition, expand, fingerprint
from .spec import StudyItem, StudySpec, load_manifest
from .store import ResultRow, ResultStore

STORE_NAME = "results.sqlite"


@dataclass(frozen=True)
class RunSummary:
    total: int
    already_done: int
    scored: int
    errors: int
    seconds: float
    store: Path


def batches(spec: StudySpec, items: list[StudyItem], todo: list[Condition]) -> list[list[Condition]]:
    """Conditions grouped by query (one request each), at most ``batch_documents`` per batch."""
    by_query: dict[str, list[Condition]] = {}
    for condition in todo:
        by_query.setdefault(items[condition.item].query, []).append(condition)
    out = []
    for group in by_query.values():
        for start in range(0, len(group), spec.batch_documents):
            out.append(group[start : start + spec.batch_documents])
    return out


def _peak_memory_mb(reranker: Any) -> float:
    import torch

    if reranker.device.type == "cuda":
        return float(torch.cuda.max_memory_allocated(reranker.device)) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def score_batch(
    reranker: Any, spec: StudySpec, items: list[StudyItem], batch: list[Condition]
) -> list[ResultRow]:
    """Score one batch (all the same query). A bad image becomes an error row; the rest is scored."""
    pending = list(batch)
    failed: dict[str, str] = {}
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
    return {"image": str(item.image), **({"text": item.text} if item.text else {})}


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


def run_study(
    spec: StudySpec,
    out_dir: str | Path,
    *,
    executor: str = "local",
    restart: bool = False,
    ray_address: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> RunSummary:
    """Score every condition not yet in ``out_dir``'s store. Safe to kill and rerun at any moment."""
    start = time.perf_counter()
    items = load_manifest(spec.manifest)
    conditions = expand(spec, items)
    store = ResultStore(Path(out_dir) / STORE_NAME)
    try:
        store.claim(fingerprint(spec, items, __version__), restart=restart)
        store.set_meta(
            {
                "spec": json.dumps(spec.canonical(), sort_keys=True),
                "model": spec.model,
                "version": __version__,
            }
        )
        done = store.done()
        todo = [c for c in conditions if c.key not in done]
        work = batches(spec, items, todo)
        if not work:  # everything is stored already: no model to load
            return RunSummary(len(conditions), len(done), 0, 0, time.perf_counter() - start, store.path)
        from .executors import make_executor

        runner = make_executor(executor, spec, items, address=ray_address, workers=workers)
        try:
            store.set_meta({"random_weights": str(runner.random_weights).lower()})
            scored = errors = 0
            for rows in _with_progress(runner.map(work), sum(len(b) for b in work), progress):
                store.write(rows)
                scored += len(rows)
                errors += sum(1 for r in rows if r.error)
                if on_batch:
                    on_batch(scored)
        finally:
            runner.close()
        return RunSummary(len(conditions), len(done), scored, errors, time.perf_counter() - start, store.path)
    finally:
        store.close()


def _with_progress(results: Iterable[list[ResultRow]], total: int, show: bool) -> Iterable[list[ResultRow]]:
    if not show:
        yield from results
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f} pairs/s" if task.speed else "- pairs/s")

    with Progress(BarColumn(), MofNCompleteColumn(), Rate(), TimeRemainingColumn()) as bar:
        task = bar.add_task("scoring", total=total)
        for rows in results:
            bar.advance(task, len(rows))
            yield rows
