"""open_blob_store: the adapter is chosen by URI scheme, and the package's public face."""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

import loopml.blobs
from loopml.blobs import (
    LocalBlobStore,
    S3BlobStore,
    _registry,
    open_blob_store,
    put_bytes,
    read_bytes,
)
from loopml.config import Settings, load_settings
from loopml.errors import InvalidInput, StoreError


def test_bare_absolute_path_opens_a_local_store(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "blobs"))
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "blobs"


@pytest.mark.parametrize(
    "make_uri",
    [lambda p: p.as_uri(), lambda p: "file://localhost" + str(p)],
    ids=["file-uri", "file-uri-localhost"],
)
def test_file_uri_opens_a_local_store(tmp_path: Path, make_uri: Callable[[Path], str]) -> None:
    root = tmp_path / "with space" / "blobs"
    store = open_blob_store(make_uri(root))
    assert isinstance(store, LocalBlobStore)
    assert store.root == root
    assert read_bytes(store, put_bytes(store, b"works").digest) == b"works"


def test_default_settings_blob_uri_opens_a_local_store(settings: Settings) -> None:
    store = open_blob_store(settings.blob_uri, settings)
    assert isinstance(store, LocalBlobStore)
    assert store.root == settings.home / "blobs"


def test_s3_uri_builds_an_s3_store_with_the_settings_endpoint(
    home: Path, aws_credentials: None
) -> None:
    settings = load_settings({"home": home, "s3_endpoint_url": "http://127.0.0.1:9000"}, environ={})
    store = open_blob_store("s3://models/team/a/", settings)
    assert isinstance(store, S3BlobStore)
    assert (store.uri, store.endpoint_url) == ("s3://models/team/a", "http://127.0.0.1:9000")


def test_s3_uri_without_settings_targets_aws(aws_credentials: None) -> None:
    store = open_blob_store("s3://models")
    assert isinstance(store, S3BlobStore)
    assert (store.uri, store.endpoint_url) == ("s3://models", None)


def test_unknown_scheme_lists_the_known_schemes() -> None:
    with pytest.raises(InvalidInput, match="'ftp'") as caught:
        open_blob_store("ftp://example.com/blobs")
    assert "known schemes: file, http, https, s3" in str(caught.value)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("", "empty"),
        ("relative/blobs", "no scheme and is not an absolute path"),
        ("file://fileserver/blobs", "names host 'fileserver'"),
        ("file:relative", "not an absolute path"),
        ("s3:///prefix-without-bucket", "has no bucket"),
    ],
    ids=["empty", "relative-path", "remote-file-host", "relative-file-uri", "s3-no-bucket"],
)
def test_malformed_uri_raises_invalid_input(uri: str, expected: str) -> None:
    with pytest.raises(InvalidInput, match=expected):
        open_blob_store(uri)


def test_missing_boto3_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(StoreError, match=r"pip install 'loopml\[s3\]'"):
        open_blob_store("s3://models")


def test_adapter_import_failure_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    adapter = _registry._Adapter("loopml_missing_dependency_for_test:factory", "s3")
    monkeypatch.setitem(_registry._ADAPTERS, "s3", adapter)
    with pytest.raises(StoreError, match=r"pip install 'loopml\[s3\]'"):
        open_blob_store("s3://models")


def test_public_api_is_sorted_and_complete() -> None:
    public = {
        name
        for name, value in vars(loopml.blobs).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}
    assert loopml.blobs.__all__ == sorted(loopml.blobs.__all__)
    assert set(loopml.blobs.__all__) == public


def test_importing_loopml_blobs_does_not_import_boto3() -> None:
    code = "import sys, loopml.blobs; sys.exit('boto3' in sys.modules or 'botocore' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
