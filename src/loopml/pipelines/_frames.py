"""Length-prefixed frames over pipes, between the step runner and its worker processes."""

from __future__ import annotations

import struct

__all__ = ["read_frame", "write_frame"]

_HEADER = struct.Struct(">Q")


def read_frame(stream: object) -> bytes | None:
    """One frame from a binary stream; None at a clean end of stream.

    Raises:
        EOFError: the stream ended inside a frame.
    """
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    body = _read_exactly(stream, length)
    if body is None:
        raise EOFError("the stream ended inside a frame")
    return body


def write_frame(stream: object, data: bytes) -> None:
    """Write one frame and flush it."""
    stream.write(_HEADER.pack(len(data)))  # type: ignore[attr-defined]
    stream.write(data)  # type: ignore[attr-defined]
    stream.flush()  # type: ignore[attr-defined]


def _read_exactly(stream: object, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)  # type: ignore[attr-defined]
        if not chunk:
            if left == size:
                return None
            raise EOFError("the stream ended inside a frame")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
