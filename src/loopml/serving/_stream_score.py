"""Scoring a micro-batch of stream events: one call per batch, and when the batch is
refused, only the events at fault are set apart.

:func:`score_events` scores every event of a batch through :func:`score`, as the REST
app scores a request: routed by the snapshot's policy, checked against each version's
signature. When records do not fit the signature, the refusal names each bad record;
those are refused and the rest scored again. When the model raises on the batch (a
value it cannot take), the batch is halved and each half scored on its own, down to the
one event at fault: a bad event costs about ``2·log2(batch)`` extra calls, never the
batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loopml.errors import LoopmlError
from loopml.serving._inputs import FieldError, InvalidRecords
from loopml.serving._live import Snapshot
from loopml.serving._records import PredictionRecord
from loopml.serving._scoring import score, score_shadows
from loopml.serving._stream_events import Refusal, StreamEvent, record_refusal

__all__ = ["Answer", "Outcome", "prediction_records", "score_events"]


@dataclass(frozen=True, slots=True)
class Answer:
    """The prediction for one event, and who made it."""

    event: StreamEvent
    record: dict[str, Any]
    prediction: Any
    version: int
    target: str


@dataclass(slots=True)
class Outcome:
    """A batch's answers (in input order) and refused events."""

    answers: list[Answer] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    model_calls: int = 0


def score_events(snapshot: Snapshot, events: Sequence[StreamEvent]) -> Outcome:
    """Score ``events`` against ``snapshot``; see the module docstring."""
    outcome = Outcome()
    _score_into(snapshot, list(events), outcome)
    return outcome


def _score_into(snapshot: Snapshot, events: list[StreamEvent], outcome: Outcome) -> None:
    while events:
        records = _routed(snapshot, events)
        outcome.model_calls += 1
        try:
            scored = score(snapshot, records)
        except InvalidRecords as exc:
            at_fault = _by_event(exc.errors, len(events))
            if at_fault is None:  # a problem of the whole batch: find the event(s)
                _bisect(snapshot, events, exc, outcome)
                return
            outcome.refusals.extend(
                record_refusal(events[index].message, errors) for index, errors in at_fault.items()
            )
            events = [event for index, event in enumerate(events) if index not in at_fault]
            continue
        except Exception as exc:  # the model raised: find the event(s) it cannot take
            _bisect(snapshot, events, exc, outcome)
            return
        targets = _targets(scored.groups, len(events))
        outcome.answers.extend(
            Answer(event, record, prediction, version, target)
            for event, record, prediction, version, target in zip(
                events, records, scored.predictions, scored.versions, targets, strict=True
            )
        )
        return


def _bisect(
    snapshot: Snapshot, events: list[StreamEvent], exc: Exception, outcome: Outcome
) -> None:
    if len(events) == 1:
        outcome.refusals.append(_refusal(events[0], exc))
        return
    middle = len(events) // 2
    _score_into(snapshot, events[:middle], outcome)
    _score_into(snapshot, events[middle:], outcome)


def _refusal(event: StreamEvent, exc: Exception) -> Refusal:
    if isinstance(exc, InvalidRecords):
        return record_refusal(event.message, exc.errors)
    if isinstance(exc, LoopmlError):
        return Refusal(event.message, exc.message)
    text = (str(exc).strip().splitlines() or [""])[0]
    return Refusal(
        event.message,
        f"The model failed on this record ({type(exc).__name__}: {text or 'no message'}).",
    )


def _routed(snapshot: Snapshot, events: list[StreamEvent]) -> list[dict[str, Any]]:
    """The records, each with the event's ``key`` as the policy's sticky field when the
    record lacks that field."""
    sticky = snapshot.router.sticky_key
    if sticky is None:
        return [event.record for event in events]
    return [
        {**event.record, sticky: event.key}
        if event.key is not None and sticky not in event.record
        else event.record
        for event in events
    ]


def _by_event(errors: Sequence[FieldError], size: int) -> dict[int, list[FieldError]] | None:
    """The field errors of each record at fault, or None when one is not a record's."""
    at_fault: dict[int, list[FieldError]] = {}
    for error in errors:
        if error.index is None or not 0 <= error.index < size:
            return None
        at_fault.setdefault(error.index, []).append(error)
    return at_fault or None


def _targets(groups: Sequence[Any], size: int) -> list[str]:
    targets = [""] * size
    for group in groups:
        for index in group.indexes:
            targets[index] = group.target
    return targets


def prediction_records(
    snapshot: Snapshot,
    answers: Sequence[Answer],
    *,
    time: datetime,
    latency_ms: float,
) -> list[PredictionRecord]:
    """The prediction log's records of a batch: one per event, as REST logs one per
    request, with what each shadow target answered for the same record."""
    plan = snapshot.plan
    shadows = score_shadows(snapshot, [a.record for a in answers]) if plan.policy.shadows else {}
    return [
        PredictionRecord(
            request_id=answer.event.request_id,
            time=time,
            deployment=plan.deployment,
            model=plan.model,
            version=answer.version,
            target=answer.target,
            inputs=[answer.record],
            outputs=[answer.prediction],
            latency_ms=latency_ms,
            shadows=_shadow_of(shadows, index),
        )
        for index, answer in enumerate(answers)
    ]


def _shadow_of(shadows: dict[str, Any], index: int) -> dict[str, dict[str, Any]]:
    part: dict[str, dict[str, Any]] = {}
    for target, answer in shadows.items():
        if "outputs" in answer:
            part[target] = {"version": answer["version"], "outputs": [answer["outputs"][index]]}
        else:
            part[target] = answer
    return part
