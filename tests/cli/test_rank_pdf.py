"""`vlrerank rank --doc report.pdf`: the PDF's pages ranked and the best page named (subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from vlrerank.study.sample.pdfs import chart_page, table_page, text_page, write_pdf

pytestmark = pytest.mark.slow


def vlrerank(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vlrerank", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_rank_a_pdf_names_its_best_page(tmp_path, tiny_dir):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(
        write_pdf(
            [
                text_page("Report", ["Revenue grew."]),
                table_page("Sales", ["A", "B"], [["1", "2"]]),
                chart_page("Visitors", ["Mon", "Tue"], [3, 5]),
            ]
        )
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}
    out = vlrerank("rank", "--model", str(tiny_dir), "--query", "sales", "--doc", str(pdf), "--json", env=env)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["results"]
    assert sorted(r["page"] for r in results) == [1, 2, 3]
    assert results[0]["score"] == max(r["score"] for r in results)
    table = vlrerank("rank", "--model", str(tiny_dir), "--query", "sales", "--doc", str(pdf), env=env)
    assert table.returncode == 0, table.stderr
    assert f"best page: {results[0]['page']} of {pdf}" in table.stdout
    missing = vlrerank("rank", "--model", str(tiny_dir), "--query", "q", "--doc", "nothere.pdf", env=env)
    assert missing.returncode != 0 and "no such PDF file" in missing.stderr
