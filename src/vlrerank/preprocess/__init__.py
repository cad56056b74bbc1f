"""Preprocessing: hygiene, geometry, quality and the model-side sizing of images and frames."""

from .choices import PRESETS, PreprocessConfig, QualityPolicy
from .model_sizing import PreparedVideo, model_image_size, resize_for_model, smart_resize
from .pipeline import ProcessedImage, apply, process_image
from .provenance import ImageProvenance, Step
from .quality import QualityReport, assess, penalized_score

__all__ = [
    "PRESETS",
    "ImageProvenance",
    "PreparedVideo",
    "PreprocessConfig",
    "ProcessedImage",
    "QualityPolicy",
    "QualityReport",
    "Step",
    "apply",
    "assess",
    "model_image_size",
    "penalized_score",
    "process_image",
    "resize_for_model",
    "smart_resize",
]
