"""Server memory after a burst of large images: does it return near its idle size?

Starts ``vlrerank serve`` (tiny-random, no UI) from a source tree (``--src``, default this one, so
the code before a change can be measured the same way), sends ``--requests`` requests of
``--docs`` solid-colour PNGs of ``--side``² pixels (small on the wire, large decoded), and reports
the server's RSS: idle before, peak (VmHWM), and after ``--idle`` seconds without requests.

    python benchmarks/memory_return.py --docs 8 --side 7000 --requests 3
    python benchmarks/memory_return.py --src /tmp/old/src   # the same, for another tree

Random weights: the scores mean nothing; only memory is measured.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def status_mb(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def png_uri(side: int, shade: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (shade, 255 - shade, 128)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=str(ROOT / "src"))
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--side", type=int, default=7000)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": args.src,
        "VLRERANK_MAX_DOCUMENTS": str(args.docs),
        "VLRERANK_MAX_BODY_BYTES": str(200_000_000),
        "VLRERANK_REQUEST_TIMEOUT_S": "600",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "vlrerank", "serve", "--port", "0", "--no-ui", "--model", "tiny-random"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert server.stdout is not None
    url = None
    for line in server.stdout:
        found = re.search(r"serving .* at (http://\S+/)", line)
        if found:
            url = found.group(1)
            break
    assert url, "the server did not start"
    try:
        while httpx.get(url + "ready", timeout=5).status_code != 200:
            time.sleep(0.2)
        httpx.post(url + "v1/rerank", json={"query": "q", "documents": ["warm"]}, timeout=60)
        time.sleep(1)
        idle = status_mb(server.pid, "VmRSS")
        documents = [{"image": png_uri(args.side, 10 * i % 255)} for i in range(args.docs)]
        for _ in range(args.requests):
            response = httpx.post(url + "v1/rerank", json={"query": "q", "documents": documents}, timeout=600)
            assert response.status_code == 200, response.text[:300]
        after_burst = status_mb(server.pid, "VmRSS")
        time.sleep(args.idle)
        result = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "src": args.src,
            "docs": args.docs,
            "side": args.side,
            "requests": args.requests,
            "idle_mb": round(idle),
            "peak_mb": round(status_mb(server.pid, "VmHWM")),
            "after_burst_mb": round(after_burst),
            f"after_{args.idle:g}s_idle_mb": round(status_mb(server.pid, "VmRSS")),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
