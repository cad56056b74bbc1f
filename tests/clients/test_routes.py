"""Every route and shape over real HTTP: the same pairs score the same through each route, the same
content scores the same in each multimodal shape, and each dialect answers errors in its own body."""

from __future__ import annotations

import base64
import io
import math

import httpx
import pytest
from PIL import Image

from vlrerank.inputs.video import decode_video_file

from ..conftest import noise_image, write_video
from .conftest import DOCUMENTS, KEY, QUERY, best_first

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {KEY}"}
DASHSCOPE = "api/v1/services/rerank/text-rerank/text-rerank"


def post(server, path: str, body: object) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers=AUTH, timeout=60)


def png_base64(seed: int) -> str:
    buffer = io.BytesIO()
    noise_image(48, 40, seed).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def by_index(results: list[dict], score: str = "relevance_score") -> list[float]:
    return [r[score] for r in sorted(results, key=lambda r: r["index"])]


def test_the_same_pairs_score_the_same_through_every_route(client_server, expected):
    body = {"model": "any-name", "query": QUERY, "documents": DOCUMENTS}
    nim = {"query": {"text": QUERY}, "passages": [{"text": d} for d in DOCUMENTS]}
    tei = post(client_server, "rerank", {"query": QUERY, "texts": DOCUMENTS}).json()
    score = post(client_server, "score", {"queries": QUERY, "documents": DOCUMENTS}).json()["data"]
    answers = {
        "/v1/rerank": by_index(post(client_server, "v1/rerank", body).json()["results"]),
        "/v2/rerank": by_index(post(client_server, "v2/rerank", body).json()["results"]),
        "/rerank": by_index(post(client_server, "rerank", body).json()["results"]),
        "/rerank (TEI)": by_index(tei, "score"),
        "/score": by_index(score, "score"),
        "/v1/score": by_index(
            post(client_server, "v1/score", {"data_1": QUERY, "data_2": DOCUMENTS}).json()["data"], "score"
        ),
        "DashScope": by_index(
            post(client_server, DASHSCOPE, {"input": {"query": QUERY, "documents": DOCUMENTS}}).json()[
                "output"
            ]["results"]
        ),
        "NIM (sigmoid of its logits)": [
            1 / (1 + math.exp(-x))
            for x in by_index(post(client_server, "v1/ranking", nim).json()["rankings"], "logit")
        ],
    }
    for route, scores in answers.items():
        assert scores == pytest.approx(expected, abs=1e-6), route


def test_a_multimodal_document_scores_the_same_in_every_shape(client_server):
    image = png_base64(3)
    uri = f"data:image/png;base64,{image}"
    shapes = {
        "ours": {"text": "a red car", "image": uri},
        "ours, lists": {"text": ["a red car"], "image": [uri]},
        "vLLM content parts": {
            "content": [
                {"type": "text", "text": "a red car"},
                {"type": "image_url", "image_url": {"url": uri}},
            ]
        },
        "content parts, bare url string": {
            "content": [{"type": "image_url", "image_url": uri}, {"type": "text", "text": "a red car"}]
        },
        "Jina bare base64": {"text": "a red car", "image": image},
    }
    scores = {}
    for name, document in shapes.items():
        response = post(client_server, "v1/rerank", {"query": QUERY, "documents": [document, "soup"]})
        assert response.status_code == 200, (name, response.text)
        scores[name] = by_index(response.json()["results"])[0]
    query_parts = {"content": [{"type": "text", "text": QUERY}]}
    response = post(client_server, "rerank", {"query": query_parts, "documents": [shapes["ours"]]})
    scores["query as content parts, /rerank"] = response.json()["results"][0]["relevance_score"]
    assert len(set(scores.values())) == 1, scores


def test_a_video_url_part_scores_as_its_sampled_frames(client_server, tmp_path):
    clip = write_video(tmp_path / "clip.mp4", frames=8)
    video_uri = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    # The server samples at its engine's defaults (fps 1, at most 64 frames), as for a video file.
    decoded = decode_video_file(str(clip), fps=1.0, max_frames=64, field="video")
    frames = []
    for frame in decoded.frames:
        buffer = io.BytesIO()
        Image.fromarray(frame.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
        frames.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())
    parts = {
        "content": [
            {"type": "video_url", "video_url": {"url": video_uri}},
            {"type": "text", "text": "a clip"},
        ]
    }
    ours = {"video": frames, "text": "a clip"}
    scores = [
        by_index(post(client_server, "rerank", {"query": QUERY, "documents": [d]}).json()["results"])[0]
        for d in (parts, ours)
    ]
    assert scores[0] == scores[1]


def test_score_pairs_one_to_one_one_to_many_and_n_to_n(client_server, expected):
    one = post(client_server, "score", {"text_1": QUERY, "text_2": DOCUMENTS[1]}).json()
    assert one["object"] == "list" and one["data"][0]["object"] == "score"
    assert one["data"][0]["score"] == pytest.approx(expected[1], abs=1e-6)
    pairs = post(
        client_server, "score", {"queries": [QUERY, "soup", QUERY], "documents": DOCUMENTS[:3]}
    ).json()
    assert [d["index"] for d in pairs["data"]] == [0, 1, 2]
    assert pairs["data"][0]["score"] == pytest.approx(expected[0], abs=1e-6)
    assert pairs["data"][2]["score"] == pytest.approx(expected[2], abs=1e-6)
    bad = post(client_server, "score", {"queries": ["a", "b"], "documents": DOCUMENTS})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "queries"


def test_tei_body_as_haystacks_tei_ranker_sends_it(client_server, expected):
    # The body of haystack's HuggingFaceTEIRanker (haystack-ai 2.x; not in 3.x's core package).
    body = {
        "query": QUERY,
        "texts": DOCUMENTS,
        "truncate": True,
        "truncation_direction": "Right",
        "raw_scores": False,
    }
    answer = post(client_server, "rerank", body)
    assert answer.status_code == 200, answer.text
    assert [r["index"] for r in answer.json()] == best_first(expected)
    assert by_index(answer.json(), "score") == pytest.approx(expected, abs=1e-6)
    raw = post(
        client_server, "rerank", {"query": QUERY, "texts": DOCUMENTS, "raw_scores": True, "return_text": True}
    )
    for r in raw.json():
        assert 1 / (1 + pow(2.718281828459045, -r["score"])) == pytest.approx(expected[r["index"]], abs=1e-5)
        assert r["text"] == DOCUMENTS[r["index"]]


def test_raw_scores_truncation_and_ignored_fields(client_server, expected):
    long = "a red car " * 40
    body = {
        "query": QUERY,
        "documents": [long, DOCUMENTS[0]],
        "max_tokens_per_doc": 5,
        "use_activation": False,
        "rank_fields": ["text"],
        "priority": 5,
    }
    results = post(client_server, "v1/rerank", body).json()["results"]
    flags = {r["index"]: r.get("truncated") for r in results}
    assert flags == {0: True, 1: None}
    short = post(client_server, "v1/rerank", {"query": QUERY, "documents": ["a red car a red", DOCUMENTS[0]]})
    logits = dict(zip([r["index"] for r in results], [r["relevance_score"] for r in results], strict=True))
    assert logits[1] == pytest.approx(_logit(expected[0]), abs=1e-4)
    # Cut to 5 tokens from the right, the long text is the text those 5 tokens spell.
    assert logits[0] == pytest.approx(_logit(by_index(short.json()["results"])[0]), abs=1e-4)


def _logit(p: float) -> float:
    import math

    return math.log(p / (1 - p))


def test_fields_no_dialect_defines_are_ignored_and_named(client_server):
    # vLLM, TEI and Infinity ignore fields they do not know; so does vlrerank, and says which.
    for path, body in [
        ("v1/rerank", {"query": "q", "documents": ["d"], "rank_feilds": ["x"]}),
        ("v2/rerank", {"query": "q", "documents": ["d"], "rank_feilds": ["x"]}),
        ("rerank", {"query": "q", "documents": ["d"], "rank_feilds": ["x"]}),
        ("rerank", {"query": "q", "texts": ["d"], "rank_feilds": ["x"]}),
        ("score", {"queries": "q", "documents": ["d"], "rank_feilds": ["x"]}),
        ("v1/ranking", {"query": {"text": "q"}, "passages": [{"text": "d"}], "rank_feilds": ["x"]}),
        (
            "api/v1/services/rerank/text-rerank/text-rerank",
            {"input": {"query": "q", "documents": ["d"]}, "rank_feilds": 1},
        ),
    ]:
        response = post(client_server, path, body)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["x-vlrerank-ignored-fields"] == "rank_feilds", path
    # vLLM's own extra fields, and the chunking fields (defined by a dialect): never refused.
    vllm = {"user": "u", "request_id": "r", "truncation_side": "left", "padding": True, "cache_salt": "s",
            "mm_processor_kwargs": {}, "max_tokens_per_query": 9, "overlap_tokens": 2}  # fmt: skip
    response = post(client_server, "rerank", {"query": "q", "documents": ["d"], **vllm})
    assert response.status_code == 200, response.text
    assert "overlap_tokens" not in response.headers["x-vlrerank-ignored-fields"]
    assert "cache_salt" in response.headers["x-vlrerank-ignored-fields"]
    nested = post(client_server, "v1/rerank", {"query": "q", "documents": [{"text": "d", "title": "t"}]})
    assert nested.headers["x-vlrerank-ignored-fields"] == "documents[].title"
    metrics = httpx.get(client_server.url + "metrics", headers=AUTH, timeout=10).text
    assert 'vlrerank_ignored_fields_total{field="rank_feilds"}' in metrics


def test_peer_spellings_of_our_fields_are_honoured(client_server, expected):
    def scores(path: str, body: dict, key: str = "results") -> list[float]:
        answer = post(client_server, path, body)
        assert answer.status_code == 200 and "x-vlrerank-ignored-fields" not in answer.headers, answer.text
        return by_index(answer.json()[key] if key else answer.json(), "relevance_score" if key else "score")

    base = {"query": QUERY, "documents": DOCUMENTS}
    logits = scores("v1/rerank", {**base, "use_activation": False})
    assert scores("rerank", {**base, "raw_scores": True}) == pytest.approx(logits, abs=1e-6)
    assert scores("rerank", {**base, "raw_scores": False}) == pytest.approx(expected, abs=1e-6)
    assert scores("rerank", {"query": QUERY, "texts": DOCUMENTS, "model": "x"}, "") == pytest.approx(
        expected, abs=1e-6
    )
    with_instruction = scores("v1/rerank", {**base, "instruction": "Find vehicles."})
    assert scores("rerank", {**base, "instruct": "Find vehicles."}) == with_instruction
    assert with_instruction != pytest.approx(expected, abs=1e-9)
    top = post(client_server, "v1/rerank", {**base, "top_k": 2, "return_len": True}).json()
    assert [r["index"] for r in top["results"]] == best_first(expected)[:2]
    assert top["meta"]["tokens"]["input_tokens"] == top["usage"]["total_tokens"]


def test_answers_carry_the_shapes_other_clients_read(client_server, expected):
    answer = post(
        client_server, "v1/rerank", {"query": QUERY, "documents": DOCUMENTS, "return_documents": True}
    )
    body = answer.json()
    # Voyage, Mixedbread and Pinecone clients read `data`; Infinity and OpenAI-style ones prompt_tokens.
    assert [d["index"] for d in body["data"]] == [r["index"] for r in body["results"]]
    assert [d["relevance_score"] for d in body["data"]] == [d["score"] for d in body["data"]]
    assert body["data"][0]["document"] == {"text": DOCUMENTS[body["data"][0]["index"]]}
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    # Cohere v1: a structured document's other fields are preserved in the echo.
    structured = {"text": DOCUMENTS[1], "title": "Cars", "id": 7}
    echoed = post(
        client_server, "v1/rerank", {"query": QUERY, "documents": [structured], "return_documents": True}
    )
    assert echoed.json()["results"][0]["document"] == structured
    # Cohere v1's schema: a document is an object or absent, never null.
    plain = post(client_server, "v1/rerank", {"query": QUERY, "documents": DOCUMENTS}).json()
    assert all("document" not in r for r in plain["results"] + plain["data"])


def test_nim_ranking_routes(client_server, expected):
    image = png_base64(4)
    body = {
        "model": "nvidia/llama-nemoretriever-vl-rerank",
        "query": {"text": QUERY},
        "passages": [{"text": d} for d in DOCUMENTS],
        "truncate": "END",
    }
    for path in ("v1/ranking", "v1/reranking"):
        answer = post(client_server, path, body)
        assert answer.status_code == 200, answer.text
        rankings = answer.json()["rankings"]
        assert [r["index"] for r in rankings] == best_first(expected)
        assert all(set(r) == {"index", "logit"} for r in rankings)
    vl = {
        "query": {"text": QUERY},
        "passages": [{"text": "a red car", "image": f"data:image/png;base64,{image}"}],
    }
    ours = {
        "query": QUERY,
        "documents": [{"text": "a red car", "image": f"data:image/png;base64,{image}"}],
        "use_activation": False,
    }
    assert (
        post(client_server, "v1/reranking", vl).json()["rankings"][0]["logit"]
        == (post(client_server, "v1/rerank", ours).json()["results"][0]["relevance_score"])
    )


def test_each_dialect_answers_errors_in_its_own_body(client_server):
    too_many = ["d"] * 17
    openai = post(client_server, "v1/rerank", {"query": "q", "documents": too_many})
    assert openai.json()["error"] == {
        "message": "17 documents, above the limit of 16",
        "type": "invalid_request",
        "param": "documents",
        "code": 422,
        "field": "documents",
    }
    cohere = post(client_server, "v2/rerank", {"query": "q", "documents": too_many})
    assert cohere.json()["id"] == cohere.headers["x-request-id"]
    assert cohere.json()["message"] == "documents: 17 documents, above the limit of 16"
    tei = post(client_server, "rerank", {"query": "q", "texts": too_many})
    assert tei.json() == {
        "error": "documents: 17 documents, above the limit of 16",
        "error_type": "Validation",
    }
    empty = post(client_server, "rerank", {"query": "q", "texts": []})
    assert empty.status_code == 400 and empty.json() == {
        "error": "texts: give at least one text",
        "error_type": "Empty",
    }
    jina = post(client_server, "rerank", {"query": "q", "documents": too_many})
    assert jina.json()["detail"] == "documents: 17 documents, above the limit of 16"
    dashscope = post(
        client_server, "api/v1/services/rerank/text-rerank/text-rerank", {"input": {"query": "q"}}
    )
    assert dashscope.status_code == 400 and dashscope.json()["code"] == "InvalidParameter"
    assert dashscope.json()["request_id"] == dashscope.headers["x-request-id"]
    mixed = post(client_server, "rerank", {"query": "q", "texts": ["a"], "documents": ["b"]})
    assert mixed.status_code == 422 and mixed.json()["error"].startswith("documents:")
    media = post(
        client_server, "v1/rerank", {"query": "q", "documents": [{"image": "data:image/png;base64,AAAA"}]}
    )
    assert media.status_code == 422 and media.json()["error"]["type"] == "invalid_media"
    for response in (openai, cohere, tei, mixed, media):
        assert response.headers["x-request-id"]
    nokey = httpx.post(client_server.url + "rerank", json={"query": "q", "texts": ["a"]}, timeout=30)
    assert nokey.status_code == 401 and nokey.json()["error"]["type"] == "unauthorized"


@pytest.mark.parametrize(
    "document",
    [
        {"content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]},
        {"content": [{"type": "image_url", "image_url": {"url": "http://127.0.0.1:1/a.png"}}]},
        {"content": [{"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}}]},
        {"content": [{"type": "image_url", "image_url": {"url": "/etc/passwd"}}]},
        {"content": []},
        {"content": [{"type": "audio_url", "audio_url": {"url": "x"}}]},
        {"image": "L2V0Yy9wYXNzd2Q="},
        {"content": [{"type": "video_url", "video_url": {"url": "file:///etc/passwd"}}]},
        {"content": [{"type": "video_url", "video_url": {"url": "/dev/zero"}}]},
        {"content": [{"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}}] * 500},
        {"content": [{"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}}]},
        {"content": [{"type": "text", "text": "x"}], "text": "mixed shapes"},
    ],
)
def test_hostile_content_parts_get_a_4xx_naming_the_field(client_server, document):
    for path, body in [
        ("v1/rerank", {"query": "q", "documents": ["fine", document]}),
        ("rerank", {"query": "q", "documents": ["fine", document]}),
        ("v2/rerank", {"query": "q", "documents": ["fine", document]}),
        ("rerank", {"query": "q", "texts": ["fine", document]}),
        ("score", {"queries": "q", "documents": ["fine", document]}),
    ]:
        response = post(client_server, path, body)
        assert response.status_code == 422, (path, response.text)
        assert "documents[1]" in response.text or "texts[1]" in response.text, (path, response.text)
    assert httpx.get(client_server.url + "health", timeout=5).status_code == 200


def test_api_errors_keep_their_bodies_with_the_ui_mounted(ui_server):
    """The UI is mounted at / by default; the API's space still answers in the API's bodies."""
    unknown = httpx.post(ui_server.url + "v1/no-such-route", json={}, timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found"
    wrong = httpx.get(ui_server.url + "v1/rerank", timeout=30)
    assert wrong.status_code == 405 and wrong.json()["error"]["type"] == "method_not_allowed"
    assert wrong.headers["allow"] == "POST"
    tei_space = httpx.get(ui_server.url + "rerank", timeout=30)
    assert tei_space.status_code == 405 and tei_space.json()["detail"] == "Method Not Allowed"
    dashscope = httpx.get(ui_server.url + "api/v1/services/rerank/text-rerank/text-rerank", timeout=30)
    assert dashscope.status_code == 405 and dashscope.json()["code"] == "MethodNotAllowed"
    assert httpx.get(ui_server.url + "v1/models", timeout=30).status_code == 200
    assert httpx.get(ui_server.url, timeout=30).status_code == 200  # the UI itself


def test_vllm_spellings_of_score_and_multimodal_lists(client_server, expected):
    """vLLM's /v1/score, its data_1/data_2 and queries/items names, and its multimodal list: one
    {"content": [...]} object whose parts are the documents, on /rerank and /score alike."""
    for body in (
        {"data_1": QUERY, "data_2": DOCUMENTS},
        {"queries": QUERY, "items": DOCUMENTS},
        {"text_1": QUERY, "text_2": DOCUMENTS},
    ):
        answer = post(client_server, "v1/score", body)
        assert answer.status_code == 200 and "x-vlrerank-ignored-fields" not in answer.headers, answer.text
        assert by_index(answer.json()["data"], "score") == pytest.approx(expected, abs=1e-6)
    uri = f"data:image/png;base64,{png_base64(6)}"
    parts = {
        "content": [{"type": "text", "text": DOCUMENTS[1]}, {"type": "image_url", "image_url": {"url": uri}}]
    }
    separate = [DOCUMENTS[1], {"image": uri}]
    listed = by_index(post(client_server, "rerank", {"query": QUERY, "documents": parts}).json()["results"])
    one_by_one = by_index(
        post(client_server, "rerank", {"query": QUERY, "documents": separate}).json()["results"]
    )
    scored = by_index(
        post(client_server, "score", {"queries": QUERY, "documents": parts}).json()["data"], "score"
    )
    assert listed == one_by_one == scored and len(listed) == 2
    assert listed[0] == pytest.approx(expected[1], abs=1e-6)


@pytest.mark.parametrize(
    "path",
    [DASHSCOPE, "v1/ranking", "v1/reranking", "v1/score"],
)
def test_hostile_bodies_on_the_peer_routes_get_a_4xx(client_server, path):
    bodies = [
        "not json",
        "[]",
        "null",
        '{"input": {"query": "q", "documents": [{"video": "/etc/passwd"}]}}',
        '{"input": {"query": {"image": "file:///etc/passwd"}, "documents": ["d"]}}',
        '{"input": {"query": "q", "documents": ["d"]}, "parameters": {"top_n": -1}}',
        '{"query": {"text": "q"}, "passages": [{"image": "http://169.254.169.254/x"}]}',
        '{"query": {"text": "q"}, "passages": [{"text": "d"}], "truncate": "MIDDLE"}',
        '{"query": {"text": 5}, "passages": "d"}',
        '{"data_1": "q", "data_2": {"content": [{"type": "video_url", "video_url": "data:video/mp4;base64,AAAA"}]}}',  # noqa: E501
        '{"\\ud800": 1, "input": {"query": "q", "documents": ["d"]}, "query": {"text": "q"}, "passages": [{"text": "d"}], "queries": "q", "documents": ["d"]}',  # noqa: E501
        '{"input": {"query": "q", "documents": ["d"]}, "query": {"text": "q"}, "passages": [], "data_1": "q", "data_2": []}',  # noqa: E501
    ]
    for body in bodies:
        response = httpx.post(
            client_server.url + path,
            content=body,
            headers={**AUTH, "Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code < 500, (path, body, response.text)
    assert httpx.get(client_server.url + "health", timeout=5).status_code == 200
