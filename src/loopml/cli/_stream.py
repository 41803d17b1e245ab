"""``loopml stream TARGET``: score the events of a Redis stream as a consumer group member
(micro-batches, at least once), with a live line of progress until SIGINT or SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from loopml.cli._context import settings_of

if TYPE_CHECKING:
    from loopml.serving._stream import StreamStats

__all__ = ["stream"]

_REFRESH_S = 0.25
_RATE_WINDOW_S = 5.0


def stream(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="A model URI (churn@champion, churn/3) or a deployment name.")
    ],
    source: Annotated[
        str, typer.Option("--source", help="Redis URL: redis://HOST:PORT or redis://HOST:PORT/DB, rediss://..., unix://...")
    ],
    in_stream: Annotated[str, typer.Option("--in", help="Stream of events to score.")],
    out_stream: Annotated[str, typer.Option("--out", help="Stream the predictions go to.")],
    group: Annotated[str, typer.Option(help="Consumer group.")] = "loopml",
    consumer: Annotated[
        str | None, typer.Option(help="Name in the group (to resume after a restart); HOST-PID.")
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Most events per batch.")
    ] = 256,
    dead_letter: Annotated[
        str | None, typer.Option(help="Stream of refused events; default IN:dead.")
    ] = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="A new group reads the stream from its start.")
    ] = False,
    maxlen: Annotated[
        int | None, typer.Option(min=1, help="Trim the output stream to about N entries.")
    ] = None,
    claim_idle: Annotated[
        float, typer.Option(min=0.001, help="Take over messages idle consumers held this long (s).")
    ] = 60.0,
    max_deliveries: Annotated[
        int, typer.Option(min=1, help="Dead-letter a message delivered more often than this.")
    ] = 10,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not log predictions.")] = False,
) -> None:
    """Score a Redis stream's events in micro-batches until interrupted; events are
    acknowledged only once their predictions are written (at least once)."""
    from loopml.serving._stream_run import run_stream

    with _live_line(f"{in_stream} → {out_stream}") as show:
        stats = run_stream(
            target,
            settings=settings_of(ctx),
            redis_url=source,
            in_stream=in_stream,
            out_stream=out_stream,
            log=not no_log,
            on_progress=show,
            group=group,
            consumer=consumer,
            batch_size=batch_size,
            dead_letter=dead_letter,
            from_start=from_start,
            maxlen=maxlen,
            claim_idle_ms=max(1, round(claim_idle * 1000)),
            max_deliveries=max_deliveries,
        )
    typer.echo(
        f"Stopped: {stats.processed:,} events scored, {stats.dead_lettered:,} dead-lettered, "
        f"{stats.reclaimed:,} re-read after a failure, {stats.reconnects:,} reconnect(s)."
    )


@contextlib.contextmanager
def _live_line(label: str) -> Iterator[Callable[[StreamStats], None]]:
    """loopml's log lines on stderr and, on a terminal, a Rich live line below them
    (events/s over the last seconds, processed, dead-lettered, state), shown from the
    first report on: a consumer that fails to start leaves only its error."""
    from rich.console import Console
    from rich.live import Live
    from rich.logging import RichHandler
    from rich.text import Text

    console = Console(stderr=True)
    handler: logging.Handler = RichHandler(console=console, show_path=False)
    if not console.is_terminal:  # a log file: whole lines, never wrapped
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    package_logger = logging.getLogger("loopml")
    level = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    live = Live(console=console, refresh_per_second=4, transient=True)
    seen: deque[tuple[float, int]] = deque()

    def show(stats: StreamStats) -> None:
        now = time.monotonic()
        if seen and now - seen[-1][0] < _REFRESH_S:
            return
        seen.append((now, stats.processed))
        while now - seen[0][0] > _RATE_WINDOW_S:
            seen.popleft()
        span = now - seen[0][0]
        rate = (stats.processed - seen[0][1]) / span if span > 0 else 0.0
        live.update(
            Text(
                f"{label}  {rate:,.0f} events/s  {stats.processed:,} processed  "
                f"{stats.dead_lettered:,} dead-lettered  [{stats.state}]"
            )
        )
        if console.is_terminal and not live.is_started:
            live.start()

    try:
        yield show
    finally:
        if live.is_started:
            live.stop()
        package_logger.removeHandler(handler)
        package_logger.setLevel(level)
