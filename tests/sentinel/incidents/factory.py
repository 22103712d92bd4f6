"""Real alerts and events in a real store, for the incident, API and CLI tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sentinel.detect.alerts import Alert
from sentinel.events import format_timestamp, make_event_id, new_event
from sentinel.store.base import Store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand; the service reads it for every change."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def make_alert(
    store: Store,
    n: int,
    *,
    institution: str | None = "moh",
    ip: str = "203.0.113.9",
    severity: str = "high",
    rule_id: str = "ssh_brute_force",
    minutes: float | None = None,
    user: str = "root",
    details: dict[str, Any] | None = None,
) -> Alert:
    """An alert stored in ``alerts`` with one sample event stored in ``events``."""
    seen = T0 + timedelta(minutes=n if minutes is None else minutes)
    stamp = format_timestamp(seen)
    event_id = make_event_id("test", f"{institution}-{n}-{ip}")
    event = new_event(
        event_id=event_id,
        timestamp=seen,
        dataset="system.auth",
        fields={
            "message": f"Failed password for {user} from {ip}",
            "organization": {"id": institution} if institution else {},
            "source": {"ip": ip},
            "user": {"name": user},
            "host": {"name": "web01.moh.go.tz"},
        },
    )
    store.write_events([event])
    alert = Alert(
        id=f"alert-{institution}-{n}",
        rule_id=rule_id,
        rule_title="SSH brute force",
        rule_kind="sigma",
        severity=severity,
        tags=["attack.credential_access", "attack.t1110"],
        institution_id=institution,
        group_key={"source.ip": ip},
        window_start=stamp,
        window_end=stamp,
        first_seen=stamp,
        last_seen=stamp,
        count=12,
        sample_event_ids=[event_id],
        details=details or {},
        created_at=stamp,
        updated_at=stamp,
    )
    store.create_document("alerts", alert.id, alert.model_dump(mode="json"), institution_id=institution)
    return alert
