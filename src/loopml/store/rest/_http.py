"""The one HTTP transport of the REST adapters, and the translation of its errors.

Every request of :mod:`loopml.store.rest` goes through :class:`HttpTransport`: one
pooled, thread-safe ``httpx.Client`` per store set. httpx exceptions stop here: a
refused connection or a timeout becomes :class:`~loopml.errors.Unavailable` naming the
server, an error response becomes the loopml error class the server named in its body,
and an answer that is not loopml's becomes :class:`~loopml.errors.StoreError`.

Retries: a request that never reached the server (connection refused) is retried a
couple of times whatever its method; an idempotent one (reads, searches, heartbeats,
blob uploads) is retried as well when the connection drops. Timeouts are never retried:
the caller has waited long enough already.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from loopml import __version__, errors
from loopml.errors import (
    Conflict,
    InvalidInput,
    LoopmlError,
    NotFound,
    PermissionDenied,
    StoreError,
    Unavailable,
)
from loopml.store.rest.schemas import API_PREFIX, ErrorBody, WireModel

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from loopml.config import Settings

__all__ = ["HttpTransport", "segment"]

M = TypeVar("M", bound=WireModel)

_RETRY_DELAYS = (0.05, 0.25)
_DEFAULT_TIMEOUT = 30.0
_SNIPPET_CHARS = 200
_ERROR_CLASSES: dict[str, type[LoopmlError]] = {
    name: getattr(errors, name) for name in errors.__all__
}
_STATUS_CLASSES: dict[int, type[LoopmlError]] = {
    400: InvalidInput,
    401: PermissionDenied,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: InvalidInput,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


def segment(value: str) -> str:
    """``value`` quoted as one URL path segment (a ``/`` in an id cannot split it)."""
    return quote(value, safe="")


class HttpTransport:
    """JSON requests to a loopml server, with pooling, retries and error translation.

    Args:
        base_uri: ``http(s)://host:port`` of the server (a path prefix is kept).
        timeout: seconds to wait to connect, and then for each read or write.
        token: sent as ``Authorization: Bearer <token>`` when given.

    Raises:
        InvalidInput: ``base_uri`` is not a valid http(s) URL.
    """

    def __init__(
        self,
        base_uri: str,
        *,
        timeout: float = _DEFAULT_TIMEOUT,
        token: str | None = None,
    ) -> None:
        self.base_uri = base_uri.rstrip("/")
        self._timeout = timeout
        headers = {"User-Agent": f"loopml/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # httpx.Client pools connections and is safe to share between threads.
        self._client = httpx.Client(
            base_url=_api_url(base_uri), headers=headers, timeout=httpx.Timeout(timeout)
        )

    @classmethod
    def from_settings(cls, uri: str, settings: Settings | None) -> HttpTransport:
        """A transport to ``uri`` with the timeout and token of ``settings``."""
        if settings is None:
            return cls(uri)
        token = settings.tracking_token
        return cls(
            uri,
            timeout=settings.http_timeout,
            token=None if token is None else token.get_secret_value(),
        )

    def __repr__(self) -> str:
        return f"HttpTransport({self.base_uri!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: WireModel | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        """Send a request and return the successful response, its body read.

        Args:
            method: the HTTP method.
            path: the route below ``/api/v1``, its segments quoted with :func:`segment`.
            body: the JSON body, if any.
            params: query parameters.
            idempotent: whether repeating the request is harmless (retried on a
                dropped connection).

        Raises:
            LoopmlError: the class the server named (NotFound, Conflict, ...).
            Unavailable: the server cannot be reached or did not answer in time.
            StoreError: the server answered something that is not loopml's.
            InvalidInput: ``body`` holds a value that has no JSON form.
        """
        content = None if body is None else _encode(body)
        headers = {} if body is None else {"Content-Type": "application/json"}

        def build() -> httpx.Request:
            return self._client.build_request(
                method, path, content=content, params=params, headers=headers
            )

        return self._send(build, idempotent=idempotent)

    def call_model(
        self,
        reply: type[M],
        method: str,
        path: str,
        *,
        body: WireModel | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> M:
        """Like :meth:`call`, and parse the answer as ``reply``.

        Raises:
            StoreError: additionally, when the answer is not a valid ``reply``.
        """
        response = self.call(method, path, body=body, params=params, idempotent=idempotent)
        return self._decode(reply, response)

    def upload(
        self,
        reply: type[M],
        path: str,
        content: Callable[[], Iterable[bytes]],
        *,
        replayable: bool,
    ) -> M:
        """``PUT`` a body sent in chunks as ``content()`` yields them (never buffered
        whole), and parse the answer as ``reply``.

        Args:
            reply: the model of the answer.
            path: the route below ``/api/v1``.
            content: returns the chunks to send; called again for a retry.
            replayable: whether ``content()`` starts over on each call (a file can be
                reopened, a stream cannot); only then is a dropped upload retried.

        Raises:
            LoopmlError: as :meth:`call_model`.
        """
        headers = {"Content-Type": "application/octet-stream"}

        def build() -> httpx.Request:
            return self._client.build_request("PUT", path, content=content(), headers=headers)

        return self._decode(reply, self._send(build, idempotent=replayable))

    def open_stream(
        self, path: str, *, params: Mapping[str, str] | None = None
    ) -> io.BufferedReader:
        """``GET`` a body as a binary stream read while it arrives; close it when done.

        Raises:
            LoopmlError: as :meth:`call`, before any byte is returned.
        """

        def build() -> httpx.Request:
            return self._client.build_request("GET", path, params=params)

        response = self._send(build, idempotent=True, stream=True)
        return io.BufferedReader(_ResponseReader(response, self._lost), buffer_size=1 << 20)

    def _decode(self, reply: type[M], response: httpx.Response) -> M:
        try:
            return reply.from_json(response.content)
        except ValidationError as exc:
            where = f"{response.request.method} {response.request.url.path}"
            raise StoreError(
                f"The server at {self.base_uri} answered {where} with an unexpected body "
                f"({_first_error(exc)}); is it a loopml server of a compatible version?"
            ) from exc

    def _send(
        self, build: Callable[[], httpx.Request], *, idempotent: bool, stream: bool = False
    ) -> httpx.Response:
        for delay in (*_RETRY_DELAYS, None):
            request = build()
            try:
                response = self._client.send(request, stream=stream)
            except httpx.HTTPError as exc:
                if delay is None or not _may_retry(exc, idempotent):
                    raise self._lost(exc, request) from exc
                time.sleep(delay)
                continue
            if not response.is_success:
                raise self._refused(response)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _lost(self, exc: httpx.HTTPError, request: httpx.Request | None = None) -> LoopmlError:
        """The loopml error of a failed exchange (no usable response)."""
        what = "" if request is None else f" {request.method} {request.url.path}"
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return Unavailable(
                f"Cannot reach the loopml server at {self.base_uri} ({_reason(exc)}). Check that it "
                "is running (`loopml server`) and that the tracking URI is right."
            )
        if isinstance(exc, httpx.TimeoutException):
            return Unavailable(
                f"The loopml server at {self.base_uri} did not answer{what} within "
                f"{self._timeout:g} s; it may be overloaded. Retry, or raise LOOPML_HTTP_TIMEOUT."
            )
        if isinstance(exc, httpx.TransportError):
            return Unavailable(
                f"Lost the connection to the loopml server at {self.base_uri} during{what}: "
                f"{_reason(exc)}."
            )
        return StoreError(
            f"Bad answer from the loopml server at {self.base_uri}{what}: {_reason(exc)}."
        )

    def _refused(self, response: httpx.Response) -> LoopmlError:
        """The loopml error of an error response (read and closed here)."""
        try:
            response.read()
        except httpx.HTTPError as exc:
            return self._lost(exc, response.request)
        finally:
            response.close()
        status = response.status_code
        try:
            detail = ErrorBody.from_json(response.content).error
        except ValidationError:
            return self._unexpected(response)
        cls = _ERROR_CLASSES.get(detail.type) or _STATUS_CLASSES.get(status, StoreError)
        return cls(detail.message)

    def _unexpected(self, response: httpx.Response) -> LoopmlError:
        status, request = response.status_code, response.request
        snippet = response.text[:_SNIPPET_CHARS].strip() or "no body"
        where = f"{request.method} {request.url.path}"
        cls = _STATUS_CLASSES.get(status, StoreError)
        if status >= 500 and cls is not Unavailable:
            cls = StoreError
        if request.method == "HEAD":  # an answer without a body, by definition
            return cls(f"The server at {self.base_uri} answered {where} with HTTP {status}.")
        return cls(
            f"The server at {self.base_uri} answered {where} with HTTP {status} and a body "
            f"that is not loopml's ({snippet!r}); is {self.base_uri} a loopml server?"
        )


def _api_url(base_uri: str) -> httpx.URL:
    """The URL of the API's routes on the server at ``base_uri``; checked here, once."""
    try:
        url = httpx.URL(base_uri.rstrip("/") + API_PREFIX)
        problem = "" if url.scheme in ("http", "https") and url.host else "not http(s)://host"
    except httpx.InvalidURL as exc:
        problem = _reason(exc)
    if problem:
        raise InvalidInput(
            f"Malformed loopml server URI {base_uri!r} ({problem}); expected "
            "http(s)://host:port, e.g. http://127.0.0.1:8476."
        )
    return url


def _reason(exc: Exception) -> str:
    return str(exc).rstrip(".") or type(exc).__name__


def _encode(body: WireModel) -> bytes:
    try:
        return body.to_json()
    except PydanticSerializationError as exc:
        raise InvalidInput(f"Cannot send {type(body).__name__} as JSON: {exc}") from exc


def _may_retry(exc: httpx.HTTPError, idempotent: bool) -> bool:
    # A refused connection never delivered the request: any request may be repeated.
    if isinstance(exc, httpx.ConnectError):
        return True
    dropped = httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError
    return idempotent and isinstance(exc, dropped)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


class _ResponseReader(io.RawIOBase):
    """A streamed response body as a raw binary stream; httpx errors are translated."""

    def __init__(
        self, response: httpx.Response, lost: Callable[[httpx.HTTPError], LoopmlError]
    ) -> None:
        super().__init__()
        self._response = response
        self._lost = lost
        self._chunks: Iterator[bytes] = response.iter_bytes()
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        """Always true."""
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Fill ``buffer`` from the response; 0 at its end.

        Raises:
            Unavailable: the connection dropped mid-body.
        """
        if not self._pending:
            try:
                self._pending = memoryview(next(self._chunks, b""))
            except httpx.HTTPError as exc:
                raise self._lost(exc) from exc
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        """Close the response and release its connection to the pool."""
        if not self.closed:
            self._response.close()
        super().close()
