"""Contract suite of the DatasetStore port, run unchanged against every adapter.

Subclass it and provide the ``dataset_stores`` fixture, a :class:`DatasetStores` over
one database (runs are needed to link versions to the run that produced them).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from loopml.domain import CheckReportRecord, DatasetVersionDraft, Run, RunStatus
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.store import DatasetStore, ExperimentStore, RunStore

__all__ = ["DatasetStoreContract", "DatasetStores"]


@dataclass(frozen=True, slots=True)
class DatasetStores:
    """The adapters the dataset contract needs."""

    experiments: ExperimentStore
    runs: RunStore
    datasets: DatasetStore


def _name() -> str:
    return f"data-{uuid.uuid4().hex[:8]}"


def _draft(name: str, content: str = "c", **fields: object) -> DatasetVersionDraft:
    draft = DatasetVersionDraft(
        name=name,
        manifest_digest="ab" * 32,
        content_digest=(content * 64)[:64],
        file_count=3,
        total_bytes=1234,
    )
    return replace(draft, **fields)  # type: ignore[arg-type]


class DatasetStoreContract:
    """What every DatasetStore adapter must do."""

    def test_versions_are_numbered_and_kept(self, dataset_stores: DatasetStores) -> None:
        name = _name()
        first, created = dataset_stores.datasets.create_version(
            _draft(name, "a", message="first", source_path="data/raw", schema='{"x": 1}')
        )
        assert created and first.version == 1
        second, created = dataset_stores.datasets.create_version(_draft(name, "b"))
        assert created and second.version == 2
        assert dataset_stores.datasets.get_version(name, 1) == first
        assert (first.message, first.source_path, first.schema) == ("first", "data/raw", '{"x": 1}')
        assert first.author and first.ref == f"{name}@v1"
        assert (first.file_count, first.total_bytes) == (3, 1234)
        assert dataset_stores.datasets.latest_version(name) == second
        assert dataset_stores.datasets.list_versions(name) == [second, first]

    def test_unchanged_content_makes_no_new_version(self, dataset_stores: DatasetStores) -> None:
        name = _name()
        first, _ = dataset_stores.datasets.create_version(_draft(name, "a"))
        again, created = dataset_stores.datasets.create_version(_draft(name, "a", message="x"))
        assert (again, created) == (first, False)
        dataset_stores.datasets.create_version(_draft(name, "b"))
        back, created = dataset_stores.datasets.create_version(_draft(name, "a"))
        assert created and back.version == 3  # going back to old content is a new version

    def test_unknown_dataset_or_version_is_not_found(self, dataset_stores: DatasetStores) -> None:
        name = _name()
        for call in (
            lambda: dataset_stores.datasets.latest_version(name),
            lambda: dataset_stores.datasets.list_versions(name),
            lambda: dataset_stores.datasets.get_version(name, 1),
        ):
            with pytest.raises(NotFound, match=name):
                call()
        dataset_stores.datasets.create_version(_draft(name))
        with pytest.raises(NotFound, match="no version 5"):
            dataset_stores.datasets.get_version(name, 5)

    @pytest.mark.parametrize(
        "fields",
        [{"name": "a/b"}, {"name": ""}, {"content_digest": "short"}, {"file_count": -1}],
        ids=["slash", "empty", "digest", "count"],
    )
    def test_malformed_drafts_are_refused(
        self, dataset_stores: DatasetStores, fields: dict[str, object]
    ) -> None:
        draft = replace(_draft(_name()), **fields)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            dataset_stores.datasets.create_version(draft)

    def test_producing_run_is_linked_and_checked(self, dataset_stores: DatasetStores) -> None:
        experiment = dataset_stores.experiments.create_experiment(_name())
        run = Run(uuid.uuid4().hex, experiment.id, "prep", RunStatus.RUNNING, datetime.now(UTC))
        dataset_stores.runs.create_run(run)
        name = _name()
        version, _ = dataset_stores.datasets.create_version(_draft(name, run_id=run.id))
        assert version.run_id == run.id
        with pytest.raises(NotFound, match="nope"):
            dataset_stores.datasets.create_version(_draft(name, "z", run_id="nope"))

    def test_list_datasets_gives_each_newest_version(self, dataset_stores: DatasetStores) -> None:
        names = sorted(_name() for _ in range(2))
        for name in names:
            dataset_stores.datasets.create_version(_draft(name, "a"))
            dataset_stores.datasets.create_version(_draft(name, "b"))
        listed = {v.name: v.version for v in dataset_stores.datasets.list_datasets()}
        assert [listed[name] for name in names] == [2, 2]

    def test_check_reports_are_stored_per_version(self, dataset_stores: DatasetStores) -> None:
        name = _name()
        dataset_stores.datasets.create_version(_draft(name, "a"))
        dataset_stores.datasets.create_version(_draft(name, "b"))
        now = datetime.now(UTC)
        first = CheckReportRecord(uuid.uuid4().hex, name, 1, now, "", False, '{"x": 1}', "input")
        saved = dataset_stores.datasets.save_check_report(first)
        assert (saved.passed, saved.report, saved.suite) == (False, '{"x": 1}', "input")
        assert saved.author
        dataset_stores.datasets.save_check_report(replace(first, id=uuid.uuid4().hex, version=2))
        assert [r.id for r in dataset_stores.datasets.list_check_reports(name, 1)] == [first.id]
        assert len(dataset_stores.datasets.list_check_reports(name)) == 2
        with pytest.raises(AlreadyExists):
            dataset_stores.datasets.save_check_report(first)
        with pytest.raises(NotFound, match="no version 9"):
            dataset_stores.datasets.save_check_report(replace(first, id="other", version=9))

    def test_concurrent_adds_get_distinct_numbers(self, dataset_stores: DatasetStores) -> None:
        name = _name()
        numbers: list[int] = []
        errors: list[BaseException] = []

        def add(worker: int) -> None:
            try:
                for step in range(4):
                    version, _ = dataset_stores.datasets.create_version(
                        _draft(name, f"{worker}{step}")
                    )
                    numbers.append(version.version)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=add, args=(w,)) for w in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(numbers) == list(range(1, 13))
