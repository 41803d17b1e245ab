"""The ExperimentStore port over HTTP, to a loopml server."""

from __future__ import annotations

from loopml.domain import Experiment
from loopml.store.rest._http import HttpTransport, segment
from loopml.store.rest.schemas import ExperimentBody, ExperimentCreate, ExperimentList

__all__ = ["RestExperimentStore"]


class RestExperimentStore:
    """Experiments kept by a loopml server; errors are those of the server's store.

    Args:
        transport: the connection to the server, shared with the other REST adapters.

    Example:
        >>> store = RestExperimentStore(HttpTransport("http://127.0.0.1:8476"))
        >>> store.create_experiment("churn").name
        'churn'
    """

    def __init__(self, transport: HttpTransport) -> None:
        self._http = transport

    def __repr__(self) -> str:
        return f"RestExperimentStore({self._http.base_uri!r})"

    def create_experiment(self, name: str, description: str = "") -> Experiment:
        """Create an experiment. Raises AlreadyExists when the name is taken, InvalidInput
        for a bad name, Unavailable when the server cannot be reached."""
        body = ExperimentCreate(name=name, description=description)
        reply = self._http.call_model(ExperimentBody, "POST", "/experiments", body=body)
        return reply.to_domain()

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id. Raises NotFound."""
        path = f"/experiments/{segment(experiment_id)}"
        return self._http.call_model(ExperimentBody, "GET", path, idempotent=True).to_domain()

    def find_experiment(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        found = self._list({"name": name})
        return found[0] if found else None

    def list_experiments(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        return self._list({})

    def _list(self, params: dict[str, str]) -> list[Experiment]:
        reply = self._http.call_model(
            ExperimentList, "GET", "/experiments", params=params, idempotent=True
        )
        return reply.to_domain()
