"""``open_or_attach``: one open incident per key; an alert joins it or opens a new one, race-free.

A key-lock document (``state`` collection, ``incident-key:<hash of key>``) names the incident that
currently owns the key. Opening an incident changes that lock with compare-and-swap in the same
``write_documents`` call that creates the incident, so two workers opening for the same key at the
same moment cannot both succeed: the loser re-reads the lock and attaches to the winner's incident.
The lock is written first, so on Elasticsearch (no multi-document transaction) a failure after it
leaves a lock naming a missing incident, which the next attempt simply replaces.

The incident id is a hash of the key and the alert that opened it, so re-running the same alert
can never open a second incident, and an alert already linked anywhere is returned as is.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from sentinel.detect.alerts import Alert
from sentinel.errors import ConflictError, SentinelError
from sentinel.events import format_timestamp, parse_timestamp
from sentinel.incidents import observables as obs
from sentinel.incidents.audit import Change, audit_writes, check_actor
from sentinel.incidents.model import COLLECTION, Incident, Severity
from sentinel.incidents.sla import due_times
from sentinel.store.base import DocumentWrite, Scope

if TYPE_CHECKING:
    from sentinel.incidents.service import IncidentService

log = logging.getLogger(__name__)

LOCKS = "state"
RETRIES = 20
MAX_KEY_LENGTH = 512
MAX_MERGE_HOPS = 10  # following merged_into from a key's incident to the one that absorbed it


def lock_id(key: str) -> str:
    return "incident-key:" + hashlib.blake2b(key.encode("utf-8"), digest_size=16, person=b"sentinel-ik1").hexdigest()


def incident_id(key: str, alert_id: str) -> str:
    digest = hashlib.blake2b(f"{key}\x1f{alert_id}".encode(), digest_size=12, person=b"sentinel-in1").hexdigest()
    return "inc-" + digest


def default_title(alert: Alert) -> str:
    key = ", ".join(f"{k}={v}" for k, v in alert.group_key.items())
    return f"{alert.rule_title} ({key})" if key else alert.rule_title


def open_or_attach(
    service: IncidentService,
    alert: Alert,
    *,
    key: str,
    window_seconds: float | None,
    title: str | None,
    severity: Severity | str | None,
    actor: str,
    extra_writes: Sequence[DocumentWrite],
) -> tuple[Incident, bool]:
    check_actor(actor)
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise SentinelError(f"an incident key is a non-empty string of at most {MAX_KEY_LENGTH} characters")
    window = service.settings.incidents.attach_window if window_seconds is None else timedelta(seconds=window_seconds)
    try:
        wanted = Severity.parse(severity if severity is not None else alert.severity)
    except ValueError as exc:
        raise SentinelError(str(exc)) from None
    found = obs.from_alert(alert, service.store)
    store = service.store
    for _ in range(RETRIES):
        linked = service.incident_for_alert(alert.id, Scope.everything())
        if linked is not None:
            return linked, False  # already done: attaching twice changes nothing
        lock = store.get_document(LOCKS, lock_id(key), Scope.everything())
        owner = _follow(service, lock.body.get("incident_id") if lock else None)
        if owner is not None and owner.is_open and _joins(owner, alert, window):
            try:
                attached = service.update(
                    owner.id,
                    Scope.everything(),
                    lambda incident, now: service.link_alert(incident, alert, found),
                    actor=actor,
                    retry=False,
                    extra_writes=extra_writes,
                )
            except ConflictError:
                continue  # it changed meanwhile (or closed): look again
            except SentinelError as exc:
                log.info("alert %s not attached to %s (%s); opening a new incident", alert.id, owner.id, exc)
            else:
                return attached, False
        now = service.now()
        stamp = format_timestamp(now)
        incident = _new_incident(service, alert, key=key, title=title, severity=wanted, actor=actor, stamp=stamp)
        incident.observables = obs.merge_observables([], found)
        incident.audit_seq = 1
        lock_body = {"kind": "incident_key", "key": key, "incident_id": incident.id, "updated_at": stamp}
        writes = [
            DocumentWrite(
                LOCKS,
                lock_id(key),
                lock_body,
                institution_id=alert.institution_id,
                expected_version=lock.version if lock is not None else None,
            ),
            DocumentWrite(COLLECTION, incident.id, incident.body(), institution_id=incident.institution_id),
            *audit_writes(
                incident.id,
                incident.institution_id,
                [
                    Change("create", "state", None, incident.state.value),
                    Change("create", "severity", None, incident.severity.value),
                    Change("create", "alert_ids", None, alert.id),
                ],
                actor=actor,
                now=now,
                seq=incident.audit_seq,
            ),
            *extra_writes,
        ]
        try:
            written = store.write_documents(writes)
        except ConflictError:
            continue  # another worker opened or attached first: look again
        incident.version = written[1].version
        log.info("incident %s opened for key %r by %s: %s", incident.id, key, actor, incident.title)
        return incident, True
    raise ConflictError(f"could not open or attach an incident for key {key!r} after {RETRIES} attempts")


def _new_incident(
    service: IncidentService, alert: Alert, *, key: str, title: str | None, severity: Severity, actor: str, stamp: str
) -> Incident:
    ack_due, resolve_due = due_times(service.settings.incidents.sla, severity, stamp)
    return Incident(
        id=incident_id(key, alert.id),
        key=key,
        title=(title or default_title(alert))[:300],
        institution_id=alert.institution_id,
        severity=severity,
        alert_ids=[alert.id],
        rule_ids=[alert.rule_id],
        tags=list(alert.tags),
        created_at=stamp,
        created_by=actor,
        updated_at=stamp,
        last_alert_at=alert.last_seen,
        ack_due_at=ack_due,
        resolve_due_at=resolve_due,
    )


def _follow(service: IncidentService, incident_id: object) -> Incident | None:
    """The incident a key points at, following merges to the incident that absorbed it."""
    current = None
    for _ in range(MAX_MERGE_HOPS):
        if not isinstance(incident_id, str):
            return current
        current = service.find(incident_id, Scope.everything())
        if current is None or current.merged_into is None:
            return current
        incident_id = current.merged_into
    return current


def _joins(incident: Incident, alert: Alert, window: timedelta) -> bool:
    """Same institution (a key without one must not mix institutions), and the alert started no
    later than ``window`` after the incident's latest alert."""
    if incident.institution_id != alert.institution_id:
        log.warning("key of incident %s is shared by another institution's alert %s", incident.id, alert.id)
        return False
    return parse_timestamp(alert.first_seen) - parse_timestamp(incident.last_alert_at) <= window
