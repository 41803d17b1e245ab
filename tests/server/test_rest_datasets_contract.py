"""The dataset contract suite against the REST adapter over real HTTP, and what is
particular to the dataset routes: their OpenAPI listing, the wire form of a version,
and how bad input and store errors come back to the client."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from loopml.domain import CheckReportRecord, DatasetVersionDraft
from loopml.errors import InvalidInput, LoopmlError
from loopml.store.rest import (
    HttpTransport,
    RestDatasetStore,
    RestExperimentStore,
    RestRunStore,
)
from loopml.store.rest.data_schemas import DatasetVersionDraftBody
from loopml.store.rest.schemas import API_PREFIX
from loopml.store.sql import (
    SqlDatasetStore,
    SqlExperimentStore,
    SqlRunStore,
    Transactions,
    create_store_engine,
)
from loopml.testing.datasets import DatasetStoreContract, DatasetStores
from tests.server.conftest import openapi_routes

DIGEST = "ab" * 32


@pytest.fixture(scope="module")
def transport(live_server: str) -> Iterator[HttpTransport]:
    http = HttpTransport(live_server, timeout=30)
    yield http
    http.close()


@pytest.fixture(scope="module")
def rest_stores(transport: HttpTransport) -> DatasetStores:
    return DatasetStores(
        RestExperimentStore(transport), RestRunStore(transport), RestDatasetStore(transport)
    )


class TestRestDatasets(DatasetStoreContract):
    @pytest.fixture
    def dataset_stores(self, rest_stores: DatasetStores) -> DatasetStores:
        return rest_stores


def _name() -> str:
    return f"data-{uuid.uuid4().hex[:8]}"


def _draft(name: str, content: str = "c") -> DatasetVersionDraft:
    return DatasetVersionDraft(name, DIGEST, (content * 64)[:64], 3, 1234)


def _draft_json(**fields: object) -> dict[str, object]:
    body = {"manifest_digest": DIGEST, "content_digest": DIGEST, "file_count": 1}
    return {**body, "total_bytes": 10, **fields}


# -- routes and wire format -----------------------------------------------------------


def test_openapi_lists_the_dataset_routes(live_server: str) -> None:
    routes = openapi_routes(live_server)
    assert {
        ("POST", "/datasets/{name}/versions"),
        ("GET", "/datasets"),
        ("GET", "/datasets/{name}/versions"),
        ("GET", "/datasets/{name}/versions/latest"),
        ("GET", "/datasets/{name}/versions/{version}"),
        ("POST", "/datasets/{name}/versions/{version}/check-reports"),
        ("GET", "/datasets/{name}/check-reports"),
    } <= routes


def test_openapi_names_the_schema_field_as_on_the_wire(live_server: str) -> None:
    components = httpx.get(f"{live_server}/openapi.json", timeout=10).json()["components"]
    fields = components["schemas"]["DatasetVersionDraftBody"]["properties"]
    assert "schema" in fields and "table_schema" not in fields


def test_version_schema_travels_as_schema(live_server: str) -> None:
    url = f"{live_server}{API_PREFIX}/datasets/{_name()}/versions"
    response = httpx.post(url, json=_draft_json(schema='{"a.csv": {}}'), timeout=10)
    assert response.status_code == 201
    assert response.json()["version"]["schema"] == '{"a.csv": {}}'


def test_unchanged_content_answers_200_not_created(live_server: str) -> None:
    url = f"{live_server}{API_PREFIX}/datasets/{_name()}/versions"
    first = httpx.post(url, json=_draft_json(), timeout=10)
    again = httpx.post(url, json=_draft_json(message="same content"), timeout=10)
    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (again.status_code, again.json()["created"]) == (200, False)
    assert again.json()["version"] == first.json()["version"]


def test_check_report_keeps_the_server_time_and_author(rest_stores: DatasetStores) -> None:
    name = _name()
    rest_stores.datasets.create_version(_draft(name))
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    record = CheckReportRecord(uuid.uuid4().hex, name, 1, long_ago, "me", True, "{}")
    saved = rest_stores.datasets.save_check_report(record)
    assert saved.created_at > long_ago and saved.author not in ("", "me")
    assert rest_stores.datasets.list_check_reports(name) == [saved]


# -- bad input --------------------------------------------------------------------------


def test_malformed_body_is_invalid_input_naming_the_field(transport: HttpTransport) -> None:
    body = DatasetVersionDraftBody.model_construct(**_draft_json(file_count="x"))
    with pytest.raises(InvalidInput, match="field 'file_count'") as caught:
        transport.call("POST", "/datasets/d/versions", body=body)
    assert "'x'" in str(caught.value)


def test_malformed_body_is_a_422(live_server: str) -> None:
    url = f"{live_server}{API_PREFIX}/datasets/d/versions"
    response = httpx.post(url, json=_draft_json(file_count="x"), timeout=10)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "InvalidInput" and "field 'file_count'" in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "params", "field"),
    [
        pytest.param("POST", "/datasets/d/versions/x/check-reports", {}, "'version'", id="path"),
        pytest.param("GET", "/datasets/d/check-reports", {"version": "x"}, "'version'", id="query"),
    ],
)
def test_malformed_version_is_invalid_input_naming_it(
    transport: HttpTransport, method: str, path: str, params: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput, match=field):
        transport.call(method, path, params=params)


@pytest.mark.parametrize("name", ["", "..", "a/b"])
def test_a_name_that_cannot_be_a_path_segment_is_refused_before_sending(
    rest_stores: DatasetStores, name: str
) -> None:
    with pytest.raises(InvalidInput, match="Dataset name"):
        rest_stores.datasets.latest_version(name)
    with pytest.raises(InvalidInput, match="Dataset name"):
        rest_stores.datasets.create_version(_draft(name))


# -- store errors keep their class and message ------------------------------------------


@pytest.fixture(scope="module")
def sql_stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatasetStores]:
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('local') / 'x.db'}")
    tx = Transactions(engine, actor="local@host")
    yield DatasetStores(SqlExperimentStore(tx), SqlRunStore(tx), SqlDatasetStore(tx))
    engine.dispose()


_FAILURES: dict[str, Callable[[DatasetStores, str], object]] = {
    "no-dataset": lambda s, name: s.datasets.latest_version(f"{name}-x"),
    "no-version": lambda s, name: s.datasets.get_version(name, 9),
    "not-a-version": lambda s, name: s.datasets.get_version(name, 0),
    "no-run": lambda s, name: s.datasets.create_version(
        DatasetVersionDraft(name, DIGEST, "e" * 64, 1, 1, run_id="nope")
    ),
    "short-digest": lambda s, name: s.datasets.create_version(
        DatasetVersionDraft(name, DIGEST, "short", 1, 1)
    ),
    "report-taken": lambda s, name: s.datasets.save_check_report(
        CheckReportRecord(f"{name}-r", name, 1, datetime.now(UTC), "", True, "{}")
    ),
}


@pytest.mark.parametrize("failure", list(_FAILURES))
def test_store_errors_come_back_with_the_same_class_and_message(
    rest_stores: DatasetStores, sql_stores: DatasetStores, failure: str
) -> None:
    name = _name()
    caught: list[LoopmlError] = []
    for stores in (sql_stores, rest_stores):
        stores.datasets.create_version(_draft(name))
        report = CheckReportRecord(f"{name}-r", name, 1, datetime.now(UTC), "", True, "{}")
        stores.datasets.save_check_report(report)
        with pytest.raises(LoopmlError) as error:
            _FAILURES[failure](stores, name)
        caught.append(error.value)
    local, remote = caught
    assert type(remote) is type(local)
    assert str(remote) == str(local)
