"""`vlrerank study sample | run | report` as a new user runs them (tiny random model)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def vlrerank(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vlrerank", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_sample_run_report(tmp_path):
    env = {**os.environ, "VLRERANK_CACHE": str(tmp_path / "cache")}
    study = tmp_path / "study"
    out = vlrerank("study", "sample", str(study), env=env)
    assert out.returncode == 0, out.stderr
    assert "SAMPLE" in out.stdout and (study / "spec.yaml").is_file()
    # A quick sweep of the full sample set: two sizes, two interpolations, one repeat.
    args = ["study", "run", str(study / "spec.yaml"), "--out", str(study / "results"),
            "--sizes", "320x240,640x480", "--repeats", "1", "--quiet"]  # fmt: skip
    out = vlrerank(*args, env=env)
    assert out.returncode == 0, out.stderr
    assert "scored now (0 errors)" in out.stdout
    out = vlrerank("study", "report", str(study / "results"), env=env)
    assert out.returncode == 0, out.stderr
    html = (study / "results" / "report.html").read_text()
    assert "RANDOM weights" in html and html.count("data:image/png;base64,") >= 4
    assert "document" in html and "product" in html and "Ranking quality" in html
    # Rerunning is a no-op; a different model is refused with a way out.
    assert "0 scored now" in vlrerank(*args, env=env).stdout
    refused = vlrerank(*args, "--instruction", "Find the picture.", env=env)
    assert refused.returncode == 2 and "--restart" in refused.stderr


def test_bad_spec_is_a_clear_error(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("manifest: missing.csv\nsizes: [320x240]\n")
    out = vlrerank("study", "run", str(spec), "--out", str(tmp_path / "o"), env=dict(os.environ))
    assert out.returncode == 2 and "no manifest" in out.stderr and "Traceback" not in out.stderr


def test_flags_without_a_spec_file_print_the_grid_and_extend_a_stored_study(tmp_path, tiny_dir):
    from tests.conftest import noise_image

    for i in range(2):
        noise_image(64, 48, i).save(tmp_path / f"img{i}.png")
    (tmp_path / "m.csv").write_text("image,category,query\nimg0.png,art,a picture\nimg1.png,art,a picture\n")
    env = dict(os.environ)
    base = ["study", "run", "--manifest", str(tmp_path / "m.csv"), "--model", str(tiny_dir),
            "--interpolations", "bicubic", "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    out = vlrerank(*base, "--sizes", "320x240", env=env)
    assert out.returncode == 0, out.stderr
    assert "grid: sizes [320x240]; interpolations [bicubic]; modes [stretch]; blur sigmas [0.0]" in out.stdout
    assert "-> 2 conditions (2 images); 0 already stored, 2 to score" in out.stdout
    grown = vlrerank(*base, "--sizes", "320x240,640x480", env=env)
    assert grown.returncode == 0, grown.stderr
    assert "4 conditions (2 images); 2 already stored, 2 to score" in grown.stdout
    assert vlrerank("study", "report", str(tmp_path / "out"), env=env).returncode == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## Spec" in markdown and 'interpolations: ["bicubic"]' in markdown
    assert "Cost is measured per condition" in markdown
    assert "add e.g. `interpolations: [bicubic, nearest]`" in markdown  # an empty table says what to add
    assert "not applicable" not in markdown
    missing = vlrerank("study", "run", "--out", str(tmp_path / "o2"), env=env)
    assert missing.returncode == 2 and "--manifest" in missing.stderr and "Traceback" not in missing.stderr
