"""The serving app's source for a deployment: the policy in force, read on every poll.

``loopml serve churn-api`` serves the deployment ``churn-api``; the app asks its source
what to serve on every poll, so an update or a rollback of the deployment reaches the
served models within one poll, with no restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.config import Settings
from loopml.domain.names import check_deployment_name
from loopml.errors import NotFound
from loopml.serving._live import ServingPlan

if TYPE_CHECKING:
    from loopml.tracking import Client

__all__ = ["DeploymentSource"]


class DeploymentSource:
    """Serves a deployment: its model under the traffic policy in force.

    Each :meth:`current` reads the deployment once from the store, nothing more.

    Args:
        name: the deployment.
        settings_or_client: the settings whose stores hold the deployment (the source
            then opens a client of its own, released by :meth:`close`), or a client to
            borrow (left open).

    Raises:
        InvalidInput: a malformed deployment name.
        NotFound: no deployment of that name exists now.

    Example:
        >>> source = DeploymentSource("churn-api", load_settings())
        >>> source.current().policy.describe()
        'champion 90% / challenger 10%'
    """

    def __init__(self, name: str, settings_or_client: Settings | Client) -> None:
        self.name = check_deployment_name(name)
        self._owned: Client | None = None
        if isinstance(settings_or_client, Settings):
            from loopml.tracking import Client

            self._owned = Client(settings_or_client, capture_environment=False)
            self._client = self._owned
        else:
            self._client = settings_or_client
        try:
            self.current()
        except NotFound:
            self.close()
            raise NotFound(
                f"No deployment named {name!r} to serve; create it (loopml deploy create "
                f"{name} --model MODEL --route champion=100) or serve a model URI such as "
                "'churn@champion'."
            ) from None
        except BaseException:
            self.close()
            raise

    def current(self) -> ServingPlan:
        """The plan of the deployment's policy in force now.

        Raises:
            NotFound: the deployment was deleted.
            LoopmlError: the store cannot be read now (the serving app keeps serving
                what it has and asks again on its next poll).
        """
        deployment = self._client.stores.deployments.get_deployment(self.name)
        return ServingPlan(
            deployment.model,
            deployment.policy,
            deployment=deployment.name,
            revision=deployment.revision,
        )

    def close(self) -> None:
        """Release the client the source opened itself (a borrowed one stays open)."""
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> DeploymentSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DeploymentSource({self.name!r})"
