"""``/api/v1/events``: search and count events within the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from sentinel.api.deps import CurrentPrincipal, InventoryDep, StoreDep
from sentinel.auth import Principal
from sentinel.durations import parse_duration
from sentinel.errors import SentinelError
from sentinel.inventory import Inventory
from sentinel.search_query import parse_cursor, parse_search
from sentinel.store.base import EventQuery, Scope

router = APIRouter(prefix="/api/v1/events", tags=["events"])


class EventPage(BaseModel):
    total: int
    events: list[dict[str, Any]]
    next_after: str | None = None


class EventCount(BaseModel):
    count: int


def scope_for(principal: Principal, institution: str | None, inventory: Inventory) -> Scope:
    """The caller's own scope, narrowed to one institution when asked (never widened)."""
    scope = principal.scope
    if institution is None:
        return scope
    if inventory.get(institution) is None:
        raise SentinelError(f"unknown institution {institution!r}")
    if not scope.allows(institution):
        # Same answer as for an unknown one would leak which ids exist; be plain instead.
        raise SentinelError("you may only query your own institution")
    return Scope.institution(institution)


def _query(q: str, since: str) -> EventQuery:
    try:
        return parse_search(q, start=datetime.now(UTC) - parse_duration(since))
    except ValueError as exc:
        raise SentinelError(str(exc)) from exc


def _parse_after(after: str | None) -> tuple[int, str] | None:
    return parse_cursor(after) if after else None


@router.get("", response_model=EventPage)
def search_events(
    principal: CurrentPrincipal,
    store: StoreDep,
    inventory: InventoryDep,
    q: Annotated[str, Query(max_length=2000, description="Search: field:value terms and free text.")] = "",
    since: Annotated[str, Query(description="How far back, e.g. 15m, 1h, 7d.")] = "1h",
    institution: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(description="Cursor from a previous page's next_after.")] = None,
) -> EventPage:
    result = store.search_events(
        _query(q, since), scope_for(principal, institution, inventory), limit=limit, after=_parse_after(after)
    )
    cursor = f"{result.next_after[0]}:{result.next_after[1]}" if result.next_after else None
    return EventPage(total=result.total, events=[e.doc for e in result.events], next_after=cursor)


@router.get("/count", response_model=EventCount)
def count_events(
    principal: CurrentPrincipal,
    store: StoreDep,
    inventory: InventoryDep,
    q: Annotated[str, Query(max_length=2000)] = "",
    since: Annotated[str, Query()] = "1h",
    institution: Annotated[str | None, Query()] = None,
) -> EventCount:
    return EventCount(count=store.count_events(_query(q, since), scope_for(principal, institution, inventory)))
