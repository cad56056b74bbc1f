"""What routes receive from FastAPI instead of reaching into ``request.app.state``: typed, so a
reader (and mypy) can follow a request from the route into :class:`RerankService`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service import RerankService


def rerank_service(request: Request) -> RerankService:
    """The app's one service (``build_app`` puts it on ``app.state``)."""
    service = request.app.state.service
    if not isinstance(service, RerankService):  # only an app not built by build_app gets here
        raise TypeError(f"app.state.service is a {type(service).__name__}, not a RerankService")
    return service


Service = Annotated[RerankService, Depends(rerank_service)]
