"""The analyst's search syntax, turned into an ``EventQuery``.

``source.ip:10.0.0.5 event.outcome:failure "invalid user"`` — ``field:value`` terms are exact
matches, ``field:value*`` a prefix, ``-field:value`` a negation, ``field:*`` "field exists",
and everything else is full text over ``message`` (all words must appear).
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime

from sentinel.store.base import EventQuery, FieldFilter

_FIELD = re.compile(r"^(-?)([A-Za-z@_][A-Za-z0-9_.@]*):(.*)$")


def parse_search(text: str, *, start: datetime | None = None, end: datetime | None = None) -> EventQuery:
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot read the query: {exc}") from exc
    filters: list[FieldFilter] = []
    datasets: list[str] = []
    words: list[str] = []
    for token in tokens:
        match = _FIELD.match(token)
        if not match or not match.group(3):
            words.append(token)
            continue
        negate, field, value = match.groups()
        if field == "event.dataset" and not negate and "*" not in value:
            datasets.append(value)
        elif value == "*":
            filters.append(FieldFilter(field, "missing" if negate else "exists"))
        elif value.endswith("*") and "*" not in value[:-1] and not negate:
            filters.append(FieldFilter(field, "prefix", value[:-1]))
        else:
            filters.append(FieldFilter(field, "neq" if negate else "eq", _typed(value)))
    return EventQuery(
        start=start,
        end=end,
        datasets=tuple(datasets),
        filters=tuple(filters),
        text=" ".join(words) or None,
    )


def _typed(value: str) -> object:
    # Status codes and ports are stored as numbers; compare them as numbers.
    return int(value) if value.isdigit() and len(value) < 10 else value
