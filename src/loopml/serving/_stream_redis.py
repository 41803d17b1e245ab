"""The stream consumer's Redis connection: the commands it sends, and Redis' errors
translated into loopml's at this boundary (no redis-py exception leaves this module).

redis-py's own retries are switched off: a command that fails must be seen by the
consumer, which then re-reads what it holds (its pending messages) instead of trusting a
retried read or write whose first attempt may have been applied.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from loopml.errors import InvalidInput, NotFound, StoreError, Unavailable
from loopml.serving._stream_events import Message

__all__ = ["GroupMissing", "LinkLost", "StreamLink", "StreamNames", "shown_url"]

SCHEMES = ("redis", "rediss", "unix")
_CONNECT_TIMEOUT_S = 5.0
_REPLY_MARGIN_S = 10.0  # beyond the longest block of a read, a silent server is lost


class LinkLost(Unavailable):
    """The connection to Redis broke; a command under way may or may not have applied."""


class GroupMissing(NotFound):
    """The consumer group (or the input stream with it) no longer exists."""


@dataclass(frozen=True, slots=True)
class StreamNames:
    """The streams and group a consumer works with.

    Raises:
        InvalidInput: an empty name, or two roles on the same stream (predictions
            written into the input would be read again as events).
    """

    input: str
    output: str
    dead_letter: str
    group: str
    consumer: str

    def __post_init__(self) -> None:
        for role, name in (
            ("input stream", self.input),
            ("output stream", self.output),
            ("dead-letter stream", self.dead_letter),
            ("consumer group", self.group),
            ("consumer name", self.consumer),
        ):
            if not isinstance(name, str) or not name.strip() or name != name.strip():
                raise InvalidInput(
                    f"The {role} name {name!r} is invalid: give non-empty text without "
                    "leading or trailing spaces."
                )
        roles = {"input": self.input, "output": self.output, "dead-letter": self.dead_letter}
        seen: dict[str, str] = {}
        for role, name in roles.items():
            if name in seen:
                raise InvalidInput(
                    f"The {seen[name]} and {role} streams are both {name!r}; give each its "
                    "own stream."
                )
            seen[name] = role


def shown_url(url: str) -> str:
    """``url`` with its password masked, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    address = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{address}"))


class StreamLink:
    """The consumer's commands to one Redis server.

    Args:
        url: ``redis://HOST:PORT[/DB]``, ``rediss://`` (TLS) or ``unix:///path``.
        names: the streams and the group.
        block_ms: how long a read of new messages waits for one.
        maxlen: trim the output stream to about this many entries, or None.

    Raises:
        InvalidInput: a malformed URL.
    """

    def __init__(self, url: str, names: StreamNames, *, block_ms: int, maxlen: int | None) -> None:
        self.url = shown_url(url)
        self.names = names
        self.block_ms = block_ms
        self.maxlen = maxlen
        scheme = urlsplit(url).scheme
        if scheme not in SCHEMES:
            raise InvalidInput(
                _bad_url(url, f"the scheme is {scheme!r}" if scheme else "no scheme")
            )
        try:
            self._redis = redis.Redis.from_url(
                url,
                socket_connect_timeout=_CONNECT_TIMEOUT_S,
                socket_timeout=block_ms / 1000 + _REPLY_MARGIN_S,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise InvalidInput(_bad_url(url, str(exc))) from None

    def check(self) -> None:
        """Reach the server and check that each stream is a stream or does not exist.

        Raises:
            Unavailable: the server cannot be reached.
            InvalidInput: a key of one of the names holds something else than a stream.
        """
        try:
            with self._translated():
                self._redis.ping()
                kinds = [self._redis.type(name) for name in self._streams()]
        except LinkLost as exc:
            raise Unavailable(
                f"Cannot reach Redis at {self.url} ({exc.__cause__}); start it, or give the "
                "right --source."
            ) from None
        for name, kind in zip(self._streams(), kinds, strict=True):
            text = kind.decode() if isinstance(kind, bytes) else str(kind)
            if text not in ("stream", "none"):
                raise InvalidInput(
                    f"Redis key {name!r} at {self.url} holds a {text}, not a stream; name "
                    "another stream."
                )

    def ensure_group(self, *, from_start: bool) -> bool:
        """Create the consumer group (and the input stream) unless it exists.

        Args:
            from_start: a new group reads the input stream from its first message;
                otherwise only messages added from now on.

        Returns:
            Whether the group was created.
        """
        names = self.names
        try:
            with self._translated():
                self._redis.xgroup_create(
                    names.input, names.group, id="0" if from_start else "$", mkstream=True
                )
        except StoreError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise
        return True

    def read_pending(self, after: str, count: int) -> list[Message]:
        """This consumer's messages delivered and not acknowledged, after id ``after``."""
        return self._read(after, count, None)

    def read_new(self, count: int) -> list[Message]:
        """Up to ``count`` messages never delivered to the group, waiting ``block_ms``."""
        return self._read(">", count, self.block_ms)

    def claim_idle(self, min_idle_ms: int, cursor: str, count: int) -> tuple[str, list[Message]]:
        """Take over messages other consumers have held unacknowledged for ``min_idle_ms``.

        Returns:
            The cursor to continue from (``0-0`` once the whole backlog was scanned), and
            the messages now held by this consumer (deleted ones with no fields).
        """
        names = self.names
        with self._translated():
            reply = self._redis.xautoclaim(
                names.input, names.group, names.consumer, min_idle_ms, cursor, count=count
            )
        claimed = [_message(entry_id, fields) for entry_id, fields in reply[1]]
        # Redis 7 drops deleted messages from the pending list itself and names them.
        deleted = [
            Message(_text(entry_id), None) for entry_id in (reply[2] if len(reply) > 2 else [])
        ]
        return _text(reply[0]), claimed + deleted

    def deliveries(self, messages: Sequence[Message]) -> dict[str, int]:
        """How many times each of ``messages`` (held by this consumer) was delivered."""
        if not messages:
            return {}
        names = self.names
        ids = [message.id for message in messages]
        with self._translated():
            entries = cast(
                "list[dict[str, Any]]",
                self._redis.xpending_range(
                    names.input,
                    names.group,
                    min(ids, key=_id_order),
                    max(ids, key=_id_order),
                    2 * len(ids) + 16,  # room for deleted ones still listed
                    consumername=names.consumer,
                ),
            )
        return {_text(entry["message_id"]): int(entry["times_delivered"]) for entry in entries}

    def write(
        self,
        outputs: Sequence[dict[str, str | bytes]],
        dead: Sequence[dict[str | bytes, str | bytes]],
    ) -> None:
        """Append the output and dead-letter entries of one batch in one transaction."""
        if not outputs and not dead:
            return
        names = self.names
        with self._translated():
            pipe = self._redis.pipeline(transaction=True)
            for output in outputs:
                pipe.xadd(names.output, output, maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
            for entry in dead:
                pipe.xadd(names.dead_letter, entry)  # type: ignore[arg-type]
            pipe.execute()

    def ack(self, ids: Sequence[str]) -> int:
        """Acknowledge messages of the input stream; returns how many were pending."""
        if not ids:
            return 0
        with self._translated():
            return self._redis.xack(self.names.input, self.names.group, *ids)

    def reconnect(self) -> None:
        """Drop the pooled connections and reach the server again.

        Raises:
            LinkLost: the server still cannot be reached.
        """
        self._redis.connection_pool.disconnect()
        with self._translated():
            self._redis.ping()

    def close(self) -> None:
        """Close the connections."""
        self._redis.close()

    # -- internals -----------------------------------------------------------------------

    def _streams(self) -> tuple[str, str, str]:
        return (self.names.input, self.names.output, self.names.dead_letter)

    def _read(self, start: str, count: int, block: int | None) -> list[Message]:
        names = self.names
        with self._translated():
            reply = cast(
                "list[Any] | None",
                self._redis.xreadgroup(
                    names.group, names.consumer, {names.input: start}, count=count, block=block
                ),
            )
        if not reply:
            return []
        return [_message(entry_id, fields) for entry_id, fields in reply[0][1]]

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise LinkLost(f"Lost the connection to Redis at {self.url}: {exc}") from exc
        except ResponseError as exc:
            if str(exc).startswith("NOGROUP"):
                raise GroupMissing(
                    f"Consumer group {self.names.group!r} of stream {self.names.input!r} no "
                    f"longer exists at {self.url}."
                ) from exc
            raise StoreError(f"Redis at {self.url} refused a command: {exc}") from exc
        except RedisError as exc:
            raise StoreError(f"Redis at {self.url} failed: {exc}") from exc


def _message(entry_id: bytes | str, fields: dict[bytes, bytes] | None) -> Message:
    # A message deleted after delivery comes back from history with no fields.
    return Message(_text(entry_id), fields or None)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _id_order(entry_id: str) -> tuple[int, int]:
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def _bad_url(url: str, why: str) -> str:
    return (
        f"Stream source {shown_url(url)!r} is not a Redis URL ({why}); use "
        "redis://HOST:PORT[/DB], rediss://HOST:PORT for TLS, or unix:///path/to/redis.sock."
    )
