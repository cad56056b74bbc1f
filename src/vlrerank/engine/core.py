"""The scoring engine: CPU ``prepare`` -> model ``forward`` -> ``postprocess``, in input order."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import EngineConfig
from ..inputs.schema import MultimodalInput
from .backend import ScoringBackend, TransformersBackend
from .batching import collate, plan_batches
from .encode import EncodedPair, ImageFacts, PairEncoder
from .loading import LoadedCheckpoint
from .prompt import PromptTokenizer


@dataclass(frozen=True)
class PairScore:
    """The score of one document and what it cost."""

    score: float
    num_tokens: int
    query_images: tuple[ImageFacts, ...]
    document_images: tuple[ImageFacts, ...]


@dataclass(frozen=True)
class ScoredRequest:
    scores: tuple[PairScore, ...]  # in document order
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
        vision = checkpoint.model.config.vision_config
        self.encoder = PairEncoder(
            PromptTokenizer(tokenizer, checkpoint.chat_template),
            checkpoint.image_processor,
            config,
            patch_size=vision.patch_size,
            merge_size=vision.spatial_merge_size,
            temporal_patch_size=vision.temporal_patch_size,
        )
        self.backend = backend or TransformersBackend(
            checkpoint.model, checkpoint.score_vector, device=checkpoint.device, dtype=checkpoint.dtype
        )
        self._pad_id = tokenizer.pad_token_id
        self._image_pad_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
        self._video_pad_id = tokenizer.convert_tokens_to_ids("<|video_pad|>")

    def prepare(
        self,
        query: MultimodalInput,
        documents: Sequence[MultimodalInput],
        *,
        instruction: str,
        fps: float,
        max_frames: int,
    ) -> list[EncodedPair]:
        """CPU stage: every input is loaded and checked before any forward runs."""
        prepared_query = self.encoder.prepare_side(query, "query", fps=fps, max_frames=max_frames)
        prepared_docs = [
            self.encoder.prepare_side(doc, f"documents[{i}]", fps=fps, max_frames=max_frames)
            for i, doc in enumerate(documents)
        ]
        return [self.encoder.encode_pair(instruction, prepared_query, doc) for doc in prepared_docs]

    def forward(self, pairs: Sequence[EncodedPair]) -> tuple[list[float], int]:
        """Model stage: length-sorted batches under the token budget; scores in input order."""
        scores: list[float] = [0.0] * len(pairs)
        batches = plan_batches(
            [p.num_tokens for p in pairs],
            token_budget=self.config.token_budget,
            max_pairs=self.config.max_batch_pairs,
        )
        for indices in batches:
            batch = collate(
                [pairs[i] for i in indices],
                pad_id=self._pad_id,
                image_pad_id=self._image_pad_id,
                video_pad_id=self._video_pad_id,
            )
            for index, value in zip(indices, self.backend.score(batch).tolist(), strict=True):
                scores[index] = float(value)
        return scores, len(batches)

    def score(
        self,
        query: MultimodalInput,
        documents: Sequence[MultimodalInput],
        *,
        instruction: str,
        fps: float,
        max_frames: int,
    ) -> ScoredRequest:
        start = time.perf_counter()
        pairs = self.prepare(query, documents, instruction=instruction, fps=fps, max_frames=max_frames)
        prepared = time.perf_counter()
        values, num_batches = self.forward(pairs) if pairs else ([], 0)
        done = time.perf_counter()
        results = tuple(
            PairScore(
                score=value,
                num_tokens=pair.num_tokens,
                query_images=_facts(pair, query, side="query"),
                document_images=_facts(pair, query, side="document"),
            )
            for value, pair in zip(values, pairs, strict=True)
        )
        return ScoredRequest(results, prepared - start, done - prepared, num_batches)


def _facts(pair: EncodedPair, query: MultimodalInput, *, side: str) -> tuple[ImageFacts, ...]:
    """Image facts of one side; pairs list the query's media before the document's."""
    nv, ni = len(query.videos), len(query.images)
    if side == "query":
        return tuple(v.facts for v in pair.videos[:nv] + pair.images[:ni])
    return tuple(v.facts for v in pair.videos[nv:] + pair.images[ni:])
