"""What a request scores, and how the scores come back to its documents.

:func:`build_pairs` turns a request's prepared sides into one list of pairs for the model: each kept
document's pair, then the sub-score pairs of :mod:`vlrerank.engine.explain` when asked for, so
they batch together. Each document keeps the indices of its pairs in that list (its
:class:`DocumentPairs`), and :func:`assemble` reads the model's values back by those indices.
Documents the quality gate rejects get no pair at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch

from ..errors import DeviceOutOfMemory
from ..preprocess.choices import QualityPolicy
from ..preprocess.provenance import ImageProvenance
from ..preprocess.quality import penalized_score
from . import explain
from .types import EncodedPair, PairScore, PreparedSide, ScoreRequest

OUT_OF_MEMORY = DeviceOutOfMemory(
    "could not be scored: the device ran out of memory even for this pair alone; "
    "use smaller images (max_pixels, a preprocess size) or a larger device"
)


@dataclass(frozen=True)
class DocumentPairs:
    """One document's place in :attr:`PreparedRequest.pairs`.

    Attributes:
        pair: index of the document's own pair, ``None`` when the quality gate rejected it.
        rejection: why it was rejected.
        quality: the lowest quality score among its images (``None`` without one).
        sub_scores: its sub-score pairs, with their indices, when the request asks for them.
        missing: sub-scores that do not apply to it, with the reason.
    """

    pair: int | None
    rejection: str | None = None
    quality: float | None = None
    sub_scores: tuple[tuple[explain.ExtraPair, int], ...] = ()
    missing: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedRequest:
    """A request ready for the model: its prepared sides, every pair to score, and the map back."""

    request: ScoreRequest
    query: PreparedSide
    documents: tuple[PreparedSide, ...]
    pairs: tuple[EncodedPair, ...]
    document_pairs: tuple[DocumentPairs, ...]  # one per document, in document order


def build_pairs(
    request: ScoreRequest,
    query: PreparedSide,
    documents: Sequence[PreparedSide],
    encode: Callable[[str, PreparedSide, PreparedSide], EncodedPair],
) -> PreparedRequest:
    """The pairs to score for ``request`` and where each document's pairs are; ``encode`` builds one pair."""
    pairs: list[EncodedPair] = []

    def add(pair: EncodedPair) -> int:
        pairs.append(pair)
        return len(pairs) - 1

    placed: list[DocumentPairs] = []
    kept: list[int] = []
    for document in documents:
        quality = lowest_quality(document)
        reason = rejection(document, request.quality)
        if reason is not None:
            placed.append(DocumentPairs(None, reason, quality))
            continue
        kept.append(len(placed))
        placed.append(DocumentPairs(add(encode(request.instruction, query, document)), None, quality))
    if request.explain:  # after every main pair, as the main pairs' order is the forward plan's input
        for i in kept:
            extra, missing = explain.extra_pairs(query, documents[i])
            indexed = tuple(
                (p, add(encode(p.instruction or request.instruction, p.query, p.document))) for p in extra
            )
            placed[i] = DocumentPairs(placed[i].pair, None, placed[i].quality, indexed, missing)
    return PreparedRequest(request, query, tuple(documents), tuple(pairs), tuple(placed))


def assemble(prepared: PreparedRequest, logits: Sequence[float | None]) -> list[PairScore]:
    """Each document's outcome, in document order, from the logits of ``prepared.pairs``."""
    probs = probabilities(logits)
    policy = prepared.request.quality
    results = []
    for document, entry in zip(prepared.documents, prepared.document_pairs, strict=True):
        unscored = PairScore(
            score=None, images=tuple(v.provenance for v in document.visuals), quality=entry.quality
        )
        if entry.pair is None:
            results.append(replace(unscored, rejection=entry.rejection))
            continue
        pair, score = prepared.pairs[entry.pair], probs[entry.pair]
        if score is None:
            results.append(replace(unscored, num_tokens=pair.num_tokens, rejection=OUT_OF_MEMORY))
            continue
        explanation = None
        if prepared.request.explain:
            sub_scores = [p for p, _ in entry.sub_scores]
            values = [probs[index] for _, index in entry.sub_scores]
            explanation = explain.assemble(sub_scores, values, entry.missing)
        penalized = None
        if policy.mode == "penalize":
            q = entry.quality
            penalized = score if q is None else penalized_score(score, q, policy.threshold)
        results.append(
            replace(
                unscored,
                score=score,
                logit=logits[entry.pair],
                num_tokens=pair.num_tokens,
                penalized=penalized,
                explanation=explanation,
            )
        )
    return results


def probabilities(logits: Sequence[float | None]) -> list[float | None]:
    """``sigmoid`` of each logit, in float32 as the published scores (``None`` stays ``None``)."""
    known = [value for value in logits if value is not None]
    probs = iter(torch.sigmoid(torch.tensor(known, dtype=torch.float32)).tolist())
    return [None if value is None else next(probs) for value in logits]


def rejection(document: PreparedSide, policy: QualityPolicy) -> str | None:
    """Why the quality gate rejects ``document``, or ``None`` when it is scored."""
    worst = _worst_image(document)
    if policy.mode != "reject" or worst is None or worst.quality is None:
        return None
    return worst.quality.message(policy.threshold) if worst.quality.score < policy.threshold else None


def lowest_quality(side: PreparedSide) -> float | None:
    worst = _worst_image(side)
    return worst.quality.score if worst is not None and worst.quality is not None else None


def _worst_image(side: PreparedSide) -> ImageProvenance | None:
    rated = [v.provenance for v in side.images if v.provenance.quality is not None]
    return min(rated, key=lambda f: f.quality.score) if rated else None  # type: ignore[union-attr]
