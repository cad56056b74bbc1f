"""Run a study: score every missing condition, write each batch as it is made, show progress."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import EngineConfig
from .conditions import Condition, expand, fingerprint
from .executors import make_executor
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
    order = sorted(groups, key=lambda key: _pixels(groups[key][0]))
    out = []
    for group in (groups[key] for key in order):
        for start in range(0, len(group), spec.batch_documents):
            out.append(group[start : start + spec.batch_documents])
    return out


def _pixels(c: Condition) -> int:
    if c.budget is not None:
        return int(c.budget)
    return (1 << 62) if c.size is None else c.size[0] * c.size[1]


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
