"""Content-addressed blob storage: artifacts, models and dataset files by BLAKE3 digest.

One port, :class:`BlobStore`, and its adapters, chosen by URI with
:func:`open_blob_store`: a local folder (:class:`LocalBlobStore`), S3 or an
S3-compatible store (:class:`S3BlobStore`, needs ``loopml[s3]``), or a loopml server.

Example:
    >>> store = open_blob_store("file:///tmp/blobs")
    >>> ref = put_bytes(store, b"hello")
    >>> read_bytes(store, ref.digest)
    b'hello'
"""

from __future__ import annotations

import io

from loopml.blobs._atomic import download
from loopml.blobs._batch import BlobBatch
from loopml.blobs._hashing import check_digest, hash_file, iter_chunks, open_source
from loopml.blobs._local import LocalBlobStore
from loopml.blobs._port import BlobRef, BlobStore
from loopml.blobs._registry import open_blob_store

# Importing the class is cheap: boto3 itself is imported only when an S3BlobStore is built.
from loopml.blobs._s3 import S3BlobStore

__all__ = [
    "BlobBatch",
    "BlobRef",
    "BlobStore",
    "LocalBlobStore",
    "S3BlobStore",
    "check_digest",
    "download",
    "hash_file",
    "iter_chunks",
    "open_blob_store",
    "open_source",
    "put_bytes",
    "read_bytes",
]


def put_bytes(store: BlobStore, data: bytes) -> BlobRef:
    """Store ``data`` and return its reference.

    Args:
        store: any blob store.
        data: the content; for large content prefer ``store.put_file``/``put_stream``.

    Returns:
        The reference of the stored content.

    Raises:
        StoreError: the store cannot be written.
        Unavailable: a remote store cannot be reached.

    Example:
        >>> ref = put_bytes(store, b'{"threshold": 0.5}')
    """
    return store.put_stream(io.BytesIO(data))


def read_bytes(store: BlobStore, digest: str) -> bytes:
    """Read a whole blob into memory; for large blobs prefer ``store.open``.

    Args:
        store: any blob store.
        digest: the blob's BLAKE3 digest.

    Returns:
        The blob's content.

    Raises:
        InvalidInput: ``digest`` is malformed.
        NotFound: no blob with this digest is stored.
        Unavailable: a remote store cannot be reached.

    Example:
        >>> read_bytes(store, ref.digest)
        b'{"threshold": 0.5}'
    """
    with store.open(digest) as stream:
        return stream.read()
