"""The benchmark script runs as documented and reports parity (a smoke test, not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def run_script(script: str, out: Path, *args: str) -> tuple[str, dict]:
    """Runs ``benchmarks/<script>`` as a user would; its stdout and the JSON it wrote."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args, "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout, json.loads(out.read_text())


def test_engine_throughput_tiny_cpu(tmp_path):
    stdout, report = run_script(
        "engine_throughput.py", tmp_path / "bench.json", "--arch", "tiny", "--requests", "1", "--docs", "3",
        "--st-baseline", "off",
    )  # fmt: skip
    assert report["meta"]["arch"] == "tiny" and "random weights" in report["meta"]["note"]
    assert [r["workload"] for r in report["results"]] == ["image_docs", "text_docs", "image_query"]
    for row in report["results"]:
        assert row["pairs"] == 3
        assert row["max_abs_diff"] <= 1e-5
        assert row["reference_pairs_per_s"] > 0 and row["engine_pairs_per_s"] > 0
        assert row["st_pairs_per_s"] is None
    assert report["meta"]["sentence_transformers"] is None
    assert "| text_docs | 3 |" in stdout


def test_engine_throughput_sentence_transformers_baseline(tmp_path):
    """sentence-transformers' CrossEncoder timed on the same pairs, its logits compared (float32)."""
    pytest.importorskip("sentence_transformers")
    stdout, report = run_script(
        "engine_throughput.py", tmp_path / "bench.json", "--arch", "tiny", "--requests", "1", "--docs", "3",
        "--workloads", "text_docs,image_query", "--st-baseline", "on", "--fp32-pairs", "2",
    )  # fmt: skip
    assert report["meta"]["sentence_transformers"] and report["meta"]["st_batch_size"] == 32
    for row in report["results"]:
        assert row["st_pairs_per_s"] > 0
        assert row["st_ratio"] == pytest.approx(row["engine_pairs_per_s"] / row["st_pairs_per_s"])
        # Inputs match the published recipe here: only float32 rounding between the two.
        assert row["st_max_abs_logit_diff"] <= 1e-5
        assert row["st_max_abs_logit_diff_fp32"] <= 1e-5
    assert "sentence-transformers pairs/s" in stdout and "| image_query | 3 |" in stdout


def test_activation_memory_tiny_cpu(tmp_path):
    """Smaller vision chunks must show a smaller peak: the measurement sees the forward's tensors."""
    stdout, report = run_script(
        "activation_memory.py", tmp_path / "memory.json", "--arch", "tiny", "--docs", "3",
        "--patch-budgets", "65536,2048",
    )  # fmt: skip
    whole, chunked = report["results"]
    assert (whole["vision_patch_budget"], chunked["vision_patch_budget"]) == (65536, 2048)
    assert 0 < chunked["peak_gib"] < whole["peak_gib"]
    assert report["meta"]["token_budget"] == 8192
    assert "| 2048 |" in stdout


def test_fast_init_builds_a_usable_full_model_shape_on_cpu():
    """The 2B/8B path (no initialiser, noise fill, tied head) checked at tiny size."""
    import torch

    from vlrerank.checkpoints import random_model

    model = random_model("tiny", device="cpu", dtype=torch.float32, fast_init=True)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    ids = torch.tensor([[151644, 8948, 198, 9693]])
    hidden = model.model(input_ids=ids, use_cache=False).last_hidden_state
    assert torch.isfinite(hidden).all()


def test_preprocess_benchmark_runs_and_reports_accuracy(tmp_path):
    out = tmp_path / "pre.json"
    run = subprocess.run(
        [
            sys.executable, str(ROOT / "benchmarks" / "preprocess.py"),
            "--images", "2", "--workers", "2", "--out", str(out),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    assert [r["method"] for r in report["results"]][:2] == ["pillow open+resize", "vlrerank pipeline"]
    assert report["accuracy"]["mean_abs_diff"] < 1.0 and report["accuracy"]["p99_abs_diff"] <= 2
