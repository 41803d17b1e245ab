"""Routes of the blob store: streaming upload, streaming download, HEAD, DELETE, list.

No blob ever sits whole in memory. An upload is written, as it arrives, to a temp file
under ``HOME/tmp/uploads`` (never ``/tmp``, which may be a RAM disk), then handed to the
blob store, which computes the digest; the temp file is removed whatever happens. A
download streams the stored file in chunks.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from loopml.blobs import BlobStore
from loopml.errors import InvalidInput
from loopml.server._deps import StoresDep, reply
from loopml.store.rest.schemas import BlobRefBody

__all__ = ["UPLOAD_DIR", "router", "sweep_uploads"]

UPLOAD_DIR = Path("tmp") / "uploads"
"""Where uploads are spooled, relative to the server's project home."""

_CHUNK = 1 << 20
_DIGESTS_PER_CHUNK = 1000
_STALE_UPLOAD_S = 3600.0
_OCTETS = "application/octet-stream"
_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {_OCTETS: {"schema": {"type": "string", "format": "binary"}}},
    }
}

router = APIRouter(tags=["blobs"])


@router.put("/blobs", response_model=BlobRefBody, openapi_extra=_BINARY_BODY)
async def put_blob(request: Request, stores: StoresDep) -> Response:
    """Store the request body (sent raw, any length); the server computes its BLAKE3
    digest. Storing content that is stored already stores nothing new."""
    temp = await _spool(request, request.app.state.upload_dir)
    try:
        ref = await run_in_threadpool(stores.blobs.put_file, temp)
    finally:
        temp.unlink(missing_ok=True)
    return reply(BlobRefBody(digest=ref.digest, size=ref.size))


@router.get("/blobs")
def list_blobs(stores: StoresDep) -> StreamingResponse:
    """Every stored digest, one per line (text/plain), streamed."""
    return StreamingResponse(_digest_lines(stores.blobs), media_type="text/plain")


@router.head("/blobs/{digest}")
def head_blob(digest: str, stores: StoresDep) -> Response:
    """200 with the blob's size as Content-Length, 404 when it is not stored."""
    return Response(headers={"Content-Length": str(stores.blobs.size(digest))})


@router.get("/blobs/{digest}", response_class=StreamingResponse)
def get_blob(digest: str, stores: StoresDep) -> StreamingResponse:
    """The blob's content, streamed; 404 when it is not stored."""
    size = stores.blobs.size(digest)
    opened = contextlib.ExitStack()
    stream = opened.enter_context(stores.blobs.open(digest))
    return StreamingResponse(
        _chunks(opened, stream), media_type=_OCTETS, headers={"Content-Length": str(size)}
    )


@router.delete("/blobs/{digest}", status_code=204)
def delete_blob(digest: str, stores: StoresDep) -> Response:
    """Remove a blob; removing an absent blob is not an error."""
    stores.blobs.delete(digest)
    return Response(status_code=204)


def sweep_uploads(folder: Path, max_age: float = _STALE_UPLOAD_S) -> int:
    """Remove upload temp files older than ``max_age`` seconds (left by a killed
    server); returns how many. Younger ones may belong to another worker's upload."""
    cutoff = time.time() - max_age
    removed = 0
    for entry in folder.glob("*.part") if folder.is_dir() else ():
        try:
            if entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


async def _spool(request: Request, folder: Path) -> Path:
    """Write the request body to a new temp file in ``folder``, a chunk at a time."""
    await run_in_threadpool(folder.mkdir, parents=True, exist_ok=True)
    temp = folder / f"{secrets.token_hex(16)}.part"
    out: BinaryIO = await run_in_threadpool(open, temp, "xb")
    try:
        pending = bytearray()
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= _CHUNK:
                await run_in_threadpool(out.write, pending)
                pending = bytearray()
        await run_in_threadpool(_finish, out, pending)
    except ClientDisconnect:
        _discard(out, temp)
        raise InvalidInput("The upload was cut off before its end; nothing was stored.") from None
    except BaseException:
        _discard(out, temp)
        raise
    return temp


def _finish(out: BinaryIO, pending: bytearray) -> None:
    with out:
        out.write(pending)


def _discard(out: BinaryIO, temp: Path) -> None:
    out.close()
    temp.unlink(missing_ok=True)


def _chunks(opened: contextlib.ExitStack, stream: BinaryIO) -> Iterator[bytes]:
    # Iterated in the thread pool by StreamingResponse; closes the blob at the end, or
    # when the generator is discarded because the client went away.
    with opened:
        while chunk := stream.read(_CHUNK):
            yield chunk


def _digest_lines(blobs: BlobStore) -> Iterator[str]:
    lines: list[str] = []
    for digest in blobs.iter_digests():
        lines.append(f"{digest}\n")
        if len(lines) >= _DIGESTS_PER_CHUNK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)
