"""Step outputs as blobs: tables as Arrow IPC or Parquet, arrays as ``.npy``, anything
else pickled.

Each stored value is a blob plus a *kind* that says how to read it back:

==========  ==========================================================
kind        stored as
==========  ==========================================================
``none``    nothing (the step returned None)
``pandas``  a table (pyarrow; the index is kept), see below
``polars``  a table
``arrow``   a table
``numpy``   ``.npy`` (numeric arrays; object arrays are pickled)
``pickle``  cloudpickle, for anything else (models, dicts, tuples...)
==========  ==========================================================

**Tables.** A table whose columns are all numbers, booleans or times is stored as an
Arrow IPC file, uncompressed: writing it copies the columns once, and the next step
maps the blob and reads the columns in place, decoding nothing. Compression would barely
shrink such a table (random floats: 2%). Any other table (strings, categories, nested
columns) is stored as Parquet, lz4 and dictionary encoding, often several times
smaller. Measured on a 200 MB table of floats (1M rows x 25 columns, 2 cores): stored
in ~0.2 s (hashing and fsync included) and loaded in ~0.02 s as IPC; as Parquet,
encoding alone took 0.1-0.6 s and loading ~0.06 s. A reader tells the formats by their
first bytes, so outputs stored as Parquet by earlier versions still load.

Model objects are pickled here; registering them as model packages (with signature and
flavor) is what ``log_model`` does inside a step.
"""

from __future__ import annotations

import collections
import io
import mmap
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from loopml.errors import InvalidInput, StoreError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    from loopml.blobs import BlobStore

__all__ = ["load_value", "save_value", "value_kind"]

# Parquet: lz4, cheap to write and read. Dictionary encoding only for columns that are not
# floating point: on floats, which rarely repeat, the writer builds a dictionary only to
# fall back to plain encoding (200 MB of float64: 0.36-0.5 s to write with dictionaries,
# 0.08-0.09 s without).
_COMPRESSION = "lz4"
_TABLE_KINDS = ("pandas", "polars", "arrow")
_IPC_MAGIC = b"ARROW1"


def value_kind(value: Any) -> str:
    """How ``value`` will be stored (see the module docstring)."""
    if value is None:
        return "none"
    module = type(value).__module__.split(".")[0]
    name = type(value).__name__
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    if module == "polars" and name == "DataFrame":
        return "polars"
    if module == "pyarrow" and name == "Table":
        return "arrow"
    if module == "numpy" and name == "ndarray" and not value.dtype.hasobject:
        return "numpy"
    return "pickle"


def save_value(value: Any, blobs: BlobStore, *, where: str) -> tuple[str, str, int]:
    """Store ``value``; returns ``(digest, kind, size)``.

    The encoded bytes go to the blob store as the pieces the encoder wrote (a table's
    columns by reference), hashed while they are copied to the blob, never first
    gathered into one buffer: for 200 MB of floats 0.17-0.2 s against 0.3-0.6 s, most
    of the difference the page faults of 200 MB of fresh memory.

    Args:
        value: what a step returned.
        blobs: where it goes.
        where: the step, for messages ("step 'train'").

    Raises:
        InvalidInput: the value cannot be serialised (naming its type and the reason).
    """
    kind = value_kind(value)
    try:
        pieces = _encode(value, kind)
    except Exception as exc:
        raise InvalidInput(
            f"{where} returned a {type(value).__module__}.{type(value).__qualname__} that "
            f"cannot be stored ({type(exc).__name__}: {exc}); return tables, arrays or "
            "picklable objects."
        ) from exc
    ref = blobs.put_stream(cast("BinaryIO", pieces))
    return ref.digest, kind, ref.size


def load_value(digest: str, kind: str, blobs: BlobStore) -> Any:
    """Read back a value stored by :func:`save_value`.

    Raises:
        NotFound: the blob is gone.
        StoreError: the kind is unknown or the blob cannot be decoded.
    """
    if kind == "none":
        return None
    if kind in _TABLE_KINDS:
        data = _table_source(digest, blobs)
    else:
        from loopml.blobs import read_bytes

        data = read_bytes(blobs, digest)
    try:
        return _decode(data, kind)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"Cannot read step output {digest} ({kind}): {exc}.") from exc


def _encode(value: Any, kind: str) -> _Pieces:
    if kind in _TABLE_KINDS:
        return _encode_table(_as_arrow(value, kind))
    pieces = _Pieces()
    if kind == "numpy":
        import numpy as np

        np.save(pieces, value, allow_pickle=False)
    elif kind == "pickle":
        import cloudpickle

        pieces.write(cloudpickle.dumps(value, protocol=5))
    return pieces  # "none": nothing


def _as_arrow(value: Any, kind: str) -> Any:
    import pyarrow as pa

    if kind == "pandas":
        return pa.Table.from_pandas(value, preserve_index=True)
    if kind == "polars":
        return value.to_arrow()
    return value


def _encode_table(table: Any) -> _Pieces:
    """Arrow IPC for a table of numbers, Parquet otherwise (see the module docstring)."""
    import pyarrow as pa

    pieces = _Pieces()
    if all(_is_plain(field.type) for field in table.schema):
        with pa.ipc.new_file(pieces, table.schema) as writer:
            writer.write_table(table)  # the columns' buffers are handed over, not copied
        return pieces
    import pyarrow.parquet as pq  # ~0.03 s to import: only for tables that need it

    dictionary = [field.name for field in table.schema if not pa.types.is_floating(field.type)]
    pq.write_table(table, pieces, compression=_COMPRESSION, use_dictionary=dictionary)
    return pieces


def _is_plain(column_type: Any) -> bool:
    """A fixed-width column of numbers, booleans or times."""
    import pyarrow as pa

    return bool(
        pa.types.is_integer(column_type)
        or pa.types.is_floating(column_type)
        or pa.types.is_boolean(column_type)
        or pa.types.is_temporal(column_type)
    )


def _table_source(digest: str, blobs: BlobStore) -> ReadableBuffer:
    """The stored table's bytes. A blob that is a local file is memory-mapped: an IPC
    table is then read in place, a Parquet one parsed from the page cache. Other stores'
    blobs are read whole."""
    with blobs.open(digest) as stream:
        mapped = _mapped(stream)
        return mapped if mapped is not None else stream.read()


def _mapped(stream: Any) -> mmap.mmap | None:
    """A read-only map of the file behind ``stream``, or None when it has none.

    Blob files are never written again once stored (only replaced whole or unlinked,
    which leaves a map intact), so the map cannot lose its pages under the reader.
    """
    try:
        return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None  # not a file (a network stream), or an empty one


def _decode(data: ReadableBuffer, kind: str) -> Any:
    if kind in _TABLE_KINDS:
        return _decode_table(data, kind)
    if kind == "numpy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if kind == "pickle":
        import pickle

        return pickle.loads(data)
    raise StoreError(f"Unknown step output kind {kind!r}; upgrade loopml.")


def _decode_table(data: ReadableBuffer, kind: str) -> Any:
    import pyarrow as pa

    buffer = pa.py_buffer(data)
    if buffer[: len(_IPC_MAGIC)].to_pybytes() == _IPC_MAGIC:
        table = pa.ipc.open_file(buffer).read_all()  # the columns stay in ``data``
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(pa.BufferReader(buffer))
    if kind == "pandas":
        # A copy of its own, writable (with split_blocks=True the frame would keep the
        # mapped columns, 0.1-0.2 s faster for 200 MB, but refuse in-place assignment).
        return table.to_pandas()
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table


class _Pieces(io.RawIOBase):
    """Bytes kept as the buffers they were written in, then read in order.

    Encoders write into it (Arrow hands over its columns' buffers, which are kept by
    reference); the blob store then reads it like a file, in chunks, hashing as it
    copies. ``read`` returns at most ``size`` bytes, the last chunk short.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pieces: collections.deque[memoryview] = collections.deque()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")  # holds ``data``: no copy
        if view.nbytes:
            self._pieces.append(view)
        return view.nbytes

    def read(self, size: int | None = -1, /) -> bytes:
        left = sum(piece.nbytes for piece in self._pieces) if size is None or size < 0 else size
        parts = []
        while left and self._pieces:
            piece = self._pieces.popleft()
            if piece.nbytes > left:
                self._pieces.appendleft(piece[left:])
                piece = piece[:left]
            parts.append(piece)
            left -= piece.nbytes
        return b"".join(parts)
