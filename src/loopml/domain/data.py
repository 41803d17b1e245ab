"""Plain records of data versioning: dataset versions, their manifests, check reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "INPUT_DATASET_TAG",
    "CheckReportRecord",
    "DatasetVersion",
    "DatasetVersionDraft",
    "FileEntry",
    "FilePart",
]


# A run that read a dataset version is tagged ``loopml.input_dataset:NAME = VERSION``:
# written by the data API, followed by the model registry's lineage.
INPUT_DATASET_TAG = "loopml.input_dataset:"


@dataclass(frozen=True, slots=True)
class FilePart:
    """Where a range of a file's bytes lives: ``length`` bytes at ``offset`` of blob
    ``blob`` (a chunk of a large file, a pack of small files, or the whole file)."""

    blob: str
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a dataset version: its path inside the version (POSIX, relative), its
    size, the BLAKE3 digest of its whole content, and the parts that hold its bytes in
    order."""

    path: str
    size: int
    digest: str
    parts: tuple[FilePart, ...] = ()


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """An immutable snapshot of a file or folder, as recorded.

    ``manifest_digest`` is the blob holding the list of :class:`FileEntry`;
    ``content_digest`` identifies the content alone (paths and file digests), so adding
    unchanged data finds the version it already has. ``schema`` maps each tabular file to
    its schema (JSON text); ``profile_digest`` is the blob of the files' profiles.
    """

    name: str
    version: int
    created_at: datetime
    author: str
    message: str
    manifest_digest: str
    content_digest: str
    file_count: int
    total_bytes: int
    source_path: str | None = None
    run_id: str | None = None
    schema: str = "{}"
    profile_digest: str | None = None

    @property
    def ref(self) -> str:
        """``name@vN``, the URI of this version."""
        return f"{self.name}@v{self.version}"


@dataclass(frozen=True, slots=True)
class DatasetVersionDraft:
    """What is needed to record a version; the store assigns the number."""

    name: str
    manifest_digest: str
    content_digest: str
    file_count: int
    total_bytes: int
    message: str = ""
    source_path: str | None = None
    run_id: str | None = None
    schema: str = "{}"
    profile_digest: str | None = None


@dataclass(frozen=True, slots=True)
class CheckReportRecord:
    """A stored run of data checks against one dataset version.

    ``report`` is the report as JSON text (which check, how many rows failed, examples).
    """

    id: str
    name: str
    version: int
    created_at: datetime
    author: str
    passed: bool
    report: str
    suite: str = ""
