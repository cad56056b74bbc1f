"""Long texts cut into token windows, each scored on its own (the document keeps the best).

Windows are cut on the tokenizer's own boundaries and mapped back to character offsets of the
original text, so a chunk is always a slice of what the caller sent (``text[start:end]``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..errors import InputError


@dataclass(frozen=True, kw_only=True)
class ChunkOptions:
    """How long document texts are handled.

    Attributes:
        max_tokens_per_doc: tokens per chunk (``None``: the engine's default).
        max_chunks_per_doc: most chunks scored per document; the text beyond them is not scored and
            the result says ``truncated``.
        overlap_tokens: tokens each chunk repeats from the end of the one before.
        truncate: score only the first ``max_tokens_per_doc`` tokens (one chunk) instead of chunking;
            the result says ``truncated`` when something was cut.
    """

    max_tokens_per_doc: int | None = None
    max_chunks_per_doc: int | None = None
    overlap_tokens: int | None = None
    truncate: bool = False

    def __post_init__(self) -> None:
        for name in ("max_tokens_per_doc", "max_chunks_per_doc"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise InputError(f"{name} must be a positive integer, got {value!r}", field=name)
        value = self.overlap_tokens
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise InputError(
                f"overlap_tokens must be an integer of 0 or more, got {value!r}", field="overlap_tokens"
            )

    def resolved(self, *, max_tokens: int, max_chunks: int, overlap: int) -> ChunkOptions:
        """These options with the engine's defaults filled in, checked against each other."""
        options = ChunkOptions(
            max_tokens_per_doc=self.max_tokens_per_doc or max_tokens,
            max_chunks_per_doc=self.max_chunks_per_doc or max_chunks,
            overlap_tokens=overlap if self.overlap_tokens is None else self.overlap_tokens,
            truncate=self.truncate,
        )
        assert options.max_tokens_per_doc is not None and options.overlap_tokens is not None
        if options.overlap_tokens >= options.max_tokens_per_doc:
            if self.overlap_tokens is None:  # the default overlap is too large for a short window
                return replace(options, overlap_tokens=options.max_tokens_per_doc // 4)
            raise InputError(
                f"overlap_tokens ({options.overlap_tokens}) must be below max_tokens_per_doc "
                f"({options.max_tokens_per_doc})",
                field="overlap_tokens",
            )
        return options


@dataclass(frozen=True)
class TextChunk:
    """One window of a document's text: ``text[start:end]`` of the original, ``tokens`` long."""

    index: int
    start: int
    end: int
    tokens: int


@dataclass(frozen=True)
class ChunkedText:
    chunks: tuple[TextChunk, ...]
    total_tokens: int
    truncated: bool  # tokens beyond the last chunk were not scored


def chunk_text(text: str, tokenizer: Any, options: ChunkOptions) -> ChunkedText:
    """``text`` as token windows under resolved ``options`` (see :meth:`ChunkOptions.resolved`)."""
    size, most, overlap = options.max_tokens_per_doc, options.max_chunks_per_doc, options.overlap_tokens
    assert size is not None and most is not None and overlap is not None
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    total = len(offsets)
    if total <= size:
        return ChunkedText((TextChunk(0, 0, len(text), total),), total, False)
    if options.truncate:
        return ChunkedText((TextChunk(0, 0, offsets[size - 1][1], size),), total, True)
    chunks: list[TextChunk] = []
    first = 0
    step = size - overlap
    while first < total and len(chunks) < most:
        last = min(first + size, total)
        start = 0 if first == 0 else offsets[first][0]
        end = len(text) if last == total else offsets[last - 1][1]
        chunks.append(TextChunk(len(chunks), start, end, last - first))
        if last == total:
            break
        first += step
    covered = chunks[-1].end == len(text)
    return ChunkedText(tuple(chunks), total, not covered)
