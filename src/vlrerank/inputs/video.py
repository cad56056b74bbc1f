"""Decode video files with PyAV and sample frames as the reference does."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import DEFAULT_MAX_IMAGE_PIXELS, FRAME_MAX_PIXELS
from ..errors import DeadlineExceeded, MissingDependencyError, VideoLoadError
from .images import check_media_path

MIN_FRAMES = 4
FRAME_FACTOR = 2
# Frames are decoded at most this large: the model sizes a video frame to at most FRAME_MAX_PIXELS,
# and twice that leaves the final antialiased resize its margin.
FRAME_DECODE_PIXELS = 2 * FRAME_MAX_PIXELS
# Decoded pixels one request may hold: every sampled frame of a default-sampled video at that size.
DEFAULT_DECODE_PIXELS = 64 * FRAME_DECODE_PIXELS


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


@dataclass
class DecodeBudget:
    """What decoding may cost one request: decoded pixels (all its videos together) and a deadline.

    Charged from each video's declared size before any frame is decoded, so a small file that
    declares huge frames is refused without allocating them.
    """

    max_pixels: int = DEFAULT_DECODE_PIXELS
    deadline: float | None = None  # time.monotonic() after which decoding stops
    used: int = 0

    def charge(self, pixels: int, field: str) -> None:
        if self.used + pixels > self.max_pixels:
            raise VideoLoadError(
                f"decoding this video needs {pixels} pixels, above the request's budget of "
                f"{self.max_pixels - self.used} decoded pixels",
                field=field,
            )
        self.used += pixels

    def check_time(self, field: str) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlineExceeded("decoding the video ran past the request's deadline", field=field)


def decoded_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """``(width, height)`` scaled down (aspect kept, even sides) to at most ``max_pixels``; unchanged
    when it fits, so ordinary videos decode exactly as the reference decodes them."""
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _declared_frames(stream: Any, container: Any, video_fps: float) -> int:
    """The frame count the header declares, else its duration times its rate; never a decode pass."""
    if stream.frames:
        return int(stream.frames)
    if stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base) * video_fps)
    if container.duration:
        return round(container.duration / 1_000_000 * video_fps)
    return 0


def decode_video_file(
    path: str,
    *,
    fps: float,
    max_frames: int,
    field: str,
    media_root: str | None = None,
    budget: DecodeBudget | None = None,
    frame_pixels: int = FRAME_DECODE_PIXELS,
    max_frame_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> DecodedVideo:
    """Decode ``path`` and keep evenly spaced frames, ``fps`` per second of video, at most ``max_frames``.

    The header is read first: a frame larger than ``max_frame_pixels`` or a sample that would pass
    ``budget`` is refused before decoding. Only sampled frames are converted, each scaled down at
    decode time to at most ``frame_pixels`` (the model's own bound for a video frame).
    """
    if path.startswith("file://"):
        path = path[len("file://") :]
    if "://" in path:
        raise VideoLoadError("only local video files are supported", field=field)
    path = check_media_path(path, field, media_root)
    if not os.path.isfile(path):
        raise VideoLoadError(f"no such video file: {path}", field=field)
    return _decode(path, fps, max_frames, field, budget or DecodeBudget(), frame_pixels, max_frame_pixels)


def _decode(
    path: str,
    fps: float,
    max_frames: int,
    field: str,
    budget: DecodeBudget,
    frame_pixels: int,
    max_frame_pixels: int,
) -> DecodedVideo:
    av = _import_av()
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoLoadError("file has no video stream", field=field)
            stream = container.streams.video[0]
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
            if width <= 0 or height <= 0:
                raise VideoLoadError("video does not declare its frame size", field=field)
            if width * height > max_frame_pixels:
                raise VideoLoadError(
                    f"video frames are {width}x{height}, above the pixel limit of {max_frame_pixels}",
                    field=field,
                )
            video_fps = float(stream.average_rate or stream.guessed_rate or 0)
            if video_fps <= 0:
                raise VideoLoadError("video has no frame rate", field=field)
            total = _declared_frames(stream, container, video_fps)
            if total <= 0:
                raise VideoLoadError("video declares no frames", field=field)
            count = sample_count(total, video_fps, fps=fps, max_frames=max_frames, field=field)
            out_w, out_h = decoded_size(width, height, frame_pixels)
            budget.charge(count * out_w * out_h, field)
            indices = torch.linspace(0, total - 1, count).round().long().tolist()
            wanted = set(indices)
            kept: dict[int, np.ndarray] = {}
            for i, frame in enumerate(container.decode(stream)):
                if i % 16 == 0:
                    budget.check_time(field)
                if i in wanted:
                    # Scaled while converting: a full-size RGB copy of a large frame is never made.
                    kept[i] = frame.to_ndarray(width=out_w, height=out_h, format="rgb24").transpose(2, 0, 1)
                if i >= indices[-1]:
                    break
    except (VideoLoadError, DeadlineExceeded):
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        # FFmpeg's messages name the file it read: a temporary path is nobody's business.
        reason = str(exc).replace(path, "<video>").replace(os.path.basename(path), "<video>")
        raise VideoLoadError(f"video could not be decoded: {reason}", field=field) from None
    if len(kept) != len(wanted):
        raise VideoLoadError(f"video has fewer frames than its header's {total}", field=field)
    sampled = np.stack([kept[i] for i in indices])
    return DecodedVideo(torch.from_numpy(sampled), video_fps, tuple(indices), total)
