"""One loaded version as the serving app uses it: records in, predictions out.

A :class:`ServedVersion` wraps a verified :class:`~loopml.registry.PackagedModel` with
what the request path needs precompiled: the input builder of its signature and whether
a routing field must be dropped before the model sees a record.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.serving._inputs import FieldError, InputBuilder, InvalidRecords

if TYPE_CHECKING:
    import numpy as np

    from loopml.registry import PackagedModel

__all__ = ["QUICK_PREDICT_S", "ModelRefused", "ServedVersion"]

QUICK_PREDICT_S = 0.001
"""A version that, once warm, predicts one record in less than this is *quick*: for it,
a hop to a worker thread would cost a good share of a small request."""


class ModelRefused(InvalidInput):
    """The model raised on input that passed its signature (NaN where it takes none, an
    unseen category, ...): a problem of the input, never a server fault."""


class ServedVersion:
    """A registered version, loaded and verified, ready to score records.

    Args:
        version: the version number.
        model: the loaded package.

    Attributes:
        is_quick: whether its warm-up showed it cheap enough to score small requests on
            the event loop's thread (False until warmed, and for models without an
            example: those always score in a worker thread).
    """

    def __init__(self, version: int, model: PackagedModel) -> None:
        self.version = version
        self.model = model
        self.is_quick = False
        signature = model.signature
        self.builder = (
            InputBuilder(signature.inputs)  # type: ignore[arg-type]
            if signature is not None and signature.has_columns
            else None
        )

    def warm(self) -> None:
        """Predict on the stored input example, if any: the first request then finds
        imports done, caches filled and lazy initialisation behind it. A second predict,
        of the example's first row, is timed to tell whether the version is quick.

        Raises:
            Exception: whatever the model raises on its own example (it cannot serve).
        """
        example = self.model.input_example()
        if example is None:
            return
        self.model.predict(example)
        started = time.perf_counter()
        self.model.predict(example[:1])
        self.is_quick = time.perf_counter() - started < QUICK_PREDICT_S

    def score(
        self,
        records: Sequence[dict[str, Any]],
        indexes: Sequence[int],
        *,
        routing_key: str | None = None,
        proba: bool = False,
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """Predictions (and class probabilities when ``proba``) for ``records``.

        Args:
            records: the records, dicts of field values.
            indexes: each record's position in the request, for error messages.
            routing_key: the policy's sticky field; dropped from the records unless the
                model's signature takes it as a column.
            proba: also return ``predict_proba``'s answer.

        Raises:
            InvalidRecords: records that do not fit the signature, every problem listed.
            ModelRefused: the model raised on the input.
            InvalidInput: ``proba`` for a model without ``predict_proba``.
        """
        drop = routing_key if self._drops(routing_key) else None
        data = self._input(records, indexes, drop)
        try:
            predictions = self.model.predict(data)
        except InvalidInput as exc:
            raise self._explain(records, indexes, drop, exc) from exc
        except (ValueError, TypeError) as exc:
            raise self._refused(exc) from exc
        if not proba:
            return predictions, None
        try:
            return predictions, self.model.predict_proba(data)
        except (ValueError, TypeError) as exc:
            raise self._refused(exc) from exc

    def _drops(self, key: str | None) -> bool:
        return key is not None and (self.builder is None or key not in self.builder.names)

    def _input(
        self, records: Sequence[dict[str, Any]], indexes: Sequence[int], drop: str | None
    ) -> Any:
        if len(records) == 1:  # the registry's one-record fast path is the quickest
            record = records[0]
            return {k: v for k, v in record.items() if k != drop} if drop in record else record
        if self.builder is not None:
            return self.builder.frame(records, indexes, drop)
        if drop is None:
            return list(records)
        return [{k: v for k, v in record.items() if k != drop} for record in records]

    def _explain(
        self,
        records: Sequence[dict[str, Any]],
        indexes: Sequence[int],
        drop: str | None,
        refusal: InvalidInput,
    ) -> InvalidRecords:
        """Every problem of the records the registry refused (it names only the first)."""
        if isinstance(refusal, InvalidRecords):
            return refusal
        errors = [] if self.builder is None else self.builder.errors(records, indexes, drop)
        if errors:
            return InvalidRecords(errors)
        index = indexes[0] if len(indexes) == 1 else None
        return InvalidRecords([FieldError(index, None, "record", refusal.message)])

    def _refused(self, exc: Exception) -> ModelRefused:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return ModelRefused(
            f"Version {self.version} of model {self.model.name!r} could not score the input: "
            f"{reason}"
        )
