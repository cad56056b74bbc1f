"""``vlrerank serve --replicas 2`` on a local Ray instance, tiny checkpoint, CPU: the same scores as
one process, a bounded overload, a replica killed mid-load, the in-cluster handle."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from ..conftest import noise_image
from ..servers import Server, start_server

pytest.importorskip("ray.serve")
pytestmark = pytest.mark.slow

MAX_CONCURRENT, MAX_QUEUE, TIMEOUT_S = 2, 2, 30


@pytest.fixture(scope="module")
def ray_tmp() -> Iterator[Path]:
    """The local Ray instance's own directory, where its logs are: short, because Ray puts unix
    sockets under it (at most 107 bytes a path)."""
    path = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def replicas(tiny_dir: Path, ray_tmp: Path) -> Iterator[Server]:
    env = {
        "VLRERANK_MAX_CONCURRENT": str(MAX_CONCURRENT),
        "VLRERANK_MAX_QUEUE": str(MAX_QUEUE),
        "VLRERANK_REQUEST_TIMEOUT_S": str(TIMEOUT_S),
        "RAY_TMPDIR": str(ray_tmp),
    }
    server = start_server(["--model", str(tiny_dir), "--no-ui", "--replicas", "2"], env, timeout_s=300)
    yield server
    server.process.send_signal(signal.SIGINT)  # the CLI shuts its local Ray instance down
    try:
        server.process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        server.process.kill()


def replica_states(server: Server) -> dict[str, int]:
    """Replicas by state, as /ready reports them (answered by the gateway, never queued)."""
    return httpx.get(server.url + "ready", timeout=10).json()["replicas"]


def replica_pids(server: Server) -> list[int]:
    """The replicas' worker processes: descendants of the CLI process, named by Ray."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                names[int(entry.name)] = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
            except (OSError, IndexError, ValueError):
                continue

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == server.process.pid:
                return True
        return False

    return [p for p, name in names.items() if "ServeReplica:vlrerank:RerankReplica" in name and descends(p)]


def data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def slow_body() -> dict[str, object]:
    pictures = [noise_image(32, 24, i).resize((1024, 768)) for i in range(6)]
    return {"query": "q", "documents": [{"image": data_uri(p)} for p in pictures] + ["text"]}


def test_two_replicas_score_exactly_as_one_process(replicas, reranker):
    assert replica_states(replicas) == {"RUNNING": 2}
    for k in range(4):
        documents = [f"document {k}.{j} about a red car" for j in range(5)]
        body = httpx.post(
            replicas.url + "v1/rerank", json={"query": f"query {k}", "documents": documents}, timeout=60
        ).json()
        expected = reranker.rank({"text": f"query {k}"}, [{"text": d} for d in documents])
        assert [(r["index"], r["relevance_score"]) for r in body["results"]] == [
            (r.index, r.score) for r in expected.results
        ]
    traced = httpx.get(replicas.url + "v1/models", headers={"X-Request-ID": "trace-7"}, timeout=30)
    assert traced.headers.get_list("x-request-id") == ["trace-7"] and traced.headers["x-vlrerank-replica"]
    seen = set()  # /metrics answers from one replica per scrape; both serve the app
    for _ in range(40):
        text = httpx.get(replicas.url + "metrics", timeout=10).text
        seen |= {
            line.split('"')[1] for line in text.splitlines() if line.startswith("vlrerank_replica_info{")
        }
        if len(seen) == 2:
            break
    assert len(seen) == 2


def serve_logs(ray_tmp: Path) -> dict[str, str]:
    """Every Serve component's log (gateway, replicas, proxy, controller) and the workers' stderr,
    by file name."""
    (session,) = (ray_tmp / "ray").glob("session_2*")
    files = [*(session / "logs" / "serve").glob("*.log"), *(session / "logs").glob("worker-*.err")]
    return {path.name: path.read_text(errors="replace") for path in files}


def test_requests_through_the_replicas_log_no_errors(replicas, ray_tmp):
    """Ray Serve writes its access log with its own ``request_id`` field; vlrerank's request ids
    in log records must never collide with it (a KeyError, logged as a failed request)."""
    answered_by = set()
    for k in range(12):
        response = httpx.post(
            replicas.url + "v1/rerank", json={"query": f"q{k}", "documents": ["a", "b"]},
            headers={"X-Request-ID": f"quiet-{k}"}, timeout=60,
        )  # fmt: skip
        assert response.status_code == 200
        answered_by.add(response.headers["x-vlrerank-replica"])
        assert httpx.get(replicas.url + "v1/models", timeout=30).status_code == 200
        if len(answered_by) == 2 and k >= 3:
            break
    assert len(answered_by) == 2
    time.sleep(2)  # Ray's log handlers write from a buffer
    logs = serve_logs(ray_tmp)
    gateway = [name for name in logs if name.startswith("replica_vlrerank_Gateway_")]
    models = [name for name in logs if name.startswith("replica_vlrerank_RerankReplica_")]
    assert gateway and len(models) >= 2, sorted(logs)
    for name, text in logs.items():
        bad = [line for line in text.splitlines() if re.search(r"\bERROR\b|Traceback", line)]
        assert not bad, (name, bad[:5], text[-3000:])
    # Each request's access lines were written (the record was made), under the client's X-Request-ID.
    assert sum(bool(re.search(r" quiet-\d+ .*serve_http", logs[name])) for name in models) >= 2, [
        logs[name][-2000:] for name in models
    ]
    assert re.search(r" quiet-0 .*POST", logs[gateway[0]]), logs[gateway[0]][-2000:]


HANDLE_CALLER = """
import json, logging, sys
import ray
from vlrerank.server.replicas import rerank_handle
ray.init(address=sys.argv[1], logging_level=logging.WARNING)
handle = rerank_handle()
ranked = handle.rank.remote({"text": "a query"}, [{"text": "one"}, {"text": "two"}]).result(timeout_s=60)
info = handle.info.remote().result(timeout_s=60)
print(json.dumps({"scores": [[r.index, r.score] for r in ranked.results], "info": info}))
"""


def test_in_cluster_callers_use_the_deployment_handle(replicas, reranker):
    address = httpx.get(replicas.url + "replicas", timeout=10).json()["ray_address"]
    # A separate driver process joins the cluster, as a pipeline would; the local instance made an
    # auth token (~/.ray), which RAY_AUTH_MODE=token makes the driver send.
    run = subprocess.run(
        [sys.executable, "-c", HANDLE_CALLER, address], capture_output=True, text=True, timeout=240,
        env={**os.environ, "RAY_AUTH_MODE": "token"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    expected = reranker.rank({"text": "a query"}, [{"text": "one"}, {"text": "two"}])
    assert [tuple(pair) for pair in answer["scores"]] == [(r.index, r.score) for r in expected.results]
    info = answer["info"]
    assert info["ready"] and info["max_concurrent"] == MAX_CONCURRENT and info["replica"]


def test_overload_at_twice_the_capacity_answers_only_200_429_503(replicas):
    capacity = 2 * (MAX_CONCURRENT + MAX_QUEUE)
    body = slow_body()
    answers: list[tuple[int, str | None, float]] = []

    def client() -> None:
        for _ in range(2):
            started = time.monotonic()
            response = httpx.post(replicas.url + "v1/rerank", json=body, timeout=TIMEOUT_S + 30)
            answers.append(
                (response.status_code, response.headers.get("retry-after"), time.monotonic() - started)
            )

    threads = [threading.Thread(target=client) for _ in range(2 * capacity)]
    for thread in threads:
        thread.start()
    health = httpx.get(replicas.url + "health", timeout=10)
    for thread in threads:
        thread.join()
    statuses = {status for status, _, _ in answers}
    assert statuses <= {200, 429, 503} and 200 in statuses and statuses & {429, 503}, answers
    assert all(retry for status, retry, _ in answers if status != 200)
    assert max(seconds for _, _, seconds in answers) < TIMEOUT_S + 15
    assert health.status_code == 200


def test_a_killed_replica_is_replaced_and_no_request_hangs(replicas):
    pids = replica_pids(replicas)
    assert len(pids) == 2
    body = slow_body()
    answers: list[tuple[int, float]] = []

    def client() -> None:
        started = time.monotonic()
        response = httpx.post(replicas.url + "v1/rerank", json=body, timeout=TIMEOUT_S + 30)
        answers.append((response.status_code, time.monotonic() - started))

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # the requests are in the replicas now
    os.kill(pids[0], signal.SIGKILL)
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} <= {200, 503}, answers
    assert max(seconds for _, seconds in answers) < TIMEOUT_S + 15
    # The service keeps answering (a client that retries a 503 gets its scores) ...
    for _ in range(20):
        retried = httpx.post(replicas.url + "v1/rerank", json={"query": "q", "documents": ["d"]}, timeout=60)
        if retried.status_code == 200:
            break
        assert retried.status_code == 503 and retried.headers["retry-after"]
        time.sleep(0.5)
    assert retried.status_code == 200

    # ... and Ray starts a new replica in place of the dead one.
    def recovered() -> bool:
        now = replica_pids(replicas)
        return pids[0] not in now and len(now) == 2 and replica_states(replicas) == {"RUNNING": 2}

    deadline = time.monotonic() + 180
    while not recovered() and time.monotonic() < deadline:
        time.sleep(1)
    assert recovered(), (replica_pids(replicas), replica_states(replicas))
    assert (
        httpx.post(
            replicas.url + "v1/rerank", json={"query": "q", "documents": ["d"]}, timeout=60
        ).status_code
        == 200
    )
