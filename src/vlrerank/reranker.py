"""The public Python API: a drop-in for the reference ``Qwen3VLReranker``, plus ``rank``."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from .calibration import Calibrator, load_calibrator
from .checkpoints import RANDOM_WEIGHTS_WARNING, named_checkpoint
from .config import MAX_FPS, MAX_FRAMES, EngineConfig
from .documents import DocumentOptions, Expansion, assemble, expand, renamed
from .engine import (
    LoadedCheckpoint,
    ScoreRequest,
    ScoringBackend,
    ScoringEngine,
    load_checkpoint,
)
from .engine.chunking import ChunkOptions
from .engine.template import ChatTemplate
from .engine.types import ScoredRequest
from .errors import InputError, ScoringFailed
from .inputs.explicit import refuse_bare_media
from .inputs.schema import MultimodalInput, to_documents, to_multimodal
from .inputs.text import check_text
from .preprocess.choices import PreprocessConfig, QualityPolicy
from .ranking import RankedResults, rank_order

logger = logging.getLogger(__name__)

_REQUEST_KEYS = frozenset({"instruction", "query", "documents", "fps", "max_frames"})


class Reranker:
    """Scores (query, document) pairs with a Qwen3-VL-Reranker checkpoint.

    Args:
        model_name_or_path: a Hugging Face id (``Qwen/Qwen3-VL-Reranker-2B``), a local checkpoint
            directory, ``tiny-random`` (an offline random-weight model whose scores are
            meaningless), or an already loaded checkpoint (as :meth:`from_checkpoint`).
        config: engine settings; keyword arguments override single fields, and the reference's
            names (``max_length``, ``min_pixels``, ``max_pixels``, ``total_pixels``, ``fps``,
            ``max_frames``, ``default_instruction``, ``torch_dtype``) are accepted too.
        calibration: a calibrator file (or :class:`~vlrerank.calibration.Calibrator`) fitted by
            ``vlrerank eval``; every result of :meth:`rank` then carries a calibrated
            ``probability`` (and ``below_threshold`` when the file holds a threshold).
        backend: the model stage (see :class:`vlrerank.engine.ScoringBackend`); by default the
            checkpoint's transformers model. Tests put a double here.

    Example:
        >>> from vlrerank import Reranker
        >>> reranker = Reranker("tiny-random")  # doctest: +SKIP
        >>> ranked = reranker.rank("a red car", ["a red car parked", "a bowl of soup"])  # doctest: +SKIP
        >>> [r.index for r in ranked]  # doctest: +SKIP
        [0, 1]
    """

    _calibrator: Calibrator | None

    def __init__(
        self,
        model_name_or_path: str | LoadedCheckpoint,
        *,
        config: EngineConfig | None = None,
        calibration: str | os.PathLike[str] | Calibrator | None = None,
        backend: ScoringBackend | None = None,
        **overrides: Any,
    ) -> None:
        config = (config or EngineConfig()).with_keywords(overrides)
        # Read, validated and matched to the model before the model loads: a bad file fails fast.
        name = (
            model_name_or_path.name
            if isinstance(model_name_or_path, LoadedCheckpoint)
            else model_name_or_path
        )
        calibrator = None if calibration is None else load_calibrator(calibration, model=name)
        if isinstance(model_name_or_path, LoadedCheckpoint):
            checkpoint = model_name_or_path
        else:
            path = named_checkpoint(model_name_or_path)
            checkpoint = load_checkpoint(model_name_or_path, config, path=path)
        self._calibrator = calibrator
        self.config = config
        self.model_name = checkpoint.name
        self._checkpoint = checkpoint
        self._engine = ScoringEngine(checkpoint, config, backend=backend)
        if checkpoint.random_weights:
            logger.warning("%s: %s", checkpoint.name, RANDOM_WEIGHTS_WARNING)

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: LoadedCheckpoint,
        config: EngineConfig | None = None,
        *,
        backend: ScoringBackend | None = None,
    ) -> Reranker:
        """A reranker over an already loaded checkpoint, sharing its weights (e.g. a random
        full-size model in a benchmark, or several engine settings over one model in a test).

        ``backend`` replaces the model stage (see :class:`vlrerank.engine.ScoringBackend`); by
        default it is the checkpoint's own transformers model. The checkpoint's device and dtype
        are those it was loaded with, whatever ``config`` says.
        """
        return cls(checkpoint, config=config, backend=backend)

    @property
    def checkpoint(self) -> LoadedCheckpoint:
        """The loaded checkpoint: model, tokenizer, image processor, chat template (read-only)."""
        return self._checkpoint

    @property
    def engine(self) -> ScoringEngine:
        """The scoring engine behind this reranker (its stages are described in
        ``docs/architecture.md``)."""
        return self._engine

    @property
    def random_weights(self) -> bool:
        """True when the checkpoint was built with random weights (scores are meaningless)."""
        return self._checkpoint.random_weights

    @property
    def calibrator(self) -> Calibrator | None:
        """The calibrator that fills each result's ``probability``, when one was loaded."""
        return self._calibrator

    @property
    def chat_template(self) -> ChatTemplate:
        """The chat template prompts are rendered with, where it came from and why it was chosen."""
        return self._checkpoint.chat_template

    @property
    def tokenizer(self) -> Any:
        """The checkpoint's (fast) text tokenizer, e.g. to cut a text to a number of tokens."""
        return self._checkpoint.tokenizer

    @property
    def revision(self) -> str | None:
        """The commit of the Hugging Face snapshot that was loaded (``None`` for a local directory)."""
        return self._checkpoint.revision

    @property
    def device(self) -> torch.device:
        return self._checkpoint.device

    @property
    def dtype(self) -> torch.dtype:
        return self._checkpoint.dtype

    def vision_stats(self) -> dict[str, int]:
        """Since the model loaded: ``cache_hits`` (images and videos whose vision-tower output was
        reused from the cache) and ``computed`` (those the vision tower ran). Zeros for a backend
        without a vision stage."""
        return self._engine.vision_stats()

    def engine_stats(self) -> dict[str, int]:
        """Since the model loaded: ``runs`` (batches of requests the engine served, each one or
        more forwards), ``merged_runs`` (runs that served more than one request at once: concurrent
        requests sharing forwards), ``merged_requests`` (requests served in such a run), plus
        :meth:`vision_stats`."""
        batcher = self._engine.request_merger
        return {
            "runs": batcher.runs,
            "merged_runs": batcher.merged_runs,
            "merged_requests": batcher.merged_requests,
            **self.vision_stats(),
        }

    def clear_caches(self) -> None:
        """Forget cached vision outputs (kept for identical pixels across requests; see
        ``EngineConfig.vision_cache_mb``), e.g. before timing a cold run."""
        self._engine.clear_caches()

    def close(self) -> None:
        """Stop the engine's threads (after the requests already queued) and release its caches.
        Safe to call more than once; scoring afterwards raises ``RuntimeError``. The model's
        memory goes with the last reference to the reranker (or its checkpoint)."""
        self._engine.close()

    def __enter__(self) -> Reranker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- reference-compatible ----------------------------------------------------------------
    def process(self, inputs: Mapping[str, Any]) -> list[float]:
        """Score a request in the reference's dict format; scores in document order.

        ``inputs`` has ``query`` and ``documents`` (each ``{"text", "image", "video"}``), and
        optionally ``instruction``, ``fps`` and ``max_frames``. No documents gives ``[]``.
        A bare string is text, as in the reference, except one that names an image or video (an
        existing file, ``file://``, ``data:image``, an image URL): that is refused, since scoring
        its characters is never what was meant; pass ``{"image": path}`` or ``{"text": path}``.

        Raises:
            InputError: a malformed request, naming the field (e.g. ``documents[1].image``).
        """
        if not isinstance(inputs, Mapping):
            raise InputError(f"expected a dict request, got {type(inputs).__name__}")
        unknown = sorted(str(k) for k in inputs if k not in _REQUEST_KEYS)
        if unknown:
            raise InputError(
                f"unknown key(s) {', '.join(unknown)}; "
                "a request has query, documents, instruction, fps and max_frames"
            )
        if inputs.get("query") is None:
            raise InputError("a query is required", field="query")
        query, instruction = inputs["query"], inputs.get("instruction")
        text = query.get("text") if isinstance(query, Mapping) else None
        if isinstance(text, tuple) and len(text) == 2:  # the reference's (instruction, text) form
            instruction, query = text[0], {**query, "text": text[1]}
        return self.score(
            query,
            inputs.get("documents") or [],
            instruction=instruction,
            fps=inputs.get("fps"),
            max_frames=inputs.get("max_frames"),
        )

    # -- vlrerank API ------------------------------------------------------------------------
    def score(
        self,
        query: Any,
        documents: Sequence[Any],
        *,
        instruction: str | None = None,
        fps: float | None = None,
        max_frames: int | None = None,
        preprocess: PreprocessConfig | Sequence[PreprocessConfig | None] | None = None,
    ) -> list[float]:
        """Relevance probabilities of ``documents`` for ``query``, in document order.

        A PDF document (``{"pdf": ...}``) scores as its best page; texts are cut at ``max_length``
        as the reference cuts them (:meth:`rank` chunks them instead)."""
        expansion = self._expand(documents, preprocess, DocumentOptions())
        request = self._request(
            query, expansion.units, instruction=instruction, fps=fps, max_frames=max_frames,
            preprocess=expansion.preprocess,
        )  # fmt: skip
        scored = self._score(request, expansion)
        results, _, _ = assemble(scored.scores, documents, expansion, DocumentOptions())
        for index, outcome in enumerate(scored.scores):
            if outcome.score is None:  # only a pair that failed even alone: never return a shorter list
                failure = outcome.rejection
                kind = type(failure) if isinstance(failure, ScoringFailed) else ScoringFailed
                raise kind(str(failure), field=f"documents[{expansion.parts[index].document}]")
        return [r.score for r in results]  # assemble gives one result per document, in order

    def rank(
        self,
        query: Any,
        documents: Sequence[Any],
        instruction: str | None = None,
        top_n: int | None = None,
        *,
        fps: float | None = None,
        max_frames: int | None = None,
        preprocess: PreprocessConfig | Sequence[PreprocessConfig | None] | None = None,
        quality: QualityPolicy | None = None,
        explain: bool = False,
        aggregation: str = "max",
        aggregation_k: int = 3,
        granularity: str = "document",
        return_segments: bool = False,
        chunking: ChunkOptions | None = None,
    ) -> RankedResults:
        """Rank ``documents`` for ``query``, best first.

        Args:
            query: text, a PIL image, or ``{"text", "image", "video"}``. A bare string that names
                an image or video file (or a ``data:image`` URI or image URL) raises
                :class:`InputError` instead of being scored as its characters: pass
                ``{"image": path}`` to use the file, or ``{"text": path}`` for the text.
            documents: each like ``query``, or a PDF: ``{"pdf": path | bytes | data URI}`` (with
                optional ``pages=[...]``, 1-based, or ``path#page=3``), each page rendered once at
                the size the model sees and scored as a part of the document.
            instruction: the task; defaults to the model's generic retrieval instruction.
            top_n: keep only the best ``top_n`` results.
            preprocess: how document images are prepared (one config, or one per document);
                query images always reach the model as the reference gives them.
            quality: the quality gate; ``reject`` lists bad images in ``rejected`` instead of
                scoring them, ``penalize`` ranks by a down-weighted score.
            explain: add measured sub-scores (visual match, text alignment, cross-modal
                consistency) to each result; they cost extra pairs and never change ``score``.
            aggregation: how a PDF's pages (or a long text's chunks) make the document's score:
                ``max`` (the best part) or ``mean_top_k`` (mean of the best ``aggregation_k``).
            granularity: ``page`` gives one result per page (or chunk) instead of per document.
            return_segments: list every page's (chunk's) score in each result's ``segments``.
            chunking: how long texts are cut into token windows (defaults from the config: a text
                over ``max_tokens_per_doc`` tokens is scored in chunks, never cut silently).

        Raises:
            InputError: a malformed query, document or option, naming the field.
        """
        if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1):
            raise InputError(f"top_n must be a positive integer, got {top_n!r}", field="top_n")
        options = DocumentOptions(
            aggregation=aggregation, aggregation_k=aggregation_k, granularity=granularity,
            return_segments=return_segments, chunking=chunking or ChunkOptions(),
        )  # fmt: skip
        expansion = self._expand(documents, preprocess, options)
        request = self._request(
            query, expansion.units, instruction=instruction, fps=fps, max_frames=max_frames,
            preprocess=expansion.preprocess, quality=quality, explain=explain,
        )  # fmt: skip
        scored = self._score(request, expansion)
        results, rejected, extra_pairs = assemble(scored.scores, documents, expansion, options)
        order = rank_order([r.ranking_score for r in results])
        ranked = RankedResults(
            results=tuple(results[i] for i in order[:top_n]),
            rejected=tuple(rejected),
            query=query,
            instruction=request.instruction,
            query_images=scored.query_images,
            model=self.model_name,
            random_weights=self.random_weights,
            prepare_s=scored.prepare_s,
            forward_s=scored.forward_s,
            pairs=sum(r.pairs for r in results) + extra_pairs,
        )
        return ranked if self._calibrator is None else self._calibrator.apply(ranked, preprocess)

    def _expand(self, documents: Sequence[Any], preprocess: Any, options: DocumentOptions) -> Expansion:
        return expand(
            documents, config=self.config, tokenizer=self.tokenizer, preprocess=preprocess, options=options
        )

    def _score(self, request: ScoreRequest, expansion: Expansion) -> ScoredRequest:
        try:
            return self._engine.score(request)
        except InputError as exc:
            raise renamed(exc, expansion) from None

    def _request(
        self,
        query: Any,
        documents: Sequence[Any],
        *,
        instruction: str | None,
        fps: float | None,
        max_frames: int | None,
        preprocess: PreprocessConfig | Sequence[PreprocessConfig | None] | None,
        quality: QualityPolicy | None = None,
        explain: bool = False,
    ) -> ScoreRequest:
        """The engine's request: every argument checked, defaults filled in from the config."""
        if instruction is not None and not isinstance(instruction, str):
            raise InputError(f"expected a string, got {type(instruction).__name__}", field="instruction")
        if instruction is not None:
            check_text(instruction, "instruction")
        used_instruction = instruction or self.config.default_instruction
        fps = self.config.fps if fps is None else fps
        max_frames = self.config.max_frames if max_frames is None else max_frames
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= MAX_FPS:
            raise InputError(f"fps must be a number in (0, {MAX_FPS}], got {fps!r}", field="fps")
        if (
            isinstance(max_frames, bool)
            or not isinstance(max_frames, int)
            or not 2 <= max_frames <= MAX_FRAMES
        ):
            raise InputError(
                f"max_frames must be an integer in [2, {MAX_FRAMES}], got {max_frames!r}", field="max_frames"
            )
        if quality is not None and not isinstance(quality, QualityPolicy):
            raise InputError(f"expected a QualityPolicy, got {type(quality).__name__}", field="quality")
        query_input: MultimodalInput = to_multimodal(query, "query")
        document_inputs = to_documents(documents)
        refuse_bare_media(query, "query", self.config.media_root)
        return ScoreRequest(
            query_input,
            tuple(document_inputs),
            instruction=used_instruction,
            fps=float(fps),
            max_frames=max_frames,
            preprocess=preprocess,
            quality=quality or QualityPolicy(),
            explain=explain,
        )
