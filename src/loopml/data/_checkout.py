"""Materialising a version: writing its files from the blob store into a folder.

Every file is written atomically (a hidden temp file beside it, then a rename) and its
BLAKE3 digest is checked before the rename, so a corrupt blob never reaches the folder
and a crash never leaves half a file under a real name. Files are not fsynced: the
blob store holds the durable copy, and a checkout can always be run again.

**Hard links.** A file stored whole in a :class:`LocalBlobStore` on the same
filesystem is hard-linked to its blob instead of copied (``link=True``): instant, and
no extra disk space, like DVC's ``cache.type = hardlink``. A hard link *is* the blob
(one inode), so editing it in place would silently corrupt the store. Blobs are
read-only files, hence so are the linked files: an editor refuses to save, ``>>``
fails with "Permission denied", and the user copies the file first (or materialises
with ``link=False``). Replacing the file (save-as, ``mv``) is harmless: it breaks the
link. Packed and chunked files are always assembled into fresh, writable copies.
When linking fails (another filesystem: EXDEV; a store owned by someone else: EPERM;
too many links: EMLINK) the file is copied instead.

A file already holding the right content (the blob's own inode, or the same size and
digest) is left as it is, so materialising again into the same folder writes only what
changed. Files of the folder that are not in the version are left alone and reported.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby, pairwise
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import blake3

from loopml.blobs import LocalBlobStore
from loopml.data._snapshot import RunningTotal, path_problem
from loopml.data._statcache import hash_path, walk
from loopml.domain.data import FileEntry, FilePart
from loopml.errors import Conflict, InvalidInput, StoreError

if TYPE_CHECKING:
    from loopml.blobs import BlobStore

__all__ = ["Materialised", "materialise"]

_PIECE = 4 << 20  # bytes copied per read when streaming a part
_IN_MEMORY = 16 << 20  # single-part files up to this size are read from packs in one go
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EACCES, errno.EMLINK, errno.ENOTSUP})


@dataclass(frozen=True, slots=True)
class Materialised:
    """What :func:`materialise` did.

    Attributes:
        written: files written as fresh copies.
        linked: files hard-linked to their blob (read-only).
        unchanged: files that already held the right content.
        extra: files in the folder that are not in the version (left alone), sorted.
    """

    written: int
    linked: int
    unchanged: int
    extra: list[str]


def materialise(
    entries: Iterable[FileEntry],
    blobs: BlobStore,
    dest: Path,
    *,
    link: bool = True,
    on_progress: Callable[[int], None] | None = None,
    max_workers: int | None = None,
) -> Materialised:
    """Write the files of a version under ``dest`` (see the module docstring).

    Args:
        entries: the version's files, as :func:`entries_from_manifest` returns them.
        blobs: the store holding their blobs.
        dest: the folder to write into; created if missing.
        link: hard-link whole-file blobs of a local store (read-only files) instead of
            copying them.
        on_progress: called with the running total of bytes written (or found
            current), one call at a time, possibly from a worker thread.
        max_workers: threads writing files; one more than the CPU count when not given.

    Returns:
        How many files were written, linked or already current, and the extra files.

    Raises:
        InvalidInput: an entry's path is unsafe (absolute, ``..``, inside ``.loopml``)
            or appears twice, or ``dest`` is a file.
        Conflict: a folder stands where a file must go, or a file where a folder must.
        NotFound: a blob of the version is missing from the store.
        StoreError: a blob is corrupt (its bytes do not hash to the recorded digest:
            that file is not written), or a file cannot be written.

    Example:
        >>> done = materialise(entries_from_manifest(data), store, Path("data/train"))
        >>> done.extra
        ['notes.txt']
    """
    files = sorted(entries, key=attrgetter("path"))
    _check_entries(files)
    root = Path(dest).absolute()
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"Cannot materialise into {str(root)!r}: it is a file, not a folder.")
    _make_folders(root, files)
    writer = _Writer(str(root), blobs, link, RunningTotal(on_progress))
    packed: list[FileEntry] = []
    others: list[FileEntry] = []
    for entry in files:
        is_packed = len(entry.parts) == 1 and not _is_whole(entry) and entry.size <= _IN_MEMORY
        (packed if is_packed else others).append(entry)
    workers = max_workers or (os.cpu_count() or 1) + 1
    with ThreadPoolExecutor(workers, thread_name_prefix="loopml-checkout") as pool:
        tasks = [
            *(
                pool.submit(writer.from_pack, blob, list(group))
                for blob, group in groupby(sorted(packed, key=_first_blob), key=_first_blob)
            ),
            *(pool.submit(writer.one, entry) for entry in others),
        ]
        for task in tasks:
            task.result()  # the first failure propagates; the others still finish
    paths = {entry.path for entry in files}
    extra = [rel for rel, _, _, _ in walk(root)[1] if rel not in paths]
    return Materialised(writer.written, writer.linked, writer.unchanged, extra)


class _Writer:
    """Writes the files of a version, from any number of threads."""

    def __init__(self, root: str, blobs: BlobStore, link: bool, progress: RunningTotal) -> None:
        self._root = root
        self._blobs = blobs
        self._progress = progress
        self._blob_root = _linkable_root(blobs, root) if link else None
        self._lock = threading.Lock()
        self.written = self.linked = self.unchanged = 0

    def one(self, entry: FileEntry) -> None:
        """Write a file stored whole (link or copy), chunked, or empty."""
        target = f"{self._root}/{entry.path}"
        if self._is_current(target, entry):
            return
        if self._blob_root is not None and _is_whole(entry) and self._link(target, entry):
            return
        with _TempFile(target, entry, self._blobs.uri) as out:
            for part in entry.parts:
                self._copy_part(part, out)
        self._done(entry, "written")

    def from_pack(self, blob: str, entries: list[FileEntry]) -> None:
        """Write files packed in one blob, reading the pack once, in offset order."""
        todo = [e for e in entries if not self._is_current(f"{self._root}/{e.path}", e)]
        if not todo:
            return
        todo.sort(key=lambda entry: entry.parts[0].offset)
        with self._blobs.open(blob) as stream:
            position = 0
            for (offset, length), same in groupby(todo, key=_first_range):
                if offset < position and not stream.seekable():
                    raise StoreError(f"Overlapping ranges of blob {blob} cannot be re-read.")
                _skip_to(stream, position, offset)
                data = _read_exactly(stream, length, blob)
                position = offset + length
                for entry in same:
                    with _TempFile(f"{self._root}/{entry.path}", entry, self._blobs.uri) as out:
                        out.write(data)
                    self._done(entry, "written")

    def _link(self, target: str, entry: FileEntry) -> bool:
        source = _blob_file(self._blob_root or "", entry.digest)
        try:
            actual = hash_path(source)  # a blob edited through an old link must not spread
        except FileNotFoundError:
            return False  # let the copy path raise the store's own NotFound
        if actual != entry.digest:
            raise _corrupt(entry, actual, self._blobs.uri)
        temp = _temp_name(target)
        try:
            os.link(source, temp)
        except OSError as exc:
            if exc.errno in _NO_LINK:
                if exc.errno == errno.EXDEV:
                    self._blob_root = None  # every other link would fail the same way
                return False
            raise StoreError(f"Cannot link {target}: {exc.strerror or exc}.") from exc
        _rename(temp, target)
        self._done(entry, "linked")
        return True

    def _copy_part(self, part: FilePart, out: _TempFile) -> None:
        with self._blobs.open(part.blob) as stream:
            _skip_to(stream, 0, part.offset)
            left = part.length
            while left:
                piece = _read_exactly(stream, min(left, _PIECE), part.blob)
                out.write(piece)
                left -= len(piece)

    def _is_current(self, target: str, entry: FileEntry) -> bool:
        try:
            info = os.stat(target, follow_symlinks=False)
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode) or info.st_size != entry.size:
            return False
        if self._blob_root is not None and _is_whole(entry):
            try:  # already this blob's own hard link: nothing to read
                if os.stat(_blob_file(self._blob_root, entry.digest)).st_ino == info.st_ino:
                    self._done(entry, "unchanged")
                    return True
            except OSError:
                pass
        try:
            current = hash_path(target) == entry.digest
        except OSError:
            return False
        if current:
            self._done(entry, "unchanged")
        return current

    def _done(self, entry: FileEntry, how: str) -> None:
        with self._lock:
            setattr(self, how, getattr(self, how) + 1)
        self._progress.add(entry.size)


class _TempFile:
    """A hidden temp file beside ``target``, renamed over it once its digest checks."""

    def __init__(self, target: str, entry: FileEntry, origin: str) -> None:
        self._target = target
        self._entry = entry
        self._origin = origin
        self._temp = _temp_name(target)
        self._hasher = blake3.blake3()
        self._size = 0
        self._fd = -1

    def __enter__(self) -> _TempFile:
        with _os_errors(self._target):
            self._fd = os.open(
                self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666
            )
        return self

    def write(self, data: bytes) -> None:
        self._hasher.update(data)
        self._size += len(data)
        view = memoryview(data)
        with _os_errors(self._target):
            while view:
                view = view[os.write(self._fd, view) :]

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        os.close(self._fd)
        if exc is not None:
            os.unlink(self._temp)
            return
        actual = (
            self._hasher.hexdigest() if self._size == self._entry.size else f"{self._size} bytes"
        )
        if actual != self._entry.digest:
            os.unlink(self._temp)
            raise _corrupt(self._entry, actual, self._origin)
        _rename(self._temp, self._target)


def _check_entries(files: list[FileEntry]) -> None:
    for entry in files:
        if (problem := path_problem(entry.path)) is not None:
            raise InvalidInput(f"Cannot materialise {entry.path!r}: a version's path {problem}.")
    for before, after in pairwise(files):
        if before.path == after.path:
            raise InvalidInput(f"Cannot materialise {before.path!r}: it is listed twice.")


def _make_folders(root: Path, files: list[FileEntry]) -> None:
    folders = sorted({str(root / entry.path).rpartition("/")[0] for entry in files} | {str(root)})
    for folder in folders:
        try:
            os.makedirs(folder, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise Conflict(
                f"Cannot create folder {folder}: a file is in the way; move it or materialise "
                "elsewhere."
            ) from exc
        except OSError as exc:
            raise StoreError(f"Cannot create folder {folder}: {exc.strerror or exc}.") from exc


def _linkable_root(blobs: BlobStore, root: str) -> str | None:
    # Links need the store's files: only a local store on the same filesystem has them.
    if not isinstance(blobs, LocalBlobStore):
        return None
    try:
        same = os.stat(blobs.root).st_dev == os.stat(root).st_dev
    except OSError:
        return None
    return str(blobs.root) if same else None


def _blob_file(blob_root: str, digest: str) -> str:
    # LocalBlobStore's documented layout: ROOT/ab/cdef... for digest abcdef...
    return f"{blob_root}/{digest[:2]}/{digest[2:]}"


def _is_whole(entry: FileEntry) -> bool:
    if len(entry.parts) != 1:
        return False
    part = entry.parts[0]
    return part.blob == entry.digest and part.offset == 0 and part.length == entry.size


def _first_blob(entry: FileEntry) -> str:
    return entry.parts[0].blob


def _first_range(entry: FileEntry) -> tuple[int, int]:
    return entry.parts[0].offset, entry.parts[0].length


def _skip_to(stream: BinaryIO, position: int, offset: int) -> None:
    if offset == position:
        return
    if stream.seekable():
        stream.seek(offset)
        return
    left = offset - position
    while left:  # a remote stream: read past the bytes before the range
        skipped = len(stream.read(min(left, _PIECE)))
        if not skipped:
            return  # past the end: the read of the range reports the short blob
        left -= skipped


def _read_exactly(stream: BinaryIO, length: int, blob: str) -> bytes:
    data = stream.read(length)
    while len(data) < length and (more := stream.read(length - len(data))):
        data += more
    if len(data) != length:
        raise StoreError(
            f"Blob {blob} is shorter than the manifest says; it is corrupt or truncated. "
            "Restore it from a remote (loopml data pull) or add the data again."
        )
    return data


def _corrupt(entry: FileEntry, actual: str, origin: str) -> StoreError:
    blobs = ", ".join(sorted({part.blob for part in entry.parts})) or "none"
    return StoreError(
        f"Cannot write {entry.path!r}: its stored content hashes to {actual}, not "
        f"{entry.digest}; blob(s) {blobs} in {origin} are corrupt. Restore them from a "
        "remote (loopml data pull) or add the data again."
    )


def _temp_name(target: str) -> str:
    folder, _, name = target.rpartition("/")
    return f"{folder}/.{name}.{secrets.token_hex(6)}.tmp"


def _rename(temp: str, target: str) -> None:
    try:
        os.replace(temp, target)
    except OSError as exc:
        os.unlink(temp)
        if isinstance(exc, IsADirectoryError):
            raise Conflict(
                f"Cannot write {target}: a folder is in the way; move it or materialise elsewhere."
            ) from exc
        raise StoreError(f"Cannot write {target}: {exc.strerror or exc}.") from exc


@contextmanager
def _os_errors(target: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise StoreError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
