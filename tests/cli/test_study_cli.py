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
    # Rerunning is a no-op; a different spec is refused with a way out.
    assert "0 scored now" in vlrerank(*args, env=env).stdout
    refused = vlrerank(*args[:-1], "--repeats", "2", env=env)
    assert refused.returncode == 2 and "--restart" in refused.stderr


def test_bad_spec_is_a_clear_error(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("manifest: missing.csv\nsizes: [320x240]\n")
    out = vlrerank("study", "run", str(spec), "--out", str(tmp_path / "o"), env=dict(os.environ))
    assert out.returncode == 2 and "no manifest" in out.stderr and "Traceback" not in out.stderr
