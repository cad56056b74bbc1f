"""Decode video files with PyAV and sample frames as the reference does."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import MissingDependencyError, VideoLoadError
from .images import check_media_path

MIN_FRAMES = 4
FRAME_FACTOR = 2


@dataclass(frozen=True)
class DecodedVideo:
    """Sampled frames as uint8 ``(T, 3, H, W)``, with the source fps and the sampled indices."""

    frames: torch.Tensor
    fps: float
    frame_indices: tuple[int, ...]
    total_frames: int


def sample_count(total_frames: int, video_fps: float, *, fps: float, max_frames: int, field: str) -> int:
    """How many frames to sample (qwen-vl-utils' ``smart_nframes`` with ``fps``)."""
    min_frames = math.ceil(MIN_FRAMES / FRAME_FACTOR) * FRAME_FACTOR
    cap = math.floor(max_frames / FRAME_FACTOR) * FRAME_FACTOR
    wanted = total_frames / video_fps * fps
    count = min(min(max(wanted, min_frames), cap), total_frames)
    count = math.floor(count / FRAME_FACTOR) * FRAME_FACTOR
    if not FRAME_FACTOR <= count <= total_frames:
        raise VideoLoadError(
            f"cannot sample {count} frames from a {total_frames}-frame video "
            f"(fps={fps}, max_frames={max_frames}); a video needs at least {FRAME_FACTOR} frames",
            field=field,
        )
    return count


def _import_av() -> Any:
    try:
        import av
    except ImportError:
        raise MissingDependencyError(
            "decoding video files needs PyAV: pip install 'vlrerank[video]'"
        ) from None
    return av


def decode_video_file(
    path: str, *, fps: float, max_frames: int, field: str, media_root: str | None = None
) -> DecodedVideo:
    """Decode ``path`` and keep evenly spaced frames, ``fps`` per second of video, at most ``max_frames``."""
    if path.startswith("file://"):
        path = path[len("file://") :]
    if "://" in path:
        raise VideoLoadError("only local video files are supported", field=field)
    path = check_media_path(path, field, media_root)
    if not os.path.isfile(path):
        raise VideoLoadError(f"no such video file: {path}", field=field)
    av = _import_av()
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoLoadError("file has no video stream", field=field)
            stream = container.streams.video[0]
            video_fps = float(stream.average_rate or stream.guessed_rate or 0)
            # Count first (header, else a decode pass) so only sampled frames are kept in memory.
            total = stream.frames or sum(1 for _ in container.decode(stream))
            if total <= 0:
                raise VideoLoadError("video has no frames", field=field)
            if video_fps <= 0:
                raise VideoLoadError("video has no frame rate", field=field)
            count = sample_count(total, video_fps, fps=fps, max_frames=max_frames, field=field)
            indices = torch.linspace(0, total - 1, count).round().long().tolist()
            wanted = set(indices)
            kept: dict[int, np.ndarray] = {}
            container.seek(0)
            for i, frame in enumerate(container.decode(stream)):
                if i in wanted:
                    kept[i] = frame.to_ndarray(format="rgb24").transpose(2, 0, 1)
                if i >= indices[-1]:
                    break
    except VideoLoadError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoLoadError(f"video could not be decoded: {exc}", field=field) from None
    if len(kept) != len(wanted):
        raise VideoLoadError(f"video has fewer frames than its header's {total}", field=field)
    sampled = np.stack([kept[i] for i in indices])
    return DecodedVideo(torch.from_numpy(sampled), video_fps, tuple(indices), total)
