"""The resolution study on PDF pages: render sizes and pixel budgets, and where scores stop moving."""

from __future__ import annotations

import csv

import pytest

from vlrerank.errors import ConfigError
from vlrerank.study.report import write_report
from vlrerank.study.runner import run_study
from vlrerank.study.sample.pdfs import write_pdf_sample
from vlrerank.study.spec import build_spec, load_spec

pytestmark = pytest.mark.slow


def test_pdf_sample_study_reports_where_scores_stop_moving(tmp_path):
    manifest = write_pdf_sample(tmp_path / "sample")
    assert load_spec(manifest.parent / "spec.yaml").pixel_budgets  # the bundled spec sweeps budgets
    spec = build_spec(
        {"manifest": str(manifest), "sizes": ["320x240"], "modes": ["fit"], "interpolations": ["bicubic"],
         "pixel_budgets": [65536, 262144]},
        base_dir=tmp_path,
    )  # fmt: skip
    summary = run_study(spec, tmp_path / "out", progress=False)
    assert summary.errors == 0 and summary.scored == 7 * 3
    report = write_report(tmp_path / "out")
    markdown = (report.parent / "report.md").read_text()
    assert "Scores stop moving" in markdown and "## Score movement toward the largest size" in markdown
    with (report.parent / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    budgets = {r["size"]: r for r in rows if r["size"].endswith("px")}
    assert int(budgets["65536px"]["model_width"]) * int(budgets["65536px"]["model_height"]) <= 65536
    fitted = [r for r in rows if r["size"] == "320x240"]
    # fitted inside 320x240, drawn once at its model-side size (multiples of 32)
    assert {(r["model_width"], r["model_height"]) for r in fitted} == {("320", "256")}
    assert {r["image"] for r in rows} >= {"sample.pdf#page=1", "sample.pdf#page=5"}


def test_a_budget_below_the_model_minimum_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="pixel_budgets"):
        build_spec({"manifest": "m.csv", "pixel_budgets": [100]}, base_dir=tmp_path)
