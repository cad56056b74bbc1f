"""The Cohere SDK (v1 and v2) and LangChain's CohereRerank, unchanged, against vlrerank serve."""

from __future__ import annotations

import cohere
import pytest

from .conftest import DOCUMENTS, KEY, QUERY, best_first

pytestmark = pytest.mark.slow


def test_cohere_v1_client_with_its_usual_model_name(client_server, expected):
    co = cohere.Client(api_key=KEY, base_url=client_server.url.rstrip("/"))
    response = co.rerank(
        model="rerank-v3.5", query=QUERY, documents=DOCUMENTS, top_n=3, return_documents=True
    )
    assert [r.index for r in response.results] == best_first(expected)[:3]
    for r in response.results:
        assert r.relevance_score == pytest.approx(expected[r.index], abs=1e-5)
        assert r.document is not None and r.document.text == DOCUMENTS[r.index]


def test_cohere_v1_errors_carry_cohere_v1s_message(client_server):
    co = cohere.Client(api_key=KEY, base_url=client_server.url.rstrip("/"))
    with pytest.raises(cohere.errors.UnprocessableEntityError) as info:
        co.rerank(model="rerank-v3.5", query=QUERY, documents=["x"] * 17)
    assert info.value.body["message"].startswith("documents")
    assert info.value.body["error"]["type"] == "invalid_request"  # vlrerank.client's shape, unchanged


def test_cohere_v2_client(client_server, expected):
    co = cohere.ClientV2(api_key=KEY, base_url=client_server.url.rstrip("/"))
    response = co.rerank(model="rerank-v3.5", query=QUERY, documents=DOCUMENTS, max_tokens_per_doc=4096)
    assert [r.index for r in response.results] == best_first(expected)
    assert [r.relevance_score for r in response.results] == pytest.approx(
        [expected[i] for i in best_first(expected)], abs=1e-5
    )
    assert response.meta is not None and response.meta.billed_units.search_units == 1
    assert response.meta.tokens.input_tokens > 0


def test_cohere_v2_errors_are_the_sdks_typed_errors(client_server):
    co = cohere.ClientV2(api_key=KEY, base_url=client_server.url.rstrip("/"))
    with pytest.raises(cohere.errors.UnprocessableEntityError) as info:
        co.rerank(model="rerank-v3.5", query=QUERY, documents=["x"] * 17)
    assert info.value.body["error"]["type"] == "invalid_request" and "documents" in info.value.body["message"]
    wrong = cohere.ClientV2(api_key="not-the-key", base_url=client_server.url.rstrip("/"))
    with pytest.raises(cohere.errors.UnauthorizedError):
        wrong.rerank(model="rerank-v3.5", query=QUERY, documents=DOCUMENTS)


def test_langchain_cohere_rerank(client_server, expected):
    from langchain_cohere import CohereRerank
    from langchain_core.documents import Document

    reranker = CohereRerank(
        model="rerank-v3.5", cohere_api_key=KEY, base_url=client_server.url.rstrip("/"), top_n=2
    )
    kept = reranker.compress_documents([Document(page_content=d) for d in DOCUMENTS], QUERY)
    order = best_first(expected)[:2]
    assert [d.page_content for d in kept] == [DOCUMENTS[i] for i in order]
    assert [d.metadata["relevance_score"] for d in kept] == pytest.approx(
        [expected[i] for i in order], abs=1e-5
    )
