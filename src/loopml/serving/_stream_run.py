"""``loopml stream``'s process: what a target serves, its prediction log, a consumer,
and SIGINT or SIGTERM to stop it after the batch under way."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

from loopml.serving._live import resolve_source
from loopml.serving._stream import StreamConsumer, StreamStats

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.serving._records import PredictionSink

__all__ = ["run_stream"]

logger = logging.getLogger("loopml.serving")


def run_stream(
    target: str,
    *,
    settings: Settings,
    redis_url: str,
    in_stream: str,
    out_stream: str,
    log: bool = True,
    on_progress: Callable[[StreamStats], None] | None = None,
    **options: Any,
) -> StreamStats:
    """Consume ``in_stream`` with what ``target`` serves until SIGINT or SIGTERM.

    Args:
        target: a model URI (``churn@champion``, ``churn/3``) or a deployment name.
        settings: the settings (stores, ``serving_poll_seconds``, the prediction log's).
        redis_url: the Redis server.
        in_stream: the events.
        out_stream: the predictions.
        log: log predictions to the prediction log of the deployment (of the model,
            for a model URI).
        on_progress: see :meth:`StreamConsumer.run`.
        options: the other arguments of :class:`StreamConsumer`.

    Returns:
        The consumer's final stats.

    Raises:
        InvalidInput: a malformed target, URL, stream name or bound.
        NotFound: no such deployment, model, alias or version.
        Unavailable: Redis cannot be reached, or the models cannot be loaded.

    Example:
        >>> run_stream("churn-api", settings=load_settings(),
        ...            redis_url="redis://127.0.0.1:6379", in_stream="features",
        ...            out_stream="scores")
    """
    source = resolve_source(target, settings)
    sink: PredictionSink | None = None
    try:
        if log:
            from loopml.serving._predlog import open_prediction_log

            plan = source.current()
            sink = open_prediction_log(plan.deployment or plan.model, settings)
        consumer = StreamConsumer(
            source,
            redis_url,
            in_stream,
            out_stream,
            settings=settings,
            sink=sink,
            freeze_gc=True,
            **options,
        )
    except BaseException:
        if sink is not None:
            sink.close()
        close_source = getattr(source, "close", None)
        if callable(close_source):
            close_source()
        raise
    with _stop_on_signals(consumer):
        return consumer.run(on_progress)


@contextlib.contextmanager
def _stop_on_signals(consumer: StreamConsumer) -> Iterator[None]:
    """SIGINT and SIGTERM stop the consumer after its batch (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        logger.info("%s: stopping after the batch under way.", signal.Signals(signum).name)
        consumer.stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
