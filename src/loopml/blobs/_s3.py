"""The S3 adapter of the blob store: objects ``prefix/ab/cdef...`` in one bucket.

Works with AWS S3 and S3-compatible stores (MinIO, Ceph, moto). Uploads go through
boto3's managed transfer (multipart, parallel parts, bounded memory). A multipart upload
only becomes visible when it completes, and streams of unknown content are uploaded to
``prefix/tmp/<uuid>`` first, then copied server-side to their digest key: no reader ever
sees partial content under a digest key. Orphans under ``prefix/tmp/`` (a writer killed
between upload and copy) are removed by :meth:`S3BlobStore.sweep_temp` or by a bucket
lifecycle rule on that prefix.

botocore exceptions never leave this module: every call to S3 runs inside
:func:`translated`, which maps them to loopml's errors by cause. A lost connection is
``Unavailable`` (retrying later may work), a missing object ``NotFound``, a missing
bucket, refused credentials or any other refusal a ``StoreError`` saying what to fix.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

from loopml.blobs._atomic import download
from loopml.blobs._batch import BlobBatch, StreamBatch
from loopml.blobs._hashing import (
    CHUNK_SIZE,
    HashingReader,
    check_digest,
    hash_file,
    is_digest,
    open_source,
)
from loopml.blobs._port import BlobRef
from loopml.errors import (
    Conflict,
    InvalidInput,
    LoopmlError,
    NotFound,
    StoreError,
    Unavailable,
)

if TYPE_CHECKING:
    from types import ModuleType

    from _typeshed import WriteableBuffer
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from botocore.loaders import Loader
    from botocore.response import StreamingBody
    from botocore.session import Session as BotocoreSession
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

    from loopml.config import Settings

__all__ = ["S3BlobStore", "s3_store_from_uri"]

_TEMP_DIR = "tmp"
_MiB = 1 << 20
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_DENIED_CODES = frozenset({"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"})
_BUSY_CODES = frozenset({"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError"})
_INSTALL_HINT = "The S3 blob store needs boto3; install it with: pip install 'loopml[s3]'"


@dataclass(frozen=True, slots=True)
class S3Location:
    """Where an S3 blob store lives, as error messages name it."""

    bucket: str
    prefix: str
    endpoint_url: str | None

    @property
    def uri(self) -> str:
        """``s3://bucket/prefix`` (``s3://bucket`` without a prefix)."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


class S3BlobStore:
    """Blobs as objects in an S3 bucket, named by their BLAKE3 digest.

    Credentials come from boto3's standard chain (environment, ``~/.aws``, instance
    role); nothing here reads or stores them.

    Args:
        bucket: the bucket; it must exist.
        prefix: the key prefix under which blobs live (``""`` for the bucket root).
        endpoint_url: an S3-compatible endpoint (``http://127.0.0.1:9000``); AWS when
            not given.
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds to wait for a response.
        max_attempts: attempts per request, retries included.
        multipart_threshold: size from which uploads and copies go in parts.
        part_size: size of each part (S3 requires at least 5 MiB).

    Raises:
        InvalidInput: ``bucket`` is empty.
        StoreError: boto3 is not installed.

    Example:
        >>> store = S3BlobStore("ml-artifacts", "team-a")
        >>> ref = store.put_file(Path("model.pkl"))
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
        multipart_threshold: int = 8 * _MiB,
        part_size: int = 8 * _MiB,
    ) -> None:
        if not bucket:
            raise InvalidInput("S3 bucket name is empty; expected s3://bucket[/prefix].")
        self._where = S3Location(bucket, prefix.strip("/"), endpoint_url)
        self._bucket = bucket
        self._prefix = self._where.prefix
        boto3, config_cls, transfer_cls = _import_boto3()
        config = config_cls(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            # S3-compatible servers behind a custom endpoint rarely have per-bucket DNS.
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        try:
            with translated(self._where, "connect to"):
                session = boto3.session.Session(botocore_session=_new_botocore_session())
                self._client: S3Client = session.client(
                    "s3", endpoint_url=endpoint_url, config=config
                )
        except ValueError as exc:  # botocore's verdict on a malformed endpoint URL
            raise InvalidInput(
                f"Invalid S3 endpoint URL {endpoint_url!r}: {exc}; expected http(s)://host:port."
            ) from exc
        self._transfer = transfer_cls(
            multipart_threshold=multipart_threshold, multipart_chunksize=part_size
        )

    def __repr__(self) -> str:
        return f"S3BlobStore({self.uri!r}, endpoint_url={self.endpoint_url!r})"

    @property
    def uri(self) -> str:
        """``s3://bucket/prefix``."""
        return self._where.uri

    @property
    def bucket(self) -> str:
        """The bucket holding the blobs."""
        return self._bucket

    @property
    def endpoint_url(self) -> str | None:
        """The S3-compatible endpoint, or None for AWS."""
        return self._where.endpoint_url

    def put_file(self, path: Path) -> BlobRef:
        """Store a local file: hash it, skip the upload if stored, else upload it.

        Raises:
            NotFound: ``path`` does not exist.
            InvalidInput: ``path`` is a directory.
            Conflict: the file changed while it was uploaded.
            Unavailable: the endpoint cannot be reached.
            StoreError: S3 refused the request.
        """
        known = hash_file(Path(path))
        if self.exists(known.digest):
            return known
        with open_source(Path(path)) as source:
            uploaded = self._upload(source, self._key(known.digest))
        if uploaded != known:
            self.delete(known.digest)
            raise Conflict(
                f"File {str(path)!r} changed while it was being stored; store it again once "
                "nothing writes to it."
            )
        return known

    def put_stream(self, stream: BinaryIO) -> BlobRef:
        """Store a stream: upload it to a temp key while hashing, then copy to its digest key.

        The server-side copy is skipped when the digest is stored already; the temp key
        is deleted either way.

        Raises:
            Unavailable: the endpoint cannot be reached.
            StoreError: S3 refused the request.
            TypeError: ``stream`` is a text stream.
        """
        temp = self._key_under(f"{_TEMP_DIR}/{uuid.uuid4().hex}")
        ref = self._upload(stream, temp)
        try:
            if not self.exists(ref.digest):
                source: CopySourceTypeDef = {"Bucket": self._bucket, "Key": temp}
                with translated(self._where, "copy"):
                    self._client.copy(
                        source, self._bucket, self._key(ref.digest), Config=self._transfer
                    )
        finally:
            # Best effort: the blob is safe either way, and sweep_temp removes leftovers.
            with suppress(LoopmlError), translated(self._where, "delete"):
                self._client.delete_object(Bucket=self._bucket, Key=temp)
        return ref

    def batch(self) -> BlobBatch:
        """A batch whose puts are ordinary uploads, each durable when it returns."""
        return StreamBatch(self)

    def open(self, digest: str) -> io.BufferedReader:
        """Open a stored blob for streaming reads; use it as a context manager.

        Raises:
            InvalidInput: ``digest`` is malformed.
            NotFound: no blob with this digest is stored.
            Unavailable: the endpoint cannot be reached (also while reading).
            StoreError: S3 refused the request.
        """
        key = self._key(digest)
        with translated(self._where, "read", digest):
            body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
        return io.BufferedReader(_BodyReader(body, self._where), CHUNK_SIZE)

    def get_file(self, digest: str, dest: Path) -> None:
        """Download a blob to ``dest`` atomically (temp file beside it, then rename).

        Raises:
            InvalidInput: ``digest`` is malformed.
            NotFound: no blob with this digest is stored.
            StoreError: the download or the local write fails.
        """
        with self.open(digest) as source:
            download(source, Path(dest), digest=digest, origin=self.uri)

    def exists(self, digest: str) -> bool:
        """Whether a blob with this digest is stored (one HEAD request)."""
        try:
            self.size(digest)
        except NotFound:
            return False
        return True

    def size(self, digest: str) -> int:
        """The stored blob's size in bytes (one HEAD request).

        Raises:
            InvalidInput: ``digest`` is malformed.
            NotFound: no blob with this digest is stored.
        """
        key = self._key(digest)
        with translated(self._where, "inspect", digest):
            return self._client.head_object(Bucket=self._bucket, Key=key)["ContentLength"]

    def delete(self, digest: str) -> None:
        """Remove a blob; removing an absent blob is not an error (S3 deletes are idempotent)."""
        key = self._key(digest)
        with translated(self._where, "delete", digest):
            self._client.delete_object(Bucket=self._bucket, Key=key)

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest, listed page by page; temp objects are skipped."""
        skip = len(self._key_under(""))
        for key, _ in self._list(self._key_under("")):
            name = key[skip:]
            if len(name) == 65 and name[2] == "/" and is_digest(name[:2] + name[3:]):
                yield name[:2] + name[3:]

    def sweep_temp(self, max_age: float = 3600.0, *, now: datetime | None = None) -> int:
        """Delete temp objects older than ``max_age`` seconds left by killed writers.

        Returns:
            How many temp objects were deleted.
        """
        cutoff = (now or datetime.now(UTC)) - timedelta(seconds=max_age)
        stale = [
            key
            for key, modified in self._list(self._key_under(f"{_TEMP_DIR}/"))
            if modified < cutoff
        ]
        for key in stale:
            with translated(self._where, "delete"):
                self._client.delete_object(Bucket=self._bucket, Key=key)
        return len(stale)

    def _list(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        )
        with translated(self._where, "list"):
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"]

    def _upload(self, stream: BinaryIO, key: str) -> BlobRef:
        # Non-seekable on purpose: boto3 then reads the stream once, in order, which is
        # what the running hash needs; the parts still upload in parallel.
        reader = HashingReader(stream)
        with translated(self._where, "upload"):
            self._client.upload_fileobj(
                io.BufferedReader(reader, CHUNK_SIZE), self._bucket, key, Config=self._transfer
            )
        return reader.ref()

    def _key(self, digest: str) -> str:
        check_digest(digest)
        return self._key_under(f"{digest[:2]}/{digest[2:]}")

    def _key_under(self, name: str) -> str:
        return f"{self._prefix}/{name}" if self._prefix else name


def s3_store_from_uri(uri: str, settings: Settings | None) -> S3BlobStore:
    """Build an :class:`S3BlobStore` from ``s3://bucket/prefix``.

    Args:
        uri: the bucket and optional key prefix.
        settings: supplies ``s3_endpoint_url`` for S3-compatible stores; AWS when absent.

    Returns:
        The store.

    Raises:
        InvalidInput: the URI has no bucket.
        StoreError: boto3 is not installed.
    """
    parts = urlsplit(uri)
    if not parts.netloc:
        raise InvalidInput(f"Blob URI {uri!r} has no bucket; expected s3://bucket[/prefix].")
    endpoint = settings.s3_endpoint_url if settings is not None else None
    return S3BlobStore(parts.netloc, parts.path, endpoint_url=endpoint)


class _BodyReader(io.RawIOBase):
    """An S3 response body as a raw stream whose errors are loopml's."""

    def __init__(self, body: StreamingBody, where: S3Location) -> None:
        super().__init__()
        self._body = body
        self._where = where

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        with translated(self._where, "read"):
            chunk = self._body.read(len(target))
        target[: len(chunk)] = chunk
        return len(chunk)

    def readall(self) -> bytes:
        # The base class would loop over 8 KiB reads; one body read is far faster.
        with translated(self._where, "read"):
            return self._body.read()

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _import_boto3() -> tuple[ModuleType, type[Config], type[TransferConfig]]:
    # boto3 is the optional extra loopml[s3] and takes ~0.3 s to import: importing it
    # only when an S3 store is built keeps `import loopml` fast and working without it.
    try:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config
    except ImportError as exc:
        raise StoreError(f"{_INSTALL_HINT} ({exc}).") from exc
    return boto3, Config, TransferConfig


@cache
def _shared_loader() -> Loader:
    # Parsing the S3 service model costs ~65 ms per session; the loader only caches
    # those read-only files, so one per process is safe (credentials stay per session).
    from botocore.loaders import create_loader

    return create_loader()


def _new_botocore_session() -> BotocoreSession:
    from botocore.session import Session

    session = Session()
    session.register_component("data_loader", _shared_loader())
    return session


@contextmanager
def translated(where: S3Location, action: str, digest: str | None = None) -> Iterator[None]:
    """Raise loopml errors in place of botocore and boto3 exceptions from the block.

    Args:
        where: the store, named in messages.
        action: what the block does, as a verb (``"upload"``, ``"read"``).
        digest: the blob concerned, if any; a missing object is :class:`NotFound` only
            when a blob is named.

    Raises:
        NotFound: the named blob does not exist.
        Unavailable: the endpoint cannot be reached or is overloaded.
        StoreError: any other failure (missing bucket, credentials, refusals).
    """
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except LoopmlError:
        raise
    except ClientError as exc:
        raise _from_client_error(exc, where, action, digest) from exc
    except (BotoCoreError, Boto3Error) as exc:
        raise _from_botocore_error(exc, where, action) from exc


def _from_client_error(
    exc: ClientError, where: S3Location, action: str, digest: str | None
) -> LoopmlError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    what = f"{action} blob {digest} in {where.uri}" if digest else f"{action} {where.uri}"
    if code == "NoSuchBucket":
        return StoreError(
            f"Cannot {what}: bucket {where.bucket!r} does not exist; create it or point "
            "the blob URI at an existing bucket."
        )
    if code in _MISSING_CODES and digest is not None:
        return NotFound(f"Blob {digest} not found in {where.uri}.")
    if code in _DENIED_CODES:
        return StoreError(f"Cannot {what}: access denied ({code}); check the AWS credentials.")
    if code in _BUSY_CODES or status >= 500:
        return Unavailable(
            f"Cannot {what}: the object store is busy or failing ({code}); retry later."
        )
    message = error.get("Message", "")
    return StoreError(f"Cannot {what}: {code or status} {message}".rstrip() + ".")


def _from_botocore_error(exc: Exception, where: S3Location, action: str) -> LoopmlError:
    from botocore.exceptions import (
        ConnectionError,
        HTTPClientError,
        IncompleteReadError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, ConnectionError | HTTPClientError | IncompleteReadError):
        endpoint = where.endpoint_url or "of AWS"
        return Unavailable(
            f"Cannot {action} {where.uri}: the S3 endpoint {endpoint} cannot be reached "
            f"({exc}). Check that it is running and reachable, then retry."
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StoreError(
            f"Cannot {action} {where.uri}: no usable AWS credentials ({exc}). Set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or configure an AWS profile."
        )
    return StoreError(f"Cannot {action} {where.uri}: {exc}.")
