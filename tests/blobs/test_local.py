"""LocalBlobStore: the contract, plus its layout, atomicity and housekeeping."""

from __future__ import annotations

import io
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import blake3
import pytest

from loopml.blobs import BlobRef, BlobStore, LocalBlobStore, put_bytes, read_bytes
from loopml.errors import StoreError
from loopml.testing.blobs import BlobStoreContract, GeneratedStream

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class TestLocalBlobStore(BlobStoreContract):
    @pytest.fixture
    def blob_store(self, tmp_path: Path) -> BlobStore:
        return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


class _FailingStream(io.RawIOBase):
    """Yields some bytes, then fails like a dropped network connection."""

    def __init__(self) -> None:
        super().__init__()
        self._sent = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._sent:
            raise ConnectionResetError("peer went away")
        self._sent = True
        memoryview(buffer).cast("B")[:4] = b"part"
        return 4


def test_blob_lives_under_a_two_character_fan_out_folder(store: LocalBlobStore) -> None:
    ref = put_bytes(store, b"laid out")
    assert (store.root / ref.digest[:2] / ref.digest[2:]).read_bytes() == b"laid out"


def test_stored_blob_is_read_only(store: LocalBlobStore) -> None:
    ref = put_bytes(store, b"immutable")
    mode = (store.root / ref.digest[:2] / ref.digest[2:]).stat().st_mode
    assert stat.S_IMODE(mode) == 0o444


def test_get_file_gives_the_caller_a_writable_file(store: LocalBlobStore, tmp_path: Path) -> None:
    ref = put_bytes(store, b"mine to edit")
    store.get_file(ref.digest, tmp_path / "copy")
    assert (tmp_path / "copy").stat().st_mode & stat.S_IWUSR


def test_uri_is_the_file_uri_of_the_root(tmp_path: Path) -> None:
    assert LocalBlobStore(tmp_path / "b s").uri == (tmp_path / "b s").as_uri()


def test_put_file_of_stored_content_copies_nothing(
    store: LocalBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"model")
    first = store.put_file(source)

    def no_copy(stream: BinaryIO) -> BlobRef:
        raise AssertionError("put_file copied content that was stored already")

    monkeypatch.setattr(store, "put_stream", no_copy)
    assert store.put_file(source) == first


def test_failed_stream_leaves_no_blob_and_no_temp_file(store: LocalBlobStore) -> None:
    with pytest.raises(ConnectionResetError):
        store.put_stream(cast(BinaryIO, _FailingStream()))
    assert list(store.iter_digests()) == []
    assert list((store.root / "tmp").iterdir()) == []


def test_unwritable_root_raises_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(StoreError, match=r"Cannot write a blob under .*a-file"):
        put_bytes(LocalBlobStore(tmp_path / "a-file"), b"nowhere")


def test_get_file_refuses_a_corrupt_blob_and_leaves_dest_alone(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    ref = put_bytes(store, b"original")
    stored = store.root / ref.digest[:2] / ref.digest[2:]
    stored.chmod(0o644)
    stored.write_bytes(b"bit rot")
    with pytest.raises(StoreError, match=f"{ref.digest} .* is corrupt"):
        store.get_file(ref.digest, tmp_path / "out" / "dest")
    assert list((tmp_path / "out").iterdir()) == []


def test_iter_digests_skips_temp_and_foreign_files(store: LocalBlobStore) -> None:
    ref = put_bytes(store, b"real")
    (store.root / "tmp" / ("f" * 64)).write_bytes(b"in flight")
    (store.root / "README").write_text("not a blob")
    (store.root / ref.digest[:2] / "notes.txt").write_text("not a blob either")
    (store.root / "zz").mkdir()
    assert list(store.iter_digests()) == [ref.digest]


def test_sweep_temp_removes_only_stale_temp_files(store: LocalBlobStore) -> None:
    put_bytes(store, b"initialises the store")
    temp = store.root / "tmp"
    (temp / "stale").write_bytes(b"left by a killed writer")
    (temp / "fresh").write_bytes(b"still being written")
    now = time.time()
    os.utime(temp / "stale", (now - 7200, now - 7200))
    os.utime(temp / "fresh", (now - 60, now - 60))
    assert store.sweep_temp(now=now) == 1
    assert [p.name for p in temp.iterdir()] == ["fresh"]


def test_sweep_temp_of_a_new_store_removes_nothing(store: LocalBlobStore) -> None:
    assert store.sweep_temp() == 0


def test_concurrent_writers_of_the_same_content_store_it_once(store: LocalBlobStore) -> None:
    size = 3 * (1 << 20)
    with ThreadPoolExecutor(max_workers=8) as pool:
        refs = set(
            pool.map(lambda _: store.put_stream(GeneratedStream(size).as_binary()), range(8))
        )
    assert refs == {GeneratedStream.ref_of(size)}
    assert list(store.iter_digests()) == [refs.pop().digest]
    assert list((store.root / "tmp").iterdir()) == []


def test_put_file_hashes_a_large_file_like_blake3(store: LocalBlobStore, tmp_path: Path) -> None:
    data = GeneratedStream(9 * (1 << 20) + 1, seed=3).read()
    (tmp_path / "big.bin").write_bytes(data)
    ref = store.put_file(tmp_path / "big.bin")
    assert ref == BlobRef(blake3.blake3(data).hexdigest(), len(data))
    assert read_bytes(store, ref.digest) == data


def _digest(data: bytes) -> str:
    return str(blake3.blake3(data).hexdigest())


def test_a_batch_publishes_nothing_before_commit(store: LocalBlobStore) -> None:
    with store.batch() as batch:
        batch.put(b"pending", _digest(b"pending"))
        assert not store.exists(_digest(b"pending"))
        assert len(list((store.root / "tmp").iterdir())) == 1
    assert read_bytes(store, _digest(b"pending")) == b"pending"
    assert list((store.root / "tmp").iterdir()) == []


def test_a_failed_batch_publishes_nothing_and_leaves_no_temp_file(store: LocalBlobStore) -> None:
    with pytest.raises(RuntimeError, match="stop"), store.batch() as batch:
        batch.put(b"first", _digest(b"first"))
        batch.put(b"second", _digest(b"second"))
        raise RuntimeError("stop")
    assert list(store.iter_digests()) == []
    assert list((store.root / "tmp").iterdir()) == []


def test_a_batch_blob_is_read_only(store: LocalBlobStore) -> None:
    with store.batch() as batch:
        batch.put(b"frozen", _digest(b"frozen"))
    path = store.root / _digest(b"frozen")[:2] / _digest(b"frozen")[2:]
    assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-per-file"])
@pytest.mark.parametrize("count", [1, 40], ids=["small", "large"])
def test_a_batch_flushes_each_way(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch, syncfs: bool, count: int
) -> None:
    from loopml.blobs import _local

    flushed: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(_local.os, "fsync", lambda fd: (flushed.append("fsync"), real_fsync(fd)))
    real_syncfs = _local._syncfs

    def counting_syncfs(folder: Path) -> bool:
        flushed.append("syncfs")
        return real_syncfs(folder) if syncfs else False

    monkeypatch.setattr(_local, "_syncfs", counting_syncfs)
    contents = [f"blob {n}".encode() for n in range(count)]
    with store.batch() as batch:
        for data in contents:
            batch.put(data, _digest(data))

    assert [read_bytes(store, _digest(data)) for data in contents] == contents
    if count >= _local._SYNCFS_FROM_BLOBS and syncfs:
        assert flushed == ["syncfs", "syncfs"]  # the data, then the renames
    else:  # one fsync per file, then one per fan-out folder
        assert flushed.count("fsync") == count + len({_digest(d)[:2] for d in contents})


def test_a_batch_that_cannot_flush_publishes_nothing(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopml.blobs import _local

    def failing(folder: Path) -> bool:
        raise OSError(5, "Input/output error", str(folder))

    monkeypatch.setattr(_local, "_syncfs", failing)
    contents = [f"blob {n}".encode() for n in range(_local._SYNCFS_FROM_BLOBS)]
    with pytest.raises(StoreError, match="Input/output error"), store.batch() as batch:
        for data in contents:
            batch.put(data, _digest(data))
    assert list(store.iter_digests()) == []
    assert list((store.root / "tmp").iterdir()) == []
