"""``loopml serve TARGET``: serve a deployment or a model over REST (POST /predict,
POST /feedback, /health, /ready, /metrics, OpenAPI at /docs), logging every prediction."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._context import settings_of

__all__ = ["serve"]


def serve(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            help="A model URI (churn@champion, churn/3, churn@latest) or a deployment name."
        ),
    ],
    host: Annotated[
        str, typer.Option(help="Address to bind; 0.0.0.0 only behind an authenticating proxy.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not log predictions to the prediction log.")
    ] = False,
) -> None:
    """Serve until interrupted; a deployment update, a rollback or a moved alias is served
    within a poll interval. Predictions are logged under the deployment's name (or the
    model's)."""
    from loopml.serving._server import serve as run

    run(
        target,
        settings=settings_of(ctx),
        host=host,
        port=port,
        workers=workers,
        prediction_log=not no_log,
    )
