"""Store field filters (``FieldFilter``) evaluated in Python on fetched events, as SQLite does.

Threshold and new-value rules select their events with ``where`` filters that normally run inside
the store. To let them share the engine's one fetch of a range (``shared_pass``), the same filters
are evaluated here on each fetched document, with the embedded store's semantics (``sqlite_query``):

* a field is a nested JSON path (``a.b`` is ``{"a": {"b": ...}}``, never a top-level ``"a.b"``);
* JSON booleans are the integers 1 and 0; numbers equal numbers, text equals text (case kept),
  never one the other; a list matches when any element does; a missing or null field matches no
  value (so ``neq`` holds for it);
* ``prefix`` needs text; ``gt``/``gte``/``lt``/``lte`` compare text with text, numbers with numbers;
* ``exists`` holds when the field is present and not null (a list or object: any non-null element).

Anything outside that (the time, dataset, id and institution columns; values of other types;
filters the store would refuse) compiles to ``None``: such a rule keeps its own store query.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from sentinel.store.base import FieldFilter

DocPredicate = Callable[[Mapping[str, Any]], bool]

# Fields the store serves from columns, with their own conversions: left to the store.
_COLUMN_FIELDS = frozenset({"@timestamp", "event.ingested", "event.dataset", "event.id", "organization.id"})
_FIELD_RE = re.compile(r"^[A-Za-z0-9_@]+(?:\.[A-Za-z0-9_@]+)*$")  # as the store accepts
_RANGES: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_MISSING = object()


def _pair_path(outer: str, inner: str) -> Callable[[Mapping[str, Any]], Any]:
    """``_parts_path`` of a two-part field, its loop unrolled."""

    def path(doc: Mapping[str, Any]) -> Any:
        if isinstance(doc, dict):
            node = doc.get(outer, _MISSING)
            if isinstance(node, dict):
                return node.get(inner, _MISSING)
        return _MISSING

    return path


def _parts_path(parts: Sequence[str]) -> Callable[[Mapping[str, Any]], Any]:
    """The value at a nested path, ``_MISSING`` when any part is absent or not an object."""

    def path(doc: Mapping[str, Any]) -> Any:
        node: Any = doc
        for part in parts:
            if not isinstance(node, dict):
                return _MISSING
            node = node.get(part, _MISSING)
            if node is _MISSING:
                return _MISSING
        return node

    return path


def _sql_value(value: Any) -> Any:
    """The SQLite value a JSON value becomes: booleans are integers, objects and lists JSON text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def _scalar(value: Any) -> Any | None:
    """A filter value as the store binds it, or None when this module does not handle its type."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str | int | float):
        return value
    return None  # None (refused by the store), datetimes (formatted by it), anything else


def _equals(wanted: Any) -> Callable[[Any], bool]:
    if isinstance(wanted, str):
        return lambda x: isinstance(x, str) and x == wanted
    return lambda x: _is_number(x) and x == wanted


def _value_test(f: FieldFilter) -> Callable[[Any], bool] | None:
    """A test of one SQLite value (never NULL) for eq/in/prefix/ranges; None if unsupported."""
    if f.op in ("eq", "neq"):
        wanted = _scalar(f.value)
        return None if wanted is None else _equals(wanted)
    if f.op == "in":
        if isinstance(f.value, str | bytes) or not isinstance(f.value, Sequence | set | frozenset):
            return None
        values = [_scalar(v) for v in f.value]
        if any(v is None for v in values):
            return None
        texts = frozenset(v for v in values if isinstance(v, str))
        numbers = frozenset(v for v in values if not isinstance(v, str))
        return lambda x: (x in texts) if isinstance(x, str) else (_is_number(x) and x in numbers)
    if f.op == "prefix":
        if not isinstance(f.value, str):
            return None
        prefix = f.value
        return lambda x: isinstance(x, str) and x.startswith(prefix)
    compare = _RANGES.get(f.op)
    if compare is None:
        return None
    bound = _scalar(f.value)
    if bound is None:
        return None
    if isinstance(bound, str):
        return lambda x: isinstance(x, str) and compare(x, bound)
    return lambda x: _is_number(x) and compare(x, bound)


def _compile_one(f: FieldFilter) -> DocPredicate | None:
    if not isinstance(f, FieldFilter) or not isinstance(f.field, str) or f.field in _COLUMN_FIELDS:
        return None
    if not _FIELD_RE.fullmatch(f.field):
        return None
    parts = tuple(f.field.split("."))
    path = _pair_path(*parts) if len(parts) == 2 else _parts_path(parts)
    if f.op in ("exists", "missing"):

        def exists(doc: Mapping[str, Any]) -> bool:
            value = path(doc)
            if isinstance(value, list):
                return any(v is not None for v in value)
            if isinstance(value, dict):
                return any(v is not None for v in value.values())
            return value is not _MISSING and value is not None

        if f.op == "exists":
            return exists
        return lambda doc: not exists(doc)
    test = _value_test(f)
    if test is None:
        return None

    def holds(doc: Mapping[str, Any]) -> bool:
        value = path(doc)
        if type(value) is str:  # the usual case: text is its own SQL value
            return test(value)
        if isinstance(value, list):
            return any(v is not None and test(_sql_value(v)) for v in value)
        if value is _MISSING or value is None:
            return False
        return test(_sql_value(value))

    if f.op == "neq":
        return lambda doc: not holds(doc)
    return holds


def accept_all(doc: Mapping[str, Any]) -> bool:
    """The predicate of no filters (a shared pass hands such a rule its datasets' events unasked)."""
    return True


def compile_filters(filters: Sequence[FieldFilter]) -> DocPredicate | None:
    """One predicate for the conjunction of ``filters``; None when any must stay in the store."""
    preds: list[DocPredicate] = []
    for f in filters:
        pred = _compile_one(f)
        if pred is None:
            return None
        preds.append(pred)
    if not preds:
        return accept_all
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        first, second = preds
        return lambda doc: bool(first(doc) and second(doc))
    return lambda doc: all(p(doc) for p in preds)
