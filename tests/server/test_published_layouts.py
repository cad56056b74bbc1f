"""``vlrerank serve`` on checkpoints in today's published layouts answers with the reference's scores.

Before the template was chosen by what it renders, a server on a checkpoint with
``additional_chat_templates/reranker.jinja`` started, reported ready and failed every request.
"""

from __future__ import annotations

import httpx
import pytest

from ..conftest import noise_image
from ..servers import start_server, stop
from .test_api import data_uri

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("layout", ["sentence-transformers", "reranker-native"])
def test_served_scores_equal_the_reference_on_the_one_template_checkpoint(layout, layout_dirs, reference):
    image = noise_image(96, 64, 11)
    documents = ["a red car parked", "tomato soup", {"text": "a photo", "image": data_uri(image)}]
    server = start_server(["--model", str(layout_dirs[layout]), "--no-ui"], {})
    try:
        response = httpx.post(
            server.url + "v1/rerank", json={"query": "a red car", "documents": documents}, timeout=60
        )
    finally:
        stop(server)
    assert response.status_code == 200, response.text
    served = {r["index"]: r["relevance_score"] for r in response.json()["results"]}
    expected = reference.process(
        {
            "query": {"text": "a red car"},
            "documents": [
                {"text": documents[0]},
                {"text": documents[1]},
                {"text": "a photo", "image": image},
            ],
        }
    )
    assert max(abs(served[i] - score) for i, score in enumerate(expected)) <= 1e-5
