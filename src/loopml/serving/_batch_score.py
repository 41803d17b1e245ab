"""What a batch-scoring job computes per file: which columns are the model's inputs and
which are carried over as keys, the output columns, and the scoring of one chunk.

Every check that can refuse a job's input runs here, before the job's run is recorded
or anything is written: the files' columns against the model's inputs and the asked-for
keys, and a trial prediction on the first rows of each distinct schema, which catches an
ill-typed column (named by the signature) before any work is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from loopml.errors import InvalidInput, LoopmlError
from loopml.serving._batch_io import InputFile, ReadPlan, plan_reading, read_chunks

if TYPE_CHECKING:
    from loopml.registry import PackagedModel

__all__ = [
    "VERSION_COLUMN",
    "FileJob",
    "Progress",
    "ProgressCallback",
    "ScoreSpec",
    "csv_types",
    "plan_files",
    "score_chunk",
]

VERSION_COLUMN = "model_version"
_TRIAL_ROWS = 256

ProgressCallback = Callable[[int, "int | None"], None]
"""``on_progress(rows_done, rows_total)``; the total is None when unknown (CSV)."""


@dataclass(frozen=True, slots=True)
class ScoreSpec:
    """The columns of one file's scoring.

    Attributes:
        features: the model's input columns, in the order the model takes them.
        keys: the input columns copied to the output, in output order.
        predictions: the names of the prediction columns.
        probas: the names of the probability columns (empty without ``proba``).
        label: the model version written in every row (``name/3``).
        source: the input file, as error messages name it.
    """

    features: tuple[str, ...]
    keys: tuple[str, ...]
    predictions: tuple[str, ...]
    probas: tuple[str, ...]
    label: str
    source: str

    @property
    def labels(self) -> pa.Array:
        """The dictionary of the model version column: the one label."""
        return pa.array([self.label], pa.string())

    @property
    def names(self) -> list[str]:
        """The output's columns: keys, predictions, probabilities, model version."""
        return [*self.keys, *self.predictions, *self.probas, VERSION_COLUMN]


@dataclass(frozen=True, slots=True)
class FileJob:
    """One input file with how it is read and scored."""

    file: InputFile
    plan: ReadPlan
    spec: ScoreSpec


class Progress:
    """Rows scored so far, told to an optional callback as they grow."""

    def __init__(self, total: int | None, callback: ProgressCallback | None) -> None:
        self.total = total
        self.done = 0
        self._callback = callback

    def add(self, rows: int) -> None:
        """Count ``rows`` more rows as scored."""
        self.done += rows
        if self._callback is not None:
            self._callback(self.done, self.total)

    def rewind(self, done: int) -> None:
        """Go back to ``done`` rows scored: the rows since are scored again."""
        self.add(done - self.done)


def score_chunk(model: PackagedModel, chunk: pa.Table, spec: ScoreSpec) -> pa.Table:
    """Score one chunk: its key columns as they are, the model's outputs, the version.

    Raises:
        InvalidInput: the chunk does not fit the model's signature, or the model fails
            on it or returns the wrong number of rows.
    """
    rows = chunk.num_rows
    frame = chunk.select(spec.features).to_pandas()
    arrays: list[Any] = [chunk.column(name) for name in spec.keys]
    try:
        arrays += _columns(_call(model.predict, frame, spec.label), rows, spec.label)
        if spec.probas:
            arrays += _columns(_call(model.predict_proba, frame, spec.label), rows, spec.label)
    except InvalidInput as exc:
        raise InvalidInput(f"Input file {spec.source!r}: {exc}") from exc
    # Dictionary-encoded: one value for the whole job, so nothing to hash or compress.
    arrays.append(pa.DictionaryArray.from_arrays(np.zeros(rows, np.int32), spec.labels))
    return pa.Table.from_arrays(arrays, names=spec.names)


def csv_types(model: PackagedModel) -> dict[str, pa.DataType]:
    """The types to read the model's input columns of a CSV file with: the signature's
    numbers, booleans and strings (datetimes are left to pyarrow's inference)."""
    signature = model.signature
    if signature is None or not isinstance(signature.inputs, tuple):
        return {}
    types: dict[str, pa.DataType] = {}
    for column in signature.inputs:
        if column.type == "string":
            types[column.name] = pa.string()
        elif column.type != "datetime":
            types[column.name] = pa.from_numpy_dtype(np.dtype(column.type))
    return types


def plan_files(
    model: PackagedModel,
    files: Sequence[InputFile],
    *,
    keys: Sequence[str] | None,
    proba: bool,
    chunk_rows: int,
    label: str,
) -> list[FileJob]:
    """Plan and check every file of a job (see the module docstring).

    Raises:
        InvalidInput: a file lacks a model input or a key column, a column's type does
            not fit the signature, a key is named like an output column, ``proba`` for
            a model without probabilities, or the model fails on the first rows.
    """
    inputs, forced = _model_inputs(model), csv_types(model)
    chosen = None if keys is None else tuple(dict.fromkeys(keys))
    planned = []
    tried: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for file in files:
        plan = plan_reading(file, forced, chunk_rows)
        features, file_keys = _columns_of(model, file, plan, inputs, chosen, label)
        plan = plan.select([*file_keys, *features])
        schema = (file.format, *(plan.types.get(name) for name in features))
        if schema not in tried:
            tried[schema] = _trial(model, file, plan, features, proba, label)
        planned.append((file, plan, features, file_keys))
    predictions, probas = next(iter(tried.values()))
    jobs = []
    for file, plan, features, file_keys in planned:
        spec = ScoreSpec(features, file_keys, predictions, probas, label, str(file.path))
        _refuse_clashes(spec)
        jobs.append(FileJob(file, plan, spec))
    return jobs


# -- helpers ---------------------------------------------------------------------------


def _model_inputs(model: PackagedModel) -> tuple[str, ...] | None:
    """The model's input columns: its signature's, else those it was fit on, else None."""
    signature = model.signature
    if signature is not None and isinstance(signature.inputs, tuple):
        return tuple(column.name for column in signature.inputs)
    names = getattr(model.raw, "feature_names_in_", None)
    return None if names is None else tuple(str(name) for name in names)


def _columns_of(
    model: PackagedModel,
    file: InputFile,
    plan: ReadPlan,
    inputs: tuple[str, ...] | None,
    keys: tuple[str, ...] | None,
    label: str,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The model's inputs and the key columns of ``file``, checked against its columns."""
    present = set(plan.names)
    features = inputs or tuple(name for name in plan.names if name not in set(keys or ()))
    missing = [name for name in features if name not in present]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise InvalidInput(
            f"Input file {str(file.path)!r} lacks {noun} {_typed(model, missing)} that model "
            f"{label} takes as input."
        )
    if keys is None:
        return features, tuple(name for name in plan.names if name not in set(features))
    absent = [name for name in keys if name not in present]
    if absent:
        raise InvalidInput(
            f"Key column {absent[0]!r} is not in input file {str(file.path)!r}; its columns: "
            f"{', '.join(plan.names)}."
        )
    return features, keys


def _typed(model: PackagedModel, names: Sequence[str]) -> str:
    signature = model.signature
    types = {}
    if signature is not None and isinstance(signature.inputs, tuple):
        types = {column.name: column.type for column in signature.inputs}
    return ", ".join(f"{name!r} ({types[name]})" if name in types else repr(name) for name in names)


def _trial(
    model: PackagedModel,
    file: InputFile,
    plan: ReadPlan,
    features: tuple[str, ...],
    proba: bool,
    label: str,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Predict on the first rows of ``file``; the names of the prediction and
    probability columns."""
    chunk = next(read_chunks(file, plan, _TRIAL_ROWS), None)
    if chunk is None:
        raise InvalidInput(f"Input file {str(file.path)!r} has no rows; there is nothing to score.")
    frame = chunk.slice(0, _TRIAL_ROWS).select(features).to_pandas()
    try:
        predicted = _call(model.predict, frame, label)
    except LoopmlError as exc:
        raise InvalidInput(f"Input file {str(file.path)!r}: {exc}") from exc
    probas = _call(model.predict_proba, frame, label) if proba else None
    predictions = _names("prediction", _width(predicted, label))
    if probas is None:
        return predictions, ()
    classes = getattr(model.raw, "classes_", None)
    width = _width(probas, label)
    if classes is not None and len(classes) == width:
        return predictions, tuple(f"proba_{value}" for value in classes)
    return predictions, _names("proba", width)


def _call(method: Any, frame: Any, label: str) -> np.ndarray[Any, Any]:
    try:
        return np.asarray(method(frame))
    except LoopmlError:
        raise
    except Exception as exc:  # the model's own error, about these rows
        raise InvalidInput(
            f"Model {label} failed on the input: {type(exc).__name__}: {exc}"
        ) from exc


def _width(values: np.ndarray[Any, Any], label: str) -> int:
    if values.ndim == 1:
        return 1
    if values.ndim == 2:
        return int(values.shape[1])
    raise InvalidInput(
        f"Model {label} returns predictions of shape {values.shape}; batch scoring writes "
        "one value or one row of values per input row."
    )


def _names(prefix: str, width: int) -> tuple[str, ...]:
    return (prefix,) if width == 1 else tuple(f"{prefix}_{i}" for i in range(width))


def _columns(values: np.ndarray[Any, Any], rows: int, label: str) -> list[pa.Array]:
    if len(values) != rows:
        raise InvalidInput(f"Model {label} returned {len(values)} predictions for {rows} rows.")
    if values.ndim == 1:
        return [pa.array(values)]
    return [pa.array(values[:, i]) for i in range(values.shape[1])]


def _refuse_clashes(spec: ScoreSpec) -> None:
    produced = {*spec.predictions, *spec.probas, VERSION_COLUMN}
    clash = next((name for name in spec.keys if name in produced), None)
    if clash is not None:
        raise InvalidInput(
            f"Key column {clash!r} has the name of an output column; rename it in the input "
            "or choose the keys with keys=[...] (--key)."
        )
