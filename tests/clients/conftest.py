"""One real ``vlrerank serve`` for every stock-client test, and what the engine says it should answer.

The clients must never reach the internet (the test machine has none, so a call would hang): their
telemetry and remote look-ups are switched off here, before any of them is imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ..servers import Server, start_server, stop

for name, value in {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "HF_HUB_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
}.items():
    os.environ.setdefault(name, value)

KEY = "client-test-key"
QUERY = "a red car"
DOCUMENTS = ["a bowl of soup", "a red car parked on the street", "a cat asleep on a sofa", "red paint"]


@pytest.fixture(scope="session")
def client_server(tiny_dir) -> Iterator[Server]:
    """The API behind a key, as a user would run it for their existing clients."""
    env = {"VLRERANK_API_KEY": KEY, "VLRERANK_MAX_DOCUMENTS": "16", "VLRERANK_REQUEST_TIMEOUT_S": "60"}
    server = start_server(["--model", str(tiny_dir), "--no-ui"], env)
    yield server
    stop(server)


@pytest.fixture(scope="session")
def expected(reranker) -> list[float]:
    """The engine's own scores for (QUERY, DOCUMENTS), in document order."""
    return list(reranker.score(QUERY, DOCUMENTS))


def best_first(scores: list[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: -scores[i])
