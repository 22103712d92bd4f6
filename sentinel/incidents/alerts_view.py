"""Alerts as the SOC works them: listed with the incident each one is linked to (if any)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sentinel.detect.alerts import COLLECTION as ALERTS
from sentinel.detect.alerts import Alert
from sentinel.incidents.model import COLLECTION as INCIDENTS
from sentinel.incidents.model import Severity
from sentinel.store.base import FieldFilter, Scope, Store


@dataclass(frozen=True, slots=True)
class AlertRow:
    alert: Alert
    incident_id: str | None


def incidents_by_alert(store: Store, scope: Scope, alert_ids: Sequence[str]) -> dict[str, str]:
    """alert id → id of the incident it is linked to, in one query."""
    if not alert_ids:
        return {}
    docs = store.find_documents(
        INCIDENTS, scope, [FieldFilter("alert_ids", "in", list(alert_ids))], limit=len(alert_ids)
    )
    wanted = set(alert_ids)
    return {alert_id: doc.id for doc in docs for alert_id in doc.body.get("alert_ids", []) if alert_id in wanted}


def list_alerts(
    store: Store,
    scope: Scope,
    *,
    state: str | None = None,
    severity: Severity | str | None = None,
    institution: str | None = None,
    rule_id: str | None = None,
    unlinked: bool = False,
    limit: int = 100,
) -> list[AlertRow]:
    """Newest first within ``scope``. ``unlinked`` keeps only alerts in no incident (the triage queue)."""
    filters: list[FieldFilter] = []
    if state is not None:
        filters.append(FieldFilter("state", "eq", state))
    if severity is not None:
        filters.append(FieldFilter("severity", "eq", Severity.parse(severity).value))
    if institution is not None:
        if not scope.allows(institution):
            return []
        filters.append(FieldFilter("institution_id", "eq", institution))
    if rule_id is not None:
        filters.append(FieldFilter("rule_id", "eq", rule_id))
    # Unlinked alerts are filtered after reading; read more so a page is usually full.
    fetch = limit * 5 if unlinked else limit
    docs = store.find_documents(ALERTS, scope, filters, sort="last_seen", descending=True, limit=fetch)
    alerts = [Alert.model_validate(d.body) for d in docs]
    links = incidents_by_alert(store, scope, [a.id for a in alerts])
    rows = [AlertRow(a, links.get(a.id)) for a in alerts]
    if unlinked:
        rows = [r for r in rows if r.incident_id is None]
    return rows[:limit]
