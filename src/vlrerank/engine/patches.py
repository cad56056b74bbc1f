"""Pixels to vision-tower patches: the Qwen image and video processors' arithmetic, on any device.

Visuals travel as uint8 frames (a quarter of the bytes of float32, an eighth once a still
image is doubled into a temporal patch) and become float32 patches where the engine chooses:
in the preparing threads on CPU engines, on the device for GPU engines, where the arithmetic is
free and the host-to-device copy is eight times smaller. Either way the values are the
processor's, bit for bit (tested against it on the CPU and on the GPU).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True, kw_only=True)
class Patcher:
    """Normalises ``(frames, 3, height, width)`` uint8 frames and cuts them into Qwen-VL patches."""

    patch_size: int
    merge_size: int
    temporal_patch_size: int
    rescale_factor: float
    image_mean: tuple[float, ...]
    image_std: tuple[float, ...]

    @classmethod
    def for_checkpoint(cls, image_processor: Any, vision_config: Any) -> Patcher:
        return cls(
            patch_size=int(vision_config.patch_size),
            merge_size=int(vision_config.spatial_merge_size),
            temporal_patch_size=int(vision_config.temporal_patch_size),
            rescale_factor=float(image_processor.rescale_factor),
            image_mean=tuple(float(v) for v in image_processor.image_mean),
            image_std=tuple(float(v) for v in image_processor.image_std),
        )

    def grid(self, frames: int, height: int, width: int) -> tuple[int, int, int]:
        """Patches along time, height and width; a still image (one frame) fills one temporal patch."""
        return max(frames // self.temporal_patch_size, 1), height // self.patch_size, width // self.patch_size

    def patches(self, frames: torch.Tensor, *, is_video: bool) -> torch.Tensor:
        """float32 ``(patches, 3 x temporal x patch x patch)`` on ``frames``' device.

        Images follow the image processor (rescale in float64, normalise in float32, the image
        repeated to fill a temporal patch); videos the video processor (mean = std = 0.5 in float32).
        """
        if is_video:
            return self._patchify((frames - 127.5) / 127.5)
        pixels = (frames.double() * self.rescale_factor).float()
        mean, std = _channel_constants(self.image_mean, self.image_std, frames.device)
        pixels = (pixels - mean) / std
        return self._patchify(pixels.expand(self.temporal_patch_size, -1, -1, -1))

    def _patchify(self, frames: torch.Tensor) -> torch.Tensor:
        n, c, height, width = frames.shape
        p, m, tp = self.patch_size, self.merge_size, self.temporal_patch_size
        gt, gh, gw = n // tp, height // p, width // p
        patches = frames.reshape(gt, tp, c, gh // m, m, p, gw // m, m, p)
        patches = patches.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
        return patches.reshape(gt * gh * gw, c * tp * p * p).contiguous()


@functools.cache
def _channel_constants(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std on ``device``, made once: a fresh host-to-device copy of a Python
    list would wait for every queued kernel."""

    def column(values: tuple[float, ...]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1).to(device)

    return column(mean), column(std)
