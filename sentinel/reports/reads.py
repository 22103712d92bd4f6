"""Store reads shared by the report figures: a month's documents of one collection, bounded."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sentinel.events import format_timestamp
from sentinel.store.base import Document, EventQuery, FieldFilter, Scope, Store

log = logging.getLogger(__name__)

MAX_DOCUMENTS = 200_000  # of one collection, one institution, one month: far above real volumes
PAGE = 5000


def in_window(field: str, start: datetime, end: datetime) -> list[FieldFilter]:
    """``start <= field < end`` on a fixed-width ISO UTC string field (they sort in time order)."""
    return [FieldFilter(field, "gte", format_timestamp(start)), FieldFilter(field, "lt", format_timestamp(end))]


def documents(
    store: Store, collection: str, scope: Scope, filters: Sequence[FieldFilter], *, sort: str
) -> list[Document]:
    docs = store.find_documents(collection, scope, filters, sort=sort, limit=MAX_DOCUMENTS)
    if len(docs) >= MAX_DOCUMENTS:
        log.warning("report: %s of %s capped at %d documents", collection, scope.institution_id, MAX_DOCUMENTS)
    return docs


def all_events(store: Store, query: EventQuery, scope: Scope, limit: int) -> list[dict[str, object]]:
    """The documents of every event matching ``query`` (oldest first), at most ``limit``."""
    out: list[dict[str, object]] = []
    after = None
    while len(out) < limit:
        page = store.search_events(
            query, scope, limit=min(PAGE, limit - len(out)), order="asc", after=after, with_total=False
        )
        out.extend(e.doc for e in page.events)
        if page.next_after is None:
            break
        after = page.next_after
    return out
