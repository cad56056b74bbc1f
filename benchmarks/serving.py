"""Serving throughput and latency against offered concurrency, over real HTTP, loopback only.

Each setup starts its own ``vlrerank serve`` (tiny model unless --model), then for each offered
concurrency C runs C clients that send requests back to back for --duration seconds. Reported
per (setup, C): requests/s and pairs/s of the 200s, p50/p99 latency, the statuses seen, and (one
process only) how many engine runs served several requests at once (``/metrics``).

Setups:
  mcN      one process, VLRERANK_MAX_CONCURRENT=N (mc1: one request in the engine at a time)
  default  one process, default settings (the admission default of this device)
  ray1     one Ray Serve replica with --replica-cpus = all cores (Ray's own cost, same cores)
  ray2     two Ray Serve replicas, the cores split between them (threads pinned per replica)

    python benchmarks/serving.py --setups mc1,default --out results/serving_admission.json
    python benchmarks/serving.py --setups default,ray2 --out results/serving_replicas.json

Random weights (tiny-random): the scores mean nothing; only speed is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["red", "car", "soup", "bowl", "river", "city", "night", "market", "paper", "chart", "graph"]


def request_body(seed: int, documents: int) -> dict[str, Any]:
    """A text query, ``documents`` text documents of ~60 words and two small pictures, all
    different per seed (the vision cache never answers)."""
    from PIL import Image

    def picture(k: int) -> str:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 6), ((seed * 7 + k) % 255, (seed * 13) % 255, 90)).resize((320, 240)).save(
            buffer, "PNG"
        )
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

    texts = [" ".join(WORDS[(seed + i + j) % len(WORDS)] for j in range(60)) for i in range(documents - 2)]
    return {
        "query": f"request {seed}: {WORDS[seed % len(WORDS)]}",
        "documents": [*texts, *map(picture, (0, 1))],
    }


def start(setup: str, model: str, cores: int) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "vlrerank", "serve", "--port", "0", "--no-ui", "--model", model]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "VLRERANK_MAX_QUEUE": "32"}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    if re.fullmatch(r"mc\d+", setup):
        env["VLRERANK_MAX_CONCURRENT"] = setup[2:]
    elif setup == "ray1":
        args += ["--replicas", "1", "--replica-cpus", str(cores)]
    elif setup == "ray2":
        args += ["--replicas", "2", "--replica-cpus", str(max(1, cores // 2))]
    elif setup != "default":
        raise SystemExit(f"unknown setup {setup!r}")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"serving .* at (http://\S+/)", line)
        if match:
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
            return process, match.group(1)
    raise RuntimeError(f"the {setup} server did not start")


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(2)  # SIGINT: a Ray setup shuts its local instance down
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


async def merged(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("metrics", timeout=10)).text
    found = re.findall(r"^vlrerank_engine_(\w+)_total (\S+)$", text, re.MULTILINE)
    return {name: float(value) for name, value in found}


async def level(url: str, clients: int, duration: float, documents: int, seed: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        before = await merged(client)
        started = time.perf_counter()
        deadline = started + duration

        async def one(k: int) -> None:
            n = 0
            while time.perf_counter() < deadline:
                body = request_body(seed + 1000 * k + n, documents)
                sent = time.perf_counter()
                response = await client.post("v1/rerank", json=body)
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - sent)
                n += 1

        await asyncio.gather(*(one(k) for k in range(clients)))
        elapsed = time.perf_counter() - started
        after = await merged(client)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {
        "concurrency": clients,
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "pairs_per_s": len(latencies) * documents / elapsed,
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
        "statuses": statuses,
        "merged_runs": after.get("merged_runs", 0) - before.get("merged_runs", 0),
        "runs": after.get("runs", 0) - before.get("runs", 0),
    }


async def measure(url: str, concurrency: list[int], duration: float, documents: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        while (await client.get("ready")).status_code != 200:
            await asyncio.sleep(0.3)
        for seed in range(4):  # warm every path (and both replicas) before timing
            await asyncio.gather(
                *(client.post("v1/rerank", json=request_body(seed * 10 + k, documents)) for k in range(4))
            )
    rows = []
    for i, clients in enumerate(concurrency):
        rows.append(await level(url, clients, duration, documents, seed=100_000 * (i + 1)))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setups", default="mc1,default", help="comma-separated: mcN, default, ray1, ray2")
    parser.add_argument("--concurrency", default="1,2,4,8", help="offered concurrency levels")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per level")
    parser.add_argument("--documents", type=int, default=8, help="documents per request (2 are pictures)")
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    concurrency = [int(c) for c in args.concurrency.split(",")]
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {cores} cores, {platform.processor() or platform.platform()}",
        "model": args.model,
        "duration_s": args.duration,
        "documents": args.documents,
        "setups": {},
    }
    for setup in args.setups.split(","):
        process, url = start(setup, args.model, cores)
        try:
            print(f"== {setup} at {url}", flush=True)
            report["setups"][setup] = asyncio.run(measure(url, concurrency, args.duration, args.documents))
        finally:
            stop(process)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    for setup, rows in report["setups"].items():
        base = rows[0]["requests_per_s"]
        for row in rows:
            print(f"{setup:8} C={row['concurrency']}: {row['requests_per_s']:6.2f} req/s "
                  f"({row['requests_per_s'] / base:4.2f}x C=1)  p50 {row['p50_ms']:7.1f} ms  "
                  f"p99 {row['p99_ms']:7.1f} ms  merged runs {row['merged_runs']:.0f}/{row['runs']:.0f}  "
                  f"{row['statuses']}")  # fmt: skip


if __name__ == "__main__":
    main()
