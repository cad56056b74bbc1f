"""Measured sub-scores: each is the model's score on a pair built from parts of the inputs.

- visual match: the score with only the image/video parts of the side that mixes text and media
  (the document when it does, else the query);
- text alignment: the same with only that side's text parts;
- cross-modal consistency: whether a document's own text agrees with its own media, scored with
  the document's media as the query and its text as the document, under a fixed instruction.

A sub-score that does not apply is ``None`` with the reason. Sub-scores never change the overall
score: they are extra pairs, batched with the request's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .types import PreparedSide

CONSISTENCY_INSTRUCTION = "Judge whether the text accurately describes the image or video."
NAMES = ("visual_match", "text_alignment", "cross_modal_consistency")


@dataclass(frozen=True)
class SubScore:
    """One measured sub-score, or why it does not apply.

    Attributes:
        value: the model's probability for the reduced pair, or ``None``.
        reason: why it does not apply (``None`` when it does).
        split: which side was reduced: ``document`` or ``query`` (``None`` when not applicable).
    """

    value: float | None
    reason: str | None = None
    split: str | None = None


@dataclass(frozen=True)
class Explanation:
    visual_match: SubScore
    text_alignment: SubScore
    cross_modal_consistency: SubScore


@dataclass(frozen=True)
class ExtraPair:
    """A reduced pair to score for one sub-score; ``instruction=None`` keeps the request's."""

    name: str
    instruction: str | None
    query: PreparedSide
    document: PreparedSide
    split: str | None


def extra_pairs(query: PreparedSide, document: PreparedSide) -> tuple[list[ExtraPair], dict[str, str]]:
    """The extra pairs a document needs, and the reasons for sub-scores that do not apply."""
    pairs: list[ExtraPair] = []
    missing: dict[str, str] = {}
    if document.has_text and document.has_visual:
        pairs.append(ExtraPair("visual_match", None, query, document.visual_only(), "document"))
        pairs.append(ExtraPair("text_alignment", None, query, document.text_only(), "document"))
    elif query.has_text and query.has_visual:
        pairs.append(ExtraPair("visual_match", None, query.visual_only(), document, "query"))
        pairs.append(ExtraPair("text_alignment", None, query.text_only(), document, "query"))
    else:
        reason = "neither the query nor the document mixes text with images or video"
        missing["visual_match"] = missing["text_alignment"] = reason
    if document.has_text and document.has_visual:
        pairs.append(
            ExtraPair(
                "cross_modal_consistency",
                CONSISTENCY_INSTRUCTION,
                document.visual_only(),
                document.text_only(),
                "document",
            )
        )
    else:
        missing["cross_modal_consistency"] = "the document does not have both text and an image or video"
    return pairs, missing


def assemble(extra: list[ExtraPair], values: list[float | None], missing: dict[str, str]) -> Explanation:
    found = {
        pair.name: SubScore(value, None if value is not None else "out of device memory", pair.split)
        for pair, value in zip(extra, values, strict=True)
    }
    parts = {name: found.get(name) or SubScore(None, missing[name]) for name in NAMES}
    return Explanation(**parts)
