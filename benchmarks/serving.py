"""Serving throughput and latency against offered concurrency, over real HTTP, loopback only.

Each setup starts its own ``vlrerank serve`` (tiny model unless --model); all run at once, idle
but for the one measured. For each offered concurrency C, C clients send requests back to back
for a window of --duration seconds; windows interleave over setups and repeat --rounds times, so
the load of a shared machine falls on every setup alike. Reported per (setup, C): the median
requests/s and pairs/s of the 200s, p50/p99 latency, the statuses seen, and (one process only)
how many engine runs served several requests at once (``/metrics``).

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
    """``clients`` clients back to back for ``duration`` s: latencies of the 200s, statuses, counters."""
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
    return {
        "elapsed_s": elapsed,
        "latencies": latencies,
        "statuses": statuses,
        "merged_runs": after.get("merged_runs", 0) - before.get("merged_runs", 0),
        "runs": after.get("runs", 0) - before.get("runs", 0),
    }


def summary(clients: int, windows: list[dict[str, Any]], documents: int, ray: bool) -> dict[str, Any]:
    """Throughput: the median over the windows (the machine's load drifts); latency: all pooled."""
    latencies = [x for window in windows for x in window["latencies"]]
    rates = [len(w["latencies"]) / w["elapsed_s"] for w in windows]
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    statuses: dict[str, int] = {}
    for window in windows:
        for status, n in window["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    return {
        "concurrency": clients,
        "requests": len(latencies),
        "requests_per_s": statistics.median(rates),
        "requests_per_s_windows": rates,
        "pairs_per_s": statistics.median(rates) * documents,
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
        "statuses": statuses,
        # One process only: behind Ray each scrape of /metrics reads whichever replica answers.
        "merged_runs": None if ray else sum(w["merged_runs"] for w in windows),
        "runs": None if ray else sum(w["runs"] for w in windows),
    }


async def warm(url: str, documents: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        while (await client.get("ready")).status_code != 200:
            await asyncio.sleep(0.3)
        for seed in range(4):  # every path (and both replicas) before timing
            bodies = [request_body(seed * 10 + k, documents) for k in range(4)]
            await asyncio.gather(*(client.post("v1/rerank", json=body) for body in bodies))


async def measure(
    urls: dict[str, str], concurrency: list[int], duration: float, documents: int, rounds: int
) -> dict[str, list[dict[str, Any]]]:
    """Every setup's server runs at once; the windows interleave (round, level, setup), so a
    change in the shared machine's load falls on all setups alike."""
    for url in urls.values():
        await warm(url, documents)
    windows: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in range(rounds):
        for i, clients in enumerate(concurrency):
            for setup, url in urls.items():
                seed = 1_000_000 * (r + 1) + 100_000 * (i + 1)
                windows.setdefault((setup, clients), []).append(
                    await level(url, clients, duration, documents, seed)
                )
                print(f"{setup} C={clients} round {r + 1}: {len(windows[setup, clients][-1]['latencies'])} "
                      "requests", flush=True)  # fmt: skip
    return {
        setup: [summary(c, windows[setup, c], documents, setup.startswith("ray")) for c in concurrency]
        for setup in urls
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setups", default="mc1,default", help="comma-separated: mcN, default, ray1, ray2")
    parser.add_argument("--concurrency", default="1,2,4,8", help="offered concurrency levels")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=2, help="windows per (setup, level), interleaved")
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
        "window_s": args.duration,
        "rounds": args.rounds,
        "documents": args.documents,
        "setups": {},
    }
    servers = {}
    try:
        for setup in args.setups.split(","):
            servers[setup] = start(setup, args.model, cores)
            print(f"== {setup} at {servers[setup][1]}", flush=True)
        urls = {setup: url for setup, (_, url) in servers.items()}
        report["setups"] = asyncio.run(measure(urls, concurrency, args.duration, args.documents, args.rounds))
    finally:
        for process, _ in servers.values():
            stop(process)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    for setup, rows in report["setups"].items():
        base = rows[0]["requests_per_s"]
        for row in rows:
            print(f"{setup:8} C={row['concurrency']}: {row['requests_per_s']:6.2f} req/s "
                  f"({row['requests_per_s'] / base:4.2f}x C=1)  p50 {row['p50_ms']:7.1f} ms  "
                  f"p99 {row['p99_ms']:7.1f} ms  merged runs {row['merged_runs']}/{row['runs']}  "
                  f"{row['statuses']}")  # fmt: skip


if __name__ == "__main__":
    main()
