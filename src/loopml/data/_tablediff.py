"""What changed between two versions of a table: columns, types and rows.

Rows are compared as a multiset over the columns both tables have: each row is hashed
to 64 bits, vectorised column by column, and the hashes of the two sides are counted.
A row present twice before and once after counts as one row removed; moving rows
around changes nothing. Two different rows share a hash with a probability of about
``n**2 / 2**65`` (one in ten million for two million rows), the price of comparing a
million rows in well under a second.

How a column's values are hashed:

- integers, floats, booleans, dates, times, timestamps and durations from their bits
  (``-0.0`` is ``0.0`` and every NaN is one value);
- strings, binary, decimals and other hashable types by their index in the set of
  distinct values of both sides, so that equal values get equal codes;
- structs from their fields, lists from their elements and positions;
- anything else (maps, unions) from the ``repr`` of its Python values, a slow path.

A null is a value of its own, equal to another null. A column whose type changed is
compared as the new version would hold the old values: cast to the new type when
pyarrow's safe cast accepts them (``int64`` 1 equals ``float64`` 1.0; ``float64`` to
``float32`` compares the rounded values), and as text when it refuses (``1.5`` to
``int64``) or cannot cast.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._tables import check_unique_names, type_name

__all__ = ["diff_tables"]

Hashes = npt.NDArray[np.uint64]

# splitmix64's finaliser constants; _NULL stands for a null value, _STEP weighs positions.
_MIX1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX2: Final = np.uint64(0x94D049BB133111EB)
_STEP: Final = np.uint64(0x9E3779B97F4A7C15)
_NULL: Final = np.uint64(0x6A09E667F3BCC909)


def diff_tables(old: pa.Table, new: pa.Table) -> dict[str, Any]:
    """Compare two versions of a table.

    Args:
        old: the earlier version.
        new: the later version.

    Returns:
        JSON-able ``{"rows_added", "rows_removed", "rows_before", "rows_after",
        "columns_added", "columns_removed", "type_changes"}``. Rows are compared as a
        multiset over the columns both tables have (see the module docstring);
        ``columns_added`` keeps the new table's column order, ``columns_removed`` the
        old one's; ``type_changes`` lists ``{"column", "before", "after"}`` for each
        common column whose type name (:func:`type_name`) differs.

    Raises:
        InvalidInput: a table has two columns of one name.

    Example:
        >>> diff_tables(pa.table({"a": [1, 2, 2]}), pa.table({"a": [2, 3]}))["rows_removed"]
        2
    """
    check_unique_names(old, "the old table")
    check_unique_names(new, "the new table")
    old_names, new_names = set(old.column_names), set(new.column_names)
    common = [name for name in old.column_names if name in new_names]
    type_changes = [
        {"column": name, "before": before, "after": after}
        for name in common
        if (before := type_name(old.schema.field(name).type))
        != (after := type_name(new.schema.field(name).type))
    ]
    kept = _rows_in_both(old.select(common), new.select(common))
    return {
        "rows_added": new.num_rows - kept,
        "rows_removed": old.num_rows - kept,
        "rows_before": old.num_rows,
        "rows_after": new.num_rows,
        "columns_added": [name for name in new.column_names if name not in old_names],
        "columns_removed": [name for name in old.column_names if name not in new_names],
        "type_changes": type_changes,
    }


def _rows_in_both(old: pa.Table, new: pa.Table) -> int:
    """How many rows the two tables (with the same column names) have in common."""
    old_rows = np.zeros(old.num_rows, dtype=np.uint64)
    new_rows = np.zeros(new.num_rows, dtype=np.uint64)
    for name in old.column_names:
        before, after = _aligned(old.column(name), new.column(name))
        old_values, new_values = _value_hashes(before, after)
        old_rows = _mix(old_rows * _STEP + old_values)
        new_rows = _mix(new_rows * _STEP + new_values)
    old_keys, old_counts = np.unique(old_rows, return_counts=True)
    new_keys, new_counts = np.unique(new_rows, return_counts=True)
    _, in_old, in_new = np.intersect1d(old_keys, new_keys, assume_unique=True, return_indices=True)
    return int(np.minimum(old_counts[in_old], new_counts[in_new]).sum())


def _aligned(
    before: pa.ChunkedArray, after: pa.ChunkedArray
) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """Both sides of a column in one type, so that equal values hash equally."""
    before, after = _decoded(before), _decoded(after)
    if before.type == after.type:
        return before, after
    try:
        return pc.cast(before, after.type), after  # a safe cast: refuses to truncate
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        return pc.cast(before, pa.string()), pc.cast(after, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _as_text(before), _as_text(after)


def _value_hashes(before: pa.ChunkedArray, after: pa.ChunkedArray) -> tuple[Hashes, Hashes]:
    """64-bit hashes of each value of two columns of one type, comparable across them."""
    t = pa.types
    kind = before.type
    if t.is_dictionary(kind):
        return _value_hashes(_decoded(before), _decoded(after))
    if (
        t.is_integer(kind)
        or t.is_floating(kind)
        or t.is_boolean(kind)
        or t.is_timestamp(kind)
        or t.is_date(kind)
        or t.is_time(kind)
        or t.is_duration(kind)
    ):
        return _bit_hashes(before), _bit_hashes(after)
    if t.is_struct(kind):
        return _struct_hashes(before, after)
    if t.is_list(kind) or t.is_large_list(kind) or t.is_fixed_size_list(kind):
        elements = _value_hashes(pc.list_flatten(before), pc.list_flatten(after))
        return _fold_lists(before, elements[0]), _fold_lists(after, elements[1])
    try:
        return _code_hashes(before, after)
    except pa.ArrowNotImplementedError:  # no hash kernel for this type (maps, unions)
        return _code_hashes(_as_text(before), _as_text(after))


def _bit_hashes(column: pa.ChunkedArray) -> Hashes:
    kind = column.type
    if pa.types.is_floating(kind):
        column = pc.cast(column, pa.float64())
    elif not pa.types.is_integer(kind):  # booleans and temporal types: their integers
        column = pc.cast(column, pa.int32() if kind.bit_width <= 32 else pa.int64())
    values = (column.fill_null(0) if column.null_count else column).to_numpy()
    if values.dtype.kind == "f":
        values = values + 0.0  # -0.0 becomes 0.0
        values[np.isnan(values)] = np.nan  # one bit pattern for every NaN
        bits = values.view(np.uint64)
    elif values.dtype == np.uint64:
        bits = values
    else:
        bits = values.astype(np.int64).view(np.uint64)
    return _with_nulls(column, _mix(bits))


def _code_hashes(before: pa.ChunkedArray, after: pa.ChunkedArray) -> tuple[Hashes, Hashes]:
    """Hash each value by its index among the distinct values of both sides."""
    distinct = pc.unique(pa.chunked_array(before.chunks + after.chunks, type=before.type))

    def hashes(column: pa.ChunkedArray) -> Hashes:
        # null is in ``distinct`` when a side has one, so every value finds its index
        codes = pc.index_in(column, value_set=distinct).to_numpy()
        return _mix(codes.astype(np.int64).view(np.uint64))

    return hashes(before), hashes(after)


def _struct_hashes(before: pa.ChunkedArray, after: pa.ChunkedArray) -> tuple[Hashes, Hashes]:
    old_rows = np.zeros(len(before), dtype=np.uint64)
    new_rows = np.zeros(len(after), dtype=np.uint64)
    for index in range(before.type.num_fields):
        old_values, new_values = _value_hashes(
            pc.struct_field(before, [index]), pc.struct_field(after, [index])
        )
        old_rows = _mix(old_rows * _STEP + old_values)
        new_rows = _mix(new_rows * _STEP + new_values)
    return _with_nulls(before, old_rows), _with_nulls(after, new_rows)


def _fold_lists(column: pa.ChunkedArray, elements: Hashes) -> Hashes:
    """One hash per list from its elements' hashes, their positions and its length.

    ``list_flatten`` leaves out the values under null lists, so the parents are
    rebuilt from the lengths (null counting as 0), not from ``list_parent_indices``,
    which keeps them.
    """
    lengths = pc.list_value_length(column).fill_null(0).to_numpy().astype(np.int64)
    parents = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    positions = (np.arange(len(parents)) - starts[parents]).astype(np.uint64)
    folded = np.zeros(len(lengths), dtype=np.uint64)
    np.add.at(folded, parents, _mix(elements + positions * _STEP))
    return _with_nulls(column, _mix(folded + lengths.astype(np.uint64)))


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary-encoded or view column as plain values: encoding is not content."""
    if pa.types.is_dictionary(column.type):
        return _decoded(pc.cast(column, column.type.value_type))
    if pa.types.is_string_view(column.type):  # few kernels take views yet
        return pc.cast(column, pa.large_string())
    if pa.types.is_binary_view(column.type):
        return pc.cast(column, pa.large_binary())
    return column


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    # A per-row Python loop, only for types pyarrow can neither cast to text nor hash.
    return pa.chunked_array([pa.array([repr(v) for v in column.to_pylist()], pa.string())])


def _with_nulls(column: pa.ChunkedArray, hashes: Hashes) -> Hashes:
    if column.null_count:
        hashes[pc.is_null(column).to_numpy()] = _NULL
    return hashes


def _mix(x: Hashes) -> Hashes:
    """splitmix64's finaliser, elementwise: a bijection that spreads every input bit."""
    x = x ^ (x >> np.uint64(30))
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return x
