"""The REST adapter of the metadata and blob stores: the same ports, over HTTP to a
loopml server (``LOOPML_TRACKING_URI=http://host:port``).

The request and response bodies (:mod:`loopml.store.rest.schemas`) are shared with the
server, so the two cannot drift apart; every adapter passes the same contract suites as
the SQL and local ones.

Example:
    >>> stores = open_rest_stores(load_settings({"tracking_uri": "http://127.0.0.1:8476"}))
    >>> stores.experiments.list_experiments()
    []
    >>> stores.close()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.errors import InvalidInput
from loopml.store._registry import Stores
from loopml.store.rest._http import HttpTransport
from loopml.store.rest.aliases import RestAliasStore
from loopml.store.rest.blobs import RestBlobStore
from loopml.store.rest.datasets import RestDatasetStore
from loopml.store.rest.deployments import RestDeploymentStore
from loopml.store.rest.experiments import RestExperimentStore
from loopml.store.rest.models import RestModelStore
from loopml.store.rest.runs import RestRunStore
from loopml.store.rest.schedules import RestScheduleStore
from loopml.store.rest.segments import RestSegmentStore

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = [
    "HttpTransport",
    "RestAliasStore",
    "RestBlobStore",
    "RestDatasetStore",
    "RestDeploymentStore",
    "RestExperimentStore",
    "RestModelStore",
    "RestRunStore",
    "RestScheduleStore",
    "RestSegmentStore",
    "open_rest_stores",
]


def open_rest_stores(settings: Settings) -> Stores:
    """The REST adapters to the server at ``settings.tracking_uri``, blobs included,
    sharing one pool of connections (released by ``Stores.close``).

    Nothing is sent until the first call: a server that is down shows up then, as
    :class:`~loopml.errors.Unavailable`.

    Raises:
        InvalidInput: ``tracking_uri`` is not set or not a valid http(s) URL.
    """
    if settings.tracking_uri is None:
        raise InvalidInput("The REST stores need a tracking URI (LOOPML_TRACKING_URI).")
    transport = HttpTransport.from_settings(settings.tracking_uri, settings)
    return Stores(
        experiments=RestExperimentStore(transport),
        runs=RestRunStore(transport),
        models=RestModelStore(transport),
        aliases=RestAliasStore(transport),
        datasets=RestDatasetStore(transport),
        schedules=RestScheduleStore(transport),
        deployments=RestDeploymentStore(transport),
        segments=RestSegmentStore(transport),
        blobs=RestBlobStore(settings.tracking_uri, settings, transport=transport),
        close=transport.close,
    )
