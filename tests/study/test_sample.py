"""The bundled sample set: complete, consistent, licensed and byte-for-byte reproducible."""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlrerank.study import sample
from vlrerank.study.sample import CATEGORIES, write_sample
from vlrerank.study.spec import load_manifest, load_spec


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("sample"), seed=0).parent


def read_manifest(folder: Path) -> list[dict[str, str]]:
    with (folder / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_every_category_has_at_least_eight_large_images(sample_dir: Path) -> None:
    for category in CATEGORIES:
        files = sorted((sample_dir / "images" / category).iterdir())
        assert len(files) >= 8, category
        assert all(f.suffix in (".png", ".jpg") for f in files)


@pytest.mark.slow
def test_manifest_rows_point_at_images_that_open_at_full_size(sample_dir: Path) -> None:
    rows = read_manifest(sample_dir)
    assert list(rows[0]) == ["image", "category", "query", "relevant", "group"]
    listed = {row["image"] for row in rows}
    on_disk = {
        p.relative_to(sample_dir).as_posix() for p in (sample_dir / "images").rglob("*") if p.is_file()
    }
    assert listed == on_disk
    for path in sorted(listed):
        assert "\\" not in path and path.split("/")[1] in CATEGORIES
        with Image.open(sample_dir / path) as image:
            assert image.size == (2048, 1536), path
            assert image.mode == "RGB", path


@pytest.mark.slow
def test_each_group_pairs_one_query_with_every_image_of_its_category(sample_dir: Path) -> None:
    rows = read_manifest(sample_dir)
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        groups[row["group"]].append(row)
    assert len(groups) == 2 * len(CATEGORIES)
    for name, members in groups.items():
        assert len({(r["query"], r["category"]) for r in members}) == 1, name
        category = members[0]["category"]
        assert name.startswith(f"{category}-q")
        images = {r["image"] for r in members}
        assert images == {r["image"] for r in rows if r["category"] == category}
        assert {r["relevant"] for r in members} <= {"0", "1"}
        assert any(r["relevant"] == "1" for r in members), name
    relevant = {(r["query"], r["image"]) for r in rows if r["relevant"] == "1"}
    assert ("a bottle of orange juice", "images/product/orange-juice-sunvale.png") in relevant
    assert ("an invoice with a total amount", "images/document/invoice-northwind.png") in relevant
    if ("a photo of a cat", "images/life/chelsea.jpg") not in relevant:  # only without scikit-image's photos
        assert all(r["image"].startswith("images/life/generated-") for r in rows if r["category"] == "life")


@pytest.mark.slow
def test_licenses_name_every_image_and_say_sample(sample_dir: Path) -> None:
    text = (sample_dir / "LICENSES.md").read_text(encoding="utf-8")
    assert "SAMPLE" in text and "UPSCALED" in text
    for row in read_manifest(sample_dir):
        assert f"`{row['image']}`" in text
    for line in text.splitlines():
        if line.startswith("| `images/life/") and line.split("`")[1].endswith(".jpg"):
            assert "scikit-image" in line and "upscaled" in line.lower()
    assert "not a benchmark" in (sample_dir / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_spec_has_the_default_keys_and_loads(sample_dir: Path) -> None:
    text = (sample_dir / "spec.yaml").read_text(encoding="utf-8")
    for key in (
        "manifest:",
        "sizes:",
        "interpolations:",
        "modes:",
        "blur_sigmas:",
        "repeats:",
        "instruction:",
        "model:",
    ):
        assert f"\n{key}" in text, key
    pytest.importorskip("yaml")
    spec = load_spec(sample_dir / "spec.yaml")
    assert spec.manifest == (sample_dir / "manifest.csv").resolve()
    assert spec.sizes[0] == (320, 240) and spec.sizes[-1] == (2048, 1536)
    assert spec.interpolations == ("bicubic", "nearest") and spec.repeats == 2
    assert spec.instruction == "Given a search query, retrieve relevant candidates that answer the query."
    assert len(load_manifest(spec.manifest)) == len(read_manifest(sample_dir))


@pytest.mark.slow
def test_document_pages_carry_dark_text(sample_dir: Path) -> None:
    for name in ("invoice-northwind", "recipe-banana-bread"):
        grey = np.asarray(Image.open(sample_dir / "images" / "document" / f"{name}.png").convert("L"))
        assert (grey < 100).mean() > 0.01, name


@pytest.mark.slow
def test_same_seed_gives_the_same_bytes(sample_dir: Path, tmp_path: Path) -> None:
    again = write_sample(tmp_path, seed=0).parent
    assert (again / "manifest.csv").read_bytes() == (sample_dir / "manifest.csv").read_bytes()
    for name in ("spec.yaml", "LICENSES.md", "README.md"):
        assert (again / name).read_bytes() == (sample_dir / name).read_bytes()
    images = ["product/orange-juice-sunvale.png", "art/cells-1.png", "document/invoice-harbour.png"]
    images += [p for p in ("life/chelsea.jpg",) if (sample_dir / "images" / p).is_file()]
    for path in images:
        assert (again / "images" / path).read_bytes() == (sample_dir / "images" / path).read_bytes(), path


def test_another_seed_changes_generated_images() -> None:
    first, second = (next(i for i in sample.sample_items(seed) if i.name == "ripples-1") for seed in (0, 1))
    assert not np.array_equal(np.asarray(first.render()), np.asarray(second.render()))


def test_life_falls_back_to_generated_scenes_without_scikit_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skimage", None)  # makes `import skimage` raise ImportError
    items = sample.sample_items(0)
    life = [i for i in items if i.category == "life"]
    assert len(life) == 8 and all(i.name.startswith("generated-") for i in life)
    rows = [r for r in sample.manifest_rows(items) if r[1] == "life"]
    assert {r[2] for r in rows} == {"a sunset over the sea", "snow-capped mountains under a blue sky"}
    assert {r[4] for r in rows if r[3] == 1} == {"life-q1", "life-q2"}
    assert next(i for i in life if i.tag == "sunset").render().size == (2048, 1536)
