"""Bounded overload test of the server, loopback only: about twice its capacity for a while.

Checks what the service promises under overload (its limits):
  - every answer is 200, 429 (with Retry-After) or 503, never another error or a hang;
  - the admitted requests (running + waiting) never exceed max_concurrent + max_queue;
  - accepted requests finish well inside the request timeout (p99 reported);
  - /health answers within 100 ms throughout;
  - slow uploads and clients that disconnect mid-request do not keep slots: afterwards the queue
    is empty and a normal request succeeds.

    python benchmarks/load.py --duration 180 --out results/load.json      # starts its own server
    python benchmarks/load.py --url http://127.0.0.1:8000/ --duration 60   # or one that runs

It stops by itself after --duration seconds and sends traffic to loopback addresses only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import ipaddress
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

MAX_CONCURRENT, MAX_QUEUE, TIMEOUT_S = 1, 4, 10.0


def request_body(seed: int) -> dict[str, object]:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (seed % 255, 80, 160)).save(buffer, "PNG")
    image = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {
        "query": f"request {seed}",
        "documents": ["a red car", "a bowl of soup", {"image": image}, "x " * 50],
    }


def start_server() -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "VLRERANK_MAX_CONCURRENT": str(MAX_CONCURRENT), "VLRERANK_MAX_QUEUE": str(MAX_QUEUE),
           "VLRERANK_REQUEST_TIMEOUT_S": str(TIMEOUT_S)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "vlrerank", "serve", "--port", "0", "--no-ui"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"serving .* at (http://\S+/)", line)
        if match:
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
            return process, match.group(1)
    raise RuntimeError("the server did not start")


def loopback_only(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to load-test {host}: loopback addresses only")


async def queue_depth(client: httpx.AsyncClient) -> float:
    text = (await client.get("metrics", timeout=5)).text
    match = re.search(r"^vlrerank_queue_depth (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else float("nan")


async def run(url: str, duration: float) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while (await client.get("ready")).status_code != 200:
            await asyncio.sleep(0.2)
        # Capacity: sequential requests for a few seconds.
        started, done = time.perf_counter(), 0
        while time.perf_counter() - started < 4:
            assert (await client.post("v1/rerank", json=request_body(done))).status_code == 200
            done += 1
        capacity = done / (time.perf_counter() - started)
        bodies = [request_body(i) for i in range(50)]  # made up front: the generator stays light
        rate = 2 * capacity
        statuses: dict[int, int] = {}
        accepted: list[float] = []
        health: list[float] = []
        depths: list[float] = []
        bad_429 = 0
        stop = time.perf_counter() + duration

        async def one(seed: int) -> None:
            nonlocal bad_429
            t0 = time.perf_counter()
            response = await client.post("v1/rerank", json=bodies[seed % len(bodies)], timeout=TIMEOUT_S * 3)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                accepted.append(time.perf_counter() - t0)
            if response.status_code == 429 and "retry-after" not in response.headers:
                bad_429 += 1

        def prober() -> None:
            # Its own thread and connection: the load generator's busy event loop must not be
            # mistaken for a slow server.
            with httpx.Client(base_url=url, timeout=5) as probe:
                while time.perf_counter() < stop:
                    t0 = time.perf_counter()
                    assert probe.get("health").status_code == 200
                    health.append(time.perf_counter() - t0)
                    match = re.search(
                        r"^vlrerank_queue_depth (\S+)$", probe.get("metrics").text, re.MULTILINE
                    )
                    depths.append(float(match.group(1)) if match else float("nan"))
                    time.sleep(0.1)

        async def slow_client() -> None:  # drips its body, then is abandoned mid-request
            async def drip():
                yield b'{"query": "slow", "documents": ["'
                for _ in range(20):
                    await asyncio.sleep(0.1)
                    yield b"x" * 100
                yield b'"]}'

            with contextlib.suppress(httpx.TimeoutException):
                await client.post(
                    "v1/rerank", content=drip(), headers={"Content-Type": "application/json"}, timeout=1.0
                )

        async def disconnecting_client(seed: int) -> None:
            task = asyncio.create_task(client.post("v1/rerank", json=bodies[seed % len(bodies)]))
            await asyncio.sleep(0.05)
            task.cancel()

        probing = threading.Thread(target=prober, daemon=True)
        probing.start()
        tasks: list[asyncio.Task[None]] = []
        seed = 10_000
        while time.perf_counter() < stop:
            seed += 1
            tasks.append(asyncio.create_task(one(seed)))
            if seed % 25 == 0:
                tasks.append(asyncio.create_task(slow_client()))
                tasks.append(asyncio.create_task(disconnecting_client(seed)))
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks, return_exceptions=True)
        probing.join()
        await asyncio.sleep(TIMEOUT_S / 2)  # let abandoned work finish
        final_depth = await queue_depth(client)
        after = (await client.post("v1/rerank", json=request_body(1))).status_code

    accepted.sort()
    return {
        "capacity_rps": capacity,
        "offered_rps": rate,
        "duration_s": duration,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "missing_retry_after": bad_429,
        "accepted_p50_s": statistics.median(accepted) if accepted else None,
        "accepted_p99_s": accepted[int(0.99 * (len(accepted) - 1))] if accepted else None,
        "request_timeout_s": TIMEOUT_S,
        "health_max_ms": max(health) * 1000 if health else None,
        "health_p99_ms": sorted(health)[int(0.99 * (len(health) - 1))] * 1000 if health else None,
        "max_queue_depth": max(depths) if depths else None,
        "queue_bound": MAX_CONCURRENT + MAX_QUEUE,
        "queue_depth_after": final_depth,
        "request_after": after,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running server (default: start one, tiny-random)")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of overload")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    process = None
    url = args.url
    if url is None:
        process, url = start_server()
    loopback_only(url)
    try:
        report = asyncio.run(run(url, args.duration))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
