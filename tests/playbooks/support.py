"""Real alerts (through the engine's alert sink) in a real store, an inventory, settings and a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sentinel.config import Settings
from sentinel.detect.alerts import COLLECTION as ALERTS
from sentinel.detect.alerts import Alert, AlertCandidate, StoreAlertSink
from sentinel.events import to_millis
from sentinel.inventory import Inventory, parse_inventory
from sentinel.store.base import Scope, Store
from sentinel.yamlfile import YamlDocument

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BRUTE_FORCE_RULE = "6b1f7a9c-2d4e-4f8a-8b3c-0e5d7a1c9f02"  # sentinel_ssh_brute_force

INVENTORY = """\
institutions:
  - id: moh
    name: Wizara ya Afya
    language: sw
    contacts:
      - {name: ICT Officer, email: ict@moh.go.tz, role: security}
      - {name: Director, email: director@moh.go.tz, role: manager}
    networks: [10.1.0.0/16]
    hostnames: [labsz, web01.moh.go.tz]
  - id: tra
    name: Revenue Authority
    language: en
    contacts:
      - {email: soc@tra.go.tz, role: security}
    networks: [10.2.0.0/16]
"""


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def make_inventory() -> Inventory:
    return parse_inventory(YamlDocument.parse(INVENTORY, "inventory.yaml"))


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "data_dir": str(data_dir),
        "slack": {"token": "xoxb-test", "channel": "#soc"},
        "notify": {"soc_emails": ["soc-manager@ega.go.tz"]},
        "incidents": {"on_call": ["ana", "baraka"]},
    }
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return Settings.model_validate(data)


def raise_alert(
    store: Store,
    clock: Clock,
    *,
    ip: str = "203.0.113.9",
    institution: str | None = "moh",
    rule_id: str = BRUTE_FORCE_RULE,
    title: str = "SSH brute force from one source",
    severity: str = "high",
    tags: tuple[str, ...] = ("attack.credential_access", "attack.t1110.001", "sentinel.control.auth-02"),
    group_key: dict[str, Any] | None = None,
    count: int = 12,
    window_minutes: int = 0,
) -> Alert:
    """Store an alert the way the detection engine does (``StoreAlertSink.upsert``) and return it."""
    start = to_millis(T0 + timedelta(hours=window_minutes // 60 if window_minutes else 0))
    candidate = AlertCandidate(
        rule_id=rule_id,
        rule_title=title,
        rule_kind="correlation",
        severity=severity,
        description="",
        tags=tags,
        attack=tuple(t for t in tags if t.startswith("attack.")),
        controls=(),
        institution_id=institution,
        group_key=group_key if group_key is not None else {"source.ip": ip},
        window_start_ms=start,
        window_end_ms=start + 3_600_000,
        first_seen_ms=start,
        last_seen_ms=start + 60_000,
        count=count,
        sample_event_ids=[],
    )
    StoreAlertSink(store, clock=clock).upsert(candidate)
    doc = store.get_document(ALERTS, candidate.id, Scope.everything())
    assert doc is not None
    return Alert.model_validate(doc.body)


def outbox(store: Store) -> list[dict[str, Any]]:
    return [d.body for d in store.find_documents("outbox", Scope.everything(), limit=1000)]
