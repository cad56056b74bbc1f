"""A Python client for ``vlrerank serve``: images and video over HTTP, the local Reranker's results.

``Client(url).rank(query, documents, ...)`` has the signature of :meth:`vlrerank.Reranker.rank` and
returns the same :class:`~vlrerank.ranking.RankedResults`, so switching between a local model and a
server is one line. :class:`AsyncClient` is the same with ``await``.
"""

from .http import AsyncClient, Client

__all__ = ["AsyncClient", "Client"]
