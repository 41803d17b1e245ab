"""Where a stream consumer's next micro-batch comes from: what it holds first, then what
idle consumers hold, then what is new.

A consumer that starts, or has lost its connection, may hold messages it read and never
acknowledged; a :class:`MessageFeed` hands those out first (XREADGROUP from id ``0``,
page after page), then, every ``claim_idle_ms / 2`` (at most 30 s), takes over messages
that other consumers have held for ``claim_idle_ms`` (XAUTOCLAIM), and otherwise reads
new messages (XREADGROUP ``>``, waiting up to ``block_ms``).

A message read again is checked against its delivery count: one delivered more often
than ``max_deliveries`` stopped every consumer that took it (a crash, a kill, a model
that hangs) and is refused rather than tried once more.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from loopml.serving._stream_events import Message, Refusal
from loopml.serving._stream_redis import StreamLink

__all__ = ["Intake", "MessageFeed"]

logger = logging.getLogger("loopml.serving")

_HISTORY_START = "0"
_CLAIM_START = "0-0"
_MAX_CLAIM_INTERVAL_S = 30.0


@dataclass(frozen=True, slots=True)
class Intake:
    """One micro-batch as read.

    Attributes:
        messages: the messages to process.
        refused: messages read again too often, to dead-letter as they are.
        reread: how many of both were read before (own pending, or taken over).
    """

    messages: list[Message] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    reread: int = 0

    def __bool__(self) -> bool:
        return bool(self.messages or self.refused)


class MessageFeed:
    """The next micro-batch of one consumer; see the module docstring.

    Args:
        link: the consumer's Redis connection.
        batch_size: the most messages per batch.
        claim_idle_ms: take over messages other consumers held longer than this.
        max_deliveries: refuse a message delivered more often than this.
        clock: a monotonic clock (when the next take-over is due).
    """

    def __init__(
        self,
        link: StreamLink,
        *,
        batch_size: int,
        claim_idle_ms: int,
        max_deliveries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._link = link
        self._batch_size = batch_size
        self._claim_idle_ms = claim_idle_ms
        self._max_deliveries = max_deliveries
        self._clock = clock
        self._claim_every_s = min(claim_idle_ms / 2000, _MAX_CLAIM_INTERVAL_S)
        self._history_from: str | None = _HISTORY_START
        self._claim_cursor = _CLAIM_START
        self._next_claim = 0.0

    @property
    def is_recovering(self) -> bool:
        """Whether the feed is still handing out messages this consumer held."""
        return self._history_from is not None

    def reread(self) -> None:
        """Hand out what this consumer holds again first (after a lost connection, when
        a batch may have been read, or written, and not acknowledged)."""
        self._history_from = _HISTORY_START

    def next(self) -> Intake:
        """The next micro-batch; empty when nothing came within ``block_ms``.

        Raises:
            LinkLost: the connection broke.
            GroupMissing: the group no longer exists.
        """
        if self._history_from is not None:
            held = self._link.read_pending(self._history_from, self._batch_size)
            if held:
                self._history_from = held[-1].id
                return self._checked(held)
            self._history_from = None
        if self._clock() >= self._next_claim:
            self._claim_cursor, taken = self._link.claim_idle(
                self._claim_idle_ms, self._claim_cursor, self._batch_size
            )
            if self._claim_cursor == _CLAIM_START:  # the whole backlog was scanned
                self._next_claim = self._clock() + self._claim_every_s
            if taken:
                logger.info("Took over %d message(s) from idle consumers.", len(taken))
                return self._checked(taken)
        return Intake(self._link.read_new(self._batch_size))

    def _checked(self, messages: list[Message]) -> Intake:
        counts = self._link.deliveries(messages)
        kept: list[Message] = []
        refused: list[Refusal] = []
        for message in messages:
            count = counts.get(message.id, 0)
            if message.fields is not None and count > self._max_deliveries:
                refused.append(_too_often(message, count, self._max_deliveries))
            else:
                kept.append(message)
        return Intake(kept, refused, len(messages))


def _too_often(message: Message, count: int, most: int) -> Refusal:
    return Refusal(
        message,
        f"Delivered {count} times and never acknowledged (more than max_deliveries={most}): "
        "every consumer that read it stopped before finishing it; set apart so that it "
        "cannot stall the stream.",
    )
