"""The REST API over real HTTP: scores equal the engine's, every limit answers with its status."""

from __future__ import annotations

import base64
import io
import threading
import time

import httpx
import pytest
from PIL import Image

from ..conftest import noise_image

pytestmark = pytest.mark.slow
AUTH = {"Authorization": "Bearer test-key"}


def data_uri(image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


def post(server, body, **kwargs) -> httpx.Response:
    return httpx.post(
        server.url + "v1/rerank", json=body, headers=kwargs.pop("headers", AUTH), timeout=60, **kwargs
    )


def assert_alive(server) -> None:
    assert httpx.get(server.url + "health", timeout=5).status_code == 200


def test_multimodal_request_equals_the_engine(api_server, reranker):
    images = [noise_image(80, 60, 1), noise_image(64, 64, 2)]
    documents = [
        "a red car",
        {"text": "photo", "image": data_uri(images[0])},
        {"image": data_uri(images[1])},
        "soup",
    ]
    response = post(api_server, {"query": "a red car", "documents": documents, "return_documents": True})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = reranker.score(
        "a red car", ["a red car", {"text": "photo", "image": images[0]}, {"image": images[1]}, "soup"]
    )
    results = body["results"]
    assert [r["relevance_score"] for r in results] == sorted(
        (r["relevance_score"] for r in results), reverse=True
    )
    assert sorted(r["index"] for r in results) == [0, 1, 2, 3]
    for r in results:
        assert r["relevance_score"] == pytest.approx(expected[r["index"]], abs=1e-5)
    assert results[[r["index"] for r in results].index(0)]["document"] == {"text": "a red car"}
    assert body["usage"]["pairs"] == 4 and body["usage"]["images"] == 2 and body["usage"]["total_tokens"] > 0
    assert "RANDOM" in body["warning"]


def test_top_n_and_return_documents(api_server):
    body = post(api_server, {"query": "q", "documents": ["a", "b", "c"], "top_n": 2}).json()
    assert len(body["results"]) == 2 and all("document" not in r for r in body["results"])


def test_explain_preprocess_and_quality(api_server):
    sharp = data_uri(noise_image(320, 240, 3))
    body = post(
        api_server,
        {
            "query": "q",
            "documents": [{"text": "caption", "image": sharp}],
            "preprocess": {"preset": "art", "mode": "fit"},
            "quality": {"policy": "penalize", "threshold": 0.5},
            "explain": True,
        },
    ).json()
    (result,) = body["results"]
    assert result["images"][0]["output_width"] == 800 and result["images"][0]["steps"][-1]["name"] == "fit"
    assert result["sub_scores"]["cross_modal_consistency"]["value"] is not None
    assert result["penalized_score"] is not None


def test_multipart_upload(api_server, tmp_path):
    import json

    files = [
        ("files", ("a.png", base64.b64decode(data_uri(noise_image(50, 40, 5)).split(",")[1]), "image/png"))
    ]
    request = {"query": "q", "documents": [{"image": "upload:a.png"}, "text"]}
    response = httpx.post(
        api_server.url + "v1/rerank/upload",
        data={"request": json.dumps(request)},
        files=files,
        headers=AUTH,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert sorted(r["index"] for r in response.json()["results"]) == [0, 1]
    missing = httpx.post(
        api_server.url + "v1/rerank/upload",
        data={"request": json.dumps({"query": "q", "documents": [{"image": "upload:b.png"}]})},
        files=files, headers=AUTH, timeout=60,
    )  # fmt: skip
    assert (
        missing.status_code == 422 and "no uploaded file named 'b.png'" in missing.json()["error"]["message"]
    )
    too_many = [("files", (f"{i}.png", b"x", "image/png")) for i in range(5)]
    response = httpx.post(
        api_server.url + "v1/rerank/upload", data={"request": "{}"}, files=too_many, headers=AUTH, timeout=60
    )
    assert response.status_code == 400 and "Too many files" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        ({"query": "q", "documents": ["d"] * 9}, 422, "documents", "above the limit of 8"),
        ({"query": "q", "documents": ["x" * 2001]}, 422, "documents[0]", "longer than 2000"),
        (
            {"query": "q", "documents": [{"image": "/etc/passwd"}]},
            422,
            "documents[0].image[0]",
            "never accepted",
        ),
        (
            {"query": "q", "documents": [{"image": "http://example.com/a.png"}]},
            422,
            "documents[0].image[0]",
            "disabled",
        ),
        ({"query": "q", "documents": [{"imag": "x"}]}, 422, "documents[0].imag", "Extra inputs"),
        (
            {"query": "q", "documents": [{"image": "data:image/png;base64,AAAA"}]},
            422,
            "documents[0].image",
            "not a recognised",
        ),
        ({"query": "q", "documents": ["d"], "top_n": -1}, 422, "top_n", "greater than or equal to 0"),
    ],
)
def test_bad_requests_get_4xx_json_naming_the_field(api_server, body, status, field, message):
    response = post(api_server, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field and message in error["message"]
    assert_alive(api_server)


def test_api_key_is_required(api_server):
    assert post(api_server, {"query": "q", "documents": ["d"]}, headers={}).status_code == 401
    wrong = post(api_server, {"query": "q", "documents": ["d"]}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert httpx.get(api_server.url + "health").status_code == 200  # operations stay open


def test_body_limit_with_and_without_content_length(api_server):
    big = {"query": "q", "documents": [{"image": "data:image/png;base64," + "A" * 2_500_000}]}
    response = post(api_server, big)
    assert response.status_code == 413 and response.json()["error"]["type"] == "payload_too_large"

    def chunks():
        yield b'{"query": "q", "documents": ["'
        for _ in range(50):
            yield b"x" * 50_000
        yield b'"]}'

    chunked = httpx.post(
        api_server.url + "v1/rerank",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=60,
    )
    assert chunked.status_code == 413
    assert_alive(api_server)


def test_full_queue_answers_429_with_retry_after(api_server):
    # Eight 2048x1536 pictures (smooth, so the JPEGs stay small): a few seconds of work on CPU.
    pictures = [noise_image(32, 24, i).resize((2048, 1536)) for i in range(8)]
    slow = {"query": "q", "documents": [{"image": data_uri(p, "JPEG")} for p in pictures]}
    first: dict[str, httpx.Response] = {}
    worker = threading.Thread(target=lambda: first.setdefault("r", post(api_server, slow)))
    worker.start()
    time.sleep(0.5)  # the first request is now being scored (max_concurrent 1, max_queue 0)
    second = post(api_server, {"query": "q", "documents": ["d"]})
    worker.join()
    assert first["r"].status_code == 200
    assert second.status_code == 429 and second.headers["retry-after"] == "1"
    assert post(api_server, {"query": "q", "documents": ["d"]}).status_code == 200  # and it recovers


def test_operations_endpoints(api_server):
    assert httpx.get(api_server.url + "ready").json()["status"] == "ready"
    models = httpx.get(api_server.url + "v1/models", headers=AUTH).json()
    assert models["data"][0]["ready"] is True and models["data"][0]["random_weights"] is True
    assert httpx.get(api_server.url + "metrics").status_code == 401  # keys set: closed unless public
    metrics = httpx.get(api_server.url + "metrics", headers=AUTH).text
    for name in ("vlrerank_requests_total", "vlrerank_request_seconds_bucket", "vlrerank_pairs_scored_total",
                 "vlrerank_queue_depth", "vlrerank_errors_total"):  # fmt: skip
        assert name in metrics
    assert httpx.get(api_server.url + "openapi.json", headers=AUTH).json()["paths"]["/v1/rerank"]["post"]
    assert httpx.get(api_server.url + "docs", headers=AUTH).status_code == 200


def test_image_pixel_limit(api_server):
    huge = Image.new("L", (8000, 8000))  # 64 MP, above the 50 MP default, yet a tiny PNG
    response = post(api_server, {"query": "q", "documents": ["ok", {"image": data_uri(huge)}]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "documents[1].image" and "pixel limit" in error["message"]
    assert_alive(api_server)


def test_invalid_preprocess_and_broken_json_are_named(api_server):
    response = post(api_server, {"query": "q", "documents": ["d"], "preprocess": {"mode": "fit"}})
    assert response.status_code == 422
    assert (
        response.json()["error"]["field"] == "preprocess"
        and "needs a target" in response.json()["error"]["message"]
    )
    broken = httpx.post(
        api_server.url + "v1/rerank",
        content=b"{not json",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and "JSON" in broken.json()["error"]["message"]


def test_a_bare_upload_string_uses_the_file_and_a_server_path_stays_text(api_server, images):
    import json

    png = base64.b64decode(data_uri(noise_image(50, 40, 5)).split(",")[1])
    files = [("files", ("a.png", png, "image/png"))]

    def upload(documents):
        body = {"query": "q", "documents": documents}
        return httpx.post(api_server.url + "v1/rerank/upload", data={"request": json.dumps(body)},
                          files=files, headers=AUTH, timeout=60)  # fmt: skip

    bare, explicit = upload(["upload:a.png"]), upload([{"image": "upload:a.png"}])
    assert bare.status_code == 200, bare.text
    assert bare.json()["results"][0]["relevance_score"] == explicit.json()["results"][0]["relevance_score"]
    assert bare.json()["usage"]["images"] == 1
    missing = upload(["upload:b.png"])
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "documents[0]"
    assert "no uploaded file named 'b.png'" in missing.json()["error"]["message"]
    in_json = post(api_server, {"query": "q", "documents": ["upload:a.png"]})
    assert in_json.status_code == 422 and "/v1/rerank/upload" in in_json.json()["error"]["message"]
    # A string naming a file on the server is text: the server never says which of its files exist.
    server_file = post(api_server, {"query": "q", "documents": [images["jpeg_path"]]})
    assert server_file.status_code == 200 and server_file.json()["usage"]["images"] == 0
