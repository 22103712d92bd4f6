"""``/api/v1/events``: search and count events within the caller's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from sentinel.web.deps import CurrentPrincipal, ServicesDep
from sentinel.web.queries.events import EventPage, EventSearch, count_events, event_page, search_events

router = APIRouter(prefix="/api/v1/events", tags=["events"])


class EventCount(BaseModel):
    count: int


@router.get("", response_model=EventPage)
def search(principal: CurrentPrincipal, services: ServicesDep, params: Annotated[EventSearch, Query()]) -> EventPage:
    return event_page(search_events(services, principal, params))


@router.get("/count", response_model=EventCount)
def count(principal: CurrentPrincipal, services: ServicesDep, params: Annotated[EventSearch, Query()]) -> EventCount:
    return EventCount(count=count_events(services, principal, params))
