"""vlrerank.client over real HTTP: the same results as the local Reranker for images (paths, PIL,
bytes) and video (frames and files), typed errors, and retries that honour Retry-After."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from vlrerank.client import AsyncClient, Client
from vlrerank.errors import InputError, ServerError
from vlrerank.inputs.video import decode_video_file
from vlrerank.ranking import RankedResults

from ..conftest import noise_image, write_video
from .conftest import KEY

pytestmark = pytest.mark.slow


def assert_same(remote: RankedResults, local: RankedResults) -> None:
    assert [r.index for r in remote] == [r.index for r in local]
    for a, b in zip(remote, local, strict=True):
        assert a.score == pytest.approx(b.score, abs=1e-5)
        assert a.logit == pytest.approx(b.logit, abs=1e-4)
        assert a.num_tokens == b.num_tokens
        assert [(i.model_width, i.model_height, i.visual_tokens) for i in a.images] == [
            (i.model_width, i.model_height, i.visual_tokens) for i in b.images
        ]


def test_images_from_paths_pil_and_bytes_rank_as_locally(client_server, reranker, images):
    query = {"text": "noise", "image": images["small"]}
    documents = [
        {"image": images["jpeg_path"]},
        {"text": "bytes", "image": images["png_bytes"]},
        images["wide"],
        "a bowl of soup",
        {"image": [images["square"], images["png_alpha_path"]]},
    ]
    with Client(client_server.url, api_key=KEY) as client:
        remote = client.rank(query, documents, "Find the matching picture.", top_n=4)
    assert_same(remote, reranker.rank(query, documents, "Find the matching picture.", top_n=4))
    assert remote.random_weights and remote.pairs == 5
    assert all(r.document is documents[r.index] for r in remote)  # the caller's own objects


def test_explanations_and_penalised_scores_come_back_as_locally(client_server, reranker, images):
    from vlrerank import QualityPolicy

    documents = [{"text": "a caption", "image": images["small"]}, "a bowl of soup"]
    options = {"explain": True, "quality": QualityPolicy(mode="penalize")}
    with Client(client_server.url, api_key=KEY) as client:
        remote = client.rank("noise", documents, **options)
    local = reranker.rank("noise", documents, **options)
    assert_same(remote, local)
    for a, b in zip(remote, local, strict=True):
        assert a.penalized_score == pytest.approx(b.penalized_score, abs=1e-5)
        assert a.explanation is not None and b.explanation is not None
        for name in ("visual_match", "text_alignment", "cross_modal_consistency"):
            got, want = getattr(a.explanation, name), getattr(b.explanation, name)
            assert (got.reason, got.split) == (want.reason, want.split)
            assert (got.value is None) == (want.value is None)
            assert got.value == pytest.approx(want.value, abs=1e-5)
    assert remote.pairs == local.pairs


def test_video_frames_and_files_rank_as_locally(client_server, reranker, tmp_path):
    frames = [noise_image(64, 48, 20 + i) for i in range(4)]
    video_file = str(write_video(tmp_path / "clip.mp4", frames=8))
    documents = [{"video": frames}, {"video": video_file, "text": "a clip"}, "soup"]
    with Client(client_server.url, api_key=KEY) as client:
        remote = client.rank("a clip", documents, fps=2.0, max_frames=4)
    # A video file is sampled on the client, by the engine's rule, and travels as those frames.
    decoded = decode_video_file(video_file, fps=2.0, max_frames=4, field="video")
    sampled = [Image.fromarray(f.permute(1, 2, 0).numpy()) for f in decoded.frames]
    as_frames = [documents[0], {"video": sampled, "text": "a clip"}, "soup"]
    assert_same(remote, reranker.rank("a clip", as_frames))


def test_async_client_answers_concurrent_calls(client_server, reranker, images):
    documents = [images["small"], "text", {"image": images["png_bytes"]}]

    async def both() -> list[RankedResults]:
        async with AsyncClient(client_server.url, api_key=KEY) as client:
            return list(await asyncio.gather(client.rank("q", documents), client.rank("other", documents)))

    first, second = asyncio.run(both())
    assert_same(first, reranker.rank("q", documents))
    assert_same(second, reranker.rank("other", documents))


def test_errors_are_ours(client_server, images):
    with Client(client_server.url, api_key=KEY) as client:
        with pytest.raises(InputError, match="no such image file") as local:
            client.rank("q", [{"image": "/no/such/file.png"}])
        assert local.value.field == "documents[0].image[0]"
        with pytest.raises(InputError, match="names an image"):
            client.rank("q", [images["jpeg_path"]])  # as locally: a bare file name is not silently text
        with pytest.raises(InputError) as remote:
            client.rank("q", ["d"] * 17)
        assert remote.value.field == "documents"
        with pytest.raises(TypeError, match="aggregation"):  # a local-only option is not dropped silently
            client.rank("q", ["d"], aggregation="mean_top_k")  # type: ignore[call-arg]
    with Client(client_server.url, api_key="wrong") as client, pytest.raises(ServerError) as refused:
        client.rank("q", ["d"])
    assert refused.value.status == 401 and refused.value.error_type == "unauthorized"


@pytest.fixture
def busy_proxy(client_server) -> Iterator[tuple[str, list[float]]]:
    """A real HTTP hop in front of the server that answers 429 with Retry-After: 1 twice, then
    forwards; it records when each request arrived."""
    arrivals: list[float] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrivals.append(time.monotonic())
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if len(arrivals) <= 2:
                self.send_response(429)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = {"Authorization": self.headers["Authorization"], "Content-Type": "application/json"}
            answer = httpx.post(
                client_server.url + self.path.lstrip("/"), content=body, headers=headers, timeout=60
            )
            self.send_response(answer.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", arrivals
    server.shutdown()


def test_retries_on_429_honour_retry_after(busy_proxy, reranker):
    url, arrivals = busy_proxy
    with Client(url, api_key=KEY) as client:
        ranked = client.rank("q", ["a", "b"])
    assert len(arrivals) == 3
    assert arrivals[1] - arrivals[0] >= 0.95 and arrivals[2] - arrivals[1] >= 0.95
    assert_same(ranked, reranker.rank("q", ["a", "b"]))
    arrivals.clear()
    with Client(url, api_key=KEY, max_retries=1) as client, pytest.raises(ServerError) as busy:
        client.rank("q", ["a"])
    assert busy.value.status == 429
