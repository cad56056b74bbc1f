"""The PDF pages benchmark runs as documented (a smoke test, not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_pdf_pages_benchmark(tmp_path):
    out = tmp_path / "pdf.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pdf_pages.py"), "--pages", "5", "--repeats", "1",
         "--max-pixels", "65536", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    row = report["results"][0]
    assert row["max_pixels"] == 65536 and row["render_pages_per_s"] > 0 and row["rank_pages_per_s"] > 0
    assert 0 < row["render_share"] < 1 and "random" in report["meta"]["note"]
    assert "| 65536 |" in run.stdout
