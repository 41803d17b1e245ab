"""Ground-truth labels for logged predictions, attached later by request id.

Labels arrive after the fact (a churned customer, a confirmed fraud). Each call of
:func:`log_labels` writes one Parquet segment to stream ``labels:NAME`` with columns
``request_id``, ``row`` (the row of the request the label is for; null: every row of
the request), ``label`` (typed by Arrow when the call's labels are all numbers, all
booleans or all text, else their JSON text), ``label_json`` (always JSON text) and
``time`` (when the labels became known). Nothing is overwritten: a later label for the
same row wins when predictions are read (:func:`~loopml.serving.predictions`).

``POST /feedback`` takes the same labels as JSON; :func:`record_feedback` is its
handler's body.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from loopml.errors import InvalidInput
from loopml.serving._predlog import LABELS_KIND, json_text, log_stream, value_column, write_segment

if TYPE_CHECKING:
    import pyarrow as pa

    from loopml.tracking import Client

__all__ = ["FEEDBACK_FORMS", "log_labels", "record_feedback"]

_KEYS = frozenset({"request_id", "label", "row"})
_MAX_ROW = 2**31 - 1  # rows are stored as 32-bit integers
_FORMS = (
    "a mapping of request id to label, a list of {'request_id': ..., 'label': ..., "
    "optional 'row': ...} objects, or a DataFrame with those columns"
)
FEEDBACK_FORMS = (
    '{"labels": [{"request_id": "...", "label": ...}, ...]} or '
    '{"request_id": "...", "label": ...} (each with an optional "row")'
)
"""The bodies ``POST /feedback`` takes, for messages."""

Label = tuple[str, int | None, Any]
"""A checked label: request id, row (None: every row of the request), JSON scalar."""


def log_labels(
    deployment: str,
    labels: Any,
    *,
    client: Client | None = None,
    at: datetime | None = None,
) -> int:
    """Attach ground-truth labels to logged predictions by request id.

    Every label is checked before anything is written: one bad item refuses them all.

    Args:
        deployment: the deployment whose predictions the labels are for.
        labels: a mapping ``{request_id: label}``; a list of ``{"request_id", "label",
            optional "row"}`` objects (``row``: the row of a request of several
            records; left out, the label is for every row); or a DataFrame with those
            columns. A label is a number, a boolean or text.
        client: the client whose stores receive the segment; the fluent API's
            default client when not given.
        at: when the labels became known (a time with a time zone); now when not given.
            The latest label of a row wins.

    Returns:
        How many labels were written (0 writes nothing).

    Raises:
        InvalidInput: a malformed deployment name or time, or a malformed label (the
            message names the first bad one with its index or request id).
        StoreError, Unavailable: the stores cannot be written.

    Example:
        >>> loopml.log_labels("churn-api", {"4f1c...": 1, "9a0b...": 0})
        2
    """
    stream = log_stream(LABELS_KIND, deployment)
    if at is None:
        at = datetime.now(UTC)
    elif not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidInput(
            f"at must be a datetime with a time zone (e.g. datetime.now(UTC)), got {at!r}."
        )
    checked = check_labels(labels)
    if not checked:
        return 0
    if client is None:
        from loopml.tracking import default_client

        client = default_client()
    table = _label_table(checked, at)
    draft = write_segment(client.stores.blobs, stream, table)
    client.stores.segments.add_segment(draft)
    return len(checked)


def record_feedback(deployment: str, body: bytes | Mapping[str, Any], client: Client) -> int:
    """Check the body of a ``POST /feedback`` and log its labels (see :func:`log_labels`).

    Args:
        deployment: the served deployment.
        body: the raw JSON body, or it parsed: ``{"labels": [{"request_id": ...,
            "label": ..., "row": ...}, ...]}`` or one ``{"request_id": ..., "label": ...}``.
        client: the client whose stores receive the labels.

    Returns:
        How many labels were written.

    Raises:
        InvalidInput: the body is not JSON of one of those forms, or a label is
            malformed (nothing is written).
        StoreError, Unavailable: the stores cannot be written.
    """
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"The feedback body is not valid JSON: {exc}.") from None
    if not isinstance(body, Mapping):
        raise InvalidInput(f"The feedback body must be {FEEDBACK_FORMS}; got {_shown(body)}.")
    if "labels" not in body:
        return log_labels(deployment, [body], client=client)
    extra = sorted(set(body) - {"labels"})
    if extra:
        raise InvalidInput(
            f"The feedback body has unknown field(s) {extra} beside 'labels'; expected "
            f"{FEEDBACK_FORMS}."
        )
    if not isinstance(body["labels"], list):
        raise InvalidInput(
            f"'labels' must be a list of label objects, got {_shown(body['labels'])}."
        )
    return log_labels(deployment, body["labels"], client=client)


def check_labels(labels: Any) -> list[Label]:
    """Labels in any accepted form, checked, as ``(request_id, row, label)``.

    Raises:
        InvalidInput: the form is unknown or an item is malformed (named by its index,
            or by its request id for a mapping).
    """
    import pandas as pd

    if isinstance(labels, pd.DataFrame):
        return [_checked(f"labels row {i}", item) for i, item in enumerate(_frame_items(labels))]
    if isinstance(labels, Mapping):
        return [
            _checked(f"labels[{key!r}]", {"request_id": key, "label": value})
            for key, value in labels.items()
        ]
    if isinstance(labels, Sequence) and not isinstance(labels, str | bytes | bytearray):
        return [_checked(f"labels[{i}]", item) for i, item in enumerate(labels)]
    raise InvalidInput(f"Labels must be {_FORMS}; got {type(labels).__name__}.")


def _frame_items(frame: Any) -> list[dict[str, Any]]:
    missing = sorted({"request_id", "label"} - set(frame.columns))
    extra = sorted(str(c) for c in set(frame.columns) - _KEYS)
    if missing or extra:
        raise InvalidInput(
            f"The labels DataFrame has columns {[str(c) for c in frame.columns]}; expected "
            "'request_id', 'label' and optionally 'row'"
            + (f" (missing {missing})" if missing else "")
            + (f" (unknown {extra})" if extra else "")
            + "."
        )
    # As objects the cells are Python scalars (numpy's are not JSON values).
    items: list[dict[str, Any]] = frame.astype(object).to_dict("records")
    for item in items:
        if "row" in item and _is_missing(item["row"]):
            item["row"] = None
    return items


def _checked(where: str, item: object) -> Label:
    if not isinstance(item, Mapping):
        raise InvalidInput(
            f"{where} must be an object with 'request_id' and 'label', got {_shown(item)}."
        )
    unknown = sorted(str(key) for key in set(item) - _KEYS)
    if unknown:
        raise InvalidInput(
            f"{where} has unknown field(s) {unknown}; expected 'request_id', 'label' and "
            "optionally 'row'."
        )
    for key in ("request_id", "label"):
        if key not in item:
            raise InvalidInput(f"{where} has no {key!r}; expected 'request_id' and 'label'.")
    request_id = item["request_id"]
    if not isinstance(request_id, str) or not request_id.strip():
        raise InvalidInput(f"{where}: request_id must be non-empty text, got {_shown(request_id)}.")
    return request_id, _checked_row(where, item.get("row")), _checked_label(where, item["label"])


def _checked_row(where: str, row: object) -> int | None:
    if row is None:
        return None
    if isinstance(row, float) and row.is_integer():
        row = int(row)  # a DataFrame column of rows with gaps holds floats
    if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row <= _MAX_ROW:
        raise InvalidInput(
            f"{where}: row must be a whole number from 0 to {_MAX_ROW} (or null for every "
            f"row of the request), got {_shown(row)}."
        )
    return row


def _checked_label(where: str, label: object) -> Any:
    if hasattr(label, "item") and type(label).__module__ == "numpy":
        label = label.item()  # a numpy scalar from a list built by hand
    if isinstance(label, bool | str | int) or (isinstance(label, float) and math.isfinite(label)):
        return label
    raise InvalidInput(
        f"{where}: label must be a number, a boolean or text (a JSON scalar), got {_shown(label)}."
    )


def _label_table(labels: list[Label], at: datetime) -> pa.Table:
    import pyarrow as pa

    values = [label for _, _, label in labels]
    typed = value_column(values)
    return pa.table(
        {
            "request_id": pa.array([request_id for request_id, _, _ in labels], pa.string()),
            "row": pa.array([row for _, row, _ in labels], pa.int32()),
            "label": typed,
            "label_json": pa.array([json_text(v) for v in values], pa.string()),
            "time": pa.array([at] * len(labels), pa.timestamp("us", tz="UTC")),
        }
    )


def _is_missing(value: object) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
