"""Translate the store contract's queries (``EventQuery``, ``FieldFilter``, ``Scope``) into ES query DSL.

Everything becomes clauses of one ``bool.filter``: filters are cached by Elasticsearch and do not
score, and Sentinel never ranks by relevance (results are ordered by time, then id).
Field names are checked against a strict pattern before they go into a query, like the SQLite
backend does, so a caller cannot smuggle a script or a wildcard field pattern in.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sentinel.errors import StoreError
from sentinel.events import format_timestamp
from sentinel.store.base import EventQuery, FieldFilter, Scope

Query = dict[str, Any]

_FIELD_RE = re.compile(r"^[A-Za-z0-9_@]+(?:\.[A-Za-z0-9_@]+)*$")
_SCALARS = (str, int, float, bool, datetime)

# Fields mapped as ``text`` in the events template: exact/prefix/aggregation use their keyword subfield.
TEXT_FIELDS: dict[str, str] = {"message": "message.keyword"}

# Fields mapped as ``ip``: Elasticsearch has no prefix query on them (see ``_prefix_clause``).
IP_FIELDS: frozenset[str] = frozenset(
    {
        "source.ip",
        "destination.ip",
        "client.ip",
        "server.ip",
        "host.ip",
        "observer.ip",
        "source.nat.ip",
        "destination.nat.ip",
        "client.nat.ip",
        "server.nat.ip",
    }
)

ORG_FIELD = "organization.id"
DOC_ORG_FIELD = "institution_id"


def check_field(name: str) -> str:
    if not isinstance(name, str) or not _FIELD_RE.fullmatch(name):
        raise StoreError(f"invalid field name {name!r}: use letters, digits, '_', '@' and dots")
    return name


def exact_field(name: str) -> str:
    """The field to use for exact matching, sorting and aggregations."""
    return TEXT_FIELDS.get(name, name)


def json_value(value: Any) -> Any:
    """A filter value as Elasticsearch expects it (datetimes as ECS timestamps)."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    return value


def _scalar(flt: FieldFilter, value: Any) -> Any:
    if value is None:
        raise StoreError(f"filter {flt.op!r} on {flt.field!r} needs a value (use op 'missing' for absent fields)")
    if not isinstance(value, _SCALARS):
        raise StoreError(f"filter {flt.op!r} on {flt.field!r}: unsupported value type {type(value).__name__}")
    return json_value(value)


def _prefix_clause(field: str, value: Any) -> Query:
    if field not in IP_FIELDS:
        return {"prefix": {field: {"value": str(value)}}}
    # ``ip`` fields take CIDR terms instead of prefixes: "10.1." becomes 10.1.0.0/16. A prefix that
    # stops inside an octet ("10.1") has no CIDR equivalent, so it is refused rather than guessed.
    text = str(value)
    parts = text.rstrip(".").split(".") if text else []
    if text and not text.endswith("."):
        raise StoreError(f"a prefix on the ip field {field!r} must end at an octet boundary, e.g. '10.1.'")
    if len(parts) > 3 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        raise StoreError(f"invalid IPv4 prefix {text!r} for field {field!r}")
    octets = [*parts, *(["0"] * (4 - len(parts)))]
    network = ipaddress.ip_network(f"{'.'.join(octets)}/{8 * len(parts)}")
    return {"term": {field: str(network)}}


# Document fields kept beside the body (the SQLite backend's columns of the same names).
DOCUMENT_META_FIELDS: dict[str, str] = {"_created": "created", "_updated": "updated"}


def filter_clause(flt: FieldFilter, prefix: str = "") -> Query:
    """One ``FieldFilter`` as a query clause. ``prefix`` roots the field (``body.`` for documents)."""
    if not isinstance(flt, FieldFilter):
        raise StoreError(f"filters must be FieldFilter objects, not {type(flt).__name__}")
    name = check_field(flt.field)
    if prefix and name in DOCUMENT_META_FIELDS:
        field = DOCUMENT_META_FIELDS[name]
    else:
        field = prefix + exact_field(name)
    op = flt.op
    if op == "eq":
        return {"term": {field: _scalar(flt, flt.value)}}
    if op == "neq":
        # As in the SQLite backend: a document without the field matches, a list matches when no element equals.
        return {"bool": {"must_not": [{"term": {field: _scalar(flt, flt.value)}}]}}
    if op == "in":
        if isinstance(flt.value, str | bytes) or not isinstance(flt.value, Iterable):
            raise StoreError(f"filter 'in' on {name!r} needs a list of values")
        return {"terms": {field: [_scalar(flt, v) for v in flt.value]}}
    if op == "prefix":
        if not isinstance(flt.value, str):
            raise StoreError(f"filter 'prefix' on {name!r} needs a string")
        return _prefix_clause(field, flt.value)
    if op == "exists":
        return {"exists": {"field": field}}
    if op == "missing":
        return {"bool": {"must_not": [{"exists": {"field": field}}]}}
    if op in ("gt", "gte", "lt", "lte"):
        return {"range": {field: {op: _scalar(flt, flt.value)}}}
    raise StoreError(f"unknown filter operator {op!r}")


def scope_clauses(scope: Scope, field: str) -> list[Query]:
    if scope.institution_id is None:
        return []
    return [{"term": {field: scope.institution_id}}]


def event_filters(query: EventQuery, scope: Scope) -> list[Query]:
    clauses = scope_clauses(scope, ORG_FIELD)
    time_range: dict[str, Any] = {}
    if query.start is not None:
        time_range["gte"] = format_timestamp(query.start)
    if query.end is not None:
        time_range["lt"] = format_timestamp(query.end)
    if time_range:
        time_range["format"] = "strict_date_optional_time"
        clauses.append({"range": {query.time_field: time_range}})
    if query.datasets:
        clauses.append({"terms": {"event.dataset": list(query.datasets)}})
    clauses.extend(filter_clause(f) for f in query.filters)
    if query.text is not None and query.text.strip():
        # Every word must be present (AND), as the SQLite backend's FTS query does. ``match``
        # analyses the text, so quotes, '*' or 'AND' typed by a user are words, never syntax.
        clauses.append({"match": {"message": {"query": query.text, "operator": "and"}}})
    return clauses


def event_query(query: EventQuery, scope: Scope) -> Query:
    return {"bool": {"filter": event_filters(query, scope)}}


def document_query(scope: Scope, filters: Sequence[FieldFilter]) -> Query:
    clauses = scope_clauses(scope, DOC_ORG_FIELD)
    clauses.extend(filter_clause(f, prefix="body.") for f in filters)
    return {"bool": {"filter": clauses}}


def event_sort(order: str, time_field: str = "@timestamp") -> list[Query]:
    # ``event.id`` breaks ties between events of the same millisecond, so pages never overlap.
    return [{time_field: {"order": order}}, {"event.id": {"order": order}}]


def document_sort(sort: str | None, descending: bool) -> list[Query]:
    order = "desc" if descending else "asc"
    tie = {"doc_id": {"order": order}}
    if sort is None:
        return [{"created": {"order": order}}, tie]
    if sort in DOCUMENT_META_FIELDS:
        return [{DOCUMENT_META_FIELDS[sort]: {"order": order}}, tie]
    field = "body." + check_field(sort)
    # ``unmapped_type``: a collection where no document has the field yet sorts instead of failing.
    return [{field: {"order": order, "unmapped_type": "keyword", "missing": "_last"}}, tie]
