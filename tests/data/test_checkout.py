"""Materialising versions: byte-exact round trips, hard links, copies and corruption."""

from __future__ import annotations

import errno
import os
import random
import stat
from pathlib import Path

import blake3
import pytest

from loopml.blobs import LocalBlobStore, S3BlobStore
from loopml.data._checkout import materialise
from loopml.data._snapshot import snapshot
from loopml.domain.data import FileEntry, FilePart
from loopml.errors import Conflict, InvalidInput, NotFound, StoreError
from tests.blobs.conftest import MOTO_BUCKET
from tests.data.test_snapshot import TINY, KiB

# One file of each kind: empty, packed, whole, chunked; nested folders.
FILES = {
    "empty.txt": 0,
    "small/a.bin": 100,
    "small/b.bin": 3 * KiB,
    "small/deep/c.bin": 2 * KiB,
    "whole.bin": 20 * KiB,
    "big/chunked.bin": 400 * KiB,
}


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    for i, (name, size) in enumerate(FILES.items()):
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(random.Random(i).randbytes(size))
    return tmp_path / "src"


def entry_of(entries: list[FileEntry], path: str) -> FileEntry:
    return next(entry for entry in entries if entry.path == path)


def blob_file(blobs: LocalBlobStore, digest: str) -> Path:
    return blobs.root / digest[:2] / digest[2:]


def corrupt(path: Path, at: int) -> None:
    """Flip one byte of a (read-only) blob file, keeping its size."""
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(data)


@pytest.mark.parametrize("link", [True, False], ids=["link", "copy"])
def test_a_version_materialises_byte_for_byte(
    tmp_path: Path, source: Path, blobs: LocalBlobStore, link: bool
) -> None:
    entries = snapshot(source, blobs, layout=TINY)

    done = materialise(entries, blobs, tmp_path / "out", link=link)

    for name in FILES:
        assert (tmp_path / "out" / name).read_bytes() == (source / name).read_bytes()
    assert done.written + done.linked == len(FILES)
    assert done.extra == []
    assert not [p for p in (tmp_path / "out").rglob("*.tmp")]


def test_whole_files_are_hard_linked_read_only(
    tmp_path: Path, source: Path, blobs: LocalBlobStore
) -> None:
    entries = snapshot(source, blobs, layout=TINY)
    whole = entry_of(entries, "whole.bin")

    done = materialise(entries, blobs, tmp_path / "out")

    linked = (tmp_path / "out" / "whole.bin").stat()
    assert linked.st_ino == blob_file(blobs, whole.digest).stat().st_ino
    assert linked.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0
    assert done.linked == 1
    assembled = (tmp_path / "out" / "small" / "a.bin").stat()
    assert assembled.st_mode & stat.S_IWUSR  # packed and chunked files are copies


def test_a_failing_link_falls_back_to_a_copy(
    tmp_path: Path, source: Path, blobs: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = snapshot(source, blobs, layout=TINY)

    def cross_device(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    done = materialise(entries, blobs, tmp_path / "out")

    copy = tmp_path / "out" / "whole.bin"
    assert copy.read_bytes() == (source / "whole.bin").read_bytes()
    assert (
        copy.stat().st_ino != blob_file(blobs, entry_of(entries, "whole.bin").digest).stat().st_ino
    )
    assert (done.linked, done.written) == (0, len(FILES))


@pytest.mark.parametrize("link", [True, False], ids=["link", "copy"])
@pytest.mark.parametrize("name", ["whole.bin", "small/b.bin", "big/chunked.bin"])
def test_a_corrupt_blob_is_an_error_and_writes_no_file(
    tmp_path: Path, source: Path, blobs: LocalBlobStore, link: bool, name: str
) -> None:
    entries = snapshot(source, blobs, layout=TINY)
    entry = entry_of(entries, name)
    corrupt(blob_file(blobs, entry.parts[-1].blob), at=entry.parts[-1].offset)

    with pytest.raises(StoreError, match="corrupt"):
        materialise([entry], blobs, tmp_path / "out", link=link)

    assert [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_files_not_in_the_version_are_reported_and_kept(
    tmp_path: Path, source: Path, blobs: LocalBlobStore
) -> None:
    entries = snapshot(source, blobs, layout=TINY)
    (tmp_path / "out" / "small").mkdir(parents=True)
    (tmp_path / "out" / "small" / "mine.txt").write_text("keep me")
    (tmp_path / "out" / "notes.md").write_text("and me")

    done = materialise(entries, blobs, tmp_path / "out")

    assert done.extra == ["notes.md", "small/mine.txt"]
    assert (tmp_path / "out" / "small" / "mine.txt").read_text() == "keep me"


@pytest.mark.parametrize("link", [True, False], ids=["link", "copy"])
def test_materialising_again_rewrites_only_changed_files(
    tmp_path: Path, source: Path, blobs: LocalBlobStore, link: bool
) -> None:
    entries = snapshot(source, blobs, layout=TINY)
    out = tmp_path / "out"
    materialise(entries, blobs, out, link=link)
    (out / "small" / "a.bin").write_bytes(b"x" * 100)  # same size, other content
    (out / "big" / "chunked.bin").unlink()

    done = materialise(entries, blobs, out, link=link)

    assert (done.written + done.linked, done.unchanged) == (2, len(FILES) - 2)
    assert (out / "small" / "a.bin").read_bytes() == (source / "small" / "a.bin").read_bytes()


def test_an_existing_file_of_other_content_is_replaced(
    tmp_path: Path, source: Path, blobs: LocalBlobStore
) -> None:
    entries = snapshot(source / "whole.bin", blobs, layout=TINY)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "whole.bin").write_bytes(b"old")

    materialise(entries, blobs, tmp_path / "out", link=False)

    assert (tmp_path / "out" / "whole.bin").read_bytes() == (source / "whole.bin").read_bytes()


@pytest.mark.parametrize("path", ["../escape", "/etc/passwd", "a/./b", ".loopml/x", "a//b"])
def test_unsafe_paths_are_refused(tmp_path: Path, blobs: LocalBlobStore, path: str) -> None:
    entry = FileEntry(path, 0, blake3.blake3(b"").hexdigest())

    with pytest.raises(InvalidInput, match="path"):
        materialise([entry], blobs, tmp_path / "out")


def test_a_path_listed_twice_is_refused(tmp_path: Path, blobs: LocalBlobStore) -> None:
    entry = FileEntry("a", 0, blake3.blake3(b"").hexdigest())

    with pytest.raises(InvalidInput, match="twice"):
        materialise([entry, entry], blobs, tmp_path / "out")


def test_a_missing_blob_is_not_found(tmp_path: Path, blobs: LocalBlobStore) -> None:
    digest = blake3.blake3(b"gone").hexdigest()
    entries = [
        FileEntry("whole", 4, digest, (FilePart(digest, 0, 4),)),
        FileEntry("packed", 4, digest, (FilePart("1" * 64, 10, 4),)),
    ]

    for entry in entries:
        with pytest.raises(NotFound):
            materialise([entry], blobs, tmp_path / "out")


def test_a_folder_in_the_way_is_a_conflict(
    tmp_path: Path, source: Path, blobs: LocalBlobStore
) -> None:
    entries = snapshot(source, blobs, layout=TINY)
    (tmp_path / "out" / "whole.bin").mkdir(parents=True)
    (tmp_path / "out" / "whole.bin" / "x").write_text("x")

    with pytest.raises(Conflict, match="in the way"):
        materialise(entries, blobs, tmp_path / "out", link=False)


def test_a_file_in_place_of_a_folder_is_a_conflict(
    tmp_path: Path, source: Path, blobs: LocalBlobStore
) -> None:
    entries = snapshot(source, blobs, layout=TINY)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "small").write_text("a file")

    with pytest.raises(Conflict, match="in the way"):
        materialise(entries, blobs, tmp_path / "out")


def test_a_file_as_destination_is_refused(tmp_path: Path, blobs: LocalBlobStore) -> None:
    (tmp_path / "out").write_text("x")

    with pytest.raises(InvalidInput, match="not a folder"):
        materialise([], blobs, tmp_path / "out")


def test_progress_reports_a_running_total(
    tmp_path: Path, source: Path, blobs: LocalBlobStore
) -> None:
    entries = snapshot(source, blobs, layout=TINY)
    seen: list[int] = []

    materialise(entries, blobs, tmp_path / "out", on_progress=seen.append)

    assert seen == sorted(seen) and seen[-1] == sum(FILES.values())


@pytest.mark.s3
def test_a_version_materialises_from_s3(tmp_path: Path, source: Path, moto_server: str) -> None:
    store = S3BlobStore(MOTO_BUCKET, f"checkout-{os.getpid()}", endpoint_url=moto_server)
    entries = snapshot(source, store, layout=TINY)

    done = materialise(entries, store, tmp_path / "out")

    for name in FILES:
        assert (tmp_path / "out" / name).read_bytes() == (source / name).read_bytes()
    assert done.linked == 0
