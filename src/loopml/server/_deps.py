"""What every route shares: the open stores of the app, and JSON answers from schemas."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from loopml.store import Stores
from loopml.store.rest.schemas import WireModel

__all__ = ["StoresDep", "reply"]


async def _stores(request: Request) -> Stores:
    # async: a plain attribute read needs no trip through the thread pool.
    stores: Stores = request.app.state.stores
    return stores


StoresDep = Annotated[Stores, Depends(_stores)]
"""The stores the app opened at startup, as a route parameter."""


def reply(body: WireModel, status_code: int = 200) -> Response:
    """A JSON answer written straight from a shared schema (no re-validation)."""
    return Response(body.to_json(), status_code=status_code, media_type="application/json")
