"""The stream consumer: predictions for the events of a Redis stream, at least once.

``loopml stream churn-api --source redis://127.0.0.1:6379 --in features --out scores``
runs a :class:`StreamConsumer`, a member of a Redis Streams consumer group. Each turn of
its loop takes a micro-batch of up to ``batch_size`` messages, scores the batch's
events with one call per route (the same live models, router, signature checks and
prediction log as the REST app), appends one output entry per answered event and one
dead-letter entry per refused event in **one** MULTI/EXEC transaction, and only then
acknowledges the messages (XACK). The event and entry formats are described in
:mod:`loopml.serving._stream_events`.

**At least once.** A message is acknowledged only after its entry is written, so a
consumer that dies in between (or loses Redis) leaves it pending, and it is processed
again: every output entry carries ``input_id`` for readers to drop duplicates. What is
pending comes back in three ways:

* a consumer restarted under the same name (``--consumer``) first re-reads its own
  pending messages (XREADGROUP from id ``0``), and so does one that lost its
  connection, before it reads anything new;
* every consumer takes over, with XAUTOCLAIM, messages that another consumer has held
  unacknowledged for longer than ``claim_idle_ms`` (a consumer that died for good);
* a message delivered more than ``max_deliveries`` times (it crashed every consumer
  that took it) is dead-lettered instead of being tried once more
  (see :mod:`loopml.serving._stream_feed`).

**Refused events** (malformed, or a record that does not fit the signature, or one the
model raises on) are dead-lettered with the reason and acknowledged; the rest of their
batch is scored as usual (see :mod:`loopml.serving._stream_score`).

**Lost connections** are retried with a back-off (0.1 s doubling to 5 s) until Redis
answers or the consumer is stopped; the batch under way is not acknowledged, so it is
re-read from the pending list and written again. A stop (SIGINT, SIGTERM, :meth:`stop`)
lets the batch under way finish, write and acknowledge first.

``loopml stream`` runs a consumer through :func:`loopml.serving._stream_run.run_stream`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, Unavailable
from loopml.serving._live import LiveModels, ModelSource, Snapshot, target_ref
from loopml.serving._stream_events import (
    StreamEvent,
    dead_letter_fields,
    output_fields,
    parse_event,
)
from loopml.serving._stream_feed import Intake, MessageFeed
from loopml.serving._stream_redis import GroupMissing, LinkLost, StreamLink, StreamNames
from loopml.serving._stream_score import Answer, Outcome, prediction_records, score_events

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.registry import ModelRegistry
    from loopml.serving._records import PredictionSink
    from loopml.tracking import Client

__all__ = ["MAX_BATCH_SIZE", "StreamConsumer", "StreamStats"]

logger = logging.getLogger("loopml.serving")

MAX_BATCH_SIZE = 10_000
_FIRST_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 5.0


@dataclass(frozen=True, slots=True)
class StreamStats:
    """What a consumer has done since it started.

    Attributes:
        processed: events answered (their output entries written and acknowledged).
        dead_lettered: events refused (dead-letter entries written and acknowledged).
        batches: micro-batches written and acknowledged.
        reclaimed: messages read again after a crash or a lost connection (its own
            pending ones, and those taken over from idle consumers).
        reconnects: connections to Redis lost and regained.
        state: ``starting``, ``recovering``, ``consuming``, ``reconnecting`` or ``stopped``.
    """

    processed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    reclaimed: int = 0
    reconnects: int = 0
    state: str = "starting"


class StreamConsumer:
    """Scores the events of a Redis stream as a member of a consumer group.

    Args:
        source: what to serve (see :func:`resolve_source`).
        redis_url: ``redis://HOST:PORT[/DB]``, ``rediss://`` or ``unix://``.
        in_stream: the stream of events (created with the group when missing).
        out_stream: the stream the predictions are appended to.
        settings: the stores the models are loaded from, ``serving_poll_seconds``.
        sink: the prediction log (closed by :meth:`close`); None logs nothing.
        group: the consumer group; consumers of one group share the events.
        consumer: this consumer's name in the group; restarted under the same name it
            resumes what it held. Default: ``HOST-PID``.
        batch_size: the most events per micro-batch (1 to 10,000).
        block_ms: how long a read waits for new events (and so, at most, a stop).
        dead_letter: the stream of refused events; default ``IN:dead``.
        from_start: a group created now reads the stream from its first message
            instead of from the messages added from now on.
        maxlen: trim the output stream to about this many entries; None keeps all.
        claim_idle_ms: take over messages other consumers held longer than this.
        max_deliveries: dead-letter a message delivered more often than this.
        registry: where models are loaded from; one over ``settings`` when not given.
        freeze_gc: freeze the heap after each model swap (for a process that only
            consumes; see :class:`LiveModels`).

    Raises:
        InvalidInput: a malformed URL, stream name or bound.

    Example:
        >>> consumer = StreamConsumer(
        ...     resolve_source("churn@champion", settings), "redis://127.0.0.1:6379",
        ...     "features", "scores", settings=settings)
        >>> threading.Thread(target=consumer.run).start(); ...; consumer.stop()
    """

    def __init__(
        self,
        source: ModelSource,
        redis_url: str,
        in_stream: str,
        out_stream: str,
        *,
        settings: Settings,
        sink: PredictionSink | None = None,
        group: str = "loopml",
        consumer: str | None = None,
        batch_size: int = 256,
        block_ms: int = 1000,
        dead_letter: str | None = None,
        from_start: bool = False,
        maxlen: int | None = None,
        claim_idle_ms: int = 60_000,
        max_deliveries: int = 10,
        registry: ModelRegistry | None = None,
        freeze_gc: bool = False,
    ) -> None:
        _check_bound("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        _check_bound("block_ms", block_ms, 1, 600_000)
        _check_bound("claim_idle_ms", claim_idle_ms, 1, 86_400_000)
        _check_bound("max_deliveries", max_deliveries, 1, 1_000_000)
        if maxlen is not None:
            _check_bound("maxlen", maxlen, 1, 2**63 - 1)
        self.names = StreamNames(
            in_stream,
            out_stream,
            f"{in_stream}:dead" if dead_letter is None else dead_letter,
            group,
            consumer or f"{socket.gethostname()}-{os.getpid()}",
        )
        self.from_start = from_start
        self._link = StreamLink(redis_url, self.names, block_ms=block_ms, maxlen=maxlen)
        self._feed = MessageFeed(
            self._link,
            batch_size=batch_size,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
        )
        self._client: Client | None = None
        if registry is None:
            from loopml.registry import ModelRegistry
            from loopml.tracking import Client

            self._client = Client(settings, capture_environment=False)
            registry = ModelRegistry(self._client)
        self._registry = registry
        self.live = LiveModels(
            source, registry, poll_seconds=settings.serving_poll_seconds, freeze_gc=freeze_gc
        )
        self._sink = sink
        self._sink_failed = False
        self._stop = threading.Event()
        self._started = self._closed = False
        self.stats = StreamStats()

    @property
    def consumer(self) -> str:
        """This consumer's name in its group."""
        return self.names.consumer

    def start(self) -> None:
        """Reach Redis, load the models, create the group if missing: nothing is created
        when what to serve cannot be loaded. A consumer that fails to start is closed.

        Raises:
            Unavailable: Redis cannot be reached, or the models cannot be loaded.
            NotFound: the model, an alias or a version does not exist.
            InvalidInput: a key of a stream's name holds something else.
        """
        if self._started:
            raise RuntimeError("StreamConsumer.start() was called twice.")
        self._started = True
        try:
            self._begin()
        except BaseException:
            self.close()
            raise

    def _begin(self) -> None:
        self._link.check()
        plan = self.live.source.current()
        for target in plan.policy.targets:
            self._registry.resolve(target_ref(plan.model, target))
        self.live.refresh()
        if self.live.snapshot is None:
            error = self.live.last_error
            raise Unavailable(
                f"Cannot load the models of {plan.model!r}: "
                f"{error.message if error else 'unknown error'}."
            )
        self.live.start()
        created = self._link.ensure_group(from_start=self.from_start)
        names = self.names
        logger.info(
            "Consuming %s → %s (dead letters: %s) at %s as %r of group %r%s.",
            names.input,
            names.output,
            names.dead_letter,
            self._link.url,
            names.consumer,
            names.group,
            " (created)" if created else "",
        )
        self._set(state="recovering")

    def run(self, on_progress: Callable[[StreamStats], None] | None = None) -> StreamStats:
        """Start (unless started), consume until :meth:`stop`, then close.

        Args:
            on_progress: called with the stats after each read, whether it returned
                events or waited ``block_ms`` for none.

        Returns:
            The final stats.
        """
        try:
            if not self._started:
                self.start()
            while not self._stop.is_set():
                self._step()
                if on_progress is not None:
                    on_progress(self.stats)
        finally:
            self.close()
        return self.stats

    def stop(self) -> None:
        """Stop after the batch under way (safe from a signal handler or another thread)."""
        self._stop.set()

    def close(self) -> None:
        """Stop polling for model changes, flush the prediction log, close connections."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        try:
            self.live.stop()
            self._link.close()
            if self._sink is not None:
                self._sink.close()
        finally:
            close_source = getattr(self.live.source, "close", None)
            if callable(close_source):
                close_source()
            if self._client is not None:
                self._client.close()
            self._set(state="stopped")

    # -- one turn of the loop ------------------------------------------------------------

    def _step(self) -> None:
        try:
            intake = self._feed.next()
            state = "recovering" if self._feed.is_recovering else "consuming"
            if intake.reread or state != self.stats.state:
                self._set(reclaimed=self.stats.reclaimed + intake.reread, state=state)
            if intake:
                self._process(intake)
        except GroupMissing as exc:
            self._recreate_group(exc)
        except LinkLost as exc:
            self._wait_for_redis(exc)

    def _process(self, intake: Intake) -> None:
        read_at = datetime.now(UTC)
        started = time.perf_counter()
        events: list[StreamEvent] = []
        refusals = list(intake.refused)
        for message in intake.messages:
            parsed = parse_event(message)
            if isinstance(parsed, StreamEvent):
                events.append(parsed)
            else:
                refusals.append(parsed)
        snapshot = self.live.snapshot
        if snapshot is None:  # start() returns only once a snapshot serves
            raise RuntimeError("StreamConsumer.run() needs start() to have loaded the models.")
        outcome = score_events(snapshot, events) if events else Outcome()
        refusals.extend(outcome.refusals)
        model = snapshot.plan.model
        self._link.write(
            [
                output_fields(
                    a.event,
                    model=model,
                    version=a.version,
                    target=a.target,
                    prediction=a.prediction,
                )
                for a in outcome.answers
            ],
            [
                dead_letter_fields(r, stream=self.names.input, group=self.names.group)
                for r in refusals
            ],
        )
        self._link.ack([m.id for m in intake.messages] + [r.message.id for r in intake.refused])
        stats = self.stats
        self._set(
            processed=stats.processed + len(outcome.answers),
            dead_lettered=stats.dead_lettered + len(refusals),
            batches=stats.batches + 1,
        )
        if refusals:
            logger.debug("Dead-lettered %d event(s): %s", len(refusals), refusals[0].reason)
        self._log(snapshot, outcome.answers, read_at, (time.perf_counter() - started) * 1000)

    def _log(
        self, snapshot: Snapshot, answers: list[Answer], read_at: datetime, latency_ms: float
    ) -> None:
        if self._sink is None or not answers:
            return
        try:
            for record in prediction_records(
                snapshot, answers, time=read_at, latency_ms=latency_ms
            ):
                self._sink.log(record)
        except Exception:  # the log must never stop the stream; say so once
            if not self._sink_failed:
                logger.exception("The prediction sink failed; predictions are not logged.")
            self._sink_failed = True

    # -- recovery ------------------------------------------------------------------------

    def _wait_for_redis(self, lost: LinkLost) -> None:
        logger.warning("%s; retrying, the batch under way stays pending.", lost)
        self._set(state="reconnecting")
        delay = _FIRST_BACKOFF_S
        while not self._stop.wait(delay):
            try:
                self._link.reconnect()
            except LinkLost:
                delay = min(delay * 2, _MAX_BACKOFF_S)
                continue
            logger.info("Reconnected to Redis at %s; re-reading pending messages.", self._link.url)
            self._set(reconnects=self.stats.reconnects + 1, state="recovering")
            self._feed.reread()
            return

    def _recreate_group(self, missing: GroupMissing) -> None:
        try:
            self._link.ensure_group(from_start=True)
        except LinkLost as exc:
            self._wait_for_redis(exc)
            return
        logger.warning(
            "%s It was created again, reading the stream from its start (Redis restarted "
            "without persistence, or the stream was deleted).",
            missing,
        )
        self._feed.reread()
        self._set(state="recovering")

    def _set(self, **changes: Any) -> None:
        # One new frozen record per change: another thread reading ``stats`` always sees
        # a consistent one.
        self.stats = replace(self.stats, **changes)


def _check_bound(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} must be an integer from {low:,} to {high:,}, got {value!r}.")
