"""Running the serving app under uvicorn: one process, or several sharing one socket.

With several workers, uvicorn starts each by *spawning* a process and handing it the
pickled configuration, whose app is a factory: :func:`build_serving_app` with the
target and the settings bound. Each worker so builds its own app, with its own poll
thread, models, deployment source and prediction log writer, from the same explicit
arguments; nothing travels through environment variables. The app's shutdown (SIGTERM,
Ctrl-C) writes out the worker's prediction log and closes its source.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loopml.serving._live import (
    ModelSource,
    close_source,
    log_name,
    resolve_source,
    target_ref,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from loopml.config import Settings
    from loopml.serving._records import PredictionSink

__all__ = ["build_serving_app", "check_source", "serve"]

SinkFactory = Callable[["Settings"], "PredictionSink"]

# Longer than a client's usual keep-alive (httpx: 5 s), so that the client drops an idle
# connection first and never sends a request into one the server is closing.
_KEEP_ALIVE_S = 20
_GRACEFUL_SHUTDOWN_S = 30


def serve(
    target: str,
    *,
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    prediction_log: bool = True,
    sink_factory: SinkFactory | None = None,
) -> None:
    """Serve ``target`` over REST until interrupted (Ctrl-C or SIGTERM).

    What is served is checked before the port is bound: a malformed target, a missing
    deployment, model, alias or version is an error here, not a server that never gets
    ready. Every prediction is logged (see :func:`build_serving_app`); the log is
    written out when the server stops.

    Args:
        target: a model URI (``churn@champion``, ``churn/3``) or a deployment name.
        settings: the settings (stores, ``serving_poll_seconds``, body limit, the
            prediction log's flush interval and buffer).
        host: the address to bind; bind 0.0.0.0 only behind something that
            authenticates requests.
        port: the port.
        workers: the number of server processes; each loads the models and opens its
            own prediction log writer.
        prediction_log: log every prediction to the prediction log of the deployment
            (or of the model, for a model URI); False logs nothing.
        sink_factory: makes each worker's prediction sink from the settings, instead of
            the prediction log (a module-level function, since it is pickled to the
            workers).

    Raises:
        InvalidInput: a malformed target.
        NotFound: no such deployment, model, alias or version.
        ValueError: ``workers`` is below 1, or ``sink_factory`` is given with
            ``prediction_log=False``.

    Example:
        >>> serve("churn-api", settings=load_settings(), port=8080)
    """
    import uvicorn  # loads only when serving

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}.")
    _check_sink_choice(prediction_log, sink_factory)
    source = resolve_source(target, settings)
    try:
        check_source(source, settings)
    finally:
        close_source(source)
    app_factory = functools.partial(
        build_serving_app,
        target,
        settings,
        sink_factory,
        prediction_log=prediction_log,
        freeze_gc=True,  # the server's processes are loopml's own
    )
    config = uvicorn.Config(
        app_factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_keep_alive=_KEEP_ALIVE_S,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
        log_config=_log_config(uvicorn),
        log_level="info",
        # A log line per request would cost more than scoring one row; requests are
        # counted in /metrics and recorded in the prediction log instead.
        access_log=False,
    )
    server = uvicorn.Server(config)
    if workers == 1:
        server.run()
        return
    _run_workers(config, server)


def build_serving_app(
    target: str,
    settings: Settings,
    sink_factory: SinkFactory | None = None,
    *,
    prediction_log: bool = True,
    freeze_gc: bool = False,
) -> FastAPI:
    """The app of one server process (uvicorn's factory; each worker calls it).

    Args:
        target: a model URI or a deployment name (see :func:`resolve_source`).
        settings: the settings.
        sink_factory: makes the prediction sink, instead of the prediction log.
        prediction_log: log predictions through a :class:`PredictionLog` of this
            process, named by :func:`log_name` (the deployment, or the model); False
            logs nothing.
        freeze_gc: freeze the heap after each swap of models (see
            :mod:`loopml.serving._live`); only for a process loopml owns.

    Raises:
        InvalidInput, NotFound: as for :func:`serve`.
        ValueError: ``sink_factory`` with ``prediction_log=False``.
    """
    from loopml.serving._app import create_serving_app

    _check_sink_choice(prediction_log, sink_factory)
    source = resolve_source(target, settings)
    sink: PredictionSink | None = None
    try:
        if sink_factory is not None:
            sink = sink_factory(settings)
        elif prediction_log:
            from loopml.serving._predlog import open_prediction_log

            sink = open_prediction_log(log_name(source.current()), settings)
        return create_serving_app(source, settings=settings, sink=sink, freeze_gc=freeze_gc)
    except BaseException:
        if sink is not None:
            sink.close()
        close_source(source)
        raise


def check_source(source: ModelSource, settings: Settings) -> None:
    """Resolve every target of what ``source`` serves once, so that a typo fails now.

    Raises:
        NotFound: the model, an alias or a version does not exist.
    """
    from loopml.registry import ModelRegistry
    from loopml.tracking import Client

    plan = source.current()
    client = Client(settings, capture_environment=False)
    try:
        registry = ModelRegistry(client)
        for target in plan.policy.targets:
            registry.resolve(target_ref(plan.model, target))
    finally:
        client.close()


def _check_sink_choice(prediction_log: bool, sink_factory: SinkFactory | None) -> None:
    if sink_factory is not None and not prediction_log:
        raise ValueError(
            "sink_factory replaces the prediction log; pass it with prediction_log=True "
            "(the default), or pass prediction_log=False alone to log nothing."
        )


def _log_config(uvicorn: Any) -> dict[str, Any]:
    """uvicorn's logging set-up, plus loopml's loggers on the same handler (each worker
    applies it when it starts)."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["loopml"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _run_workers(config: Any, server: Any) -> None:
    from uvicorn.supervisors import Multiprocess

    # uvicorn < 0.35 takes the target to run in each worker; newer ones derive it.
    extra = {"target": server.run} if "target" in inspect.signature(Multiprocess).parameters else {}
    Multiprocess(config, sockets=[config.bind_socket()], **extra).run()
