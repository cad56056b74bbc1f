"""The image pipeline: decode with hygiene -> snap -> fit/crop/stretch -> blur -> model resize.

Each stage records a :class:`Step`; the result carries the image the model receives and its
:class:`ImageProvenance`. With the default :class:`PreprocessConfig` (``native``, no blur) the
model receives exactly what the reference implementation would give it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from ..config import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS
from ..inputs.images import ImageLimits
from ..inputs.schema import ImageSource
from . import geometry
from .choices import PreprocessConfig
from .hygiene import decode
from .model_sizing import resize_for_model
from .provenance import ImageProvenance, Step
from .quality import assess


@dataclass(frozen=True)
class ProcessedImage:
    """``model_image`` is what the vision tower receives; ``image`` is before the model's resize."""

    image: Image.Image
    model_image: Image.Image
    provenance: ImageProvenance


def apply(image: Image.Image, config: PreprocessConfig) -> tuple[Image.Image, list[Step]]:
    """Geometry and blur of ``config`` on an RGB image (no decoding, no model resize)."""
    steps: list[Step] = []
    step: Step | None
    if config.aspect_snap == "auto":
        image, step = geometry.snap_aspect(image)
        steps += [step] if step else []
    target = config.target
    if config.preset == "document":
        image, step = geometry.ensure_min_width(image, config)
        steps += [step] if step else []
    elif target is not None:
        operation = {"fit": geometry.fit, "crop": geometry.crop, "stretch": geometry.stretch}[
            str(config.mode)
        ]
        image, step = operation(image, target, config)
        steps.append(step)
    if config.blur_sigma > 0:
        image, step = geometry.blur(image, config.blur_sigma)
        steps.append(step)
    return image, steps


def _needed_size(config: PreprocessConfig) -> Callable[[int, int], tuple[int, int]] | None:
    """How large the decoded image must stay for the resize ahead (None: decode in full)."""
    target = config.target
    if target is None or config.aspect_snap != "off":
        return None
    tw, th = target

    def need(width: int, height: int) -> tuple[int, int]:
        if config.mode == "stretch":
            return tw, th
        scale = max(tw / width, th / height) if config.mode == "crop" else min(tw / width, th / height)
        return math.ceil(width * scale), math.ceil(height * scale)

    return need


def process_image(
    source: ImageSource,
    *,
    field: str,
    config: PreprocessConfig | None = None,
    limits: ImageLimits | None = None,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    with_quality: bool = True,
) -> ProcessedImage:
    """Run the whole pipeline on one image source.

    ``config.min_pixels`` / ``config.max_pixels``, when set, override the model-side bounds given
    here (which normally come from the engine).

    Raises:
        InputError / ImageLoadError: the source is malformed, unreadable or unusable; the error
            names ``field``.
    """
    config = config or PreprocessConfig()
    decoded = decode(
        source, field=field, limits=limits, background=config.background, needed_size=_needed_size(config)
    )
    quality = assess(decoded.image) if with_quality else None
    image, steps = apply(decoded.image, config)
    model_image = resize_for_model(
        image,
        min_pixels=config.min_pixels or min_pixels,
        max_pixels=config.max_pixels or max_pixels,
        field=field,
    )
    provenance = ImageProvenance(
        field=field,
        original_width=decoded.width,
        original_height=decoded.height,
        output_width=image.width,
        output_height=image.height,
        model_width=model_image.width,
        model_height=model_image.height,
        visual_tokens=model_image.width * model_image.height // (32 * 32),
        format=decoded.format,
        num_bytes=decoded.num_bytes,
        mode=decoded.mode,
        steps=decoded.steps + tuple(steps),
        quality=quality,
    )
    return ProcessedImage(image, model_image, provenance)
