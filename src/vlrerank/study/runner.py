"""Run a study: score every missing condition, write each batch as it is made, show progress."""

from __future__ import annotations

import contextlib
import json
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import EngineConfig
from ..errors import InputError
from .conditions import Condition, expand, fingerprint
from .report_text import grid_summary
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


COST_METHOD = (
    "Cost is measured per condition: every batch holds one query at one preprocessing condition "
    "(size, interpolation, mode, blur), so its wall time (prepare + model) divided by its pairs is "
    "that condition's ms/pair, and its peak memory is that condition's peak. The model is warmed up "
    "once before the first timed batch. Peak memory is {memory}."
)
MEMORY_CUDA = "the GPU's peak allocated memory during the batch (peak statistics reset before each)"
MEMORY_RSS = (
    "the process's peak resident memory during the batch (Linux VmHWM, reset before each; batches "
    "run from the smallest size up, since a process keeps memory it has used, and the figure "
    "includes the model's weights)"
)
MEMORY_PROCESS = "the process's peak resident memory so far (this system cannot reset it per batch)"


def batches(spec: StudySpec, items: list[StudyItem], todo: list[Condition]) -> list[list[Condition]]:
    """Conditions grouped by query and preprocessing condition, at most ``batch_documents`` per batch,
    smallest sizes first.

    A batch never mixes sizes (or interpolations, modes, blurs): its time and memory are measured
    once and belong to every pair in it, so mixing would copy one size's cost onto another.
    """
    groups: dict[tuple[Any, ...], list[Condition]] = {}
    for c in todo:
        key = (items[c.item].query, c.size, c.interpolation, c.mode, c.blur, c.budget)
        groups.setdefault(key, []).append(c)
    # Smallest sizes first (native last): a process keeps memory it once used, so a small size
    # scored after a large one would otherwise inherit the large one's resident memory.
    order = sorted(groups, key=_pixels)
    out = []
    for group in (groups[key] for key in order):
        for start in range(0, len(group), spec.batch_documents):
            out.append(group[start : start + spec.batch_documents])
    return out


def _pixels(key: tuple[Any, ...]) -> int:
    size, budget = key[1], key[5]
    if budget is not None:
        return int(budget)
    return (1 << 62) if size is None else size[0] * size[1]


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


def run_study(
    spec: StudySpec,
    out_dir: str | Path,
    *,
    executor: str = "local",
    restart: bool = False,
    ray_address: str | None = None,
    workers: int | None = None,
    engine: EngineConfig | None = None,
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
    announce: Callable[[str], None] | None = None,
) -> RunSummary:
    """Score every condition not yet in ``out_dir``'s store. Safe to kill and rerun at any moment.

    ``announce`` receives the grid, its condition count and how many are stored, before any scoring.
    ``engine`` sets how the model runs (the spec's ``device``, when not ``auto``, wins over its device);
    it is recorded in the store's metadata.
    """
    start = time.perf_counter()
    items = load_manifest(spec.manifest)
    conditions = expand(spec, items)
    store = ResultStore(Path(out_dir) / STORE_NAME)
    try:
        store.claim(fingerprint(spec, items, __version__), restart=restart)
        described = {
            **spec.canonical(),
            "manifest": str(spec.manifest),
            "device": spec.device,
            "batch_documents": spec.batch_documents,
        }
        store.set_meta(
            {
                "spec": json.dumps(described),
                "model": spec.model,
                "version": __version__,
                "engine": json.dumps((engine or EngineConfig()).model_dump()),
            }
        )
        done = store.done()
        todo = [c for c in conditions if c.key not in done]
        if announce:
            announce(
                f"{grid_summary(spec.canonical(), len(conditions))} ({len(items)} images); "
                f"{len(conditions) - len(todo)} already stored, {len(todo)} to score"
            )
        work = batches(spec, items, todo)
        if not work:  # everything is stored already: no model to load
            return RunSummary(len(conditions), len(done), 0, 0, time.perf_counter() - start, store.path)
        from .executors import make_executor

        runner = make_executor(executor, spec, items, address=ray_address, workers=workers, engine=engine)
        try:
            store.set_meta(
                {
                    "random_weights": str(runner.random_weights).lower(),
                    "cost_method": COST_METHOD.format(memory=runner.memory_method),
                }
            )
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
