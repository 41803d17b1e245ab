"""The local filesystem adapter of the blob store: ``root/ab/cdef...`` files.

Every write goes to ``root/tmp/<random>``, is fsynced, made read-only and only then
renamed to its digest name with :func:`os.replace`, which is atomic on POSIX. A crash,
even SIGKILL mid-write, therefore leaves at most an orphan under ``root/tmp/`` (removed
by :meth:`LocalBlobStore.sweep_temp`), never partial content under a digest name.
"""

from __future__ import annotations

import io
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import unquote, urlsplit

from loopml.blobs._atomic import download, fsync_dir, os_errors, rename_or_discard, write_temp
from loopml.blobs._hashing import check_digest, hash_file, is_digest, open_source
from loopml.blobs._port import BlobRef
from loopml.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["LocalBlobStore", "local_store_from_uri"]

_TEMP_DIR = "tmp"
_READ_ONLY = 0o444
_DEFAULT_TEMP_AGE = 3600.0


class LocalBlobStore:
    """Blobs as read-only files in a folder, named by their BLAKE3 digest.

    Args:
        root: the folder holding the blobs; created on the first write.

    Example:
        >>> store = LocalBlobStore(Path("/tmp/blobs"))
        >>> ref = store.put_file(Path("model.pkl"))
        >>> store.get_file(ref.digest, Path("copy.pkl"))
    """

    def __init__(self, root: Path) -> None:
        self._root = Path(root).absolute()
        self._temp = self._root / _TEMP_DIR

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self._root)!r})"

    @property
    def uri(self) -> str:
        """The ``file://`` URI of the root folder."""
        return self._root.as_uri()

    @property
    def root(self) -> Path:
        """The folder holding the blobs."""
        return self._root

    def put_file(self, path: Path) -> BlobRef:
        """Store a local file; when its content is already stored, nothing is copied.

        Args:
            path: the file to store.

        Returns:
            The reference of the stored content.

        Raises:
            NotFound: ``path`` does not exist.
            InvalidInput: ``path`` is a directory.
            StoreError: the file cannot be read or the store cannot be written.
        """
        known = hash_file(Path(path))
        if self._blob_path(known.digest).is_file():
            return known
        # Hash again while copying: if the file changed since, the stored name still
        # matches the stored bytes.
        with open_source(Path(path)) as source:
            return self.put_stream(source)

    def put_stream(self, stream: BinaryIO) -> BlobRef:
        """Store everything readable from ``stream``, read in chunks.

        Args:
            stream: a binary stream; only ``read`` is used.

        Returns:
            The reference of the stored content.

        Raises:
            StoreError: the store cannot be written (disk full, permissions).
            TypeError: ``stream`` is a text stream.
            Exception: whatever reading ``stream`` raises, unchanged.
        """
        with os_errors(f"write a blob under {self.uri}"):
            self._temp.mkdir(parents=True, exist_ok=True)
        temp = self._temp / secrets.token_hex(16)
        ref = write_temp(temp, stream)
        with os_errors(f"store blob {ref.digest} under {self.uri}"):
            self._publish(temp, ref.digest)
        return ref

    def open(self, digest: str) -> io.BufferedReader:
        """Open a stored blob for streaming reads; use it as a context manager.

        Raises:
            InvalidInput: ``digest`` is malformed.
            NotFound: no blob with this digest is stored.
            StoreError: the blob exists but cannot be read.
        """
        path = self._blob_path(digest)
        with os_errors(f"read blob {digest} in {self.uri}"):
            try:
                return open(path, "rb")
            except FileNotFoundError as exc:
                raise self._not_found(digest) from exc

    def get_file(self, digest: str, dest: Path) -> None:
        """Write a blob to ``dest`` atomically, checking its digest before the rename.

        Missing parent folders of ``dest`` are created; an existing ``dest`` is replaced
        only by complete, verified content.

        Raises:
            InvalidInput: ``digest`` is malformed.
            NotFound: no blob with this digest is stored.
            StoreError: the copy fails, or the stored content no longer matches its
                digest (the blob is corrupt; ``dest`` is left untouched).
        """
        with self.open(digest) as source:
            download(source, Path(dest), digest=digest, origin=self.uri)

    def exists(self, digest: str) -> bool:
        """Whether a blob with this digest is stored. Raises InvalidInput when malformed."""
        return self._blob_path(digest).is_file()

    def size(self, digest: str) -> int:
        """The stored blob's size in bytes.

        Raises:
            InvalidInput: ``digest`` is malformed.
            NotFound: no blob with this digest is stored.
            StoreError: the blob cannot be inspected (permissions, I/O error).
        """
        path = self._blob_path(digest)
        with os_errors(f"inspect blob {digest} in {self.uri}"):
            try:
                return path.stat().st_size
            except FileNotFoundError as exc:
                raise self._not_found(digest) from exc

    def delete(self, digest: str) -> None:
        """Remove a blob; removing an absent blob is not an error.

        Raises:
            InvalidInput: ``digest`` is malformed.
            StoreError: the file cannot be removed.
        """
        path = self._blob_path(digest)
        with os_errors(f"delete blob {digest} in {self.uri}"):
            path.unlink(missing_ok=True)

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest, in no particular order; temp files are skipped."""
        for fan_out in _scan(self._root):
            if len(fan_out.name) != 2 or not fan_out.is_dir():
                continue
            for entry in _scan(Path(fan_out.path)):
                digest = fan_out.name + entry.name
                if is_digest(digest) and entry.is_file():
                    yield digest

    def sweep_temp(self, max_age: float = _DEFAULT_TEMP_AGE, *, now: float | None = None) -> int:
        """Remove temp files left by writers that crashed or were killed.

        Args:
            max_age: seconds a temp file must be untouched before it counts as stale;
                the default hour leaves any write still in progress alone.
            now: the current time as a POSIX timestamp; the system clock when not given.

        Returns:
            How many temp files were removed.
        """
        cutoff = (time.time() if now is None else now) - max_age
        removed = 0
        for entry in _scan(self._temp):
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # another sweeper or the writer itself got there first
        return removed

    def _blob_path(self, digest: str) -> Path:
        check_digest(digest)
        return self._root / digest[:2] / digest[2:]

    def _publish(self, temp: Path, digest: str) -> None:
        final = self._blob_path(digest)
        if final.is_file():
            temp.unlink()  # identical content is stored already
            return
        final.parent.mkdir(exist_ok=True)
        os.chmod(temp, _READ_ONLY)
        rename_or_discard(temp, final)
        fsync_dir(final.parent)

    def _not_found(self, digest: str) -> NotFound:
        return NotFound(f"Blob {digest} not found in {self.uri}.")


def local_store_from_uri(uri: str, settings: Settings | None) -> LocalBlobStore:
    """Build a :class:`LocalBlobStore` from ``file:///abs/path`` or ``/abs/path``.

    Args:
        uri: the location; a ``file`` URI may name ``localhost`` as its host.
        settings: unused; accepted so that every blob store factory has one signature.

    Returns:
        The store rooted at that folder.

    Raises:
        InvalidInput: the URI names another host or a relative path.
    """
    parts = urlsplit(uri)
    if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
        raise InvalidInput(
            f"Blob URI {uri!r} names host {parts.netloc!r}; file URIs must be local, "
            "like file:///srv/blobs."
        )
    path = Path(unquote(parts.path) if parts.scheme == "file" else uri)
    if not path.is_absolute():
        raise InvalidInput(f"Blob URI {uri!r} is not an absolute path; use file:///absolute/path.")
    return LocalBlobStore(path)


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except FileNotFoundError:
        return []
