"""Collection health: ``GET /api/v1/status`` and the overview page."""

from __future__ import annotations

from sentinel.auth import Principal
from sentinel.status import StatusReport, build_status
from sentinel.web.services import WebServices


def collection_status(services: WebServices, principal: Principal) -> StatusReport:
    report = build_status(services.store, principal.scope, health=services.collection_health)
    if services.collector_health is not None and principal.scope.institution_id is None:
        # This process's live counters are fresher than the drain's last saved ones.
        report.collector.update(services.collector_health())
    return report
