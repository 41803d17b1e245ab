"""The registry contract suites against the REST adapters over real HTTP, and what is
particular to the registry's routes: their OpenAPI listing, the wire form of a move's
expectation, and how bad input and store errors come back to the client."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from loopml.domain import VersionDraft, VersionStatus
from loopml.domain.sentinel import NOT_GIVEN
from loopml.errors import Conflict, InvalidInput, LoopmlError
from loopml.store.rest import (
    HttpTransport,
    RestAliasStore,
    RestExperimentStore,
    RestModelStore,
    RestRunStore,
)
from loopml.store.rest.registry_schemas import AliasMoveRequest, VersionUpdateBody
from loopml.store.rest.schemas import API_PREFIX
from loopml.store.sql import (
    SqlAliasStore,
    SqlExperimentStore,
    SqlModelStore,
    SqlRunStore,
    Transactions,
    create_store_engine,
)
from loopml.testing.registry import AliasStoreContract, ModelStoreContract, RegistryStores
from tests.server.conftest import openapi_routes

DIGEST = "ab" * 32


@pytest.fixture(scope="module")
def transport(live_server: str) -> Iterator[HttpTransport]:
    http = HttpTransport(live_server, timeout=30)
    yield http
    http.close()


@pytest.fixture(scope="module")
def rest_stores(transport: HttpTransport) -> RegistryStores:
    return RegistryStores(
        RestExperimentStore(transport),
        RestRunStore(transport),
        RestModelStore(transport),
        RestAliasStore(transport),
    )


class TestRestRegistry(ModelStoreContract, AliasStoreContract):
    @pytest.fixture
    def registry_stores(self, rest_stores: RegistryStores) -> RegistryStores:
        return rest_stores


def _model(stores: RegistryStores, versions: int = 1) -> str:
    name = f"model-{uuid.uuid4().hex[:8]}"
    for _ in range(versions):
        stores.models.create_version(VersionDraft(name, "sklearn", "{}", DIGEST))
    return name


# -- routes and wire format -----------------------------------------------------------


def test_openapi_lists_the_registry_routes(live_server: str) -> None:
    routes = openapi_routes(live_server)
    assert {
        ("POST", "/models"),
        ("GET", "/models"),
        ("GET", "/models/{name}"),
        ("PATCH", "/models/{name}"),
        ("POST", "/models/{name}/versions"),
        ("GET", "/models/{name}/versions"),
        ("GET", "/models/{name}/versions/{version}"),
        ("PATCH", "/models/{name}/versions/{version}"),
        ("DELETE", "/models/{name}/versions/{version}"),
        ("PUT", "/models/{name}/aliases/{alias}"),
        ("GET", "/models/{name}/aliases:history"),
        ("POST", "/approvals"),
        ("GET", "/approvals"),
        ("POST", "/approvals/{request_id}:decide"),
    } <= routes


@pytest.mark.parametrize(
    ("expected_from", "wire"),
    [
        pytest.param(NOT_GIVEN, b'{"to_version":2,"reason":""}', id="not-given-is-absent"),
        pytest.param(None, b'{"to_version":2,"expected_from":null,"reason":""}', id="none"),
        pytest.param(1, b'{"to_version":2,"expected_from":1,"reason":""}', id="version"),
    ],
)
def test_move_expectation_survives_the_wire(expected_from: object, wire: bytes) -> None:
    request = AliasMoveRequest.of(2, expected_from, "")  # type: ignore[arg-type]
    assert request.to_json() == wire
    assert AliasMoveRequest.from_json(wire).expected() == expected_from


def test_unconditional_move_ignores_where_the_alias_points(rest_stores: RegistryStores) -> None:
    name = _model(rest_stores, versions=2)
    rest_stores.aliases.move_alias(name, "champion", 1)
    moved = rest_stores.aliases.move_alias(name, "champion", 2)
    assert (moved.from_version, moved.to_version) == (1, 2)


def test_expecting_an_unset_alias_creates_it_only_once(rest_stores: RegistryStores) -> None:
    name = _model(rest_stores, versions=2)
    created = rest_stores.aliases.move_alias(name, "champion", 1, expected_from=None)
    assert created.from_version is None
    with pytest.raises(Conflict, match="not no version as expected"):
        rest_stores.aliases.move_alias(name, "champion", 2, expected_from=None)


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "field"),
    [
        pytest.param("GET", "/models/m/versions/abc", {}, "path parameter 'version'", id="version"),
        pytest.param("DELETE", "/models/m/versions/1.5", {}, "'version'", id="version-float"),
        pytest.param("GET", "/approvals", {"status": "bogus"}, "'status'", id="status"),
    ],
)
def test_malformed_path_or_query_is_invalid_input_naming_the_field(
    transport: HttpTransport, method: str, path: str, params: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput, match=field) as caught:
        transport.call(method, path, params=params)
    assert "got" in str(caught.value)


def test_malformed_body_is_a_422_naming_the_field(live_server: str) -> None:
    url = f"{live_server}{API_PREFIX}/models/m/versions/1"
    response = httpx.patch(url, json={"status": "bogus"}, timeout=10)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "InvalidInput"
    assert "field 'status'" in error["message"] and "'bogus'" in error["message"]


def test_malformed_body_through_the_client_is_invalid_input(transport: HttpTransport) -> None:
    body = VersionUpdateBody.model_construct(status="bogus")  # unchecked, as a buggy client
    with pytest.raises(InvalidInput, match="field 'status'"):
        transport.call("PATCH", "/models/m/versions/1", body=body)


def test_missing_to_version_is_invalid_input(transport: HttpTransport) -> None:
    body = AliasMoveRequest.model_construct(reason="no target")
    with pytest.raises(InvalidInput, match="Missing field 'to_version'"):
        transport.call("PUT", "/models/m/aliases/champion", body=body)


@pytest.mark.parametrize("name", ["", "..", "a/b"])
def test_a_name_that_cannot_be_a_path_segment_is_refused_before_sending(
    rest_stores: RegistryStores, name: str
) -> None:
    with pytest.raises(InvalidInput, match="Model name"):
        rest_stores.models.get_model(name)
    with pytest.raises(InvalidInput, match="Model name"):
        rest_stores.models.create_version(VersionDraft(name, "sklearn", "{}", DIGEST))


# -- store errors keep their class and message ------------------------------------------


@pytest.fixture(scope="module")
def sql_stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryStores]:
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('local') / 'x.db'}")
    tx = Transactions(engine, actor="local@host")
    yield RegistryStores(
        SqlExperimentStore(tx), SqlRunStore(tx), SqlModelStore(tx), SqlAliasStore(tx)
    )
    engine.dispose()


_FAILURES: dict[str, Callable[[RegistryStores, str], object]] = {
    "not-found": lambda s, name: s.models.get_version(name, 9),
    "already-exists": lambda s, name: s.models.create_model(name),
    "invalid-input": lambda s, name: s.aliases.move_alias(name, "Champion", 1),
    "conflict": lambda s, name: s.aliases.move_alias(name, "champion", 1, expected_from=None),
    "permission-denied": lambda s, name: s.aliases.move_alias(name, "guarded", 1),
    "conflict-archive": lambda s, name: s.models.update_version(
        name, 1, VersionUpdateBody(status=VersionStatus.ARCHIVED).to_domain()
    ),
}


@pytest.mark.parametrize("failure", list(_FAILURES))
def test_store_errors_come_back_with_the_same_class_and_message(
    rest_stores: RegistryStores, sql_stores: RegistryStores, failure: str
) -> None:
    name = f"same-{uuid.uuid4().hex[:8]}"
    caught: list[LoopmlError] = []
    for stores in (sql_stores, rest_stores):
        stores.models.create_model(name, protected_aliases=("guarded",))
        stores.models.create_version(VersionDraft(name, "sklearn", "{}", DIGEST))
        stores.aliases.move_alias(name, "champion", 1)
        with pytest.raises(LoopmlError) as error:
            _FAILURES[failure](stores, name)
        caught.append(error.value)
    local, remote = caught
    assert type(remote) is type(local)
    assert str(remote) == str(local)
