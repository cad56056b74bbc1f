"""A small text-only labelled set in the BEIR layout, with a first-stage run (fast on tiny-random)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

TOPICS = ("cats", "coffee", "mountains", "invoices", "bicycles", "violins")


def write_beir(folder: Path, *, queries: int = 6, per_topic: int = 5, seed: int = 0) -> Path:
    """``queries`` topics x ``per_topic`` documents; a document is relevant (grade 1 or 2) to its
    topic's query; the run lists every document for every query in a shuffled order."""
    rng = random.Random(seed)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    topics = TOPICS[:queries]
    with (folder / "corpus.jsonl").open("w") as handle:
        for topic in topics:
            for n in range(per_topic):
                handle.write(
                    json.dumps({"_id": f"{topic}-{n}", "title": topic, "text": f"note {n} on {topic}"}) + "\n"
                )
    with (folder / "queries.jsonl").open("w") as handle:
        for topic in topics:
            handle.write(json.dumps({"_id": f"q-{topic}", "text": f"everything about {topic}"}) + "\n")
    with (folder / "qrels" / "test.tsv").open("w") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for topic in topics:
            for n in range(per_topic - 2):  # the last two of each topic stay unjudged (not relevant)
                handle.write(f"q-{topic}\t{topic}-{n}\t{1 + n % 2}\n")
    documents = [f"{t}-{n}" for t in topics for n in range(per_topic)]
    with (folder / "run.trec").open("w") as handle:
        for topic in topics:
            order = rng.sample(documents, len(documents))
            for rank, document in enumerate(order, start=1):
                handle.write(f"q-{topic} Q0 {document} {rank} {100 - rank} bm25\n")
    return folder


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    return write_beir(tmp_path / "data")
