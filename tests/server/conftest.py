"""A UI server behind an API key, for the browser test of the login page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..servers import Server, start_server, stop

UI_KEY = "ui-test-key-93b1"


@pytest.fixture(scope="session")
def keyed_ui_server(tiny_dir) -> Iterator[Server]:
    server = start_server(["--model", str(tiny_dir)], {"VLRERANK_API_KEY": UI_KEY})
    yield server
    stop(server)
