"""Score every (query, candidate) pair of an :class:`EvalSet`, storing each batch as it is made.

Rows go to the study's SQLite store (one row per variant and pair, ``INSERT OR IGNORE`` per
batch), so a run killed at any moment resumes with exactly the missing pairs. A variant is one
instruction: with two, the same pairs are scored under each (an A/B comparison).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..calibration import describe_preprocess
from ..errors import ConfigError, InputError
from ..study.store import ResultStore
from .data import EvalSet

STORE_NAME = "eval.sqlite"
DEFAULT_INSTRUCTION = "Given a search query, retrieve relevant candidates that answer the query."


@dataclass(frozen=True)
class EvalRow:
    """One scored pair. ``key`` is unique per variant and pair; ``error`` is set when it failed."""

    key: str
    variant: int
    instruction: str
    query_id: str
    document_id: str
    label: int
    first_rank: int  # 1-based position in the first-stage order
    score: float | None
    logit: float | None
    error: str | None


@dataclass(frozen=True)
class EvalSummary:
    pairs: int
    already_done: int
    scored: int
    errors: int
    seconds: float
    store: Path
    random_weights: bool | None


def row_key(variant: int, query_id: str, document_id: str) -> str:
    return hashlib.sha1(json.dumps([variant, query_id, document_id]).encode()).hexdigest()


def open_store(out_dir: str | Path) -> ResultStore[EvalRow]:
    return ResultStore(Path(out_dir) / STORE_NAME, EvalRow)


def run_eval(
    data: EvalSet,
    out_dir: str | Path,
    *,
    model: str,
    instructions: Sequence[str] = (DEFAULT_INSTRUCTION,),
    batch_size: int = 16,
    restart: bool = False,
    make_reranker: Callable[[], Any] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    config: dict[str, Any] | None = None,
    preprocess: Any = None,
    preprocess_b: Any = None,
) -> EvalSummary:
    """Score what ``out_dir`` does not hold yet; safe to kill and rerun at any moment.

    ``make_reranker`` builds the :class:`vlrerank.Reranker` (only when something is left to score);
    ``on_batch(done, total)`` follows progress; ``preprocess`` (a ``PreprocessConfig``) prepares
    document images, and ``preprocess_b`` (when given) does so for variant B instead: an A/B of
    two preprocessing setups (with one instruction, both variants use it).
    """
    start = time.perf_counter()
    if not instructions or len(instructions) > 2:
        raise ConfigError("give one instruction, or two to compare them")
    if preprocess_b is not None and len(instructions) == 1:
        instructions = [instructions[0], instructions[0]]
    preparations = [preprocess, preprocess if preprocess_b is None else preprocess_b][: len(instructions)]
    described = [describe_preprocess(p) for p in preparations]
    if len(instructions) == 2 and instructions[0] == instructions[1] and described[0] == described[1]:
        raise ConfigError(
            "variants A and B are the same: give a different instruction or preprocessing for B"
        )
    setup = {
        "model": model,
        "instructions": list(instructions),
        "data": data.fingerprint(),
        "preprocess": described,
        "version": __version__,
        **(config or {}),
    }
    fingerprint = hashlib.sha256(json.dumps(setup, sort_keys=True).encode()).hexdigest()
    store = open_store(out_dir)
    try:
        existing = store.meta("fingerprint")
        if existing not in (None, fingerprint) and not restart:
            raise ConfigError(
                f"{store.path} holds scores of a different model, instruction, data set or vlrerank "
                "version; use --restart to discard them, or --out a new folder"
            )
        store.claim(fingerprint, restart=restart)
        store.set_meta(
            {
                "setup": json.dumps(setup),
                "model": model,
                "source": data.source,
                "first_stage": str(data.first_stage).lower(),
                "qrels": json.dumps(data.qrels),  # Recall needs the relevant documents not retrieved too
            }
        )
        done = store.done()
        todo = [
            (variant, q, d)
            for variant in range(len(instructions))
            for q, d in data.pairs
            if row_key(variant, q, d) not in done
        ]
        total = len(instructions) * len(data.pairs)
        random_weights = _stored_flag(store.meta("random_weights"))
        scored = errors = 0
        if todo:
            reranker = (make_reranker or _default_reranker(model))()
            random_weights = bool(reranker.random_weights)
            store.set_meta({"random_weights": str(random_weights).lower(), "model": reranker.model_name})
            for batch in _batches(todo, batch_size):
                rows = score_batch(reranker, data, instructions, batch, preparations[batch[0][0]])
                store.write(rows)
                scored += len(rows)
                errors += sum(1 for r in rows if r.error)
                if on_batch:
                    on_batch(total - len(todo) + scored, total)
        return EvalSummary(
            total, total - len(todo), scored, errors, time.perf_counter() - start, store.path, random_weights
        )
    finally:
        store.close()


def _stored_flag(value: str | None) -> bool | None:
    return None if value is None else value == "true"


def _default_reranker(model: str) -> Callable[[], Any]:
    def build() -> Any:
        from .. import Reranker

        return Reranker(model)

    return build


def _batches(todo: list[tuple[int, str, str]], size: int) -> list[list[tuple[int, str, str]]]:
    """Pairs grouped by variant and query (one request each), at most ``size`` per batch."""
    groups: dict[tuple[int, str], list[tuple[int, str, str]]] = {}
    for pair in todo:
        groups.setdefault(pair[:2], []).append(pair)
    return [g[i : i + size] for g in groups.values() for i in range(0, len(g), max(1, size))]


def score_batch(
    reranker: Any,
    data: EvalSet,
    instructions: Sequence[str],
    batch: list[tuple[int, str, str]],
    preprocess: Any = None,
) -> list[EvalRow]:
    """Score one batch (one variant, one query). A bad document becomes an error row."""
    variant, query_id = batch[0][0], batch[0][1]
    pending = [d for _, _, d in batch]
    failed: dict[str, str] = {}
    by_document: dict[str, Any] = {}
    while pending:
        try:
            documents = [data.documents[d] for d in pending]
            ranked = reranker.rank(
                data.queries[query_id], documents, instructions[variant], preprocess=preprocess
            )
        except InputError as exc:
            if not exc.field.startswith("documents["):
                failed.update({d: str(exc) for d in pending})  # the query itself is bad
                break
            index = int(exc.field[len("documents[") : exc.field.index("]")])
            failed[pending.pop(index)] = str(exc.reason)
            continue
        by_document = {pending[r.index]: r for r in ranked.results}
        failed.update({pending[g.index]: g.message for g in ranked.rejected})
        break
    order = {d: i for i, d in enumerate(data.candidates[query_id], start=1)}
    rows = []
    for _, _, document_id in batch:
        result = by_document.get(document_id)
        rows.append(
            EvalRow(
                key=row_key(variant, query_id, document_id),
                variant=variant,
                instruction=instructions[variant],
                query_id=query_id,
                document_id=document_id,
                label=data.label(query_id, document_id),
                first_rank=order[document_id],
                score=None if result is None else float(result.score),
                logit=None if result is None or result.logit is None else float(result.logit),
                error=None if result is not None else failed.get(document_id, "not scored"),
            )
        )
    return rows
