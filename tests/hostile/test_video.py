"""Video under the same budgets as images, checked before decoding, and admitted before any work.

Issue 23: a 50 KB video of 4096² frames grew the server by gigabytes (full-size frames were decoded
before any pixel check), and a 100,000-frame video was decoded before admission: 200s long past the
deadline, 429s only after ~50 s of decoding, a text request stuck behind them.
"""

from __future__ import annotations

import base64
import io
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from vlrerank.errors import DeadlineExceeded, VideoLoadError
from vlrerank.inputs.video import DecodeBudget, decode_video_file

from ..servers import start_server, stop
from .test_http import AUTH, rss_mb

pytestmark = pytest.mark.slow


def blank_video(frames: int, size: tuple[int, int], rate: int = 4) -> bytes:
    """An H.264 video of ``frames`` black frames: tiny on disk, whatever its frame size."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "51"})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame(size[0], size[1], "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for i in range(frames):
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def video_uri(data: bytes) -> str:
    return "data:video/mp4;base64," + base64.b64encode(data).decode()


def video_request(data: bytes) -> dict:
    part = {"type": "video_url", "video_url": {"url": video_uri(data)}}
    return {"query": "q", "documents": [{"content": [part]}, "text"]}


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@pytest.fixture(scope="module")
def large_frames() -> bytes:
    data = blank_video(8, (4096, 4096))
    assert len(data) <= 50 * 1024
    return data


def test_small_video_of_huge_frames_is_scored_in_bounded_memory(api_server, large_frames):
    pid = api_server.process.pid
    httpx.post(
        api_server.url + "v1/rerank", json={"query": "q", "documents": ["warm"]}, headers=AUTH, timeout=60
    )
    before = max(rss_mb(pid), peak_mb(pid))
    response = httpx.post(
        api_server.url + "v1/rerank", json=video_request(large_frames), headers=AUTH, timeout=120
    )
    assert response.status_code == 200, response.text[:300]
    frames = response.json()["results"]
    assert any(r["images"] for r in frames)
    # Decoded at 2 × the model's frame bound instead of 4096²: the old path peaked 3.3 GB higher.
    assert peak_mb(pid) - before < 600
    assert httpx.get(api_server.url + "ready", timeout=5).status_code == 200


def test_header_checks_come_before_decoding(tmp_path, large_frames):
    path = tmp_path / "big.mp4"
    path.write_bytes(large_frames)
    with pytest.raises(VideoLoadError, match="above the pixel limit"):
        decode_video_file(str(path), fps=1, max_frames=8, field="v", max_frame_pixels=4096 * 4095)
    with pytest.raises(VideoLoadError, match="budget"):
        decode_video_file(str(path), fps=1, max_frames=8, field="v", budget=DecodeBudget(max_pixels=1000))
    with pytest.raises(DeadlineExceeded):
        decode_video_file(str(path), fps=1, max_frames=8, field="v", budget=DecodeBudget(deadline=0.0))
    decoded = decode_video_file(str(path), fps=1, max_frames=8, field="v", frame_pixels=256 * 256)
    assert decoded.frames.shape[-1] * decoded.frames.shape[-2] <= 256 * 256
    assert decoded.frames.shape[-1] == decoded.frames.shape[-2]  # the aspect ratio is kept


def test_video_errors_never_show_server_paths(api_server):
    broken = blank_video(8, (64, 64))[:-300]
    response = httpx.post(api_server.url + "v1/rerank", json=video_request(broken), headers=AUTH, timeout=60)
    assert response.status_code == 422, response.text[:300]
    assert "/tmp" not in response.text and ".video" not in response.text


@pytest.fixture(scope="module")
def tight_server(tiny_dir):
    env = {
        "VLRERANK_MAX_CONCURRENT": "1",
        "VLRERANK_MAX_QUEUE": "0",
        "VLRERANK_REQUEST_TIMEOUT_S": "2",
        "VLRERANK_MAX_BODY_BYTES": "8000000",
    }
    server = start_server(["--model", str(tiny_dir), "--no-ui"], env)
    yield server
    stop(server)


def test_admission_and_the_deadline_come_before_decoding(tight_server):
    long = blank_video(100_000, (64, 64), rate=25)  # 67 minutes: every frame is decoded to sample 64
    body = video_request(long)

    def send(payload: dict) -> tuple[int, float]:
        start = time.monotonic()
        response = httpx.post(tight_server.url + "v1/rerank", json=payload, timeout=120)
        return response.status_code, time.monotonic() - start

    with ThreadPoolExecutor(8) as pool:
        videos = [pool.submit(send, body) for _ in range(7)]
        time.sleep(0.5)
        text = pool.submit(send, {"query": "q", "documents": ["d"]}).result()
        answers = [v.result() for v in videos]
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(429) >= 6 and set(statuses) <= {200, 429, 504}, answers
    for status, seconds in answers:
        if status == 429:
            assert seconds < 1.5, answers  # refused before decoding anything
        else:
            assert seconds < 2 + 1.5, answers  # never a 200 (or anything) long after the deadline
    assert text[0] in (200, 429) and text[1] < 2 + 1.5, text
    assert httpx.get(tight_server.url + "ready", timeout=5).status_code == 200
