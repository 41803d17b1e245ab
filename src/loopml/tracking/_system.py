"""What a run records about where it ran: code commit, Python, installed packages, host."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import importlib.metadata

    from loopml.domain import Run

__all__ = ["GitState", "environment", "git_state", "host_name", "is_process_alive"]

_GIT_TIMEOUT_S = 5


@dataclass(frozen=True, slots=True)
class GitState:
    """The commit checked out and whether tracked files differ from it (None: unknown,
    outside a repository or without git)."""

    commit: str | None
    dirty: bool | None

    @classmethod
    def of_run(cls, run: Run) -> GitState:
        """The state recorded on ``run``, to give runs started from it without asking git."""
        return cls(run.git_commit, run.git_dirty)


def git_state(cwd: Path | None = None) -> GitState:
    """The git commit and dirty state of the working directory; Nones outside a repository
    or when git is missing."""
    head = _git(["rev-parse", "HEAD"], cwd)
    if head is None:
        return GitState(None, None)
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return GitState(head.strip(), None if status is None else bool(status.strip()))


def _git(args: list[str], cwd: Path | None) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@functools.lru_cache(maxsize=1)  # scanning site-packages costs tens of ms; once a process
def environment() -> dict[str, Any]:
    """Python version, platform and every installed distribution with its version."""
    import importlib.metadata  # 30 ms to import; only runs need it, not every command

    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name, version = _name_and_version(dist)
        if name and name not in packages:  # the first on sys.path is the one imported
            packages[name] = version
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "packages": dict(sorted(packages.items(), key=lambda kv: kv[0].lower())),
    }


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str, str]:
    """``Name`` and ``Version`` from the metadata's header block, read as plain lines: the
    email parser ``dist.metadata`` uses costs 70 ms over a typical environment, this 7."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    found: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, colon, value = line.partition(":")
        if colon and key in ("Name", "Version") and key not in found:
            found[key] = value.strip()
    return found.get("Name", ""), found.get("Version", "")


@functools.lru_cache(maxsize=1)
def host_name() -> str:
    """This machine's host name, as recorded on runs started here."""
    return socket.gethostname()


def is_process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (zombies count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
