"""Environment that keeps Metaflow and Prefect on this machine, set before either is imported.

Both tools read their settings from environment variables at import time, so each script
calls one of these first. State lives under ``$ANCHOR_WORKDIR`` (see ``_work.workdir``).
"""

from __future__ import annotations

import os

import _work


def configure_metaflow() -> None:
    """Local datastore and metadata under the work folder; no user config file.

    Metaflow's step subprocesses inherit the variables, so the datastore root is chosen
    once, by the process that starts the run.
    """
    if "METAFLOW_DATASTORE_SYSROOT_LOCAL" not in os.environ:
        root = _work.workdir() / "metaflow"
        os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = str(root)
        os.environ["METAFLOW_HOME"] = str(root / "config")  # ignore ~/.metaflowconfig
    os.environ["METAFLOW_DEFAULT_DATASTORE"] = "local"
    os.environ["METAFLOW_DEFAULT_METADATA"] = "local"
    os.environ.setdefault("METAFLOW_USER", "bench")  # Metaflow refuses to run as root


def configure_prefect() -> None:
    """Prefect's own ephemeral API server (a uvicorn subprocess), state in the work folder.

    No ``PREFECT_API_URL``: Prefect's default profile then starts a temporary server on
    127.0.0.1 for the run and stops it at exit. Telemetry is off on both sides.
    """
    os.environ["PREFECT_HOME"] = str(_work.workdir() / "prefect-home")
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["PREFECT_SERVER_EPHEMERAL_ENABLED"] = "true"
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    # Only how long Prefect waits for its server; a slow start on 2 busy cores is not a failure.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
