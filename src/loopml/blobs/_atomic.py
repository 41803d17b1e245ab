"""Atomic local writes: a temp file, fsynced, then renamed over its final name.

Both adapters use these: the local store to publish a blob under its digest name, and
every adapter's ``get_file`` to hand a blob to the caller. A crash at any point leaves
the final name either absent, unchanged or complete, never half written.

Errors of the local filesystem become :class:`StoreError` here; errors raised by a
caller's source stream pass through unchanged, because they are not the store's.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from loopml.blobs._hashing import copy_hashed
from loopml.blobs._port import BlobRef
from loopml.errors import StoreError

__all__ = ["download", "fsync_dir", "os_errors", "rename_or_discard", "write_temp"]


@contextmanager
def os_errors(action: str) -> Iterator[None]:
    """Raise :class:`StoreError` in place of an :class:`OSError` from the block.

    Args:
        action: what the block does, completing "Cannot ..." in the message.

    Raises:
        StoreError: the block raised an OSError; the message names its file and reason.
    """
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename else ""
        raise StoreError(f"Cannot {action}: {reason}{where}.") from exc


def write_temp(temp: Path, source: BinaryIO) -> BlobRef:
    """Copy ``source`` into the new file ``temp``, hashing it, and fsync it.

    The file is created exclusively, so two writers never share a temp name; it is
    removed again if anything fails, including an interrupt.

    Args:
        temp: the temp file to create; it must not exist.
        source: the binary stream to drain.

    Returns:
        The digest and size of what was written.

    Raises:
        StoreError: the temp file cannot be created, written or synced.
        TypeError: ``source`` is a text stream.
    """
    with os_errors(f"create {temp}"):
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        with open(fd, "wb") as out:
            ref = copy_hashed(source, out)
            with os_errors(f"write {temp}"):
                out.flush()
                os.fsync(out.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return ref


def rename_or_discard(temp: Path, dest: Path) -> None:
    """Rename ``temp`` over ``dest`` atomically; remove ``temp`` if the rename fails.

    Raises:
        OSError: the rename failed (``temp`` is gone, ``dest`` unchanged).
    """
    try:
        os.replace(temp, dest)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk, making a rename into it durable.

    Without it a power cut after the rename can forget the new name (never the data,
    which was fsynced before the rename).

    Raises:
        OSError: the folder cannot be opened or synced.
    """
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def download(source: BinaryIO, dest: Path, *, digest: str, origin: str) -> None:
    """Write blob ``digest`` read from ``source`` to ``dest`` atomically, verifying it.

    The temp file sits beside ``dest`` (so the rename never crosses filesystems) and is
    hidden (``.name.<random>.tmp``). Missing parent folders are created; an existing
    ``dest`` is replaced only once the new content is complete and verified.

    Args:
        source: the stored blob's content, read from the store.
        dest: the file to write.
        digest: the digest the content must hash to.
        origin: the store's URI, for messages.

    Raises:
        StoreError: reading or writing fails, or the content does not hash to
            ``digest`` (the stored blob is corrupt; ``dest`` is left untouched).
    """
    temp = dest.with_name(f".{dest.name}.{secrets.token_hex(8)}.tmp")
    with os_errors(f"copy blob {digest} from {origin} to {dest}"):
        dest.parent.mkdir(parents=True, exist_ok=True)
        ref = write_temp(temp, source)
        if ref.digest != digest:
            temp.unlink()
            raise StoreError(
                f"Blob {digest} in {origin} is corrupt: its content hashes to {ref.digest}. "
                "Delete it and store the original again."
            )
        rename_or_discard(temp, dest)
