"""Alerts of the month: the most active attack sources, the rules and ATT&CK techniques seen, and
which controls the alerts show breached."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sentinel.detect.alerts import COLLECTION as ALERTS
from sentinel.detect.alerts import Alert
from sentinel.notify.responses import techniques_of
from sentinel.reports.figures import Source
from sentinel.reports.incident_figures import counted
from sentinel.reports.reads import documents, in_window
from sentinel.store.base import Scope, Store

SOURCE_KEYS = ("source.ip", "client.ip")


def month_alerts(store: Store, scope: Scope, start: datetime, end: datetime) -> list[Alert]:
    """Alerts whose activity started in the window."""
    docs = documents(store, ALERTS, scope, in_window("first_seen", start, end), sort="first_seen")
    return [Alert.model_validate(d.body) for d in docs]


def top_sources(alerts: list[Alert], top: int) -> list[Source]:
    """Addresses that alerts were grouped by, most matched events first (then alerts, then address)."""
    counts: dict[str, list[int]] = {}
    for alert in alerts:
        for key in SOURCE_KEYS:
            address = alert.group_key.get(key)
            if isinstance(address, str) and address:
                entry = counts.setdefault(address, [0, 0])
                entry[0] += 1
                entry[1] += alert.count
                break
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    return [Source(address=a, alerts=n, events=e) for a, (n, e) in ranked[:top]]


def rules_seen(alerts: list[Alert]) -> Counter[str]:
    return Counter(a.rule_id for a in alerts)


def techniques_seen(alerts: list[Alert]) -> Counter[str]:
    found: Counter[str] = Counter()
    for alert in alerts:
        found.update(set(techniques_of(alert.attack or alert.tags)))
    return found


def controls_breached(alerts: list[Alert]) -> Counter[str]:
    found: Counter[str] = Counter()
    for alert in alerts:
        found.update(set(alert.controls))
    return found


__all__ = ["controls_breached", "counted", "month_alerts", "rules_seen", "techniques_seen", "top_sources"]
