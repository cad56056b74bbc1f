"""What the service hands the library and gets back: a request side as the Python API takes it
(texts explicit, uploaded files resolved to their bytes, never a server path: a server must not
read, or say which of, its own files), and the :class:`Ranking` one scoring request produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..ranking import RankedResult, RankedResults
from .dialects.content import plain
from .http_errors import RequestRejected
from .schemas import RerankRequest, Side


def _resolve(ref: str, uploads: dict[str, bytes] | None) -> str | bytes:
    if ref.startswith("upload:"):
        name = ref[len("upload:") :]
        if uploads is None or name not in uploads:
            known = ", ".join(sorted(uploads or {})) or "none"
            raise RequestRejected(f"no uploaded file named {name!r} (uploaded: {known})", field="files")
        return uploads[name]
    return ref


def library_side(side: Side, uploads: dict[str, bytes] | None, field: str) -> Any:
    """A request side as the Python API takes it. A bare string is always sent on as explicit
    ``{"text": ...}``, so the library's check for path-like strings never runs on remote input
    (a server must not say which of its files exist); a bare ``upload:NAME`` is the uploaded file."""
    side = plain(side, field)
    if isinstance(side, str):
        if side.startswith("upload:"):
            if uploads is None:
                raise RequestRejected(
                    f"{side!r} refers to an uploaded file, which only POST /v1/rerank/upload carries; "
                    'send the file there, or {"text": ...} to score these characters as text',
                    field=field,
                )
            try:
                return {"image": [_resolve(side, uploads)]}
            except RequestRejected as exc:
                raise RequestRejected(str(exc), field=field) from None
        return {"text": side}
    out: dict[str, Any] = {}
    if side.text is not None:
        out["text"] = side.text
    if side.image is not None:
        images = side.image if isinstance(side.image, list) else [side.image]
        out["image"] = [_resolve(i, uploads) for i in images]
    if side.video is not None:
        out["video"] = [_resolve(f, uploads) for f in side.video]
    return out


@dataclass(frozen=True)
class Ranking:
    """What one scoring request produced: the library's ranking, and which documents were cut."""

    request: RerankRequest  # as scored: every side in our shape
    ranked: RankedResults
    truncated: frozenset[int]
    also: tuple[RankedResults, ...] = ()  # under RerankService.rank's also_instructions, in order

    def score_of(self, result: RankedResult, *, raw: bool) -> float:
        """The score a client asked for: the probability, or (``raw``) the yes-minus-no logit."""
        return result.logit if raw and result.logit is not None else result.score

    def truncated_flag(self, index: int) -> bool | None:
        """True for a document whose text was cut; None (left out of the JSON) for the others."""
        return True if index in self.truncated else None
