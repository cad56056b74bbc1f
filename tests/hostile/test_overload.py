"""Overload at twice the capacity (benchmarks/load.py, CI-sized): only 200/429, the queue bound holds,
health stays fast, and abandoned clients free their slots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_overload_keeps_every_promise(tmp_path):
    out = tmp_path / "load.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--duration", "15", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(out.read_text())
    assert set(report["statuses"]) <= {"200", "429", "503"} and report["statuses"].get("429", 0) > 0
    assert report["missing_retry_after"] == 0
    assert report["max_queue_depth"] <= report["queue_bound"]
    assert report["accepted_p99_s"] < report["request_timeout_s"]
    # The promise is 100 ms; the 3-minute benchmark's maximum is in docs/benchmarks.md. Here, on a shared
    # 2-core CI runner, one scheduler hiccup may not fail the build: p99 must hold, the maximum within 250.
    assert report["health_p99_ms"] < 100 and report["health_max_ms"] < 250
    assert report["queue_depth_after"] == 0 and report["request_after"] == 200
