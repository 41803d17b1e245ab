"""Run search compiled to SQL: each comparison becomes ``runs.id IN (SELECT run_id ...)``
over one key, the order becomes outer joins.

Filtering never happens in Python: the database evaluates the filter, the order and
the page. The subqueries are not correlated, so each is answered once from the
``(key, value)`` index of params, tags or latest metrics, whatever the number of runs.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Select, and_, case, cast, false, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from loopml.domain import RunQuery
from loopml.domain.run_filter import (
    And,
    Comparison,
    Ident,
    Node,
    Not,
    Or,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from loopml.errors import InvalidInput
from loopml.store.sql._convert import to_micros
from loopml.store.sql._schema import VALUE_HEAD_LENGTH, latest_metrics, params, runs, tags

__all__ = ["MAX_PAGE_SIZE", "compile_search", "decode_offset", "encode_offset"]

MAX_PAGE_SIZE = 50_000
_ATTRIBUTE_COLUMNS = {
    "status": runs.c.status,
    "name": runs.c.name,
    "run_id": runs.c.id,
    "experiment_id": runs.c.experiment_id,
    "parent_id": runs.c.parent_id,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "git_commit": runs.c.git_commit,
}
_NUMERIC_KINDS = ("int", "float")


def compile_search(query: RunQuery) -> tuple[Select[Any], int]:
    """The SELECT over ``runs`` for a query (one row more than the page, to detect more),
    and the offset of the page.

    Raises:
        InvalidInput: malformed filter, order, limit or page token.
    """
    if not 1 <= query.limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {query.limit}.")
    offset = decode_offset(query.page_token)
    statement = select(runs)
    if query.experiment_ids:
        statement = statement.where(runs.c.experiment_id.in_(query.experiment_ids))
    node = parse_filter(query.filter)
    if node is not None:
        statement = statement.where(_condition(node))
    order: list[ColumnElement[Any]] = []
    for index, key in enumerate(parse_order_by(query.order_by)):
        statement, terms = _order(statement, key, index)
        order.extend(terms)
    if not order:
        order.append(runs.c.start_time.desc())
    order.append(runs.c.id)  # a total order keeps pages stable
    return statement.order_by(*order).offset(offset).limit(query.limit + 1), offset


def encode_offset(offset: int) -> str:
    """The opaque page token of a result offset."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_offset(token: str | None) -> int:
    """The offset in a page token; 0 for no token. Raises InvalidInput when malformed."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInput(
            f"Malformed page token {token!r}: pass the one a search returned."
        ) from exc
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"Malformed page token {token!r}: pass the one a search returned.")
    return offset


def _condition(node: Node) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(*(_condition(item) for item in node.items))
    if isinstance(node, Or):
        return or_(*(_condition(item) for item in node.items))
    if isinstance(node, Not):
        return not_(_condition(node.item))
    return _comparison(node)


def _comparison(node: Comparison) -> ColumnElement[bool]:
    entity, key = node.ident.entity, node.ident.key
    if entity == "attributes":
        return _compare(_ATTRIBUTE_COLUMNS[key], node, _attribute_value)
    if entity == "metrics":
        table = latest_metrics
        scope = and_(table.c.key == key, not_(table.c.is_nan))
        column: ColumnElement[Any] = table.c.value
    else:
        table = params if entity == "params" else tags
        scope = table.c.key == key
        column = table.c.value
        if entity == "params" and node.is_numeric and node.op not in ("IS NULL", "IS NOT NULL"):
            # Params are stored as text; a numeric comparison applies to numeric params
            # only, whose text is short enough to be its whole indexed head.
            scope = and_(scope, params.c.kind.in_(_NUMERIC_KINDS))
            column = cast(table.c.value_head, Float)
    having_key = select(table.c.run_id).where(scope)
    if node.op == "IS NULL":
        return runs.c.id.not_in(having_key)
    if node.op == "IS NOT NULL":
        return runs.c.id.in_(having_key)
    condition = _compare(column, node, _entity_value)
    if entity != "metrics" and not node.is_numeric and node.op in ("=", "IN"):
        # Seek on the indexed head, confirm on the whole value.
        condition = and_(_compare(table.c.value_head, node, _head_value), condition)
    return runs.c.id.in_(having_key.where(condition))


def _entity_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _head_value(value: Any) -> Any:
    converted = _entity_value(value)
    return converted[:VALUE_HEAD_LENGTH] if isinstance(converted, str) else converted


def _attribute_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_micros(value)
    return value


def _compare(
    column: ColumnElement[Any], node: Comparison, convert: Callable[[Any], Any]
) -> ColumnElement[bool]:
    op, value = node.op, node.value
    is_time = node.ident.key in ("start_time", "end_time") and node.ident.entity == "attributes"
    if is_time and isinstance(value, int | float) and not isinstance(value, bool):
        value = int(value * 1000)  # epoch milliseconds in the filter, microseconds stored
    if op == "IS NULL":
        return column.is_(None)
    if op == "IS NOT NULL":
        return column.is_not(None)
    if op in ("IN", "NOT IN"):
        items = [convert(v) for v in value] if isinstance(value, tuple) else [convert(value)]
        if not items:
            return false() if op == "IN" else not_(false())
        return column.in_(items) if op == "IN" else column.not_in(items)
    return _OPERATORS[op](column, convert(value))


_OPERATORS: dict[str, Callable[[ColumnElement[Any], Any], ColumnElement[bool]]] = {
    "=": lambda column, value: column == value,
    "!=": lambda column, value: column != value,
    "<": lambda column, value: column < value,
    "<=": lambda column, value: column <= value,
    ">": lambda column, value: column > value,
    ">=": lambda column, value: column >= value,
    "LIKE": lambda column, value: column.like(value),
    "ILIKE": lambda column, value: column.ilike(value),
    "NOT LIKE": lambda column, value: column.not_like(value),
    "NOT ILIKE": lambda column, value: column.not_ilike(value),
}


def _order(
    statement: Select[Any], key: OrderKey, index: int
) -> tuple[Select[Any], list[ColumnElement[Any]]]:
    ident: Ident = key.ident
    if ident.entity == "attributes":
        column: ColumnElement[Any] = _ATTRIBUTE_COLUMNS[ident.key]
        return statement, [_direction(column, key.descending)]
    if ident.entity == "metrics":
        alias = latest_metrics.alias(f"order_{index}")
        on = and_(alias.c.run_id == runs.c.id, alias.c.key == ident.key, not_(alias.c.is_nan))
        column = alias.c.value
        terms: list[ColumnElement[Any]] = []
    else:
        alias = (params if ident.entity == "params" else tags).alias(f"order_{index}")
        on = and_(alias.c.run_id == runs.c.id, alias.c.key == ident.key)
        column = alias.c.value
        terms = []
        if ident.entity == "params":
            # Numbers sort by value, before text, which sorts alphabetically.
            numeric = case((alias.c.kind.in_(_NUMERIC_KINDS), cast(alias.c.value_head, Float)))
            terms = [_direction(numeric, key.descending)]
    statement = statement.outerjoin(alias, on)
    return statement, [*terms, _direction(column, key.descending)]


def _direction(column: ColumnElement[Any], descending: bool) -> ColumnElement[Any]:
    # Runs without the value come last either way, on SQLite and PostgreSQL alike.
    return (column.desc() if descending else column.asc()).nulls_last()
