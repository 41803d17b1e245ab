"""The stat cache: digests reused while size, mtime and inode hold; what a walk finds."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path
from typing import Any

import blake3
import pytest

from loopml.data import _snapshot
from loopml.data._statcache import (
    RACY_NS,
    StatCache,
    digest_of_files,
    hash_path,
    scan,
    scan_folder,
    walk,
)
from loopml.errors import NotFound, StoreError

# Files get an mtime of 2020 unless a test says otherwise: far older than the racy
# window, whatever the clock says.
OLD_NS = 1_577_836_800 * 10**9


def write(path: Path, data: bytes, mtime_ns: int = OLD_NS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def digest(data: bytes) -> str:
    return str(blake3.blake3(data).hexdigest())


class CountingHash:
    """``hash_path`` that remembers which files it read."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, path: str) -> str:
        self.paths.append(path)
        return hash_path(path)

    def names(self) -> list[str]:
        return sorted(os.path.basename(path) for path in self.paths)


def run_sql(database: Path, sql: str, rows: list[tuple[Any, ...]] | None = None) -> list[Any]:
    """Run one statement on a cache file directly (committed), and return its rows."""
    db = sqlite3.connect(database)
    try:
        with db:
            if rows is not None:
                db.executemany(sql, rows)
                return []
            return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for i in range(20):
        write(tmp_path / "data" / f"part-{i:02}.csv", f"row {i}\n".encode() * (i + 1))
    write(tmp_path / "data" / "sub" / "nested.bin", b"\x00\x01")
    return tmp_path / "data"


@pytest.fixture
def cache(tmp_path: Path) -> StatCache:
    return StatCache(tmp_path / "cache" / "stats.db")


def test_scan_gives_the_digest_of_every_file_by_relative_path(
    folder: Path, cache: StatCache
) -> None:
    digests = scan(folder, cache)

    assert list(digests) == sorted(digests)
    assert digests["sub/nested.bin"] == digest(b"\x00\x01")
    assert digests["part-03.csv"] == digest(b"row 3\n" * 4)
    assert len(digests) == 21


def test_unchanged_files_are_not_hashed_again(folder: Path, cache: StatCache) -> None:
    first, second = CountingHash(), CountingHash()
    before = scan(folder, cache, hash_file=first)

    after = scan(folder, cache, hash_file=second)

    assert after == before
    assert len(first.paths) == 21 and second.paths == []


def test_a_touched_file_is_hashed_again(folder: Path, cache: StatCache) -> None:
    scan(folder, cache)
    write(folder / "part-05.csv", b"new content", mtime_ns=OLD_NS + 1)
    os.utime(folder / "part-06.csv", ns=(OLD_NS + 1, OLD_NS + 1))  # touched, same bytes
    counting = CountingHash()

    digests = scan(folder, cache, hash_file=counting)

    assert counting.names() == ["part-05.csv", "part-06.csv"]
    assert digests["part-05.csv"] == digest(b"new content")


def test_a_file_replaced_with_the_same_size_and_mtime_is_hashed_again(
    folder: Path, cache: StatCache
) -> None:
    scan(folder, cache)
    replacement = write(folder.parent / "other.csv", b"row 0\n")  # same size as part-00
    os.replace(replacement, folder / "part-00.csv")  # a new inode
    counting = CountingHash()

    scan(folder, cache, hash_file=counting)

    assert counting.names() == ["part-00.csv"]


def test_deleted_and_new_files_show_in_the_result(folder: Path, cache: StatCache) -> None:
    scan(folder, cache)
    (folder / "part-01.csv").unlink()
    write(folder / "sub" / "added.txt", b"hello")
    counting = CountingHash()

    digests = scan(folder, cache, hash_file=counting)

    assert "part-01.csv" not in digests
    assert digests["sub/added.txt"] == digest(b"hello")
    assert counting.names() == ["added.txt"]


def test_recently_modified_files_are_not_cached(folder: Path, tmp_path: Path) -> None:
    now = OLD_NS + RACY_NS // 2  # every file was modified "a second ago"
    cache = StatCache(tmp_path / "racy.db", clock=lambda: now)
    scan(folder, cache)
    counting = CountingHash()

    scan(folder, cache, hash_file=counting)

    assert len(counting.paths) == 21


def test_the_cache_persists_across_instances(folder: Path, tmp_path: Path) -> None:
    with StatCache(tmp_path / "stats.db") as cache:
        scan(folder, cache)
    counting = CountingHash()

    with StatCache(tmp_path / "stats.db") as reopened:
        scan(folder, reopened, hash_file=counting)

    assert counting.paths == []


def test_lookup_and_store_many_round_trip(cache: StatCache) -> None:
    rows = [("/d/a", 1, OLD_NS, 11, "a" * 64), ("/d/b/c", 2, OLD_NS, 12, "b" * 64)]

    assert cache.store_many(rows) == 2

    assert cache.lookup_many(["/d/a", "/d/b/c", "/d/missing"]) == {
        "/d/a": (1, OLD_NS, 11, "a" * 64),
        "/d/b/c": (2, OLD_NS, 12, "b" * 64),
    }
    assert set(cache.lookup_under("/d")) == {"a", "b/c"}
    assert cache.lookup_under("/d/b") == {"c": (2, OLD_NS, 12, "b" * 64)}


def test_a_cache_file_that_is_not_a_database_is_replaced(folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "stats.db"
    broken.write_bytes(b"this is not sqlite" * 100)

    digests = scan(folder, StatCache(broken))

    assert len(digests) == 21


def test_a_single_file_is_scanned_under_its_name(tmp_path: Path, cache: StatCache) -> None:
    source = write(tmp_path / "one.csv", b"a,b\n")
    scan(source, cache)
    counting = CountingHash()

    assert scan(source, cache, hash_file=counting) == {"one.csv": digest(b"a,b\n")}
    assert counting.paths == []


def test_a_missing_root_is_not_found(tmp_path: Path, cache: StatCache) -> None:
    with pytest.raises(NotFound):
        scan(tmp_path / "absent", cache)


def test_walk_skips_loopml_folders_and_links_that_leave(tmp_path: Path) -> None:
    write(tmp_path / "outside.txt", b"secret")
    root = tmp_path / "root"
    write(root / "a.txt", b"a")
    write(root / ".loopml" / "data" / "statcache.db", b"state")
    write(root / "deep" / ".loopml" / "x", b"state")
    (root / "link-in").symlink_to("a.txt")
    (root / "link-out").symlink_to(tmp_path / "outside.txt")
    (root / "dangling").symlink_to("missing")
    (root / "loop").symlink_to(root)
    os.mkfifo(root / "fifo")

    base, files = walk(root)

    assert base == str(root)
    assert [rel for rel, _, _, _ in files] == ["a.txt", "link-in"]


@pytest.mark.parametrize("count", [0, 1, 600])
def test_scan_handles_any_number_of_files(tmp_path: Path, cache: StatCache, count: int) -> None:
    (tmp_path / "many").mkdir()
    for i in range(count):
        write(tmp_path / "many" / f"{i}.txt", str(i).encode())
    counting = CountingHash()

    scan(tmp_path / "many", cache)
    digests = scan(tmp_path / "many", cache, hash_file=counting)

    assert len(digests) == count
    assert counting.paths == []


def test_lookup_many_answers_more_paths_than_one_query_takes(cache: StatCache) -> None:
    rows = [(f"/d/{i}", i, OLD_NS, i, f"{i:064x}") for i in range(1200)]
    cache.store_many(rows)

    found = cache.lookup_many(f"/d/{i}" for i in range(0, 2400, 2))

    assert sorted(found) == sorted(f"/d/{i}" for i in range(0, 1200, 2))


@pytest.mark.parametrize("size", [0, 1, 1 << 20, (1 << 20) + 1, 3 << 20])
def test_hash_path_is_the_blake3_of_the_content(tmp_path: Path, size: int) -> None:
    data = random.Random(size).randbytes(size)

    assert hash_path(str(write(tmp_path / "f.bin", data))) == digest(data)


def test_an_unchanged_folder_is_answered_by_its_fingerprint(folder: Path, tmp_path: Path) -> None:
    cache_file = tmp_path / "stats.db"
    with StatCache(cache_file) as cache:
        first = scan_folder(folder, cache)
    run_sql(cache_file, "DELETE FROM stats")  # only the folder's own row can answer now
    counting = CountingHash()

    with StatCache(cache_file) as cache:
        again = scan_folder(folder, cache, hash_file=counting)
        digests = again.digests()

    assert counting.paths == []
    assert again.content_digest == first.content_digest == digest_of_files(first.digests())
    assert digests == first.digests() and list(digests) == sorted(digests)
    assert run_sql(cache_file, "SELECT root FROM folders") == [(str(folder),)]


def test_a_same_size_rewrite_with_a_new_mtime_changes_the_fingerprint(
    folder: Path, cache: StatCache
) -> None:
    before = scan_folder(folder, cache)
    write(folder / "part-03.csv", b"ROW 3\n" * 4, mtime_ns=OLD_NS + 1)  # same size and inode
    counting = CountingHash()

    after = scan_folder(folder, cache, hash_file=counting)

    assert counting.names() == ["part-03.csv"]
    assert after.content_digest != before.content_digest
    assert after.digests()["part-03.csv"] == digest(b"ROW 3\n" * 4)


def test_a_fresh_file_keeps_the_fingerprint_from_being_stored(folder: Path, tmp_path: Path) -> None:
    now = OLD_NS + 10 * RACY_NS
    fresh_ns = now - RACY_NS // 2
    write(folder / "fresh.csv", b"old", mtime_ns=fresh_ns)
    cache_file = tmp_path / "stats.db"
    counting = CountingHash()

    with StatCache(cache_file, clock=lambda: now) as cache:
        scan_folder(folder, cache)
        write(folder / "fresh.csv", b"new", mtime_ns=fresh_ns)  # same size, same mtime
        again = scan_folder(folder, cache, hash_file=counting)

    assert run_sql(cache_file, "SELECT root FROM folders") == []
    assert counting.names() == ["fresh.csv"]
    assert again.digests()["fresh.csv"] == digest(b"new")


def test_a_cache_from_before_folder_fingerprints_keeps_working(
    folder: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old.db"
    run_sql(
        old,
        "CREATE TABLE stats (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
        "mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, digest TEXT NOT NULL) WITHOUT ROWID",
    )
    base, files = walk(folder)
    rows = [(f"{base}/{rel}", *stat, hash_path(f"{base}/{rel}")) for rel, *stat in files]
    run_sql(old, "INSERT INTO stats VALUES (?, ?, ?, ?, ?)", rows)
    counting = CountingHash()

    with StatCache(old) as cache:
        digests = scan(folder, cache, hash_file=counting)

    assert counting.paths == [] and len(digests) == 21
    assert run_sql(old, "SELECT root FROM folders") == [(str(folder),)]


def test_digests_still_answer_when_the_folder_row_is_replaced(folder: Path, tmp_path: Path) -> None:
    cache_file = tmp_path / "stats.db"
    counting = CountingHash()
    with StatCache(cache_file) as cache:
        expected = scan(folder, cache)
        state = scan_folder(folder, cache, hash_file=counting)  # answered by the fingerprint
        run_sql(cache_file, "DELETE FROM folders")  # as if another scan replaced the row

        assert state.digests() == expected
    assert counting.paths == []


def test_damaged_folder_digests_are_a_store_error(folder: Path, tmp_path: Path) -> None:
    cache_file = tmp_path / "stats.db"
    with StatCache(cache_file) as cache:
        scan(folder, cache)
    run_sql(cache_file, "UPDATE folders SET digests = x'00ff'")

    with StatCache(cache_file) as cache, pytest.raises(StoreError, match="damaged digests"):
        scan(folder, cache)


def test_a_file_and_its_folder_keep_separate_fingerprints(folder: Path, cache: StatCache) -> None:
    whole = scan_folder(folder, cache)
    single = scan_folder(folder / "part-00.csv", cache)
    counting = CountingHash()

    again = (
        scan_folder(folder, cache, hash_file=counting),
        scan_folder(folder / "part-00.csv", cache, hash_file=counting),
    )

    assert [state.content_digest for state in again] == [
        whole.content_digest,
        single.content_digest,
    ]
    assert single.digests() == {"part-00.csv": digest(b"row 0\n")}
    assert counting.paths == []


@pytest.mark.parametrize(
    "digests",
    [{}, {"a.csv": "a" * 64}, {"b/c": "c" * 64, "b": "b" * 64, "é ü/x": "d" * 64}],
    ids=["empty", "one", "nested-and-unicode"],
)
def test_digest_of_files_is_the_snapshot_s(digests: dict[str, str]) -> None:
    assert digest_of_files(digests) == _snapshot.digest_of_files(digests)
