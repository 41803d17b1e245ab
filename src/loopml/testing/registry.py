"""Contract suites of the registry ports (ModelStore, AliasStore), run unchanged against
every adapter.

Subclass a contract and provide the ``registry_stores`` fixture, a
:class:`RegistryStores` over one database::

    class TestSqliteRegistry(ModelStoreContract, AliasStoreContract):
        @pytest.fixture
        def registry_stores(self, engine): ...
"""

from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from loopml.domain import (
    ApprovalStatus,
    ModelUpdate,
    Run,
    RunStatus,
    VersionDraft,
    VersionStatus,
    VersionUpdate,
)
from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from loopml.store import AliasStore, ExperimentStore, ModelStore, RunStore

__all__ = ["AliasStoreContract", "ModelStoreContract", "RegistryStores"]

DIGEST = "ab" * 32


@dataclass(frozen=True, slots=True)
class RegistryStores:
    """The adapters a registry contract needs: runs to link versions to, and the
    registry ports themselves."""

    experiments: ExperimentStore
    runs: RunStore
    models: ModelStore
    aliases: AliasStore


def _name(prefix: str = "model") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _draft(name: str, **fields: object) -> VersionDraft:
    values: dict[str, object] = {
        "name": name,
        "flavor": "sklearn",
        "manifest": '{"flavor":"sklearn","files":[]}',
        "manifest_digest": DIGEST,
    }
    values.update(fields)
    return VersionDraft(**values)  # type: ignore[arg-type]


def _run(stores: RegistryStores) -> str:
    experiment = stores.experiments.create_experiment(_name("exp"))
    run_id = uuid.uuid4().hex
    stores.runs.create_run(
        Run(run_id, experiment.id, "train", RunStatus.RUNNING, datetime.now(UTC))
    )
    return run_id


class ModelStoreContract:
    """What every ModelStore adapter must do."""

    def test_create_then_get_model(self, registry_stores: RegistryStores) -> None:
        name = _name()
        created = registry_stores.models.create_model(name, "churn", ("champion",))
        assert registry_stores.models.get_model(name) == created
        assert created.description == "churn"
        assert created.protected_aliases == ("champion",)
        assert created.latest_version is None

    def test_duplicate_model_is_refused(self, registry_stores: RegistryStores) -> None:
        name = _name()
        registry_stores.models.create_model(name)
        with pytest.raises(AlreadyExists, match=name):
            registry_stores.models.create_model(name)

    @pytest.mark.parametrize("bad", ["", "a/b", "x@y", "-lead", "a..b"])
    def test_invalid_model_name_is_refused(self, registry_stores: RegistryStores, bad: str) -> None:
        with pytest.raises(InvalidInput, match="Model name"):
            registry_stores.models.create_model(bad)

    def test_unknown_model_is_not_found(self, registry_stores: RegistryStores) -> None:
        name = _name("missing")
        with pytest.raises(NotFound, match=name):
            registry_stores.models.get_model(name)
        with pytest.raises(NotFound, match=name):
            registry_stores.models.list_versions(name)
        with pytest.raises(NotFound, match=name):
            registry_stores.models.get_version(name, 1)

    def test_versions_are_numbered_from_one_and_create_the_model(
        self, registry_stores: RegistryStores
    ) -> None:
        name = _name()
        numbers = [registry_stores.models.create_version(_draft(name)).version for _ in range(3)]
        assert numbers == [1, 2, 3]
        assert registry_stores.models.get_model(name).latest_version == 3
        listed = registry_stores.models.list_versions(name)
        assert [v.version for v in listed] == [3, 2, 1]
        assert name in [m.name for m in registry_stores.models.list_models()]

    def test_version_keeps_what_was_registered(self, registry_stores: RegistryStores) -> None:
        name = _name()
        run_id = _run(registry_stores)
        parent = registry_stores.models.create_version(_draft(name))
        manifest = '{"files":[{"path":"model.pkl"}],"note":"ünïcode ✓"}'
        version = registry_stores.models.create_version(
            _draft(
                name,
                manifest=manifest,
                flavor="xgboost",
                run_id=run_id,
                artifact_path="models/churn",
                description="first try",
                tags={"team": "risk"},
                parents=((name, parent.version),),
            )
        )
        again = registry_stores.models.get_version(name, version.version)
        assert again == version
        assert (again.manifest, again.flavor, again.run_id) == (manifest, "xgboost", run_id)
        assert again.artifact_path == "models/churn"
        assert again.tags == {"team": "risk"}
        assert again.parents == ((name, 1),)
        assert again.status is VersionStatus.READY
        assert again.created_by
        assert again.ref == f"{name}/2"

    def test_unknown_run_or_parent_is_refused(self, registry_stores: RegistryStores) -> None:
        name = _name()
        with pytest.raises(NotFound, match="nope"):
            registry_stores.models.create_version(_draft(name, run_id="nope"))
        with pytest.raises(NotFound, match="version 7"):
            registry_stores.models.create_version(_draft(name, parents=((name, 7),)))

    def test_unknown_version_names_the_number(self, registry_stores: RegistryStores) -> None:
        name = _name()
        registry_stores.models.create_version(_draft(name))
        with pytest.raises(NotFound, match="no version 9"):
            registry_stores.models.get_version(name, 9)

    def test_update_model_description_tags_and_protection(
        self, registry_stores: RegistryStores
    ) -> None:
        name = _name()
        registry_stores.models.create_model(name)
        registry_stores.models.update_model(
            name, ModelUpdate(description="d", tags={"a": "1", "b": "2"})
        )
        updated = registry_stores.models.update_model(
            name, ModelUpdate(tags={"a": None}, protected_aliases=("champion",))
        )
        assert updated.description == "d"
        assert updated.tags == {"b": "2"}
        assert updated.protected_aliases == ("champion",)

    def test_update_version_and_archive(self, registry_stores: RegistryStores) -> None:
        name = _name()
        registry_stores.models.create_version(_draft(name))
        registry_stores.models.create_version(_draft(name))
        updated = registry_stores.models.update_version(
            name, 2, VersionUpdate(description="bad data", tags={"k": "v"})
        )
        assert (updated.description, updated.tags) == ("bad data", {"k": "v"})
        archived = registry_stores.models.update_version(
            name, 2, VersionUpdate(status=VersionStatus.ARCHIVED)
        )
        assert archived.status is VersionStatus.ARCHIVED
        assert registry_stores.models.get_model(name).latest_version == 1

    def test_archiving_an_aliased_version_is_refused(self, registry_stores: RegistryStores) -> None:
        name = _name()
        registry_stores.models.create_version(_draft(name))
        registry_stores.aliases.move_alias(name, "champion", 1)
        with pytest.raises(Conflict, match="champion"):
            registry_stores.models.update_version(
                name, 1, VersionUpdate(status=VersionStatus.ARCHIVED)
            )
        assert registry_stores.models.get_version(name, 1).status is VersionStatus.READY

    def test_delete_version_keeps_its_number_taken(self, registry_stores: RegistryStores) -> None:
        name = _name()
        for _ in range(2):
            registry_stores.models.create_version(_draft(name))
        registry_stores.models.delete_version(name, 2)
        with pytest.raises(NotFound):
            registry_stores.models.get_version(name, 2)
        assert registry_stores.models.create_version(_draft(name)).version == 3

    def test_deleting_an_aliased_version_is_refused(self, registry_stores: RegistryStores) -> None:
        name = _name()
        registry_stores.models.create_version(_draft(name))
        registry_stores.aliases.move_alias(name, "challenger", 1)
        with pytest.raises(Conflict, match="challenger"):
            registry_stores.models.delete_version(name, 1)
        assert registry_stores.models.get_version(name, 1).aliases == ("challenger",)

    def test_deleting_a_version_with_a_pending_approval_is_refused(
        self, registry_stores: RegistryStores
    ) -> None:
        name = _name()
        registry_stores.models.create_version(_draft(name))
        registry_stores.aliases.request_approval(uuid.uuid4().hex, name, "champion", 1)
        with pytest.raises(Conflict, match="pending"):
            registry_stores.models.delete_version(name, 1)

    def test_concurrent_registrations_get_distinct_numbers(
        self, registry_stores: RegistryStores
    ) -> None:
        name = _name()
        registry_stores.models.create_model(name)
        numbers: list[int] = []
        errors: list[BaseException] = []

        def register() -> None:
            try:
                for _ in range(5):
                    numbers.append(registry_stores.models.create_version(_draft(name)).version)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=register) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(numbers) == list(range(1, 21))


class AliasStoreContract:
    """What every AliasStore adapter must do."""

    def _model(self, stores: RegistryStores, versions: int = 3, **kwargs: object) -> str:
        name = _name()
        stores.models.create_model(name, **kwargs)  # type: ignore[arg-type]
        for _ in range(versions):
            stores.models.create_version(_draft(name))
        return name

    def test_move_creates_then_moves_with_history(self, registry_stores: RegistryStores) -> None:
        name = self._model(registry_stores)
        first = registry_stores.aliases.move_alias(name, "champion", 1, reason="baseline")
        second = registry_stores.aliases.move_alias(
            name, "champion", 2, expected_from=1, reason="better AUC"
        )
        assert (first.seq, first.from_version, first.to_version) == (1, None, 1)
        assert (second.seq, second.from_version, second.to_version) == (2, 1, 2)
        assert second.actor and second.reason == "better AUC"
        assert registry_stores.models.get_model(name).aliases == {"champion": 2}
        assert registry_stores.models.get_version(name, 2).aliases == ("champion",)
        assert registry_stores.aliases.alias_history(name, "champion") == [first, second]

    def test_expected_version_mismatch_is_a_conflict_and_changes_nothing(
        self, registry_stores: RegistryStores
    ) -> None:
        name = self._model(registry_stores)
        registry_stores.aliases.move_alias(name, "champion", 1)
        with pytest.raises(Conflict, match="moved meanwhile"):
            registry_stores.aliases.move_alias(name, "champion", 3, expected_from=2)
        with pytest.raises(Conflict):
            registry_stores.aliases.move_alias(name, "champion", 3, expected_from=None)
        assert registry_stores.models.get_model(name).aliases == {"champion": 1}
        assert len(registry_stores.aliases.alias_history(name)) == 1

    def test_alias_to_missing_or_archived_version_is_refused(
        self, registry_stores: RegistryStores
    ) -> None:
        name = self._model(registry_stores)
        with pytest.raises(NotFound, match="no version 9"):
            registry_stores.aliases.move_alias(name, "champion", 9)
        registry_stores.models.update_version(name, 3, VersionUpdate(status=VersionStatus.ARCHIVED))
        with pytest.raises(Conflict, match="archived"):
            registry_stores.aliases.move_alias(name, "champion", 3)
        with pytest.raises(NotFound, match="nope"):
            registry_stores.aliases.move_alias("nope", "champion", 1)
        assert registry_stores.aliases.alias_history(name) == []

    @pytest.mark.parametrize("bad", ["Champion", "latest", "3", "", "a b"])
    def test_invalid_alias_is_refused(self, registry_stores: RegistryStores, bad: str) -> None:
        name = self._model(registry_stores, versions=1)
        with pytest.raises(InvalidInput, match="Alias"):
            registry_stores.aliases.move_alias(name, bad, 1)

    def test_remove_alias_records_the_removal(self, registry_stores: RegistryStores) -> None:
        name = self._model(registry_stores)
        registry_stores.aliases.move_alias(name, "challenger", 2)
        removed = registry_stores.aliases.move_alias(name, "challenger", None, reason="done")
        assert (removed.from_version, removed.to_version, removed.seq) == (2, None, 2)
        assert registry_stores.models.get_model(name).aliases == {}
        with pytest.raises(NotFound, match="no alias"):
            registry_stores.aliases.move_alias(name, "challenger", None)
        again = registry_stores.aliases.move_alias(name, "challenger", 1)
        assert (again.seq, again.from_version) == (3, None)

    def test_protected_alias_moves_only_by_approval(self, registry_stores: RegistryStores) -> None:
        name = self._model(registry_stores, protected_aliases=("champion",))
        with pytest.raises(PermissionDenied, match="protected"):
            registry_stores.aliases.move_alias(name, "champion", 1)
        request = registry_stores.aliases.request_approval(
            uuid.uuid4().hex, name, "champion", 2, comment="AUC +0.03"
        )
        assert request.status is ApprovalStatus.PENDING and request.requested_by
        assert registry_stores.models.get_model(name).aliases == {}
        decided = registry_stores.aliases.decide_approval(request.id, approve=True, comment="ok")
        assert decided.status is ApprovalStatus.APPROVED
        assert decided.decided_by and decided.decided_at is not None
        assert decided.decision_comment == "ok"
        assert registry_stores.models.get_model(name).aliases == {"champion": 2}
        (move,) = registry_stores.aliases.alias_history(name, "champion")
        assert (move.to_version, move.approval_id, move.reason) == (2, request.id, "ok")

    def test_rejected_request_moves_nothing(self, registry_stores: RegistryStores) -> None:
        name = self._model(registry_stores, protected_aliases=("champion",))
        request = registry_stores.aliases.request_approval(uuid.uuid4().hex, name, "champion", 1)
        rejected = registry_stores.aliases.decide_approval(
            request.id, approve=False, comment="fairness gap"
        )
        assert rejected.status is ApprovalStatus.REJECTED
        assert registry_stores.models.get_model(name).aliases == {}
        with pytest.raises(Conflict, match="rejected already"):
            registry_stores.aliases.decide_approval(request.id, approve=True)

    def test_duplicate_or_unknown_requests_are_refused(
        self, registry_stores: RegistryStores
    ) -> None:
        name = self._model(registry_stores)
        registry_stores.aliases.request_approval(uuid.uuid4().hex, name, "champion", 1)
        with pytest.raises(Conflict, match="pending already"):
            registry_stores.aliases.request_approval(uuid.uuid4().hex, name, "champion", 1)
        with pytest.raises(NotFound, match="no version 8"):
            registry_stores.aliases.request_approval(uuid.uuid4().hex, name, "champion", 8)
        with pytest.raises(NotFound, match="nope"):
            registry_stores.aliases.decide_approval("nope", approve=True)

    def test_list_approvals_filters_by_model_and_state(
        self, registry_stores: RegistryStores
    ) -> None:
        name = self._model(registry_stores)
        first = registry_stores.aliases.request_approval(uuid.uuid4().hex, name, "champion", 1)
        second = registry_stores.aliases.request_approval(uuid.uuid4().hex, name, "champion", 2)
        registry_stores.aliases.decide_approval(first.id, approve=False)
        pending = registry_stores.aliases.list_approvals(name, ApprovalStatus.PENDING)
        assert [r.id for r in pending] == [second.id]
        assert {r.id for r in registry_stores.aliases.list_approvals(name)} == {
            first.id,
            second.id,
        }

    def test_racing_moves_from_one_state_let_exactly_one_win(
        self, registry_stores: RegistryStores
    ) -> None:
        name = self._model(registry_stores, versions=4)
        registry_stores.aliases.move_alias(name, "champion", 1)
        outcomes: list[str] = []
        barrier = threading.Barrier(3)

        def move(target: int) -> None:
            barrier.wait()
            try:
                registry_stores.aliases.move_alias(name, "champion", target, expected_from=1)
                outcomes.append("won")
            except Conflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=move, args=(v,)) for v in (2, 3, 4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["conflict", "conflict", "won"]
        history = registry_stores.aliases.alias_history(name, "champion")
        assert [m.seq for m in history] == [1, 2]
        assert history[1].from_version == 1
        assert registry_stores.models.get_model(name).aliases["champion"] == history[1].to_version

    def test_unordered_moves_keep_a_gapless_history(self, registry_stores: RegistryStores) -> None:
        name = self._model(registry_stores, versions=3)
        errors: list[BaseException] = []

        def move(target: int) -> None:
            for _ in range(5):
                try:
                    registry_stores.aliases.move_alias(name, "champion", target)
                except Conflict:
                    pass  # a racing move committed first: allowed, never a gap
                except BaseException as exc:  # reported below
                    errors.append(exc)

        threads = [threading.Thread(target=move, args=(v,)) for v in (1, 2, 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        history = registry_stores.aliases.alias_history(name, "champion")
        assert [m.seq for m in history] == list(range(1, len(history) + 1))
        for before, after in itertools.pairwise(history):
            assert after.from_version == before.to_version
