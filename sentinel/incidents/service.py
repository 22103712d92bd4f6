"""``IncidentService``: every change to an incident, with its audit entries, in one store write.

Every update is read → change a copy → compare-and-swap (``write_documents`` with the version that
was read), so a concurrent change is never lost:

- commutative changes (comments, attaching/detaching alerts, acknowledging, playbook steps, SLA
  breaches) re-read and re-apply on a conflict, a bounded number of times;
- the others (transition, assign, severity, merge) depend on what the person saw: a conflict is
  an error, "changed by someone else meanwhile; reload and try again". Callers may also pass the
  ``expected_version`` they showed the person, so even a change made before they pressed the
  button is caught.

``extra_writes`` (e.g. outbox notices) go into the same ``write_documents`` call, after the
incident and its audit entries, and only when the call changes something: a no-op writes nothing.
"""

from __future__ import annotations

import builtins
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from sentinel.config import Settings
from sentinel.detect.alerts import COLLECTION as ALERTS
from sentinel.detect.alerts import Alert
from sentinel.errors import ConflictError, NotFoundError, SentinelError
from sentinel.events import format_timestamp
from sentinel.incidents import lifecycle as lc
from sentinel.incidents import observables as obs
from sentinel.incidents.audit import Change, audit_writes, check_actor, read_audit
from sentinel.incidents.model import (
    COLLECTION,
    AuditEntry,
    Comment,
    Incident,
    IncidentState,
    Severity,
    TimelineEntry,
    allowed_transitions,
)
from sentinel.incidents.sla import Breach, still_pending
from sentinel.store.base import DocumentWrite, FieldFilter, Scope, Store

log = logging.getLogger(__name__)

RETRIES = 20  # commutative changes: re-read and re-apply this many times on a conflict
MAX_COMMENTS = 1000
MAX_TIMELINE = 1000
MAX_ALERTS = 5000  # alerts linked to one incident

# A change function edits the incident copy it is given and says what it changed.
Mutation = Callable[[Incident, datetime], list[Change]]


class IncidentService:
    def __init__(self, store: Store, settings: Settings, *, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._clock()

    # reads -------------------------------------------------------------------------------
    def find(self, incident_id: str, scope: Scope) -> Incident | None:
        doc = self.store.get_document(COLLECTION, incident_id, scope)
        if doc is None:
            return None
        incident = Incident.model_validate(doc.body)
        incident.version = doc.version
        return incident

    def get(self, incident_id: str, scope: Scope) -> Incident:
        incident = self.find(incident_id, scope)
        if incident is None:
            # Same message inside and outside the caller's scope: ids of others are not confirmed.
            raise NotFoundError(f"no incident {incident_id!r}")
        return incident

    def list(
        self,
        scope: Scope,
        state: IncidentState | str | Sequence[IncidentState | str] | None = None,
        severity: Severity | str | None = None,
        institution: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Incident]:
        """Newest first, within ``scope`` (the store enforces it); filters narrow, never widen."""
        filters: builtins.list[FieldFilter] = []
        if state is not None:
            states = [state] if isinstance(state, str) else builtins.list(state)
            filters.append(FieldFilter("state", "in", [lc.state(s).value for s in states]))
        if severity is not None:
            filters.append(FieldFilter("severity", "eq", lc.severity(severity).value))
        if institution is not None:
            if not scope.allows(institution):
                return []
            filters.append(FieldFilter("institution_id", "eq", institution))
        docs = self.store.find_documents(COLLECTION, scope, filters, sort="created_at", descending=True, limit=limit)
        result = []
        for doc in docs:
            incident = Incident.model_validate(doc.body)
            incident.version = doc.version
            result.append(incident)
        return result

    def audit(self, incident_id: str, scope: Scope) -> builtins.list[AuditEntry]:
        self.get(incident_id, scope)  # NotFoundError outside the scope
        return read_audit(self.store, incident_id, scope)

    def incident_for_alert(self, alert_id: str, scope: Scope) -> Incident | None:
        """The incident an alert is linked to (an alert belongs to at most one)."""
        docs = self.store.find_documents(COLLECTION, scope, [FieldFilter("alert_ids", "eq", alert_id)], limit=1)
        if not docs:
            return None
        incident = Incident.model_validate(docs[0].body)
        incident.version = docs[0].version
        return incident

    def load_alert(self, alert_id: str, scope: Scope) -> Alert:
        doc = self.store.get_document(ALERTS, alert_id, scope)
        if doc is None:
            raise NotFoundError(f"no alert {alert_id!r}")
        return Alert.model_validate(doc.body)

    # the update machinery ------------------------------------------------------------------
    def update(
        self,
        incident_id: str,
        scope: Scope,
        mutate: Mutation,
        *,
        actor: str,
        retry: bool,
        expected_version: str | None = None,
        extra_writes: Sequence[DocumentWrite] = (),
    ) -> Incident:
        """Read, apply ``mutate`` to a copy, and compare-and-swap it with its audit entries."""
        check_actor(actor)
        for _ in range(RETRIES if retry else 1):
            current = self.get(incident_id, scope)
            if expected_version is not None and current.version != expected_version:
                raise lc.changed(incident_id)
            now = self.now()
            updated = current.model_copy(deep=True)
            changes = mutate(updated, now)
            if not changes:
                return current
            updated.updated_at = format_timestamp(now)
            updated.audit_seq += 1
            writes = [
                DocumentWrite(
                    COLLECTION,
                    incident_id,
                    updated.body(),
                    institution_id=current.institution_id,
                    expected_version=current.version,
                ),
                *audit_writes(
                    incident_id, current.institution_id, changes, actor=actor, now=now, seq=updated.audit_seq
                ),
                *extra_writes,
            ]
            try:
                written = self.store.write_documents(writes)
            except ConflictError:
                if not self._moved_on(current):
                    raise  # the incident is as read: an extra write conflicted (e.g. a notice already queued)
                if retry:
                    continue
                raise lc.changed(incident_id) from None
            updated.version = written[0].version
            log.info("incident %s changed by %s: %s", incident_id, actor, ", ".join(c.field for c in changes))
            return updated
        raise ConflictError(f"incident {incident_id} kept changing; gave up after {RETRIES} attempts")

    def _moved_on(self, read: Incident) -> bool:
        doc = self.store.get_document(COLLECTION, read.id, Scope.everything())
        return doc is None or doc.version != read.version

    # state ---------------------------------------------------------------------------------
    def transition(
        self,
        incident_id: str,
        to_state: IncidentState | str,
        *,
        actor: str,
        scope: Scope,
        note: str | None = None,
        expected_version: str | None = None,
        extra_writes: Sequence[DocumentWrite] = (),
    ) -> Incident:
        target = lc.state(to_state)

        def mutate(incident: Incident, now: datetime) -> builtins.list[Change]:
            if incident.state is target:
                raise SentinelError(f"incident {incident.id} is already {target.value}")
            allowed = allowed_transitions(incident.state)
            if target not in allowed:
                options = ", ".join(s.value for s in allowed) or "none: it is final"
                raise SentinelError(
                    f"incident {incident.id} cannot go from {incident.state.value} to {target.value}; "
                    f"allowed from {incident.state.value}: {options}"
                )
            return lc.enter_state(incident, target, actor, now, note)

        return self.update(
            incident_id,
            scope,
            mutate,
            actor=actor,
            retry=False,
            expected_version=expected_version,
            extra_writes=extra_writes,
        )

    def acknowledge(
        self, incident_id: str, *, actor: str, scope: Scope, extra_writes: Sequence[DocumentWrite] = ()
    ) -> Incident:
        """Acknowledge (new → acknowledged); idempotent. A ``contact:`` actor (the signed link in an
        institution notice) or an ``institution:`` user also records the institution's own
        acknowledgement, once."""

        def mutate(incident: Incident, now: datetime) -> builtins.list[Change]:
            changes: builtins.list[Change] = []
            from_institution = actor.startswith(("contact:", "institution:"))
            if from_institution and incident.institution_acknowledged_at is None:
                stamp = format_timestamp(now)
                changes.append(Change("acknowledge", "institution_acknowledged_at", None, stamp))
                changes.append(Change("acknowledge", "institution_acknowledged_by", None, actor))
                incident.institution_acknowledged_at, incident.institution_acknowledged_by = stamp, actor
            if incident.state is IncidentState.NEW:
                changes += lc.enter_state(incident, IncidentState.ACKNOWLEDGED, actor, now, None)
            return changes

        return self.update(incident_id, scope, mutate, actor=actor, retry=True, extra_writes=extra_writes)

    # people, severity, comments --------------------------------------------------------------
    def assign(
        self,
        incident_id: str,
        assignee: str | None,
        *,
        actor: str,
        scope: Scope,
        expected_version: str | None = None,
        extra_writes: Sequence[DocumentWrite] = (),
    ) -> Incident:
        """Assign to an analyst (``None`` unassigns). Not commutative: a concurrent change is an error."""
        name = lc.assignee(assignee)

        def mutate(incident: Incident, now: datetime) -> builtins.list[Change]:
            if incident.assignee == name:
                return []
            lc.require_workable(incident, "assign")
            change = Change("assign", "assignee", incident.assignee, name)
            incident.assignee = name
            return [change]

        return self.update(
            incident_id,
            scope,
            mutate,
            actor=actor,
            retry=False,
            expected_version=expected_version,
            extra_writes=extra_writes,
        )

    def set_severity(
        self,
        incident_id: str,
        severity: Severity | str,
        *,
        actor: str,
        scope: Scope,
        expected_version: str | None = None,
        extra_writes: Sequence[DocumentWrite] = (),
    ) -> Incident:
        wanted = lc.severity(severity)

        def mutate(incident: Incident, now: datetime) -> builtins.list[Change]:
            if incident.severity is wanted:
                return []
            lc.require_workable(incident, "change the severity of")
            return lc.apply_severity(incident, wanted, self.settings.incidents.sla)

        return self.update(
            incident_id,
            scope,
            mutate,
            actor=actor,
            retry=False,
            expected_version=expected_version,
            extra_writes=extra_writes,
        )

    def comment(
        self,
        incident_id: str,
        text: str,
        *,
        actor: str,
        scope: Scope,
        extra_writes: Sequence[DocumentWrite] = (),
    ) -> Incident:
        body = lc.comment_text(text)
        comment_id = secrets.token_hex(8)

        def mutate(incident: Incident, now: datetime) -> builtins.list[Change]:
            if len(incident.comments) >= MAX_COMMENTS:
                raise SentinelError(f"incident {incident.id} has {MAX_COMMENTS} comments; no more can be added")
            incident.comments.append(Comment(id=comment_id, author=actor, text=body, created_at=format_timestamp(now)))
            return [Change("comment", "comments", None, body)]

        return self.update(incident_id, scope, mutate, actor=actor, retry=True, extra_writes=extra_writes)

    # alerts -----------------------------------------------------------------------------------
    def attach_alert(
        self,
        incident_id: str,
        alert_id: str,
        *,
        actor: str,
        scope: Scope,
        extra_writes: Sequence[DocumentWrite] = (),
    ) -> Incident:
        """Link an alert (idempotent). It must be the incident's institution's and in no other incident."""
        alert = self.load_alert(alert_id, scope)
        owner = self.incident_for_alert(alert_id, scope)  # an alert only ever joins its institution's incidents
        if owner is not None and owner.id != incident_id:
            raise SentinelError(f"alert {alert_id} is linked to incident {owner.id}; detach it there first")
        found = obs.from_alert(alert, self.store)

        def mutate(incident: Incident, now: datetime) -> builtins.list[Change]:
            if alert.institution_id != incident.institution_id:
                raise SentinelError(
                    f"alert {alert.id} belongs to {alert.institution_id or 'no institution'}, incident "
                    f"{incident.id} to {incident.institution_id or 'no institution'}: they cannot be linked"
                )
            return self.link_alert(incident, alert, found)

        return self.update(incident_id, scope, mutate, actor=actor, retry=True, extra_writes=extra_writes)

    def link_alert(
        self, incident: Incident, alert: Alert, found: builtins.list[obs.Observable]
    ) -> builtins.list[Change]:
        """Add an alert to an incident copy (no-op if linked); raises severity to the alert's if higher."""
        if alert.id in incident.alert_ids:
            return []
        if not incident.is_open and incident.state is not IncidentState.RESOLVED:
            raise SentinelError(f"incident {incident.id} is {incident.state.value}: no alerts can be attached")
        if len(incident.alert_ids) >= MAX_ALERTS:
            raise SentinelError(f"incident {incident.id} has {MAX_ALERTS} alerts; open a new incident")
        changes = [Change("attach", "alert_ids", None, alert.id)]
        incident.alert_ids.append(alert.id)
        incident.rule_ids = lc.union(incident.rule_ids, [alert.rule_id])
        incident.tags = lc.union(incident.tags, alert.tags)
        observables = obs.merge_observables(incident.observables, found)
        if len(observables) != len(incident.observables):
            changes.append(Change("attach", "observables", len(incident.observables), len(observables)))
        incident.observables = observables
        if alert.last_seen > incident.last_alert_at:  # fixed-width UTC strings compare in time order
            incident.last_alert_at = alert.last_seen
        severity = Severity.parse(alert.severity)
        if severity.rank > incident.severity.rank:
            changes += lc.apply_severity(incident, severity, self.settings.incidents.sla)
        return changes

    def detach_alert(
        self,
        incident_id: str,
        alert_id: str,
        *,
        actor: str,
        scope: Scope,
        extra_writes: Sequence[DocumentWrite] = (),
    ) -> Incident:
        """Unlink an alert (idempotent); observables only it showed go with it."""

        def mutate(incident: Incident, now: datetime) -> builtins.list[Change]:
            if alert_id not in incident.alert_ids:
                return []
            incident.alert_ids = [a for a in incident.alert_ids if a != alert_id]
            before = len(incident.observables)
            incident.observables = obs.without_alert(incident.observables, alert_id)
            changes = [Change("detach", "alert_ids", alert_id, None)]
            if len(incident.observables) != before:
                changes.append(Change("detach", "observables", before, len(incident.observables)))
            return changes

        return self.update(incident_id, scope, mutate, actor=actor, retry=True, extra_writes=extra_writes)

    def open_or_attach(
        self,
        alert: Alert,
        *,
        key: str,
        window_seconds: float | None = None,
        title: str | None = None,
        severity: Severity | str | None = None,
        actor: str,
        extra_writes: Sequence[DocumentWrite] = (),
    ) -> tuple[Incident, bool]:
        """The open incident for ``key`` with the alert attached, and whether it was created now."""
        from sentinel.incidents.opening import open_or_attach

        return open_or_attach(
            self,
            alert,
            key=key,
            window_seconds=window_seconds,
            title=title,
            severity=severity,
            actor=actor,
            extra_writes=extra_writes,
        )

    def merge(
        self,
        target_id: str,
        source_ids: Sequence[str],
        *,
        actor: str,
        scope: Scope,
        expected_versions: Mapping[str, str] | None = None,
    ) -> tuple[Incident, builtins.list[Incident]]:
        """Merge sources into the target; sources become ``duplicate``. Returns (target, sources)."""
        from sentinel.incidents.merge import merge_incidents

        return merge_incidents(
            self, target_id, source_ids, actor=actor, scope=scope, expected_versions=expected_versions
        )

    # playbooks and SLA ---------------------------------------------------------------------
    def record_playbook_step(
        self,
        incident_id: str,
        playbook: str,
        step_key: str,
        outcome: str,
        *,
        actor: str,
        extra_writes: Sequence[DocumentWrite] = (),
    ) -> Incident:
        """A timeline entry for a playbook step. The same step_key and outcome again is a no-op;
        a new outcome for the same step_key (e.g. waiting → approved) updates the entry."""
        if not step_key or not playbook or not outcome:
            raise SentinelError("a playbook step needs a playbook, a step key and an outcome")

        def mutate(incident: Incident, now: datetime) -> builtins.list[Change]:
            for entry in incident.timeline:
                if entry.step_key == step_key:
                    if entry.outcome == outcome:
                        return []
                    old = entry.outcome
                    entry.outcome, entry.at, entry.actor = outcome, format_timestamp(now), actor
                    return [Change("playbook", f"timeline.{step_key}", old, outcome)]
            if len(incident.timeline) >= MAX_TIMELINE:
                raise SentinelError(f"incident {incident.id} timeline is full ({MAX_TIMELINE} entries)")
            incident.timeline.append(
                TimelineEntry(
                    at=format_timestamp(now), actor=actor, playbook=playbook, step_key=step_key, outcome=outcome
                )
            )
            return [Change("playbook", f"timeline.{step_key}", None, outcome, playbook)]

        return self.update(incident_id, Scope.everything(), mutate, actor=actor, retry=True, extra_writes=extra_writes)

    def record_breach(
        self, breach: Breach, *, actor: str = "system:sla", extra_writes: Sequence[DocumentWrite] = ()
    ) -> tuple[Incident, bool]:
        """Record an SLA breach found by ``find_breaches`` as escalated, with its escalation notices.

        Returns (incident, recorded): False when it was already recorded, or no longer pending
        (acknowledged or resolved meanwhile); then nothing, not even ``extra_writes``, is written.
        """
        recorded = False

        def mutate(incident: Incident, now: datetime) -> builtins.list[Change]:
            nonlocal recorded
            recorded = False
            flag = "ack_breached" if breach.kind == "acknowledge" else "resolve_breached"
            due = incident.ack_due_at if breach.kind == "acknowledge" else incident.resolve_due_at
            if getattr(incident, flag) or not still_pending(incident, breach.kind) or due > format_timestamp(now):
                return []
            recorded = True
            return lc.record_breach(incident, breach.kind, now, escalated=True)

        incident = self.update(
            breach.incident_id, Scope.everything(), mutate, actor=actor, retry=True, extra_writes=extra_writes
        )
        return incident, recorded
