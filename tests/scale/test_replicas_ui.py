"""The web UI served by Ray Serve replicas, in headless Chromium: uploads and a ranking go through."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import noise_image
from ..servers import Server, start_server

pytest.importorskip("ray.serve")
pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def ui_replicas(tiny_dir: Path) -> Iterator[Server]:
    server = start_server(["--model", str(tiny_dir), "--replicas", "2"], {}, timeout_s=300)
    yield server
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        server.process.kill()


def test_the_ui_ranks_uploaded_pictures_behind_two_replicas(ui_replicas, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    paths = [tmp_path / f"picture{i}.png" for i in range(3)]
    for i, path in enumerate(paths):
        noise_image(160, 120, i).save(path)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(ui_replicas.url, wait_until="networkidle")
        page.get_by_label("Query text").fill("a picture")
        # Uploads land in one replica's process; the ranking must run where they are.
        page.locator("#candidates input[type=file]").set_input_files([str(path) for path in paths])
        page.locator("#image-facts").get_by_text("picture2.png").wait_for(timeout=30_000)
        page.get_by_role("button", name="Rerank").click()
        # Small noise pictures may be ranked or refused by the quality gate: either way each one
        # was read from the upload, by the replica that holds it.
        page.locator("#results").get_by_text("prepare").wait_for(timeout=60_000)
        text = page.locator("#results").inner_text()
        assert all(path.name in text for path in paths) and "Traceback" not in page.content(), text
        browser.close()
