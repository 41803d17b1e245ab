"""Dataset versions over one tracking client: add, log, status, diff, checkout, open,
push and pull, profiles and checks.

The bytes live in the blob store (packed, chunked, content-addressed: ``_snapshot``);
the version records in the metadata store's DatasetStore; the project's working copies
in ``HOME/data/tracked.json`` with a stat cache beside it, so ``status`` re-hashes only
files whose size, mtime or inode changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from loopml.data._refs import DatasetRef, parse_dataset_ref
from loopml.data._tracked import TrackedPaths
from loopml.domain import CheckReportRecord, DatasetVersion, DatasetVersionDraft, FileEntry
from loopml.domain.data import INPUT_DATASET_TAG
from loopml.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from loopml.blobs import BlobStore
    from loopml.config import Settings
    from loopml.data._statcache import WalkedFile
    from loopml.data.checks import CheckReport, Checks
    from loopml.tracking import Client

__all__ = ["INPUT_DATASET_TAG", "DataRepo", "DatasetDiff", "DatasetStatus"]

TableKind = Literal["pandas", "polars", "arrow"]


@dataclass(frozen=True, slots=True)
class DatasetStatus:
    """What changed in a working copy since the version it holds."""

    name: str
    path: Path
    version: int
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)

    @property
    def is_clean(self) -> bool:
        """Whether the working copy equals its version."""
        return not (self.added or self.removed or self.modified)


@dataclass(frozen=True, slots=True)
class DatasetDiff:
    """Files added, removed and changed between two versions; for changed (and
    same-path) tabular files, rows added/removed and schema changes."""

    before: str
    after: str
    added: list[str]
    removed: list[str]
    changed: list[str]
    tables: dict[str, dict[str, Any]]


class DataRepo:
    """Dataset versions of the project a tracking client points at.

    Args:
        client: the tracking client (its settings' home holds the working-copy state);
            the default client of the fluent API when neither it nor ``settings`` is given.
        settings: settings to work from without a client; one is made on first need, so
            answering ``status`` from a local store never loads the tracking client.
    """

    def __init__(self, client: Client | None = None, *, settings: Settings | None = None) -> None:
        if client is None and settings is None:
            from loopml.tracking import default_client

            client = default_client()
        self._client = client
        self.settings: Settings = client.settings if client is not None else settings  # type: ignore[assignment]
        self.home = self.settings.home
        self.tracked = TrackedPaths(self.home)
        self._blobs: BlobStore | None = None
        self._reader: Any = None

    @property
    def client(self) -> Client:
        """The tracking client; made from the settings on first use when none was given."""
        if self._client is None:
            from loopml.tracking import Client

            self._client = Client(self.settings, capture_environment=False)
        return self._client

    @property
    def blobs(self) -> BlobStore:
        """The blob store the versions' bytes live in (opened on its own when local, so
        reading a version never needs the SQL adapter)."""
        settings = self.settings
        if settings.is_remote:
            return self.client.stores.blobs
        if self._blobs is None:
            from loopml.blobs import open_blob_store

            self._blobs = open_blob_store(settings.blob_uri, settings)
        return self._blobs

    def _read_version(self, name: str, version: int | None) -> DatasetVersion:
        """A version through the stdlib-sqlite3 reader on a local SQLite store (``status``
        and ``open`` then never import SQLAlchemy), else through the DatasetStore."""
        if self._reader is None:
            from loopml.store._sqlite_reader import open_sqlite_reader

            settings = self.settings
            local = None if settings.is_remote else open_sqlite_reader(settings.store_uri)
            self._reader = local or False
        if self._reader:
            if version is None:
                return self._reader.latest_dataset_version(name)  # type: ignore[no-any-return]
            return self._reader.get_dataset_version(name, version)  # type: ignore[no-any-return]
        datasets = self.client.stores.datasets
        if version is None:
            return datasets.latest_version(name)
        return datasets.get_version(name, version)

    # -- recording versions ------------------------------------------------------------

    def add(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        *,
        message: str = "",
        profile: bool = True,
        on_progress: Callable[[int], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> DatasetVersion:
        """Snapshot a file or folder as the next version of dataset ``name``.

        Re-adding unchanged content returns the newest version instead of a new one.
        A file that changes while it is read makes the add fail (Conflict) and records
        nothing. Tabular files (CSV, Parquet, JSON lines) get a schema and a profile.
        Inside an active run, the version records that run as its producer.

        Raises:
            NotFound: ``path`` does not exist.
            Conflict: a file changed while it was being added.
            InvalidInput: a bad name, or a tabular file that cannot be parsed.
        """
        from loopml.data._snapshot import content_digest, manifest_bytes, store_files
        from loopml.data._statcache import walk
        from loopml.domain.names import check_dataset_name

        source = Path(path).expanduser().resolve()
        if not source.exists():
            raise NotFound(f"No file or folder at {str(path)!r} to add.")
        dataset = check_dataset_name(name or source.name)  # before any byte is stored
        base, files = walk(source)
        if on_total is not None:
            on_total(sum(walked[1] for walked in files))
        blobs = self.blobs
        entries = store_files(base, files, blobs, on_progress=on_progress)
        manifest = _put(blobs, manifest_bytes(entries))
        schema, profile_digest = self._describe_tables(source, entries) if profile else ({}, None)
        version, _ = self.client.stores.datasets.create_version(
            DatasetVersionDraft(
                name=dataset,
                manifest_digest=manifest,
                content_digest=content_digest(entries),
                file_count=len(entries),
                total_bytes=sum(entry.size for entry in entries),
                message=message,
                source_path=str(source),
                run_id=_active_run_id(self.client),
                schema=orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode(),
                profile_digest=profile_digest,
            )
        )
        self.tracked.set(version.name, source, version.version)
        # The walk's stats are the ones the snapshot checked after reading each file.
        self._remember_stats(base, files, entries)
        return version

    def _describe_tables(
        self, source: Path, entries: list[FileEntry]
    ) -> tuple[dict[str, Any], str | None]:
        from loopml.data._formats import is_tabular

        tables = [entry for entry in entries if is_tabular(entry.path)]
        if not tables:
            return {}, None  # no pyarrow import for data that holds no table
        from loopml.data.profile import profile_file

        schema: dict[str, Any] = {}
        profiles: dict[str, Any] = {}
        single_file = source.is_file()
        for entry in tables:
            described = profile_file(source if single_file else source / entry.path)
            schema[entry.path] = described["schema"]
            profiles[entry.path] = described["profile"]
        return schema, _put(self.blobs, orjson.dumps(profiles, option=orjson.OPT_SORT_KEYS))

    def _remember_stats(self, base: str, files: list[WalkedFile], entries: list[FileEntry]) -> None:
        """Cache the digest of each walked file that is one of ``entries``."""
        from loopml.data._statcache import StatCache

        digests = {entry.path: entry.digest for entry in entries}
        rows = [
            (f"{base}/{rel}", size, mtime_ns, inode, digests[rel])
            for rel, size, mtime_ns, inode in files
            if rel in digests
        ]
        StatCache(self.home / "data" / "statcache.db").store_many(rows)

    # -- reading versions ----------------------------------------------------------------

    def get_version(self, ref: str | DatasetRef) -> DatasetVersion:
        """The version ``NAME@vN`` (or the newest for ``NAME``/``NAME@latest``).

        Raises:
            InvalidInput: a malformed reference.
            NotFound: no such dataset or version.
        """
        parsed = ref if isinstance(ref, DatasetRef) else parse_dataset_ref(ref)
        return self._read_version(parsed.name, parsed.version)

    def log(self, name: str) -> list[DatasetVersion]:
        """Every version of ``name``, newest first. Raises NotFound."""
        return self.client.stores.datasets.list_versions(name)

    def list_datasets(self) -> list[DatasetVersion]:
        """The newest version of every dataset."""
        return self.client.stores.datasets.list_datasets()

    def entries(self, version: DatasetVersion) -> list[FileEntry]:
        """The files of a version, from its manifest in the blob store."""
        from loopml.blobs import read_bytes
        from loopml.data._snapshot import entries_from_manifest

        return entries_from_manifest(read_bytes(self.blobs, version.manifest_digest))

    def _digests(self, version: DatasetVersion) -> dict[str, str]:
        from loopml.blobs import read_bytes
        from loopml.data._snapshot import manifest_digests

        return manifest_digests(read_bytes(self.blobs, version.manifest_digest))

    def profile(self, ref: str) -> dict[str, Any]:
        """The stored profiles of the version's tabular files, by path (computed once at
        ``add``; reading them is one blob read)."""
        from loopml.blobs import read_bytes

        version = self.get_version(ref)
        if version.profile_digest is None:
            return {}
        profiles: dict[str, Any] = orjson.loads(read_bytes(self.blobs, version.profile_digest))
        return profiles

    def schema(self, ref: str) -> dict[str, Any]:
        """The recorded schema of each tabular file of the version, by path."""
        schema: dict[str, Any] = orjson.loads(self.get_version(ref).schema)
        return schema

    # -- working copies ----------------------------------------------------------------

    def status(self, name: str | None = None) -> list[DatasetStatus]:
        """What changed in the tracked working copies (or in ``name``'s) since the
        version each holds. Unchanged files are answered from the stat cache, an unchanged
        working copy from its one fingerprint row (no manifest read).

        Raises:
            NotFound: ``name`` is not tracked in this project.
        """
        from loopml.data._statcache import FolderScan, StatCache, digest_of_files, scan_folder

        tracked = self.tracked.all() if name is None else [self._tracked(name)]
        gone = FolderScan(digest_of_files({}), dict)  # a working copy deleted since
        reports = []
        with StatCache(self.home / "data" / "statcache.db") as cache:
            for item in tracked:
                version = self._read_version(item.name, item.version)
                state = scan_folder(item.path, cache) if item.path.exists() else gone
                if state.content_digest == version.content_digest:  # clean: no manifest read
                    reports.append(DatasetStatus(item.name, item.path, item.version))
                    continue
                current, recorded = state.digests(), self._digests(version)
                reports.append(_changes(item.name, item.path, item.version, current, recorded))
        return reports

    def checkout(
        self, ref: str, to: str | os.PathLike[str] | None = None, *, force: bool = False
    ) -> Path:
        """Materialise a version into ``to`` (default: the dataset's working copy), by
        hard link or copy from the blob store. Returns where it landed.

        Raises:
            Conflict: the working copy has unsaved changes (use ``force=True``), or files
                in ``to`` would be overwritten with other content.
            NotFound: no such version, or no working copy and no ``to``.
        """
        from loopml.data._checkout import materialise
        from loopml.data._statcache import walk

        version = self.get_version(ref)
        tracked = self.tracked.get(version.name)
        if to is None and tracked is None:
            raise NotFound(
                f"Dataset {version.name!r} has no working copy in this project; pass --to DIR."
            )
        dest = Path(to).expanduser().resolve() if to is not None else tracked.path  # type: ignore[union-attr]
        into_working_copy = tracked is not None and dest == tracked.path
        if into_working_copy and not force:
            self._refuse_unsaved(version.name)
        entries = self.entries(version)
        single_file = (
            into_working_copy
            and len(entries) == 1
            and entries[0].path == dest.name
            and not dest.is_dir()
        )
        target = dest.parent if single_file else dest
        if not force and not into_working_copy:
            _refuse_overwrite(target, entries)
        materialise(entries, self.blobs, target)
        if into_working_copy:
            self._drop_files_of_held_version(tracked, target, entries)  # type: ignore[arg-type]
            self.tracked.set(version.name, dest, version.version)
            self._remember_stats(*walk(dest), entries)
        return dest

    def _drop_files_of_held_version(
        self, tracked: Any, target: Path, entries: list[FileEntry]
    ) -> None:
        """Remove the files the working copy's previous version had and this one lacks:
        they are safe in the store, and leaving them would show as unsaved additions."""
        held = self._read_version(tracked.name, tracked.version)
        keep = {entry.path for entry in entries}
        for path in sorted(set(self._digests(held)) - keep):
            (target / path).unlink(missing_ok=True)

    def _tracked(self, name: str) -> Any:
        tracked = self.tracked.get(name)
        if tracked is None:
            raise NotFound(
                f"Dataset {name!r} is not tracked in this project; `loopml data add PATH "
                f"--name {name}` tracks it."
            )
        return tracked

    def _refuse_unsaved(self, name: str) -> None:
        (report,) = self.status(name)
        if not report.is_clean:
            changed = [*report.modified, *report.added, *report.removed]
            shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
            raise Conflict(
                f"{report.path} has unsaved changes to {name}@v{report.version} ({shown}); "
                "add them as a new version first, or pass --force to discard them."
            )

    def open(self, ref: str, as_: TableKind | None = None) -> Any:
        """A version's files, ready to read: the path of its single file or folder (in
        ``HOME/cache/data``), or with ``as_`` its table as pandas, polars or pyarrow.
        Inside an active run, the run records the version as an input.

        Raises:
            InvalidInput: ``as_`` on a version that is not one tabular file (or a folder
                of tabular files with one schema).
        """
        from loopml.data._checkout import materialise

        version = self.get_version(ref)
        entries = self.entries(version)
        folder = self.home / "cache" / "data" / version.content_digest
        materialise(entries, self.blobs, folder)
        _record_input(self.client, version)
        path = folder / entries[0].path if len(entries) == 1 else folder
        if as_ is None:
            return path
        return _open_table(version, folder, entries, as_)

    # -- remotes -------------------------------------------------------------------

    def push(self, ref: str, remote: BlobStore) -> int:
        """Copy the blobs of a version to ``remote`` (missing ones only); returns how many
        were copied."""
        return _copy_blobs(self._blob_digests(self.get_version(ref)), self.blobs, remote)

    def pull(self, ref: str, remote: BlobStore) -> int:
        """Copy the blobs of a version from ``remote`` into the local blob store."""
        version = self.get_version(ref)
        _copy_blobs([version.manifest_digest], remote, self.blobs)
        return _copy_blobs(self._blob_digests(version), remote, self.blobs)

    def _blob_digests(self, version: DatasetVersion) -> list[str]:
        digests = {version.manifest_digest}
        if version.profile_digest:
            digests.add(version.profile_digest)
        for entry in self.entries(version):
            digests.update(part.blob for part in entry.parts)
        return sorted(digests)

    # -- diffs and checks ----------------------------------------------------------------

    def diff(self, before: str, after: str) -> DatasetDiff:
        """Files added, removed and changed between two versions, and for each changed
        tabular file the rows added/removed and the schema changes."""
        old, new = self.get_version(before), self.get_version(after)
        old_files = {e.path: e for e in self.entries(old)}
        new_files = {e.path: e for e in self.entries(new)}
        changed = sorted(
            p
            for p in old_files.keys() & new_files.keys()
            if old_files[p].digest != new_files[p].digest
        )
        return DatasetDiff(
            before=old.ref,
            after=new.ref,
            added=sorted(new_files.keys() - old_files.keys()),
            removed=sorted(old_files.keys() - new_files.keys()),
            changed=changed,
            tables=self._table_diffs(changed, old_files, new_files),
        )

    def _table_diffs(
        self, changed: list[str], old: Mapping[str, FileEntry], new: Mapping[str, FileEntry]
    ) -> dict[str, dict[str, Any]]:
        from loopml.data._checkout import materialise
        from loopml.data._formats import is_tabular
        from loopml.data._tablediff import diff_tables

        tabular = [path for path in changed if is_tabular(path)]
        if not tabular:
            return {}
        import tempfile  # imported here: only diffs of tables need a scratch folder

        from loopml.data._tables import read_table

        diffs = {}
        with tempfile.TemporaryDirectory(prefix="loopml-diff-") as tmp:
            materialise([old[p] for p in tabular], self.blobs, Path(tmp) / "before", link=False)
            materialise([new[p] for p in tabular], self.blobs, Path(tmp) / "after", link=False)
            for path in tabular:
                diffs[path] = diff_tables(
                    read_table(Path(tmp) / "before" / path), read_table(Path(tmp) / "after" / path)
                )
        return diffs

    def check(self, ref: str, checks: Checks | str | os.PathLike[str]) -> CheckReport:
        """Run data checks (a :class:`Checks` or a YAML file) on the version's tabular
        file(s) and store the report with the version. Returns the report; call
        ``raise_for_failures()`` on it to stop a pipeline.

        Raises:
            InvalidInput: a bad check file, or a version with no tabular file.
        """
        import uuid

        from loopml.data.checks import Checks, load_checks

        suite = (
            checks
            if isinstance(checks, Checks)
            else load_checks(Path(checks), resolve_schema=self._single_schema)
        )
        version = self.get_version(ref)
        table = self.open(version.ref, as_="arrow")
        report = suite.run(table)
        self.client.stores.datasets.save_check_report(
            CheckReportRecord(
                id=uuid.uuid4().hex,
                name=version.name,
                version=version.version,
                created_at=version.created_at,
                author="",
                passed=report.passed,
                report=report.to_json(),
                suite=suite.name,
            )
        )
        return report

    def _single_schema(self, ref: str) -> dict[str, Any]:
        schemas = self.schema(ref)
        if len(schemas) != 1:
            raise InvalidInput(
                f"schema_matches: {ref} has {len(schemas)} tabular files; name a version of "
                "one table."
            )
        return next(iter(schemas.values()))  # type: ignore[no-any-return]


# -- helpers -----------------------------------------------------------------------


def _put(blobs: BlobStore, data: bytes) -> str:
    from loopml.blobs import put_bytes

    return put_bytes(blobs, data).digest


def _active_run_id(client: Client) -> str | None:
    from loopml.tracking import active_run

    active = active_run()
    return active.id if active is not None and active.client is client else None


def _record_input(client: Client, version: DatasetVersion) -> None:
    from loopml.tracking import active_run

    active = active_run()
    if active is not None and active.client is client:
        client.set_tag(active.id, f"{INPUT_DATASET_TAG}{version.name}", str(version.version))


def _refuse_overwrite(target: Path, entries: list[FileEntry]) -> None:
    from loopml.blobs import hash_file

    clashes = []
    for entry in entries:
        existing = target / entry.path
        if existing.is_file() and hash_file(existing).digest != entry.digest:
            clashes.append(entry.path)
    if clashes:
        shown = ", ".join(clashes[:5]) + (" ..." if len(clashes) > 5 else "")
        raise Conflict(
            f"Checking out into {target} would overwrite {len(clashes)} file(s) with other "
            f"content ({shown}); pass --force to overwrite them."
        )


def _open_table(
    version: DatasetVersion, folder: Path, entries: list[FileEntry], as_: TableKind
) -> Any:
    from loopml.data._formats import is_tabular
    from loopml.data._tables import open_table

    tables = [entry.path for entry in entries if is_tabular(entry.path)]
    if len(tables) != 1:
        raise InvalidInput(
            f"{version.ref} holds {len(tables)} tabular files; open it as a path "
            f"(loopml.data.open({version.ref!r})) and read the file you want."
        )
    return open_table(folder / tables[0], as_)


def _copy_blobs(digests: list[str], source: BlobStore, target: BlobStore) -> int:
    copied = 0
    for digest in digests:
        if target.exists(digest):
            continue
        with source.open(digest) as stream:
            stored = target.put_stream(stream)
        if stored.digest != digest:
            raise Conflict(f"Blob {digest} changed on its way from {source.uri} to {target.uri}.")
        copied += 1
    return copied


def _changes(
    name: str, path: Path, version: int, current: dict[str, str], recorded: dict[str, str]
) -> DatasetStatus:
    return DatasetStatus(
        name=name,
        path=path,
        version=version,
        added=sorted(current.keys() - recorded.keys()),
        removed=sorted(recorded.keys() - current.keys()),
        modified=sorted(p for p in current.keys() & recorded.keys() if current[p] != recorded[p]),
    )
