"""Request and response bodies of the REST API, shaped like the common rerank APIs.

``query`` and ``documents`` take plain strings (as Cohere/Jina/vLLM clients send) or multimodal
objects; images are ``data:`` URIs (or URLs when the server allows them), never server paths.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ImageRef = str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MultimodalObject(Strict):
    text: str | list[str] | None = None
    image: ImageRef | list[ImageRef] | None = None
    video: list[ImageRef] | None = Field(None, description="frames, each an image reference")


class PreprocessOptions(Strict):
    mode: Literal["native", "fit", "crop", "stretch"] | None = None
    size: tuple[int, int] | None = None
    preset: Literal["general", "product", "art", "art-large", "document"] | None = None
    aspect_snap: Literal["off", "auto"] = "off"
    interpolation: Literal["bicubic", "bilinear", "lanczos", "nearest", "box", "hamming"] = "bicubic"
    pad_color: tuple[int, int, int] = (255, 255, 255)
    blur_sigma: float = Field(0.0, ge=0, le=50)


class QualityOptions(Strict):
    policy: Literal["off", "reject", "penalize"] = "off"
    threshold: float = Field(0.65, gt=0, le=1)


class RerankRequest(Strict):
    model: str | None = Field(None, description="must name the served model when given")
    query: str | MultimodalObject
    documents: list[str | MultimodalObject]
    instruction: str | None = None
    top_n: int | None = Field(None, ge=1)
    return_documents: bool = False
    preprocess: PreprocessOptions | None = None
    quality: QualityOptions | None = None
    explain: bool = False


class SubScoreOut(BaseModel):
    value: float | None
    reason: str | None = None
    split: str | None = None


class ResultOut(BaseModel):
    index: int
    relevance_score: float
    document: dict[str, Any] | None = None
    penalized_score: float | None = None
    quality: float | None = None
    num_tokens: int
    images: list[dict[str, Any]] = []
    sub_scores: dict[str, SubScoreOut] | None = None


class RejectedOut(BaseModel):
    index: int
    status: Literal["rejected"] = "rejected"
    message: str
    quality: float | None
    document: dict[str, Any] | None = None


class Usage(BaseModel):
    total_tokens: int
    images: int
    pairs: int


class Timing(BaseModel):
    prepare_ms: float
    model_ms: float


class RerankResponse(BaseModel):
    model: str
    results: list[ResultOut]
    rejected: list[RejectedOut] = []
    usage: Usage
    timing: Timing
    warning: str | None = None


class ErrorDetail(BaseModel):
    type: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
