"""The DatasetStore port over HTTP, to a loopml server."""

from __future__ import annotations

from loopml.domain import CheckReportRecord, DatasetVersion, DatasetVersionDraft
from loopml.domain.names import check_dataset_name, check_version_number
from loopml.store.rest._http import HttpTransport
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
from loopml.store.rest.models import path_segment

__all__ = ["RestDatasetStore", "dataset_path"]


def dataset_path(name: str) -> str:
    """The route of the dataset ``name``. Raises InvalidInput when ``name`` cannot be a
    path segment (see :func:`~loopml.store.rest.models.path_segment`)."""
    return f"/datasets/{path_segment(name, check_dataset_name)}"


class RestDatasetStore:
    """Dataset versions and check reports kept by a loopml server; errors are those of
    the server's store.

    Reads are retried after a dropped connection, and so is recording a version: sending
    the same content again returns the version it made rather than a new one (with
    ``created`` False, if the first attempt went through). Saving a check report is not
    retried: a repeat that went through would be refused as AlreadyExists, hiding the
    success.

    Args:
        transport: the connection to the server, shared with the other REST adapters.

    Example:
        >>> store = RestDatasetStore(HttpTransport("http://127.0.0.1:8476"))
        >>> store.latest_version("customers").ref
        'customers@v3'
    """

    def __init__(self, transport: HttpTransport) -> None:
        self._http = transport

    def __repr__(self) -> str:
        return f"RestDatasetStore({self._http.base_uri!r})"

    def create_version(self, draft: DatasetVersionDraft) -> tuple[DatasetVersion, bool]:
        """Record the next version of ``draft.name`` unless its newest version has the
        same content; see the port. Raises NotFound (run), InvalidInput."""
        body = DatasetVersionDraftBody.from_domain(draft)
        path = f"{dataset_path(draft.name)}/versions"
        reply = self._http.call_model(
            DatasetVersionCreated, "POST", path, body=body, idempotent=True
        )
        return reply.to_domain()

    def get_version(self, name: str, version: int) -> DatasetVersion:
        """One version. Raises NotFound naming the dataset or the version, InvalidInput
        (not a version number)."""
        # Checked here: the route takes digits only, and anything else would be "no route".
        path = f"{dataset_path(name)}/versions/{check_version_number(version)}"
        return self._http.call_model(DatasetVersionBody, "GET", path, idempotent=True).to_domain()

    def latest_version(self, name: str) -> DatasetVersion:
        """The newest version. Raises NotFound (no such dataset)."""
        path = f"{dataset_path(name)}/versions/latest"
        return self._http.call_model(DatasetVersionBody, "GET", path, idempotent=True).to_domain()

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version, newest first. Raises NotFound (no such dataset)."""
        path = f"{dataset_path(name)}/versions"
        return self._http.call_model(DatasetVersionList, "GET", path, idempotent=True).to_domain()

    def list_datasets(self) -> list[DatasetVersion]:
        """The newest version of every dataset, by name."""
        return self._http.call_model(DatasetList, "GET", "/datasets", idempotent=True).to_domain()

    def save_check_report(self, record: CheckReportRecord) -> CheckReportRecord:
        """Store a report of data checks run on a version (``id`` chosen by the caller;
        time and author set by the server). Raises NotFound (version), AlreadyExists (id)."""
        body = CheckReportCreate.from_domain(record)
        path = f"{dataset_path(record.name)}/versions/{record.version}/check-reports"
        return self._http.call_model(CheckReportBody, "POST", path, body=body).to_domain()

    def list_check_reports(self, name: str, version: int | None = None) -> list[CheckReportRecord]:
        """Check reports of a dataset (or of one version), newest first."""
        params = None if version is None else {"version": str(version)}
        path = f"{dataset_path(name)}/check-reports"
        reply = self._http.call_model(CheckReportList, "GET", path, params=params, idempotent=True)
        return reply.to_domain()
