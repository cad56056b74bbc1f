"""Faults: a scoring engine that breaks, a study killed at random moments, an unusable output folder."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from vlrerank import Reranker
from vlrerank.errors import ConfigError
from vlrerank.server.app import create_app
from vlrerank.server.settings import Settings
from vlrerank.study.runner import run_study
from vlrerank.study.spec import load_spec
from vlrerank.study.store import ResultStore

from ..doubles import BackendDouble
from ..study.conftest import kill_during_runs, stored_scores

pytestmark = pytest.mark.slow


def test_a_dying_engine_answers_503_and_readiness_recovers(tiny_dir):
    # A GPU worker that dies mid-request (the engine around it is real).
    crash = BackendDouble(
        fail=lambda batch: RuntimeError("CUDA error: an illegal memory access was encountered")
    )
    broken = Reranker(str(tiny_dir), backend=crash)
    app = create_app(Settings(model=str(tiny_dir), ui=False), reranker=broken)
    with TestClient(app) as client:
        response = client.post("/v1/rerank", json={"query": "q", "documents": ["d"]})
        assert response.status_code == 503 and response.headers["retry-after"]
        assert "restarting" in response.json()["error"]["message"]
        deadline = time.monotonic() + 60
        while client.get("/ready").status_code != 200:  # the model is reloaded in the background
            assert time.monotonic() < deadline, "readiness never recovered"
            time.sleep(0.2)
        assert client.post("/v1/rerank", json={"query": "q", "documents": ["d"]}).status_code == 200
        assert client.get("/health").status_code == 200


def test_study_killed_at_20_random_points_ends_with_one_row_per_condition(tmp_path, small_study):
    run_study(load_spec(small_study), tmp_path / "reference", progress=False)
    out = tmp_path / "killed"
    kills = kill_during_runs(small_study, out, sorted(random.Random(7).sample(range(1, 31), 20)))
    assert kills >= 15  # most kills land mid-run (the rest found the work already past the point)
    command = [
        sys.executable,
        "-m",
        "vlrerank",
        "study",
        "run",
        str(small_study),
        "--out",
        str(out),
        "--quiet",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    with sqlite3.connect(out / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT condition) FROM results").fetchone() == (32, 32)
    assert stored_scores(out) == stored_scores(tmp_path / "reference")


def test_unusable_output_stops_cleanly_and_resumes_afterwards(tmp_path, small_study):
    blocked = tmp_path / "out"
    blocked.write_text("a file where the results folder should be")
    with pytest.raises(ConfigError, match="cannot write results"):
        run_study(load_spec(small_study), blocked, progress=False)
    command = [sys.executable, "-m", "vlrerank", "study", "run", str(small_study), "--out", str(blocked)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "cannot write results" in out.stderr and "Traceback" not in out.stderr
    blocked.unlink()
    assert run_study(load_spec(small_study), blocked, progress=False).scored == 32


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs (needs root and mount rights, as on our machines and CI)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)]).returncode
    ):
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def test_full_disk_stops_cleanly_and_resumes_after_space_is_freed(small_disk, small_study):
    filler = small_disk / "filler"
    with filler.open("wb", buffering=0) as handle:  # fill the disk, then leave a little room
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    os.truncate(filler, filler.stat().st_size - 160 * 1024)
    out = small_disk / "results"
    with pytest.raises(ConfigError, match=r"cannot write results .*: it resumes"):
        run_study(load_spec(small_study), out, progress=False)
    stored_before = ResultStore(out / "results.sqlite").count() if (out / "results.sqlite").exists() else 0
    assert 0 < stored_before < 32  # it stopped mid-run, keeping what it had written
    filler.unlink()
    summary = run_study(load_spec(small_study), out, progress=False)
    assert summary.already_done == stored_before and summary.already_done + summary.scored == 32
    with sqlite3.connect(out / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT condition) FROM results").fetchone() == (32, 32)
