# SQL text here is assembled only from this module's fixed fragments and ":pN" placeholders;
# every value and JSON path is a bound parameter, so S608's string-building warning does not apply.
# ruff: noqa: S608
"""Turn contract queries (``EventQuery``, ``FieldFilter``) into parameterised SQLite SQL.

Nothing from outside is ever pasted into SQL text: field names are checked against a strict
pattern and then passed as bound JSON paths; values are always bound parameters. Only column
names and operators chosen from fixed tables here appear in the SQL text.

A JSON field may hold a list (``event.category``, ``tags``); like Elasticsearch, a condition
on it holds when any element satisfies it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from sentinel.errors import StoreError
from sentinel.events import format_timestamp, parse_timestamp
from sentinel.store.base import EventQuery, FieldFilter, Scope

# The brief's pattern, tightened to refuse empty segments ("a..b", ".a").
_FIELD_RE = re.compile(r"^[A-Za-z0-9_@]+(?:\.[A-Za-z0-9_@]+)*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_RANGE_SQL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_SCALARS = (str, int, float, bool, datetime)


@dataclass(frozen=True, slots=True)
class Column:
    """A real column that serves a field faster than ``json_extract``."""

    sql: str  # qualified column name, e.g. "e.ts"
    kind: Literal["text", "ms"]  # ms: epoch milliseconds, values may be datetimes or ISO strings


@dataclass(slots=True)
class Where:
    """A conjunction of SQL conditions with named parameters (``:p0``, ``:p1``...).

    Named parameters let one value (a JSON path) appear several times in a clause without
    tracking positional order.
    """

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return ":" + name

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1"


def millis(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise StoreError("query times must be timezone-aware")
    return (ts - _EPOCH) // _MS  # exact: float timestamps can lose a millisecond


def from_millis(ms: int) -> datetime:
    # timedelta arithmetic is exact; float division in fromtimestamp can round a millisecond away.
    return _EPOCH + timedelta(milliseconds=ms)


def json_path(name: str) -> str:
    """A JSON path for a dotted field; refuses anything but letters, digits, ``_``, ``@`` and dots."""
    if not isinstance(name, str) or not _FIELD_RE.fullmatch(name):
        raise StoreError(f"invalid field name {name!r}: use letters, digits, '_', '@' and dots")
    return "$" + "".join(f'."{part}"' for part in name.split("."))


def _check_scalar(f: FieldFilter, value: Any) -> Any:
    if value is None:
        raise StoreError(f"filter {f.op!r} on {f.field!r} needs a value (use op 'missing' for absent fields)")
    if not isinstance(value, _SCALARS):
        raise StoreError(f"filter {f.op!r} on {f.field!r}: unsupported value type {type(value).__name__}")
    return format_timestamp(value) if isinstance(value, datetime) else value


def _to_ms(f: FieldFilter, value: Any) -> int:
    value = _check_scalar(f, value)
    if isinstance(value, bool):
        raise StoreError(f"filter on {f.field!r}: a time cannot be a boolean")
    if isinstance(value, int | float):
        return int(value)  # epoch milliseconds, as Elasticsearch's epoch_millis
    try:
        return millis(parse_timestamp(str(value)))
    except ValueError as exc:
        raise StoreError(f"filter on {f.field!r}: {value!r} is not a timestamp") from exc


def _values(f: FieldFilter) -> list[Any]:
    if isinstance(f.value, str | bytes) or not isinstance(f.value, Iterable):
        raise StoreError(f"filter 'in' on {f.field!r} needs a list of values")
    return list(f.value)


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _value_predicate(f: FieldFilter, x: str, where: Where) -> str:
    """SQL that is true when the scalar expression ``x`` satisfies the filter (eq/in/prefix/ranges)."""
    if f.op == "eq":
        return f"{x} = {where.bind(_check_scalar(f, f.value))}"
    if f.op == "in":
        values = orjson.dumps([_check_scalar(f, v) for v in _values(f)]).decode()
        return f"{x} IN (SELECT value FROM json_each({where.bind(values)}))"
    if f.op == "prefix":
        if not isinstance(f.value, str):
            raise StoreError(f"filter 'prefix' on {f.field!r} needs a string")
        like, size, prefix = where.bind(_like_prefix(f.value)), where.bind(len(f.value)), where.bind(f.value)
        # LIKE narrows (escaped, so % and _ are literal); LIKE ignores ASCII case, substr() restores it.
        return f"(typeof({x}) = 'text' AND {x} LIKE {like} ESCAPE '\\' AND substr({x}, 1, {size}) = {prefix})"
    if f.op in _RANGE_SQL:
        value = _check_scalar(f, f.value)
        # Keep numbers to numbers and strings to strings: SQLite sorts every text above every number.
        kind = "'text'" if isinstance(value, str) else "'integer', 'real'"
        return f"(typeof({x}) IN ({kind}) AND {x} {_RANGE_SQL[f.op]} {where.bind(value)})"
    raise StoreError(f"unknown filter op {f.op!r}")


def _column_filter(f: FieldFilter, col: Column, where: Where) -> None:
    if f.op == "exists":
        where.add(f"{col.sql} IS NOT NULL")
        return
    if f.op == "missing":
        where.add(f"{col.sql} IS NULL")
        return
    if col.kind == "ms":
        if f.op == "prefix":
            raise StoreError(f"filter 'prefix' is not supported on the time field {f.field!r}")
        if f.op == "in":
            f = FieldFilter(f.field, "in", [_to_ms(f, v) for v in _values(f)])
        else:
            f = FieldFilter(f.field, f.op, _to_ms(f, f.value))
    if f.op == "neq":
        where.add(f"{col.sql} IS NOT {where.bind(_check_scalar(f, f.value))}")
        return
    where.add(_value_predicate(f, col.sql, where))


def _json_filter(f: FieldFilter, source: str, where: Where) -> None:
    path = where.bind(json_path(f.field))
    if f.op in ("exists", "missing"):
        # Present and not null; an empty list does not count (as in Elasticsearch).
        clause = f"EXISTS (SELECT 1 FROM json_each({source}, {path}) AS j WHERE j.type != 'null')"
        where.add(clause if f.op == "exists" else f"NOT {clause}")
        return
    if f.op not in ("eq", "neq", "in", "prefix", *_RANGE_SQL):
        raise StoreError(f"unknown filter op {f.op!r}")
    positive = FieldFilter(f.field, "eq", f.value) if f.op == "neq" else f
    listed = _value_predicate(positive, "j.value", where)
    scalar = _value_predicate(positive, f"json_extract({source}, {path})", where)
    # A list matches when any element does; a scalar is compared directly (cheaper than json_each).
    clause = (
        f"(CASE json_type({source}, {path}) WHEN 'array' THEN "
        f"EXISTS (SELECT 1 FROM json_each({source}, {path}) AS j WHERE {listed}) "
        f"ELSE IFNULL({scalar}, 0) END)"
    )
    where.add(f"NOT {clause}" if f.op == "neq" else clause)


def add_filter(f: FieldFilter, where: Where, *, source: str, columns: Mapping[str, Column]) -> None:
    if not isinstance(f, FieldFilter):
        raise StoreError(f"filters must be FieldFilter objects, not {type(f).__name__}")
    col = columns.get(f.field)
    if col is not None:
        _column_filter(f, col, where)
    else:
        _json_filter(f, source, where)


# Events -----------------------------------------------------------------------------------

EVENT_SOURCE = "e.doc"
EVENT_COLUMNS: dict[str, Column] = {
    "@timestamp": Column("e.ts", "ms"),
    "event.ingested": Column("e.ingested", "ms"),
    "event.dataset": Column("e.dataset", "text"),
    "event.id": Column("e.id", "text"),
    "organization.id": Column("e.org", "text"),
}


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH string: each whitespace-separated word is a quoted phrase, ANDed.

    Quoting makes ``"``, ``*``, ``AND``, ``-``, ``NEAR`` plain text. Words with no letter or digit
    cannot match a token, so they are dropped; ``None`` means no word was left.
    """
    words = [w for w in text.split() if any(ch.isalnum() for ch in w)]
    if not words:
        return None
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words)


def time_column(query: EventQuery) -> str:
    if query.time_field == "@timestamp":
        return "e.ts"
    if query.time_field == "event.ingested":
        return "e.ingested"
    raise StoreError(f"unknown time field {query.time_field!r}")


def event_where(query: EventQuery, scope: Scope) -> Where:
    """Conditions for a query within a scope; the scope condition is always first."""
    where = Where()
    if scope.institution_id is not None:
        where.add(f"e.org = {where.bind(scope.institution_id)}")
    tcol = time_column(query)
    if query.start is not None:
        where.add(f"{tcol} >= {where.bind(millis(query.start))}")
    if query.end is not None:
        where.add(f"{tcol} < {where.bind(millis(query.end))}")
    if query.datasets:
        if len(query.datasets) == 1:
            where.add(f"e.dataset = {where.bind(query.datasets[0])}")
        else:
            where.add(
                f"e.dataset IN (SELECT value FROM json_each({where.bind(orjson.dumps(list(query.datasets)).decode())}))"
            )
    for f in query.filters:
        add_filter(f, where, source=EVENT_SOURCE, columns=EVENT_COLUMNS)
    if query.text is not None and query.text.strip():
        match = fts_query(query.text)
        if match is None:
            where.add("0")  # only punctuation: nothing can match (Elasticsearch's zero_terms_query "none")
        else:
            where.add(f"e.seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH {where.bind(match)})")
    return where


_MERGE_ARMS = 64  # more datasets than this: one IN list (SQLite allows 500 compound arms)


def event_page(
    query: EventQuery, scope: Scope, order: Literal["asc", "desc"], after: tuple[int, int | str] | None, limit: int
) -> tuple[str, dict[str, Any]]:
    """SQL and parameters for one page of events in (time, id) order, ``limit + 1`` rows.

    With several datasets, ``dataset IN (...)`` makes SQLite read every row of the range through
    the (dataset, ts) index and sort them all for each page: paging through a range then sorts
    it again and again. Instead each dataset is one arm of a ``UNION ALL`` that its index serves
    in time order, and SQLite merges the arms, stopping at the limit. Same rows, same order.
    """
    datasets = tuple(dict.fromkeys(query.datasets))  # a dataset named twice is still one arm
    merge = 1 < len(datasets) <= _MERGE_ARMS
    where = event_where(replace(query, datasets=()) if merge else query, scope)
    tcol = time_column(query)
    if after is not None:
        op = "<" if order == "desc" else ">"
        # The first condition is a plain range the time index serves; the second breaks ties by id.
        t, i = where.bind(after[0]), where.bind(after[1])
        where.add(f"{tcol} {op}= {t} AND ({tcol} {op} {t} OR e.id {op} {i})")
    direction = order.upper()
    select = f"SELECT e.id, e.ts, e.dataset, e.doc, {tcol} FROM events AS e WHERE"
    if not merge:
        sql = f"{select} {where.sql()} ORDER BY {tcol} {direction}, e.id {direction}"
    else:
        conditions = where.sql()
        arms = [f"{select} e.dataset = {where.bind(d)} AND {conditions}" for d in datasets]
        sql = " UNION ALL ".join(arms) + f" ORDER BY 5 {direction}, 1 {direction}"
    return f"{sql} LIMIT {where.bind(limit + 1)}", where.params


def field_values(name: str, where: Where) -> tuple[str, str, str]:
    """(FROM extra, value expression, type expression) for aggregating a field's values.

    A column is used directly; a JSON field is expanded with json_each so list elements count
    one by one. The caller skips objects, lists and nulls by the type expression.
    """
    col = EVENT_COLUMNS.get(name)
    if col is not None:
        return "", col.sql, f"typeof({col.sql})"
    path = where.bind(json_path(name))
    return f", json_each({EVENT_SOURCE}, {path}) AS v", "v.value", "v.type"


# Documents --------------------------------------------------------------------------------

DOCUMENT_SOURCE = "d.body"
DOCUMENT_COLUMNS: dict[str, Column] = {
    "_created": Column("d.created", "ms"),
    "_updated": Column("d.updated", "ms"),
}


def document_where(collection: str, scope: Scope, filters: Sequence[FieldFilter]) -> Where:
    where = Where()
    where.add(f"d.collection = {where.bind(collection)}")
    if scope.institution_id is not None:
        where.add(f"d.org = {where.bind(scope.institution_id)}")
    for f in filters:
        add_filter(f, where, source=DOCUMENT_SOURCE, columns=DOCUMENT_COLUMNS)
    return where


def document_order(sort: str | None, descending: bool, where: Where) -> str:
    """ORDER BY for documents: a body field (missing values last), ``_created``/``_updated``; ties by id."""
    direction = "DESC" if descending else "ASC"
    if sort is None:
        return f"d.created {direction}, d.id {direction}"
    col = DOCUMENT_COLUMNS.get(sort)
    if col is not None:
        return f"{col.sql} {direction}, d.id {direction}"
    expr = f"json_extract({DOCUMENT_SOURCE}, {where.bind(json_path(sort))})"
    return f"({expr} IS NULL), {expr} {direction}, d.id {direction}"
