"""Preprocessing: how images and video frames are sized before the model sees them."""

from .vision import (
    PreparedVideo,
    model_image_size,
    resize_for_model,
    smart_resize,
    video_from_frames,
    video_from_tensor,
)

__all__ = [
    "PreparedVideo",
    "model_image_size",
    "resize_for_model",
    "smart_resize",
    "video_from_frames",
    "video_from_tensor",
]
