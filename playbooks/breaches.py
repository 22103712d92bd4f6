"""The SLA job: every missed acknowledge/resolve target is recorded once and escalated to the SOC.

``find_breaches`` (incidents) lists the targets missed and not yet recorded; each is recorded by
``IncidentService.record_breach`` in the same store write as its escalation notices (Slack and the
SOC managers' email, ``sla_breach`` template), so a breach is escalated exactly once even with
several workers or after a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sentinel.errors import SentinelError
from sentinel.incidents import IncidentService, find_breaches
from sentinel.notify.factory import NoticeFactory
from sentinel.notify.notice import ChannelName, Notice, notice_writes
from sentinel.store.base import Scope

log = logging.getLogger(__name__)

ACTOR = "system:sla"
CHANNELS: tuple[ChannelName, ...] = ("slack", "email")


@dataclass(frozen=True, slots=True)
class BreachReport:
    found: int
    escalated: int
    failed: int


def escalate_breaches(
    incidents: IncidentService, notices: NoticeFactory, *, clock: Callable[[], datetime] | None = None
) -> BreachReport:
    now = (clock or (lambda: datetime.now(UTC)))()
    breaches = find_breaches(incidents.store, incidents.settings, now)
    escalated = failed = 0
    for breach in breaches:
        try:
            incident = incidents.get(breach.incident_id, Scope.everything())
            extra = {"sla": breach.kind, "due_at": breach.due_at, "overdue_minutes": int(breach.overdue_seconds // 60)}
            queued: list[Notice] = []
            for channel in CHANNELS:
                queued += notices.for_soc(
                    incident,
                    "sla_breach",
                    channel,
                    reason=f"sla:{breach.kind}",
                    extra=extra,  # type: ignore[arg-type]
                )
            _, recorded = incidents.record_breach(breach, actor=ACTOR, extra_writes=notice_writes(queued))
        except SentinelError as exc:
            failed += 1
            log.warning("SLA breach of %s (%s) not escalated yet: %s", breach.incident_id, breach.kind, exc)
            continue
        if recorded:
            escalated += 1
            log.info("SLA %s target of incident %s missed: escalated", breach.kind, breach.incident_id)
    return BreachReport(len(breaches), escalated, failed)
