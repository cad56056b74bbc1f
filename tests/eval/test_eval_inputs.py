"""Eval inputs: each error named by file and line, each partial input counted in the report, labels
never mixed across reruns, and reranked ties broken as docs/eval.md states."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import ir_measures
import pytest

from vlrerank import Reranker
from vlrerank.errors import ConfigError
from vlrerank.eval.analysis import analyse
from vlrerank.eval.data import load
from vlrerank.eval.report import write_report
from vlrerank.eval.runner import EvalRow, run_eval


def edit(path: Path, line: int, content: bytes) -> None:
    lines = path.read_bytes().splitlines()
    lines[line - 1] = content
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.mark.parametrize(
    ("file", "line", "content", "message"),
    [
        ("corpus.jsonl", 2, b'{"_id": "x", "text": "caf\xe9"}', "not UTF-8 text (byte 0xe9"),
        ("qrels/test.tsv", 3, b"q-cats\tcats-1\t\xff", "not UTF-8 text (byte 0xff"),
        ("run.trec", 5, b"q-cats Q0 cats-0 5 95 bm\xe925", "not UTF-8 text"),
        ("qrels/test.tsv", 3, b"q-cats\tcats-0\t1", "already judged on line 2"),
        ("qrels/test.tsv", 2, b"q-cats\tcats-0\t1.5", "grade '1.5' is not a whole number"),
        ("run.trec", 3, b"q-cats Q0 cats-0 3 97 bm25", "listed for query 'q-cats' again"),
    ],
)
def test_bad_input_lines_are_named(beir: Path, file: str, line: int, content: bytes, message: str) -> None:
    path = beir / file
    if file == "run.trec":  # make sure the duplicated document is the one on line 1
        first = path.read_bytes().splitlines()[0].split()[2]
        content = content.replace(b"cats-0", first)
    edit(path, line, content)
    with pytest.raises(ConfigError, match=re.escape(f"{path}:{line}: ") + ".*" + re.escape(message)):
        load(beir, run=beir / "run.trec")


def test_an_empty_run_and_a_fractional_jsonl_label_are_refused(beir: Path, tmp_path: Path) -> None:
    (beir / "run.trec").write_text("")
    with pytest.raises(ConfigError, match=re.escape(f"{beir / 'run.trec'}: the run has no lines")):
        load(beir, run=beir / "run.trec")
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"query": "q", "candidates": [{"text": "a", "label": 1.5}]}) + "\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:1: candidates[0]: grade '1.5'")):
        load(path)


def report_of(beir: Path, out: Path, reranker: Reranker) -> dict:
    run_eval(load(beir, run=beir / "run.trec", depth=6), out, model=reranker.model_name,
             make_reranker=lambda: reranker)  # fmt: skip
    write_report(out, allow_inverted=True)
    return json.loads((out / "report.json").read_text())


def test_partial_runs_and_queries_without_relevant_documents_are_counted(
    beir: Path, reranker: Reranker, tmp_path: Path
) -> None:
    run = beir / "run.trec"
    run.write_text(
        "".join(line for line in run.read_text().splitlines(True) if not line.startswith("q-cats "))
    )
    qrels = beir / "qrels" / "test.tsv"
    qrels.write_text(re.sub(r"(q-coffee\t\S+\t)\d", r"\g<1>0", qrels.read_text()))
    report = report_of(beir, tmp_path / "out", reranker)
    assert any(w.startswith("1 of 6 judged queries have no relevant document") for w in report["warnings"])
    assert any(w.startswith("1 of 5 evaluated queries have no candidates") for w in report["warnings"])
    assert report["metrics"]["reranked"]["nDCG@10"]["n"] == 5  # q-coffee left out, q-cats counted as 0
    assert "have no candidates" in (tmp_path / "out" / "report.md").read_text()


def test_editing_labels_never_mixes_old_and_new(beir: Path, reranker: Reranker, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report_of(beir, out, reranker)
    qrels = beir / "qrels" / "test.tsv"
    # Every judged document of two topics becomes not relevant; one unjudged one becomes relevant.
    edited = (
        re.sub(r"(q-(?:cats|coffee)\t\S+\t)\d", r"\g<1>0", qrels.read_text()) + "q-violins\tviolins-4\t2\n"
    )
    qrels.write_text(edited)
    summary = run_eval(load(beir, run=beir / "run.trec", depth=6), out, model=reranker.model_name,
                       make_reranker=lambda: reranker)  # fmt: skip
    assert summary.scored == 0 and any("test.tsv changed" in n for n in summary.notes)
    write_report(out, allow_inverted=True)
    report = json.loads((out / "report.json").read_text())
    labels = {}
    for line in edited.splitlines()[1:]:
        query, document, grade = line.split("\t")
        labels[query, document] = int(grade)
    with (out / "pairs.csv").open() as handle:
        pairs = [r for r in csv.DictReader(handle)]
    assert pairs and all(int(r["label"]) == labels.get((r["query_id"], r["document_id"]), 0) for r in pairs)
    assert all(r["random_weights"] == "true" for r in pairs)
    relevant = sum(1 for r in pairs if int(r["label"]) > 0)
    calibration = report["calibration"]
    assert calibration is not None and calibration["relevant"] == relevant
    assert calibration["calibrator"]["random_weights"] is True
    assert json.loads((out / "calibrator.json").read_text())["random_weights"] is True
    # The metrics use the same labels: recomputed here from pairs.csv with ir-measures.
    judged = {q: {d: g for (q2, d), g in labels.items() if q2 == q} for q, _ in labels}
    judged = {q: docs for q, docs in judged.items() if any(g > 0 for g in docs.values())}
    run = {
        q: {r["document_id"]: -float(r["first_rank"]) for r in pairs if r["query_id"] == q} for q in judged
    }
    expected = ir_measures.calc_aggregate([ir_measures.parse_measure("nDCG@10")], judged, run)
    assert report["metrics"]["first stage"]["nDCG@10"]["value"] == pytest.approx(
        expected[ir_measures.parse_measure("nDCG@10")], abs=1e-12
    )


def test_a_changed_corpus_is_refused_naming_the_file(beir: Path, reranker: Reranker, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report_of(beir, out, reranker)
    corpus = beir / "corpus.jsonl"
    corpus.write_text(corpus.read_text().replace("note 0 on cats", "note zero on cats"))
    with pytest.raises(
        ConfigError, match=re.escape(f"{corpus} changed since its scores were stored") + ".*--restart"
    ):
        run_eval(load(beir, run=beir / "run.trec", depth=6), out, model=reranker.model_name,
                 make_reranker=lambda: reranker)  # fmt: skip


def row(query: str, document: str, label: int, first_rank: int, score: float) -> EvalRow:
    return EvalRow(f"{query}/{document}", 0, "i", query, document, label, first_rank, score, 0.0, None)


def test_reranked_ties_follow_first_stage_rank_then_document_id() -> None:
    """ir-measures (like trec_eval) orders equal scores by document id, descending; the report
    breaks them by first-stage rank, then document id, and agrees with ir-measures fed that order."""
    # q1: three tied at the top; the relevant "m" leads the first stage but sorts neither first nor
    # last by id, so whichever way a library orders ids, it ranks "m" below first.
    rows = [
        row("q1", "z", 0, 3, 0.9), row("q1", "a", 0, 2, 0.9),
        row("q1", "m", 1, 1, 0.9), row("q1", "b", 0, 4, 0.1),
        row("q2", "d2", 0, 1, 0.5), row("q2", "d1", 2, 2, 0.5), row("q2", "d3", 1, 3, 0.7),
    ]  # fmt: skip
    qrels = {"q1": {"m": 1}, "q2": {"d1": 2, "d3": 1}}
    meta = {"qrels": json.dumps(qrels), "first_stage": "true", "model": "m", "source": "s", "setup": None}
    measures = ["nDCG@2", "RR@3", "AP"]
    analysis = analyse(rows, meta, measures, apply_threshold="none")
    expected_order = {"q1": ["m", "a", "z", "b"], "q2": ["d3", "d2", "d1"]}
    untied = {q: {d: float(len(ds) - i) for i, d in enumerate(ds)} for q, ds in expected_order.items()}
    raw = {q: {r.document_id: r.score for r in rows if r.query_id == q} for q in qrels}
    parsed = [ir_measures.parse_measure(m) for m in measures]
    expected = ir_measures.calc_aggregate(parsed, qrels, untied)
    library_ties = ir_measures.calc_aggregate(parsed, qrels, raw)
    for name, shown in (("nDCG@2", "nDCG@2"), ("RR@3", "MRR@3"), ("AP", "MAP")):
        measure = ir_measures.parse_measure(name)
        assert analysis.means["reranked"][shown].value == pytest.approx(expected[measure], abs=1e-12)
    assert library_ties[ir_measures.parse_measure("RR@3")] != expected[ir_measures.parse_measure("RR@3")]


def test_an_image_edited_in_place_is_refused_naming_it(reranker: Reranker, tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "data"
    (folder / "qrels").mkdir(parents=True)
    for name, colour in (("red.png", "red"), ("blue.png", "blue")):
        Image.new("RGB", (32, 32), colour).save(folder / name)
    documents = [
        {"_id": "r", "image": "red.png"},
        {"_id": "b", "image": "blue.png"},
        {"_id": "t", "text": "sky"},
    ]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in documents))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "something red"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("q\tr\t1\nq\tb\t0\n")
    out = tmp_path / "out"
    run_eval(load(folder), out, model=reranker.model_name, make_reranker=lambda: reranker)
    again = run_eval(load(folder), out, model=reranker.model_name, make_reranker=lambda: reranker)
    assert again.scored == 0  # nothing changed: nothing rescored
    Image.new("RGB", (32, 32), "green").save(folder / "red.png")
    with pytest.raises(
        ConfigError, match=re.escape(f"{folder / 'red.png'} changed since its scores were stored")
    ):
        run_eval(load(folder), out, model=reranker.model_name, make_reranker=lambda: reranker)
