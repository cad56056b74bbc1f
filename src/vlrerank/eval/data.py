"""Labelled data for ``vlrerank eval``: the BEIR/MTEB layout, a TREC run, or one candidates JSONL.

Whatever the layout, loading gives an :class:`EvalSet`: queries and documents as the reranker
takes them (``{"text", "image", "video"}``, media paths made absolute), graded labels per query,
and each query's candidates in first-stage order. Every malformed line is a :class:`ConfigError`
naming the file and line, so nothing is scored on data that was misread (the strict line readers
are in :mod:`vlrerank.eval.files`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .files import grade, load_qrels, load_run, text_lines

MEDIA_KEYS = ("image", "video", "pdf")  # a PDF may name one page: file.pdf#page=3
# Without a first-stage run every document is a candidate for every query; beyond this many pairs
# that is a mistake rather than an evaluation.
MAX_PAIRS_WITHOUT_RUN = 20_000


@dataclass(frozen=True)
class EvalSet:
    """Queries, documents, labels and candidates, keyed by their ids.

    Attributes:
        queries: query id -> the query as :meth:`vlrerank.Reranker.rank` takes it.
        documents: document id -> the document as the reranker takes it.
        qrels: query id -> document id -> graded label (0 = not relevant).
        candidates: query id -> candidate document ids in first-stage order (best first).
        first_stage: True when ``candidates`` carries a real first-stage order (a run file or
            ranks given in the JSONL); False when every document is a candidate in corpus order.
        source: where the data came from, for reports.
        files: the files read, by role (``corpus``, ``queries``, ``qrels``, ``run`` or
            ``candidates``), so that a rerun can tell which one changed.
    """

    queries: dict[str, Any]
    documents: dict[str, Any]
    qrels: dict[str, dict[str, int]]
    candidates: dict[str, list[str]]
    first_stage: bool
    source: str
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [(q, d) for q, ids in self.candidates.items() for d in ids]

    def label(self, query_id: str, document_id: str) -> int:
        return self.qrels.get(query_id, {}).get(document_id, 0)

    def fingerprint(self) -> str:
        """A hash of what decides each pair's score: the queries and documents (ids and contents).
        Labels and candidate lists do not change a pair's score; the runner stores them afresh on
        every run, so that new candidates are scored and every label comes from the current file."""
        data = json.dumps([self.queries, self.documents], sort_keys=True, default=str)
        return hashlib.sha256(data.encode()).hexdigest()


def load(
    path: str | Path, *, run: str | Path | None = None, depth: int = 100, split: str = "test"
) -> EvalSet:
    """Load ``path``: a BEIR/MTEB folder (optionally with a TREC ``run``) or a candidates ``.jsonl``."""
    source = Path(path)
    if depth < 1:
        raise ConfigError(f"--depth must be at least 1, got {depth}")
    if source.is_file():
        if run is not None:
            raise ConfigError(f"{source}: a candidates JSONL carries its own order; drop --run")
        return _load_candidates(source)
    if not source.is_dir():
        raise ConfigError(f"{source}: no such folder or file (expected a BEIR folder or a candidates JSONL)")
    return _load_beir(source, run=None if run is None else Path(run), depth=depth, split=split)


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in text_lines(path):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise ConfigError(f"{path}:{number}: expected a JSON object, got {type(value).__name__}")
        yield number, value


def _item(value: dict[str, Any], base: Path, where: str) -> dict[str, Any]:
    """A query or document from a JSON object: title + text, and media paths made absolute."""
    text = " ".join(str(value[k]).strip() for k in ("title", "text") if value.get(k))
    item: dict[str, Any] = {"text": text} if text else {}
    for key in MEDIA_KEYS:
        media = value.get(key)
        if media is None:
            continue
        paths = media if isinstance(media, list) else [media]
        if not all(isinstance(p, str) and p for p in paths):
            raise ConfigError(f"{where}: {key} must be a path or a list of paths")
        resolved = []
        for given in paths:
            if "://" in given or given.startswith("data:"):
                resolved.append(given)
                continue
            name, hash_, fragment = given.partition("#")  # a PDF's page: file.pdf#page=3
            full = (base / name).resolve()
            if not full.exists():
                raise ConfigError(f"{where}: {key} file {given!r} not found (looked in {base})")
            resolved.append(str(full) + hash_ + fragment)
        item[key] = resolved if isinstance(media, list) else resolved[0]
    if not item:
        raise ConfigError(f"{where}: no text, image, video or pdf")
    return item


def _identified(path: Path) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    for number, value in _lines(path):
        where = f"{path}:{number}"
        key = value.get("_id", value.get("id"))
        if key is None or str(key) == "":
            raise ConfigError(f'{where}: missing "_id"')
        if str(key) in items:
            raise ConfigError(f"{where}: duplicate id {key!r}")
        items[str(key)] = _item(value, path.parent, where)
    if not items:
        raise ConfigError(f"{path}: no entries")
    return items


def _qrels_file(folder: Path, split: str) -> Path:
    qrels = folder / "qrels"
    chosen = qrels / f"{split}.tsv"
    if chosen.is_file():
        return chosen
    found = sorted(qrels.glob("*.tsv")) if qrels.is_dir() else []
    if len(found) == 1:
        return found[0]
    names = ", ".join(p.name for p in found) or "none"
    raise ConfigError(f"{chosen}: file not found (qrels files present: {names}; choose one with --split)")


def _load_beir(folder: Path, *, run: Path | None, depth: int, split: str) -> EvalSet:
    documents = _identified(folder / "corpus.jsonl")
    queries = _identified(folder / "queries.jsonl")
    qrels_path = _qrels_file(folder, split)
    qrels = load_qrels(qrels_path, queries, documents)
    judged = {q: queries[q] for q in queries if q in qrels}
    files = {"corpus": folder / "corpus.jsonl", "queries": folder / "queries.jsonl", "qrels": qrels_path}
    if run is not None:
        files["run"] = run
        ranked = load_run(run, documents, depth)
        unknown = sorted(set(ranked) - set(queries))
        if unknown:
            raise ConfigError(f"{run}: unknown query id {unknown[0]!r} (not in queries.jsonl)")
        if not set(ranked) & set(judged):
            raise ConfigError(f"{run}: none of its queries is judged in {qrels_path}: nothing to evaluate")
        candidates = {q: ranked.get(q, []) for q in judged}
    else:
        if len(judged) * len(documents) > MAX_PAIRS_WITHOUT_RUN:
            raise ConfigError(
                f"{folder}: {len(judged)} queries x {len(documents)} documents is too many pairs to "
                "score every document; give a first-stage run with --run FILE (and --depth N)"
            )
        candidates = {q: list(documents) for q in judged}
    described = f"{folder} ({qrels_path.name}" + (f", run {run.name} top {depth})" if run else ")")
    return EvalSet(judged, documents, qrels, candidates, run is not None, described, files)


def _load_candidates(path: Path) -> EvalSet:
    queries: dict[str, Any] = {}
    documents: dict[str, Any] = {}
    qrels: dict[str, dict[str, int]] = {}
    candidates: dict[str, list[str]] = {}
    ordered = True
    for number, value in _lines(path):
        where = f"{path}:{number}"
        query = value.get("query")
        if query is None:
            raise ConfigError(f'{where}: missing "query"')
        query_id = str(value.get("query_id", value.get("id", f"q{number}")))
        if query_id in queries:
            raise ConfigError(f"{where}: duplicate query id {query_id!r}")
        queries[query_id] = _item(query if isinstance(query, dict) else {"text": query}, path.parent, where)
        given = value.get("candidates")
        if not isinstance(given, list) or not given:
            raise ConfigError(f'{where}: "candidates" must be a non-empty list')
        ranks: list[tuple[float, int, str]] = []
        for position, candidate in enumerate(given):
            at = f"{where}: candidates[{position}]"
            if not isinstance(candidate, dict):
                raise ConfigError(f"{at}: expected an object with text/image/video, label and rank")
            if "label" not in candidate:
                raise ConfigError(f'{at}: missing "label" (0 for not relevant, 1 or more for relevant)')
            if isinstance(candidate["label"], bool) or not isinstance(candidate["label"], (int, float)):
                raise ConfigError(f"{at}: label {candidate['label']!r} is not an integer")
            label = grade(str(candidate["label"]), at)
            document_id = f"{query_id}/{candidate.get('id', position)}"
            if document_id in documents:
                raise ConfigError(f"{at}: duplicate candidate id {candidate.get('id')!r}")
            body = {k: v for k, v in candidate.items() if k not in ("label", "rank", "id")}
            documents[document_id] = _item(body, path.parent, at)
            qrels.setdefault(query_id, {})[document_id] = label
            rank = candidate.get("rank")
            ordered = ordered and isinstance(rank, (int, float))
            ranks.append((float(rank) if isinstance(rank, (int, float)) else position, position, document_id))
        candidates[query_id] = [d for _, _, d in sorted(ranks)]
    if not queries:
        raise ConfigError(f"{path}: no entries")
    return EvalSet(queries, documents, qrels, candidates, ordered, str(path), {"candidates": path})
