"""LlamaIndex (CohereRerank, JinaRerank), Haystack (CohereRanker) and LiteLLM's rerank providers,
unchanged, against vlrerank serve: order and scores equal the engine's."""

from __future__ import annotations

import pytest

from .conftest import DOCUMENTS, KEY, QUERY, best_first

pytestmark = pytest.mark.slow


def _nodes():
    from llama_index.core.schema import NodeWithScore, TextNode

    return [NodeWithScore(node=TextNode(text=d)) for d in DOCUMENTS]


def test_llamaindex_cohere_rerank(client_server, expected):
    from llama_index.core.schema import QueryBundle
    from llama_index.postprocessor.cohere_rerank import CohereRerank

    rerank = CohereRerank(top_n=2, model="rerank-v3.5", api_key=KEY, base_url=client_server.url.rstrip("/"))
    kept = rerank.postprocess_nodes(_nodes(), QueryBundle(QUERY))
    order = best_first(expected)[:2]
    assert [n.node.get_content() for n in kept] == [DOCUMENTS[i] for i in order]
    assert [n.score for n in kept] == pytest.approx([expected[i] for i in order], abs=1e-5)


def test_llamaindex_jina_rerank(client_server, expected):
    from llama_index.core.schema import QueryBundle
    from llama_index.postprocessor.jinaai_rerank import JinaRerank

    rerank = JinaRerank(
        top_n=3, model="jina-reranker-m0", api_key=KEY, base_url=client_server.url.rstrip("/")
    )
    kept = rerank.postprocess_nodes(_nodes(), QueryBundle(QUERY))
    order = best_first(expected)[:3]
    assert [n.node.get_content() for n in kept] == [DOCUMENTS[i] for i in order]
    assert [n.score for n in kept] == pytest.approx([expected[i] for i in order], abs=1e-5)


def test_haystack_cohere_ranker(client_server, expected):
    from haystack import Document
    from haystack.utils import Secret
    from haystack_integrations.components.rankers.cohere import CohereRanker

    ranker = CohereRanker(api_key=Secret.from_token(KEY), api_base_url=client_server.url.rstrip("/"), top_k=3)
    documents = ranker.run(query=QUERY, documents=[Document(content=d) for d in DOCUMENTS])["documents"]
    order = best_first(expected)[:3]
    assert [d.content for d in documents] == [DOCUMENTS[i] for i in order]
    assert [d.score for d in documents] == pytest.approx([expected[i] for i in order], abs=1e-5)


def test_haystack_tei_ranker(client_server, expected):
    """Haystack's TEI ranker (since haystack-ai 3, in the huggingface-api-haystack package)."""
    from haystack import Document
    from haystack.utils import Secret
    from haystack_integrations.components.rankers.huggingface_api import HuggingFaceTEIRanker

    ranker = HuggingFaceTEIRanker(url=client_server.url.rstrip("/"), top_k=3, token=Secret.from_token(KEY))
    documents = ranker.run(query=QUERY, documents=[Document(content=d) for d in DOCUMENTS])["documents"]
    order = best_first(expected)[:3]
    assert [d.content for d in documents] == [DOCUMENTS[i] for i in order]
    assert [d.score for d in documents] == pytest.approx([expected[i] for i in order], abs=1e-5)


@pytest.mark.parametrize(
    "model",
    ["cohere/rerank-v3.5", "jina_ai/jina-reranker-m0", "hosted_vllm/qwen3-vl-reranker",
     "huggingface/tei-reranker", "infinity/reranker"],
)  # fmt: skip
def test_litellm_rerank_providers(client_server, expected, model):
    import litellm

    # Infinity's own server echoes a document as a bare string, which LiteLLM's infinity/ provider
    # insists on; /rerank echoes Jina's and vLLM's {"text": ...}, so documents are not asked for there.
    echo = not model.startswith("infinity/")
    response = litellm.rerank(
        model=model,
        query=QUERY,
        documents=DOCUMENTS,
        top_n=3,
        return_documents=echo,
        api_base=client_server.url.rstrip("/"),
        api_key=KEY,
    )
    order = best_first(expected)[:3]
    assert [r["index"] for r in response.results] == order
    assert [r["relevance_score"] for r in response.results] == pytest.approx(
        [expected[i] for i in order], abs=1e-5
    )
