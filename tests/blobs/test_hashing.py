"""hash_file: the digest of every size around its buffer and threshold boundaries, errors."""

from __future__ import annotations

import errno
import io
import os
import random
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import blake3
import pytest

from loopml.blobs import BlobRef, _hashing, hash_file
from loopml.errors import InvalidInput, NotFound, StoreError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# Small stand-ins for the module's sizes, so that every boundary fits in a tiny file.
_CHUNK = 16
_HALF = 32
_BLOCK = 2 * _HALF
_THRESHOLD = _BLOCK

_real_preadv = os.preadv


@pytest.fixture
def small_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hashing, "_FILE_HASH_CHUNK", _CHUNK)
    monkeypatch.setattr(_hashing, "_PARALLEL_READ", _HALF)
    monkeypatch.setattr(_hashing, "_PARALLEL_MIN_SIZE", _THRESHOLD)


def _write(path: Path, size: int, seed: int = 0) -> bytes:
    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return data


def _ref(data: bytes) -> BlobRef:
    return BlobRef(digest=blake3.blake3(data).hexdigest(), size=len(data))


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == _hashing._READER_NAME]


def _patch_preadv(
    monkeypatch: pytest.MonkeyPatch,
    replacement: Callable[[int, Sequence[WriteableBuffer], int], int],
) -> None:
    monkeypatch.setattr(os, "preadv", replacement)


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(0, id="empty"),
        pytest.param(1, id="one-byte"),
        pytest.param(_CHUNK, id="one-chunk"),
        pytest.param(_CHUNK + 1, id="one-chunk-plus-one"),
        pytest.param(3 * _CHUNK + 5, id="several-chunks-plus-remainder"),
        pytest.param(_THRESHOLD - 1, id="just-below-threshold"),
        pytest.param(_BLOCK, id="one-block-at-threshold"),
        pytest.param(_BLOCK + 1, id="one-block-plus-one"),
        pytest.param(_BLOCK + _HALF - 1, id="block-plus-short-first-half"),
        pytest.param(_BLOCK + _HALF + 1, id="block-plus-short-second-half"),
        pytest.param(3 * _BLOCK, id="several-blocks"),
        pytest.param(3 * _BLOCK + 7, id="several-blocks-plus-remainder"),
    ],
)
def test_digest_is_blake3_of_the_content(small_sizes: None, tmp_path: Path, size: int) -> None:
    data = _write(tmp_path / "f.bin", size, seed=size)
    assert hash_file(tmp_path / "f.bin") == _ref(data)


def test_file_at_the_threshold_is_read_by_two_threads(
    small_sizes: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers: set[str] = set()

    def recording(fd: int, buffers: Sequence[WriteableBuffer], offset: int) -> int:
        readers.add(threading.current_thread().name)
        return _real_preadv(fd, buffers, offset)

    _patch_preadv(monkeypatch, recording)
    data = _write(tmp_path / "f.bin", 2 * _BLOCK)
    assert hash_file(tmp_path / "f.bin") == _ref(data)
    assert readers == {threading.current_thread().name, _hashing._READER_NAME}
    assert _reader_threads() == []


def test_short_read_inside_the_file_still_hashes_every_byte(
    small_sizes: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def short_at_start(fd: int, buffers: Sequence[WriteableBuffer], offset: int) -> int:
        if offset == 0:
            return _real_preadv(fd, [memoryview(buffers[0])[: _HALF - 3]], offset)
        return _real_preadv(fd, buffers, offset)

    _patch_preadv(monkeypatch, short_at_start)
    data = _write(tmp_path / "f.bin", 3 * _BLOCK + 7)
    assert hash_file(tmp_path / "f.bin") == _ref(data)


def test_hashes_a_file_above_the_default_threshold(tmp_path: Path) -> None:
    data = _write(tmp_path / "f.bin", _hashing._PARALLEL_MIN_SIZE + 2 * _hashing._PARALLEL_READ + 1)
    assert hash_file(tmp_path / "f.bin") == _ref(data)


def _failing_at(failing_offset: int) -> Callable[[int, Sequence[WriteableBuffer], int], int]:
    def preadv(fd: int, buffers: Sequence[WriteableBuffer], offset: int) -> int:
        if offset == failing_offset:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return _real_preadv(fd, buffers, offset)

    return preadv


@pytest.mark.parametrize(
    "failing_offset",
    [
        pytest.param(_BLOCK, id="caller-thread"),
        pytest.param(_BLOCK + _HALF, id="reader-thread"),
    ],
)
def test_read_error_of_either_thread_is_a_store_error(
    small_sizes: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_offset: int
) -> None:
    _patch_preadv(monkeypatch, _failing_at(failing_offset))
    _write(tmp_path / "f.bin", 3 * _BLOCK)
    with pytest.raises(StoreError, match=r"Cannot read '.*f\.bin': Input/output error\."):
        hash_file(tmp_path / "f.bin")
    assert _reader_threads() == []


class _FailingReader(io.BufferedReader):
    """A real file whose reads fail like a disk I/O error."""

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))


def test_read_error_of_a_small_file_is_a_store_error(
    small_sizes: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_hashing, "open_source", lambda path: _FailingReader(io.FileIO(path)))
    _write(tmp_path / "f.bin", _CHUNK + 1)
    with pytest.raises(StoreError, match=r"Cannot read '.*f\.bin': Input/output error\."):
        hash_file(tmp_path / "f.bin")


def test_interrupt_in_the_caller_stops_the_reader_thread(
    small_sizes: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int, buffers: Sequence[WriteableBuffer], offset: int) -> int:
        if offset == _BLOCK:
            raise KeyboardInterrupt
        return _real_preadv(fd, buffers, offset)

    _patch_preadv(monkeypatch, interrupted)
    _write(tmp_path / "f.bin", 3 * _BLOCK)
    with pytest.raises(KeyboardInterrupt):
        hash_file(tmp_path / "f.bin")
    assert _reader_threads() == []


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        hash_file(tmp_path / "absent.bin")


def test_directory_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is a directory"):
        hash_file(tmp_path)
