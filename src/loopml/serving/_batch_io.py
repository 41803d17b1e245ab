"""The files of a batch-scoring job: finding the inputs, reading them in chunks, splitting
them into parts, and writing the output under a temporary name until the job succeeds.

Reading streams, in chunks of at most about ``chunk_rows`` rows, so memory stays bounded
whatever the file's size. Parquet: runs of whole row groups of a memory-mapped file, read
at once when they hold ``chunk_rows`` rows at most, else streamed in record batches
(never pre-buffered: pyarrow would read every row group asked for at once). CSV: with
pyarrow's streaming reader, in blocks of up to a MiB gathered into chunks (a block's row
count is estimated from the file's first lines); a part of a CSV file (a byte range, see
:func:`split_parts`) is memory-mapped and parsed on the calling thread, so that a job can
parse several parts at once, one per core.

Every column of a CSV file is read with a type fixed before the first chunk (the
signature's for the model's inputs, else the type pyarrow infers from the first MiB):
the streaming reader would otherwise fix them from its first block anyway, and a job
split into parts must read every part with the same types. When a later value does not
fit an inferred type (a column of integers that holds ``2.5`` further on), reading raises
:class:`InferredTypeTooNarrow` and the job reads the file again with that column one
type wider (:meth:`ReadPlan.widened`). As with pyarrow's defaults, CSV values must not
hold line breaks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet

from loopml.errors import AlreadyExists, InvalidInput, NotFound

__all__ = [
    "INPUT_SUFFIXES",
    "Format",
    "InferredTypeTooNarrow",
    "InputFile",
    "OutputWriter",
    "Part",
    "ReadPlan",
    "Staging",
    "find_inputs",
    "output_format",
    "plan_reading",
    "read_chunks",
    "refuse_existing",
    "split_parts",
]

Format = Literal["csv", "parquet"]
INPUT_SUFFIXES: Mapping[str, Format] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_PROBE_BYTES = 1 << 20  # what CSV types and the bytes per row are read from
# pyarrow parses CSV fastest in blocks of about a MiB (bigger ones fall out of the CPU
# caches: 40 MiB blocks take twice as long); blocks are regrouped into chunks.
_CSV_BLOCK = 1 << 20
_MIN_BLOCK = 1 << 10
# A Parquet column chunk falls back from dictionary to plain encoding once its dictionary
# page passes this size. pyarrow's 1 MiB default never fills for 8-byte values in row
# groups of a chunk (100,000 rows): unique keys and float scores were dictionary-encoded,
# a third slower to write and larger than plain. Low-cardinality columns stay encoded.
_DICTIONARY_PAGE = 1 << 16


@dataclass(frozen=True, slots=True)
class InputFile:
    """One table to score.

    Attributes:
        path: where it is.
        relative: its path inside the source folder (its name for a single file).
        format: ``csv`` or ``parquet``.
    """

    path: Path
    relative: str
    format: Format


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """How one file is read: its columns, and for CSV the types and block size.

    Attributes:
        names: every column of the file, in order.
        columns: the columns to read, in the file's order.
        rows: the row count (Parquet metadata), or None when unknown (CSV).
        types: the type of each column read (CSV: the type it is read as).
        block_size: CSV only: bytes per block read (a MiB, or about ``chunk_rows`` rows
            when fewer); blocks are regrouped into chunks of about ``chunk_rows``.
        chunk_bytes: CSV only: about how many bytes hold ``chunk_rows`` rows.
        row_groups: Parquet only: the rows of each row group.
        inferred: CSV only: the columns whose type was inferred from the first MiB
            rather than given by the signature (those :meth:`widened` may change).
    """

    names: tuple[str, ...]
    columns: tuple[str, ...]
    rows: int | None
    types: Mapping[str, pa.DataType]
    block_size: int = 0
    chunk_bytes: int = 0
    row_groups: tuple[int, ...] = ()
    inferred: frozenset[str] = frozenset()

    def select(self, columns: Sequence[str]) -> ReadPlan:
        """The same plan reading only ``columns`` (kept in the file's order)."""
        keep = set(columns)
        chosen = tuple(name for name in self.names if name in keep)
        types = {name: kind for name, kind in self.types.items() if name in keep}
        return replace(self, columns=chosen, types=types)

    def widened(self, column: str) -> ReadPlan:
        """The same plan reading the inferred ``column`` one type wider: nothing yet
        (null) as int64, an integer as float64 (exact up to 2**53, as pandas reads such a
        column), anything else as string, which holds every value."""
        kind = self.types[column]
        if pa.types.is_null(kind):
            wider = pa.int64()
        elif pa.types.is_integer(kind):
            wider = pa.float64()
        else:
            wider = pa.string()
        return replace(self, types={**self.types, column: wider})


class InferredTypeTooNarrow(InvalidInput):
    """A CSV value that does not fit the type its column was inferred as from the first
    MiB. Batch jobs catch it and read the file again with :meth:`ReadPlan.widened`; a
    column read with the signature's type raises plain :class:`InvalidInput` instead.

    Attributes:
        path: the file, as a string.
        column: the column to widen.
    """

    def __init__(self, message: str, path: str, column: str) -> None:
        super().__init__(message)
        self.path = path
        self.column = column

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised on Dask workers: sent back pickled with its attributes.
        return (type(self), (self.message, self.path, self.column))


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of one file scored on its own: some row groups, or a byte range of a CSV."""

    file: int
    index: int
    row_groups: tuple[int, ...] | None = None
    byte_range: tuple[int, int] | None = None


def find_inputs(source: Path) -> list[InputFile]:
    """The CSV and Parquet files of ``source``: itself, or those under a folder (at any
    depth, by relative path; other files and hidden ones are left out).

    Raises:
        NotFound: nothing at ``source``.
        InvalidInput: an unsupported suffix, or a folder without a table file.
    """
    if source.is_file():
        return [InputFile(source, source.name, _format_of(source))]
    if not source.exists():
        raise NotFound(f"No file or folder at {str(source)!r} to score; check the path.")
    found = sorted(
        (path.relative_to(source).as_posix(), path)
        for path in source.rglob("*")
        if path.suffix.lower() in INPUT_SUFFIXES and path.is_file() and not _hidden(path, source)
    )
    if not found:
        raise InvalidInput(
            f"Folder {str(source)!r} holds no {', '.join(INPUT_SUFFIXES)} file to score."
        )
    return [
        InputFile(path, relative, INPUT_SUFFIXES[path.suffix.lower()]) for relative, path in found
    ]


def output_format(output: Path, *, folder: bool) -> Format:
    """The format to write: Parquet for a folder, else told by the output's suffix.

    Raises:
        InvalidInput: an unsupported suffix, or CSV asked for a folder of inputs.
    """
    suffix = output.suffix.lower()
    if folder:
        if suffix == ".csv":
            raise InvalidInput(
                f"Output {str(output)!r} ends in .csv, but the input is a folder: a folder "
                "is scored into a folder of Parquet files; name the output without .csv."
            )
        return "parquet"
    if suffix not in INPUT_SUFFIXES:
        raise InvalidInput(
            f"Output {str(output)!r} has an unsupported extension {suffix or '(none)'!r}; "
            f"end it in {', '.join(INPUT_SUFFIXES)}."
        )
    return INPUT_SUFFIXES[suffix]


def plan_reading(file: InputFile, forced: Mapping[str, pa.DataType], chunk_rows: int) -> ReadPlan:
    """Open ``file`` just enough to plan reading all its columns (Parquet footer, CSV
    first MiB); :meth:`ReadPlan.select` narrows it.

    Args:
        forced: CSV types to use instead of inferred ones, by column.

    Raises:
        InvalidInput: the file is empty, has no rows or cannot be read as its format.
    """
    if file.path.stat().st_size == 0:
        raise InvalidInput(f"Input file {str(file.path)!r} is empty; there is nothing to score.")
    try:
        if file.format == "parquet":
            return _plan_parquet(file)
        return _plan_csv(file, forced, chunk_rows)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(
            f"Input file {str(file.path)!r} cannot be read as {file.format}: {exc}"
        ) from exc


def read_chunks(
    file: InputFile, plan: ReadPlan, chunk_rows: int, part: Part | None = None
) -> Iterator[pa.Table]:
    """The rows of ``file`` (or of one part of it) in chunks of about ``chunk_rows``:
    Parquet chunks never hold more, CSV ones gather blocks up to at least that many.

    Raises:
        InferredTypeTooNarrow: a CSV value that does not fit its column's inferred type.
        InvalidInput: a value that does not convert to its column's given type (named).
    """
    try:
        if file.format == "parquet":
            yield from _parquet_chunks(file, plan, chunk_rows, part)
        else:
            yield from _regrouped(_csv_reader(file, plan, part), chunk_rows)
    except pa.ArrowInvalid as exc:
        raise _read_error(file, plan, exc) from exc


def split_parts(index: int, file: InputFile, plan: ReadPlan, chunk_rows: int) -> list[Part]:
    """``file`` cut into parts of about ``chunk_rows`` rows: runs of whole row groups of
    a Parquet file, byte ranges ending at line ends of a CSV file."""
    if file.format == "parquet":
        return _row_group_parts(index, plan.row_groups, chunk_rows)
    return _byte_range_parts(index, file.path, plan.chunk_bytes)


class OutputWriter:
    """Writes tables to one Parquet or CSV file, its schema set by the first."""

    def __init__(self, path: Path, format: Format) -> None:
        self.path = path
        self.format = format
        self._writer: Any = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        """Append ``table`` (cast to the file's schema if a later table's types differ);
        a Parquet file gets one row group per call."""
        if self._writer is None:
            self._schema = table.schema
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.format == "parquet":
                self._writer = pa_parquet.ParquetWriter(
                    self.path, table.schema, dictionary_pagesize_limit=_DICTIONARY_PAGE
                )
            else:
                self._writer = pa_csv.CSVWriter(self.path, table.schema)
        elif table.schema != self._schema:
            table = table.cast(self._schema)
        self._writer.write_table(table)

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def restart(self) -> None:
        """Drop what was written: the next table starts the file again, with its schema."""
        self.close()
        self._schema = None
        self.path.unlink(missing_ok=True)


class Staging:
    """Where a job writes until it succeeds: a hidden folder beside ``output``.

    :meth:`commit` renames the result to ``output`` (replacing what is there when
    ``overwrite``); :meth:`discard` removes everything the job wrote, including parent
    folders it created.

    Raises:
        AlreadyExists: ``output`` exists and ``overwrite`` is False.
    """

    def __init__(self, output: Path, *, overwrite: bool) -> None:
        refuse_existing(output, overwrite)
        self.output = output
        self.overwrite = overwrite
        self._created = _first_missing(output.parent)
        output.parent.mkdir(parents=True, exist_ok=True)
        self.root = output.parent / f".{output.name}.loopml-{uuid.uuid4().hex[:12]}"
        self.root.mkdir()
        self.result = self.root / output.name
        self.parts = self.root / "parts"

    def commit(self) -> None:
        """Put the result under the real name."""
        refuse_existing(self.output, self.overwrite)
        if self.output.is_file() and self.result.is_file():
            os.replace(self.result, self.output)  # atomic: readers see old or new
        else:
            if self.output.exists() or self.output.is_symlink():
                os.replace(self.output, self.root / "replaced")
            os.replace(self.result, self.output)
        shutil.rmtree(self.root, ignore_errors=True)

    def discard(self) -> None:
        """Remove everything written; the output's name is left as it was."""
        shutil.rmtree(self.root, ignore_errors=True)
        if self._created is not None:
            folder = self.output.parent
            while folder != self._created.parent:
                with contextlib.suppress(OSError):
                    folder.rmdir()
                folder = folder.parent


def refuse_existing(output: Path, overwrite: bool) -> None:
    """Raise AlreadyExists when ``output`` exists and may not be replaced."""
    if not overwrite and (output.exists() or output.is_symlink()):
        raise AlreadyExists(
            f"Output {str(output)!r} exists already; pass overwrite=True (--overwrite) to "
            "replace it, or choose another output."
        )


# -- helpers ---------------------------------------------------------------------------


def _format_of(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise InvalidInput(
            f"Cannot score {str(path)!r}: unsupported extension {suffix or '(none)'!r}; "
            f"batch scoring reads {', '.join(INPUT_SUFFIXES)} files."
        )
    return INPUT_SUFFIXES[suffix]


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def _first_missing(folder: Path) -> Path | None:
    missing = None
    while not folder.exists():
        missing, folder = folder, folder.parent
    return missing


def _plan_parquet(file: InputFile) -> ReadPlan:
    metadata = pa_parquet.ParquetFile(file.path).metadata
    schema = metadata.schema.to_arrow_schema()
    names = tuple(schema.names)
    if metadata.num_rows == 0:
        raise InvalidInput(f"Input file {str(file.path)!r} has no rows; there is nothing to score.")
    groups = tuple(metadata.row_group(i).num_rows for i in range(metadata.num_row_groups))
    types = {field.name: field.type for field in schema}
    return ReadPlan(names, names, metadata.num_rows, types, row_groups=groups)


def _plan_csv(file: InputFile, forced: Mapping[str, pa.DataType], chunk_rows: int) -> ReadPlan:
    with file.path.open("rb") as stream:
        head = stream.read(_PROBE_BYTES)
        if stream.read(1):  # more follows: the probe ends at the last whole line
            head = head[: head.rfind(b"\n") + 1] or head
    lines = max(head.count(b"\n"), 1)
    chunk_bytes = max(_MIN_BLOCK, int(len(head) / lines * chunk_rows))
    block_size = min(_CSV_BLOCK, chunk_bytes)
    convert = pa_csv.ConvertOptions(column_types=forced)
    try:
        # One block: types inferred from the same rows as the streaming reader's first.
        options = _serial(len(head) + 1)
        probe = pa_csv.read_csv(pa.py_buffer(head), options, convert_options=convert)
    except pa.ArrowInvalid as exc:  # only a given type can fail on the rows it was inferred from
        names = _csv_names(file.path)
        raise _read_error(file, ReadPlan(names, names, None, forced), exc) from exc
    if probe.num_rows == 0:
        raise InvalidInput(f"Input file {str(file.path)!r} has no rows; there is nothing to score.")
    names = tuple(probe.schema.names)
    types = {field.name: field.type for field in probe.schema}
    inferred = frozenset(name for name in names if name not in forced)
    return ReadPlan(
        names,
        names,
        None,
        types,
        block_size=block_size,
        chunk_bytes=chunk_bytes,
        inferred=inferred,
    )


def _csv_names(path: Path) -> tuple[str, ...]:
    reader = pa_csv.open_csv(
        path,
        _serial(_MIN_BLOCK * 64),
        convert_options=pa_csv.ConvertOptions(include_columns=[]),
    )
    return tuple(reader.schema.names)


def _csv_reader(file: InputFile, plan: ReadPlan, part: Part | None) -> Iterator[pa.RecordBatch]:
    convert = pa_csv.ConvertOptions(include_columns=list(plan.columns), column_types=plan.types)
    names = list(plan.names)
    if part is None or part.byte_range is None:
        options = _serial(plan.block_size, column_names=names, skip_rows=1)
        return iter(pa_csv.open_csv(file.path, options, convert_options=convert))
    start, end = part.byte_range
    # Mapped, not read: copying the bytes cost a fifth of the parsing. The mapped region
    # lives as long as the buffer does, after the file is closed.
    with pa.memory_map(str(file.path)) as source:
        source.seek(start)
        data = source.read_buffer(end - start)
    options = _serial(plan.block_size, column_names=names)
    return iter(pa_csv.open_csv(pa.BufferReader(data), options, convert_options=convert))


def _serial(block_size: int, **options: Any) -> pa_csv.ReadOptions:
    """Options to parse CSV on the calling thread. With threads, pyarrow's streaming
    reader parses blocks ahead in the background: MiBs of them for a probe that needs
    one (10 ms of a job's checks), and cores taken from a job that parses several
    parts at once (see ``_batch._score_here``)."""
    return pa_csv.ReadOptions(use_threads=False, block_size=block_size, **options)


def _parquet_chunks(
    file: InputFile, plan: ReadPlan, chunk_rows: int, part: Part | None
) -> Iterator[pa.Table]:
    # pre_buffer would read every row group asked for at once: the whole file.
    parquet = pa_parquet.ParquetFile(file.path, memory_map=True, pre_buffer=False)
    groups: Sequence[int] = range(len(plan.row_groups))
    if part is not None and part.row_groups is not None:
        groups = part.row_groups
    columns = list(plan.columns)
    for run in _row_group_runs(groups, plan.row_groups, chunk_rows):
        if len(run) > 1 or plan.row_groups[run[0]] <= chunk_rows:
            # Whole row groups at once: a sixth less CPU than the same rows in batches.
            yield parquet.read_row_groups(run, columns)
        else:
            for batch in parquet.iter_batches(chunk_rows, run, columns):
                yield pa.Table.from_batches([batch])


def _row_group_runs(groups: Sequence[int], rows: Sequence[int], chunk_rows: int) -> list[list[int]]:
    """``groups`` gathered into runs of consecutive ones holding ``chunk_rows`` rows at
    most together; a bigger row group makes a run of its own."""
    runs: list[list[int]] = []
    total = 0
    for group in groups:
        if runs and total + rows[group] <= chunk_rows:
            runs[-1].append(group)
            total += rows[group]
        else:
            runs.append([group])
            total = rows[group]
    return runs


def _regrouped(batches: Iterator[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.Table]:
    """Consecutive batches gathered into tables of at least ``chunk_rows`` rows (the
    last one excepted)."""
    gathered: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        gathered.append(batch)
        rows += batch.num_rows
        if rows >= chunk_rows:
            yield pa.Table.from_batches(gathered)
            gathered, rows = [], 0
    if rows:
        yield pa.Table.from_batches(gathered)


def _read_error(file: InputFile, plan: ReadPlan, exc: pa.ArrowInvalid) -> InvalidInput:
    """What went wrong reading ``file``, naming the column of a CSV conversion error
    (pyarrow numbers it); :class:`InferredTypeTooNarrow` for an inferred column."""
    text = str(exc)
    prefix = "In CSV column #"
    if file.format == "csv" and text.startswith(prefix):
        number, _, rest = text[len(prefix) :].partition(": ")
        if number.isdecimal() and int(number) < len(plan.names):
            name = plan.names[int(number)]
            kind = plan.types.get(name)
            shown = {pa.float64(): "float64", pa.float32(): "float32"}.get(kind, str(kind))
            message = (
                f"Column {name!r} of {str(file.path)!r} must be {shown}: {rest}. Fix the "
                "value, or convert the file to Parquet with the column's real type."
            )
            if name in plan.inferred and kind != pa.string():
                return InferredTypeTooNarrow(message, str(file.path), name)
            return InvalidInput(message)
    return InvalidInput(f"Cannot read {str(file.path)!r}: {text}")


def _row_group_parts(index: int, groups: Sequence[int], chunk_rows: int) -> list[Part]:
    parts: list[Part] = []
    run: list[int] = []
    rows = 0
    for number, count in enumerate(groups):
        run.append(number)
        rows += count
        if rows >= chunk_rows or number == len(groups) - 1:
            parts.append(Part(index, len(parts), row_groups=tuple(run)))
            run, rows = [], 0
    return parts


def _byte_range_parts(index: int, path: Path, part_bytes: int) -> list[Part]:
    size = path.stat().st_size
    parts: list[Part] = []
    with path.open("rb") as stream:
        start = len(stream.readline())  # the header
        while start < size:
            end = start + part_bytes
            if end >= size:
                end = size
            else:  # on to the end of the line the block ends in
                stream.seek(end)
                end += len(stream.readline())
            parts.append(Part(index, len(parts), byte_range=(start, end)))
            start = end
    return parts
