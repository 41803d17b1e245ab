"""The REST API application: routes under ``/api/v1``, OpenAPI at ``/docs``.

:func:`create_app` builds the app over explicit settings. At startup it opens the SQL
stores (and the blob store they name), starts the reaper, which marks as failed the
running runs whose process stopped beating, and the scheduler, which fires pipeline
schedules; at shutdown it stops them.

Only light modules load here (FastAPI, SQLAlchemy, the stores): no pandas, no
scikit-learn. The server answers within a second or two of starting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Response
from starlette.concurrency import run_in_threadpool

from loopml import __version__
from loopml.errors import LoopmlError
from loopml.server import (
    _blobs,
    _datasets,
    _deployments,
    _experiments,
    _models,
    _runs,
    _schedules,
    _segments,
)
from loopml.server._deps import reply
from loopml.server.errors import install_error_handlers
from loopml.store.rest.schemas import API_PREFIX, HealthBody

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.store import RunStore, Stores

__all__ = ["REAP_INTERVAL_S", "create_app"]

logger = logging.getLogger("loopml.server")

REAP_INTERVAL_S = 30.0
"""Seconds between two sweeps for runs whose process stopped beating."""

_health = APIRouter(tags=["server"])


@_health.get("/health", response_model=HealthBody)
async def health() -> Response:
    """Whether the server is up, and its loopml version."""
    return reply(HealthBody(status="ok", version=__version__))


def create_app(
    settings: Settings, *, reap_interval: float = REAP_INTERVAL_S, scheduler: bool = True
) -> FastAPI:
    """The REST API over the stores that ``settings`` point at.

    Args:
        settings: the server's settings; ``store_uri`` and ``blob_uri`` name its stores
            (``tracking_uri`` is ignored: a server never forwards to another server).
        reap_interval: seconds between two sweeps for stale runs (tests shorten it).
        scheduler: run the controller that fires pipeline schedules, in a thread of the
            server (several server processes may each run one: a firing is claimed
            once).

    Returns:
        The ASGI app; serve it with :func:`loopml.server.run_server` or any ASGI server.

    Example:
        >>> app = create_app(load_settings())
        >>> uvicorn.run(app, host="127.0.0.1", port=8476)
    """
    app = FastAPI(
        title="loopml",
        version=__version__,
        summary="Tracking, blobs and the rest of the machine-learning loop, over HTTP.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        lifespan=_lifespan(settings, reap_interval, scheduler),
    )
    install_error_handlers(app)
    routers = (
        _experiments.router,
        _runs.router,
        _models.router,
        _models.approvals_router,
        _datasets.router,
        _schedules.router,
        _deployments.router,
        _segments.router,
    )
    for router in (_health, *routers, _blobs.router):
        app.include_router(router, prefix=API_PREFIX)
    return app


def _lifespan(
    settings: Settings, reap_interval: float, scheduler: bool
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from loopml.store.sql import open_sql_stores  # SQLAlchemy loads with the app only

        stores = await run_in_threadpool(open_sql_stores, settings)
        app.state.stores = stores
        app.state.upload_dir = settings.home / _blobs.UPLOAD_DIR
        await run_in_threadpool(_blobs.sweep_uploads, app.state.upload_dir)
        timeout = settings.tracking_heartbeat_timeout
        reaper = asyncio.create_task(_reap_forever(stores.runs, timeout, reap_interval))
        stop = threading.Event()
        controller = _start_scheduler(stores, settings, stop) if scheduler else None
        try:
            yield
        finally:
            stop.set()
            if controller is not None:
                await run_in_threadpool(controller.join)
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            stores.close()

    return lifespan


def _start_scheduler(stores: Stores, settings: Settings, stop: threading.Event) -> threading.Thread:
    """The schedule controller in a daemon thread (it only waits on the store and on
    ``stop``; the pipelines it fires run in processes of their own)."""
    from loopml.pipelines._scheduler import Scheduler  # no pandas: steps run elsewhere

    thread = threading.Thread(
        target=Scheduler(stores, settings).serve, args=(stop,), name="loopml-scheduler", daemon=True
    )
    thread.start()
    return thread


async def _reap_forever(runs: RunStore, heartbeat_timeout: float, interval: float) -> None:
    """Fail the runs silent for ``heartbeat_timeout`` seconds, every ``interval`` seconds.

    The first sweep waits a whole timeout: after a restart, clients that could not beat
    while the server was down get the time to beat again before their runs are failed.
    """
    await asyncio.sleep(max(interval, heartbeat_timeout))
    while True:
        cutoff = datetime.now(UTC) - timedelta(seconds=heartbeat_timeout)
        try:
            failed = await run_in_threadpool(runs.fail_stale_runs, cutoff, [])
        except LoopmlError as exc:
            logger.warning("Could not fail stale runs: %s", exc)
        else:
            if failed:
                logger.info(
                    "Marked %d run(s) failed after %g s without a heartbeat: %s",
                    len(failed),
                    heartbeat_timeout,
                    ", ".join(failed),
                )
        await asyncio.sleep(interval)
