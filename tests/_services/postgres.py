"""A throwaway PostgreSQL cluster for the test session (initdb + pg_ctl, as user postgres)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests._services.net import free_port

__all__ = ["postgres_cluster"]


def _bindir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        raise RuntimeError(
            "pg_config not found: `make test` installs PostgreSQL (make system-deps)."
        )
    return Path(subprocess.check_output([pg_config, "--bindir"], text=True).strip())


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a fresh cluster on a free port; yield a SQLAlchemy URI of an empty database."""
    bindir = _bindir()
    # initdb and postgres refuse to run as root: run them as the postgres user then.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="loopml-pg-"))
    if as_user:
        shutil.chown(base, "postgres", "postgres")
    data, log, port = base / "data", base / "server.log", free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    run(
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-A",
        "trust",
        "-U",
        "loopml",
        "-E",
        "UTF8",
        "--no-sync",
    )
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(log),
        "-w",
        "-t",
        "60",
        "-o",
        options,
        "start",
    )
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "loopml", "loopml")
        yield f"postgresql+psycopg://loopml@127.0.0.1:{port}/loopml"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)
