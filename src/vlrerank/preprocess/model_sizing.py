"""The reference's sizing rules for images and video frames (qwen-vl-utils, patch size 16).

Images: each side rounded to a multiple of 32, then scaled into ``[min_pixels, max_pixels]``
keeping the aspect ratio, resized with Pillow's bicubic filter. Video frames get a per-frame budget
derived from a total pixel budget and are resized with an antialiased bicubic filter on tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..config import IMAGE_FACTOR
from ..errors import InputError

MAX_ASPECT_RATIO = 200
FRAME_FACTOR = 2  # frames are paired into temporal patches
VIDEO_FRAME_MIN_PIXELS = 128 * IMAGE_FACTOR * IMAGE_FACTOR
VIDEO_FRAME_MAX_PIXELS = 768 * IMAGE_FACTOR * IMAGE_FACTOR
# qwen-vl-utils resizes each listed frame with twice the factor and these bounds first (a quirk
# of the reference that changes pixels, so we keep it).
FRAME_LIST_FACTOR = 2 * IMAGE_FACTOR
FRAME_LIST_MIN_PIXELS = 4 * FRAME_LIST_FACTOR**2
FRAME_LIST_MAX_PIXELS = 16384 * FRAME_LIST_FACTOR**2
FRAME_LIST_SAMPLE_FPS = 2.0
FILE_VIDEO_TOTAL_PIXELS = int(128000 * IMAGE_FACTOR * IMAGE_FACTOR * 0.9)


def check_aspect_ratio(width: int, height: int, field: str = "") -> None:
    """The model refuses images more elongated than 200:1 (and empty ones)."""
    if height <= 0 or width <= 0:
        raise InputError(f"image has zero size ({width}x{height})", field=field)
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT_RATIO:
        raise InputError(
            f"aspect ratio {ratio:.0f}:1 ({width}x{height}) is above the model's limit of "
            f"{MAX_ASPECT_RATIO}:1; crop or pad the image",
            field=field,
        )


def smart_resize(
    height: int, width: int, *, factor: int, min_pixels: float, max_pixels: float, field: str = ""
) -> tuple[int, int]:
    """The (height, width) the model will see: multiples of ``factor`` inside the pixel bounds."""
    check_aspect_ratio(width, height, field)
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def model_image_size(
    width: int, height: int, *, min_pixels: int, max_pixels: int, field: str = ""
) -> tuple[int, int]:
    """(width, height) of an image after the model's own resize."""
    h, w = smart_resize(
        height, width, factor=IMAGE_FACTOR, min_pixels=min_pixels, max_pixels=max_pixels, field=field
    )
    return w, h


def resize_for_model(image: Image.Image, *, min_pixels: int, max_pixels: int, field: str = "") -> Image.Image:
    """Resize an RGB image exactly as the reference does before its processor."""
    w, h = model_image_size(
        image.width, image.height, min_pixels=min_pixels, max_pixels=max_pixels, field=field
    )
    return image.resize((w, h), Image.Resampling.BICUBIC)


@dataclass(frozen=True)
class PreparedVideo:
    """Frames ready for patching: uint8 ``(T, 3, H, W)``, ``T`` even.

    ``fps`` and ``frame_indices`` give the timestamps the prompt shows between frames.
    """

    frames: torch.Tensor
    fps: float
    frame_indices: tuple[int, ...]


def _resize_frames(frames: torch.Tensor, total_pixels: int, field: str) -> torch.Tensor:
    nframes, _, height, width = frames.shape
    max_pixels = max(
        min(VIDEO_FRAME_MAX_PIXELS, total_pixels / nframes * FRAME_FACTOR),
        int(VIDEO_FRAME_MIN_PIXELS * 1.05),
    )
    h, w = smart_resize(
        height,
        width,
        factor=IMAGE_FACTOR,
        min_pixels=VIDEO_FRAME_MIN_PIXELS,
        max_pixels=max_pixels,
        field=field,
    )
    # An antialiased bicubic resize of uint8 frames, rounded back to uint8 (torchvision's rule).
    resized = F.interpolate(frames.float(), size=(h, w), mode="bicubic", align_corners=False, antialias=True)
    return resized.clamp_(0, 255).round_().to(torch.uint8)


def video_from_frames(frames: list[Image.Image], *, total_pixels: int, field: str = "") -> PreparedVideo:
    """A video given as RGB frames, sized as the reference sizes frame lists."""
    resized = []
    for i, frame in enumerate(frames):
        h, w = smart_resize(
            frame.height,
            frame.width,
            factor=FRAME_LIST_FACTOR,
            min_pixels=FRAME_LIST_MIN_PIXELS,
            max_pixels=FRAME_LIST_MAX_PIXELS,
            field=f"{field}[{i}]",
        )
        resized.append(frame.resize((w, h), Image.Resampling.BICUBIC))
    if len({im.size for im in resized}) > 1:
        raise InputError("all frames of a video must have the same size", field=field)
    if len(resized) % FRAME_FACTOR:
        resized.append(resized[-1])
    stacked = torch.from_numpy(np.stack([np.asarray(im).transpose(2, 0, 1) for im in resized]))
    return PreparedVideo(
        frames=_resize_frames(stacked, total_pixels, field),
        fps=FRAME_LIST_SAMPLE_FPS,
        frame_indices=tuple(range(len(resized))),
    )


def video_from_tensor(
    frames: torch.Tensor, *, fps: float, frame_indices: tuple[int, ...], field: str = ""
) -> PreparedVideo:
    """Sampled uint8 ``(T, 3, H, W)`` frames of a decoded video file, sized by the reference rule."""
    return PreparedVideo(
        frames=_resize_frames(frames, FILE_VIDEO_TOTAL_PIXELS, field),
        fps=fps,
        frame_indices=frame_indices,
    )
