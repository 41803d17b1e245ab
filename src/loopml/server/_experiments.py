"""Routes of experiments: parse, call the ExperimentStore port, render."""

from __future__ import annotations

from fastapi import APIRouter, Response

from loopml.server._deps import StoresDep, reply
from loopml.store.rest.schemas import ExperimentBody, ExperimentCreate, ExperimentList

__all__ = ["router"]

router = APIRouter(tags=["experiments"])


@router.post("/experiments", status_code=201, response_model=ExperimentBody)
def create_experiment(body: ExperimentCreate, stores: StoresDep) -> Response:
    """Create an experiment; 409 when the name is taken."""
    created = stores.experiments.create_experiment(body.name, body.description)
    return reply(ExperimentBody.from_domain(created), 201)


@router.get("/experiments", response_model=ExperimentList)
def list_experiments(stores: StoresDep, name: str | None = None) -> Response:
    """Every experiment, oldest first; only the one called ``name`` when given."""
    if name is None:
        return reply(ExperimentList.from_domain(stores.experiments.list_experiments()))
    found = stores.experiments.find_experiment(name)
    return reply(ExperimentList.from_domain([] if found is None else [found]))


@router.get("/experiments/{experiment_id}", response_model=ExperimentBody)
def get_experiment(experiment_id: str, stores: StoresDep) -> Response:
    """The experiment with this id; 404 when there is none."""
    return reply(ExperimentBody.from_domain(stores.experiments.get_experiment(experiment_id)))
