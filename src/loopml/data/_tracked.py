"""The project's tracked paths: which local file or folder each dataset was added from,
and which of its versions is there now. Kept in ``HOME/data/tracked.json``."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from loopml.errors import StoreError

__all__ = ["TrackedPath", "TrackedPaths"]


@dataclass(frozen=True, slots=True)
class TrackedPath:
    """A dataset's working copy: its absolute path and the version it holds."""

    name: str
    path: Path
    version: int


class TrackedPaths:
    """Read and update ``tracked.json`` (written atomically: temp file + rename)."""

    def __init__(self, home: Path) -> None:
        self.file = home / "data" / "tracked.json"

    def all(self) -> list[TrackedPath]:
        """Every tracked dataset, by name."""
        data = self._read()
        return [
            TrackedPath(name, Path(entry["path"]), int(entry["version"]))
            for name, entry in sorted(data.items())
        ]

    def get(self, name: str) -> TrackedPath | None:
        """The working copy of ``name``, if the project tracks one."""
        entry = self._read().get(name)
        if entry is None:
            return None
        return TrackedPath(name, Path(entry["path"]), int(entry["version"]))

    def set(self, name: str, path: Path, version: int) -> None:
        """Record that ``path`` holds version ``version`` of ``name``."""
        data = self._read()
        data[name] = {"path": str(path.resolve()), "version": version}
        self.file.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.file.parent, prefix=".tracked-")
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        os.replace(temp, self.file)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = orjson.loads(self.file.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            raise StoreError(f"Cannot read {self.file}: {exc}") from exc
        if not isinstance(data, dict):
            raise StoreError(f"{self.file} is malformed: expected an object.")
        return data
