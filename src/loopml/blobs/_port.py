"""The blob store port: content-addressed bytes, identified by their BLAKE3 digest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:
    from loopml.blobs._batch import BlobBatch

__all__ = ["BlobRef", "BlobStore"]


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A stored blob: its BLAKE3 digest (64 lowercase hex characters) and size in bytes."""

    digest: str
    size: int


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed storage of immutable bytes.

    Writes are atomic (a crash never leaves partial content under a real digest) and
    streaming (a 5 GB file never sits in memory). Writing content that is already
    stored stores nothing new and returns the same :class:`BlobRef`.

    Every method taking a digest raises ``InvalidInput`` for a malformed one before
    touching storage. Remote adapters raise ``Unavailable`` when their service cannot be
    reached and ``StoreError`` for other backend failures; no backend exception
    (botocore, httpx, OSError) crosses this port. The contract every adapter passes is
    :class:`loopml.testing.blobs.BlobStoreContract`.
    """

    @property
    def uri(self) -> str:
        """Where the blobs live, e.g. ``file:///home/me/.loopml/blobs`` or ``s3://b/p``."""
        ...

    def put_file(self, path: Path) -> BlobRef:
        """Store a local file's content and return its reference.

        Raises:
            NotFound: ``path`` does not exist.
            InvalidInput: ``path`` is a directory.
        """
        ...

    def put_stream(self, stream: BinaryIO) -> BlobRef:
        """Store everything readable from ``stream`` (read in chunks) and return its reference.

        Raises:
            TypeError: ``stream`` is a text stream.
        """
        ...

    def batch(self) -> BlobBatch:
        """A batch for many blobs of known digest, made durable together on commit
        (see :mod:`loopml.blobs._batch`); use it as a context manager."""
        ...

    def open(self, digest: str) -> AbstractContextManager[BinaryIO]:
        """Open a stored blob for streaming reads; the context manager closes it.

        Raises:
            NotFound: no blob with this digest is stored (raised by ``open`` itself).
        """
        ...

    def get_file(self, digest: str, dest: Path) -> None:
        """Write a blob to ``dest`` atomically (temporary name, then rename).

        Raises:
            NotFound: no blob with this digest is stored; ``dest`` is left untouched.
        """
        ...

    def exists(self, digest: str) -> bool:
        """Whether a blob with this digest is stored."""
        ...

    def size(self, digest: str) -> int:
        """The stored blob's size in bytes.

        Raises:
            NotFound: no blob with this digest is stored.
        """
        ...

    def delete(self, digest: str) -> None:
        """Remove a blob; removing an absent blob is not an error."""
        ...

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest, in no particular order."""
        ...
