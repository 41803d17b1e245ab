"""Routes of dataset versions and their check reports: parse, call the DatasetStore
port, render.

Routes are plain ``def`` functions, run in FastAPI's thread pool like those of runs.
``GET /datasets/{name}/versions/{version}`` takes digits only, so that
``/versions/latest`` can never be read as a version number; elsewhere a version that is
not an integer is 422 naming the parameter. Names are checked by the store, which words
the error.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from loopml.server._deps import StoresDep, reply
from loopml.store.rest.data_schemas import (
    CheckReportBody,
    CheckReportCreate,
    CheckReportList,
    DatasetList,
    DatasetVersionBody,
    DatasetVersionCreated,
    DatasetVersionDraftBody,
    DatasetVersionList,
)

__all__ = ["router"]

router = APIRouter(tags=["datasets"])


@router.post(
    "/datasets/{name}/versions",
    status_code=201,
    response_model=DatasetVersionCreated,
    responses={200: {"model": DatasetVersionCreated, "description": "Unchanged content"}},
)
def create_version(name: str, body: DatasetVersionDraftBody, stores: StoresDep) -> Response:
    """Record the next version, creating the dataset if it is new (201); when the newest
    version has the same content, return it instead with ``created: false`` (200). 404
    when the producing run does not exist."""
    version, created = stores.datasets.create_version(body.to_domain(name))
    return reply(DatasetVersionCreated.from_domain(version, created), 201 if created else 200)


@router.get("/datasets", response_model=DatasetList)
def list_datasets(stores: StoresDep) -> Response:
    """The newest version of every dataset, by name."""
    return reply(DatasetList.from_domain(stores.datasets.list_datasets()))


@router.get("/datasets/{name}/versions", response_model=DatasetVersionList)
def list_versions(name: str, stores: StoresDep) -> Response:
    """Every version of the dataset, newest first; 404 when there is no such dataset."""
    return reply(DatasetVersionList.from_domain(stores.datasets.list_versions(name)))


@router.get("/datasets/{name}/versions/latest", response_model=DatasetVersionBody)
def latest_version(name: str, stores: StoresDep) -> Response:
    """The newest version of the dataset; 404 when there is no such dataset."""
    return reply(DatasetVersionBody.from_domain(stores.datasets.latest_version(name)))


@router.get("/datasets/{name}/versions/{version:int}", response_model=DatasetVersionBody)
def get_version(name: str, version: int, stores: StoresDep) -> Response:
    """One version; 404 naming the dataset or the version when there is none."""
    return reply(DatasetVersionBody.from_domain(stores.datasets.get_version(name, version)))


@router.post(
    "/datasets/{name}/versions/{version}/check-reports",
    status_code=201,
    response_model=CheckReportBody,
)
def save_check_report(
    name: str, version: int, body: CheckReportCreate, stores: StoresDep
) -> Response:
    """Store a report of data checks run on the version, under the caller's id; 404 when
    the version does not exist, 409 when the id is taken."""
    saved = stores.datasets.save_check_report(body.to_domain(name, version))
    return reply(CheckReportBody.from_domain(saved), 201)


@router.get("/datasets/{name}/check-reports", response_model=CheckReportList)
def list_check_reports(name: str, stores: StoresDep, version: int | None = None) -> Response:
    """Check reports of the dataset, or of one version, newest first."""
    return reply(CheckReportList.from_domain(stores.datasets.list_check_reports(name, version)))
