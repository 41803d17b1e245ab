"""Errors of the REST API: one table from loopml error class to HTTP status, and the
handlers that render every failure as ``{"error": {"type": ..., "message": ...}}``.

The REST client (:mod:`loopml.store.rest`) reads ``type`` back into the same class, so
``except NotFound`` works the same over HTTP as against a local store.

* A loopml error gets its status from :data:`HTTP_STATUS` (the nearest listed ancestor
  of its class) and its own message.
* A body, path or query parameter that fails validation gets 422, type
  ``InvalidInput``, and a message naming the field and what was expected.
* Any other exception is a bug: 500, type ``StoreError``, a generic message with an
  error id, and the traceback in the server log under that id, never in the answer.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, cast

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopml.errors import (
    AlreadyExists,
    Conflict,
    GateFailed,
    InvalidInput,
    LoopmlError,
    MigrationRequired,
    NotFound,
    PermissionDenied,
    StoreError,
    Unavailable,
)
from loopml.store.rest.schemas import ErrorBody

__all__ = ["HTTP_STATUS", "error_response", "install_error_handlers", "status_of"]

logger = logging.getLogger("loopml.server")

HTTP_STATUS: Mapping[type[LoopmlError], int] = {
    NotFound: 404,
    AlreadyExists: 409,
    Conflict: 409,
    InvalidInput: 400,
    PermissionDenied: 403,
    GateFailed: 422,
    Unavailable: 503,
    MigrationRequired: 503,
    StoreError: 500,
    LoopmlError: 400,
}
"""The HTTP status of each loopml error class; a subclass not listed takes its parent's."""

VALIDATION_STATUS = 422
"""The status of a request whose body or parameters fail schema validation."""

_HTTP_EXCEPTION_TYPES = {401: "PermissionDenied", 403: "PermissionDenied", 404: "NotFound"}
_SHOWN_ERRORS = 3
_SHOWN_INPUT_CHARS = 80


def status_of(error: LoopmlError) -> int:
    """The HTTP status of a loopml error: that of the nearest class in the table."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]  # type: ignore[index]
    return 500


def error_response(
    status_code: int, type_name: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An error answer in the API's one error body shape."""
    return Response(
        ErrorBody.of(type_name, message).to_json(),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` in the error body shape (see the module docstring)."""
    app.add_exception_handler(LoopmlError, _on_loopml_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_middleware(_CatchUnexpected)


async def _on_loopml_error(request: Request, exc: Exception) -> Response:
    exc = cast(LoopmlError, exc)  # registered for LoopmlError only
    status = status_of(exc)
    if status >= 500:
        logger.warning(
            "%s %s failed: %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc.message,
        )
    return error_response(status, type(exc).__name__, exc.message)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    exc = cast(RequestValidationError, exc)  # registered for it only
    message = describe_validation_errors(exc.errors())
    return error_response(VALIDATION_STATUS, InvalidInput.__name__, message)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    exc = cast(HTTPException, exc)  # registered for it only
    type_name = _HTTP_EXCEPTION_TYPES.get(exc.status_code, "InvalidInput")
    if exc.status_code == 404:
        message = f"No route {request.method} {request.url.path}; see /docs for the API."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /docs for the API."
    else:
        message = str(exc.detail)
    if exc.status_code >= 500:
        type_name = StoreError.__name__
    return error_response(exc.status_code, type_name, message, exc.headers)


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """One message for FastAPI's validation errors, naming each field (the first few)."""
    parts = [_describe(error) for error in errors[:_SHOWN_ERRORS]]
    if len(errors) > _SHOWN_ERRORS:
        parts.append(f"and {len(errors) - _SHOWN_ERRORS} more")
    return "; ".join(parts) or "The request is invalid."


def _describe(error: Mapping[str, Any]) -> str:
    source, *path = error.get("loc") or ("body",)
    kind, message, value = error.get("type"), error.get("msg", "is invalid"), error.get("input")
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "malformed JSON")
        position = path[0] if path else 0
        return (
            f"The request body is not valid JSON ({reason} at character {position}); "
            "send a JSON object with Content-Type: application/json."
        )
    field = ".".join(str(part) for part in path)
    if source == "body" and not field:
        if kind == "missing":
            return "The request body is missing; send a JSON object (see /docs)."
        if isinstance(value, bytes | bytearray):
            return (
                "The request body is not JSON; send a JSON object with "
                "Content-Type: application/json."
            )
        return f"The request body must be a JSON object (see /docs): {message}."
    where = f"field {field!r}" if source == "body" else f"{source} parameter {field!r}"
    if kind == "missing":
        return f"Missing {where}."
    return f"Invalid {where}: {message} (got {_shown(value)})."


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) > _SHOWN_INPUT_CHARS:
        return text[: _SHOWN_INPUT_CHARS - 3] + "..."
    return text


class _CatchUnexpected:
    """ASGI middleware: an exception no handler took becomes a generic 500 answer.

    The traceback is logged once, under an error id that the answer names; nothing of
    it reaches the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            error_id = secrets.token_hex(6)
            logger.exception(
                "Unexpected error %s in %s %s", error_id, scope.get("method"), scope.get("path")
            )
            if started:
                raise  # the answer is under way: the server can only drop the connection
            response = error_response(
                500,
                StoreError.__name__,
                f"The loopml server failed unexpectedly (error id {error_id}); "
                "the server log has the details.",
            )
            await response(scope, receive, send)
