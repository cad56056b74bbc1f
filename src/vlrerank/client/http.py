"""``Client`` and ``AsyncClient``: :meth:`Reranker.rank` over HTTP, retrying when the server is busy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Unpack

import httpx

from ..errors import InputError, ServerError
from ..ranking import RankedResults, RankOptions
from ..ranking_schema import RerankResponse
from .wire import request_body

if TYPE_CHECKING:
    from ..ranking import AsyncRanker, Ranker
    from ..reranker import Reranker

RETRY_STATUSES = (429, 503)
RANK_PATH = "v1/rerank"


class _Base:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        max_wait_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait_s = max_wait_s

    def _wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying ``response``, or None when it is final."""
        if response.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
            return None
        try:
            wait = float(response.headers.get("retry-after", ""))
        except ValueError:
            wait = 2.0**attempt  # no usable Retry-After: back off exponentially
        return min(max(wait, 0.0), self.max_wait_s)


def _ranked(
    response: httpx.Response, query: Any, documents: Sequence[Any], instruction: str | None
) -> RankedResults:
    """A 2xx answer as typed results; an error answer raised as ours (422 as InputError, like locally)."""
    if response.is_success:
        answer = RerankResponse.model_validate_json(response.content)
        return answer.ranked_results(query, documents, instruction)
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    message = error.get("message") or response.text or response.reason_phrase
    if response.status_code == 422:
        raise InputError(message, field=error.get("field") or "")
    raise ServerError(
        message,
        status=response.status_code,
        error_type=error.get("type") or "",
        field=error.get("field") or "",
        request_id=response.headers.get("x-request-id"),
    )


class Client(_Base):
    """Rank against a ``vlrerank serve`` over HTTP, with :meth:`vlrerank.Reranker.rank`'s signature.

    Example:
        >>> from vlrerank.client import Client
        >>> client = Client("http://127.0.0.1:8000", api_key="...")  # doctest: +SKIP
        >>> client.rank("a red car", [{"image": "car.jpg"}, "a bowl of soup"]).top.index  # doctest: +SKIP
        0
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", **options: Any) -> None:
        super().__init__(base_url, **options)
        self._http = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=self.timeout)

    def rank(
        self,
        query: Any,
        documents: Sequence[Any],
        instruction: str | None = None,
        top_n: int | None = None,
        **options: Unpack[RankOptions],
    ) -> RankedResults:
        """Rank ``documents`` for ``query`` on the server, best first (see :meth:`Reranker.rank`)."""
        body = request_body(query, documents, instruction, top_n, **options)
        attempt = 0
        while True:
            response = self._http.post(RANK_PATH, json=body)
            wait = self._wait(response, attempt)
            if wait is None:
                return _ranked(response, query, documents, instruction)
            time.sleep(wait)
            attempt += 1

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncClient(_Base):
    """:class:`Client` for asyncio: ``await client.rank(...)``."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", **options: Any) -> None:
        super().__init__(base_url, **options)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=self.timeout)

    async def rank(
        self,
        query: Any,
        documents: Sequence[Any],
        instruction: str | None = None,
        top_n: int | None = None,
        **options: Unpack[RankOptions],
    ) -> RankedResults:
        """Rank ``documents`` for ``query`` on the server, best first (see :meth:`Reranker.rank`)."""
        # Encoding images and decoding video is CPU work: keep it off the event loop.
        body = await asyncio.to_thread(lambda: request_body(query, documents, instruction, top_n, **options))
        attempt = 0
        while True:
            response = await self._http.post(RANK_PATH, json=body)
            wait = self._wait(response, attempt)
            if wait is None:
                return _ranked(response, query, documents, instruction)
            await asyncio.sleep(wait)
            attempt += 1

    async def close(self) -> None:
        """Close the connection pool (as :meth:`Client.close`; ``aclose`` is the same)."""
        await self._http.aclose()

    async def aclose(self) -> None:
        await self.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


if TYPE_CHECKING:
    # mypy holds the local model and both clients to the one ``rank`` signature (vlrerank.ranking).
    def _one_rank_signature(
        local: Reranker, remote: Client, remote_async: AsyncClient
    ) -> tuple[Ranker, Ranker, AsyncRanker]:
        return local, remote, remote_async
