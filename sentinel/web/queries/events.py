"""Event search: ``GET /api/v1/events`` and the ``/events`` page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sentinel.auth import Principal
from sentinel.durations import parse_duration
from sentinel.search_query import parse_cursor, parse_search
from sentinel.store.base import EventQuery, SearchResult
from sentinel.web.queries.scope import scope_for
from sentinel.web.services import WebServices


class EventSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, Field(max_length=2000, description="Search: field:value terms and free text.")] = ""
    since: Annotated[str, Field(max_length=20, description="How far back, e.g. 15m, 1h, 7d.")] = "1h"
    institution: Annotated[str | None, Field(max_length=100)] = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    after: Annotated[str | None, Field(max_length=300, description="Cursor from a previous page's next_after.")] = None


class EventPage(BaseModel):
    total: int
    events: list[dict[str, Any]]
    next_after: str | None = None


def event_query(params: EventSearch) -> EventQuery:
    """The store query for the search text and time range (``ValueError`` for a bad one: a 400)."""
    return parse_search(params.q, start=datetime.now(UTC) - parse_duration(params.since))


def parse_after(after: str | None) -> tuple[int, str] | None:
    return parse_cursor(after) if after else None


def search_events(services: WebServices, principal: Principal, params: EventSearch) -> SearchResult:
    scope = scope_for(principal, params.institution, services.inventory)
    return services.store.search_events(event_query(params), scope, limit=params.limit, after=parse_after(params.after))


def event_page(result: SearchResult) -> EventPage:
    cursor = f"{result.next_after[0]}:{result.next_after[1]}" if result.next_after else None
    return EventPage(total=result.total, events=[e.doc for e in result.events], next_after=cursor)


def count_events(services: WebServices, principal: Principal, params: EventSearch) -> int:
    return services.store.count_events(
        event_query(params), scope_for(principal, params.institution, services.inventory)
    )
