"""The deployment contract suite against the REST adapter over real HTTP, and what is
particular to the deployment routes: their OpenAPI listing, the wire format of a
policy, and how bad input and store errors come back to the client."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from loopml.domain.deployments import DeploymentDraft, Route, TrafficPolicy
from loopml.errors import InvalidInput, LoopmlError
from loopml.store import DeploymentStore
from loopml.store.rest import HttpTransport, RestDeploymentStore
from loopml.store.rest.schemas import API_PREFIX
from loopml.store.sql import SqlDeploymentStore, Transactions, create_store_engine
from loopml.testing.deployments import DeploymentStoreContract
from tests.server.conftest import openapi_routes

A = TrafficPolicy.of({"champion": 100})
B = TrafficPolicy.of({"champion": 90, "challenger": 10})


@pytest.fixture(scope="module")
def transport(live_server: str) -> Iterator[HttpTransport]:
    http = HttpTransport(live_server, timeout=30)
    yield http
    http.close()


@pytest.fixture(scope="module")
def rest_store(transport: HttpTransport) -> RestDeploymentStore:
    return RestDeploymentStore(transport)


class TestRestDeployments(DeploymentStoreContract):
    @pytest.fixture
    def deployment_store(self, rest_store: RestDeploymentStore) -> RestDeploymentStore:
        return rest_store


def _name() -> str:
    return f"dep-{uuid.uuid4().hex[:8]}"


def _url(live_server: str, path: str) -> str:
    return f"{live_server}{API_PREFIX}{path}"


# -- routes and wire format ---------------------------------------------------------------


def test_openapi_lists_the_deployment_routes(live_server: str) -> None:
    routes = openapi_routes(live_server)
    assert {
        ("POST", "/deployments"),
        ("GET", "/deployments"),
        ("GET", "/deployments/{name}"),
        ("DELETE", "/deployments/{name}"),
        ("PUT", "/deployments/{name}/policy"),
        ("POST", "/deployments/{name}/rollback"),
        ("GET", "/deployments/{name}/history"),
    } <= routes


def test_a_policy_travels_as_to_json_writes_it(
    live_server: str, rest_store: RestDeploymentStore
) -> None:
    name = _name()
    policy = TrafficPolicy.of({"champion": 90, "v8": 10}, shadows=["latest"], sticky_key="uid")
    rest_store.create_deployment(DeploymentDraft(name, "churn", policy))
    body = httpx.get(_url(live_server, f"/deployments/{name}"), timeout=10).json()
    assert body["policy"] == policy.to_json()
    assert (body["revision"], body["model"]) == (1, "churn")
    assert body["created_at"].endswith(("Z", "+00:00"))
    history = httpx.get(_url(live_server, f"/deployments/{name}/history"), timeout=10).json()
    assert [(c["revision"], c["kind"]) for c in history["changes"]] == [(1, "create")]


def test_a_deployment_named_like_a_route_is_still_reachable(
    rest_store: RestDeploymentStore,
) -> None:
    for name in ("history", "policy", "rollback"):
        rest_store.create_deployment(DeploymentDraft(name, "m", A))
        try:
            assert rest_store.get_deployment(name).name == name
            assert rest_store.update_policy(name, B).revision == 2
        finally:
            rest_store.delete_deployment(name)


# -- bad input ----------------------------------------------------------------------------


def test_an_invalid_policy_sent_raw_is_refused_in_the_domain_words(live_server: str) -> None:
    body = {
        "name": _name(),
        "model": "churn",
        "policy": {"routes": [{"target": "champion", "weight": 60}], "shadows": []},
    }
    response = httpx.post(_url(live_server, "/deployments"), json=body, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "InvalidInput"
    assert error["message"] == "Traffic weights must add up to 100%, got 60% (champion=60)."


def test_a_malformed_body_is_a_422_naming_the_field(live_server: str) -> None:
    url = _url(live_server, "/deployments/some-name/policy")
    response = httpx.put(url, json={"policy": {"routes": "champion"}}, timeout=10)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "InvalidInput" and "field 'policy.routes'" in error["message"]


def test_an_expected_revision_that_is_not_a_number_is_refused(live_server: str) -> None:
    url = _url(live_server, "/deployments/some-name/policy")
    body = {"policy": A.to_json(), "expected_revision": "latest"}
    response = httpx.put(url, json=body, timeout=10)
    assert response.status_code == 422
    assert "field 'expected_revision'" in response.json()["error"]["message"]


@pytest.mark.parametrize("name", ["", ".", "..", "a/b"], ids=repr)
def test_a_name_that_cannot_be_a_path_segment_is_refused_before_sending(
    rest_store: RestDeploymentStore, name: str
) -> None:
    calls: list[Callable[[], object]] = [
        lambda: rest_store.get_deployment(name),
        lambda: rest_store.update_policy(name, B),
        lambda: rest_store.rollback(name),
        lambda: rest_store.policy_history(name),
        lambda: rest_store.delete_deployment(name),
    ]
    for call in calls:
        with pytest.raises(InvalidInput, match="Deployment name"):
            call()


# -- store errors keep their class and message --------------------------------------------


@pytest.fixture(scope="module")
def sql_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlDeploymentStore]:
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('local') / 'x.db'}")
    yield SqlDeploymentStore(Transactions(engine, actor="local@host"))
    engine.dispose()


_FAILURES: dict[str, Callable[[DeploymentStore, str], object]] = {
    "no-deployment": lambda s, name: s.get_deployment(f"{name}-x"),
    "no-history": lambda s, name: s.policy_history(f"{name}-x"),
    "name-taken": lambda s, name: s.create_deployment(DeploymentDraft(name, "m", B)),
    "bad-name": lambda s, name: s.get_deployment(f"{name} x"),
    "bad-model": lambda s, name: s.create_deployment(DeploymentDraft(f"{name}-m", "a/b", A)),
    "bad-policy": lambda s, name: s.update_policy(name, TrafficPolicy((Route("a", 5.0),))),
    "stale-revision": lambda s, name: s.update_policy(name, B, expected_revision=7),
    "bad-revision": lambda s, name: s.update_policy(name, B, expected_revision=True),
    "long-reason": lambda s, name: s.rollback(name, reason="r" * 9000),
    "nothing-to-undo": lambda s, name: s.rollback(name),
}


@pytest.mark.parametrize("failure", list(_FAILURES))
def test_store_errors_come_back_with_the_same_class_and_message(
    rest_store: RestDeploymentStore, sql_store: SqlDeploymentStore, failure: str
) -> None:
    name = _name()
    caught: list[LoopmlError] = []
    for store in (sql_store, rest_store):
        store.create_deployment(DeploymentDraft(name, "m", A))
        with pytest.raises(LoopmlError) as error:
            _FAILURES[failure](store, name)
        caught.append(error.value)
    local, remote = caught
    assert type(remote) is type(local)
    assert str(remote) == str(local)
