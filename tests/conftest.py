"""Shared fixtures: one tiny random checkpoint, one engine and one reference per session.

The tiny checkpoint has random weights, so scores are meaningless; tests compare the engine with
the reference algorithm on the same weights, which is what proves correctness.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlrerank import Reranker
from vlrerank.checkpoints import build_checkpoint
from vlrerank.testing.reference import ReferenceReranker


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_checkpoint(tmp_path_factory.mktemp("tiny-random"), arch="tiny", seed=0)


@pytest.fixture(scope="session")
def reranker(tiny_dir: Path) -> Reranker:
    return Reranker(str(tiny_dir))


@pytest.fixture(scope="session")
def reference(tiny_dir: Path) -> ReferenceReranker:
    return ReferenceReranker.from_pretrained(tiny_dir)


def noise_image(width: int, height: int, seed: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode=mode)


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Images of several sizes, modes and source kinds (PIL, path, bytes)."""
    folder = tmp_path_factory.mktemp("images")
    jpeg_path = folder / "photo.jpg"
    noise_image(130, 90, 1).save(jpeg_path, quality=90)
    png_path = folder / "alpha.png"
    noise_image(70, 50, 2, "RGBA").save(png_path)
    buffer = io.BytesIO()
    noise_image(96, 64, 3).save(buffer, format="PNG")
    return {
        "small": noise_image(64, 48, 4),
        "wide": noise_image(160, 40, 5),
        "square": noise_image(64, 64, 6),
        "grey": noise_image(80, 60, 7, "L"),
        "jpeg_path": str(jpeg_path),
        "png_alpha_path": str(png_path),
        "png_bytes": buffer.getvalue(),
    }


def write_video(path: Path, frames: int, fps: int = 4, size: tuple[int, int] = (96, 64)) -> Path:
    """Encode a small noise video with PyAV (lossless-ish settings are irrelevant: both sides decode it)."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_image(noise_image(size[0], size[1], 100 + i))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def video_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames=12))


# Real servers (``python -m vlrerank serve`` subprocesses) for the HTTP, browser and hostile tests.
from .servers import api_server, ui_server  # noqa: E402, F401


@pytest.fixture(scope="session")
def layout_dirs(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The session's tiny weights in each published checkpoint layout (weights linked, not copied)."""
    from vlrerank.checkpoints import LAYOUTS, copy_with_layout

    root = tmp_path_factory.mktemp("layouts")
    return {layout: copy_with_layout(tiny_dir, root / layout, layout) for layout in LAYOUTS}
