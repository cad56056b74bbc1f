"""Every dialect's answers and errors validate against its peer's published schema (vendored in
peer_specs/, sources noted there), and vLLM's own rerank/score test assertions hold over HTTP."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import jsonschema
import pytest

from ..conftest import noise_image
from .conftest import DOCUMENTS, KEY, QUERY

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {KEY}"}
SPECS = Path(__file__).parent / "peer_specs"


def schema(peer: str, name: str) -> dict:
    spec = json.loads((SPECS / f"{peer}.json").read_text())
    return {"$defs": spec["$defs"], "$ref": f"#/$defs/{name}"}


def valid(body: object, peer: str, name: str) -> None:
    jsonschema.validate(body, schema(peer, name))


def post(server, path: str, body: object) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers=AUTH, timeout=60)


def test_tei_answers_and_errors(client_server):
    answer = post(client_server, "rerank", {"query": QUERY, "texts": DOCUMENTS, "return_text": True})
    valid(answer.json(), "tei", "RerankResponse")
    for body, status in [
        ({"query": QUERY, "texts": ["d"] * 17}, 422),
        ({"query": QUERY, "texts": []}, 400),
        ({"query": QUERY, "texts": [{"image": "data:image/png;base64,AAAA"}]}, 422),
        ({"query": QUERY, "texts": "not a list"}, 422),
    ]:
        error = post(client_server, "rerank", body)
        assert error.status_code == status, error.text
        valid(error.json(), "tei", "ErrorResponse")


def _png_uri() -> str:
    buffer = io.BytesIO()
    noise_image(32, 32, 9).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_vllm_rerank_answers_as_vllms_tests_assert(client_server):
    """vLLM's rerank tests: results best first, each with its document echoed; usage counted."""
    answer = post(client_server, "rerank", {"model": "m", "query": QUERY, "documents": DOCUMENTS}).json()
    valid(answer, "vllm", "RerankResponse")
    assert answer["id"] and len(answer["results"]) == len(DOCUMENTS)
    scores = [r["relevance_score"] for r in answer["results"]]
    assert scores == sorted(scores, reverse=True)
    assert all(r["document"]["text"] == DOCUMENTS[r["index"]] for r in answer["results"])
    assert answer["usage"]["prompt_tokens"] > 0
    top = post(client_server, "rerank", {"query": QUERY, "documents": DOCUMENTS, "top_n": 2}).json()
    assert len(top["results"]) == 2 and [r["index"] for r in top["results"]] == [
        r["index"] for r in answer["results"][:2]
    ]
    multimodal = {"text": ["a photo", "of a car"], "image": _png_uri()}
    echoed = post(client_server, "rerank", {"query": QUERY, "documents": [multimodal]}).json()
    valid(echoed, "vllm", "RerankResponse")


def test_vllm_score_answers_as_vllms_tests_assert(client_server):
    for body in (
        {"model": "m", "text_1": QUERY, "text_2": DOCUMENTS},
        {"model": "m", "queries": [QUERY, QUERY], "documents": DOCUMENTS[:2]},
        {"model": "m", "data_1": QUERY, "data_2": DOCUMENTS[0]},
    ):
        answer = post(client_server, "score", body)
        assert answer.status_code == 200, answer.text
        valid(answer.json(), "vllm", "ScoreResponse")
        assert answer.json()["object"] == "list"
        assert [d["index"] for d in answer.json()["data"]] == list(range(len(answer.json()["data"])))


def test_cohere_answers_and_errors(client_server):
    """Cohere's OpenAPI: v1 and v2 answers (documents echoed as objects or absent, never null; extra
    document fields preserved), and every error body with Cohere's string ``message``."""
    structured = [{"text": d, "title": f"t{i}", "id": str(i)} for i, d in enumerate(DOCUMENTS)]
    echo = {"query": QUERY, "documents": structured, "return_documents": True}
    for path, name in (("v1/rerank", "CohereV1RerankResponse"), ("v2/rerank", "CohereV2RerankResponse")):
        for body in (
            {"model": "rerank-v3.5", "query": QUERY, "documents": DOCUMENTS},
            {"model": "m", "query": QUERY, "documents": DOCUMENTS, "top_n": 2, "return_documents": True},
            echo,
        ):
            answer = post(client_server, path, body)
            assert answer.status_code == 200, answer.text
            valid(answer.json(), "cohere", name)
            results = answer.json()["results"]
            assert all(("document" in r) == body.get("return_documents", False) for r in results)
        echoed = post(client_server, path, echo)
        assert all(r["document"] == structured[r["index"]] for r in echoed.json()["results"])
        errors = [
            post(client_server, path, {"query": QUERY, "documents": "not a list"}),
            post(client_server, path, {"query": QUERY, "documents": [{"imag": "x"}]}),
            post(client_server, path, {"query": QUERY, "documents": ["d"] * 17}),
            httpx.post(client_server.url + path, json={"query": QUERY, "documents": DOCUMENTS}, timeout=60),
            httpx.get(client_server.url + path, headers=AUTH, timeout=60),
        ]
        assert [e.status_code for e in errors] == [422, 422, 422, 401, 405]
        for error in errors:
            valid(error.json(), "cohere", "ErrorBody")
            assert isinstance(error.json()["message"], str) and error.json()["message"], (path, error.text)


def test_nim_errors_are_nvidias_problem_details(client_server):
    """NVIDIA's endpoints answer errors as problem details, which NVIDIA's own clients
    (langchain-nvidia-ai-endpoints' ``_try_raise``) print as ``[status] title`` then ``detail``."""
    for path in ("v1/ranking", "v1/reranking"):
        errors = [
            post(client_server, path, {"query": {"text": QUERY}, "passages": "not a list"}),
            post(client_server, path, {"query": {"text": QUERY}, "passages": [{"text": "d"}] * 17}),
            httpx.post(client_server.url + path, json={"query": {"text": QUERY}, "passages": []}, timeout=60),
            httpx.get(client_server.url + path, headers=AUTH, timeout=60),
        ]
        assert [e.status_code for e in errors] == [422, 422, 401, 405]
        for error in errors:
            body = error.json()
            assert body["status"] == error.status_code and body["title"] == error.reason_phrase, body
            assert isinstance(body["detail"], str) and body["detail"]
            assert body["error"]["code"] == error.status_code  # the default body is still there
    cohere_v1 = post(client_server, "v1/rerank", {"query": QUERY, "documents": "not a list"}).json()
    assert "title" not in cohere_v1 and "status" not in cohere_v1
