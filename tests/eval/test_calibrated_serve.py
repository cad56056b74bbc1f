"""A calibrated `vlrerank serve`: /v1/rerank over real HTTP carries calibrated probabilities."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vlrerank.calibration import Calibrator

from ..servers import Server, start_server, stop

SLOPE, INTERCEPT = 3.0, 0.2


@pytest.fixture(scope="module")
def calibrator_file(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    calibrator = Calibrator(
        "platt",
        {"slope": SLOPE, "intercept": INTERCEPT},
        model=str(tiny_dir),
        instruction="Given a search query, retrieve relevant candidates that answer the query.",
        threshold=0.5,
        threshold_rule="max-f1",
    )
    return calibrator.save(tmp_path_factory.mktemp("calibration") / "calibrator.json")


@pytest.fixture(scope="module")
def calibrated_server(tiny_dir: Path, calibrator_file: Path) -> Iterator[Server]:
    server = start_server(["--model", str(tiny_dir), "--no-ui", "--calibration", str(calibrator_file)], {})
    yield server
    stop(server)


def test_rerank_returns_calibrated_probability(calibrated_server: Server) -> None:
    documents = ["a cat sleeping", "quarterly earnings", "a kitten", "a violin", "a tabby cat"]
    body = {"query": "a photo of a cat", "documents": documents}
    response = httpx.post(calibrated_server.url + "v1/rerank", json=body, timeout=60)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["threshold"] == 0.5
    results = answer["results"]
    assert len(results) == len(documents)
    for r in results:
        score = r["relevance_score"]
        logit = math.log(score / (1 - score))
        expected = 1 / (1 + math.exp(-(SLOPE * logit + INTERCEPT)))
        assert r["probability"] == pytest.approx(expected, abs=1e-5)
        assert r["below_threshold"] == (r["probability"] < 0.5)
    assert answer["nothing_relevant"] == all(r["below_threshold"] for r in results)

    kept = httpx.post(
        calibrated_server.url + "v1/rerank", json={**body, "drop_below_threshold": True}, timeout=60
    )
    assert kept.status_code == 200
    assert [r["index"] for r in kept.json()["results"]] == [
        r["index"] for r in results if not r["below_threshold"]
    ]


def test_a_bad_calibrator_stops_serve_before_it_listens(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    out = subprocess.run(
        [sys.executable, "-m", "vlrerank", "serve", "--port", "0", "--calibration", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and f"{bad}: not a calibrator file" in out.stderr


def test_every_api_dialect_carries_the_calibrated_probability(calibrated_server: Server) -> None:
    """Cohere v2, Jina/vLLM /rerank, TEI /rerank and vLLM /score: the same probability per document."""
    documents = ["a cat sleeping", "quarterly earnings", "a tabby cat"]
    url = calibrated_server.url

    def post(path: str, body: dict) -> Any:
        response = httpx.post(url + path, json=body, timeout=60)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    v1 = post("v1/rerank", {"query": "a cat", "documents": documents})
    expected = {r["index"]: r["probability"] for r in v1["results"]}
    answers = {
        "/v2/rerank": post("v2/rerank", {"model": "rerank-v3.5", "query": "a cat", "documents": documents}),
        "/rerank": post("rerank", {"query": "a cat", "documents": documents}),
    }
    got = {path: {r["index"]: r["probability"] for r in a["results"]} for path, a in answers.items()}
    tei = post("rerank", {"query": "a cat", "texts": documents})
    got["/rerank (TEI)"] = {r["index"]: r["probability"] for r in tei}
    score = post("score", {"queries": "a cat", "documents": documents})
    got["/score"] = {r["index"]: r["probability"] for r in score["data"]}
    for path, probabilities in got.items():
        assert probabilities.keys() == expected.keys(), path
        for index, probability in probabilities.items():
            assert probability == pytest.approx(expected[index], abs=1e-6), path
