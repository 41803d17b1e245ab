"""The contract of :class:`loopml.blobs.BlobStore`, run unchanged against every adapter.

Subclass it in a test module and provide a ``blob_store`` fixture yielding an empty
store (a fresh folder, a fresh S3 prefix, ...)::

    class TestLocalBlobStore(BlobStoreContract):
        @pytest.fixture
        def blob_store(self, tmp_path: Path) -> BlobStore:
            return LocalBlobStore(tmp_path / "blobs")
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import blake3
import pytest

from loopml.blobs import BlobRef, BlobStore, put_bytes, read_bytes
from loopml.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["BlobStoreContract", "GeneratedStream"]

_MiB = 1 << 20
_ABSENT = "0" * 64

Operation = Callable[[BlobStore, str, Path], object]


def _read_all(store: BlobStore, digest: str, _: Path) -> object:
    with store.open(digest) as stream:
        return stream.read()


_READS: dict[str, Operation] = {
    "open": _read_all,
    "get_file": lambda store, digest, tmp: store.get_file(digest, tmp / "out"),
    "size": lambda store, digest, _: store.size(digest),
}
_ALL_OPERATIONS: dict[str, Operation] = {
    **_READS,
    "exists": lambda store, digest, _: store.exists(digest),
    "delete": lambda store, digest, _: store.delete(digest),
}
_MALFORMED = {
    "empty": "",
    "uppercase": "A" * 64,
    "too-short": "a" * 63,
    "too-long": "a" * 65,
    "not-hex": "g" * 64,
    "path-traversal": "../" * 21 + "a",
}


class GeneratedStream(io.RawIOBase):
    """A non-seekable stream of seeded random bytes that answers with short reads, like a pipe.

    Args:
        size: total bytes the stream yields.
        seed: seed of the content; equal seeds give equal content.
        chunk: the most bytes one ``read`` returns.
    """

    def __init__(self, size: int, seed: int = 0, chunk: int = 100_003) -> None:
        super().__init__()
        self._left = size
        self._chunk = chunk
        self._random = random.Random(seed)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if not self._pending and self._left:
            # Fixed-size blocks: the content must not depend on how the reader slices it.
            block = min(self._chunk, self._left)
            self._pending = memoryview(self._random.randbytes(block))
            self._left -= block
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def as_binary(self) -> BinaryIO:
        """This stream, typed as what ``BlobStore.put_stream`` accepts."""
        return cast(BinaryIO, self)

    @staticmethod
    def ref_of(size: int, seed: int = 0) -> BlobRef:
        """The reference the content of ``GeneratedStream(size, seed)`` must get."""
        hasher = blake3.blake3()
        stream = GeneratedStream(size, seed)
        while data := stream.read(_MiB):
            hasher.update(data)
        return BlobRef(hasher.hexdigest(), size)


def _chunks(stream: BinaryIO, size: int) -> Iterator[bytes]:
    while data := stream.read(size):
        yield data


class BlobStoreContract:
    """Tests every :class:`BlobStore` must pass; subclasses provide ``blob_store``."""

    @pytest.fixture
    def blob_store(self) -> BlobStore:
        """An empty store; override it in the subclass."""
        raise NotImplementedError("Subclasses of BlobStoreContract provide a blob_store fixture.")

    def test_put_file_returns_blake3_digest_and_size(
        self, blob_store: BlobStore, tmp_path: Path
    ) -> None:
        source = tmp_path / "source.bin"
        source.write_bytes(b"loopml blob")
        ref = blob_store.put_file(source)
        assert ref == BlobRef(blake3.blake3(b"loopml blob").hexdigest(), 11)

    def test_put_file_then_get_file_round_trips(
        self, blob_store: BlobStore, tmp_path: Path
    ) -> None:
        source = tmp_path / "source.bin"
        source.write_bytes(b"weights" * 1000)
        ref = blob_store.put_file(source)
        blob_store.get_file(ref.digest, tmp_path / "copy.bin")
        assert (tmp_path / "copy.bin").read_bytes() == b"weights" * 1000

    def test_put_stream_then_open_round_trips(self, blob_store: BlobStore) -> None:
        ref = blob_store.put_stream(io.BytesIO(b"streamed content"))
        with blob_store.open(ref.digest) as stream:
            assert stream.read() == b"streamed content"

    def test_open_supports_partial_reads(self, blob_store: BlobStore) -> None:
        ref = blob_store.put_stream(io.BytesIO(b"0123456789"))
        with blob_store.open(ref.digest) as stream:
            assert (stream.read(3), stream.read(4), stream.read()) == (b"012", b"3456", b"789")

    def test_open_closes_the_stream_on_exit(self, blob_store: BlobStore) -> None:
        ref = blob_store.put_stream(io.BytesIO(b"close me"))
        with blob_store.open(ref.digest) as stream:
            stream.read(1)
        assert stream.closed

    def test_put_file_and_put_stream_give_the_same_ref(
        self, blob_store: BlobStore, tmp_path: Path
    ) -> None:
        source = tmp_path / "source.bin"
        source.write_bytes(b"same bytes")
        assert blob_store.put_file(source) == blob_store.put_stream(io.BytesIO(b"same bytes"))

    def test_same_content_twice_is_stored_once(self, blob_store: BlobStore, tmp_path: Path) -> None:
        source = tmp_path / "source.bin"
        source.write_bytes(b"dedup me")
        refs = {
            blob_store.put_stream(io.BytesIO(b"dedup me")),
            blob_store.put_stream(io.BytesIO(b"dedup me")),
            blob_store.put_file(source),
            blob_store.put_file(source),
        }
        assert len(refs) == 1
        assert list(blob_store.iter_digests()) == [refs.pop().digest]

    def test_exists_is_false_before_put_and_true_after(self, blob_store: BlobStore) -> None:
        digest = blake3.blake3(b"soon").hexdigest()
        assert not blob_store.exists(digest)
        blob_store.put_stream(io.BytesIO(b"soon"))
        assert blob_store.exists(digest)

    def test_size_returns_the_stored_size(self, blob_store: BlobStore) -> None:
        ref = blob_store.put_stream(io.BytesIO(b"x" * 12345))
        assert blob_store.size(ref.digest) == 12345

    def test_delete_removes_the_blob(self, blob_store: BlobStore) -> None:
        ref = blob_store.put_stream(io.BytesIO(b"short-lived"))
        blob_store.delete(ref.digest)
        assert not blob_store.exists(ref.digest)
        assert list(blob_store.iter_digests()) == []

    def test_delete_of_a_missing_blob_is_not_an_error(self, blob_store: BlobStore) -> None:
        blob_store.delete(_ABSENT)

    def test_iter_digests_lists_every_stored_blob(self, blob_store: BlobStore) -> None:
        refs = [blob_store.put_stream(io.BytesIO(f"blob {i}".encode())) for i in range(5)]
        assert sorted(blob_store.iter_digests()) == sorted(ref.digest for ref in refs)

    def test_iter_digests_of_an_empty_store_is_empty(self, blob_store: BlobStore) -> None:
        assert list(blob_store.iter_digests()) == []

    @pytest.mark.parametrize("operation", _READS.values(), ids=_READS.keys())
    def test_missing_digest_raises_not_found_naming_it(
        self, blob_store: BlobStore, tmp_path: Path, operation: Operation
    ) -> None:
        with pytest.raises(NotFound, match=_ABSENT):
            operation(blob_store, _ABSENT, tmp_path)

    @pytest.mark.parametrize("operation", _ALL_OPERATIONS.values(), ids=_ALL_OPERATIONS.keys())
    @pytest.mark.parametrize("digest", _MALFORMED.values(), ids=_MALFORMED.keys())
    def test_malformed_digest_raises_invalid_input_naming_it(
        self, blob_store: BlobStore, tmp_path: Path, operation: Operation, digest: str
    ) -> None:
        with pytest.raises(InvalidInput, match="Invalid blob digest") as caught:
            operation(blob_store, digest, tmp_path)
        assert repr(digest) in str(caught.value)

    def test_get_file_of_a_missing_blob_leaves_dest_untouched(
        self, blob_store: BlobStore, tmp_path: Path
    ) -> None:
        dest = tmp_path / "dest.bin"
        dest.write_bytes(b"keep me")
        with pytest.raises(NotFound):
            blob_store.get_file(_ABSENT, dest)
        assert dest.read_bytes() == b"keep me"

    def test_get_file_replaces_dest_and_leaves_no_temp_file(
        self, blob_store: BlobStore, tmp_path: Path
    ) -> None:
        ref = blob_store.put_stream(io.BytesIO(b"new content"))
        folder = tmp_path / "out"
        folder.mkdir()
        (folder / "dest.bin").write_bytes(b"old content that is longer")
        blob_store.get_file(ref.digest, folder / "dest.bin")
        assert [p.name for p in folder.iterdir()] == ["dest.bin"]
        assert (folder / "dest.bin").read_bytes() == b"new content"

    def test_get_file_creates_missing_parent_folders(
        self, blob_store: BlobStore, tmp_path: Path
    ) -> None:
        ref = blob_store.put_stream(io.BytesIO(b"nested"))
        blob_store.get_file(ref.digest, tmp_path / "a" / "b" / "c.bin")
        assert (tmp_path / "a" / "b" / "c.bin").read_bytes() == b"nested"

    def test_empty_blob_round_trips(self, blob_store: BlobStore, tmp_path: Path) -> None:
        empty = tmp_path / "empty"
        empty.touch()
        ref = blob_store.put_file(empty)
        assert ref == BlobRef(blake3.blake3(b"").hexdigest(), 0)
        assert blob_store.put_stream(io.BytesIO(b"")) == ref
        assert blob_store.size(ref.digest) == 0
        with blob_store.open(ref.digest) as stream:
            assert stream.read() == b""
        blob_store.get_file(ref.digest, tmp_path / "copy")
        assert (tmp_path / "copy").read_bytes() == b""

    def test_all_byte_values_round_trip(self, blob_store: BlobStore) -> None:
        data = bytes(range(256)) * 64 + b"\r\n\x00\x1a"
        ref = blob_store.put_stream(io.BytesIO(data))
        with blob_store.open(ref.digest) as stream:
            assert stream.read() == data

    def test_multi_megabyte_blob_streams_in_chunks(
        self, blob_store: BlobStore, tmp_path: Path
    ) -> None:
        size = 12 * _MiB + 7  # several parts wherever uploads go in parts
        expected = GeneratedStream.ref_of(size, seed=7)
        assert blob_store.put_stream(GeneratedStream(size, seed=7).as_binary()) == expected
        hasher, largest = blake3.blake3(), 0
        with blob_store.open(expected.digest) as stream:
            for chunk in _chunks(stream, 256 * 1024):
                hasher.update(chunk)
                largest = max(largest, len(chunk))
        assert (hasher.hexdigest(), largest) == (expected.digest, 256 * 1024)
        blob_store.get_file(expected.digest, tmp_path / "big.bin")
        assert (tmp_path / "big.bin").stat().st_size == size

    def test_put_file_of_a_missing_path_raises_not_found(
        self, blob_store: BlobStore, tmp_path: Path
    ) -> None:
        with pytest.raises(NotFound, match=r"missing\.bin"):
            blob_store.put_file(tmp_path / "missing.bin")

    def test_put_stream_rejects_a_text_stream(self, blob_store: BlobStore) -> None:
        with pytest.raises(TypeError, match="binary"):
            blob_store.put_stream(cast(BinaryIO, io.StringIO("text")))
        assert list(blob_store.iter_digests()) == []

    def test_batch_publishes_every_blob_on_commit(self, blob_store: BlobStore) -> None:
        contents = [f"blob {n}".encode() * (n + 1) for n in range(20)]
        with blob_store.batch() as batch:
            written = [batch.put(data, _digest(data)) for data in contents]
        assert written == [True] * 20
        for data in contents:
            assert read_bytes(blob_store, _digest(data)) == data

    def test_batch_writes_content_once(self, blob_store: BlobStore) -> None:
        stored = put_bytes(blob_store, b"already there")
        with blob_store.batch() as batch:
            first = batch.put(b"twice in one batch", _digest(b"twice in one batch"))
            second = batch.put(b"twice in one batch", _digest(b"twice in one batch"))
            again = batch.put(b"already there", stored.digest)
        assert (first, second, again) == (True, False, False)
        assert sorted(blob_store.iter_digests()) == sorted(
            [stored.digest, _digest(b"twice in one batch")]
        )

    def test_batch_refuses_a_malformed_digest(self, blob_store: BlobStore) -> None:
        with pytest.raises(InvalidInput, match="not-a-digest"), blob_store.batch() as batch:
            batch.put(b"data", "not-a-digest")
        assert list(blob_store.iter_digests()) == []


def _digest(data: bytes) -> str:
    return str(blake3.blake3(data).hexdigest())
