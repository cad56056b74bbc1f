"""Real servers for the HTTP, browser and hostile tests: ``python -m vlrerank serve`` subprocesses.

The fixtures are imported by tests/conftest.py so every test package shares one of each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    reader: threading.Thread | None = None


def start_server(args: list[str], env: dict[str, str], timeout_s: float = 120) -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", "vlrerank", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **env},
    )
    deadline = time.monotonic() + timeout_s
    url = None
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"serving .* at (http://\S+/)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        stop(Server("", process))
        raise RuntimeError("the server did not start")
    # Keep reading its output, or a full pipe would block the server's logging.
    reader = threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    while time.monotonic() < deadline:  # the model loads in the background
        if httpx.get(url + "ready", timeout=5).status_code == 200:
            return Server(url, process, reader)
        time.sleep(0.2)
    stop(Server(url, process, reader))
    raise RuntimeError("the server never became ready")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)
    # Close the pipe once its reader has seen the end: a pipe left to the garbage collector raises
    # a ResourceWarning inside whichever test happens to run then.
    if server.reader is not None:
        server.reader.join(timeout=10)
    if server.process.stdout is not None and (server.reader is None or not server.reader.is_alive()):
        server.process.stdout.close()


@pytest.fixture(scope="session")
def api_server(tiny_dir) -> Iterator[Server]:
    """The API with small limits and an API key, on the session's tiny checkpoint."""
    env = {
        "VLRERANK_API_KEY": "test-key",
        "VLRERANK_MAX_DOCUMENTS": "8",
        "VLRERANK_MAX_BODY_BYTES": "2000000",
        "VLRERANK_MAX_TEXT_CHARS": "2000",
        "VLRERANK_MAX_CONCURRENT": "1",  # with no queue: a second request at once gets 429
        "VLRERANK_MAX_QUEUE": "0",
        "VLRERANK_REQUEST_TIMEOUT_S": "20",
        "VLRERANK_MAX_UPLOAD_FILES": "3",
    }
    server = start_server(["--model", str(tiny_dir), "--no-ui"], env)
    yield server
    stop(server)


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory) -> Iterator[Server]:
    """The default server, as `make serve` starts it: tiny-random, UI at /, no API key."""
    env = {"VLRERANK_CACHE": str(tmp_path_factory.mktemp("cache"))}
    server = start_server([], env)
    yield server
    stop(server)
