"""BLAKE3 content addressing: digest validation, file hashing and hashing copies.

Every adapter names blobs by the BLAKE3 digest of their content. The helpers here
never hold a whole blob in memory: they hash chunk by chunk while the bytes pass.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import blake3

from loopml.blobs._port import BlobRef
from loopml.errors import InvalidInput, NotFound, StoreError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = [
    "CHUNK_SIZE",
    "Hasher",
    "HashingReader",
    "check_digest",
    "copy_hashed",
    "hash_file",
    "is_digest",
    "iter_chunks",
    "open_source",
    "read_chunk",
]

CHUNK_SIZE = 1 << 20
"""Bytes moved per read while copying a stream: large enough to amortise syscalls."""

# Measured on a 2-core machine, 256 MiB file in page cache (best of 7):
# 1 MiB reads single-threaded 5.7 GB/s, update_mmap with AUTO threads 7.2 GB/s,
# 4 MiB reads with AUTO threads 7.6 GB/s. Plain reads also avoid the SIGBUS that an
# mmap suffers when another process truncates the file while it is being hashed.
_FILE_HASH_CHUNK = 4 << 20

_DIGEST_RE = re.compile(r"[0-9a-f]{64}")
_SHOWN_CHARS = 80


def is_digest(value: str) -> bool:
    """Whether ``value`` is a well-formed BLAKE3 hex digest (64 lowercase hex characters)."""
    return _DIGEST_RE.fullmatch(value) is not None


def check_digest(digest: str) -> str:
    """Return ``digest`` unchanged if it is a well-formed BLAKE3 hex digest.

    Validating before touching storage also keeps a digest from ever being read as a
    path (``../../etc``) or an S3 key outside the store.

    Args:
        digest: the value to check.

    Returns:
        The same digest.

    Raises:
        InvalidInput: ``digest`` is not 64 lowercase hexadecimal characters.
    """
    if isinstance(digest, str) and is_digest(digest):
        return digest
    shown = repr(digest)
    if len(shown) > _SHOWN_CHARS:
        shown = shown[: _SHOWN_CHARS - 3] + "..."
    raise InvalidInput(
        f"Invalid blob digest {shown}: expected 64 lowercase hexadecimal characters "
        "(a BLAKE3 digest, as returned in BlobRef.digest)."
    )


class Hasher:
    """A running BLAKE3 digest and byte count of everything passed to :meth:`update`."""

    def __init__(self) -> None:
        self._hash = blake3.blake3(max_threads=blake3.blake3.AUTO)
        self._size = 0

    def update(self, data: ReadableBuffer) -> None:
        """Add ``data`` to the digest and the byte count."""
        view = memoryview(data)
        self._hash.update(view)
        self._size += view.nbytes

    def ref(self) -> BlobRef:
        """The reference of the bytes seen so far."""
        return BlobRef(digest=self._hash.hexdigest(), size=self._size)


def open_source(path: Path) -> io.BufferedReader:
    """Open a caller's local file for reading, translating OS errors.

    Args:
        path: the file to read.

    Returns:
        The file, opened in binary mode.

    Raises:
        NotFound: no file exists at ``path``.
        InvalidInput: ``path`` is a directory.
        StoreError: the file exists but cannot be read (permissions, I/O error).
    """
    try:
        return open(path, "rb")
    except FileNotFoundError as exc:
        raise NotFound(f"File {str(path)!r} does not exist.") from exc
    except IsADirectoryError as exc:
        raise InvalidInput(f"{str(path)!r} is a directory; expected a file.") from exc
    except OSError as exc:
        raise StoreError(f"Cannot read {str(path)!r}: {exc.strerror or exc}.") from exc


def hash_file(path: Path) -> BlobRef:
    """Hash a local file in chunks, without reading it whole into memory.

    Args:
        path: the file to hash.

    Returns:
        The file's digest and size.

    Raises:
        NotFound: no file exists at ``path``.
        InvalidInput: ``path`` is a directory.
        StoreError: the file cannot be read.
    """
    hasher = Hasher()
    with open_source(path) as source:
        buffer = bytearray(_FILE_HASH_CHUNK)
        view = memoryview(buffer)
        try:
            while count := source.readinto(view):
                hasher.update(view[:count])
        except OSError as exc:
            raise StoreError(f"Cannot read {str(path)!r}: {exc.strerror or exc}.") from exc
    return hasher.ref()


def read_chunk(stream: BinaryIO, size: int = CHUNK_SIZE) -> bytes:
    """Read at most ``size`` bytes from ``stream``; ``b""`` means it is exhausted.

    Args:
        stream: a binary stream; only ``read`` is used, so pipes and sockets work.
        size: the most bytes to request.

    Returns:
        The bytes read.

    Raises:
        TypeError: the stream returned ``str`` (it was opened in text mode).
    """
    chunk = stream.read(size)
    if not isinstance(chunk, bytes | bytearray | memoryview):
        raise TypeError(
            "Blob streams must be binary (open files with 'rb'); read() returned "
            f"{type(chunk).__name__}."
        )
    return bytes(chunk) if isinstance(chunk, memoryview) else chunk


def iter_chunks(stream: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield successive non-empty chunks of ``stream`` (see :func:`read_chunk`).

    Raises:
        TypeError: the stream is a text stream.
    """
    while chunk := read_chunk(stream, size):
        yield chunk


def copy_hashed(source: BinaryIO, dest: BinaryIO) -> BlobRef:
    """Copy ``source`` to ``dest`` in chunks, hashing the bytes on the way.

    Args:
        source: the binary stream to drain; its errors propagate unchanged.
        dest: where the bytes are written; not flushed or closed here.

    Returns:
        The digest and size of everything copied.

    Raises:
        StoreError: writing to ``dest`` fails (disk full, I/O error).
        TypeError: ``source`` is a text stream.
    """
    hasher = Hasher()
    for chunk in iter_chunks(source):
        hasher.update(chunk)
        try:
            dest.write(chunk)
        except OSError as exc:
            name = getattr(dest, "name", "the destination")
            raise StoreError(f"Cannot write {name}: {exc.strerror or exc}.") from exc
    return hasher.ref()


class HashingReader(io.RawIOBase):
    """A read-only, non-seekable stream that hashes everything read through it.

    Wrap it in :class:`io.BufferedReader` to hand it to code that expects a file
    (boto3's managed upload); :meth:`ref` gives the digest once it is drained.
    """

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source
        self._hasher = Hasher()

    def readable(self) -> bool:
        """Always true: this stream exists to be read."""
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Read up to ``len(buffer)`` bytes from the source into ``buffer``, hashing them.

        Returns:
            The number of bytes read; 0 at the end of the source.

        Raises:
            TypeError: the source is a text stream.
        """
        target = memoryview(buffer).cast("B")
        chunk = read_chunk(self._source, len(target))
        count = len(chunk)
        target[:count] = chunk
        self._hasher.update(chunk)
        return count

    def ref(self) -> BlobRef:
        """The reference of the bytes read so far (the whole blob once drained)."""
        return self._hasher.ref()
