"""Inputs: what a user may pass as a query or document, validated into typed objects."""

from .images import ImageLimits, read_source
from .schema import ImageSource, MultimodalInput, VideoSource, to_multimodal

__all__ = ["ImageLimits", "ImageSource", "MultimodalInput", "VideoSource", "read_source", "to_multimodal"]
