"""The study end to end: validation, resumable runs, SIGKILL, Ray, and the report."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from vlrerank.errors import ConfigError, InputError
from vlrerank.study.report import write_report
from vlrerank.study.runner import run_study
from vlrerank.study.spec import load_manifest, load_spec
from vlrerank.study.store import ResultStore

from .conftest import kill_during_runs, stored_scores

pytestmark = pytest.mark.slow


def test_spec_and_manifest_errors_name_the_place(tmp_path, small_study):
    with pytest.raises(ConfigError, match=r"sizes\[1\]: expected WxH"):
        load_spec(small_study, {"sizes": "320x240,big"})
    with pytest.raises(ConfigError, match=r"interpolations\[0\]: 'cubic' is not one of"):
        load_spec(small_study, {"interpolations": "cubic"})
    with pytest.raises(ConfigError, match="unknown key"):
        (tmp_path / "bad.yaml").write_text("manifest: manifest.csv\nsize: [1]\n")
        load_spec(tmp_path / "bad.yaml")
    manifest = tmp_path / "broken.csv"
    manifest.write_text(
        "image,category,query,relevant\nimg0.png,life,q,1\nmissing.png,life,q,0\nimg1.png,life,,0\n"
    )
    with pytest.raises(InputError) as info:
        load_manifest(manifest)
    assert info.value.field == "broken.csv:3.image"
    manifest.write_text("image,category,query,relevant\nimg0.png,life,q,yes\n")
    with pytest.raises(InputError, match="'relevant' must be a number") as info:
        load_manifest(manifest)
    assert info.value.field == "broken.csv:2.relevant"


def test_rerun_resumes_and_a_changed_spec_is_refused(tmp_path, small_study):
    spec = load_spec(small_study)
    first = run_study(spec, tmp_path / "out", progress=False)
    assert (first.total, first.scored, first.errors) == (32, 32, 0)
    again = run_study(spec, tmp_path / "out", progress=False)
    assert (again.already_done, again.scored) == (32, 0)
    before = stored_scores(tmp_path / "out")
    grown = load_spec(small_study, {"sizes": "320x240,640x480,800x600"})  # a new size is added
    extended = run_study(grown, tmp_path / "out", progress=False)
    assert (extended.already_done, extended.scored) == (32, 16)
    after = stored_scores(tmp_path / "out")
    assert len(after) == 48 and {k: after[k] for k in before} == before  # nothing discarded
    changed = load_spec(small_study, {"instruction": "Find the matching picture."})
    with pytest.raises(ConfigError, match="--restart"):
        run_study(changed, tmp_path / "out", progress=False)
    restarted = run_study(changed, tmp_path / "out", restart=True, progress=False)
    assert restarted.scored == 32 and len(stored_scores(tmp_path / "out")) == 32


def test_cost_is_measured_per_size_and_grows_with_visual_tokens(tmp_path, small_study):
    # Batches of 16 could hold every size of a query; cost must still belong to the row's own size.
    spec = load_spec(small_study, {"sizes": "320x240,1024x768", "batch_documents": 16})
    run_study(spec, tmp_path / "out", progress=False)
    rows = list(ResultStore(tmp_path / "out" / "results.sqlite").rows())
    by_size: dict[str, list[float]] = {}
    for row in rows:
        by_size.setdefault(row.size, []).append(row.latency_ms)
    assert not set(by_size["320x240"]) & set(by_size["1024x768"])  # no figure copied across sizes
    small = sum(by_size["320x240"]) / len(by_size["320x240"])
    large = sum(by_size["1024x768"]) / len(by_size["1024x768"])
    assert large > 1.5 * small  # 768 visual tokens against 80
    write_report(tmp_path / "out")
    assert "Cost is measured per condition" in (tmp_path / "out" / "report.md").read_text()


def test_a_bad_image_becomes_an_error_row(tmp_path, small_study):
    (small_study.parent / "img3.png").write_bytes(b"not a picture")
    summary = run_study(load_spec(small_study), tmp_path / "out", progress=False)
    assert summary.errors == 8 and summary.scored == 32  # 2 sizes x 2 interpolations x 2 repeats
    rows = list(ResultStore(tmp_path / "out" / "results.sqlite").rows())
    bad = [r for r in rows if r.image == "img3.png"]
    assert all(r.score is None and "not a recognised image format" in r.error for r in bad)
    assert all(r.score is not None for r in rows if r.image != "img3.png")


def test_sigkill_at_several_points_then_resume_loses_and_duplicates_nothing(tmp_path, small_study):
    run_study(load_spec(small_study), tmp_path / "reference", progress=False)
    out = tmp_path / "killed"
    assert kill_during_runs(small_study, out, [3, 11, 19, 27]) == 4
    resumed = subprocess.run(
        [sys.executable, "-m", "vlrerank", "study", "run", str(small_study), "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(out / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT condition) FROM results").fetchone() == (32, 32)
    assert stored_scores(out) == stored_scores(tmp_path / "reference")  # one forward per pair: bit-identical


def test_ray_executor_gives_the_local_results(tmp_path, small_study):
    pytest.importorskip("ray")
    spec = load_spec(small_study)
    run_study(spec, tmp_path / "local", progress=False)
    summary = run_study(spec, tmp_path / "ray", executor="ray", workers=2, progress=False)
    assert summary.scored == 32
    assert stored_scores(tmp_path / "ray") == stored_scores(tmp_path / "local")


def test_report_has_every_plot_and_table(tmp_path, small_study):
    run_study(load_spec(small_study), tmp_path / "out", progress=False)
    html = write_report(tmp_path / "out").read_text()
    plots = [
        "Score vs size per category",
        "Interpolation comparison",
        "Correlation heatmap",
        "Rank stability",
    ]
    tables = [
        "Score by size and category",
        "Peak and plateau per category",
        "Ranking quality",
        "Cost per size",
    ]
    for title in [*plots, "Score vs cost", *tables, "RANDOM weights"]:
        assert title in html
    assert html.count("data:image/png;base64,") == 5 and "http" not in html.split("<h2>Spec")[0].replace(
        "https://", ""
    )
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| life | 320x240 | 320x256 | 80 |" in markdown
    assert (tmp_path / "out" / "results.csv").read_text().count("\n") == 33


def test_explained_study_reports_sub_score_correlations(tmp_path, small_study):
    manifest = small_study.parent / "manifest.csv"
    lines = manifest.read_text().splitlines()
    captions = ["a red thing", "a blue thing", "a green square", "stripes"]
    manifest.write_text(
        "\n".join(
            [lines[0] + ",text"]
            + [f"{line},{caption}" for line, caption in zip(lines[1:], captions, strict=True)]
        )
        + "\n"
    )
    spec = load_spec(small_study, {"explain": True, "batch_documents": 16})
    run_study(spec, tmp_path / "out", progress=False)
    rows = list(ResultStore(tmp_path / "out" / "results.sqlite").rows())
    assert all(r.visual_match is not None and r.text_alignment is not None for r in rows)
    write_report(tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| text alignment vs visual match, all sizes | 32 |" in markdown
    assert "| text alignment vs visual match, width < 800 px | 32 |" in markdown
