"""The field policy: a request field that no dialect here defines is ignored, as vLLM, TEI and
Infinity ignore fields they do not know, so a client written for them is never refused over a
field. Each ignored field is named in the ``X-Vlrerank-Ignored-Fields`` response header, logged
once per name and counted in ``vlrerank_ignored_fields_total``. ``VLRERANK_STRICT_FIELDS=true``
refuses them instead (422, naming the field)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from .http_errors import RequestRejected
from .prometheus import Metrics

logger = logging.getLogger(__name__)

HEADER = "X-Vlrerank-Ignored-Fields"
# Defined by a dialect even where a body model does not declare them yet: never reported as unknown.
KNOWN = frozenset({"max_tokens_per_doc", "max_chunks_per_doc", "overlap_tokens"})
# Field names come from clients: the metric's label set is bounded, the rest counted as "other".
MAX_LABELS = 64


def unknown_fields(body: BaseModel) -> list[str]:
    """The fields of ``body`` (nested ones included, e.g. ``documents[].title``) that its model does
    not declare, each named once, in the order met."""
    found: dict[str, None] = {}
    _walk(body, "", found)
    return list(found)


def _walk(value: Any, path: str, found: dict[str, None]) -> None:
    if isinstance(value, BaseModel):
        for name in value.model_extra or {}:
            if not (path == "" and name in KNOWN):
                found[f"{path}.{name}" if path else name] = None
        for name in type(value).model_fields:
            _walk(getattr(value, name), f"{path}.{name}" if path else name, found)
    elif isinstance(value, list):
        for item in value:
            _walk(item, f"{path}[]", found)


class FieldPolicy:
    """Ignores and reports (or, strict, refuses) the fields a request's model does not declare."""

    def __init__(self, strict: bool, metrics: Metrics) -> None:
        self.strict = strict
        self.metrics = metrics
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def apply(self, body: BaseModel, response: Response | None = None) -> list[str]:
        """Check ``body``; the ignored fields' names (also set in ``response``'s header)."""
        # Printable ASCII (Python's escapes for the rest): a header, a log line and a metric label
        # must hold any name a client invents, lone surrogates and control characters included.
        names = [ascii(name)[1:-1] for name in unknown_fields(body)]
        if not names:
            return names
        if self.strict:
            raise RequestRejected("Extra inputs are not permitted", field=names[0])
        if response is not None:
            response.headers[HEADER] = ", ".join(names)
        for name in names:
            with self._lock:
                first = name not in self._seen
                if first and len(self._seen) < MAX_LABELS:
                    self._seen.add(name)
                label = name if name in self._seen else "other"
            if first:
                logger.warning("ignoring the request field %r (no dialect here defines it)", name)
            self.metrics.ignored_fields.labels(field=label).inc()
        return names


def policy(request: Request) -> FieldPolicy:
    return request.app.state.fields
