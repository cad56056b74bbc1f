"""Precision and recall of the quality gate's ``reject`` at a threshold, on the labelled set.

The set is built by ``tests/preprocess/quality_set.py`` (clean photographs, the bundled study sample,
documents, receipts, slides, screenshots, flat graphics and products on white, gradients, skies,
line art; degraded photographs and degraded pages). "Positive" is a degraded image: precision is
the share of rejected images that are degraded, recall the share of degraded images rejected.
Figures are also given for pages and graphics alone (categories ``document``, ``graphic``,
``line-art``, ``sample-document`` and ``page-*``).

    python benchmarks/quality_gate.py [--threshold 0.65] [--quality-module PATH] [--json OUT]

``--quality-module`` scores with another copy of ``quality.py`` (e.g. the previous commit's, from
``git show HEAD:src/vlrerank/preprocess/quality.py``), so before and after run on the same set.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "preprocess"))

import quality_set  # noqa: E402  (a test helper, importable from its folder)


def _module(path: str | None) -> ModuleType:
    if path is None:
        from vlrerank.preprocess import quality

        return quality
    spec = importlib.util.spec_from_file_location("quality_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _ms_per_image(module: ModuleType, image: Image.Image, repeats: int = 30) -> float:
    module.assess(image)
    start = time.perf_counter()
    for _ in range(repeats):
        module.assess(image)
    return (time.perf_counter() - start) / repeats * 1000


def _is_page(category: str) -> bool:
    return category in ("document", "graphic", "line-art", "sample-document") or category.startswith("page-")


def run(threshold: float, module: ModuleType) -> dict[str, object]:
    cases = quality_set.build()
    counts: dict[str, Counter[str]] = {}
    misses: list[dict[str, object]] = []
    for case in cases:
        report = module.assess(case.image)
        rejected = report.score < threshold
        counts.setdefault(case.category, Counter())["rejected" if rejected else "passed"] += 1
        if rejected != case.degraded:
            misses.append(
                {
                    "name": case.name,
                    "category": case.category,
                    "degraded": case.degraded,
                    "score": report.score,
                    "reasons": report.reasons,
                }
            )
    pages = [c for c in cases if _is_page(c.category)]
    page_misses = [m for m in misses if _is_page(str(m["category"]))]
    true_pos = sum(1 for m in cases if m.degraded) - sum(1 for m in misses if m["degraded"])
    false_pos = sum(1 for m in misses if not m["degraded"])
    degraded = sum(1 for m in cases if m.degraded)
    clean = len(cases) - degraded
    sample = [c for c in cases if c.sample]
    photo = quality_set.at_1024(quality_set.photo("astronaut")).resize((1024, 768))
    page = quality_set.document("dense", 0).resize((1024, 768))
    return {
        "threshold": threshold,
        "images": len(cases),
        "degraded": degraded,
        "clean": clean,
        "precision": round(true_pos / max(1, true_pos + false_pos), 4),
        "recall": round(true_pos / degraded, 4),
        "clean_rejected": false_pos,
        "clean_rejected_rate": round(false_pos / clean, 4),
        "sample_clean_rejected": sum(1 for m in misses if str(m["name"]).startswith("sample/")),
        "sample_images": len(sample),
        "pages": {
            "clean": sum(1 for c in pages if not c.degraded),
            "clean_rejected": sum(1 for m in page_misses if not m["degraded"]),
            "degraded": sum(1 for c in pages if c.degraded),
            "degraded_passed": sum(1 for m in page_misses if m["degraded"]),
        },
        "per_category": {k: dict(v) for k, v in counts.items()},
        "misjudged": misses,
        "ms_per_1024x768": {
            "photo": round(_ms_per_image(module, photo), 2),
            "document": round(_ms_per_image(module, page), 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.65)
    parser.add_argument("--quality-module", help="score with this quality.py instead of vlrerank's")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    result = run(args.threshold, _module(args.quality_module))
    result["machine"] = (
        f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}"
    )
    print(f"reject at {args.threshold}: precision {result['precision']:.3f}, recall {result['recall']:.3f}")
    print(
        f"clean rejected {result['clean_rejected']}/{result['clean']}, "
        f"bundled sample rejected {result['sample_clean_rejected']}/{result['sample_images']}"
    )
    print(f"pages and graphics: {result['pages']}")
    print(f"ms per 1024x768 image: {result['ms_per_1024x768']}")
    for category, count in result["per_category"].items():  # type: ignore[attr-defined]
        print(f"  {category:16s} rejected {count.get('rejected', 0):3d} passed {count.get('passed', 0):3d}")
    for miss in result["misjudged"]:  # type: ignore[attr-defined]
        print(f"  misjudged: {miss}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
