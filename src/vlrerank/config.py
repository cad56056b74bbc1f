"""Engine configuration: one frozen object that says how a checkpoint is run."""

from __future__ import annotations

import types
import typing
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from .errors import ConfigError

# The reference implementation's constants (Qwen3-VL-Reranker, qwen-vl-utils with patch 16).
IMAGE_FACTOR = 32  # patch_size 16 * spatial merge 2
DEFAULT_MIN_PIXELS = 4 * IMAGE_FACTOR * IMAGE_FACTOR
DEFAULT_MAX_PIXELS = 1800 * IMAGE_FACTOR * IMAGE_FACTOR
FRAME_MAX_PIXELS = 768 * IMAGE_FACTOR * IMAGE_FACTOR
DEFAULT_VIDEO_TOTAL_PIXELS = 10 * FRAME_MAX_PIXELS
DEFAULT_MAX_LENGTH = 10240
# One image's guards, shared by the engine, the server's uploads and the image loader.
DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000
# One PDF's guards, shared by the engine's settings and the PDF reader's own defaults.
DEFAULT_PDF_MAX_PAGES = 64
DEFAULT_PDF_MAX_TOTAL_PIXELS = 200_000_000
DEFAULT_PDF_RENDER_TIMEOUT_S = 30.0
DEFAULT_INSTRUCTION = "Given a search query, retrieve relevant candidates that answer the query."

# Bounds on video sampling, the config's defaults and each request's: beyond these a request only
# costs memory and time.
MAX_FPS = 30.0
MAX_FRAMES = 768  # qwen-vl-utils' own ceiling

DeviceName = str  # "auto", "cpu", "cuda", "cuda:1", ...
# The device types torch.device accepts, so that a typo fails here rather than when loading.
_DEVICE_PATTERN = (
    r"^(auto|(cpu|cuda|mps|xpu|hpu|mtia|meta|ipu|mkldnn|opengl|opencl|ideep|hip|ve|fpga|maia|xla|lazy"
    r"|vulkan|privateuseone)(:\d+)?)$"
)
DtypeName = Literal["auto", "float32", "bfloat16", "float16"]


class EngineConfig(BaseModel):
    """How the engine runs a checkpoint. Frozen: derive variants with :meth:`with_`.

    Attributes:
        device: ``auto`` picks CUDA when available, else CPU.
        dtype: ``auto`` is bfloat16 on CUDA and float32 on CPU. Scores are always computed in float32.
        attn_implementation: ``auto`` (sdpa), ``sdpa``, ``eager`` or ``flash_attention_2``.
        max_length: text-token cap per pair before the final 5 prompt tokens, as the reference.
        token_budget: most padded tokens (rows x longest row) in one forward batch; ``None`` sizes
            it to the model (:func:`vlrerank.engine.token_batches.default_token_budget`: 8,192 tokens
            for Qwen3-VL-2B, 16,384 for 8B), keeping peak memory near weights + 25%.
        max_batch_pairs: most pairs in one forward batch.
        min_pixels / max_pixels: the model-side image pixel bounds (reference: 4 and 1800 tokens).
        video_total_pixels: pixel budget spread over the frames of a frame-list video.
        fps / max_frames: default sampling of video files.
        default_instruction: used when a request gives none.
        allow_urls: fetch ``http(s)://`` images; off by default because it reaches the network.
            Only public addresses are fetched, checked again on every redirect (at most 5), unless
            ``allow_private_urls`` (for trusted networks and tests); the connection goes to the
            address that was checked, and proxy variables are ignored.
        media_root: when set, local image and video paths must resolve inside this folder
            (``..`` and symlinks are followed first), so callers cannot read other files.
        prepare_workers: threads that decode and resize documents' images in parallel (1 = none).
        prefix_reuse: encode the part every pair of a request shares (system, instruction, query and
            its images) once, and score documents as continuations of it (same scores, less work).
        prefix_min_saved_tokens: share a prefix only when that saves at least this many tokens
            (a separate forward has a fixed cost; 0 shares every prefix worth 20% of the work).
        cudnn_attention: let PyTorch pick cuDNN's attention kernels on CUDA. Off by default:
            cuDNN builds an execution plan for every new (rows, length) shape, tens to hundreds of
            milliseconds each, and a reranker sees new shapes all the time.
        vision_cache_mb: device memory kept for vision-tower outputs, reused across batches and
            requests for identical pixels (0 = only within one batch).
        torch_compile: compile every decoder layer and vision block with ``torch.compile``
            (dynamic shapes; one compiled graph serves all layers alike). Fuses the norms, rotary
            embeddings and activations that eager PyTorch runs as separate kernels; costs
            compilation on the first forwards and compiles the checkpoint's model in place.
        vision_prefetch: send each picture to the vision tower as soon as it is prepared, while
            the request's later documents are still being prepared; the outputs wait for their
            forward (at most ``token_budget`` placeholder tokens of them, across requests).
        vision_patch_budget: most patches (16x16 pixels, before merging) the vision tower runs at
            once; its activations, not the language model's, set the engine's peak memory.
        url_timeout_s / max_image_bytes / max_image_pixels: guards on what an image may cost
            (``url_timeout_s`` bounds a whole URL fetch, redirects included).
        max_tokens_per_doc: tokens per chunk of a long document text (``None``: three quarters of
            ``max_length``); a longer text is scored in chunks, never cut silently.
        max_chunks_per_doc: most chunks scored per document (beyond: the result says ``truncated``).
        overlap_tokens: tokens each chunk repeats from the one before.
        pdf_dpi: a PDF page's nominal resolution, before the pixel bounds size it for the model.
        pdf_max_pages / pdf_max_total_pixels / pdf_render_timeout_s: what one PDF, and one
            request's pages, may cost (see ``docs/api.md``, PDF documents).
        revision: for a Hugging Face id, the branch, tag or commit to load (default: ``main``);
            the log names the commit that was loaded.
        chat_template: ``auto`` renders prompts with whichever of the checkpoint's templates
            renders the published reranker prompt (else vlrerank's bundled one; loading fails
            when the checkpoint defines a different reranker prompt); ``bundled`` always uses
            vlrerank's. See ``docs/checkpoints.md``.
    """

    # Strict: a value of the wrong kind (``"5"``, ``True`` for a count) is refused, not converted;
    # text from the environment, a file or the command line is parsed by the settings sources.
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    device: DeviceName = Field("auto", pattern=_DEVICE_PATTERN)
    dtype: DtypeName = "auto"
    attn_implementation: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"
    max_length: PositiveInt = DEFAULT_MAX_LENGTH
    token_budget: PositiveInt | None = None
    max_batch_pairs: PositiveInt = 64
    min_pixels: PositiveInt = DEFAULT_MIN_PIXELS
    max_pixels: PositiveInt = Field(DEFAULT_MAX_PIXELS, validate_default=True)  # checked against min_pixels
    video_total_pixels: PositiveInt = DEFAULT_VIDEO_TOTAL_PIXELS
    fps: float = Field(1.0, gt=0, le=MAX_FPS)
    max_frames: int = Field(64, ge=2, le=MAX_FRAMES)
    default_instruction: str = DEFAULT_INSTRUCTION
    allow_urls: bool = False
    allow_private_urls: bool = False
    media_root: str | None = None
    url_timeout_s: PositiveFloat = 10.0
    max_image_bytes: PositiveInt = DEFAULT_MAX_IMAGE_BYTES
    max_image_pixels: PositiveInt = DEFAULT_MAX_IMAGE_PIXELS
    prepare_workers: PositiveInt = 4
    prefix_reuse: bool = True
    prefix_min_saved_tokens: NonNegativeInt = 2048
    vision_cache_mb: NonNegativeInt = 256
    vision_prefetch: bool = True
    vision_patch_budget: PositiveInt = 16384
    cudnn_attention: bool = False
    torch_compile: bool = False
    max_tokens_per_doc: PositiveInt | None = None
    max_chunks_per_doc: PositiveInt = 16
    overlap_tokens: NonNegativeInt = 64
    pdf_dpi: PositiveFloat = 144.0
    pdf_max_pages: PositiveInt = DEFAULT_PDF_MAX_PAGES
    pdf_max_total_pixels: PositiveInt = DEFAULT_PDF_MAX_TOTAL_PIXELS
    pdf_render_timeout_s: PositiveFloat = DEFAULT_PDF_RENDER_TIMEOUT_S
    revision: str | None = Field(None, pattern=r"\S")
    chat_template: Literal["auto", "bundled"] = "auto"

    if not TYPE_CHECKING:  # mypy keeps the signature pydantic's plugin derives from the fields

        def __init__(self, **values: Any) -> None:
            try:
                super().__init__(**values)
            except ValidationError as exc:
                raise ConfigError("; ".join(describe_error(error) for error in exc.errors())) from None

        # Pydantic calls an overridden __init__ when it validates an EngineConfig nested in the
        # settings too; this marks it as the plain one, so that there the errors stay pydantic's,
        # with the field's location, for the settings to name the source of the value.
        __init__.__pydantic_base_init__ = True

    @field_validator("max_pixels")
    @classmethod
    def _bounds_in_order(cls, max_pixels: int, info: ValidationInfo) -> int:
        min_pixels = info.data.get("min_pixels")
        if min_pixels is not None and min_pixels > max_pixels:
            raise ValueError(f"EngineConfig.min_pixels ({min_pixels}) is above max_pixels ({max_pixels})")
        return max_pixels

    @property
    def chunk_tokens(self) -> int:
        """Tokens per chunk of a long document text when a request does not say."""
        return self.max_tokens_per_doc or max(1, self.max_length * 3 // 4)

    def with_(self, **changes: Any) -> EngineConfig:
        """A copy with some fields changed (validated again)."""
        return EngineConfig(**{**self.model_dump(), **changes}) if changes else self

    def with_keywords(self, keywords: dict[str, Any], *, caller: str = "Reranker()") -> EngineConfig:
        """A copy with constructor keywords applied: field names, the reference class's names
        (``total_pixels``, ``torch_dtype``, a ``torch.dtype``), and a hint for other rerankers'."""
        known = set(EngineConfig.model_fields)
        changes = {}
        for key, value in keywords.items():
            name = _REFERENCE_ALIASES.get(key, key)
            if name not in known:
                hint = _KEYWORD_HINTS.get(key, "see EngineConfig for every setting")
                raise ConfigError(f"{caller} has no keyword {key!r}: {hint}")
            if name == "dtype" and not isinstance(value, str):  # torch.bfloat16 -> "bfloat16"
                value = str(value).removeprefix("torch.")
            changes[name] = value
        return self.with_(**changes)


# Constructor keywords of the reference class, mapped onto EngineConfig fields.
_REFERENCE_ALIASES = {"total_pixels": "video_total_pixels", "torch_dtype": "dtype"}
# Keywords other rerankers take, and the setting that does that job here.
_KEYWORD_HINTS = {
    "batch_size": "batches are sized by tokens, not pairs: use token_budget=N (padded tokens per "
    "forward batch) and/or max_batch_pairs=N",
    "device_map": "use device='cuda:0' (or 'cpu', 'auto')",
    "model_kwargs": "pass EngineConfig fields as keywords, e.g. dtype='bfloat16'",
}


# What a field's value must be, where its type and bounds do not say it in words.
_EXPECTED = {
    "device": "auto, cpu, cuda or cuda:N (or another torch device type)",
    "revision": "a branch, tag or commit",
}


def field_kind(name: str) -> tuple[Any, list[Any], bool]:
    """``EngineConfig.<name>``'s base type, its constraints (``annotated_types`` bounds) and whether
    it may be ``None``."""
    info = EngineConfig.model_fields[name]
    kind, metadata = info.annotation, list(info.metadata)
    optional = False
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(kind) if member is not type(None)]
        optional, kind = len(members) < len(typing.get_args(kind)), members[0]
    if typing.get_origin(kind) is typing.Annotated:
        kind, *more = typing.get_args(kind)
        metadata += more
    return kind, metadata, optional


def _expected(name: str) -> str:
    if name in _EXPECTED:
        return _EXPECTED[name]
    kind, metadata, _ = field_kind(name)
    if kind is bool:
        return "true or false"
    if typing.get_origin(kind) is Literal:
        choices = [str(choice) for choice in typing.get_args(kind)]
        return f"{', '.join(choices[:-1])} or {choices[-1]}"
    if kind not in (int, float):
        return "a string"
    word = "an integer" if kind is int else "a number"
    bounds = {key: getattr(m, key) for m in metadata for key in ("gt", "ge", "le") if hasattr(m, key)}
    if "le" not in bounds and bounds.get("gt") == 0:
        return f"a positive {word.split()[-1]}"
    if "le" not in bounds and bounds.get("ge") == 0:
        return f"{word} of 0 or more"
    low = f"({bounds['gt']:g}" if "gt" in bounds else f"[{bounds['ge']:g}"
    return f"{word} in {low}, {bounds['le']:g}]"


def describe_error(error: ErrorDetails) -> str:
    """One of pydantic's validation errors about an EngineConfig field, in words that name the field
    and say what it must be. ``error["loc"]`` ends with the field's name."""
    name = str(error["loc"][-1]) if error["loc"] else ""
    if error["type"] == "extra_forbidden":
        return f"EngineConfig has no field {name!r} (fields: {', '.join(sorted(EngineConfig.model_fields))})"
    if error["type"] == "value_error":  # a check across fields: its message says it all
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if name not in EngineConfig.model_fields:
        return f"EngineConfig: {error['msg']}"
    return f"EngineConfig.{name} must be {_expected(name)}, got {error['input']!r}"
