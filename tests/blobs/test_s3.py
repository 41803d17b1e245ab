"""S3BlobStore against moto's S3 server over real HTTP, plus its error translation."""

from __future__ import annotations

import io
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import blake3
import boto3
import pytest

from loopml.blobs import BlobRef, BlobStore, S3BlobStore
from loopml.errors import Conflict, StoreError, Unavailable
from loopml.testing.blobs import BlobStoreContract

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.s3

_MiB = 1 << 20


@pytest.fixture
def s3_store(moto_server: str, moto_bucket: str) -> S3BlobStore:
    """A store under a fresh prefix; parts of 5 MiB (S3's minimum) to test multipart."""
    return S3BlobStore(
        moto_bucket,
        f"tests/{uuid.uuid4().hex}",
        endpoint_url=moto_server,
        multipart_threshold=5 * _MiB,
        part_size=5 * _MiB,
    )


@pytest.fixture
def raw_client(moto_server: str) -> Iterator[S3Client]:
    """A plain boto3 client, to look at the bucket behind the store's back."""
    client = boto3.client("s3", endpoint_url=moto_server)
    yield client
    client.close()


class TestS3BlobStore(BlobStoreContract):
    @pytest.fixture
    def blob_store(self, s3_store: S3BlobStore) -> BlobStore:
        return s3_store


def _keys(client: S3Client, bucket: str, prefix: str) -> list[str]:
    page = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in page.get("Contents", []))


def _prefix(store: S3BlobStore) -> str:
    return store.uri.removeprefix(f"s3://{store.bucket}/")


def test_blobs_are_keyed_prefix_fan_out_digest(s3_store: S3BlobStore, raw_client: S3Client) -> None:
    ref = s3_store.put_stream(io.BytesIO(b"keyed"))
    prefix = _prefix(s3_store)
    expected = f"{prefix}/{ref.digest[:2]}/{ref.digest[2:]}"
    assert _keys(raw_client, s3_store.bucket, prefix) == [expected]


def test_uri_names_bucket_and_prefix(moto_server: str) -> None:
    store = S3BlobStore("bucket", "/team/models/", endpoint_url=moto_server)
    assert store.uri == "s3://bucket/team/models"
    assert S3BlobStore("bucket", endpoint_url=moto_server).uri == "s3://bucket"


def test_put_file_of_stored_content_uploads_nothing(
    s3_store: S3BlobStore, raw_client: S3Client, tmp_path: Path
) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"model")
    ref = s3_store.put_file(source)
    key = f"{_prefix(s3_store)}/{ref.digest[:2]}/{ref.digest[2:]}"
    raw_client.put_object(Bucket=s3_store.bucket, Key=key, Body=b"marker")
    s3_store.put_file(source)
    assert raw_client.get_object(Bucket=s3_store.bucket, Key=key)["Body"].read() == b"marker"


def test_put_stream_of_stored_content_skips_the_copy_and_drops_the_temp_key(
    s3_store: S3BlobStore, raw_client: S3Client
) -> None:
    ref = s3_store.put_stream(io.BytesIO(b"once"))
    key = f"{_prefix(s3_store)}/{ref.digest[:2]}/{ref.digest[2:]}"
    raw_client.put_object(Bucket=s3_store.bucket, Key=key, Body=b"marker")
    assert s3_store.put_stream(io.BytesIO(b"once")) == ref
    assert _keys(raw_client, s3_store.bucket, _prefix(s3_store)) == [key]
    assert raw_client.get_object(Bucket=s3_store.bucket, Key=key)["Body"].read() == b"marker"


def test_file_changed_during_upload_raises_conflict_and_stores_nothing(
    s3_store: S3BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "growing.log"
    source.write_bytes(b"new content")
    stale = BlobRef(blake3.blake3(b"old content").hexdigest(), 11)
    monkeypatch.setattr("loopml.blobs._s3.hash_file", lambda path: stale)
    with pytest.raises(Conflict, match="changed while it was being stored"):
        s3_store.put_file(source)
    assert list(s3_store.iter_digests()) == []


def test_sweep_temp_deletes_only_stale_temp_objects(
    s3_store: S3BlobStore, raw_client: S3Client
) -> None:
    stored = s3_store.put_stream(io.BytesIO(b"keep"))
    temp_key = f"{_prefix(s3_store)}/tmp/left-by-a-killed-writer"
    raw_client.put_object(Bucket=s3_store.bucket, Key=temp_key, Body=b"partial")
    assert s3_store.sweep_temp() == 0
    assert s3_store.sweep_temp(now=datetime.now(UTC) + timedelta(hours=2)) == 1
    assert list(s3_store.iter_digests()) == [stored.digest]
    assert temp_key not in _keys(raw_client, s3_store.bucket, _prefix(s3_store))


def test_missing_bucket_raises_store_error_naming_it(moto_server: str) -> None:
    store = S3BlobStore("no-such-bucket", endpoint_url=moto_server)
    with pytest.raises(StoreError, match="bucket 'no-such-bucket' does not exist"):
        store.put_stream(io.BytesIO(b"nowhere to go"))


@pytest.mark.parametrize(
    "operation",
    [
        lambda store: store.exists("a" * 64),
        lambda store: store.put_stream(io.BytesIO(b"x")),
        lambda store: store.open("a" * 64),
        lambda store: list(store.iter_digests()),
    ],
    ids=["exists", "put_stream", "open", "iter_digests"],
)
def test_unreachable_endpoint_raises_unavailable(
    aws_credentials: None, unreachable_endpoint: str, operation: Callable[[S3BlobStore], object]
) -> None:
    store = S3BlobStore(
        "bucket", endpoint_url=unreachable_endpoint, connect_timeout=1, max_attempts=1
    )
    with pytest.raises(Unavailable, match="cannot be reached"):
        operation(store)


def test_missing_boto3_raises_store_error_with_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(StoreError, match=r"pip install 'loopml\[s3\]'"):
        S3BlobStore("bucket")
