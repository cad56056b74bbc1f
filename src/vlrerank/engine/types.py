"""The engine's shared types: a request, what its inputs become, and what comes back.

Words used throughout the engine and its docs: a *visual* is one image or one video as the model
sees it (an *image* is a still one); a *side* is the query or one document; a *pair* is the model
input for one (query, document); *provenance* is what happened to an image on its way in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import torch

from ..errors import InputError, ScoringFailed
from ..inputs.schema import MultimodalInput
from ..preprocess.choices import PreprocessConfig, QualityPolicy
from ..preprocess.provenance import ImageProvenance
from .explain import Explanation

IMAGE_PAD, VIDEO_PAD = "<|image_pad|>", "<|video_pad|>"
VISION_START, VISION_END = "<|vision_start|>", "<|vision_end|>"
MM_TEXT, MM_IMAGE, MM_VIDEO = 0, 1, 2


@dataclass(frozen=True)
class ScoreRequest:
    """One validated request, built once by :class:`vlrerank.Reranker` and read by every stage.

    ``preprocess`` is one config for every document or one per document; either way
    :meth:`preprocess_for` gives a document's.
    """

    query: MultimodalInput
    documents: tuple[MultimodalInput, ...]
    instruction: str
    fps: float
    max_frames: int
    preprocess: PreprocessConfig | Sequence[PreprocessConfig | None] | None = None
    quality: QualityPolicy = field(default_factory=QualityPolicy)
    explain: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "documents", tuple(self.documents))
        if self.preprocess is None or isinstance(self.preprocess, PreprocessConfig):
            return
        configs = tuple(self.preprocess)
        if len(configs) != len(self.documents):
            raise InputError(
                f"got {len(configs)} preprocess configs for {len(self.documents)} documents; "
                "give one, or one per document",
                field="preprocess",
            )
        for i, config in enumerate(configs):
            if config is not None and not isinstance(config, PreprocessConfig):
                raise InputError(
                    f"expected a PreprocessConfig, got {type(config).__name__}", field=f"preprocess[{i}]"
                )
        object.__setattr__(self, "preprocess", configs)

    def preprocess_for(self, document: int) -> PreprocessConfig | None:
        if self.preprocess is None or isinstance(self.preprocess, PreprocessConfig):
            return self.preprocess
        return self.preprocess[document]


@dataclass(frozen=True, eq=False)
class VisualInput:
    """One visual: its uint8 frames, and its float32 patches once they are computed.

    ``key`` fingerprints exactly what the vision tower computes from (pixels, grid and kind), so
    equal keys mean equal vision outputs: it keys the vision cache and lets a prefix hold visuals.
    """

    frames: torch.Tensor  # uint8 (frames, 3, height, width); one frame for an image
    grid_thw: tuple[int, int, int]
    slot_filler: str  # what the template's vision slot expands to
    provenance: ImageProvenance
    is_video: bool = False
    key: str = ""  # computed from the frames when not given
    patches: torch.Tensor | None = None  # (num_patches, patch_dim) float32, when patched on the host

    def __post_init__(self) -> None:
        if self.key:
            return
        # SHA-256 has CPU instructions on current x86 and ARM: twice as fast here as BLAKE2b.
        digest = hashlib.sha256(self.frames.contiguous().numpy().data)
        kind = "video" if self.is_video else "image"
        digest.update(repr((kind, tuple(self.frames.shape), self.grid_thw)).encode())
        object.__setattr__(self, "key", digest.hexdigest()[:32])

    @property
    def num_patches(self) -> int:
        t, h, w = self.grid_thw
        return t * h * w


@dataclass(frozen=True)
class PreparedSide:
    """One side with its visuals decoded, sized and patched."""

    source: MultimodalInput
    videos: tuple[VisualInput, ...]
    images: tuple[VisualInput, ...]

    @property
    def has_text(self) -> bool:
        return bool(self.source.texts)

    @property
    def has_visual(self) -> bool:
        return bool(self.images or self.videos)

    @property
    def visuals(self) -> tuple[VisualInput, ...]:
        """Videos, then images: the order of the prompt's vision slots."""
        return self.videos + self.images

    def visual_only(self) -> PreparedSide:
        """The same side without its texts (visuals are reused, not decoded again)."""
        source = MultimodalInput(images=self.source.images, videos=self.source.videos)
        return PreparedSide(source, self.videos, self.images)

    def text_only(self) -> PreparedSide:
        return PreparedSide(MultimodalInput(texts=self.source.texts), (), ())


@dataclass(frozen=True)
class VisualSpan:
    """Where one visual sits in a pair's tokens: ``[start, end)`` covers its placeholders."""

    start: int
    end: int
    visual: VisualInput


@dataclass(frozen=True)
class EncodedPair:
    """Everything the model needs for one (query, document) pair.

    ``spans`` lists the pair's visuals in token order; ``group`` is equal for pairs that share
    instruction and query (the candidates for one shared prefix).
    """

    input_ids: tuple[int, ...]
    spans: tuple[VisualSpan, ...] = ()
    group: Hashable = None
    positions: torch.Tensor | None = field(default=None, compare=False, repr=False)  # (3, tokens) M-RoPE

    @property
    def num_tokens(self) -> int:
        return len(self.input_ids)

    @property
    def images(self) -> tuple[VisualInput, ...]:
        return tuple(s.visual for s in self.spans if not s.visual.is_video)

    @property
    def videos(self) -> tuple[VisualInput, ...]:
        return tuple(s.visual for s in self.spans if s.visual.is_video)


@dataclass(frozen=True, kw_only=True)
class PairScore:
    """One document's outcome.

    Attributes:
        score: relevance probability, or ``None`` when the document was not scored.
        logit: the yes-minus-no logit behind ``score`` (``score == sigmoid(logit)``).
        num_tokens: prompt tokens of the pair (0 when the quality gate rejected it).
        images: provenance of the document's visuals.
        quality: the lowest quality score among the document's images (``None`` without one).
        penalized: ``score`` down-weighted by the ``penalize`` policy, else ``None``.
        rejection: why the document was not scored (the quality gate's message, or the
            :class:`ScoringFailed` that stopped it), else ``None``.
        explanation: measured sub-scores, when asked for.
    """

    score: float | None
    logit: float | None = None
    num_tokens: int = 0
    images: tuple[ImageProvenance, ...] = ()
    quality: float | None = None
    penalized: float | None = None
    rejection: str | ScoringFailed | None = None
    explanation: Explanation | None = None


@dataclass(frozen=True)
class ScoredRequest:
    scores: tuple[PairScore, ...]  # in document order
    query_images: tuple[ImageProvenance, ...]
    prepare_s: float
    forward_s: float
    num_batches: int
