"""The escalation job: fire the due timers that ``escalate_after`` steps set, once each.

A timer is a ``state`` document (``kind: playbook_escalation``, status ``pending``). When it is
due, the incident is read: if it reached the ``unless`` state (or was closed) the timer is
cancelled; otherwise its action runs and the timer is marked ``fired``. The timer's
compare-and-swap is in the same ``write_documents`` call as the notices it queues (notices last)
or as the severity change, so a second worker (or a re-run after a crash) finds it fired and does
nothing: the escalation happens exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from playbooks.levels import level_rank
from playbooks.steps.escalate_after import Params, reached
from sentinel.errors import ConflictError, NotFoundError, SentinelError
from sentinel.events import format_timestamp
from sentinel.incidents import Incident, IncidentService
from sentinel.notify.factory import NoticeFactory
from sentinel.notify.notice import Notice, notice_writes
from sentinel.store.base import Document, DocumentWrite, FieldFilter, Scope, Store

log = logging.getLogger(__name__)

COLLECTION = "state"
KIND = "playbook_escalation"


@dataclass(frozen=True, slots=True)
class EscalationReport:
    fired: int
    cancelled: int
    failed: int


class Escalations:
    def __init__(
        self,
        store: Store,
        incidents: IncidentService,
        notices: NoticeFactory,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.notices = notices
        self.clock = clock or (lambda: datetime.now(UTC))

    def pending(self, scope: Scope, limit: int = 100) -> list[Document]:
        filters = [FieldFilter("kind", "eq", KIND), FieldFilter("status", "eq", "pending")]
        return self.store.find_documents(COLLECTION, scope, filters, sort="due_at", limit=limit)

    def run_due(self, limit: int = 100) -> EscalationReport:
        now = self.clock()
        stamp = format_timestamp(now)
        filters = [
            FieldFilter("kind", "eq", KIND),
            FieldFilter("status", "eq", "pending"),
            FieldFilter("due_at", "lte", stamp),
        ]
        fired = cancelled = failed = 0
        for timer in self.store.find_documents(COLLECTION, Scope.everything(), filters, sort="due_at", limit=limit):
            try:
                outcome = self._fire(timer, now)
            except SentinelError as exc:
                failed += 1
                log.warning("escalation %s failed (retried next run): %s", timer.id, exc)
                continue
            fired += outcome == "fired"
            cancelled += outcome == "cancelled"
        return EscalationReport(fired, cancelled, failed)

    def _fire(self, timer: Document, now: datetime) -> str:
        body = timer.body
        params = Params.model_validate(body["params"])
        incident_id = str(body["incident_id"])
        actor = f"playbook:{body['playbook']}"
        try:
            incident = self.incidents.get(incident_id, Scope.everything())
        except NotFoundError:
            return self._close(timer, "cancelled", f"incident {incident_id} no longer exists", now)
        if incident.merged_into:
            return self._close(timer, "cancelled", f"merged into {incident.merged_into}", now)
        if reached(incident.state.value, params.unless):
            return self._close(timer, "cancelled", f"the incident reached {incident.state.value} in time", now)
        detail = self._detail(incident, params)
        done = {**body, "status": "fired", "fired_at": format_timestamp(now), "detail": detail}
        timer_write = DocumentWrite(
            COLLECTION, timer.id, done, institution_id=timer.institution_id, expected_version=timer.version
        )
        try:
            if params.raise_severity is not None:
                if level_rank(incident.severity.value) >= level_rank(params.raise_severity):
                    return self._close(timer, "fired", f"already {incident.severity.value}", now)
                self.incidents.set_severity(
                    incident_id,
                    params.raise_severity,
                    actor=actor,
                    scope=Scope.everything(),
                    extra_writes=[timer_write],
                )
            else:
                assert params.notify is not None
                notices = self._notices(incident, params, timer.id)
                # The timer first, the notices last: on Elasticsearch a failed timer CAS stops them.
                self.store.write_documents([timer_write, *notice_writes(notices)])
        except ConflictError:
            log.info("escalation %s was handled by another worker", timer.id)
            return "raced"
        self.incidents.record_playbook_step(
            incident_id, str(body["playbook"]), f"{body['step_key']}@escalation", f"fired: {detail}", actor=actor
        )
        log.info("escalation %s fired: %s", timer.id, detail)
        return "fired"

    def _notices(self, incident: Incident, params: Params, timer_id: str) -> list[Notice]:
        notify = params.notify
        assert notify is not None
        extra = {"escalation": f"not {params.unless} within {params.after}"}
        if notify.to == "soc":
            return self.notices.for_soc(
                incident, notify.template, notify.resolved_channel, reason=timer_id, extra=extra
            )
        return self.notices.for_institution(incident, notify.template, reason=timer_id, extra=extra)

    @staticmethod
    def _detail(incident: Incident, params: Params) -> str:
        if params.notify is not None:
            action = f"notified {params.notify.to} ({params.notify.template})"
        else:
            action = f"severity raised to {params.raise_severity}"
        return f"not {params.unless} within {params.after} (state {incident.state.value}): {action}"

    def _close(self, timer: Document, status: str, detail: str, now: datetime) -> str:
        body = {**timer.body, "status": status, "fired_at": format_timestamp(now), "detail": detail}
        try:
            self.store.replace_document(
                COLLECTION, timer.id, body, expected_version=timer.version, institution_id=timer.institution_id
            )
        except (ConflictError, NotFoundError):
            return "raced"
        log.info("escalation %s %s: %s", timer.id, status, detail)
        return status
