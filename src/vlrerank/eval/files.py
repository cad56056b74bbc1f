"""Reading the eval's text files strictly: every line UTF-8, every qrels and run line once.

Each problem is a :class:`ConfigError` naming file and line, raised before anything is scored:
bytes that are not UTF-8, a judgement or run line given twice (one of the two would silently
win), a fractional grade (``1.5`` is no grade: trec_eval would truncate it), a run with no lines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for each line of ``path``, decoded as UTF-8 line by line so that a
    bad byte is reported with its line."""
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigError(
                    f"{path}:{number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                    f"{exc.start + 1}); save the file as UTF-8"
                ) from None
            yield number, text.removeprefix("\ufeff") if number == 1 else text


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def grade(text: str, where: str) -> int:
    """A relevance grade: an integer (``2`` or ``2.0``), never a fraction."""
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}: score {text!r} is not a number") from None
    if not value.is_integer():
        raise ConfigError(f"{where}: grade {text!r} is not a whole number (grades are 0, 1, 2, ...)")
    return int(value)


_JUDGED_AGAIN = (
    "query {query!r} and document {document!r} were already judged on line {first}; keep one line per pair"
)
_LISTED_AGAIN = (
    "document {document!r} is listed for query {query!r} again (first on line {first}); a run lists "
    "each candidate once"
)


def _first_mention(
    query: str,
    document: str,
    documents: dict[str, Any],
    seen: dict[tuple[str, str], int],
    number: int,
    where: str,
    again: str,
) -> None:
    """Refuse an unknown document, or a (query, document) pair a file names twice (one of the two
    would silently win); ``again`` words the repeat."""
    if document not in documents:
        raise ConfigError(f"{where}: unknown document id {document!r} (not in corpus.jsonl)")
    if (query, document) in seen:
        raise ConfigError(
            f"{where}: " + again.format(query=query, document=document, first=seen[query, document])
        )
    seen[query, document] = number


def load_qrels(path: Path, queries: dict[str, Any], documents: dict[str, Any]) -> dict[str, dict[str, int]]:
    """BEIR (``query-id corpus-id score``, optional header) or TREC (``qid 0 docid grade``) qrels."""
    qrels: dict[str, dict[str, int]] = {}
    seen: dict[tuple[str, str], int] = {}
    for number, line in text_lines(path):
        parts = line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
        if not parts or not line.strip():
            continue
        if number == 1 and parts[0] in ("query-id", "query_id", "qid"):
            continue  # the header BEIR writes
        if len(parts) == 4:  # TREC qrels: qid 0 docid label
            parts = [parts[0], parts[2], parts[3]]
        where = f"{path}:{number}"
        if len(parts) != 3:
            raise ConfigError(f"{where}: expected query-id, corpus-id, score")
        query, document, given = parts
        if query not in queries:
            raise ConfigError(f"{where}: unknown query id {query!r} (not in queries.jsonl)")
        _first_mention(query, document, documents, seen, number, where, _JUDGED_AGAIN)
        qrels.setdefault(query, {})[document] = grade(given, where)
    if not qrels:
        raise ConfigError(f"{path}: no judgements")
    return qrels


def load_run(path: Path, documents: dict[str, Any], depth: int) -> dict[str, list[str]]:
    """A TREC run (``qid Q0 docid rank score tag``): each query's top ``depth`` by score, ties in
    score broken by the run's rank column, then by document id."""
    entries: dict[str, list[tuple[float, int, str]]] = {}
    seen: dict[tuple[str, str], int] = {}
    for number, line in text_lines(path):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}:{number}"
        if len(parts) != 6:
            raise ConfigError(f"{where}: expected 'qid Q0 docid rank score tag' (6 columns)")
        query, _, document, rank, score, _ = parts
        _first_mention(query, document, documents, seen, number, where, _LISTED_AGAIN)
        try:
            entry = (-float(score), int(rank), document)
        except ValueError:
            raise ConfigError(f"{where}: rank must be an integer and score a number") from None
        entries.setdefault(query, []).append(entry)
    if not entries:
        raise ConfigError(f"{path}: the run has no lines (expected 'qid Q0 docid rank score tag')")
    return {q: [d for _, _, d in sorted(e)[:depth]] for q, e in entries.items()}
