"""Serving the app with uvicorn: one process, or several sharing one socket."""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from loopml.server.app import create_app

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["run_server"]

# Longer than the client's keep-alive (httpx: 5 s), so that the client always drops an
# idle connection first and never sends a request into one the server is closing.
_KEEP_ALIVE_S = 20


def run_server(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    workers: int = 1,
    scheduler: bool = True,
) -> None:
    """Serve the REST API until interrupted (Ctrl-C or SIGTERM).

    Args:
        settings: the server's settings; each worker process builds its app from them
            (passed to the worker, never through environment variables).
        host: the address to bind; ``settings.server_host`` (127.0.0.1) when not given.
            Bind 0.0.0.0 only behind something that authenticates requests.
        port: the port; ``settings.server_port`` (8476) when not given.
        workers: the number of server processes.
        scheduler: fire pipeline schedules from the server (see :func:`create_app`).

    Raises:
        ValueError: ``workers`` is below 1.

    Example:
        >>> run_server(load_settings(), port=8476)
    """
    import uvicorn  # loads only when serving, not when the app is built for tests

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}.")
    config = uvicorn.Config(
        functools.partial(create_app, settings, scheduler=scheduler),
        factory=True,
        host=host or settings.server_host,
        port=port or settings.server_port,
        workers=workers,
        timeout_keep_alive=_KEEP_ALIVE_S,
        log_level="info",
    )
    server = uvicorn.Server(config)
    if workers == 1:
        server.run()
        return
    _run_workers(config, server)


def _run_workers(config: Any, server: Any) -> None:
    from uvicorn.supervisors import Multiprocess

    # uvicorn < 0.35 takes the target to run in each worker; newer ones derive it.
    extra = {"target": server.run} if "target" in inspect.signature(Multiprocess).parameters else {}
    Multiprocess(config, sockets=[config.bind_socket()], **extra).run()
