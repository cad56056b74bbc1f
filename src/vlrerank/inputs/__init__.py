"""Inputs: what a user may pass as a query or document, validated into typed objects."""

from .images import LoadedImage, load_image
from .schema import ImageSource, MultimodalInput, VideoSource, to_multimodal

__all__ = [
    "ImageSource",
    "LoadedImage",
    "MultimodalInput",
    "VideoSource",
    "load_image",
    "to_multimodal",
]
