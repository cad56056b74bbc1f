"""Engine configuration: one frozen object that says how a checkpoint is run."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

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
DEFAULT_INSTRUCTION = "Given a search query, retrieve relevant candidates that answer the query."

DeviceName = str  # "auto", "cpu", "cuda", "cuda:1", ...
DtypeName = Literal["auto", "float32", "bfloat16", "float16"]


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
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

    device: DeviceName = "auto"
    dtype: DtypeName = "auto"
    attn_implementation: str = "auto"
    max_length: int = DEFAULT_MAX_LENGTH
    token_budget: int | None = None
    max_batch_pairs: int = 64
    min_pixels: int = DEFAULT_MIN_PIXELS
    max_pixels: int = DEFAULT_MAX_PIXELS
    video_total_pixels: int = DEFAULT_VIDEO_TOTAL_PIXELS
    fps: float = 1.0
    max_frames: int = 64
    default_instruction: str = DEFAULT_INSTRUCTION
    allow_urls: bool = False
    allow_private_urls: bool = False
    media_root: str | None = None
    url_timeout_s: float = 10.0
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    prepare_workers: int = 4
    prefix_reuse: bool = True
    prefix_min_saved_tokens: int = 2048
    vision_cache_mb: int = 256
    vision_prefetch: bool = True
    vision_patch_budget: int = 16384
    cudnn_attention: bool = False
    torch_compile: bool = False
    max_tokens_per_doc: int | None = None
    max_chunks_per_doc: int = 16
    overlap_tokens: int = 64
    pdf_dpi: float = 144.0
    pdf_max_pages: int = 64
    pdf_max_total_pixels: int = 200_000_000
    pdf_render_timeout_s: float = 30.0
    revision: str | None = None
    chat_template: Literal["auto", "bundled"] = "auto"

    def __post_init__(self) -> None:
        positive = {
            "max_length": self.max_length,
            "token_budget": 1 if self.token_budget is None else self.token_budget,
            "max_batch_pairs": self.max_batch_pairs,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
            "video_total_pixels": self.video_total_pixels,
            "max_frames": self.max_frames,
            "max_image_bytes": self.max_image_bytes,
            "max_image_pixels": self.max_image_pixels,
            "prepare_workers": self.prepare_workers,
            "vision_patch_budget": self.vision_patch_budget,
            "max_tokens_per_doc": 1 if self.max_tokens_per_doc is None else self.max_tokens_per_doc,
            "max_chunks_per_doc": self.max_chunks_per_doc,
            "pdf_max_pages": self.pdf_max_pages,
            "pdf_max_total_pixels": self.pdf_max_total_pixels,
        }
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"EngineConfig.{name} must be a positive integer, got {value!r}")
        for name in ("vision_cache_mb", "prefix_min_saved_tokens", "overlap_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"EngineConfig.{name} must be an integer of 0 or more, got {value!r}")
        for name in ("prefix_reuse", "cudnn_attention", "torch_compile", "vision_prefetch"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"EngineConfig.{name} must be true or false, got {getattr(self, name)!r}")
        if self.min_pixels > self.max_pixels:
            raise ConfigError(
                f"EngineConfig.min_pixels ({self.min_pixels}) is above max_pixels ({self.max_pixels})"
            )
        for name in ("pdf_dpi", "pdf_render_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"EngineConfig.{name} must be a positive number, got {value!r}")
        if not self.fps > 0:
            raise ConfigError(f"EngineConfig.fps must be positive, got {self.fps!r}")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ConfigError(
                f"EngineConfig.dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}"
            )
        if self.chat_template not in ("auto", "bundled"):
            raise ConfigError(
                f"EngineConfig.chat_template must be auto or bundled, got {self.chat_template!r}"
            )
        if self.revision is not None and (not isinstance(self.revision, str) or not self.revision.strip()):
            raise ConfigError(f"EngineConfig.revision must be a branch, tag or commit, got {self.revision!r}")
        if self.attn_implementation not in ("auto", "sdpa", "eager", "flash_attention_2"):
            raise ConfigError(
                "EngineConfig.attn_implementation must be auto, sdpa, eager or flash_attention_2, "
                f"got {self.attn_implementation!r}"
            )

    @property
    def chunk_tokens(self) -> int:
        """Tokens per chunk of a long document text when a request does not say."""
        return self.max_tokens_per_doc or max(1, self.max_length * 3 // 4)

    def with_(self, **changes: Any) -> EngineConfig:
        """A copy with some fields changed (validated again)."""
        try:
            return replace(self, **changes)
        except TypeError as exc:  # unknown field name
            raise ConfigError(str(exc)) from None

    def with_keywords(self, keywords: dict[str, Any], *, caller: str = "Reranker()") -> EngineConfig:
        """A copy with constructor keywords applied: field names, the reference class's names
        (``total_pixels``, ``torch_dtype``, a ``torch.dtype``), and a hint for other rerankers'."""
        known = {f.name for f in fields(EngineConfig)}
        changes = {}
        for key, value in keywords.items():
            name = _REFERENCE_ALIASES.get(key, key)
            if name not in known:
                hint = _KEYWORD_HINTS.get(key, "see EngineConfig for every setting")
                raise ConfigError(f"{caller} has no keyword {key!r}: {hint}")
            if name == "dtype" and not isinstance(value, str):  # torch.bfloat16 -> "bfloat16"
                value = str(value).removeprefix("torch.")
            changes[name] = value
        return self.with_(**changes) if changes else self


# Constructor keywords of the reference class, mapped onto EngineConfig fields.
_REFERENCE_ALIASES = {"total_pixels": "video_total_pixels", "torch_dtype": "dtype"}
# Keywords other rerankers take, and the setting that does that job here.
_KEYWORD_HINTS = {
    "batch_size": "batches are sized by tokens, not pairs: use token_budget=N (padded tokens per "
    "forward batch) and/or max_batch_pairs=N",
    "device_map": "use device='cuda:0' (or 'cpu', 'auto')",
    "model_kwargs": "pass EngineConfig fields as keywords, e.g. dtype='bfloat16'",
}
