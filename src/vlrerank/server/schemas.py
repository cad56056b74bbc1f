"""Request and response bodies of the REST API, shaped like the common rerank APIs.

``query`` and ``documents`` take plain strings (as Cohere/Jina/vLLM clients send), our multimodal
objects ``{text, image, video}`` (also Jina's ``{"image": ...}``), or OpenAI/vLLM content parts
``{"content": [{"type": "text"|"image_url"|"video_url", ...}]}``; images are ``data:`` URIs (or
URLs when the server allows them), never server paths. The other dialects' bodies (Cohere v2, TEI,
vLLM's /score) are in ``dialects/``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The answer's models are the client's too, so they live at library level; named here as well.
from ..ranking_schema import (  # noqa: F401
    DataOut,
    RejectedOut,
    RerankResponse,
    ResultOut,
    SubScoreOut,
    Timing,
    Usage,
)

ImageRef = str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Lenient(BaseModel):
    """A body peers' clients write to: fields it does not declare are kept in ``model_extra`` for
    the field policy (``server/fields.py``) to ignore and report, or refuse on strict servers."""

    model_config = ConfigDict(extra="allow")


class MultimodalObject(Lenient):
    text: str | list[str] | None = None
    image: ImageRef | list[ImageRef] | None = None
    video: list[ImageRef] | str | None = Field(
        None, description="frames, each an image reference; or one video as a data:video/... URI or URL"
    )

    @model_validator(mode="before")
    @classmethod
    def _not_content_parts(cls, data: Any) -> Any:
        # Content parts are the other shape (ContentObject): a mix of both is a mistake, not a
        # field to ignore.
        if isinstance(data, dict) and "content" in data:
            raise ValueError("give either content parts or text/image/video, not both")
        return data

    @model_validator(mode="after")
    def _something_to_score(self) -> MultimodalObject:
        # An object of only unknown fields is a misspelling (``imag``), not a document to ignore.
        if self.text is None and self.image is None and self.video is None and self.model_extra:
            names = ", ".join(self.model_extra)
            raise ValueError(f"no text, image or video; unknown field(s): {names}")
        return self


class MediaUrl(Strict):
    url: str = Field(description="a data: URI, or an http(s) URL when the server allows URLs")
    detail: str | None = Field(None, description="OpenAI's image detail hint; accepted and ignored")


class TextPart(Strict):
    type: Literal["text"]
    text: str


class ImageUrlPart(Strict):
    type: Literal["image_url"]
    image_url: MediaUrl | str


class VideoUrlPart(Strict):
    type: Literal["video_url"]
    video_url: MediaUrl | str


ContentPart = Annotated[TextPart | ImageUrlPart | VideoUrlPart, Field(discriminator="type")]


class ContentObject(Strict):
    """OpenAI/vLLM content parts, as vLLM's rerank and score APIs take a multimodal document."""

    content: list[ContentPart] = Field(min_length=1)


Side = str | MultimodalObject | ContentObject


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


IGNORED_FIELDS = ("rank_fields", "priority")


class CompatFields(Lenient):
    """Fields the stock clients send: honoured where they mean something here, else ignored."""

    max_tokens_per_doc: int | None = Field(
        None, ge=1, description="cut each document's text to this many tokens (each result says so)"
    )
    truncate_prompt_tokens: int | None = Field(
        None, description="vLLM's name for max_tokens_per_doc; -1 or 0: no cut"
    )
    truncation_direction: Literal["left", "right"] = Field(
        "right", description="which end of a too-long text is cut away"
    )
    truncation_side: Literal["left", "right"] | None = Field(
        None, description="vLLM's name for truncation_direction (wins when both are given)"
    )
    use_activation: bool | None = Field(
        None, description="false: relevance_score is the raw yes-minus-no logit instead of its sigmoid"
    )
    rank_fields: Any = Field(None, description="accepted and ignored (documents are not structured)")
    max_chunks_per_doc: int | None = Field(
        None, ge=1, description="score long texts in up to this many chunks of max_tokens_per_doc tokens"
    )
    overlap_tokens: int | None = Field(
        None, ge=0, description="tokens each chunk repeats from the one before"
    )
    priority: Any = Field(None, description="accepted and ignored (requests are served in order)")

    raw_scores: bool | None = Field(
        None, description="TEI's and Infinity's switch: true is use_activation false (false: probability)"
    )
    top_k: int | None = Field(None, ge=0, description="Voyage's and Mixedbread's name for top_n")
    instruct: str | None = Field(None, description="Qwen's and DashScope's name for instruction")
    return_len: bool = Field(False, description="Xinference's: meta.tokens in the answer counts tokens read")

    @field_validator("truncation_direction", "truncation_side", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value  # TEI writes "Left" / "Right"

    @property
    def direction(self) -> Literal["left", "right"]:
        """Which end a token limit cuts away: vLLM's ``truncation_side`` or ``truncation_direction``."""
        return self.truncation_side or self.truncation_direction

    @property
    def token_limit(self) -> int | None:
        limit = self.max_tokens_per_doc or self.truncate_prompt_tokens
        return limit if limit is not None and limit > 0 else None

    @property
    def raw(self) -> bool:
        return self.use_activation is False or self.raw_scores is True


def split_content(data: Any, keys: tuple[str, ...]) -> Any:
    """vLLM's multimodal list (``ScoreMultiModalParam``): one ``{"content": [...]}`` object whose
    parts are the documents, each part one document."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key in keys:
        value = out.get(key)
        if isinstance(value, dict) and isinstance(value.get("content"), list) and len(value) == 1:
            out[key] = [{"content": [part]} for part in value["content"]]
    return out


class RerankRequest(CompatFields):
    model: str | None = Field(
        None, description="any name (the response says which model answered); strict servers want theirs"
    )
    query: Side
    documents: list[Side]
    instruction: str | None = None
    top_n: int | None = Field(None, ge=0, description="keep the best top_n; 0 or absent: all")
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
    aggregation: Literal["max", "mean_top_k"] = Field(
        "max", description="how a PDF's pages (a long text's chunks) make the document's score"
    )
    aggregation_k: int = Field(3, ge=1, description="pages averaged by mean_top_k")
    granularity: Literal["document", "page"] = Field(
        "document", description="page: one result per page/chunk"
    )
    return_segments: bool = Field(False, description="list every page's (chunk's) score in each result")

    @model_validator(mode="before")
    @classmethod
    def _content_list(cls, data: Any) -> Any:
        return split_content(data, ("documents",))

    @model_validator(mode="after")
    def _synonyms(self) -> RerankRequest:
        # The peers' names for our fields: ours wins when both are given.
        if self.instruction is None and self.instruct is not None:
            self.instruction = self.instruct
        if self.top_n is None and self.top_k is not None:
            self.top_n = self.top_k
        return self


class ErrorDetail(BaseModel):
    type: str = Field(description="one of the error types listed in docs/api.md")
    message: str
    param: str | None = Field(None, description="the field at fault (OpenAI's name)")
    code: int = Field(description="the HTTP status")
    field: str | None = Field(None, description="the field at fault")


class ErrorResponse(BaseModel):
    error: ErrorDetail
    detail: str = Field(description="the field at fault, then the message (what Jina's clients read)")
    message: str | None = Field(
        None, description="on /v1/rerank only: the field at fault, then the message (Cohere v1's error body)"
    )
    title: str | None = Field(None, description="on NIM's routes only: the status's reason phrase")
    status: int | None = Field(None, description="on NIM's routes only: the HTTP status")
