"""The prediction log's record, and the port that takes records off the request path.

Every answered request leaves a :class:`PredictionRecord` per route that answered it
(one for most requests; a batch whose records went to two routes leaves two, sharing
the request id, each knowing which of the request's records it answered): what came in, which version answered what, how long it took, and what
the shadow targets would have answered. A :class:`PredictionSink` receives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = ["NullSink", "PredictionRecord", "PredictionSink"]


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """What one route answered for one request.

    Attributes:
        request_id: the request's id (the caller's ``X-Request-Id``, or a new one).
        time: when the request arrived (UTC).
        deployment: the deployment served, or None when serving a model URI.
        model: the registered model's name.
        version: the version that answered.
        target: the route target that resolved to ``version`` (``champion``, ``7``).
        inputs: the records this route answered, as JSON values, in request order.
        outputs: the predictions returned for them, in the same order.
        latency_ms: the time from the request's arrival to its answer being ready.
        shadows: per shadow target, ``{"version": int, "outputs": [...]}`` for the same
            inputs (``{"version": int, "error": "..."}`` when the shadow failed).
        rows: each input's index in the request, when the route answered only some of
            its records (a batch split over routes); None means ``0, 1, 2, ...``.
    """

    request_id: str
    time: datetime
    deployment: str | None
    model: str
    version: int
    target: str
    inputs: list[Any]
    outputs: list[Any]
    latency_ms: float
    shadows: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[int] | None = None


@runtime_checkable
class PredictionSink(Protocol):
    """Where prediction records go (the Parquet prediction log, a queue, a list in tests).

    ``log`` is called on the serving path: it must return at once (enqueue, never
    write or send there) and must not raise for a full buffer (drop and count instead).
    """

    def log(self, record: PredictionRecord) -> None:
        """Take one record; never blocks."""
        ...

    def close(self) -> None:
        """Flush what is buffered and release resources; called once at shutdown."""
        ...


class NullSink:
    """A sink that keeps nothing: the default when no prediction log is configured."""

    def log(self, record: PredictionRecord) -> None:
        """Drop the record."""

    def close(self) -> None:
        """Nothing to release."""
