"""The scoring engine: CPU ``prepare`` -> model ``forward`` -> ``postprocess``, in input order."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import torch

from ..config import EngineConfig
from ..errors import InputError
from ..inputs.schema import MultimodalInput
from ..preprocess.config import PreprocessConfig, QualityPolicy
from ..preprocess.provenance import ImageProvenance
from ..preprocess.quality import penalized_score
from . import explain
from .backend import ScoringBackend, TransformersBackend
from .batching import PairPositions, default_token_budget
from .encode import IMAGE_PAD, VIDEO_PAD, EncodedPair, PairEncoder, PreparedSide
from .explain import Explanation
from .handler import BatchHandler
from .loading import LoadedCheckpoint
from .patches import Patcher
from .prefetch import Prefetch, PrefetchRoom
from .prompt import PromptTokenizer
from .runner import ForwardRunner


@dataclass(frozen=True)
class PairScore:
    """One document's outcome.

    Attributes:
        score: relevance probability, or ``None`` when the quality gate rejected the document.
        num_tokens: prompt tokens of the pair (0 when rejected).
        quality: the lowest quality score among the document's images (``None`` without images).
        penalized: ``score`` down-weighted by the ``penalize`` policy, else ``None``.
        rejection: why the document was not scored, else ``None``.
        logit: the yes-minus-no logit behind ``score`` (``score == sigmoid(logit)``).
    """

    score: float | None
    num_tokens: int
    query_images: tuple[ImageProvenance, ...]
    document_images: tuple[ImageProvenance, ...]
    quality: float | None = None
    penalized: float | None = None
    rejection: str | None = None
    explanation: Explanation | None = None
    logit: float | None = None


@dataclass(frozen=True)
class ScoredRequest:
    scores: tuple[PairScore, ...]  # in document order
    query_images: tuple[ImageProvenance, ...]
    prepare_s: float
    forward_s: float
    num_batches: int


class ScoringEngine:
    """Scores a query against documents with batched forwards.

    Args:
        checkpoint: a loaded checkpoint (see :func:`vlrerank.engine.loading.load_checkpoint`).
        config: batching and sizing settings.
        backend: the forward implementation; defaults to the transformers model of the checkpoint.
    """

    def __init__(
        self, checkpoint: LoadedCheckpoint, config: EngineConfig, backend: ScoringBackend | None = None
    ) -> None:
        self.config = config
        self.checkpoint = checkpoint
        tokenizer = checkpoint.tokenizer
        patcher = Patcher.for_checkpoint(checkpoint.image_processor, checkpoint.model.config.vision_config)
        self.encoder = PairEncoder(
            PromptTokenizer(tokenizer, checkpoint.chat_template),
            checkpoint.image_processor,
            config,
            patcher=patcher,
            patch_in_prepare=checkpoint.device.type == "cpu",
        )
        image_pad_id = tokenizer.convert_tokens_to_ids(IMAGE_PAD)
        video_pad_id = tokenizer.convert_tokens_to_ids(VIDEO_PAD)
        self.backend = backend or TransformersBackend.for_checkpoint(checkpoint, config)
        self.positions = PairPositions(checkpoint.model, image_pad_id=image_pad_id, video_pad_id=video_pad_id)
        self.token_budget = config.token_budget or default_token_budget(checkpoint.model)
        self.runner = ForwardRunner(
            self.backend,
            self.positions,
            pad_id=tokenizer.pad_token_id,
            token_budget=self.token_budget,
            max_pairs=config.max_batch_pairs,
            # Continuations need a custom attention mask, which flash-attention kernels do not take.
            prefix_reuse=config.prefix_reuse and config.attn_implementation != "flash_attention_2",
            prefix_min_saved=config.prefix_min_saved_tokens,
        )
        self.handler = BatchHandler(
            self.runner, max_pairs=4 * config.max_batch_pairs, fill_tokens=self.token_budget // 2
        )
        self.prefetch_room = PrefetchRoom(self.token_budget if config.vision_prefetch else 0)
        # Decoding and resizing release the GIL, so documents are prepared in parallel.
        workers = config.prepare_workers
        self._pool = (
            ThreadPoolExecutor(workers, thread_name_prefix="vlrerank-prepare") if workers > 1 else None
        )

    def prepare_sides(
        self,
        query: MultimodalInput,
        documents: Sequence[MultimodalInput],
        *,
        fps: float,
        max_frames: int,
        preprocess: PreprocessConfig | Sequence[PreprocessConfig | None] | None = None,
        on_prepared: Callable[[PreparedSide, bool], None] | None = None,
    ) -> tuple[PreparedSide, list[PreparedSide]]:
        """CPU stage 1: every image and video is loaded, checked and patched before any forward.

        ``preprocess`` is one config for every document, or one per document. ``on_prepared`` is
        called with the query (``True``), then with each document (``False``) as soon as it is
        ready, while others are still being prepared.
        """
        configs = _per_document(preprocess, len(documents))

        prepared_query = self.encoder.prepare_side(query, "query", fps=fps, max_frames=max_frames)
        if on_prepared is not None:
            on_prepared(prepared_query, True)

        def side(i: int) -> PreparedSide:
            return self.encoder.prepare_side(
                documents[i], f"documents[{i}]", fps=fps, max_frames=max_frames, preprocess=configs[i]
            )

        if self._pool is None:
            prepared = []
            for i in range(len(documents)):
                prepared.append(side(i))
                if on_prepared is not None:
                    on_prepared(prepared[-1], False)
            return prepared_query, prepared
        futures = [self._pool.submit(side, i) for i in range(len(documents))]
        if on_prepared is not None:
            for future in as_completed(futures):  # whichever is ready first goes first
                if future.exception() is None:
                    on_prepared(future.result(), False)
        # Results in document order: the error raised names the first bad document.
        return prepared_query, [future.result() for future in futures]

    def prepare(
        self,
        query: MultimodalInput,
        documents: Sequence[MultimodalInput],
        *,
        instruction: str,
        fps: float,
        max_frames: int,
        preprocess: PreprocessConfig | Sequence[PreprocessConfig | None] | None = None,
    ) -> list[EncodedPair]:
        """The whole CPU stage: model inputs for every (query, document) pair."""
        prepared_query, docs = self.prepare_sides(
            query, documents, fps=fps, max_frames=max_frames, preprocess=preprocess
        )
        return [self.encoder.encode_pair(instruction, prepared_query, doc) for doc in docs]

    def clear_caches(self) -> None:
        self.backend.clear_caches()

    def forward(self, pairs: Sequence[EncodedPair]) -> tuple[list[float | None], int]:
        """Model stage (see :class:`ForwardRunner`, run by the :class:`BatchHandler` that merges
        concurrent calls): scores in input order, and the forwards run.

        A pair that ran out of device memory even alone scores ``None`` (reported by the caller).
        """
        return self.handler.run(pairs)

    def score(
        self,
        query: MultimodalInput,
        documents: Sequence[MultimodalInput],
        *,
        instruction: str,
        fps: float,
        max_frames: int,
        preprocess: PreprocessConfig | Sequence[PreprocessConfig | None] | None = None,
        quality: QualityPolicy | None = None,
        explain_scores: bool = False,
    ) -> ScoredRequest:
        """Score ``documents`` for ``query``; ``preprocess`` is one config or one per document.

        With ``explain_scores`` each scored document also gets measured sub-scores
        (:mod:`vlrerank.engine.explain`), computed in the same batches.
        """
        policy = quality or QualityPolicy()
        start = time.perf_counter()
        ahead = Prefetch(self.handler, self.prefetch_room, merge_size=self.encoder.patcher.merge_size)

        def send_ahead(side: PreparedSide, is_query: bool) -> None:
            if is_query or _rejection(side, policy) is None:
                ahead.send(side.videos + side.images)

        # Concurrent requests may share this one's forwards; its pictures start as they are ready.
        with self.handler.request() as submit, ahead:
            prepared_query, prepared_docs = self.prepare_sides(
                query,
                documents,
                fps=fps,
                max_frames=max_frames,
                preprocess=preprocess,
                on_prepared=send_ahead,
            )
            qualities = [_lowest_quality(doc) for doc in prepared_docs]
            rejections = {
                i: reason
                for i, doc in enumerate(prepared_docs)
                if (reason := _rejection(doc, policy)) is not None
            }
            kept = [i for i in range(len(documents)) if i not in rejections]
            encode = self.encoder.encode_pair
            pairs = [encode(instruction, prepared_query, prepared_docs[i]) for i in kept]
            plans = (
                {i: explain.plan(prepared_query, prepared_docs[i]) for i in kept} if explain_scores else {}
            )
            extra = [
                encode(p.instruction or instruction, p.query, p.document)
                for specs, _ in plans.values()
                for p in specs
            ]
            # one forward plan: sub-score pairs batch with the main ones
            everything = [self.positions.attach(pair) for pair in pairs + extra]
            prepared = time.perf_counter()
            all_values, num_batches = submit(everything) if everything else ([], 0)
        done = time.perf_counter()
        all_probabilities = probabilities(all_values)
        values, extra_values = all_probabilities[: len(pairs)], iter(all_probabilities[len(pairs) :])
        by_index = dict(zip(kept, zip(values, all_values, pairs, strict=False), strict=True))
        results = []
        for i, doc in enumerate(prepared_docs):
            images = tuple(v.facts for v in doc.videos + doc.images)
            if i in rejections:
                results.append(PairScore(None, 0, (), images, qualities[i], None, rejections[i]))
                continue
            value, logit, pair = by_index[i]
            explanation = None
            if explain_scores:  # consumed for every kept document, so the extra values stay aligned
                specs, missing = plans[i]
                explanation = explain.assemble(specs, [next(extra_values) for _ in specs], missing)
            if value is None:
                results.append(
                    PairScore(None, pair.num_tokens, (), images, qualities[i], None, OUT_OF_MEMORY)
                )
                continue
            penalized = None
            if policy.mode == "penalize":
                q = qualities[i]
                penalized = value if q is None else penalized_score(value, q, policy.threshold)
            results.append(
                PairScore(
                    value, pair.num_tokens, (), images, qualities[i], penalized, None, explanation, logit
                )
            )
        query_images = tuple(v.facts for v in prepared_query.videos + prepared_query.images)
        return ScoredRequest(tuple(results), query_images, prepared - start, done - prepared, num_batches)


def probabilities(logits: Sequence[float | None]) -> list[float | None]:
    """``sigmoid`` of each logit, in float32 as the published scores (``None`` stays ``None``)."""
    known = [value for value in logits if value is not None]
    probs = iter(torch.sigmoid(torch.tensor(known, dtype=torch.float32)).tolist())
    return [None if value is None else next(probs) for value in logits]


OUT_OF_MEMORY = (
    "could not be scored: the device ran out of memory even for this pair alone; "
    "use smaller images (max_pixels, a preprocess size) or a larger device"
)


def _per_document(
    preprocess: PreprocessConfig | Sequence[PreprocessConfig | None] | None, count: int
) -> list[PreprocessConfig | None]:
    if preprocess is None or isinstance(preprocess, PreprocessConfig):
        return [preprocess] * count
    configs = list(preprocess)
    if len(configs) != count:
        raise InputError(
            f"got {len(configs)} preprocess configs for {count} documents; give one, or one per document",
            field="preprocess",
        )
    for i, config in enumerate(configs):
        if config is not None and not isinstance(config, PreprocessConfig):
            raise InputError(
                f"expected a PreprocessConfig, got {type(config).__name__}", field=f"preprocess[{i}]"
            )
    return configs


def _rejection(document: PreparedSide, policy: QualityPolicy) -> str | None:
    """Why the quality gate rejects ``document``, or ``None`` when it is scored."""
    worst = _worst_image(document)
    if policy.mode != "reject" or worst is None or worst.quality is None:
        return None
    return worst.quality.message(policy.threshold) if worst.quality.score < policy.threshold else None


def _lowest_quality(side: PreparedSide) -> float | None:
    worst = _worst_image(side)
    return worst.quality.score if worst is not None and worst.quality is not None else None


def _worst_image(side: PreparedSide) -> ImageProvenance | None:
    rated = [v.facts for v in side.images if v.facts.quality is not None]
    return min(rated, key=lambda f: f.quality.score) if rated else None  # type: ignore[union-attr]
