"""A small manifest of generated images for study tests (the bundled sample set is larger)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import noise_image


@pytest.fixture
def small_study(tmp_path, tiny_dir) -> Path:
    """Four images in two categories, one labelled group per category; returns the spec path."""
    rows = ["image,category,query,relevant,group"]
    for i in range(4):
        noise_image(40, 30, 50 + i).resize((400, 300)).save(tmp_path / f"img{i}.png")
        category = "life" if i < 2 else "art"
        rows.append(f"img{i}.png,{category},a picture of {category},{1 if i % 2 == 0 else 0},{category}-q")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "spec.yaml").write_text(
        f"manifest: manifest.csv\nsizes: [320x240, 640x480]\ninterpolations: [bicubic, nearest]\n"
        f"repeats: 2\nmodel: {tiny_dir}\nbatch_documents: 1\n"
    )
    return tmp_path / "spec.yaml"


def stored_scores(out: Path) -> dict[str, float | None]:
    from vlrerank.study.store import ResultStore

    store = ResultStore(out / "results.sqlite")
    try:
        return {r.condition: r.score for r in store.rows()}
    finally:
        store.close()


def kill_during_runs(spec: Path, out: Path, thresholds: list[int]) -> int:
    """Start ``vlrerank study run`` once per threshold and SIGKILL it as soon as the store holds that
    many rows (if it is still running then). Returns how many runs were killed mid-way."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    command = [sys.executable, "-m", "vlrerank", "study", "run", str(spec), "--out", str(out), "--quiet"]
    kills = 0
    for threshold in thresholds:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with sqlite3.connect(out / "results.sqlite", timeout=5) as db:
                    if db.execute("SELECT COUNT(*) FROM results").fetchone()[0] >= threshold:
                        break
            except sqlite3.Error:
                pass
            time.sleep(0.01)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
    return kills
