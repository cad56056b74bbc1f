"""Alibaba Cloud's own SDK for this model (``dashscope``: ``TextReRank`` and the 2.x ``Client``) and
the LangChain and LlamaIndex ``DashScopeRerank`` wrappers built on it, unchanged but for the base
URL, against vlrerank serve: order and scores equal the engine's."""

from __future__ import annotations

import base64
import io
from http import HTTPStatus

import httpx
import pytest

from ..conftest import noise_image, write_video
from .conftest import DOCUMENTS, KEY, QUERY, best_first

pytestmark = pytest.mark.slow
ROUTE = "api/v1/services/rerank/text-rerank/text-rerank"


@pytest.fixture
def dashscope_at(client_server, monkeypatch):
    """The SDK pointed at the server the documented way (``dashscope.base_http_api_url``, and the
    key as ``dashscope.api_key``)."""
    import dashscope

    monkeypatch.setattr(dashscope, "base_http_api_url", client_server.url + "api/v1")
    monkeypatch.setattr(dashscope, "api_key", KEY)
    return dashscope


def test_text_rerank_call(dashscope_at, expected):
    response = dashscope_at.TextReRank.call(
        model="qwen3-vl-rerank", query=QUERY, documents=DOCUMENTS, top_n=3, return_documents=True
    )
    assert response.status_code == HTTPStatus.OK, response
    assert [r.index for r in response.output.results] == best_first(expected)[:3]
    for r in response.output.results:
        assert r.relevance_score == pytest.approx(expected[r.index], abs=1e-5)
        # r.document is the SDK's class default (None); the dict holds the answer's value.
        assert r["document"] == {"text": DOCUMENTS[r.index]}
    assert response.usage.total_tokens > 0 and response.request_id


def _png_uri(seed: int) -> str:
    buffer = io.BytesIO()
    noise_image(48, 40, seed).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_text_rerank_call_multimodal_as_alibaba_documents_it(dashscope_at, client_server, tmp_path):
    """qwen3-vl-rerank's documents: {"text"}, {"image"} and {"video"} objects, media as data URIs;
    each scores as the same content sent to /v1/rerank in vLLM's content parts."""
    image = _png_uri(5)
    clip = write_video(tmp_path / "clip.mp4", frames=8)
    video = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    documents = [{"text": DOCUMENTS[1]}, {"image": image}, {"video": video}]
    response = dashscope_at.TextReRank.call(
        model="qwen3-vl-rerank", query={"text": QUERY}, documents=documents, instruct="Find the car."
    )
    assert response.status_code == HTTPStatus.OK, response
    parts = [
        DOCUMENTS[1],
        {"content": [{"type": "image_url", "image_url": {"url": image}}]},
        {"content": [{"type": "video_url", "video_url": {"url": video}}]},
    ]
    ours = httpx.post(
        client_server.url + "v1/rerank",
        json={"query": QUERY, "documents": parts, "instruction": "Find the car."},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    ).json()["results"]
    assert [r.index for r in response.output.results] == [r["index"] for r in ours]
    assert [r.relevance_score for r in response.output.results] == [r["relevance_score"] for r in ours]


def test_text_rerank_errors_reach_the_sdks_error_path(dashscope_at, client_server):
    too_many = dashscope_at.TextReRank.call(model="qwen3-vl-rerank", query=QUERY, documents=["d"] * 17)
    assert too_many.status_code == 400 and too_many.code == "InvalidParameter"
    assert "documents" in too_many.message and too_many.request_id
    wrong_key = dashscope_at.TextReRank.call(
        model="qwen3-vl-rerank", query=QUERY, documents=DOCUMENTS, api_key="not-the-key"
    )
    assert wrong_key.status_code == 401 and wrong_key.code == "InvalidApiKey"


def test_v2_client_rerank_create(client_server, expected):
    import dashscope

    client = dashscope.Client(api_key=KEY, base_url=client_server.url + "api/v1", max_retries=0)
    response = client.rerank.create(model="qwen3-vl-rerank", query=QUERY, documents=DOCUMENTS, top_n=2)
    order = best_first(expected)[:2]
    assert [r.index for r in response.results] == order
    scores = [r.relevance_score for r in response.results]
    assert scores == pytest.approx([expected[i] for i in order], abs=1e-5)
    assert response.usage is not None and response.usage.total_tokens > 0
    with pytest.raises(dashscope.v2.errors.DashScopeError) as info:
        client.rerank.create(model="qwen3-vl-rerank", query=QUERY, documents=["d"] * 17)
    assert info.value.status_code == 400 and info.value.code == "InvalidParameter"


def test_langchain_dashscope_rerank(dashscope_at, expected, monkeypatch):
    from langchain_community.document_compressors.dashscope_rerank import DashScopeRerank
    from langchain_core.documents import Document

    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)  # the wrapper reads its key from there
    reranker = DashScopeRerank(top_n=2)
    kept = reranker.compress_documents([Document(page_content=d) for d in DOCUMENTS], QUERY)
    order = best_first(expected)[:2]
    assert [d.page_content for d in kept] == [DOCUMENTS[i] for i in order]
    assert [d.metadata["relevance_score"] for d in kept] == pytest.approx(
        [expected[i] for i in order], abs=1e-5
    )


def test_llamaindex_dashscope_rerank(dashscope_at, expected):
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
    from llama_index.postprocessor.dashscope_rerank import DashScopeRerank

    rerank = DashScopeRerank(model="qwen3-vl-rerank", api_key=KEY, top_n=3)
    nodes = [NodeWithScore(node=TextNode(text=d)) for d in DOCUMENTS]
    kept = rerank.postprocess_nodes(nodes, QueryBundle(QUERY))
    order = best_first(expected)[:3]
    assert [n.node.get_content() for n in kept] == [DOCUMENTS[i] for i in order]
    assert [n.score for n in kept] == pytest.approx([expected[i] for i in order], abs=1e-5)


def test_dashscope_route_answers_what_the_sdk_parses(client_server):
    """Without the SDK: the wire shape, for the apps that post it themselves."""
    body = {"model": "qwen3-vl-rerank", "input": {"query": QUERY, "documents": DOCUMENTS}}
    answer = httpx.post(
        client_server.url + ROUTE, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"output", "usage", "request_id"}
    assert all(set(r) == {"index", "relevance_score"} for r in answer.json()["output"]["results"])


def test_parameters_fps_sets_how_many_frames_a_video_gives(dashscope_at, client_server, tmp_path):
    """``parameters.fps`` samples a video given as a data URI at that rate (a 6 s clip: 4 frames at
    0.5 fps, the minimum; 6 at the server's 1 fps; 12 at 2 fps), within the engine's limits."""
    clip = write_video(tmp_path / "clip.mp4", frames=24, fps=4)
    video = {"video": "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()}

    def tokens(**fps: float) -> int:
        response = dashscope_at.TextReRank.call(
            model="qwen3-vl-rerank", query=QUERY, documents=[video], **fps
        )
        assert response.status_code == HTTPStatus.OK, response
        return int(response.usage.total_tokens)

    assert tokens(fps=0.5) < tokens() < tokens(fps=2.0)
    assert tokens(fps=1.0) == tokens()
    for fps in (45, 1000):  # over the engine's own bound (30) the dialect refuses it, naming the field
        too_fast = httpx.post(
            client_server.url + ROUTE,
            json={"input": {"query": QUERY, "documents": [video]}, "parameters": {"fps": fps}},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=60,
        )
        assert too_fast.status_code == 400 and too_fast.json()["code"] == "InvalidParameter", too_fast.text
        assert "fps" in too_fast.json()["message"], too_fast.text
