"""In-process runs: a preprocessing A/B, and the refusal of an A/B that compares nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlrerank import Reranker
from vlrerank.errors import ConfigError
from vlrerank.eval.data import load
from vlrerank.eval.report import write_report
from vlrerank.eval.runner import DEFAULT_INSTRUCTION, open_store, run_eval
from vlrerank.preprocess.choices import PreprocessConfig


def test_preprocessing_ab_on_text_changes_nothing(beir: Path, reranker: Reranker, tmp_path: Path) -> None:
    data = load(beir, run=beir / "run.trec", depth=4)
    out = tmp_path / "out"
    summary = run_eval(data, out, model=reranker.model_name, make_reranker=lambda: reranker,
                       preprocess_b=PreprocessConfig(preset="general"))  # fmt: skip
    assert summary.pairs == 2 * len(data.pairs) and summary.errors == 0
    store = open_store(out)
    rows = list(store.rows())
    store.close()
    a = {(r.query_id, r.document_id): r.score for r in rows if r.variant == 0}
    b = {(r.query_id, r.document_id): r.score for r in rows if r.variant == 1}
    assert a == pytest.approx(b, abs=1e-6)  # text documents have no images to prepare
    write_report(out)
    report = json.loads((out / "report.json").read_text())
    assert report["instructions"] == [DEFAULT_INSTRUCTION, DEFAULT_INSTRUCTION]
    assert report["preprocessing"][0] == "default" and '"preset":"general"' in report["preprocessing"][1]
    ab = [c for c in report["comparisons"] if c["a"] == "reranked (A)" and c["b"] == "reranked (B)"]
    assert ab and all(c["delta"]["value"] == pytest.approx(0, abs=1e-9) and c["p_value"] == 1.0 for c in ab)


def test_an_ab_of_identical_variants_is_refused(beir: Path, reranker: Reranker, tmp_path: Path) -> None:
    data = load(beir, run=beir / "run.trec", depth=2)
    with pytest.raises(ConfigError, match="variants A and B are the same"):
        run_eval(data, tmp_path / "o", model="m", instructions=["x", "x"], make_reranker=lambda: reranker)


def test_without_a_first_stage_only_reranked_metrics(beir: Path, reranker: Reranker, tmp_path: Path) -> None:
    data = load(beir)
    run_eval(data, tmp_path / "out", model=reranker.model_name, make_reranker=lambda: reranker, batch_size=30)
    write_report(tmp_path / "out", ks=[3])
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert list(report["metrics"]) == ["reranked"] and report["comparisons"] == []
    assert set(report["metrics"]["reranked"]) == {"nDCG@3", "MRR@3", "Recall@3", "P@3", "MAP"}
    assert "No first-stage order" in (tmp_path / "out" / "report.md").read_text()
