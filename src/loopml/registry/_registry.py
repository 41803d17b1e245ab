"""The model registry client: register packages, load them verified, move aliases.

Every verb goes through the registry ports of one tracking :class:`~loopml.Client`, so
the same code works on the embedded SQLite store, PostgreSQL and a remote server.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from loopml.domain import (
    AliasMove,
    ApprovalRequest,
    ApprovalStatus,
    LineageGraph,
    ModelUpdate,
    ModelVersion,
    RegisteredModel,
    VersionDraft,
    VersionStatus,
    VersionUpdate,
)
from loopml.domain.names import check_model_name
from loopml.domain.sentinel import NOT_GIVEN, NotGiven
from loopml.errors import InvalidInput, NotFound, StoreError
from loopml.registry._package import MANIFEST_NAME, Manifest, load_package, write_package
from loopml.registry._uris import LATEST, ModelRef, parse_model_uri

if TYPE_CHECKING:
    from loopml.blobs import BlobStore
    from loopml.registry._model import PackagedModel
    from loopml.registry._signature import Signature
    from loopml.tracking import Client

__all__ = ["INPUT_MODEL_TAG", "ModelRegistry"]

log = logging.getLogger(__name__)

# A run that loaded a model version is tagged ``loopml.input_model:NAME = VERSION``; a
# version logged by that run lists it as a parent.
INPUT_MODEL_TAG = "loopml.input_model:"


class ModelRegistry:
    """Registered models, versions, aliases and approvals over one tracking client.

    Args:
        client: the tracking client whose stores hold the registry; the default client
            of the fluent API when not given.

    Example:
        >>> registry = ModelRegistry()
        >>> version = registry.log_model(model, "churn", input_example=X.head())
        >>> registry.set_alias("churn", "champion", version.version, reason="AUC 0.91")
        >>> registry.load_model("churn@champion").predict(X)
    """

    def __init__(self, client: Client | None = None) -> None:
        if client is None:
            from loopml.tracking import default_client

            client = default_client()
        self.client = client
        self._reader: Any = None
        self._blobs: BlobStore | None = None

    @property
    def _models(self) -> Any:
        return self.client.stores.models

    @property
    def _versions(self) -> Any:
        """Where versions are read: the stdlib-sqlite3 reader on a local SQLite store
        (loading a model then never imports SQLAlchemy), else the store's ModelStore."""
        if self._reader is None:
            from loopml.store._sqlite_reader import open_sqlite_reader

            settings = self.client.settings
            local = None if settings.is_remote else open_sqlite_reader(settings.store_uri)
            self._reader = local or False
        return self._reader or self._models

    @property
    def _blob_store(self) -> BlobStore:
        if self.client.settings.is_remote:
            return self.client.stores.blobs
        if self._blobs is None:
            from loopml.blobs import open_blob_store

            self._blobs = open_blob_store(self.client.settings.blob_uri, self.client.settings)
        return self._blobs

    @property
    def _aliases(self) -> Any:
        return self.client.stores.aliases

    # -- registering ---------------------------------------------------------------

    def log_model(
        self,
        model: object,
        name: str,
        *,
        input_example: object = None,
        signature: Signature | None = None,
        flavor: str | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        pip_requirements: Sequence[str] = (),
        run_id: str | None = None,
        artifact_path: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        parents: Iterable[str] = (),
    ) -> ModelVersion:
        """Package ``model``, store it with the run, and register the next version.

        The package (model files, manifest with a BLAKE3 hash of every file, input
        example, requirements) is logged as artifacts of the run under
        ``artifact_path`` (default ``models/NAME``).

        Args:
            model: a scikit-learn estimator or Pipeline, an XGBoost or LightGBM model, a
                PyTorch module, or any object with ``predict``.
            name: the registered model; created on its first version.
            input_example: a few rows of input (DataFrame, dict of columns, records or a
                numpy array); the signature is inferred from it when not given.
            signature: the input and output schema, overriding the inferred one.
            flavor: force a flavor instead of detecting it from the model's type.
            init_kwargs: PyTorch only: the keyword arguments that rebuild the module.
            pip_requirements: extra requirements to record.
            run_id: the run to link to; the active run, else a new run of its own.
            artifact_path: where the package lands among the run's artifacts.
            description: free text shown with the version.
            tags: tags of the version.
            parents: URIs of versions this one derives from, besides the versions the
                run loaded.

        Returns:
            The registered version (``.name``, ``.version``).

        Raises:
            InvalidInput: an unsupported model, a bad example or signature, a bad name.
            NotFound: the run or a parent does not exist.
        """
        check_model_name(name)
        parent_refs = [self.resolve(uri) for uri in parents]
        target, owned = self._target_run(run_id, name)
        try:
            with tempfile.TemporaryDirectory(prefix="loopml-model-") as tmp:
                folder = Path(tmp) / "package"
                options = {"init_kwargs": dict(init_kwargs)} if init_kwargs is not None else {}
                manifest = write_package(
                    model,
                    folder,
                    input_example=input_example,
                    signature=signature,
                    flavor=flavor,
                    options=options,
                    pip_requirements=tuple(pip_requirements),
                )
                manifest_text = (folder / MANIFEST_NAME).read_text(encoding="utf-8")
                path = artifact_path or f"models/{name}"
                self.client.log_artifact(target, folder, path)
            inputs = self._run_inputs(target)
            version = self._models.create_version(
                VersionDraft(
                    name=name,
                    flavor=manifest.flavor,
                    manifest=manifest_text,
                    manifest_digest=_digest(manifest_text),
                    run_id=target,
                    artifact_path=path,
                    description=description,
                    tags=dict(tags or {}),
                    parents=tuple(sorted({*inputs, *((v.name, v.version) for v in parent_refs)})),
                )
            )
        except BaseException:
            if owned:
                self.client.end_run(target, "failed")
            raise
        if owned:
            self.client.end_run(target)
        return version  # type: ignore[no-any-return]

    # -- loading -------------------------------------------------------------------

    def resolve(self, uri: str | ModelRef) -> ModelVersion:
        """The version a URI names: ``name/3``, ``name@alias`` or ``name@latest``.

        Raises:
            InvalidInput: a malformed URI.
            NotFound: no such model, version or alias (the message lists the aliases).
        """
        ref = uri if isinstance(uri, ModelRef) else parse_model_uri(uri)
        versions = self._versions
        if ref.version is not None:
            return versions.get_version(ref.name, ref.version)  # type: ignore[no-any-return]
        model = versions.get_model(ref.name)
        if ref.alias == LATEST:
            if model.latest_version is None:
                raise NotFound(f"Model {ref.name!r} has no version that is not archived.")
            number = model.latest_version
        elif ref.alias in model.aliases:
            number = model.aliases[ref.alias]
        else:
            known = ", ".join(sorted(model.aliases)) or "none"
            raise NotFound(f"Model {ref.name!r} has no alias {ref.alias!r}; its aliases: {known}.")
        return versions.get_version(ref.name, number)  # type: ignore[no-any-return]

    def load_model(self, uri: str, *, record_input: bool = True) -> PackagedModel:
        """Load a registered version, verifying every file before anything is unpickled.

        Files are fetched into ``LOOPML_HOME/cache/models/DIGEST`` once; every load
        hashes them again against the manifest recorded at registration. A changed byte
        (in the cache, on disk or in the bucket) is a refusal, never a load.

        Args:
            uri: ``name/3``, ``name@champion`` or ``name@latest``.
            record_input: when a run is active, tag it with the version it loaded, so a
                version that run registers names this one as a parent.

        Returns:
            An object with ``predict(data)`` (and ``predict_proba`` where the flavor has
            it) that enforces the signature and returns a numpy array.

        Raises:
            NotFound: no such model, version or alias.
            StoreError: the manifest or a file does not match what was registered.
        """
        version = self.resolve(uri)
        if _digest(version.manifest) != version.manifest_digest:
            raise StoreError(
                f"The manifest of {version.ref} does not match its recorded digest; the "
                "registry record was altered. Refusing to load it."
            )
        manifest = Manifest.from_json(version.manifest)
        folder = self._materialise(version, manifest)
        try:
            loaded = load_package(
                manifest, folder, source=version.ref, name=version.name, version=version.version
            )
        except StoreError:
            if not self._repair_cache(version, manifest, folder):
                raise
            loaded = load_package(
                manifest, folder, source=version.ref, name=version.name, version=version.version
            )
        if record_input:
            self._record_input(version)
        return loaded

    # -- models and versions ------------------------------------------------------

    def create_model(
        self, name: str, description: str = "", protected_aliases: Sequence[str] = ()
    ) -> RegisteredModel:
        """Register a model name before its first version (to protect aliases, say)."""
        return self._models.create_model(name, description, tuple(protected_aliases))  # type: ignore[no-any-return]

    def get_model(self, name: str) -> RegisteredModel:
        """The registered model with its aliases and latest version. Raises NotFound."""
        return self._models.get_model(name)  # type: ignore[no-any-return]

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        return self._models.list_models()  # type: ignore[no-any-return]

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        protected_aliases: Sequence[str] | None = None,
    ) -> RegisteredModel:
        """Change a model's description, tags (``None`` deletes) or protected aliases."""
        protected = None if protected_aliases is None else tuple(protected_aliases)
        update = ModelUpdate(description, dict(tags or {}), protected)
        return self._models.update_model(name, update)  # type: ignore[no-any-return]

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, newest first. Raises NotFound."""
        return self._models.list_versions(name)  # type: ignore[no-any-return]

    def update_version(
        self,
        uri: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        status: VersionStatus | str | None = None,
    ) -> ModelVersion:
        """Describe, tag, archive (``status="archived"``) or restore a version."""
        version = self.resolve(uri)
        state = None if status is None else _status(status)
        update = VersionUpdate(description, dict(tags or {}), state)
        return self._models.update_version(version.name, version.version, update)  # type: ignore[no-any-return]

    def delete_version(self, uri: str) -> None:
        """Delete a version's record. Raises Conflict when an alias points at it."""
        version = self.resolve(uri)
        self._models.delete_version(version.name, version.version)

    # -- aliases and approvals -----------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        reason: str = "",
        expected: int | NotGiven | None = NOT_GIVEN,
    ) -> AliasMove:
        """Point ``alias`` at ``version`` atomically, recording who, when and why.

        Args:
            expected: the version the alias must point at now (``None``: unset); another
                process that moved it first makes this call fail with Conflict.

        Raises:
            PermissionDenied: the alias is protected; use :meth:`request_approval`.
            Conflict: ``expected`` differs, or the version is archived.
        """
        return self._aliases.move_alias(  # type: ignore[no-any-return]
            name, alias, version, expected_from=expected, reason=reason
        )

    def remove_alias(self, name: str, alias: str, *, reason: str = "") -> AliasMove:
        """Remove an alias (its history stays)."""
        return self._aliases.move_alias(name, alias, None, reason=reason)  # type: ignore[no-any-return]

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of an alias (or of all the model's aliases), oldest first."""
        return self._aliases.alias_history(name, alias)  # type: ignore[no-any-return]

    def request_approval(
        self, name: str, alias: str, version: int, comment: str = ""
    ) -> ApprovalRequest:
        """Ask an approver to move ``alias`` (usually a protected one) to ``version``."""
        return self._aliases.request_approval(uuid.uuid4().hex, name, alias, version, comment)  # type: ignore[no-any-return]

    def approve(self, request_id: str, comment: str = "") -> ApprovalRequest:
        """Approve a pending request; the alias moves in the same transaction."""
        return self._aliases.decide_approval(request_id, approve=True, comment=comment)  # type: ignore[no-any-return]

    def reject(self, request_id: str, comment: str = "") -> ApprovalRequest:
        """Reject a pending request; nothing moves."""
        return self._aliases.decide_approval(request_id, approve=False, comment=comment)  # type: ignore[no-any-return]

    def list_approvals(
        self, name: str | None = None, status: ApprovalStatus | str | None = None
    ) -> list[ApprovalRequest]:
        """Approval requests, newest first, of one model and/or in one state."""
        state = None if status is None else _approval_status(status)
        return self._aliases.list_approvals(name, state)  # type: ignore[no-any-return]

    # -- lineage -------------------------------------------------------------------

    def lineage(self, uri: str, depth: int = 10) -> LineageGraph:
        """Where a version came from: its run, code commit, data, parents (recursively,
        up to ``depth`` generations) and alias moves, as a graph."""
        from loopml.registry._lineage import build_lineage

        stores = self.client.stores
        return build_lineage(stores.models, stores.aliases, stores.runs, self.resolve(uri), depth)

    # -- helpers -------------------------------------------------------------------

    def _target_run(self, run_id: str | None, name: str) -> tuple[str, bool]:
        if run_id is not None:
            return run_id, False
        from loopml.tracking import DEFAULT_EXPERIMENT, active_run

        active = active_run()
        if active is not None and active.client is self.client:
            return active.id, False
        run = self.client.create_run(DEFAULT_EXPERIMENT, name=f"log_model-{name}")
        return run.id, True

    def _run_inputs(self, run_id: str) -> set[tuple[str, int]]:
        tags = self.client.get_run(run_id).tags
        found = set()
        for key, value in tags.items():
            if key.startswith(INPUT_MODEL_TAG) and value.isdecimal():
                found.add((key[len(INPUT_MODEL_TAG) :], int(value)))
        return found

    def _record_input(self, version: ModelVersion) -> None:
        from loopml.tracking import active_run

        active = active_run()
        if active is not None and active.client is self.client:
            self.client.set_tag(active.id, f"{INPUT_MODEL_TAG}{version.name}", str(version.version))

    def _materialise(self, version: ModelVersion, manifest: Manifest) -> Path:
        """The package's files in the local cache: those missing (or of the wrong size)
        are fetched from the blob store, which verifies what it returns. The files are
        hashed once, by ``load_package``, before anything is unpickled."""
        folder = self.client.settings.home / "cache" / "models" / version.manifest_digest
        for entry in manifest.files:
            target = folder / entry.path
            if not _has_size(target, entry.size):
                if target.exists():
                    log.warning(
                        "Cached file %s of %s changed; fetching it again.", entry.path, version.ref
                    )
                self._blob_store.get_file(entry.digest, target)
        return folder

    def _repair_cache(self, version: ModelVersion, manifest: Manifest, folder: Path) -> bool:
        """After a failed load: fetch again every cached file that no longer matches the
        manifest. Returns whether there was one (then loading is worth another try)."""
        from loopml.blobs import hash_file

        changed = [f for f in manifest.files if hash_file(folder / f.path).digest != f.digest]
        for entry in changed:
            log.warning("Cached file %s of %s changed; fetching it again.", entry.path, version.ref)
            self._blob_store.get_file(entry.digest, folder / entry.path)
        return bool(changed)


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def _digest(text: str) -> str:
    return blake3.blake3(text.encode("utf-8")).hexdigest()


def _status(status: VersionStatus | str) -> VersionStatus:
    try:
        return VersionStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in VersionStatus)
        raise InvalidInput(
            f"Unknown version status {status!r}; expected one of: {known}."
        ) from None


def _approval_status(status: ApprovalStatus | str) -> ApprovalStatus:
    try:
        return ApprovalStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in ApprovalStatus)
        raise InvalidInput(
            f"Unknown approval status {status!r}; expected one of: {known}."
        ) from None
