"""Provenance: what happened to each image on its way into the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from .quality import QualityReport


@dataclass(frozen=True)
class Step:
    """One operation applied to an image, with its parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({args})"


def aspect_label(width: int, height: int) -> str:
    """``4:3`` for simple ratios, else ``1.78:1``."""
    ratio = Fraction(width, height)
    if ratio.numerator <= 32 and ratio.denominator <= 32:
        return f"{ratio.numerator}:{ratio.denominator}"
    return f"{width / height:.2f}:1"


@dataclass(frozen=True)
class ImageProvenance:
    """Facts about one image: the file, every step applied, and what the model finally sees.

    Attributes:
        field: where the image was in the request, e.g. ``documents[2].image``.
        original_width / original_height: decoded size (after EXIF orientation).
        format / num_bytes / mode: container format, encoded size and original pixel mode.
        steps: hygiene and preprocessing operations, in order.
        output_width / output_height: size after vlrerank's preprocessing.
        model_width / model_height: size after the model's own resize (multiples of 32 inside
            the pixel bounds): what the vision tower actually receives.
        visual_tokens: language-model tokens this image costs.
        quality: the quality assessment of the decoded image, when computed.
    """

    field: str
    original_width: int
    original_height: int
    output_width: int
    output_height: int
    model_width: int
    model_height: int
    visual_tokens: int
    format: str | None = None
    num_bytes: int | None = None
    mode: str | None = None
    steps: tuple[Step, ...] = ()
    quality: QualityReport | None = None

    @property
    def aspect_ratio(self) -> str:
        return aspect_label(self.original_width, self.original_height)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["aspect_ratio"] = self.aspect_ratio
        data["steps"] = [{"name": s.name, "params": _plain(s.params)} for s in self.steps]
        return data


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
