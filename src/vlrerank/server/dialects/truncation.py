"""Cutting a document's text to a number of tokens, as ``max_tokens_per_doc`` (Cohere),
``truncate_prompt_tokens`` (vLLM) and ``truncate`` (TEI) ask for."""

from __future__ import annotations

from typing import Any, Literal

from ..schemas import MultimodalObject


def cut(text: str, tokenizer: Any, limit: int, direction: Literal["left", "right"]) -> str:
    """``text`` with at most ``limit`` tokens, cut on token boundaries of the original characters."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"]
    if len(offsets) <= limit:
        return text
    if direction == "right":
        return text[: offsets[limit - 1][1]]
    return text[offsets[len(offsets) - limit][0] :]


def truncate(
    document: str | MultimodalObject, tokenizer: Any, limit: int, direction: Literal["left", "right"]
) -> tuple[str | MultimodalObject, bool]:
    """The document with each of its texts cut to ``limit`` tokens, and whether anything was cut."""
    if isinstance(document, str):
        short = cut(document, tokenizer, limit, direction)
        return short, short != document
    if document.text is None:
        return document, False
    texts = document.text if isinstance(document.text, list) else [document.text]
    short_texts = [cut(t, tokenizer, limit, direction) for t in texts]
    changed = short_texts != texts
    new_text = short_texts if isinstance(document.text, list) else short_texts[0]
    return document.model_copy(update={"text": new_text}), changed
