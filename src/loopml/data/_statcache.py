"""Which files a data folder holds, and their digests without re-reading unchanged ones.

:func:`walk` defines the files of a dataset once, for ``add``, ``status`` and
``checkout`` alike: every regular file under the folder, sorted by POSIX relative path,
except anything inside a ``.loopml`` folder (the project's own state). A symlink counts
as the file it points to when that file lies inside the folder; symlinks that leave the
folder, dangling ones and symlinks to folders are skipped, so a version never captures
bytes from elsewhere on the machine and a link cycle cannot make the walk endless.
Fifos, sockets and devices are skipped too. A single file named as the root is taken
as it is, even through a symlink: the user named it.

:class:`StatCache` remembers each file's digest with the ``(size, mtime_ns, inode)``
seen when it was hashed, and :func:`scan` re-hashes only files whose stat differs. A
file whose mtime is less than :data:`RACY_NS` old is never cached: it could still be
rewritten within the same timestamp tick with the same size, and the cache would then
hide the change (git's "racy clean" problem).

:func:`scan_folder` also remembers, per scanned root, a fingerprint of the whole walk
(BLAKE3 of every file's path, size, mtime_ns and inode) with the folder's content digest
and file digests. While a walk gives the same fingerprint, the folder is answered from
that one row instead of one row per file (20,000 files: 2 ms instead of 60).
The racy rule holds there too: no fingerprint is stored while any file is fresh.

This module is on the path of ``loopml data status``, so it imports only the standard
library, blake3 and loopml.errors (no loopml.blobs, pandas or SQLAlchemy); threads are
imported only when something must be hashed.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import TypeAlias

import blake3

from loopml.errors import InvalidInput, NotFound, StoreError

__all__ = [
    "IGNORED_DIR",
    "RACY_NS",
    "CachedStat",
    "FolderScan",
    "StatCache",
    "WalkedFile",
    "digest_of_files",
    "hash_path",
    "scan",
    "scan_folder",
    "walk",
]

IGNORED_DIR = ".loopml"
"""Folders with this name hold loopml's own state and are never part of a dataset."""

RACY_NS = 2_000_000_000
"""Files modified less than this long ago (2 s, the coarsest common mtime resolution)
are hashed every time instead of being cached."""

WalkedFile: TypeAlias = tuple[str, int, int, int]
"""One file found by :func:`walk`: POSIX path relative to the base, size, mtime_ns, inode
(of the file a symlink points to, for a symlink)."""

CachedStat: TypeAlias = tuple[int, int, int, str]
"""What the cache holds per path: size, mtime_ns, inode, digest."""

_READ_SIZE = 1 << 20
_BATCH = 500  # paths per SQL query; SQLite allows 999 parameters by default
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# marshal format 2 writes no back-references: since format 3 an object is written as a
# reference when its refcount is above 1, so equal walks could serialise differently.
_FINGERPRINT_FORMAT = 2
_buffers = threading.local()


def walk(root: Path) -> tuple[str, list[WalkedFile]]:
    """List the files of a dataset rooted at ``root`` (see the module docstring).

    Args:
        root: a folder, or a single file (whose relative path is its name).

    Returns:
        The base folder (``root``, or a single file's parent) and one
        ``(relative_path, size, mtime_ns, inode)`` per file, sorted by relative path; a
        file is found at ``f"{base}/{relative_path}"``.

    Raises:
        NotFound: ``root`` does not exist.
        InvalidInput: ``root`` is neither a file nor a folder.
        StoreError: a folder cannot be listed.
    """
    base, files = _list_files(root)
    files.sort(key=itemgetter(0))
    return base, files


def digest_of_files(digests: Mapping[str, str]) -> str:
    """The content digest of files given as ``{path: digest}``: BLAKE3 of the sorted lines
    ``path NUL digest LF``, what a version records as its ``content_digest``.

    It lives here, not in ``_snapshot`` (which uses it for ``content_digest``), so that
    ``status`` never imports the snapshot machinery.
    """
    lines = sorted(f"{path}\0{digest}\n" for path, digest in digests.items())
    return str(blake3.blake3("".join(lines).encode()).hexdigest())


def hash_path(path: str) -> str:
    """The BLAKE3 hex digest of a file's content, read in 1 MiB pieces.

    Raises:
        OSError: the file cannot be read.
    """
    buffer = getattr(_buffers, "view", None)
    if buffer is None:  # one buffer per thread: no 1 MiB allocation per small file
        buffer = _buffers.view = memoryview(bytearray(_READ_SIZE))
    hasher = blake3.blake3()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        # A short read is the end of a regular file: no extra read() to see 0 bytes,
        # 3 system calls per small file instead of 5 (open() adds an fstat).
        while (count := os.readv(fd, [buffer])) == len(buffer):
            hasher.update(buffer)
        hasher.update(buffer[:count])
    finally:
        os.close(fd)
    return str(hasher.hexdigest())


class FolderScan:
    """What :func:`scan_folder` found in a file or folder.

    Attributes:
        content_digest: :func:`digest_of_files` of its files, equal to a version's
            ``content_digest`` exactly when it holds that version's files.
    """

    __slots__ = ("_digests", "_load", "content_digest")

    def __init__(self, content_digest: str, load: Callable[[], dict[str, str]]) -> None:
        self.content_digest = content_digest
        self._load = load
        self._digests: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"FolderScan({self.content_digest!r})"

    def digests(self) -> dict[str, str]:
        """Digest by POSIX relative path, in sorted path order (when the fingerprint
        answered, unpacked from the cache on first use: a clean status never needs them).

        Raises:
            StoreError: the cached digests are damaged, or the cache cannot be read.
        """
        if self._digests is None:
            self._digests = self._load()
        return self._digests


class StatCache:
    """Digests of local files keyed by absolute path, valid while their stat is unchanged.

    A SQLite file with two tables, ``stats`` (one row per file) and ``folders`` (one row
    per scanned root: the fingerprint of its walk, its content digest and digests); a
    cache file that is not a database (truncated, overwritten) is discarded and started
    afresh, since everything in it can be recomputed.

    Args:
        path: the cache file; created with its folder on first use.
        clock: the current time in nanoseconds since the epoch, for the racy-file rule.

    Example:
        >>> cache = StatCache(Path(".loopml/data/statcache.db"))
        >>> digests = scan(Path("data"), cache)
    """

    def __init__(self, path: Path, *, clock: Callable[[], int] = time.time_ns) -> None:
        self._path = Path(path)
        self._clock = clock
        self._db: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"StatCache({str(self._path)!r})"

    def lookup_many(self, paths: Iterable[str]) -> dict[str, CachedStat]:
        """The cached ``(size, mtime_ns, inode, digest)`` of those ``paths`` it holds.

        Raises:
            StoreError: the cache file cannot be opened or read.
        """
        wanted = list(paths)
        found: dict[str, CachedStat] = {}
        with self._errors("read"):
            db = self._connect()
            for start in range(0, len(wanted), _BATCH):
                batch = wanted[start : start + _BATCH]
                marks = ",".join("?" * len(batch))
                query = (
                    f"SELECT path, size, mtime_ns, inode, digest FROM stats WHERE path IN ({marks})"
                )
                for path, size, mtime_ns, inode, digest in db.execute(query, batch):
                    found[path] = (size, mtime_ns, inode, digest)
        return found

    def lookup_under(self, folder: str) -> dict[str, CachedStat]:
        """The cached rows of every path under ``folder``, keyed by path relative to it.

        One range scan of the primary key: for a whole folder this is 4x faster than
        asking for its paths one by one (measured, 20,000 files).

        Raises:
            StoreError: the cache file cannot be opened or read.
        """
        low = folder.rstrip("/") + "/"
        high = low[:-1] + "0"  # "0" sorts right after "/"
        query = (
            "SELECT substr(path, ?), size, mtime_ns, inode, digest FROM stats "
            "WHERE path >= ? AND path < ?"
        )
        with self._errors("read"):
            rows = self._connect().execute(query, (len(low) + 1, low, high)).fetchall()
        return {rel: (size, mtime_ns, inode, digest) for rel, size, mtime_ns, inode, digest in rows}

    def store_many(self, rows: Iterable[tuple[str, int, int, int, str]]) -> int:
        """Remember ``(path, size, mtime_ns, inode, digest)`` rows, in one transaction.

        Rows of files modified less than :data:`RACY_NS` ago are left out, and any
        earlier entry for their path is dropped.

        Returns:
            How many rows were stored.

        Raises:
            StoreError: the cache file cannot be written.
        """
        cutoff = self._clock() - RACY_NS
        fresh: list[tuple[str, int, int, int, str]] = []
        racy: list[tuple[str]] = []
        for row in rows:
            if row[2] < cutoff:
                fresh.append(row)
            else:
                racy.append((row[0],))
        with self._errors("write"):
            db = self._connect()
            db.execute("BEGIN")
            try:
                db.executemany("INSERT OR REPLACE INTO stats VALUES (?, ?, ?, ?, ?)", fresh)
                db.executemany("DELETE FROM stats WHERE path = ?", racy)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return len(fresh)

    def folder_digest(self, root: str, fingerprint: bytes) -> str | None:
        """The content digest stored for ``root`` with this walk fingerprint, if any.

        Raises:
            StoreError: the cache file cannot be opened or read.
        """
        query = "SELECT content_digest FROM folders WHERE root = ? AND fingerprint = ?"
        with self._errors("read"):
            row = self._connect().execute(query, (root, fingerprint)).fetchone()
        return None if row is None else str(row[0])

    def folder_digests(self, root: str, fingerprint: bytes) -> dict[str, str] | None:
        """The file digests stored for ``root`` with this walk fingerprint, if any, in
        sorted path order.

        Raises:
            StoreError: the cache file cannot be read, or holds damaged digests.
        """
        query = "SELECT digests FROM folders WHERE root = ? AND fingerprint = ?"
        with self._errors("read"):
            row = self._connect().execute(query, (root, fingerprint)).fetchone()
        if row is None:
            return None
        try:
            digests = marshal.loads(row[0])
        except (EOFError, ValueError, TypeError):
            digests = None
        if not isinstance(digests, dict):
            raise StoreError(
                f"The stat cache {str(self._path)!r} holds damaged digests for {root!r}; "
                "delete the file (it is rebuilt on the next scan)."
            )
        return digests

    def store_folder(
        self,
        root: str,
        fingerprint: bytes,
        digests: Mapping[str, str],
        *,
        content_digest: str,
        newest_mtime_ns: int,
    ) -> bool:
        """Remember the fingerprint of ``root``'s walk with its digests (in sorted path
        order) and their :func:`digest_of_files`, unless the newest file was modified less
        than :data:`RACY_NS` ago.

        Returns:
            Whether the row was stored.

        Raises:
            StoreError: the cache file cannot be written.
        """
        if newest_mtime_ns >= self._clock() - RACY_NS:
            return False
        row = (root, fingerprint, content_digest, marshal.dumps(dict(digests)))
        with self._errors("write"):
            self._connect().execute("INSERT OR REPLACE INTO folders VALUES (?, ?, ?, ?)", row)
        return True

    def close(self) -> None:
        """Close the database connection; the cache reopens it when used again."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = _open_db(self._path)
            except sqlite3.DatabaseError:
                # Not a database (truncated or overwritten): a cache can start afresh.
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self._path}{suffix}").unlink(missing_ok=True)
                self._db = _open_db(self._path)
        return self._db

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"Cannot {action} the stat cache {str(self._path)!r}: {exc}.") from exc


def scan(
    root: Path,
    cache: StatCache,
    *,
    hash_file: Callable[[str], str] = hash_path,
    max_workers: int | None = None,
) -> dict[str, str]:
    """The digest of every file of the dataset at ``root``, re-hashing only changed files.

    The digests of :func:`scan_folder`; see there.

    Returns:
        Digest by POSIX relative path, in sorted path order.

    Raises:
        NotFound: ``root`` does not exist.
        StoreError: a file cannot be read, or the cache cannot be used.
    """
    return scan_folder(root, cache, hash_file=hash_file, max_workers=max_workers).digests()


def scan_folder(
    root: Path,
    cache: StatCache,
    *,
    hash_file: Callable[[str], str] = hash_path,
    max_workers: int | None = None,
) -> FolderScan:
    """The content digest and file digests of the dataset at ``root``, hashing only
    changed files.

    When the walk's fingerprint equals the one stored for ``root``, the answer is that
    row's. Otherwise a file whose size, mtime_ns and inode match its cache entry keeps
    the cached digest; the others are hashed in parallel and the cache is updated, the
    fingerprint included. Files that vanish between listing and hashing are left out.

    Args:
        root: the folder (or single file) to scan; see :func:`walk` for what counts.
        cache: where digests are remembered, keyed by absolute path.
        hash_file: computes a file's BLAKE3 hex digest from its path.
        max_workers: threads hashing changed files; twice the CPU count when not given.

    Raises:
        NotFound: ``root`` does not exist.
        StoreError: a file cannot be read, or the cache cannot be used.

    Example:
        >>> state = scan_folder(Path("data"), cache)
        >>> state.content_digest == version.content_digest  # unchanged since that version
        True
    """
    key = os.path.abspath(root)
    base, files = _list_files(root)
    # Hashed in listing order, which holds while the folder is unchanged: no sort on the
    # fast path; another order only costs the per-file path.
    fingerprint = blake3.blake3(marshal.dumps(files, _FINGERPRINT_FORMAT)).digest()
    content = cache.folder_digest(key, fingerprint)
    if content is not None:

        def stored_digests() -> dict[str, str]:
            digests = cache.folder_digests(key, fingerprint)
            if digests is None:  # replaced since: the files' own rows still answer
                files.sort(key=itemgetter(0))
                digests = _scan_files(base, files, cache, hash_file, max_workers)
            return digests

        return FolderScan(content, stored_digests)
    files.sort(key=itemgetter(0))
    digests = _scan_files(base, files, cache, hash_file, max_workers)
    content = digest_of_files(digests)
    if len(digests) == len(files):  # else a file vanished: the walk is not what was hashed
        newest = max((walked[2] for walked in files), default=0)
        cache.store_folder(
            key, fingerprint, digests, content_digest=content, newest_mtime_ns=newest
        )
    return FolderScan(content, lambda: digests)


def _scan_files(
    base: str,
    files: list[WalkedFile],
    cache: StatCache,
    hash_file: Callable[[str], str],
    max_workers: int | None,
) -> dict[str, str]:
    if len(files) == 1:  # a single file: one point query
        rel = files[0][0]
        row = cache.lookup_many([f"{base}/{rel}"]).get(f"{base}/{rel}")
        known = {} if row is None else {rel: row}
    else:
        known = cache.lookup_under(base)
    digests: dict[str, str] = {}
    stale: list[WalkedFile] = []
    for walked in files:
        rel, size, mtime_ns, inode = walked
        hit = known.get(rel)
        if hit is not None and hit[0] == size and hit[1] == mtime_ns and hit[2] == inode:
            digests[rel] = hit[3]
        else:
            stale.append(walked)
    if not stale:
        return digests
    fresh = _hash_all(base, stale, hash_file, max_workers)
    cache.store_many(
        (f"{base}/{rel}", size, mtime_ns, inode, fresh[rel])
        for rel, size, mtime_ns, inode in stale
        if rel in fresh
    )
    digests.update(fresh)
    return {walked[0]: digests[walked[0]] for walked in files if walked[0] in digests}


def _hash_all(
    base: str, files: list[WalkedFile], hash_file: Callable[[str], str], max_workers: int | None
) -> dict[str, str]:
    if len(files) == 1:
        return _hash_batch(base, files, hash_file)
    # Imported here: an unchanged folder (the common status) never needs threads.
    from concurrent.futures import ThreadPoolExecutor

    workers = max_workers or 2 * (os.cpu_count() or 1)
    size = max(1, min(256, len(files) // (4 * workers)))
    batches = [files[start : start + size] for start in range(0, len(files), size)]
    digests: dict[str, str] = {}
    with ThreadPoolExecutor(workers, thread_name_prefix="loopml-scan") as pool:
        for part in pool.map(lambda batch: _hash_batch(base, batch, hash_file), batches):
            digests.update(part)
    return digests


def _hash_batch(
    base: str, files: list[WalkedFile], hash_file: Callable[[str], str]
) -> dict[str, str]:
    digests: dict[str, str] = {}
    for rel, _, _, _ in files:
        path = f"{base}/{rel}"
        try:
            digests[rel] = hash_file(path)
        except FileNotFoundError:
            continue  # deleted since the walk: it is simply not there any more
        except OSError as exc:
            raise StoreError(f"Cannot read {path!r}: {exc.strerror or exc}.") from exc
    return digests


def _list_files(root: Path) -> tuple[str, list[WalkedFile]]:
    """:func:`walk` in listing order: the same order while the folder is unchanged."""
    path = os.path.abspath(root)
    try:
        top = os.stat(path)
    except FileNotFoundError as exc:
        raise NotFound(f"No file or folder at {str(root)!r}.") from exc
    if stat.S_ISREG(top.st_mode):
        folder, name = os.path.split(path)
        return folder.rstrip("/"), [(name, top.st_size, top.st_mtime_ns, top.st_ino)]
    if not stat.S_ISDIR(top.st_mode):
        raise InvalidInput(f"{str(root)!r} is neither a file nor a folder.")
    base = path.rstrip("/")
    found: list[WalkedFile] = []
    real_root = os.path.realpath(path).rstrip("/") + "/"
    pending = [(base, "")]
    while pending:
        folder, prefix = pending.pop()
        _walk_folder(folder, prefix, real_root, found, pending)
    return base, found


def _walk_folder(
    folder: str,
    prefix: str,
    real_root: str,
    found: list[WalkedFile],
    pending: list[tuple[str, str]],
) -> None:
    # Listing through a descriptor makes each entry's stat an fstatat() relative to the
    # folder: 15% faster than a stat of the full path (measured, 20,000 files).
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except FileNotFoundError:
        return  # removed while walking
    except OSError as exc:
        raise StoreError(f"Cannot list {folder!r}: {exc.strerror or exc}.") from exc
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                name = entry.name
                info: os.stat_result | None = None
                if entry.is_file(follow_symlinks=False):  # the common case first
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # removed while walking: the walk shows the folder as it is now
                elif entry.is_dir(follow_symlinks=False):
                    if name != IGNORED_DIR:
                        pending.append((f"{folder}/{name}", f"{prefix}{name}/"))
                elif entry.is_symlink():
                    info = _linked_file(folder, name, real_root)
                if info is not None:
                    found.append((prefix + name, info.st_size, info.st_mtime_ns, info.st_ino))
    except OSError as exc:
        raise StoreError(f"Cannot list {folder!r}: {exc.strerror or exc}.") from exc
    finally:
        os.close(fd)


def _linked_file(folder: str, name: str, real_root: str) -> os.stat_result | None:
    target = os.path.realpath(f"{folder}/{name}")
    if not target.startswith(real_root):
        return None
    try:
        info = os.stat(target)
    except OSError:
        return None  # dangling
    return info if stat.S_ISREG(info.st_mode) else None


def _open_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a lost cache row costs a re-hash only
        db.execute(
            "CREATE TABLE IF NOT EXISTS stats (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
            "mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, digest TEXT NOT NULL) "
            "WITHOUT ROWID"
        )
        # Added after the stats table; IF NOT EXISTS upgrades caches made without it. A
        # rowid table: in a WITHOUT ROWID one, finding a row reads its whole record, the
        # 1.5 MB of digests of 20,000 files included (2 ms instead of 0.03).
        db.execute(
            "CREATE TABLE IF NOT EXISTS folders (root TEXT PRIMARY KEY, "
            "fingerprint BLOB NOT NULL, content_digest TEXT NOT NULL, digests BLOB NOT NULL)"
        )
    except BaseException:
        db.close()
        raise
    return db
