"""The BlobStore port over HTTP: blobs kept by a loopml server.

Uploads stream the file or stream in chunks (never the whole content in memory) and the
server computes the digest. ``put_file`` hashes the file locally first and skips the
upload when the server has the content already. Downloads stream, and ``get_file``
checks the digest before the file gets its final name.

This adapter is one of the blob store's (``loopml.blobs`` maps ``http(s)://`` here); it
lives beside the other REST adapters to share their transport, and uses the blob
package's digest and atomic-write helpers so that every adapter checks and writes alike.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from loopml.blobs import BlobRef, check_digest, download, hash_file, iter_chunks, open_source
from loopml.blobs._batch import BlobBatch, StreamBatch
from loopml.errors import NotFound
from loopml.store.rest._http import HttpTransport
from loopml.store.rest.schemas import BlobRefBody

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["RestBlobStore"]


class RestBlobStore:
    """Blobs stored by the loopml server at ``uri``.

    Args:
        uri: ``http(s)://host:port`` of the server.
        settings: the HTTP timeout and token to use; defaults when not given.
        transport: a transport to share with the other REST adapters (then ``uri`` and
            ``settings`` only name the store, and :meth:`close` leaves it open).

    Example:
        >>> store = RestBlobStore("http://127.0.0.1:8476")
        >>> ref = store.put_file(Path("model.pkl"))
        >>> store.get_file(ref.digest, Path("copy.pkl"))
    """

    def __init__(
        self,
        uri: str,
        settings: Settings | None = None,
        *,
        transport: HttpTransport | None = None,
    ) -> None:
        self._uri = uri.rstrip("/")
        self._owns_transport = transport is None
        self._http = transport or HttpTransport.from_settings(uri, settings)

    def __repr__(self) -> str:
        return f"RestBlobStore({self._uri!r})"

    @property
    def uri(self) -> str:
        """The server's URI."""
        return self._uri

    def close(self) -> None:
        """Release the connections, unless the transport is shared."""
        if self._owns_transport:
            self._http.close()

    def put_file(self, path: Path) -> BlobRef:
        """Store a local file; nothing is sent when the server has its content already.

        Raises:
            NotFound: ``path`` does not exist.
            InvalidInput: ``path`` is a directory.
            StoreError: the file cannot be read, or the server cannot store it.
            Unavailable: the server cannot be reached.
        """
        path = Path(path)
        known = hash_file(path)
        if self.exists(known.digest):
            return known

        def chunks() -> Iterator[bytes]:
            with open_source(path) as source:
                yield from iter_chunks(source)

        return self._upload(chunks, replayable=True)

    def put_stream(self, stream: BinaryIO) -> BlobRef:
        """Store everything readable from ``stream``, sent in chunks as it is read.

        Raises:
            TypeError: ``stream`` is a text stream.
            StoreError: the server cannot store it.
            Unavailable: the server cannot be reached (the stream cannot be replayed,
                so a dropped upload is not retried).
        """
        chunks = iter_chunks(stream)
        first = next(chunks, b"")  # a text stream fails here, before anything is sent

        def content() -> Iterator[bytes]:
            yield first
            yield from chunks

        body = content()
        return self._upload(lambda: body, replayable=False)

    def batch(self) -> BlobBatch:
        """A batch whose puts are ordinary uploads, each durable when it returns."""
        return StreamBatch(self)

    def open(self, digest: str) -> io.BufferedReader:
        """Open a stored blob for streaming reads; use it as a context manager.

        Raises:
            InvalidInput: ``digest`` is malformed.
            NotFound: no blob with this digest is stored.
            Unavailable: the server cannot be reached, or the connection drops mid-read.
        """
        return self._http.open_stream(f"/blobs/{check_digest(digest)}")

    def get_file(self, digest: str, dest: Path) -> None:
        """Download a blob to ``dest`` atomically, checking its digest before the rename.

        Raises:
            InvalidInput: ``digest`` is malformed.
            NotFound: no blob with this digest is stored.
            StoreError: the download does not hash to ``digest`` or cannot be written
                (``dest`` is left untouched).
            Unavailable: the server cannot be reached.
        """
        with self.open(digest) as source:
            download(source, Path(dest), digest=digest, origin=self._uri)

    def exists(self, digest: str) -> bool:
        """Whether the server stores a blob with this digest. Raises InvalidInput."""
        try:
            self._head(digest)
        except NotFound:
            return False
        return True

    def size(self, digest: str) -> int:
        """The stored blob's size in bytes. Raises InvalidInput, NotFound."""
        try:
            return self._head(digest)
        except NotFound:
            raise NotFound(f"Blob {digest} not found in {self._uri}.") from None

    def delete(self, digest: str) -> None:
        """Remove a blob; removing an absent blob is not an error. Raises InvalidInput."""
        self._http.call("DELETE", f"/blobs/{check_digest(digest)}", idempotent=True)

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest, streamed from the server one line at a time."""
        with self._http.open_stream("/blobs") as lines:
            for line in lines:
                if digest := line.strip():
                    yield digest.decode("ascii")

    def _head(self, digest: str) -> int:
        response = self._http.call("HEAD", f"/blobs/{check_digest(digest)}", idempotent=True)
        return int(response.headers["content-length"])

    def _upload(self, content: Callable[[], Iterable[bytes]], *, replayable: bool) -> BlobRef:
        reply = self._http.upload(BlobRefBody, "/blobs", content, replayable=replayable)
        return BlobRef(reply.digest, reply.size)
