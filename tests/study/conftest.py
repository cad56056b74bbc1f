"""A small manifest of generated images for study tests (the bundled sample set is larger)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import noise_image


@pytest.fixture
def small_study(tmp_path, tiny_dir) -> Path:
    """Four images in two categories, one labelled group per category; returns the spec path."""
    rows = ["image,category,query,relevant,group"]
    for i in range(4):
        noise_image(40, 30, 50 + i).resize((400, 300)).save(tmp_path / f"img{i}.png")
        category = "life" if i < 2 else "art"
        rows.append(f"img{i}.png,{category},a picture of {category},{1 if i % 2 == 0 else 0},{category}-q")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "spec.yaml").write_text(
        f"manifest: manifest.csv\nsizes: [320x240, 640x480]\ninterpolations: [bicubic, nearest]\n"
        f"repeats: 2\nmodel: {tiny_dir}\nbatch_documents: 1\n"
    )
    return tmp_path / "spec.yaml"
