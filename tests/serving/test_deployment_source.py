"""The serving app's source for a deployment: it follows updates and rollbacks of the
stored policy, one store read per poll, and the live models follow it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.config import Settings
from loopml.domain.deployments import TrafficPolicy
from loopml.errors import InvalidInput, NotFound
from loopml.registry import ModelRegistry
from loopml.serving._deployment_source import DeploymentSource
from loopml.serving._deployments import (
    create_deployment,
    delete_deployment,
    rollback_deployment,
    update_deployment,
)
from loopml.serving._live import LiveModels, ModelSource, ServingPlan
from loopml.tracking import Client
from tests.serving.test_deployments import CANARY, client, register_churn

__all__ = ["client"]


@pytest.fixture
def api(client: Client) -> Client:
    """Model ``churn`` (1-3; champion → 2, challenger → 3) deployed as ``api`` 90/10."""
    register_churn(client)
    create_deployment("api", "churn", CANARY, client=client)
    return client


@pytest.fixture
def source(api: Client, settings: Settings) -> Iterator[DeploymentSource]:
    """A source over the settings, with a client of its own."""
    with DeploymentSource("api", settings) as made:
        yield made


def test_the_plan_is_the_deployments_model_policy_name_and_revision(
    source: DeploymentSource,
) -> None:
    assert isinstance(source, ModelSource)
    assert source.current() == ServingPlan("churn", TrafficPolicy.of(CANARY), "api", 1)


def test_the_source_follows_updates_and_rollbacks(source: DeploymentSource, api: Client) -> None:
    update_deployment("api", routes={"challenger": 100}, shadows=["champion"], client=api)
    plan = source.current()
    assert (plan.revision, plan.policy) == (2, TrafficPolicy.of({"challenger": 100}, ["champion"]))
    rollback_deployment("api", client=api)
    assert (source.current().revision, source.current().policy) == (3, TrafficPolicy.of(CANARY))


def test_each_poll_reads_the_store_once(
    source: DeploymentSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = source._client.stores.deployments
    reads: list[str] = []
    real = store.get_deployment

    def counted(name: str) -> Any:
        reads.append(name)
        return real(name)

    monkeypatch.setattr(store, "get_deployment", counted)
    source.current()
    source.current()
    assert reads == ["api", "api"]


def test_an_unknown_deployment_is_not_found_at_construction(settings: Settings) -> None:
    with pytest.raises(NotFound) as caught:
        DeploymentSource("ghost", settings)
    assert "No deployment named 'ghost' to serve" in str(caught.value)
    assert "loopml deploy create ghost" in str(caught.value)


def test_a_malformed_name_is_invalid_input(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="Deployment name"):
        DeploymentSource("no such/name", settings)


def test_a_deleted_deployment_fails_later_reads(source: DeploymentSource, api: Client) -> None:
    delete_deployment("api", api)
    with pytest.raises(NotFound, match="No deployment named 'api'"):
        source.current()


def test_a_borrowed_client_stays_open(api: Client) -> None:
    with DeploymentSource("api", api) as borrowing:
        assert borrowing.current().revision == 1
    assert api._stores is not None  # not closed by the source
    assert [d.name for d in api.stores.deployments.list_deployments()] == ["api"]


def test_live_models_follow_the_deployment_and_keep_serving_when_it_goes(
    source: DeploymentSource, api: Client
) -> None:
    frame = pd.DataFrame({"age": [30.0, 60.0], "income": [40.0, 70.0]})
    live = LiveModels(source, ModelRegistry(api), poll_seconds=60)
    assert live.refresh() and live.snapshot is not None
    assert live.snapshot.versions == {"champion": 2, "challenger": 3}
    update_deployment("api", routes={"1": 100}, client=api)
    assert live.refresh() and live.snapshot.plan.revision == 2
    assert live.snapshot.versions == {"1": 1}
    predictions = live.snapshot.served["1"].model.predict(frame)
    assert np.asarray(predictions).shape == (2,)
    delete_deployment("api", api)
    assert not live.refresh()
    assert live.snapshot.versions == {"1": 1}  # still serving what it had
    assert live.last_error is not None and "No deployment named 'api'" in live.last_error.message
