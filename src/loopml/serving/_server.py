"""Running the serving app under uvicorn: one process, or several sharing one socket.

With several workers, uvicorn starts each by *spawning* a process and handing it the
pickled configuration, whose app is a factory: :func:`build_serving_app` with the
target and the settings bound. Each worker so builds its own app, with its own poll
thread and models, from the same explicit arguments; nothing travels through
environment variables.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loopml.serving._live import ModelSource, resolve_source, target_ref

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
    sink_factory: SinkFactory | None = None,
) -> None:
    """Serve ``target`` over REST until interrupted (Ctrl-C or SIGTERM).

    What is served is checked before the port is bound: a malformed target, a missing
    model, alias or version is an error here, not a server that never gets ready.

    Args:
        target: a model URI (``churn@champion``, ``churn/3``) or a deployment name.
        settings: the settings (stores, ``serving_poll_seconds``, body limit).
        host: the address to bind; bind 0.0.0.0 only behind something that
            authenticates requests.
        port: the port.
        workers: the number of server processes; each loads the models itself.
        sink_factory: makes each worker's prediction sink from the settings (a
            module-level function, since it is pickled to the workers).

    Raises:
        InvalidInput: a malformed target.
        NotFound: no such deployment, model, alias or version.
        ValueError: ``workers`` is below 1.

    Example:
        >>> serve("churn@champion", settings=load_settings(), port=8080)
    """
    import uvicorn  # loads only when serving

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}.")
    check_source(resolve_source(target, settings), settings)
    config = uvicorn.Config(
        functools.partial(build_serving_app, target, settings, sink_factory),
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
    target: str, settings: Settings, sink_factory: SinkFactory | None = None
) -> FastAPI:
    """The app of one server process (uvicorn's factory; each worker calls it)."""
    from loopml.serving._app import create_serving_app

    sink = sink_factory(settings) if sink_factory is not None else None
    return create_serving_app(resolve_source(target, settings), settings=settings, sink=sink)


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
