"""Image preprocessing throughput: 4000x3000 JPEG -> 1024x768 bicubic.

Compares, on the same files in one process:
  pillow          Image.open + convert("RGB") + resize((1024, 768), BICUBIC): the plain way
  vlrerank        the pipeline (hygiene, DCT-scaled JPEG decoding, crop, model-side sizing),
                  without and with the quality assessment
  vlrerank xN     the same across a thread pool of N workers (what the engine does per request)
and reports images/s plus the pixel difference of the pipeline's output against plain Pillow.

    python benchmarks/preprocess.py --images 24 --out results/preprocess.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from vlrerank.preprocess import PreprocessConfig, process_image

TARGET = (1024, 768)


def make_jpegs(count: int) -> list[bytes]:
    """Photo-like 4000x3000 JPEGs: smooth structure plus sensor-like noise, quality 90."""
    from skimage import data

    base = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        picture = (
            Image.fromarray(base[i % len(base)]).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
        )
        pixels = np.asarray(picture, dtype=np.float32) + rng.normal(0, 4, (3000, 4000, 3)).astype(np.float32)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def plain_pillow(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB").resize(TARGET, Image.Resampling.BICUBIC)


def timed(label: str, work, items: list[bytes], workers: int = 1) -> tuple[dict[str, object], list]:
    start = time.perf_counter()
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            outputs = list(pool.map(work, items))
    else:
        outputs = [work(item) for item in items]
    seconds = time.perf_counter() - start
    return {
        "method": label,
        "images": len(items),
        "seconds": seconds,
        "images_per_s": len(items) / seconds,
    }, outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    jpegs = make_jpegs(args.images)
    config = PreprocessConfig(size=TARGET, mode="crop")  # a 4:3 source: the crop is the whole frame

    def ours(data: bytes) -> Image.Image:
        return process_image(data, field="bench", config=config, with_quality=False).image

    def ours_with_quality(data: bytes) -> Image.Image:
        return process_image(data, field="bench", config=config).image

    timed("warm-up", ours, jpegs[:2])
    rows = []
    row, reference = timed("pillow open+resize", plain_pillow, jpegs)
    rows.append(row)
    row, fast = timed("vlrerank pipeline", ours, jpegs)
    rows.append(row)
    row, _ = timed("vlrerank pipeline + quality", ours_with_quality, jpegs)
    rows.append(row)
    row, _ = timed(f"vlrerank pipeline x{args.workers} threads", ours, jpegs, workers=args.workers)
    rows.append(row)
    row, _ = timed(f"pillow open+resize x{args.workers} threads", plain_pillow, jpegs, workers=args.workers)
    rows.append(row)

    diffs = np.concatenate(
        [
            np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).ravel()
            for a, b in zip(fast, reference, strict=True)
        ]
    )
    accuracy = {
        "mean_abs_diff": float(diffs.mean()),
        "p99_abs_diff": float(np.percentile(diffs, 99)),
        "max_abs_diff": float(diffs.max()),
    }
    baseline = rows[0]["images_per_s"]
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "pillow": Image.__version__,
        "source": "4000x3000 JPEG q90 -> 1024x768 bicubic",
    }
    print(f"{meta['date']}  {meta['machine']}  Pillow {meta['pillow']}  {meta['source']}")
    print("| method | images/s | vs pillow |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['method']} | {r['images_per_s']:.1f} | {r['images_per_s'] / baseline:.2f}x |")
    print(
        f"pipeline vs pillow pixels: mean |diff| {accuracy['mean_abs_diff']:.2f}, "
        f"p99 {accuracy['p99_abs_diff']:.0f}, max {accuracy['max_abs_diff']:.0f} grey levels"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, "results": rows, "accuracy": accuracy}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
