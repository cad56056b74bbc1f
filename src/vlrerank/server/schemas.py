"""Request and response bodies of the REST API, shaped like the common rerank APIs.

``query`` and ``documents`` take plain strings (as Cohere/Jina/vLLM clients send) or multimodal
objects; images are ``data:`` URIs (or URLs when the server allows them), never server paths.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ImageRef = str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MultimodalObject(Strict):
    text: str | list[str] | None = None
    image: ImageRef | list[ImageRef] | None = None
    video: list[ImageRef] | None = Field(None, description="frames, each an image reference")


class PreprocessOptions(Strict):
    mode: Literal["native", "fit", "crop", "stretch"] | None = Field(
        None,
        description=(
            "default: crop when a size or preset is given (cuts another aspect ratio to the target's; "
            "use fit to keep the whole image), else native"
        ),
    )
    size: tuple[int, int] | None = None
    preset: Literal["general", "product", "art", "art-large", "document"] | None = None
    aspect_snap: Literal["off", "auto"] = "off"
    interpolation: Literal["bicubic", "bilinear", "lanczos", "nearest", "box", "hamming"] = "bicubic"
    pad_color: tuple[int, int, int] = (255, 255, 255)
    blur_sigma: float = Field(0.0, ge=0, le=50)


class QualityOptions(Strict):
    policy: Literal["off", "reject", "penalize"] = Field(
        "off", description="off, reject or penalize (the Python API's QualityPolicy calls it `mode`)"
    )
    threshold: float = Field(0.65, gt=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _policy_not_mode(cls, data: Any) -> Any:
        # The Python API names this field `mode`; say so rather than "extra inputs are not permitted".
        if isinstance(data, dict) and "mode" in data:
            raise ValueError(
                "the quality option is called 'policy' in the REST API ('mode' is its name in the "
                'Python API\'s QualityPolicy): send {"policy": "reject"} or "penalize" or "off"'
            )
        return data


class RerankRequest(Strict):
    model: str | None = Field(None, description="must name the served model when given")
    query: str | MultimodalObject
    documents: list[str | MultimodalObject]
    instruction: str | None = None
    top_n: int | None = Field(None, ge=1)
    return_documents: bool = Field(
        False,
        description=(
            "echo each document in its result: texts and image references as sent, but a data: URI "
            "only as its header and length (e.g. `data:image/png;base64,<5012 characters omitted>`)"
        ),
    )
    preprocess: PreprocessOptions | None = None
    quality: QualityOptions | None = None
    explain: bool = False
    drop_below_threshold: bool = Field(
        False, description="leave out results under the calibrator's threshold (when one is loaded)"
    )


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
    probability: float | None = Field(None, description="calibrated probability (a calibrator is loaded)")
    below_threshold: bool | None = Field(None, description="probability under the calibrator's threshold")


class RejectedOut(BaseModel):
    index: int
    status: Literal["rejected"] = "rejected"
    message: str
    quality: float | None
    document: dict[str, Any] | None = None


class Usage(BaseModel):
    total_tokens: int
    images: int
    pairs: int = Field(
        description="(query, document) pairs the model scored, explain's sub-score pairs included"
    )


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
    threshold: float | None = Field(None, description="the calibrator's threshold, when it has one")
    nothing_relevant: bool | None = Field(
        None, description="true when a threshold is loaded and no candidate reaches it"
    )


class ErrorDetail(BaseModel):
    type: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
