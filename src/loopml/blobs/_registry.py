"""Choosing a blob store adapter by URI scheme.

One table maps each scheme to a ``"module:factory"`` string and the extra that
provides its dependencies. Modules are imported only when their scheme is used, so a
missing optional dependency affects only the schemes that need it, and reports which
``pip install 'loopml[...]'`` fixes it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple, cast
from urllib.parse import urlsplit

from loopml.errors import InvalidInput, StoreError

if TYPE_CHECKING:
    from collections.abc import Callable

    from loopml.blobs._port import BlobStore
    from loopml.config import Settings

    BlobStoreFactory = Callable[[str, Settings | None], BlobStore]

__all__ = ["open_blob_store"]


class _Adapter(NamedTuple):
    target: str
    """``"module:factory"``; the factory is called as ``factory(uri, settings)``."""
    extra: str | None
    """The ``loopml[...]`` extra providing the adapter's dependencies, if any."""


_ADAPTERS: dict[str, _Adapter] = {
    "file": _Adapter("loopml.blobs._local:local_store_from_uri", None),
    "s3": _Adapter("loopml.blobs._s3:s3_store_from_uri", "s3"),
    "http": _Adapter("loopml.store.rest.blobs:RestBlobStore", None),
    "https": _Adapter("loopml.store.rest.blobs:RestBlobStore", None),
}


def open_blob_store(uri: str, settings: Settings | None = None) -> BlobStore:
    """Open the blob store at ``uri``, choosing the adapter by its scheme.

    Args:
        uri: ``file:///abs/path`` or a bare absolute path (local folder),
            ``s3://bucket/prefix`` (S3 or compatible), ``http(s)://host:port``
            (a loopml server).
        settings: passed to the adapter; S3 takes ``s3_endpoint_url`` from it.

    Returns:
        The store.

    Raises:
        InvalidInput: the scheme is unknown or the URI is malformed.
        StoreError: the adapter's optional dependencies are not installed.

    Example:
        >>> store = open_blob_store(settings.blob_uri, settings)
    """
    scheme = _scheme_of(uri)
    adapter = _ADAPTERS.get(scheme)
    if adapter is None:
        known = ", ".join(sorted(_ADAPTERS))
        raise InvalidInput(
            f"Unknown blob store scheme {scheme!r} in {uri!r}; known schemes: {known} "
            "(or an absolute path)."
        )
    try:
        return _load(adapter.target)(uri, settings)
    except ImportError as exc:
        raise _missing_dependency(scheme, adapter, exc) from exc


def _scheme_of(uri: str) -> str:
    if not uri:
        raise InvalidInput(
            "Blob URI is empty; expected an absolute path, file://, s3:// or http(s)://."
        )
    if uri.startswith("/"):
        return "file"
    scheme = urlsplit(uri).scheme.lower()
    if not scheme:
        raise InvalidInput(
            f"Blob URI {uri!r} has no scheme and is not an absolute path; "
            "use /absolute/path, file:///absolute/path, s3://bucket/prefix or http(s)://host."
        )
    return scheme


def _load(target: str) -> BlobStoreFactory:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return cast("BlobStoreFactory", getattr(module, attribute))


def _missing_dependency(scheme: str, adapter: _Adapter, exc: ImportError) -> StoreError:
    missing = exc.name or "a module"
    is_ours = missing == "loopml" or missing.startswith("loopml.")
    if adapter.extra is not None and not is_ours:
        return StoreError(
            f"The {scheme}:// blob store needs {missing}, which is not installed; "
            f"install it with: pip install 'loopml[{adapter.extra}]'"
        )
    return StoreError(
        f"The {scheme}:// blob store adapter {adapter.target} cannot be imported ({exc}); "
        "reinstall loopml."
    )
