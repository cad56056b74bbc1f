"""Bad labelled data is refused with the file and line that is wrong."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vlrerank.errors import ConfigError
from vlrerank.eval.data import load


def test_beir_with_run_loads_top_depth(beir: Path) -> None:
    data = load(beir, run=beir / "run.trec", depth=7)
    assert len(data.queries) == 6 and all(len(c) == 7 for c in data.candidates.values())
    assert data.first_stage
    assert data.documents["cats-0"] == {"text": "cats note 0 on cats"}
    assert data.label("q-cats", "cats-1") == 2 and data.label("q-cats", "cats-4") == 0


def test_without_a_run_every_document_is_a_candidate(beir: Path) -> None:
    data = load(beir)
    assert not data.first_stage and all(len(c) == 30 for c in data.candidates.values())


@pytest.mark.parametrize(
    ("file", "line", "content", "message"),
    [
        ("corpus.jsonl", 3, "{broken", "not valid JSON"),
        ("queries.jsonl", 2, '{"text": "no id"}', 'missing "_id"'),
        ("qrels/test.tsv", 2, "q-cats\tnot-a-doc\t1", "unknown document id 'not-a-doc'"),
        ("qrels/test.tsv", 3, "q-nobody\tcats-0\t1", "unknown query id 'q-nobody'"),
        ("run.trec", 4, "q-cats Q0 ghost 4 96 bm25", "unknown document id 'ghost'"),
        ("run.trec", 1, "q-cats Q0 cats-0", "6 columns"),
        ("corpus.jsonl", 1, '{"_id": "x", "image": "nowhere.png"}', "image file 'nowhere.png' not found"),
    ],
)
def test_a_bad_line_is_named(beir: Path, file: str, line: int, content: str, message: str) -> None:
    path = beir / file
    lines = path.read_text().splitlines()
    lines[line - 1] = content
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:{line}: ") + ".*" + re.escape(message)):
        load(beir, run=beir / "run.trec")


def test_missing_files_are_named(beir: Path, tmp_path: Path) -> None:
    (beir / "queries.jsonl").unlink()
    with pytest.raises(ConfigError, match=re.escape(f"{beir / 'queries.jsonl'}: file not found")):
        load(beir)
    with pytest.raises(ConfigError, match="no such folder"):
        load(tmp_path / "nothing-here")


def test_candidates_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    lines = [
        {"query": "red car", "candidates": [{"text": "a red car", "label": 1, "rank": 2},
                                            {"text": "a bowl", "label": 0, "rank": 1}]},
        {"query": {"text": "soup"}, "candidates": [{"text": "a bowl of soup", "label": 2}]},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    data = load(path)
    assert data.candidates["q1"] == ["q1/1", "q1/0"]  # first-stage order from rank
    assert data.label("q1", "q1/0") == 1 and data.documents["q2/0"] == {"text": "a bowl of soup"}
    path.write_text(json.dumps({"query": "x", "candidates": [{"text": "y"}]}) + "\n")
    with pytest.raises(ConfigError, match=re.escape(f'{path}:1: candidates[0]: missing "label"')):
        load(path)
