"""Deployments through the Python API, over real registered scikit-learn models: every
target is checked against the registry before anything is stored, on SQLite and once
through a real ``loopml server`` process."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import loopml
from loopml.config import Settings
from loopml.domain.deployments import ChangeKind, Route, TrafficPolicy
from loopml.errors import AlreadyExists, Conflict, InvalidInput, LoopmlError, NotFound
from loopml.registry import ModelRegistry
from loopml.serving._deployments import (
    create_deployment,
    delete_deployment,
    deployment_history,
    get_deployment,
    list_deployments,
    resolve_deployment,
    rollback_deployment,
    update_deployment,
)
from loopml.tracking import Client, set_default_client
from tests.server.conftest import live_server, remote_settings

__all__ = ["live_server", "remote_settings"]

CANARY = {"champion": 90, "challenger": 10}


def _fitted() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"age": rng.normal(40, 9, 60), "income": rng.normal(50, 10, 60)})
    target = (frame["income"] > 50).to_numpy().astype(int)
    return LogisticRegression().fit(frame, target), frame


def register(client: Client, name: str, versions: int) -> None:
    """Log ``versions`` versions of a real scikit-learn model as ``name``."""
    model, frame = _fitted()
    registry = ModelRegistry(client)
    for _ in range(versions):
        registry.log_model(model, name, input_example=frame.head(3))


def register_churn(client: Client) -> None:
    """Model ``churn``: versions 1-3, champion → 2, challenger → 3."""
    register(client, "churn", 3)
    registry = ModelRegistry(client)
    registry.set_alias("churn", "champion", 2)
    registry.set_alias("churn", "challenger", 3)


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    """A client over an empty SQLite home, also the fluent API's default."""
    made = Client(settings, capture_environment=False)
    set_default_client(made)
    yield made
    while loopml.active_run() is not None:
        loopml.end_run()
    made.close()
    set_default_client(None)


@pytest.fixture
def churn(client: Client) -> Client:
    register_churn(client)
    return client


def _state(client: Client, name: str = "api") -> list[tuple[int, ChangeKind, TrafficPolicy]]:
    """The deployment's history as (revision, kind, policy), newest first."""
    return [(c.revision, c.kind, c.policy) for c in deployment_history(name, client)]


# -- creating ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "routes",
    [
        CANARY,
        [Route("champion", 90), Route("challenger", 10)],
        ["champion=90", "challenger=10"],
        [("champion", 90), "challenger=10"],
    ],
    ids=["mapping", "routes", "texts", "mixed"],
)
def test_create_takes_routes_in_every_form(churn: Client, routes: Any) -> None:
    created = create_deployment("api", "churn", routes, client=churn)
    assert created.policy == TrafficPolicy.of(CANARY)
    assert (created.name, created.model, created.revision) == ("api", "churn", 1)
    assert get_deployment("api", churn) == created


def test_create_stores_shadows_sticky_key_description_and_reason(churn: Client) -> None:
    created = create_deployment(
        "api",
        "churn",
        "champion=100",
        shadows=["challenger", "1"],
        sticky_key="customer_id",
        description="churn scores for the CRM",
        reason="first release",
        client=churn,
    )
    assert created.policy == TrafficPolicy.of({"champion": 100}, ("challenger", "1"), "customer_id")
    assert created.description == "churn scores for the CRM"
    (change,) = deployment_history("api", churn)
    assert (change.revision, change.kind, change.reason) == (1, ChangeKind.CREATE, "first release")


def test_create_accepts_version_numbers_and_latest(churn: Client) -> None:
    created = create_deployment("api", "churn", {3: 50, "v1": 25, "latest": 25}, client=churn)
    assert created.policy.targets == ("3", "1", "latest")
    assert resolve_deployment("api", churn) == {"3": 3, "1": 1, "latest": 3}


def test_the_default_client_is_the_fluent_apis(churn: Client) -> None:
    create_deployment("api", "churn", {"champion": 100})
    assert [d.name for d in list_deployments()] == ["api"]
    assert list_deployments(churn) == list_deployments()


_BAD_CREATES: dict[str, tuple[dict[str, Any], type[LoopmlError], list[str]]] = {
    "unknown-model": (
        {"model": "ghost"},
        NotFound,
        ["No registered model named 'ghost'"],
    ),
    "unknown-alias": (
        {"routes": {"champion": 90, "gold": 10}},
        InvalidInput,
        ["no alias 'gold'", "its aliases: challenger→3, champion→2", "its versions: 1-3"],
    ),
    "unknown-version": (
        {"routes": {"champion": 90, "9": 10}},
        InvalidInput,
        ["no version 9", "champion→2", "its versions: 1-3"],
    ),
    "unknown-shadow": (
        {"shadows": ["bronze", "7"]},
        InvalidInput,
        ["no alias 'bronze' and no version 7"],
    ),
    "weights": (
        {"routes": {"champion": 80, "challenger": 10}},
        InvalidInput,
        ["add up to 100%, got 90%"],
    ),
    "duplicate-target": (
        {"shadows": ["champion"]},
        InvalidInput,
        ["'champion' is named twice"],
    ),
    "bad-sticky-key": (
        {"sticky_key": "customer id"},
        InvalidInput,
        ["Sticky key 'customer id' is invalid"],
    ),
    "route-text": ({"routes": ["champion"]}, InvalidInput, ["expected TARGET=PERCENT"]),
    "route-weight": ({"routes": ["champion=most"]}, InvalidInput, ["'most' is not a number"]),
    "no-route": ({"routes": []}, InvalidInput, ["at least one route"]),
    "routes-not-a-list": ({"routes": 100}, InvalidInput, ["Routes must be"]),
    "bad-target": ({"routes": {"Champion!": 100}}, InvalidInput, ["'Champion!' is invalid"]),
    "bad-name": ({"name": "my api"}, InvalidInput, ["Deployment name"]),
    "bad-model-name": ({"model": "a/b"}, InvalidInput, ["'a/b'"]),
    "long-reason": ({"reason": "r" * 9000}, InvalidInput, ["reason must be text"]),
}


@pytest.mark.parametrize("case", list(_BAD_CREATES))
def test_a_bad_create_is_refused_with_a_clear_message_and_stores_nothing(
    churn: Client, case: str
) -> None:
    changes, error, fragments = _BAD_CREATES[case]
    arguments: dict[str, Any] = {"name": "api", "model": "churn", "routes": CANARY} | changes
    with pytest.raises(error) as caught:
        create_deployment(**arguments, client=churn)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert list_deployments(churn) == []


def test_latest_of_a_model_without_versions_is_refused(churn: Client) -> None:
    ModelRegistry(churn).create_model("empty")
    with pytest.raises(InvalidInput) as caught:
        create_deployment("api", "empty", {"latest": 100}, client=churn)
    assert "Model 'empty' has no version that is not archived (for 'latest')" in str(caught.value)
    assert "its aliases: none; its versions: none" in str(caught.value)
    assert list_deployments(churn) == []


def test_a_taken_name_is_refused_and_the_deployment_stays_as_it_was(churn: Client) -> None:
    create_deployment("api", "churn", CANARY, client=churn)
    with pytest.raises(AlreadyExists, match="'api' exists"):
        create_deployment("api", "churn", {"challenger": 100}, client=churn)
    assert _state(churn) == [(1, ChangeKind.CREATE, TrafficPolicy.of(CANARY))]


# -- updating ----------------------------------------------------------------------------


@pytest.fixture
def api(churn: Client) -> Client:
    """Deployment ``api`` of ``churn``: 90/10 canary, shadow 1, sticky on customer."""
    create_deployment("api", "churn", CANARY, shadows=["1"], sticky_key="customer", client=churn)
    return churn


def test_update_changes_what_is_given_and_keeps_the_rest(api: Client) -> None:
    updated = update_deployment("api", routes=["champion=50", "challenger=50"], client=api)
    assert updated.revision == 2
    assert updated.policy == TrafficPolicy.of({"champion": 50, "challenger": 50}, ["1"], "customer")
    updated = update_deployment("api", shadows=["latest"], reason="watch latest", client=api)
    assert (updated.policy.shadows, updated.policy.sticky_key) == (("latest",), "customer")
    assert updated.policy.routes == TrafficPolicy.of({"champion": 50, "challenger": 50}).routes
    change = deployment_history("api", api)[0]
    assert (change.revision, change.kind, change.reason) == (3, ChangeKind.UPDATE, "watch latest")


def test_update_removes_the_shadows_and_the_sticky_key_when_asked(api: Client) -> None:
    updated = update_deployment("api", shadows=(), sticky_key=None, client=api)
    assert updated.policy == TrafficPolicy.of(CANARY)
    assert update_deployment("api", sticky_key="region", client=api).policy.sticky_key == "region"


def test_an_update_to_the_policy_in_force_makes_no_revision(api: Client) -> None:
    assert update_deployment("api", routes=CANARY, client=api).revision == 1
    assert len(deployment_history("api", api)) == 1


def test_update_with_the_expected_revision_goes_through(api: Client) -> None:
    updated = update_deployment("api", routes={"champion": 100}, expected_revision=1, client=api)
    assert updated.revision == 2


def test_an_update_re_reads_what_it_keeps_when_changed_meanwhile(
    api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = api.stores.deployments
    real_update = store.update_policy
    racing = TrafficPolicy.of(CANARY, ["3"], "region")

    def update_after_another_writer(name: str, policy: TrafficPolicy, **kwargs: Any) -> Any:
        monkeypatch.setattr(store, "update_policy", real_update)
        real_update(name, racing, reason="the other writer")  # lands between read and write
        return real_update(name, policy, **kwargs)

    monkeypatch.setattr(store, "update_policy", update_after_another_writer)
    updated = update_deployment("api", routes={"champion": 100}, client=api)
    # The shadows and sticky key kept are the other writer's, not the ones first read.
    assert updated.policy == TrafficPolicy.of({"champion": 100}, ["3"], "region")
    assert [(r, k) for r, k, _ in _state(api)] == [
        (3, ChangeKind.UPDATE),
        (2, ChangeKind.UPDATE),
        (1, ChangeKind.CREATE),
    ]


_BAD_UPDATES: dict[str, tuple[dict[str, Any], type[LoopmlError], str]] = {
    "nothing-to-change": ({}, InvalidInput, "Nothing to change in deployment 'api'"),
    "unknown-alias": ({"routes": {"gold": 100}}, InvalidInput, "no alias 'gold'"),
    "unknown-version": ({"shadows": ["12"]}, InvalidInput, "no version 12"),
    "weights": ({"routes": ["champion=50", "challenger=49"]}, InvalidInput, "got 99%"),
    "duplicate-target": ({"routes": {"1": 100}}, InvalidInput, "'1' is named twice"),
    "bad-sticky-key": ({"sticky_key": "9lives"}, InvalidInput, "Sticky key '9lives'"),
    "stale-revision": (
        {"routes": {"champion": 100}, "expected_revision": 7},
        Conflict,
        "is at revision 1, not 7 as expected",
    ),
    "bad-revision": (
        {"routes": {"champion": 100}, "expected_revision": 0},
        InvalidInput,
        "expected_revision must be",
    ),
}


@pytest.mark.parametrize("case", list(_BAD_UPDATES))
def test_a_bad_update_is_refused_with_a_clear_message_and_changes_nothing(
    api: Client, case: str
) -> None:
    changes, error, fragment = _BAD_UPDATES[case]
    before = get_deployment("api", api)
    with pytest.raises(error) as caught:
        update_deployment("api", **changes, client=api)
    assert fragment in str(caught.value)
    assert get_deployment("api", api) == before
    assert [(r, k) for r, k, _ in _state(api)] == [(1, ChangeKind.CREATE)]


def test_a_stale_revision_is_refused_before_the_targets_are_checked(api: Client) -> None:
    update_deployment("api", routes={"champion": 100}, client=api)
    with pytest.raises(Conflict, match="at revision 2, not 1"):
        update_deployment("api", routes={"gold": 100}, expected_revision=1, client=api)


# -- rolling back, resolving, deleting ---------------------------------------------------


def test_rollback_walks_back_like_undo(api: Client) -> None:
    first = get_deployment("api", api).policy
    second = update_deployment("api", routes={"champion": 100}, client=api).policy
    update_deployment("api", routes={"challenger": 100}, client=api)
    back = rollback_deployment("api", reason="latency", client=api)
    assert (back.revision, back.policy) == (4, second)
    assert rollback_deployment("api", client=api).policy == first
    change = deployment_history("api", api)[1]
    assert (change.kind, change.restores, change.reason) == (ChangeKind.ROLLBACK, 2, "latency")


def test_rollback_with_nothing_before_is_a_conflict_and_changes_nothing(api: Client) -> None:
    with pytest.raises(Conflict, match="nothing to roll back to"):
        rollback_deployment("api", client=api)
    assert [(r, k) for r, k, _ in _state(api)] == [(1, ChangeKind.CREATE)]


def test_resolve_names_the_version_of_each_target_now(api: Client) -> None:
    assert resolve_deployment("api", api) == {"champion": 2, "challenger": 3, "1": 1}
    registry = ModelRegistry(api)
    registry.set_alias("churn", "champion", 3)
    registry.remove_alias("churn", "challenger")
    assert resolve_deployment("api", api) == {"champion": 3, "challenger": None, "1": 1}


def test_delete_removes_the_deployment_and_its_history(api: Client) -> None:
    delete_deployment("api", api)
    assert list_deployments(api) == []
    with pytest.raises(NotFound):
        deployment_history("api", api)
    assert ModelRegistry(api).get_model("churn").aliases == {"champion": 2, "challenger": 3}


_ON_A_DEPLOYMENT: dict[str, Callable[[Client], object]] = {
    "get": lambda c: get_deployment("ghost", c),
    "update": lambda c: update_deployment("ghost", routes={"champion": 100}, client=c),
    "rollback": lambda c: rollback_deployment("ghost", client=c),
    "history": lambda c: deployment_history("ghost", c),
    "resolve": lambda c: resolve_deployment("ghost", c),
    "delete": lambda c: delete_deployment("ghost", c),
}


@pytest.mark.parametrize("verb", list(_ON_A_DEPLOYMENT))
def test_an_unknown_deployment_is_not_found(api: Client, verb: str) -> None:
    with pytest.raises(NotFound, match="No deployment named 'ghost'"):
        _ON_A_DEPLOYMENT[verb](api)
    assert [d.name for d in list_deployments(api)] == ["api"]


# -- over REST ---------------------------------------------------------------------------


def test_the_same_functions_work_through_a_real_server(remote_settings: Settings) -> None:
    model, name = f"churn-{uuid.uuid4().hex[:8]}", f"api-{uuid.uuid4().hex[:8]}"
    with Client(remote_settings, capture_environment=False) as remote:
        register(remote, model, 2)
        ModelRegistry(remote).set_alias(model, "champion", 1)
        created = create_deployment(name, model, {"champion": 80, "2": 20}, client=remote)
        assert created.revision == 1
        with pytest.raises(InvalidInput, match="no alias 'gold'"):
            update_deployment(name, routes={"gold": 100}, client=remote)
        updated = update_deployment(name, shadows=["latest"], expected_revision=1, client=remote)
        assert updated.policy.shadows == ("latest",)
        assert resolve_deployment(name, remote) == {"champion": 1, "2": 2, "latest": 2}
        assert rollback_deployment(name, client=remote).policy == created.policy
        kinds = [change.kind for change in deployment_history(name, remote)]
        assert kinds == [ChangeKind.ROLLBACK, ChangeKind.UPDATE, ChangeKind.CREATE]
        assert name in [d.name for d in list_deployments(remote)]
        delete_deployment(name, remote)
        with pytest.raises(NotFound):
            get_deployment(name, remote)
