"""Data versioning: dataset versions (content-addressed, packed and chunked), status,
diffs, checkouts, remotes, schemas, profiles and data checks.

Example:
    >>> import loopml
    >>> version = loopml.data.add("data/customers.parquet", name="customers", message="October")
    >>> frame = loopml.data.open("customers@v3", as_="pandas")
    >>> loopml.data.check("customers@v3", "checks/customers.yaml").raise_for_failures()
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from loopml.data._refs import DatasetRef, parse_dataset_ref
from loopml.data._repo import INPUT_DATASET_TAG, DataRepo, DatasetDiff, DatasetStatus

if TYPE_CHECKING:
    from loopml.data.checks import CheckReport, Checks
    from loopml.domain import DatasetVersion

__all__ = [
    "INPUT_DATASET_TAG",
    "DataRepo",
    "DatasetDiff",
    "DatasetRef",
    "DatasetStatus",
    "add",
    "check",
    "checkout",
    "diff",
    "get_version",
    "log",
    "open",
    "parse_dataset_ref",
    "profile",
    "status",
]


def add(
    path: str | os.PathLike[str],
    name: str | None = None,
    *,
    message: str = "",
    profile: bool = True,
) -> DatasetVersion:
    """Snapshot a file or folder as the next version of ``name``; see :meth:`DataRepo.add`."""
    return DataRepo().add(path, name, message=message, profile=profile)


def get_version(ref: str) -> DatasetVersion:
    """The version ``NAME@vN`` (newest for ``NAME``); see :meth:`DataRepo.get_version`."""
    return DataRepo().get_version(ref)


def log(name: str) -> list[DatasetVersion]:
    """Every version of a dataset, newest first."""
    return DataRepo().log(name)


def status(name: str | None = None) -> list[DatasetStatus]:
    """What changed in the working copies; see :meth:`DataRepo.status`."""
    return DataRepo().status(name)


def diff(before: str, after: str) -> DatasetDiff:
    """Files, rows and schema changed between two versions; see :meth:`DataRepo.diff`."""
    return DataRepo().diff(before, after)


def checkout(ref: str, to: str | os.PathLike[str] | None = None, *, force: bool = False) -> Any:
    """Materialise a version; see :meth:`DataRepo.checkout`."""
    return DataRepo().checkout(ref, to, force=force)


def open(ref: str, as_: Any = None) -> Any:
    """A version's path, or its table with ``as_="pandas"|"polars"|"arrow"``; inside a
    run, records the version as the run's input. See :meth:`DataRepo.open`."""
    return DataRepo().open(ref, as_)


def profile(ref: str) -> dict[str, Any]:
    """The stored profiles of a version's tabular files, by path."""
    return DataRepo().profile(ref)


def check(ref: str, checks: Checks | str | os.PathLike[str]) -> CheckReport:
    """Run data checks on a version and store the report; see :meth:`DataRepo.check`."""
    return DataRepo().check(ref, checks)
