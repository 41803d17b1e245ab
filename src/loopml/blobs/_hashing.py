"""BLAKE3 content addressing: digest validation, file hashing and hashing copies.

Every adapter names blobs by the BLAKE3 digest of their content. The helpers here
never hold a whole blob in memory: they hash chunk by chunk while the bytes pass.
"""

from __future__ import annotations

import io
import os
import queue
import re
import threading
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

# Measured on a 2-core VM, 1 GiB file in page cache, medians of 7-11 rounds alternating
# with raw BLAKE3 (AUTO threads) over the same bytes in memory, 72 ms (14.9 GB/s):
# - one thread, 4 MiB reads hashed with AUTO threads: 167 ms (0.43 of raw speed);
# - a reader thread filling a ring of 3 x 4 MiB buffers while the caller hashes:
#   122 ms hashing with 1 thread, 127 ms with AUTO (0.57-0.59). One core hashes at
#   ~110 ms/GiB, so with 1 thread the hashing alone is the bottleneck; with AUTO the
#   reader and BLAKE3's two workers fight over the two cores;
# - two threads reading the halves of an 8 MiB block (~54 ms/GiB together, the memory
#   bandwidth), then hashing it with AUTO threads (~60 ms/GiB): 107-113 ms (0.64-0.66);
#   4 and 12 MiB blocks were slower. From 8 MiB files up it beats one thread (8 MiB:
#   1.4 vs 1.8 ms), hence _PARALLEL_MIN_SIZE.
# On a 256 MiB file, update_mmap with AUTO threads reached 7.2 GB/s against 7.6 GB/s
# for 4 MiB reads. Plain reads also avoid the SIGBUS that an mmap suffers when another
# process truncates the file while it is being hashed.
_FILE_HASH_CHUNK = 4 << 20
_PARALLEL_MIN_SIZE = 8 << 20
_PARALLEL_READ = 4 << 20
_READER_NAME = "loopml-hash-file-reader"

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

    From 8 MiB up, two threads read the halves of each 8 MiB block at once and BLAKE3
    then hashes the block on all cores; the helper thread never outlives the call.

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
        try:
            # os.preadv is missing on Windows; there every file takes the serial path.
            is_large = os.fstat(source.fileno()).st_size >= _PARALLEL_MIN_SIZE
            if is_large and hasattr(os, "preadv"):
                _hash_in_blocks(source, hasher)
            _hash_serially(source, hasher)
        except OSError as exc:
            raise StoreError(f"Cannot read {str(path)!r}: {exc.strerror or exc}.") from exc
    return hasher.ref()


def _hash_serially(source: io.BufferedReader, hasher: Hasher) -> None:
    """Hash ``source`` from its position to its end, through one reused buffer."""
    view = memoryview(bytearray(_FILE_HASH_CHUNK))
    while count := source.readinto(view):
        hasher.update(view[:count])


def _hash_in_blocks(source: io.BufferedReader, hasher: Hasher) -> None:
    """Hash ``source`` block by block, both halves of a block read at the same time.

    The caller reads the first half of each block while a helper thread reads the
    second (``preadv`` releases the GIL), then BLAKE3 hashes the whole block on all
    cores while it is still in cache. Stops at the first short read, leaving ``source``
    positioned there: the caller hashes the rest serially, which also covers a file
    that grows meanwhile or a filesystem that returns short reads before the end.
    """
    view = memoryview(bytearray(2 * _PARALLEL_READ))
    first_half, second_half = view[:_PARALLEL_READ], view[_PARALLEL_READ:]
    fd = source.fileno()
    offset = 0
    with _HalfReader(fd, second_half) as helper:
        while True:
            helper.start(offset + _PARALLEL_READ)
            first = os.preadv(fd, [first_half], offset)
            second = helper.result()
            count = first + second if first == _PARALLEL_READ else first
            hasher.update(view[:count])
            offset += count
            if count < len(view):
                break
    source.seek(offset)


class _HalfReader:
    """A helper thread reading into one buffer at the offsets it is given, one at a time.

    Use it as a context manager: leaving the block, normally or by an exception
    (KeyboardInterrupt included), stops the thread and waits for it.
    """

    def __init__(self, fd: int, buffer: memoryview) -> None:
        self._fd = fd
        self._buffer = buffer
        self._offsets: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[int | BaseException] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=_READER_NAME, daemon=True)

    def __enter__(self) -> _HalfReader:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._offsets.put(None)
        self._thread.join()

    def start(self, offset: int) -> None:
        """Begin reading at ``offset``; :meth:`result` waits for the outcome."""
        self._offsets.put(offset)

    def result(self) -> int:
        """The byte count of the read begun last; its exception is raised here."""
        outcome = self._results.get()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _run(self) -> None:
        while (offset := self._offsets.get()) is not None:
            try:
                self._results.put(os.preadv(self._fd, [self._buffer], offset))
            except BaseException as exc:  # any error: the caller waits for a result
                self._results.put(exc)


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
