"""A small bundled sample set for trying the resolution study (not a benchmark).

:func:`write_sample` writes ``images/<category>/...``, ``manifest.csv``, ``spec.yaml``, ``LICENSES.md``
and ``README.md``. Photographs come from scikit-image's bundled data, upscaled to 2048x1536;
products, art (:mod:`.draw`) and documents (:mod:`.documents`) are drawn deterministically from
``seed``; :mod:`.photos` loads and credits the photographs.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from .document_pages import _DOCUMENTS, _document
from .draw import _ART, _PRODUCTS, _SCENES, HEIGHT, WIDTH, _product, _scene, art
from .photos import _photos, _upscale

__all__ = ["CATEGORIES", "HEIGHT", "QUERIES", "WIDTH", "write_sample"]

CATEGORIES = ("life", "product", "art", "document")
QUERIES: dict[str, tuple[tuple[str, str], ...]] = {  # (query, tag an image needs to be relevant)
    # Life offers four; the first two with a matching image are used (the later two only matter
    # when scikit-image's photos are unavailable and generated scenes stand in).
    "life": (
        ("a photo of a cat", "cat"),
        ("a cup of coffee", "coffee"),
        ("a sunset over the sea", "sunset"),
        ("snow-capped mountains under a blue sky", "mountains"),
    ),
    "product": (("a bottle of orange juice", "orange-juice"), ("a box of breakfast cereal", "cereal")),
    "art": (
        ("a stained-glass mosaic of coloured polygon cells", "cells"),
        ("circular ripples spreading like waves on water", "ripples"),
    ),
    "document": (
        ("an invoice with a total amount", "invoice"),
        ("a recipe with a list of ingredients", "recipe"),
    ),
}


@dataclass(frozen=True)
class _Item:
    category: str
    name: str
    tag: str
    source: str
    render: Callable[[], Image.Image]
    suffix: str = ".png"

    @property
    def path(self) -> str:
        return f"images/{self.category}/{self.name}{self.suffix}"


def sample_items(seed: int) -> list[_Item]:
    def rng(category: str, index: int) -> np.random.Generator:
        # One stream per image, so images are independent of each other and of rendering order.
        return np.random.default_rng((seed, CATEGORIES.index(category), index))

    items = [
        _Item(
            "life",
            name.replace("_", "-"),
            tag,
            f"scikit-image `skimage.data.{name}()` ({pixels.shape[1]}x"
            f"{pixels.shape[0]} original): {credit}. Cropped to 4:3 and UPSCALED (bicubic) to 2048x1536",
            partial(_upscale, pixels),
            ".jpg",
        )
        for name, pixels, tag, credit in _photos()
    ]
    for index in range(8 - len(items)):
        kind = _SCENES[index % len(_SCENES)]
        items.append(
            _Item(
                "life", f"generated-{kind}-{index + 1}", kind, "", partial(_scene, kind, rng("life", index))
            )
        )
    for index, (name, shape, colour, brand, words, tag) in enumerate(_PRODUCTS):
        items.append(
            _Item(
                "product",
                name,
                tag,
                "",
                partial(_product, shape, colour, brand, words, rng("product", index)),
            )
        )
    for index, (name, tag) in enumerate(_ART):
        items.append(_Item("art", name, tag, "", partial(art, name, rng("art", index))))
    for index, (name, kind, title, tag) in enumerate(_DOCUMENTS):
        items.append(
            _Item("document", name, tag, "", partial(_document, kind, title, rng("document", index)))
        )
    return items


def manifest_rows(items: list[_Item]) -> list[tuple[str, str, str, int, str]]:
    rows = []
    for category in CATEGORIES:
        members = sorted((i for i in items if i.category == category), key=lambda i: i.path)
        tags = {i.tag for i in members}
        queries = [q for q in QUERIES[category] if q[1] in tags][:2]
        for number, (query, tag) in enumerate(queries, start=1):
            rows += [(i.path, category, query, int(i.tag == tag), f"{category}-q{number}") for i in members]
    return rows


_SPEC = """\
# Default resolution-study spec for the vlrerank sample set (edit freely).
manifest: manifest.csv
sizes: [320x240, 640x480, 800x600, 1024x768, 1280x960, 1600x1200, 2048x1536]
interpolations: [bicubic, nearest]
modes: [stretch]
blur_sigmas: [0.0]
repeats: 2
instruction: "Given a search query, retrieve relevant candidates that answer the query."
model: tiny-random
"""
_README = """\
# vlrerank resolution-study sample set

This is a SAMPLE for trying the resolution study, not a benchmark: {count} images in four
categories ({categories}), two queries per category, relevance labels true by
construction, and far too few images for conclusions. `spec.yaml` is a default study spec that
points at `manifest.csv`. Photographs are small scikit-image samples upscaled to 2048x1536, so
they carry no detail beyond their original resolution. Sources and licences are in `LICENSES.md`.
Regenerate with `vlrerank.study.sample.write_sample(directory, seed={seed})`.
"""
_LICENSE_HEAD = """\
# Sources and licences

This is a SAMPLE set for trying the vlrerank resolution study, not a benchmark.

- Photographs (`images/life/*.jpg`) come from the sample data bundled with scikit-image (the library is
  BSD-3-Clause). Each photo's credit and terms below are as scikit-image states them in the docstring
  of its `skimage.data` loader (the data folder's README.txt carries no per-image terms). Every photo
  was centre-cropped to 4:3 and UPSCALED with bicubic interpolation to 2048x1536: the pixels beyond
  the original resolution are interpolated, not captured.
- Every other file was generated by vlrerank (`vlrerank.study.sample`, seed {seed}); released into the
  public domain (CC0 1.0).

| File | Source and licence |
|---|---|
"""


def write_sample(directory: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Write the sample set into directory; return the manifest path.

    Args:
        directory: where to write (created if missing; files of the same names are overwritten).
        seed: drives every generated image; the same seed gives the same bytes with the same Pillow.

    Returns:
        The path of ``manifest.csv``, whose image paths are relative to its folder.
    """
    root = Path(directory)
    items = sample_items(seed)
    for category in CATEGORIES:
        (root / "images" / category).mkdir(parents=True, exist_ok=True)

    def save(item: _Item) -> None:
        image, target = item.render(), root / item.path
        if item.suffix == ".jpg":
            image.save(target, quality=90)
        else:
            image.save(target, compress_level=1)

    # numpy and Pillow release the GIL in their heavy loops, so threads use several cores.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(save, items))
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("image", "category", "query", "relevant", "group"))
        writer.writerows(manifest_rows(items))
    (root / "spec.yaml").write_text(_SPEC, encoding="utf-8")
    lines = [
        f"| `{i.path}` | {i.source or 'generated by vlrerank (public domain / CC0 1.0)'} |" for i in items
    ]
    (root / "LICENSES.md").write_text(
        _LICENSE_HEAD.format(seed=seed) + "\n".join(lines) + "\n", encoding="utf-8"
    )
    readme = _README.format(count=len(items), categories=", ".join(CATEGORIES), seed=seed)
    (root / "README.md").write_text(readme, encoding="utf-8")
    return manifest
