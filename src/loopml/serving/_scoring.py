"""Scoring one request against one snapshot: route each record, predict per route,
reassemble in request order; and, later and elsewhere, score the shadows.

Framework-free, so the REST app, tests and other front ends share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loopml.serving._inputs import FieldError, InvalidRecords
from loopml.serving._live import Snapshot
from loopml.serving._records import PredictionRecord

__all__ = ["Group", "Scored", "prediction_records", "score", "score_shadows"]


@dataclass(frozen=True, slots=True)
class Group:
    """The records of a request that one route answered."""

    target: str
    version: int
    indexes: list[int]
    outputs: list[Any]


@dataclass(frozen=True, slots=True)
class Scored:
    """A request's answer, in request order.

    Attributes:
        predictions: one prediction per record.
        probabilities: class probabilities per record, when asked for.
        versions: the version that answered each record.
        groups: the records each route answered (one group for most requests).
    """

    predictions: list[Any]
    probabilities: list[Any] | None
    versions: list[int]
    groups: list[Group]

    @property
    def version(self) -> int | None:
        """The version that answered every record, or None when several did."""
        first = self.groups[0].version
        return first if all(group.version == first for group in self.groups) else None


def score(snapshot: Snapshot, records: Sequence[dict[str, Any]], *, proba: bool = False) -> Scored:
    """Route each record and predict.

    Raises:
        InvalidRecords: records that do not fit their version's signature; every
            problem of every route is listed.
        ModelRefused: a model raised on its input.
        InvalidInput: ``proba`` for a model without ``predict_proba``.
    """
    router = snapshot.router
    key = router.sticky_key
    if len(router.targets) == 1:
        return _score_one(snapshot, router.targets[0], records, key, proba)
    sticky = [record.get(key) for record in records] if key else [None] * len(records)
    by_target: dict[str, list[int]] = {}
    for index, target in enumerate(router.pick_many(sticky)):
        by_target.setdefault(target, []).append(index)
    if len(by_target) == 1:
        return _score_one(snapshot, next(iter(by_target)), records, key, proba)
    return _score_split(snapshot, by_target, records, key, proba)


def _score_one(
    snapshot: Snapshot,
    target: str,
    records: Sequence[dict[str, Any]],
    key: str | None,
    proba: bool,
) -> Scored:
    served = snapshot.served[target]
    indexes = list(range(len(records)))
    predictions, probabilities = served.score(records, indexes, routing_key=key, proba=proba)
    outputs = predictions.tolist()
    return Scored(
        outputs,
        None if probabilities is None else probabilities.tolist(),
        [served.version] * len(records),
        [Group(target, served.version, indexes, outputs)],
    )


def _score_split(
    snapshot: Snapshot,
    by_target: dict[str, list[int]],
    records: Sequence[dict[str, Any]],
    key: str | None,
    proba: bool,
) -> Scored:
    size = len(records)
    predictions: list[Any] = [None] * size
    probabilities: list[Any] | None = [None] * size if proba else None
    versions = [0] * size
    groups: list[Group] = []
    errors: list[FieldError] = []
    for target, indexes in by_target.items():
        served = snapshot.served[target]
        subset = [records[i] for i in indexes]
        try:
            answer, chances = served.score(subset, indexes, routing_key=key, proba=proba)
        except InvalidRecords as exc:  # go on: the answer lists every route's problems
            errors.extend(exc.errors)
            continue
        outputs = answer.tolist()
        listed = None if chances is None else chances.tolist()
        for position, index in enumerate(indexes):
            predictions[index] = outputs[position]
            versions[index] = served.version
            if probabilities is not None and listed is not None:
                probabilities[index] = listed[position]
        groups.append(Group(target, served.version, indexes, outputs))
    if errors:
        raise InvalidRecords(sorted(errors, key=lambda e: -1 if e.index is None else e.index))
    return Scored(predictions, probabilities, versions, groups)


def score_shadows(snapshot: Snapshot, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each shadow target's answer for all of ``records``.

    Returns:
        Target → ``{"version": v, "outputs": [...]}``, or ``{"version": v, "error":
        "..."}`` when the shadow refused the input or failed (a shadow never fails the
        request it shadows).
    """
    key = snapshot.router.sticky_key
    indexes = list(range(len(records)))
    answers: dict[str, Any] = {}
    for target in snapshot.plan.policy.shadows:
        served = snapshot.served[target]
        try:
            outputs, _ = served.score(records, indexes, routing_key=key)
        except Exception as exc:  # recorded with the prediction, never raised
            answers[target] = {"version": served.version, "error": str(exc) or type(exc).__name__}
        else:
            answers[target] = {"version": served.version, "outputs": outputs.tolist()}
    return answers


def prediction_records(
    scored: Scored,
    records: Sequence[dict[str, Any]],
    *,
    request_id: str,
    time: datetime,
    latency_ms: float,
    model: str,
    deployment: str | None,
    shadows: dict[str, Any] | None = None,
) -> list[PredictionRecord]:
    """The prediction log's records of a request: one per route that answered it, each
    with the shadows' answers for the same records and, when the request was split over
    routes, the request indexes of its records."""
    made = []
    whole = len(scored.groups) == 1
    for group in scored.groups:
        inputs = list(records) if whole else [records[i] for i in group.indexes]
        made.append(
            PredictionRecord(
                request_id=request_id,
                time=time,
                deployment=deployment,
                model=model,
                version=group.version,
                target=group.target,
                inputs=inputs,
                outputs=group.outputs,
                latency_ms=latency_ms,
                shadows=_shadow_part(shadows, group.indexes, whole),
                rows=None if whole else group.indexes,
            )
        )
    return made


def _shadow_part(
    shadows: dict[str, Any] | None, indexes: list[int], whole: bool
) -> dict[str, dict[str, Any]]:
    if not shadows:
        return {}
    if whole:
        return shadows
    part: dict[str, dict[str, Any]] = {}
    for target, answer in shadows.items():
        if "outputs" in answer:
            outputs = answer["outputs"]
            part[target] = {"version": answer["version"], "outputs": [outputs[i] for i in indexes]}
        else:
            part[target] = answer
    return part
