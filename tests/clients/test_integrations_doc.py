"""Every snippet of docs/integrations.md, run as written against a live server (its address and key
substituted): Python blocks in-process with the real client packages, shell blocks with curl."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import KEY

pytestmark = pytest.mark.slow
DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
ADDRESS = "http://127.0.0.1:8000"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def localised(block: str, server) -> str:
    return block.replace(ADDRESS, server.url.rstrip("/")).replace("my-key", KEY)


@pytest.mark.parametrize("number", range(len(blocks("python"))))
def test_python_snippet_runs(client_server, number):
    block = localised(blocks("python")[number], client_server)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(
            compile(block, f"docs/integrations.md python block {number + 1}", "exec"), {}
        )  # the doc's own code
    assert printed.getvalue().strip()


@pytest.mark.parametrize("number", range(len(blocks("bash"))))
def test_shell_snippet_runs(client_server, number):
    block = localised(blocks("bash")[number], client_server)
    done = subprocess.run(["bash", "-c", block], capture_output=True, text=True, timeout=60, check=True)
    answer = json.loads(done.stdout)
    results = answer if isinstance(answer, list) else answer["results"]
    assert len(results) == 2 and "error" not in answer
