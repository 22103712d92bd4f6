"""The analyst's search syntax, turned into an ``EventQuery``; and the page cursor of a search.

``source.ip:10.0.0.5 event.outcome:failure "invalid user"`` — ``field:value`` terms are exact
matches, ``field:value*`` a prefix, ``-field:value`` a negation, ``field:*`` "field exists",
and everything else is full text over ``message`` (all words must appear).

What a caller types is checked here, so a mistake is a ``QueryError`` naming it (a 400 from the
API, a message from the CLI), never a store error (a 503): field names as the stores accept them,
times on the time fields, prefixes of addresses at an octet boundary, text that can be encoded.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime

from sentinel.errors import QueryError
from sentinel.events import parse_timestamp
from sentinel.store.base import EventQuery, FieldFilter
from sentinel.store.elastic_query import IP_FIELDS

_FIELD = re.compile(r"^(-?)([A-Za-z@_][A-Za-z0-9_.@]*):(.*)$")
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_@]+(?:\.[A-Za-z0-9_@]+)*$")  # what both stores accept
_TIME_FIELDS = frozenset({"@timestamp", "event.ingested"})
_MAX_MS = 2**63 - 1  # the stores keep times as signed 64-bit milliseconds
_MAX_CURSOR_ID = 256


def parse_search(text: str, *, start: datetime | None = None, end: datetime | None = None) -> EventQuery:
    _check_text(text, "the query")
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise QueryError(f"cannot read the query: {exc}") from exc
    filters: list[FieldFilter] = []
    datasets: list[str] = []
    words: list[str] = []
    for token in tokens:
        match = _FIELD.match(token)
        if not match or not match.group(3):
            words.append(token)
            continue
        negate, field, value = match.groups()
        if not _FIELD_NAME.fullmatch(field):
            raise QueryError(f"invalid field name {field!r}: letters, digits, '_' and '@', parts joined by single dots")
        if field == "event.dataset" and not negate and "*" not in value:
            datasets.append(value)
        elif value == "*":
            filters.append(FieldFilter(field, "missing" if negate else "exists"))
        elif value.endswith("*") and "*" not in value[:-1] and not negate:
            filters.append(_prefix(field, value[:-1]))
        else:
            filters.append(FieldFilter(field, "neq" if negate else "eq", _value(field, value)))
    return EventQuery(
        start=start,
        end=end,
        datasets=tuple(datasets),
        filters=tuple(filters),
        text=" ".join(words) or None,
    )


def _prefix(field: str, prefix: str) -> FieldFilter:
    if field in _TIME_FIELDS:
        raise QueryError(f"{field} takes a time, not a prefix (e.g. {field}:2025-01-31T10:00:00Z)")
    if field in IP_FIELDS and prefix:
        parts = prefix.rstrip(".").split(".")
        if (
            not prefix.endswith(".")
            or len(parts) > 3
            or not all(p.isascii() and p.isdigit() and int(p) <= 255 for p in parts)
        ):
            raise QueryError(f"a prefix of the address field {field} ends at a dot between octets, e.g. {field}:10.1.*")
    return FieldFilter(field, "prefix", prefix)


def _value(field: str, value: str) -> object:
    if field in _TIME_FIELDS:
        return _time_value(field, value)
    # Status codes and ports are stored as numbers; compare them as numbers.
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else value


def _time_value(field: str, value: str) -> object:
    if value.isascii() and value.isdigit():  # epoch milliseconds
        if int(value) > _MAX_MS:
            raise QueryError(f"{field}: {value} is out of range for epoch milliseconds")
        return int(value)
    try:
        parse_timestamp(value)
    except (ValueError, OverflowError):
        raise QueryError(f"{field}: {value!r} is not a time (ISO 8601, e.g. 2025-01-31T10:00:00Z)") from None
    return value


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError(f"{what} is not valid text (undecodable bytes)") from None


def parse_cursor(text: str) -> tuple[int, str]:
    """A search page cursor (``format_cursor``): ``<epoch ms>:<event id>``; ``QueryError`` when it is not one."""
    ms, sep, event_id = text.partition(":")
    if (
        not sep
        or not (ms.isascii() and ms.isdigit())
        or len(ms) > 19
        or int(ms) > _MAX_MS
        or not event_id
        or len(event_id) > _MAX_CURSOR_ID
        or not event_id.isprintable()
    ):
        raise QueryError("invalid 'after' cursor: pass back the next_after of the previous page")
    _check_text(event_id, "the 'after' cursor")
    return int(ms), event_id


def format_cursor(after: tuple[int, str]) -> str:
    return f"{after[0]}:{after[1]}"
