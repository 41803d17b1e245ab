"""Snapshots into the blob store: packing, chunking, change detection and manifests."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import blake3
import orjson
import pytest

from loopml.blobs import LocalBlobStore, read_bytes
from loopml.data import _snapshot, _statcache
from loopml.data._snapshot import (
    Layout,
    content_digest,
    entries_from_manifest,
    manifest_bytes,
    snapshot,
)
from loopml.domain.data import FileEntry, FilePart
from loopml.errors import Conflict, InvalidInput, NotFound, StoreError

KiB = 1024
MiB = 1024 * KiB

# Thresholds a thousand times smaller than the defaults: every path, tiny files.
TINY = Layout(
    pack_below=4 * KiB,
    pack_min=8 * KiB,
    pack_avg=16 * KiB,
    pack_max=32 * KiB,
    chunk_from=64 * KiB,
    chunk_min=4 * KiB,
    chunk_avg=16 * KiB,
    chunk_max=64 * KiB,
    window=128 * KiB,
)


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def digest(data: bytes) -> str:
    return str(blake3.blake3(data).hexdigest())


def stored_content(blobs: LocalBlobStore, entry: FileEntry) -> bytes:
    return b"".join(
        read_bytes(blobs, part.blob)[part.offset : part.offset + part.length]
        for part in entry.parts
    )


def test_a_single_file_is_recorded_under_its_name(tmp_path: Path, blobs: LocalBlobStore) -> None:
    source = write(tmp_path / "data" / "train.csv", b"a,b\n1,2\n")

    (entry,) = snapshot(source, blobs)

    assert (entry.path, entry.size, entry.digest) == ("train.csv", 8, digest(b"a,b\n1,2\n"))
    assert stored_content(blobs, entry) == b"a,b\n1,2\n"


def test_a_folder_gives_sorted_posix_paths_relative_to_it(
    tmp_path: Path, blobs: LocalBlobStore
) -> None:
    for name in ["b.txt", "a/z.txt", "a/b/c.txt", "a.txt"]:
        write(tmp_path / "src" / name, name.encode())

    entries = snapshot(tmp_path / "src", blobs)

    assert [e.path for e in entries] == ["a.txt", "a/b/c.txt", "a/z.txt", "b.txt"]
    assert all(stored_content(blobs, e) == e.path.encode() for e in entries)


def test_empty_files_need_no_blob(tmp_path: Path, blobs: LocalBlobStore) -> None:
    write(tmp_path / "src" / "empty", b"")

    (entry,) = snapshot(tmp_path / "src", blobs)

    assert entry == FileEntry("empty", 0, digest(b""), ())
    assert list(blobs.iter_digests()) == []


def test_500_small_files_make_a_few_packs(tmp_path: Path, blobs: LocalBlobStore) -> None:
    for i in range(500):
        write(tmp_path / "src" / f"{i // 100}" / f"{i:03}.bin", random_bytes(100 + i, seed=i))

    entries = snapshot(tmp_path / "src", blobs, layout=TINY)

    packs = {part.blob for entry in entries for part in entry.parts}
    assert len(packs) == len(list(blobs.iter_digests()))
    assert 2 <= len(packs) <= 25  # 175 KiB in packs of 8-32 KiB
    for i, entry in enumerate(entries):
        assert stored_content(blobs, entry) == random_bytes(100 + i, seed=i)


def test_identical_small_files_share_their_bytes_in_a_pack(
    tmp_path: Path, blobs: LocalBlobStore
) -> None:
    write(tmp_path / "src" / "a", b"same")
    write(tmp_path / "src" / "b", b"same")

    a, b = snapshot(tmp_path / "src", blobs)

    assert a.parts == b.parts
    assert blobs.size(a.parts[0].blob) == 4


def test_files_between_the_thresholds_are_stored_whole(
    tmp_path: Path, blobs: LocalBlobStore
) -> None:
    data = random_bytes(20 * KiB, seed=1)
    source = write(tmp_path / "mid.bin", data)

    (entry,) = snapshot(source, blobs, layout=TINY)

    assert entry.parts == (FilePart(digest(data), 0, len(data)),)
    assert read_bytes(blobs, digest(data)) == data


def test_a_large_file_is_cut_into_chunks(tmp_path: Path, blobs: LocalBlobStore) -> None:
    data = random_bytes(20 * MiB, seed=7)
    source = write(tmp_path / "big.bin", data)

    (entry,) = snapshot(source, blobs)

    assert entry.digest == digest(data) and entry.size == len(data)
    assert 3 <= len(entry.parts) <= 10  # FastCDC, 4 MiB on average
    assert all(part.offset == 0 for part in entry.parts)
    assert stored_content(blobs, entry) == data


def test_several_large_files_of_any_size_are_chunked_exactly(
    tmp_path: Path, blobs: LocalBlobStore
) -> None:
    sizes = [64 * KiB, 128 * KiB, 256 * KiB, 300 * KiB + 1]  # windows of 128 KiB
    for i, size in enumerate(sizes):
        write(tmp_path / "src" / f"{i}.bin", random_bytes(size, seed=i))

    entries = snapshot(tmp_path / "src", blobs, layout=TINY)

    for i, entry in enumerate(entries):
        assert stored_content(blobs, entry) == random_bytes(sizes[i], seed=i)
        assert all(part.length <= TINY.chunk_max for part in entry.parts)


def test_cuts_do_not_depend_on_the_read_window(tmp_path: Path, blobs: LocalBlobStore) -> None:
    source = write(tmp_path / "big.bin", random_bytes(2 * MiB + 7, seed=5))
    fields = {name: getattr(TINY, name) for name in TINY.__slots__}

    (narrow,) = snapshot(source, blobs, layout=Layout(**(fields | {"window": 64 * KiB})))
    (wide,) = snapshot(source, blobs, layout=Layout(**(fields | {"window": 4 * MiB})))

    assert narrow.parts == wide.parts
    assert len(narrow.parts) > 20


def test_without_compiled_fastcdc_chunks_have_a_fixed_size(
    tmp_path: Path, blobs: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random_bytes(300 * KiB + 5, seed=6)
    source = write(tmp_path / "big.bin", data)
    monkeypatch.setitem(sys.modules, "fastcdc.fastcdc_cy", None)  # the import fails

    (entry,) = snapshot(source, blobs, layout=TINY)

    assert [part.length for part in entry.parts][:-1] == [TINY.chunk_avg] * 18
    assert stored_content(blobs, entry) == data


def test_a_one_byte_change_stores_about_one_new_chunk(
    tmp_path: Path, blobs: LocalBlobStore
) -> None:
    data = bytearray(random_bytes(20 * MiB, seed=8))
    source = write(tmp_path / "big.bin", bytes(data))
    (before,) = snapshot(source, blobs)
    stored = set(blobs.iter_digests())

    data[10 * MiB] ^= 0xFF
    source.write_bytes(data)
    (after,) = snapshot(source, blobs)

    new = set(blobs.iter_digests()) - stored
    assert after.digest != before.digest
    assert 1 <= len(new) <= 2  # the changed chunk (and its neighbour if a cut moved)
    assert stored_content(blobs, after) == data


def test_inserted_bytes_leave_the_other_chunks_alone(tmp_path: Path, blobs: LocalBlobStore) -> None:
    data = random_bytes(20 * MiB, seed=9)
    source = write(tmp_path / "big.bin", data)
    (before,) = snapshot(source, blobs)

    source.write_bytes(data[:1000] + b"inserted" + data[1000:])
    (after,) = snapshot(source, blobs)

    reused = {p.blob for p in before.parts} & {p.blob for p in after.parts}
    assert len(reused) >= len(before.parts) - 2


def test_adding_again_stores_nothing_new(tmp_path: Path, blobs: LocalBlobStore) -> None:
    for i in range(50):
        write(tmp_path / "src" / f"{i}.bin", random_bytes(i * 1500, seed=i))
    first = snapshot(tmp_path / "src", blobs, layout=TINY)
    stored = set(blobs.iter_digests())

    second = snapshot(tmp_path / "src", blobs, layout=TINY)

    assert second == first
    assert set(blobs.iter_digests()) == stored


def test_changing_one_small_file_rewrites_one_pack(tmp_path: Path, blobs: LocalBlobStore) -> None:
    for i in range(300):
        write(tmp_path / "src" / f"{i:03}.bin", random_bytes(200, seed=i))
    before = snapshot(tmp_path / "src", blobs, layout=TINY)

    write(tmp_path / "src" / "150.bin", random_bytes(200, seed=1000))
    after = snapshot(tmp_path / "src", blobs, layout=TINY)

    packs_before = {p.blob for e in before for p in e.parts}
    packs_after = {p.blob for e in after for p in e.parts}
    assert len(packs_after - packs_before) == 1


def test_the_same_content_has_the_same_content_digest_however_stored(
    tmp_path: Path, blobs: LocalBlobStore
) -> None:
    for i in range(20):
        write(tmp_path / "src" / f"{i}.bin", random_bytes(i * 8 * KiB, seed=i))

    default = snapshot(tmp_path / "src", blobs)
    tiny = snapshot(tmp_path / "src", blobs, layout=TINY)

    assert manifest_bytes(default) != manifest_bytes(tiny)
    assert content_digest(default) == content_digest(tiny)
    assert content_digest(reversed(tiny)) == content_digest(tiny)


def test_the_content_digest_changes_with_a_path(tmp_path: Path, blobs: LocalBlobStore) -> None:
    entries = [FileEntry("a", 1, digest(b"x"))]

    assert content_digest(entries) != content_digest([FileEntry("b", 1, digest(b"x"))])


def test_the_manifest_round_trips_and_is_canonical(tmp_path: Path, blobs: LocalBlobStore) -> None:
    for i in range(30):
        write(tmp_path / "src" / "d" / f"{i}.bin", random_bytes(i * 3 * KiB, seed=i))
    entries = snapshot(tmp_path / "src", blobs, layout=TINY)

    data = manifest_bytes(entries)

    assert entries_from_manifest(data) == entries
    assert manifest_bytes(list(reversed(entries))) == data
    assert orjson.loads(data)["format"] == 1
    assert b" " not in data


_GOOD_DIGEST = "0" * 64


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(b'{"format": 1}', id="no-files"),
        pytest.param(b'{"format": 2, "files": []}', id="newer-format"),
        pytest.param(b'{"format": 1, "files": [["a", 1, "xyz", []]]}', id="bad-digest"),
        pytest.param(b'{"format": 1, "files": [["a", true, "%s", []]]}', id="bool-size"),
        pytest.param(b'{"format": 1, "files": [["../a", 0, "%s", []]]}', id="escaping-path"),
        pytest.param(b'{"format": 1, "files": [["/a", 0, "%s", []]]}', id="absolute-path"),
        pytest.param(b'{"format": 1, "files": [[".loopml/x", 0, "%s", []]]}', id="loopml-path"),
        pytest.param(b'{"format": 1, "files": [["a", 5, "%s", [["%s", 0, 4]]]]}', id="short-parts"),
        pytest.param(b'{"format": 1, "files": [["a", 1, "%s", [["%s", -1, 1]]]]}', id="negative"),
        pytest.param(b'{"format": 1, "files": [["a", 0, "%s"]]}', id="three-fields"),
        pytest.param(
            b'{"format": 1, "files": [["a", 0, "%s", []], ["a", 0, "%s", []]]}', id="duplicate"
        ),
    ],
)
def test_a_malformed_manifest_is_a_store_error(document: bytes) -> None:
    data = document.replace(b"%s", _GOOD_DIGEST.encode())

    with pytest.raises(StoreError, match="anifest"):
        entries_from_manifest(data)


def test_manifest_bytes_refuses_duplicate_paths() -> None:
    with pytest.raises(ValueError, match="'a'"):
        manifest_bytes([FileEntry("a", 0, _GOOD_DIGEST), FileEntry("a", 0, _GOOD_DIGEST)])


def _growing(path: Path, real: object) -> object:
    """Wrap a reader of the module so that the file grows as it is first read (files are
    read in parallel: the first call may be for another file, which must not grow it
    before its own read starts)."""
    calls: list[int] = []

    def wrapper(*args: object) -> object:
        if not calls and path.name in repr(args):
            calls.append(1)
            with open(path, "ab") as file:
                file.write(b"late bytes")
        return real(*args)  # type: ignore[operator]

    return wrapper


@pytest.mark.parametrize(
    ("size", "reader"),
    [
        pytest.param(1 * KiB, "_read_small", id="packed"),
        pytest.param(20 * KiB, "_read_small", id="whole"),
        pytest.param(300 * KiB, "_read_into", id="chunked"),
    ],
)
def test_a_file_growing_while_added_is_a_conflict(
    tmp_path: Path, blobs: LocalBlobStore, monkeypatch: pytest.MonkeyPatch, size: int, reader: str
) -> None:
    source = write(tmp_path / "src" / "grows.bin", random_bytes(size, seed=3))
    write(tmp_path / "src" / "other.bin", b"steady")
    monkeypatch.setattr(_snapshot, reader, _growing(source, getattr(_snapshot, reader)))

    with pytest.raises(Conflict, match=r"'grows\.bin' changed while it was being added"):
        snapshot(tmp_path / "src", blobs, layout=TINY)
    assert list(blobs.iter_digests()) == []  # the batch was aborted: nothing published
    assert list((blobs.root / "tmp").glob("*")) == []  # and its temp files removed


def test_a_file_rewritten_in_place_while_added_is_a_conflict(
    tmp_path: Path, blobs: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write(tmp_path / "data.bin", random_bytes(300 * KiB, seed=4))
    real = _snapshot._read_into

    def rewrite_then_read(*args: object) -> int:
        with open(source, "r+b") as file:
            file.write(b"X")
        os.utime(source, ns=(1, 1))  # a distinct mtime, whatever the clock's resolution
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_snapshot, "_read_into", rewrite_then_read)

    with pytest.raises(Conflict, match="it was modified"):
        snapshot(source, blobs, layout=TINY)


def test_a_file_removed_while_added_is_a_conflict(
    tmp_path: Path, blobs: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write(tmp_path / "src" / "gone.bin", b"bytes")
    real = _statcache.walk

    def walk_then_remove(root: Path) -> object:
        found = real(root)
        source.unlink()
        return found

    monkeypatch.setattr(_snapshot, "walk", walk_then_remove)

    with pytest.raises(Conflict, match="removed"):
        snapshot(tmp_path / "src", blobs)


def test_progress_reports_a_running_total(tmp_path: Path, blobs: LocalBlobStore) -> None:
    sizes = [0, 100, 3 * KiB, 20 * KiB, 300 * KiB]
    for i, size in enumerate(sizes):
        write(tmp_path / "src" / f"{i}.bin", random_bytes(size, seed=i))
    seen: list[int] = []

    snapshot(tmp_path / "src", blobs, layout=TINY, on_progress=seen.append)

    assert seen == sorted(seen)
    assert seen[-1] == sum(sizes)


def test_loopml_folders_and_links_leaving_the_folder_are_skipped(
    tmp_path: Path, blobs: LocalBlobStore
) -> None:
    write(tmp_path / "outside.txt", b"secret")
    write(tmp_path / "src" / "real.txt", b"real")
    write(tmp_path / "src" / ".loopml" / "state.db", b"state")
    (tmp_path / "src" / "inside-link").symlink_to("real.txt")
    (tmp_path / "src" / "outside-link").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "src" / "dangling").symlink_to("nowhere")
    (tmp_path / "src" / "folder-link").symlink_to(tmp_path / "src")

    entries = snapshot(tmp_path / "src", blobs)

    assert [(e.path, e.digest) for e in entries] == [
        ("inside-link", digest(b"real")),
        ("real.txt", digest(b"real")),
    ]


def test_a_file_name_that_is_not_utf8_is_refused(tmp_path: Path, blobs: LocalBlobStore) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (Path(os.fsdecode(bytes(folder) + b"/bad\xff.bin"))).write_bytes(b"x")

    with pytest.raises(InvalidInput, match="UTF-8"):
        snapshot(folder, blobs)


def test_a_missing_source_is_not_found(tmp_path: Path, blobs: LocalBlobStore) -> None:
    with pytest.raises(NotFound):
        snapshot(tmp_path / "absent", blobs)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"pack_min": 2 * KiB}, id="pack-min-below-pack-below"),
        pytest.param({"chunk_min": 32, "chunk_avg": 16 * KiB}, id="chunk-min-too-small"),
        pytest.param({"window": 32 * KiB}, id="window-below-chunk-max"),
    ],
)
def test_an_inconsistent_layout_is_refused(change: dict[str, int]) -> None:
    fields = {name: getattr(TINY, name) for name in TINY.__slots__}

    with pytest.raises(ValueError, match="Need"):
        Layout(**(fields | change))


@pytest.mark.slow
def test_a_256_mib_file_is_stored_exactly(tmp_path: Path, blobs: LocalBlobStore) -> None:
    source = tmp_path / "huge.bin"
    hasher = blake3.blake3()
    with open(source, "wb") as file:
        for i in range(16):
            block = random_bytes(16 * MiB, seed=100 + i)
            hasher.update(block)
            file.write(block)

    (entry,) = snapshot(source, blobs)

    assert entry.size == 256 * MiB and entry.digest == hasher.hexdigest()
    assert sum(part.length for part in entry.parts) == entry.size
    rebuilt = blake3.blake3()
    for part in entry.parts:
        rebuilt.update(read_bytes(blobs, part.blob))
    assert rebuilt.hexdigest() == entry.digest
