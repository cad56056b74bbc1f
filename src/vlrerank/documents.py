"""Documents longer than one screen: a PDF becomes its pages, a long text its chunks.

Each part is scored as a document of its own, in the same engine request as every other
document (so the parts share the query's prefix and batch like any documents); the parts' scores
then become one result per document (``max``, or ``mean_top_k``) naming the part that won, or one
result per part (``granularity="page"``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import EngineConfig
from .engine.chunking import ChunkOptions, TextChunk, chunk_text
from .engine.types import PairScore
from .errors import InputError
from .inputs.explicit import refuse_bare_media
from .inputs.images import ImageLimits
from .inputs.pdf import PdfLimits, RenderClock, is_pdf_bytes, open_pdf, read_pdf_bytes
from .inputs.schema import MultimodalInput, to_multimodal
from .preprocess.choices import PreprocessConfig
from .preprocess.pages import RenderedPage, render_pages
from .ranking import RankedResult, RejectedDocument, Segment

AGGREGATIONS = ("max", "mean_top_k")
GRANULARITIES = ("document", "page")
_PAGE_FRAGMENT = re.compile(r"#page=(\d+)$")
_UNIT_FIELD = re.compile(r"^documents\[(\d+)\]")


@dataclass(frozen=True, kw_only=True)
class DocumentOptions:
    """How multi-part documents are scored and reported (see :meth:`vlrerank.Reranker.rank`)."""

    aggregation: str = "max"
    aggregation_k: int = 3
    granularity: str = "document"
    return_segments: bool = False
    chunking: ChunkOptions | None = None  # None: long texts are left to the engine (the reference's cut)

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise InputError(
                f"aggregation must be max or mean_top_k, got {self.aggregation!r}", field="aggregation"
            )
        if self.granularity not in GRANULARITIES:
            raise InputError(
                f"granularity must be document or page, got {self.granularity!r}", field="granularity"
            )
        k = self.aggregation_k
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InputError(f"aggregation_k must be a positive integer, got {k!r}", field="aggregation_k")


@dataclass(frozen=True)
class Part:
    """One scored unit: a whole document, one page of a PDF, or one chunk of a text."""

    document: int
    unit: MultimodalInput
    preprocess: PreprocessConfig | None
    page: RenderedPage | None = None
    chunk: TextChunk | None = None

    def segment(self, score: PairScore | None) -> Segment | None:
        if self.page is not None:
            return Segment.from_score("page", score, page=self.page.number, render=self.page.provenance())
        if self.chunk is not None:
            c = self.chunk
            return Segment.from_score(
                "chunk", score, chunk=c.index, start=c.start, end=c.end, tokens=c.tokens
            )
        return None


@dataclass(frozen=True)
class Expansion:
    parts: tuple[Part, ...]
    truncated: frozenset[int]

    @property
    def units(self) -> list[MultimodalInput]:
        return [p.unit for p in self.parts]

    @property
    def preprocess(self) -> list[PreprocessConfig | None]:
        return [p.preprocess for p in self.parts]


def _pdf_reference(document: Any, field: str) -> tuple[Any, tuple[int, ...] | None, tuple[str, ...]] | None:
    """(source, pages, texts) when ``document`` is a PDF: ``{"pdf": ...}``, or a lone image that is one."""
    if not isinstance(document, Mapping):
        return None
    if "pdf" in document:
        unknown = sorted(str(k) for k in document if k not in ("pdf", "pages", "text"))
        if unknown:
            raise InputError(
                f"a PDF document takes pdf, pages and text, not {', '.join(unknown)}", field=field
            )
        source, pages = document["pdf"], document.get("pages")
    else:
        image = document.get("image")
        image = image[0] if isinstance(image, (list, tuple)) and len(image) == 1 else image
        if document.get("video") is not None or not _is_pdf_source(image):
            return None
        source, pages = image, None
    if isinstance(source, bytearray):
        source = bytes(source)
    if (
        isinstance(source, str)
        and (match := _PAGE_FRAGMENT.search(source))
        and not source.startswith("data:")
    ):
        source, pages = source[: match.start()], (int(match.group(1)),)
    if not isinstance(source, (str, bytes)) or not source:
        raise InputError("expected a PDF path, URL, data:application/pdf URI or bytes", field=f"{field}.pdf")
    if pages is not None:
        pages = tuple(pages) if isinstance(pages, (list, tuple)) else (pages,)
        if not pages or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in pages):
            raise InputError(f"pages must be page numbers from 1, got {pages!r}", field=f"{field}.pages")
    texts = to_multimodal({"text": document.get("text")}, field).texts
    return source, pages, texts


def _is_pdf_source(value: Any) -> bool:
    if isinstance(value, (bytes, bytearray)):
        return is_pdf_bytes(bytes(value))
    if isinstance(value, str):
        if value.startswith("data:"):
            return value.startswith("data:application/pdf")
        return _PAGE_FRAGMENT.sub("", value.split("?", 1)[0]).lower().endswith(".pdf")
    return False


def _long_text(document: Any) -> str | None:
    """The text of a text-only document with one text (the documents that are chunked)."""
    if isinstance(document, str):
        return document
    if isinstance(document, Mapping) and set(document) == {"text"}:
        text = document["text"]
        text = text[0] if isinstance(text, (list, tuple)) and len(text) == 1 else text
        return text if isinstance(text, str) else None
    return None


def _page_config(config: PreprocessConfig | None) -> PreprocessConfig:
    """What the image pipeline still does to a page already drawn at the model's size: only blur."""
    config = config or PreprocessConfig()
    return PreprocessConfig(
        blur_sigma=config.blur_sigma, min_pixels=config.min_pixels, max_pixels=config.max_pixels
    )


def expand(
    documents: Sequence[Any],
    *,
    config: EngineConfig,
    tokenizer: Any,
    preprocess: PreprocessConfig | Sequence[PreprocessConfig | None] | None,
    options: DocumentOptions,
) -> Expansion:
    """Every document as the parts the engine scores (a plain document is one part).

    Raises:
        InputError / PdfLoadError: naming the document (and page) at fault.
    """
    if isinstance(documents, (str, bytes, Mapping)) or not isinstance(documents, Sequence):
        raise InputError("expected a list of documents", field="documents")
    configs: list[PreprocessConfig | None]
    if preprocess is None or isinstance(preprocess, PreprocessConfig):
        configs = [preprocess] * len(documents)
    else:
        configs = list(preprocess)
        if len(configs) != len(documents):
            raise InputError(
                f"got {len(configs)} preprocess configs for {len(documents)} documents; "
                "give one, or one per document",
                field="preprocess",
            )
    image_limits = ImageLimits.of(config)
    pdf_limits = PdfLimits.of(config)
    clock = RenderClock(pdf_limits)
    chunking = None
    if options.chunking is not None:
        chunking = options.chunking.resolved(
            max_tokens=config.chunk_tokens,
            max_chunks=config.max_chunks_per_doc,
            overlap=config.overlap_tokens,
        )
    parts: list[Part] = []
    truncated: set[int] = set()
    for index, document in enumerate(documents):
        field = f"documents[{index}]"
        refuse_bare_media(document, field, config.media_root)
        pdf = _pdf_reference(document, field)
        if pdf is not None:
            source, pages, texts = pdf
            data = read_pdf_bytes(source, field=f"{field}.pdf", limits=image_limits)
            with open_pdf(data, field=f"{field}.pdf", limits=pdf_limits, dpi=config.pdf_dpi) as opened:
                for number in pages or ():
                    if number > len(opened.pages):
                        raise InputError(
                            f"page {number} asked for; the PDF has {len(opened.pages)}",
                            field=f"{field}.pages",
                        )
                rendered = render_pages(
                    opened, configs[index] or PreprocessConfig(), min_pixels=config.min_pixels,
                    max_pixels=config.max_pixels, dpi=config.pdf_dpi, clock=clock, pages=pages,
                )  # fmt: skip
            page_config = _page_config(configs[index])
            parts += [
                Part(index, MultimodalInput(texts=texts, images=(p.image,)), page_config, page=p)
                for p in rendered
            ]
            continue
        # Converted first: every text is checked (valid Unicode) before a tokenizer sees it.
        multimodal = to_multimodal(document, field)
        text = _long_text(document) if chunking is not None else None
        if text is not None and chunking is not None:
            chunked = chunk_text(text, tokenizer, chunking)
            if chunked.truncated:
                truncated.add(index)
            if len(chunked.chunks) > 1 or chunked.truncated:
                parts += [
                    Part(index, MultimodalInput(texts=(text[c.start : c.end],)), configs[index], chunk=c)
                    for c in chunked.chunks
                ]
                continue
        parts.append(Part(index, multimodal, configs[index]))
    return Expansion(tuple(parts), frozenset(truncated))


def renamed(error: InputError, expansion: Expansion) -> InputError:
    """An engine error about part ``documents[k]`` renamed to the caller's document (and page)."""
    match = _UNIT_FIELD.match(error.field)
    if not match or int(match.group(1)) >= len(expansion.parts):
        return error
    part = expansion.parts[int(match.group(1))]
    where = f"documents[{part.document}]" + (f".page[{part.page.number}]" if part.page else "")
    clone = type(error).__new__(type(error))
    clone.__dict__.update(error.__dict__)
    InputError.__init__(clone, error.reason, field=where + error.field[match.end() :])
    return clone


def _result(index: int, document: Any, part: Part, score: PairScore) -> RankedResult:
    return RankedResult.from_score(index, document, score, part.segment(score))


def assemble(
    scores: Sequence[PairScore], documents: Sequence[Any], expansion: Expansion, options: DocumentOptions
) -> tuple[list[RankedResult], list[RejectedDocument], int]:
    """The parts' scores as results: one per document (or per part), the rejected documents, and
    the pairs scored beyond one per result (a document's other pages or chunks)."""
    by_document: dict[int, list[tuple[Part, PairScore]]] = {}
    for part, score in zip(expansion.parts, scores, strict=True):
        by_document.setdefault(part.document, []).append((part, score))
    results: list[RankedResult] = []
    rejected: list[RejectedDocument] = []
    extra = 0
    for index in sorted(by_document):
        members = by_document[index]
        scored = [(p, s) for p, s in members if s.score is not None]
        truncated = True if index in expansion.truncated else None
        extra += max(0, len(scored) - 1) if options.granularity == "document" else 0
        if not scored:
            rejected.append(RejectedDocument.from_scores(index, documents[index], [s for _, s in members]))
            continue
        if options.granularity == "page" and len(members) > 1:
            results += [
                dataclasses.replace(_result(index, documents[index], p, s), truncated=truncated)
                for p, s in scored
            ]
            continue
        best_part, best = max(scored, key=lambda m: m[1].score or 0.0)  # the first of equals
        result = _result(index, documents[index], best_part, best)
        if len(members) > 1 or truncated:
            segments = tuple(s for p, sc in members if (s := p.segment(sc)) is not None)
            value, logit = result.score, best.logit
            if options.aggregation == "mean_top_k":
                top = sorted((s.score for _, s in scored if s.score is not None), reverse=True)[
                    : options.aggregation_k
                ]
                value = sum(top) / len(top)
                logit = math.log(value / (1 - value)) if 0 < value < 1 else logit
            result = dataclasses.replace(
                result,
                score=value,
                logit=logit,
                num_tokens=sum(s.num_tokens for _, s in scored),
                images=tuple(f for _, s in scored for f in s.images),
                segments=segments if options.return_segments else (),
                aggregation=options.aggregation,
                truncated=truncated,
                penalized_score=None
                if best.penalized is None
                else best.penalized * value / (result.score or 1.0),
            )
        results.append(result)
    return results, rejected, extra
