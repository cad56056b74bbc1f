"""A replica that cannot load its model is reported, not silently absent (Ray Serve, local)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray.serve")
pytestmark = pytest.mark.slow


def test_a_replica_that_cannot_load_the_model_is_reported(tmp_path: Path):
    # `vlrerank serve` checks the checkpoint before Ray starts; Ray's own entry point does not, so
    # the replicas themselves fail to load, and Ray must say why and stop.
    missing = tmp_path / "no-such-model"
    serve = Path(sys.executable).with_name("serve")
    run = subprocess.run(
        [str(serve), "run", "--name", "vlrerank", "vlrerank.server.replicas:build_app",
         f"model={missing}", "replicas=1", "ui=false"],
        capture_output=True, text=True, timeout=400, env={**os.environ, "RAY_DEDUP_LOGS": "0"},
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert "ModelNotFoundError" in output and str(missing) in output, output[-3000:]
    assert "Deploying application vlrerank failed" in output, output[-3000:]
