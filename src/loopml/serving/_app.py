"""The online REST serving app: ``POST /predict``, ``POST /feedback``, ``/health``,
``/ready``, ``/metrics``.

:func:`create_serving_app` builds a FastAPI app over a :class:`ModelSource`. The hot
path of ``/predict`` is kept lean on purpose (it is benchmarked against a bare FastAPI
app calling ``model.predict``): the body is read and parsed by hand (orjson), the
snapshot is read once, a single record goes straight to the registry's one-record fast
path, and the answer is serialised by orjson. Everything else happens off the request
path: loading models (the poll thread), scoring shadows (a small thread pool, after the
answer is sent), writing the prediction log (the sink only enqueues). ``POST /feedback``
takes ground-truth labels for logged predictions and writes them at once (in a worker
thread), to the labels of the name the predictions are logged under.

Errors answer in the body shape of the loopml API, ``{"error": {"type", "message"}}``,
with ``errors`` listing every bad field on a 422. Bad input never answers 500.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from loopml import __version__
from loopml.errors import InvalidInput, Unavailable
from loopml.serving._inputs import InvalidRecords
from loopml.serving._live import LiveModels, ModelSource, Snapshot, close_source, log_name
from loopml.serving._metrics import CONTENT_TYPE, ServingMetrics
from loopml.serving._openapi import FEEDBACK_DOCS, METRICS_DOCS, PREDICT_DOCS, READY_DOCS
from loopml.serving._payload import RequestProblem, parse_json, parse_records, read_limited
from loopml.serving._predlog import PredictionLog
from loopml.serving._predlog_labels import FEEDBACK_FORMS, record_feedback
from loopml.serving._records import NullSink, PredictionSink
from loopml.serving._scoring import Scored, prediction_records, score, score_shadows

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.registry import ModelRegistry

__all__ = ["INLINE_ROWS", "MAX_PENDING_SHADOWS", "create_serving_app"]

logger = logging.getLogger("loopml.serving")

INLINE_ROWS = 64
"""Requests of up to this many records, for quick models, are scored on the event loop's
thread (a thread hop costs more than scoring them); larger ones, and every request to a
slow model (see :class:`~loopml.serving._versions.ServedVersion`), in a worker thread,
so that the loop keeps answering meanwhile."""

MAX_PENDING_SHADOWS = 256
"""Requests whose shadows may wait to be scored; beyond, shadow work is dropped (and
counted) rather than queued without bound."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
_JSON = "application/json"
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no", ""})
_REASONS = {400: "malformed_json", 413: "too_large", 422: "invalid_input"}
_NOT_READY = "No model is loaded yet; retry shortly (GET /ready says when)."


def create_serving_app(
    source: ModelSource,
    *,
    settings: Settings,
    sink: PredictionSink | None = None,
    registry: ModelRegistry | None = None,
    freeze_gc: bool = False,
) -> FastAPI:
    """The REST app serving what ``source`` names; models load in the background.

    Args:
        source: what to serve (see :func:`resolve_source`).
        settings: ``serving_poll_seconds`` and ``serving_max_body_bytes``, and the
            stores the registry reads.
        sink: where prediction records go (it must not block); :class:`NullSink`
            when not given. Closed when the app shuts down, as is ``source`` when it
            has a ``close`` method.
        registry: the registry to load from; one over ``settings`` when not given.
            ``/feedback`` writes labels through its client.
        freeze_gc: freeze the heap after each swap of models (see
            :mod:`loopml.serving._live`); for a process loopml owns (``serve()`` sets
            it), never for an app built in a user's process.

    Returns:
        An ASGI app; its lifespan starts and stops the poll thread.

    Example:
        >>> app = create_serving_app(ModelUriSource("churn@champion"), settings=load_settings())
        >>> uvicorn.run(app, host="127.0.0.1", port=8080)
    """
    state = _Serving(source, settings, sink or NullSink(), registry, freeze_gc)
    app = FastAPI(
        title="loopml serving",
        version=__version__,
        summary="Predictions of a registered model, routed by its traffic policy.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        lifespan=state.lifespan,
    )
    app.state.serving = state
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_api_route(
        "/predict",
        state.predict,
        methods=["POST"],
        summary="Predict for one record or a batch",
        description="Routes each record by the traffic policy (sticky on the policy's "
        "key), predicts, and answers in request order.",
        **PREDICT_DOCS,
    )
    app.add_api_route(
        "/feedback",
        state.feedback,
        methods=["POST"],
        summary="Ground-truth labels for logged predictions",
        description="Attaches labels to predictions by request id (and row); they are "
        "joined to the prediction log when it is read with labels.",
        **FEEDBACK_DOCS,
    )
    app.add_api_route("/health", state.health, methods=["GET"], summary="What is served")
    app.add_api_route(
        "/ready", state.ready, methods=["GET"], summary="200 once a model is loaded", **READY_DOCS
    )
    app.add_api_route(
        "/metrics",
        state.metrics_text,
        methods=["GET"],
        summary="Prometheus metrics",
        **METRICS_DOCS,
    )
    return app


class _Serving:
    """The state of one serving app and its request handlers."""

    def __init__(
        self,
        source: ModelSource,
        settings: Settings,
        sink: PredictionSink,
        registry: ModelRegistry | None,
        freeze_gc: bool,
    ) -> None:
        self._client: Any = None
        if registry is None:
            from loopml.registry import ModelRegistry
            from loopml.tracking import Client

            self._client = Client(settings, capture_environment=False)
            registry = ModelRegistry(self._client)
        self._labels_client = registry.client
        self.live = LiveModels(
            source, registry, poll_seconds=settings.serving_poll_seconds, freeze_gc=freeze_gc
        )
        self.metrics = ServingMetrics()
        self.sink = sink
        self._log_stats = sink.stats if isinstance(sink, PredictionLog) else None
        self.limit = settings.serving_max_body_bytes
        self.started = time.monotonic()
        self._shadows = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loopml-shadow")
        self._shadow_slots = threading.BoundedSemaphore(MAX_PENDING_SHADOWS)
        self._sink_failed = False

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """Start the poll thread; at shutdown stop it, finish shadows, close the sink."""
        self.live.start()
        try:
            yield
        finally:
            await run_in_threadpool(self.close)

    def close(self) -> None:
        """Stop polling, score the shadows already queued, then close the sink (and the
        source, when it has something to release)."""
        self.live.stop()
        self._shadows.shutdown(wait=True)
        try:
            self.sink.close()
        finally:
            close_source(self.live.source)
            if self._client is not None:
                self._client.close()
        logger.info("Stopped: polling ended, shadows scored, prediction sink closed.")

    # -- POST /predict ------------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        """``POST /predict``: read, parse, route, score, answer; log after (see the
        module docstring for what stays off this path)."""
        started = time.perf_counter()
        arrived = datetime.now(UTC)
        request_id = _request_id(request.headers.get("x-request-id"))
        snapshot = self.live.snapshot
        try:
            body = await read_limited(
                request.headers.get("content-length"), request.stream(), self.limit
            )
            proba = _proba(request.query_params.get("proba"))
            records, _ = parse_records(body)
            if snapshot is None:
                return self._not_ready(request_id, started)
            if snapshot.is_quick and len(records) <= INLINE_ROWS:
                scored = score(snapshot, records, proba=proba)
            else:
                scored = await run_in_threadpool(score, snapshot, records, proba=proba)
        except RequestProblem as exc:
            return self._refuse(request_id, started, exc.status, exc.message)
        except InvalidRecords as exc:
            errors = [error.to_json() for error in exc.errors]
            return self._refuse(request_id, started, 422, exc.message, errors)
        except InvalidInput as exc:
            return self._refuse(request_id, started, 422, exc.message)
        except ClientDisconnect:  # nobody is left to answer
            self.metrics.error("disconnected")
            return Response(status_code=499)
        except Exception:
            return self._fail(request_id, started)
        return self._answer(request_id, arrived, started, snapshot, records, scored)

    def _answer(
        self,
        request_id: str,
        arrived: datetime,
        started: float,
        snapshot: Snapshot,
        records: list[dict[str, Any]],
        scored: Scored,
    ) -> Response:
        version = scored.version
        payload: dict[str, Any] = {
            "request_id": request_id,
            "model": snapshot.plan.model,
            "version": version,
            "versions": scored.versions,
            "predictions": scored.predictions,
        }
        if scored.probabilities is not None:
            payload["probabilities"] = scored.probabilities
        body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
        seconds = time.perf_counter() - started
        log = _LogLater(request_id, arrived, seconds * 1000, snapshot, records, scored)
        background = None
        if snapshot.plan.policy.shadows:
            background = BackgroundTask(self._shadow_then_log, log)
        else:
            self._log(log, None)
        label = str(version) if version is not None else "mixed"
        self.metrics.observe(label, 200, seconds, len(records))
        return Response(
            body, media_type=_JSON, headers={"x-request-id": request_id}, background=background
        )

    # -- prediction log and shadows -----------------------------------------------------

    async def _shadow_then_log(self, log: _LogLater) -> None:
        """Runs after the answer is sent: queue the shadows, never wait for them."""
        if not self._shadow_slots.acquire(blocking=False):
            self._drop_shadows(log, "too many shadow predictions were waiting")
            return
        try:
            self._shadows.submit(self._shadow_job, log)
        except RuntimeError:  # shutting down: the pool takes no more work
            self._shadow_slots.release()
            self._drop_shadows(log, "the server was shutting down")

    def _drop_shadows(self, log: _LogLater, why: str) -> None:
        self.metrics.shadows_dropped += 1
        dropped = {"error": f"dropped: {why}"}
        self._log(log, {target: dropped for target in log.snapshot.plan.policy.shadows})

    def _shadow_job(self, log: _LogLater) -> None:
        try:
            answers = score_shadows(log.snapshot, log.records)
            self.metrics.shadow_errors += sum("error" in a for a in answers.values())
            self._log(log, answers)
        finally:
            self._shadow_slots.release()

    def _log(self, log: _LogLater, shadows: dict[str, Any] | None) -> None:
        plan = log.snapshot.plan
        try:
            for record in prediction_records(
                log.scored,
                log.records,
                request_id=log.request_id,
                time=log.arrived,
                latency_ms=log.latency_ms,
                model=plan.model,
                deployment=plan.deployment,
                shadows=shadows,
            ):
                self.sink.log(record)
        except Exception:  # the log must never fail a request; say so once
            if not self._sink_failed:
                logger.exception("The prediction sink failed; predictions are not logged.")
            self._sink_failed = True
            self.metrics.error("sink")

    # -- POST /feedback -----------------------------------------------------------------

    async def feedback(self, request: Request) -> Response:
        """``POST /feedback``: check the labels, then write them as one segment of the
        labels of the name predictions are logged under (nothing when one is bad)."""
        snapshot = self.live.snapshot
        try:
            body = await read_limited(
                request.headers.get("content-length"), request.stream(), self.limit
            )
            document = parse_json(body, f"send {FEEDBACK_FORMS}")
            if snapshot is None:
                return self._feedback_refusal(503, "Unavailable", _NOT_READY)
            name = log_name(snapshot.plan)
            count = await run_in_threadpool(record_feedback, name, document, self._labels_client)
        except RequestProblem as exc:
            return self._feedback_refusal(exc.status, InvalidInput.__name__, exc.message)
        except InvalidInput as exc:
            return self._feedback_refusal(422, InvalidInput.__name__, exc.message)
        except Unavailable as exc:
            return self._feedback_refusal(503, Unavailable.__name__, str(exc))
        except ClientDisconnect:
            self.metrics.feedback[499] += 1
            return Response(status_code=499)
        except Exception:
            error_id = secrets.token_hex(6)
            logger.exception("Unexpected error %s in POST /feedback", error_id)
            message = f"Recording feedback failed (error id {error_id}); the server log has it."
            return self._feedback_refusal(500, "StoreError", message)
        self.metrics.feedback[200] += 1
        self.metrics.feedback_labels += count
        return _json({"logged": count}, 200)

    def _feedback_refusal(self, status: int, kind: str, message: str) -> Response:
        self.metrics.feedback[status] += 1
        response = _json({"error": {"type": kind, "message": message}}, status)
        if status == 503:
            response.headers["retry-after"] = "1"
        return response

    # -- refusals ------------------------------------------------------------------------

    def _refuse(
        self,
        request_id: str,
        started: float,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
    ) -> Response:
        self.metrics.error(_REASONS.get(status, "invalid_input"))
        self.metrics.observe("none", status, time.perf_counter() - started)
        detail: dict[str, Any] = {"type": InvalidInput.__name__, "message": message}
        if errors is not None:
            detail["errors"] = errors
        return _json({"request_id": request_id, "error": detail}, status, request_id)

    def _not_ready(self, request_id: str, started: float) -> Response:
        self.metrics.error("not_ready")
        self.metrics.observe("none", 503, time.perf_counter() - started)
        error = self.live.last_error
        why = f" Last error: {error.message}" if error is not None else ""
        message = f"{_NOT_READY}{why}"
        detail = {"type": "Unavailable", "message": message}
        response = _json({"request_id": request_id, "error": detail}, 503, request_id)
        response.headers["retry-after"] = "1"
        return response

    def _fail(self, request_id: str, started: float) -> Response:
        error_id = secrets.token_hex(6)
        logger.exception("Unexpected error %s in POST /predict (request %s)", error_id, request_id)
        self.metrics.error("internal")
        self.metrics.observe("none", 500, time.perf_counter() - started)
        message = f"Serving failed unexpectedly (error id {error_id}); the server log has it."
        detail = {"type": "StoreError", "message": message}
        return _json({"request_id": request_id, "error": detail}, 500, request_id)

    # -- GET /health, /ready, /metrics ---------------------------------------------------

    async def health(self) -> Response:
        """What is served: model, targets and versions, loaded versions, last error."""
        live = self.live
        snapshot = live.snapshot
        plan = snapshot.plan if snapshot is not None else None
        status = "loading" if snapshot is None else "serving" if live.is_current else "degraded"
        error = live.last_error
        return _json(
            {
                "status": status,
                "model": plan.model if plan else None,
                "deployment": plan.deployment if plan else None,
                "revision": plan.revision if plan else None,
                "policy": plan.policy.describe() if plan else None,
                "targets": snapshot.versions if snapshot is not None else {},
                "loaded_versions": live.loaded_versions,
                "last_error": error.to_json() if error is not None else None,
                "uptime_seconds": round(time.monotonic() - self.started, 3),
            },
            200,
        )

    async def ready(self) -> Response:
        """200 once the first snapshot of models serves, else 503."""
        if self.live.snapshot is not None:
            return _json({"ready": True}, 200)
        error = self.live.last_error
        reason = error.message if error is not None else "loading the model"
        return _json({"ready": False, "reason": reason}, 503)

    async def metrics_text(self) -> Response:
        """The counters in Prometheus' text format."""
        log_stats = self._log_stats() if self._log_stats is not None else None
        return Response(self.metrics.render(self.live, log_stats), media_type=CONTENT_TYPE)


class _LogLater:
    """What the prediction log needs of an answered request."""

    __slots__ = ("arrived", "latency_ms", "records", "request_id", "scored", "snapshot")

    def __init__(
        self,
        request_id: str,
        arrived: datetime,
        latency_ms: float,
        snapshot: Snapshot,
        records: list[dict[str, Any]],
        scored: Scored,
    ) -> None:
        self.request_id = request_id
        self.arrived = arrived
        self.latency_ms = latency_ms
        self.snapshot = snapshot
        self.records = records
        self.scored = scored


def _request_id(given: str | None, new_id: Callable[[], str] = lambda: uuid.uuid4().hex) -> str:
    """The client's id when it is sane (1-128 of letters, digits, ``._:-``), else a new one."""
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return new_id()


def _proba(value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise RequestProblem(422, f"Query parameter 'proba' must be true or false, got {value!r}.")


def _json(payload: dict[str, Any], status: int, request_id: str | None = None) -> Response:
    headers = {"x-request-id": request_id} if request_id is not None else None
    return Response(orjson.dumps(payload), status_code=status, media_type=_JSON, headers=headers)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        message = f"No route {request.method} {request.url.path}; see /docs."
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /docs."
    else:
        message = str(getattr(exc, "detail", "")) or "The request was refused."
    type_name = "NotFound" if status == 404 else "InvalidInput"
    return _json({"error": {"type": type_name, "message": message}}, status)
