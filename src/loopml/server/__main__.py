"""``python -m loopml.server [--host H] [--port N] [--workers W] [--no-scheduler]``: serve
the REST API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from loopml.config import load_settings
from loopml.errors import LoopmlError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, resolve the settings and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m loopml.server", description="Serve the loopml REST API."
    )
    parser.add_argument("--host", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: 8476)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default: 1)")
    parser.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not fire pipeline schedules from this server",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    try:
        settings = load_settings({"server_host": args.host, "server_port": args.port})
    except LoopmlError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    from loopml.server import run_server

    run_server(settings, workers=args.workers, scheduler=not args.no_scheduler)


if __name__ == "__main__":
    main()
