"""`vlrerank eval` as a user runs it: a subprocess on a small BEIR folder (tiny random model)."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vlrerank.calibration import Calibrator

from .reference_metrics import independent

DEPTH = 10
QUERIES = 6


def vlrerank(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vlrerank", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )


def stored(out: Path) -> list[tuple[str, int]]:
    """(key, variant) of every stored row, read straight from the SQLite file."""
    if not (out / "eval.sqlite").exists():
        return []
    db = sqlite3.connect(out / "eval.sqlite", timeout=30)
    try:
        return db.execute("SELECT key, variant FROM results").fetchall()
    except sqlite3.OperationalError:  # created but its table not yet
        return []
    finally:
        db.close()


def run_args(beir: Path, out: Path, tiny_dir: Path) -> list[str]:
    # Random weights: the calibration fit may come out inverted, which is refused by default.
    return ["eval", "run", str(beir), "--run", str(beir / "run.trec"), "--depth", str(DEPTH),
            "--out", str(out), "--model", str(tiny_dir), "--batch-size", "1",
            "--instruction-b", "Find notes on the topic the query names.",
            "--allow-inverted"]  # fmt: skip


def test_killed_run_resumes_with_one_row_per_pair_and_reports(
    beir: Path, tiny_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = run_args(beir, out, tiny_dir)
    process = subprocess.Popen([sys.executable, "-m", "vlrerank", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=dict(os.environ))  # fmt: skip
    deadline = time.monotonic() + 300
    while len(stored(out)) < 15 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = len(stored(out))
    total = 2 * QUERIES * DEPTH
    assert 15 <= before < total, "the run was not killed half-way"

    resumed = vlrerank(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{before} already stored, {total - before} scored now (0 failed)" in resumed.stdout
    rows = stored(out)
    assert len(rows) == total and len({key for key, _ in rows}) == total
    assert "RANDOM weights" in resumed.stdout and "RANDOM weights" in resumed.stderr

    # The report's figures agree with an independent computation from the per-pair CSV.
    report = json.loads((out / "report.json").read_text())
    with (out / "pairs.csv").open() as handle:
        pairs = [row for row in csv.DictReader(handle) if row["variant"] == "0"]
    qrels: dict[str, dict[str, int]] = {}
    for line in (beir / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query, document, grade = line.split("\t")
        qrels.setdefault(query, {})[document] = int(grade)
    for order, key in (("first stage", "first_rank"), ("reranked (A)", "score")):
        for name, shown in (("nDCG@10", "nDCG@10"), ("RR@5", "MRR@5"), ("R@5", "Recall@5"), ("AP", "MAP")):
            values = []
            for query, judged in qrels.items():
                run = {p["document_id"]: float(p[key]) for p in pairs if p["query_id"] == query}
                if key == "first_rank":
                    run = {d: -r for d, r in run.items()}
                values.append(independent(name, judged, run, sum(1 for g in judged.values() if g > 0)))
            assert report["metrics"][order][shown]["value"] == pytest.approx(
                sum(values) / len(values), abs=1e-9
            )
    assert {c["b"] for c in report["comparisons"]} == {"reranked (A)", "reranked (B)"}
    html = (out / "report.html").read_text()
    assert "RANDOM weights" in html and html.count("data:image/png;base64,") == 3
    assert "Reliability diagram" in html and "Score distributions" in html
    assert "| MAP |" in (out / "report.md").read_text()

    # The calibrator it wrote is usable: `vlrerank rank --calibration` adds probabilities.
    calibrator = Calibrator.load(out / "calibrator.json")
    assert calibrator.model == tiny_dir.name or Path(calibrator.model).name == tiny_dir.name
    calibration = str(out / "calibrator.json")
    ranked = vlrerank("rank", "--model", str(tiny_dir), "--query", "everything about cats", "--doc", "cats",
                      "--doc", "violins", "--calibration", calibration, "--json")  # fmt: skip
    assert ranked.returncode == 0, ranked.stderr
    results = json.loads(ranked.stdout)["results"]
    assert all(0.0 <= r["probability"] <= 1.0 for r in results)

    again = vlrerank(*args)  # everything stored: nothing is scored twice
    assert f"{total} already stored, 0 scored now" in again.stdout
    changed = vlrerank(*args[:-2])  # another setup (one instruction) in the same folder: refused
    assert changed.returncode == 2 and "--restart" in changed.stderr


def test_invariance_check(beir: Path, tiny_dir: Path) -> None:
    out = vlrerank("eval", "invariance", str(beir), "--run", str(beir / "run.trec"), "--depth", "6",
                   "--model", str(tiny_dir), "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["pairs"] == QUERIES * 6 and report["random_weights"]
    assert {c["condition"] for c in report["conditions"]} == {
        "shuffled batches",
        "mixed with concurrent requests",
    }
    assert report["largest_logit_difference"] < 1e-4


def test_bad_data_is_named_without_a_traceback(beir: Path, tmp_path: Path) -> None:
    with (beir / "qrels" / "test.tsv").open("a") as handle:
        handle.write("q-cats\tno-such-doc\t1\n")
    out = vlrerank("eval", "run", str(beir), "--out", str(tmp_path / "o"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{beir / 'qrels' / 'test.tsv'}:20: unknown document id 'no-such-doc'" in out.stderr


@pytest.mark.slow
def test_bundled_sample_runs_out_of_the_box(tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    out = vlrerank("eval", "sample", str(sample))
    assert out.returncode == 0, out.stderr
    assert (sample / "corpus.jsonl").is_file() and (sample / "LICENSES.md").is_file()
    out = vlrerank("eval", "run", str(sample), "--run", str(sample / "run.trec"), "--out", str(sample / "r"),
                   "--quiet")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "WARNING: This checkpoint has RANDOM weights" in out.stdout
    assert "first stage: nDCG@1" in out.stdout and "calibration:" in out.stdout
    assert "RANDOM weights" in (sample / "r" / "report.html").read_text()
