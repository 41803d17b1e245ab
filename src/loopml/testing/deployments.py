"""Contract suite of the DeploymentStore port, run unchanged against every adapter.

Subclass :class:`DeploymentStoreContract` and provide the ``deployment_store`` fixture.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from loopml.domain.deployments import (
    ChangeKind,
    DeploymentDraft,
    Route,
    TrafficPolicy,
)
from loopml.errors import AlreadyExists, Conflict, InvalidInput, LoopmlError, NotFound
from loopml.store import DeploymentStore

__all__ = ["DeploymentStoreContract"]

A = TrafficPolicy.of({"champion": 100})
B = TrafficPolicy.of({"champion": 90, "challenger": 10})
C = TrafficPolicy.of([("champion", 50), ("7", 50)], shadows=["latest"], sticky_key="customer_id")


def _name() -> str:
    return f"dep-{uuid.uuid4().hex[:8]}"


def _draft(
    name: str, policy: TrafficPolicy = A, model: str = "churn-classifier"
) -> DeploymentDraft:
    return DeploymentDraft(name, model, policy, "serves churn scores")


class DeploymentStoreContract:
    """What every DeploymentStore adapter must do."""

    # -- create, get, list, delete -------------------------------------------------

    def test_a_deployment_is_stored_at_revision_1(self, deployment_store: DeploymentStore) -> None:
        name = _name()
        made = deployment_store.create_deployment(_draft(name, C), reason="first release")
        assert (made.name, made.model, made.policy, made.revision) == (
            name,
            "churn-classifier",
            C,
            1,
        )
        assert made.description == "serves churn scores"
        assert made.created_at == made.updated_at and made.created_at.tzinfo is not None
        assert deployment_store.get_deployment(name) == made
        (change,) = deployment_store.policy_history(name)
        assert (change.deployment, change.revision, change.kind, change.policy) == (
            name,
            1,
            ChangeKind.CREATE,
            C,
        )
        assert (change.previous, change.restores) == (None, None)
        assert (change.reason, change.changed_at) == ("first release", made.created_at)
        assert change.actor

    def test_the_policy_comes_back_canonical(self, deployment_store: DeploymentStore) -> None:
        name = _name()
        written = TrafficPolicy.of({"v7": 60, "champion": 40}, shadows="V8")
        made = deployment_store.create_deployment(_draft(name, written))
        assert made.policy.routes == (Route("7", 60.0), Route("champion", 40.0))
        assert made.policy.shadows == ("8",)
        assert deployment_store.get_deployment(name).policy == written

    def test_deployments_are_listed_by_name(self, deployment_store: DeploymentStore) -> None:
        names = [_name() for _ in range(3)]
        for name in reversed(names):
            deployment_store.create_deployment(_draft(name))
        listed = [d.name for d in deployment_store.list_deployments()]
        assert listed == sorted(listed) and set(names) <= set(listed)

    def test_a_taken_name_is_refused_and_nothing_changes(
        self, deployment_store: DeploymentStore
    ) -> None:
        name = _name()
        made = deployment_store.create_deployment(_draft(name))
        with pytest.raises(AlreadyExists, match=name):
            deployment_store.create_deployment(_draft(name, B, model="other"))
        assert deployment_store.get_deployment(name) == made
        assert len(deployment_store.policy_history(name)) == 1

    def test_deleting_removes_the_deployment_and_its_history(
        self, deployment_store: DeploymentStore
    ) -> None:
        name = _name()
        deployment_store.create_deployment(_draft(name))
        deployment_store.update_policy(name, B)
        deployment_store.delete_deployment(name)
        with pytest.raises(NotFound, match=name):
            deployment_store.get_deployment(name)
        with pytest.raises(NotFound, match=name):
            deployment_store.policy_history(name)
        assert name not in {d.name for d in deployment_store.list_deployments()}
        again = deployment_store.create_deployment(_draft(name, C))  # the name is free
        assert again.revision == 1
        assert [c.revision for c in deployment_store.policy_history(name)] == [1]

    def test_unknown_deployments_are_not_found(self, deployment_store: DeploymentStore) -> None:
        name = _name()
        calls: list[Callable[[], object]] = [
            lambda: deployment_store.get_deployment(name),
            lambda: deployment_store.update_policy(name, B),
            lambda: deployment_store.update_policy(name, B, expected_revision=1),
            lambda: deployment_store.rollback(name),
            lambda: deployment_store.policy_history(name),
            lambda: deployment_store.delete_deployment(name),
        ]
        for call in calls:
            with pytest.raises(NotFound, match=name):
                call()

    # -- updates -------------------------------------------------------------------

    def test_an_update_is_the_next_revision(self, deployment_store: DeploymentStore) -> None:
        name = _name()
        made = deployment_store.create_deployment(_draft(name))
        updated = deployment_store.update_policy(name, B, reason="canary 10%")
        assert (updated.revision, updated.policy, updated.model) == (2, B, made.model)
        assert updated.created_at == made.created_at and updated.updated_at >= made.updated_at
        assert deployment_store.get_deployment(name) == updated
        newest, oldest = deployment_store.policy_history(name)
        assert (newest.revision, newest.kind, newest.policy, newest.reason) == (
            2,
            ChangeKind.UPDATE,
            B,
            "canary 10%",
        )
        assert (newest.previous, newest.restores) == (1, None)
        assert newest.changed_at == updated.updated_at
        assert oldest.kind is ChangeKind.CREATE

    def test_the_same_policy_again_changes_nothing(self, deployment_store: DeploymentStore) -> None:
        name = _name()
        deployment_store.create_deployment(_draft(name))
        updated = deployment_store.update_policy(name, B)
        assert deployment_store.update_policy(name, B, reason="again") == updated
        assert deployment_store.update_policy(name, B, expected_revision=2) == updated
        assert len(deployment_store.policy_history(name)) == 2

    def test_an_update_from_a_stale_revision_is_a_conflict(
        self, deployment_store: DeploymentStore
    ) -> None:
        name = _name()
        deployment_store.create_deployment(_draft(name))
        updated = deployment_store.update_policy(name, B, expected_revision=1)
        assert updated.revision == 2
        for stale in (1, 3):
            with pytest.raises(Conflict, match=f"revision 2, not {stale}"):
                deployment_store.update_policy(name, C, expected_revision=stale)
        # Even the policy in force is refused from a stale revision: the caller's view
        # of the deployment is out of date.
        with pytest.raises(Conflict):
            deployment_store.update_policy(name, B, expected_revision=1)
        assert deployment_store.get_deployment(name) == updated
        assert len(deployment_store.policy_history(name)) == 2

    def test_of_concurrent_updates_from_one_revision_exactly_one_wins(
        self, deployment_store: DeploymentStore
    ) -> None:
        name = _name()
        deployment_store.create_deployment(_draft(name))
        policies = [TrafficPolicy.of({"champion": 100 - n, str(n): n}) for n in range(1, 6)]
        barrier = threading.Barrier(len(policies))
        won: list[TrafficPolicy] = []
        lost: list[LoopmlError] = []

        def update(policy: TrafficPolicy) -> None:
            barrier.wait()
            try:
                deployment_store.update_policy(name, policy, expected_revision=1)
            except Conflict as exc:
                lost.append(exc)
            else:
                won.append(policy)

        threads = [threading.Thread(target=update, args=(p,)) for p in policies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert (len(won), len(lost)) == (1, len(policies) - 1)
        current = deployment_store.get_deployment(name)
        assert (current.revision, current.policy) == (2, won[0])
        assert [c.revision for c in deployment_store.policy_history(name)] == [2, 1]

    def test_concurrent_updates_without_a_revision_all_apply_in_turn(
        self, deployment_store: DeploymentStore
    ) -> None:
        name = _name()
        deployment_store.create_deployment(_draft(name))
        policies = [TrafficPolicy.of({"champion": 100 - n, str(n): n}) for n in range(1, 5)]
        barrier = threading.Barrier(len(policies))
        errors: list[Exception] = []

        def update(policy: TrafficPolicy) -> None:
            barrier.wait()
            try:
                deployment_store.update_policy(name, policy)
            except Exception as exc:  # any failure fails the test below
                errors.append(exc)

        threads = [threading.Thread(target=update, args=(p,)) for p in policies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        history = deployment_store.policy_history(name)
        assert [c.revision for c in history] == [5, 4, 3, 2, 1]
        assert [c.previous for c in history] == [4, 3, 2, 1, None]
        assert {c.policy for c in history[:4]} == set(policies)

    # -- rollback ------------------------------------------------------------------

    def test_rolling_back_walks_back_one_change_at_a_time(
        self, deployment_store: DeploymentStore
    ) -> None:
        name = _name()
        deployment_store.create_deployment(_draft(name, A))
        deployment_store.update_policy(name, B)
        deployment_store.update_policy(name, C)
        to_b = deployment_store.rollback(name, reason="error rate up")
        assert (to_b.revision, to_b.policy) == (4, B)
        to_a = deployment_store.rollback(name)
        assert (to_a.revision, to_a.policy) == (5, A)
        with pytest.raises(Conflict, match="nothing to roll back to"):
            deployment_store.rollback(name)
        assert deployment_store.get_deployment(name) == to_a
        history = deployment_store.policy_history(name)
        assert [(c.revision, c.kind, c.previous, c.restores) for c in history] == [
            (5, ChangeKind.ROLLBACK, None, 1),
            (4, ChangeKind.ROLLBACK, 1, 2),
            (3, ChangeKind.UPDATE, 2, None),
            (2, ChangeKind.UPDATE, 1, None),
            (1, ChangeKind.CREATE, None, None),
        ]
        assert [c.policy for c in history] == [A, B, C, B, A]
        assert history[1].reason == "error rate up"

    def test_a_new_deployment_has_nothing_to_roll_back_to(
        self, deployment_store: DeploymentStore
    ) -> None:
        name = _name()
        made = deployment_store.create_deployment(_draft(name))
        with pytest.raises(Conflict, match=f"Deployment '{name}' has nothing to roll back to"):
            deployment_store.rollback(name)
        assert deployment_store.get_deployment(name) == made
        assert len(deployment_store.policy_history(name)) == 1

    def test_an_update_after_a_rollback_is_undone_to_the_rollback(
        self, deployment_store: DeploymentStore
    ) -> None:
        name = _name()
        deployment_store.create_deployment(_draft(name, A))
        deployment_store.update_policy(name, B)
        deployment_store.update_policy(name, C)
        deployment_store.rollback(name)  # revision 4: B, previous 1
        deployment_store.update_policy(name, C)  # revision 5: C, previous 4
        back = deployment_store.rollback(name)  # revision 6: B again, previous 1
        assert (back.revision, back.policy) == (6, B)
        newest = deployment_store.policy_history(name)[0]
        assert (newest.previous, newest.restores) == (1, 4)
        assert deployment_store.rollback(name).policy == A

    def test_a_rollback_respects_a_concurrent_update(
        self, deployment_store: DeploymentStore
    ) -> None:
        name = _name()
        deployment_store.create_deployment(_draft(name, A))
        deployment_store.update_policy(name, B)
        deployment_store.rollback(name)
        with pytest.raises(Conflict, match="revision 3, not 2"):
            deployment_store.update_policy(name, C, expected_revision=2)
        assert deployment_store.get_deployment(name).policy == A

    # -- bad input -----------------------------------------------------------------

    @pytest.mark.parametrize(
        "name", ["", "a/b", "..", "-lead", "x" * 251, "spa ce"], ids=lambda n: repr(n)[:12]
    )
    def test_a_malformed_name_is_refused_everywhere(
        self, deployment_store: DeploymentStore, name: str
    ) -> None:
        calls: list[Callable[[], object]] = [
            lambda: deployment_store.create_deployment(_draft(name)),
            lambda: deployment_store.get_deployment(name),
            lambda: deployment_store.update_policy(name, B),
            lambda: deployment_store.rollback(name),
            lambda: deployment_store.policy_history(name),
            lambda: deployment_store.delete_deployment(name),
        ]
        for call in calls:
            with pytest.raises(InvalidInput, match="Deployment name"):
                call()

    @pytest.mark.parametrize(
        ("draft", "message"),
        [
            (DeploymentDraft("ok", "a/b", A), "Model name 'a/b'"),
            (DeploymentDraft("ok", "", A), "Model name ''"),
            (DeploymentDraft("ok", "m", "champion=100"), "must be a TrafficPolicy"),  # type: ignore[arg-type]
            (
                DeploymentDraft("ok", "m", TrafficPolicy((Route("champion", 60.0),))),
                "add up to 100%, got 60%",
            ),
            (
                DeploymentDraft("ok", "m", TrafficPolicy((Route("Bad Alias", 100.0),))),
                "Route target 'Bad Alias'",
            ),
            (DeploymentDraft("ok", "m", A, description=7), "description"),  # type: ignore[arg-type]
            (DeploymentDraft("ok", "m", A, description="d" * 8001), "description"),
        ],
        ids=[
            "model-slash",
            "model-empty",
            "not-a-policy",
            "weights",
            "target",
            "desc-type",
            "desc-long",
        ],
    )
    def test_a_malformed_draft_is_refused_naming_the_field(
        self, deployment_store: DeploymentStore, draft: DeploymentDraft, message: str
    ) -> None:
        name = _name()
        bad = DeploymentDraft(name, draft.model, draft.policy, draft.description)
        with pytest.raises(InvalidInput, match=message):
            deployment_store.create_deployment(bad)
        with pytest.raises(NotFound):
            deployment_store.get_deployment(name)

    def test_a_too_long_reason_is_refused(self, deployment_store: DeploymentStore) -> None:
        name = _name()
        with pytest.raises(InvalidInput, match="reason must be text of at most 8000"):
            deployment_store.create_deployment(_draft(name), reason="r" * 8001)
        deployment_store.create_deployment(_draft(name))
        with pytest.raises(InvalidInput, match="reason"):
            deployment_store.update_policy(name, B, reason="r" * 8001)
        with pytest.raises(InvalidInput, match="reason"):
            deployment_store.rollback(name, reason="r" * 8001)
        assert deployment_store.get_deployment(name).revision == 1

    @pytest.mark.parametrize("bad", [0, -1, True, "1", 1.0], ids=repr)
    def test_a_malformed_expected_revision_is_refused(
        self, deployment_store: DeploymentStore, bad: object
    ) -> None:
        name = _name()
        deployment_store.create_deployment(_draft(name))
        with pytest.raises(InvalidInput, match="expected_revision must be a revision number"):
            deployment_store.update_policy(name, B, expected_revision=bad)  # type: ignore[arg-type]
        assert deployment_store.get_deployment(name).revision == 1

    @pytest.mark.parametrize(
        ("policy", "message"),
        [
            (None, "must be a TrafficPolicy .*, got NoneType"),
            ({"champion": 100}, "must be a TrafficPolicy .*, got dict"),
            (TrafficPolicy(()), "at least one route"),
            (TrafficPolicy((Route("a", 50.0), Route("b", 60.0))), "got 110%"),
            (TrafficPolicy((Route("a", float("nan")),)), "above 0"),
            (TrafficPolicy((Route("a", 100.0),), ("a",)), "named twice"),
            (TrafficPolicy((Route("a", 100.0),), (), "no spaces"), "Sticky key"),
        ],
        ids=["none", "dict", "no-route", "sum", "nan", "shadow-is-route", "sticky"],
    )
    def test_a_malformed_policy_update_is_refused(
        self, deployment_store: DeploymentStore, policy: object, message: str
    ) -> None:
        name = _name()
        made = deployment_store.create_deployment(_draft(name))
        with pytest.raises(InvalidInput, match=message):
            deployment_store.update_policy(name, policy)  # type: ignore[arg-type]
        assert deployment_store.get_deployment(name) == made

    def test_times_are_utc(self, deployment_store: DeploymentStore) -> None:
        name = _name()
        made = deployment_store.create_deployment(_draft(name))
        (change,) = deployment_store.policy_history(name)
        for moment in (made.created_at, made.updated_at, change.changed_at):
            assert moment.utcoffset() == timedelta(0)
