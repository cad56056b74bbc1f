"""Score every (query, candidate) pair of an :class:`EvalSet`, storing each batch as it is made.

Rows go to the study's SQLite store (one row per variant and pair, ``INSERT OR IGNORE`` per
batch), so a run killed at any moment resumes with exactly the missing pairs. A variant is one
instruction: with two, the same pairs are scored under each (an A/B comparison).

The store is bound to what decides a pair's score (model, instructions, preprocessing, queries and
documents); another setup is refused, naming the input file that changed. Labels and candidate
lists are not part of that binding: every run stores them afresh, scores only pairs new to the
candidate lists, and the report takes every label and first-stage rank from what was stored last
(:func:`current_rows`), so pairs.csv, metrics and calibration never mix old and new labels.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..calibration import describe_preprocess
from ..errors import ConfigError, InputError
from ..study.store import ResultStore
from .data import EvalSet
from .files import sha256

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
    notes: tuple[str, ...] = field(default=())  # what changed since the stored run, and what was done


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
    media = _media(data)
    setup = {
        "model": model,
        "instructions": list(instructions),
        "data": data.fingerprint(),
        "media": hashlib.sha256(json.dumps(media, sort_keys=True).encode()).hexdigest(),
        "preprocess": described,
        "version": __version__,
        **(config or {}),
    }
    fingerprint = hashlib.sha256(json.dumps(setup, sort_keys=True).encode()).hexdigest()
    inputs: dict[str, Any] = {
        role: {"path": str(path), "sha256": sha256(path)} for role, path in data.files.items()
    }
    inputs["media"] = media
    store = open_store(out_dir)
    try:
        existing = store.meta("fingerprint")
        stored_inputs = json.loads(store.meta("inputs") or "{}")
        if existing not in (None, fingerprint) and not restart:
            raise ConfigError(_changed(store.path, json.loads(store.meta("setup") or "{}"), setup,
                                       stored_inputs, inputs))  # fmt: skip
        notes = [] if existing is None or restart else _relabelled(stored_inputs, inputs)
        store.claim(fingerprint, restart=restart)
        store.set_meta(
            {
                "setup": json.dumps(setup),
                "model": model,
                "source": data.source,
                "first_stage": str(data.first_stage).lower(),
                "qrels": json.dumps(data.qrels),  # Recall needs the relevant documents not retrieved too
                "candidates": json.dumps(data.candidates),
                "inputs": json.dumps(inputs),
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
            total,
            total - len(todo),
            scored,
            errors,
            time.perf_counter() - start,
            store.path,
            random_weights,
            tuple(notes),
        )
    finally:
        store.close()


def _changed(
    store: Path,
    before: dict[str, Any],
    now: dict[str, Any],
    stored_inputs: dict[str, Any],
    inputs: dict[str, Any],
) -> str:
    """Why ``store`` cannot take this run: the input files or settings that changed, and what to do."""
    files = [
        inputs[role]["path"]
        for role in ("corpus", "queries", "candidates")
        if role in inputs and stored_inputs.get(role, {}).get("sha256") not in (None, inputs[role]["sha256"])
    ]
    was = stored_inputs.get("media", {})
    files += sorted(path for path, digest in inputs["media"].items() if was.get(path) not in (None, digest))
    settings = sorted(
        k for k in set(before) | set(now) if k not in ("data", "media") and before.get(k) != now.get(k)
    )
    if files:
        shown = " and ".join(files[:3]) + (f" (and {len(files) - 3} more files)" if len(files) > 3 else "")
        what = f"{shown} changed since its scores were stored"
    elif settings:
        what = f"its scores were stored with another {', '.join(settings)}"
    else:
        what = "its scores were stored with other queries or documents"
    return (
        f"{store}: {what}, so they may not hold. Start fresh with --restart (discards the stored "
        "scores) or --out a new folder."
    )


def _media(data: EvalSet) -> dict[str, str]:
    """SHA-256 of every local media file the queries and documents name (their paths are made
    absolute on loading): an image edited in place changes its pairs' scores as much as its text
    would. Reading them is cheap next to scoring them."""
    found: dict[str, str] = {}
    for item in (*data.queries.values(), *data.documents.values()):
        for value in item.values() if isinstance(item, dict) else ():
            for given in value if isinstance(value, list) else [value]:
                # os.path.isfile, unlike Path.is_file, is False for text too long to be a path.
                if isinstance(given, str) and os.path.isabs(given) and os.path.isfile(given):
                    found[given] = sha256(Path(given))
    return found


def _relabelled(stored_inputs: dict[str, Any], inputs: dict[str, Any]) -> list[str]:
    """Notes on the label and run files that changed since the stored run (neither changes a
    stored score: labels are taken afresh, new candidates scored)."""
    notes = []
    for role, effect in (
        ("qrels", "labels are taken from the file as it is now; no pair needed rescoring"),
        ("run", "candidates are taken from the file as it is now; only new pairs are scored"),
        ("candidates", "labels and candidates are taken from the file as it is now"),
    ):
        was = stored_inputs.get(role, {}).get("sha256")
        if role in inputs and was is not None and was != inputs[role]["sha256"]:
            notes.append(f"{inputs[role]['path']} changed since the stored run: {effect}")
    return notes


def current_rows(rows: list[EvalRow], meta: dict[str, str | None]) -> tuple[list[EvalRow], int]:
    """The stored rows of the current candidates, each with the label and first-stage rank stored
    by the last run (the labels and run files as they are now), and how many stored rows are no
    longer candidates. Stores written before candidates were stored keep their rows as they are."""
    if meta.get("candidates") is None:
        return rows, 0
    qrels = json.loads(meta.get("qrels") or "{}")
    ranks = {
        (q, d): position
        for q, ids in json.loads(meta["candidates"] or "{}").items()
        for position, d in enumerate(ids, start=1)
    }
    kept = [
        dataclasses.replace(
            r,
            label=int(qrels.get(r.query_id, {}).get(r.document_id, 0)),
            first_rank=ranks[r.query_id, r.document_id],
        )
        for r in rows
        if (r.query_id, r.document_id) in ranks
    ]
    return kept, len(rows) - len(kept)


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
