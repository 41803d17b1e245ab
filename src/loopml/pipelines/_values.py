"""Step outputs as blobs: tables as Parquet, arrays as ``.npy``, anything else pickled.

Each stored value is a blob plus a *kind* that says how to read it back:

==========  ==========================================================
kind        stored as
==========  ==========================================================
``none``    nothing (the step returned None)
``pandas``  Parquet (pyarrow; the index is kept)
``polars``  Parquet
``arrow``   Parquet
``numpy``   ``.npy`` (numeric arrays; object arrays are pickled)
``pickle``  cloudpickle, for anything else (models, dicts, tuples...)
==========  ==========================================================

Model objects are pickled here; registering them as model packages (with signature and
flavor) is what ``log_model`` does inside a step.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, StoreError

if TYPE_CHECKING:
    from loopml.blobs import BlobStore

__all__ = ["load_value", "save_value", "value_kind"]

_PARQUET = {"compression": "lz4"}  # cheap to write and read; tables of floats barely shrink


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

    Args:
        value: what a step returned.
        blobs: where it goes.
        where: the step, for messages ("step 'train'").

    Raises:
        InvalidInput: the value cannot be serialised (naming its type and the reason).
    """
    from loopml.blobs import put_bytes

    kind = value_kind(value)
    try:
        data = _encode(value, kind)
    except Exception as exc:
        raise InvalidInput(
            f"{where} returned a {type(value).__module__}.{type(value).__qualname__} that "
            f"cannot be stored ({type(exc).__name__}: {exc}); return tables, arrays or "
            "picklable objects."
        ) from exc
    ref = put_bytes(blobs, data)
    return ref.digest, kind, ref.size


def load_value(digest: str, kind: str, blobs: BlobStore) -> Any:
    """Read back a value stored by :func:`save_value`.

    Raises:
        NotFound: the blob is gone.
        StoreError: the kind is unknown or the blob cannot be decoded.
    """
    if kind == "none":
        return None
    from loopml.blobs import read_bytes

    data = read_bytes(blobs, digest)
    try:
        return _decode(data, kind)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"Cannot read step output {digest} ({kind}): {exc}.") from exc


def _encode(value: Any, kind: str) -> bytes:
    if kind == "none":
        return b""
    if kind in ("pandas", "polars", "arrow"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        if kind == "pandas":
            table = pa.Table.from_pandas(value, preserve_index=True)
        elif kind == "polars":
            table = value.to_arrow()
        else:
            table = value
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **_PARQUET)
        return bytes(sink.getvalue())
    if kind == "numpy":
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return buffer.getvalue()
    import cloudpickle

    return bytes(cloudpickle.dumps(value, protocol=5))


def _decode(data: bytes, kind: str) -> Any:
    if kind in ("pandas", "polars", "arrow"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(pa.BufferReader(data))
        if kind == "pandas":
            return table.to_pandas()
        if kind == "polars":
            import polars as pl

            return pl.from_arrow(table)
        return table
    if kind == "numpy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if kind == "pickle":
        import pickle

        return pickle.loads(data)
    raise StoreError(f"Unknown step output kind {kind!r}; upgrade loopml.")
