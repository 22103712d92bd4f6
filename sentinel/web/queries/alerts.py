"""The alert list: ``GET /api/v1/alerts`` (and the alert queue page built on it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from sentinel.auth import Principal
from sentinel.incidents.alerts_view import AlertRow, list_alerts
from sentinel.web.services import WebServices


class AlertFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["open", "acknowledged", "closed", "resolved"] | None = None
    severity: Annotated[str | None, Field(max_length=20)] = None
    institution: Annotated[str | None, Field(max_length=100)] = None
    rule: Annotated[str | None, Field(max_length=200)] = None
    unlinked: Annotated[bool, Field(description="Only alerts in no incident.")] = False
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


def alert_rows(services: WebServices, principal: Principal, params: AlertFilter) -> list[AlertRow]:
    return list_alerts(
        services.store,
        principal.scope,  # an institution outside it gives an empty list
        state=params.state,
        severity=params.severity,
        institution=params.institution,
        rule_id=params.rule,
        unlinked=params.unlinked,
        limit=params.limit,
    )
