"""Infinity's generated client (and LangChain's InfinityRerank on it) and NVIDIA NIM's ranking
client in LlamaIndex, unchanged but for the base URL, against vlrerank serve: order and scores
equal the engine's."""

from __future__ import annotations

import math

import pytest

from .conftest import DOCUMENTS, KEY, QUERY, best_first

pytestmark = pytest.mark.slow


def _infinity(client_server):
    # LangChain's InfinityRerank takes the plain Client, so the key goes in as a header.
    from infinity_client import Client

    return Client(
        base_url=client_server.url.rstrip("/"),
        headers={"Authorization": f"Bearer {KEY}"},
        raise_on_unexpected_status=True,
    )


def test_infinity_client_rerank(client_server, expected):
    """It always sends raw_scores (false: probabilities) and reads usage.prompt_tokens."""
    from infinity_client.api.default import rerank
    from infinity_client.models import RerankInput

    body = RerankInput(query=QUERY, documents=DOCUMENTS, top_n=3, model="BAAI/bge-reranker-base")
    response = rerank.sync_detailed(client=_infinity(client_server), body=body)
    assert response.status_code == 200, response.content
    answer = response.parsed
    assert [r.index for r in answer.results] == best_first(expected)[:3]
    assert [r.relevance_score for r in answer.results] == pytest.approx(
        [expected[i] for i in best_first(expected)[:3]], abs=1e-5
    )
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > 0
    raw = rerank.sync(
        client=_infinity(client_server), body=RerankInput(query=QUERY, documents=DOCUMENTS, raw_scores=True)
    )
    for r in raw.results:
        assert 1 / (1 + math.exp(-r.relevance_score)) == pytest.approx(expected[r.index], abs=1e-5)


def test_langchain_infinity_rerank(client_server, expected):
    from langchain_community.document_compressors.infinity_rerank import InfinityRerank
    from langchain_core.documents import Document

    reranker = InfinityRerank(client=_infinity(client_server), model="BAAI/bge-reranker-base", top_n=2)
    kept = reranker.compress_documents([Document(page_content=d) for d in DOCUMENTS], QUERY)
    order = best_first(expected)[:2]
    assert [d.page_content for d in kept] == [DOCUMENTS[i] for i in order]
    assert [d.metadata["relevance_score"] for d in kept] == pytest.approx(
        [expected[i] for i in order], abs=1e-5
    )


def test_llamaindex_nvidia_rerank(client_server, expected):
    """base_url ``.../v1`` as NIM's docs give it: the client lists /v1/models for its model and posts
    to /v1/ranking; scores are logits, as NIM answers."""
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
    from llama_index.postprocessor.nvidia_rerank import NVIDIARerank

    rerank = NVIDIARerank(base_url=client_server.url + "v1", api_key=KEY, top_n=3, truncate="END")
    nodes = [NodeWithScore(node=TextNode(text=d)) for d in DOCUMENTS]
    kept = rerank.postprocess_nodes(nodes, QueryBundle(QUERY))
    order = best_first(expected)[:3]
    assert [n.node.get_content() for n in kept] == [DOCUMENTS[i] for i in order]
    probabilities = [1 / (1 + math.exp(-n.score)) for n in kept]
    assert probabilities == pytest.approx([expected[i] for i in order], abs=1e-5)


def test_voyageai_client_rerank(client_server, expected):
    """Voyage's own SDK, only its base URL changed: it posts ``top_k`` and ``truncation`` to
    /v1/rerank and reads ``data[].relevance_score`` and ``usage.total_tokens``."""
    import voyageai

    client = voyageai.Client(api_key=KEY, base_url=client_server.url + "v1", max_retries=0)
    answer = client.rerank(QUERY, DOCUMENTS, model="rerank-2.5", top_k=3)
    order = best_first(expected)[:3]
    assert [r.index for r in answer.results] == order
    assert [r.document for r in answer.results] == [DOCUMENTS[i] for i in order]
    assert [r.relevance_score for r in answer.results] == pytest.approx(
        [expected[i] for i in order], abs=1e-5
    )
    assert answer.total_tokens > 0
