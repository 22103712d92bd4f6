"""Scan findings of the month (from the policy flags Sentinel's scans put on every open port) and
what changed since the previous month.

A finding is one (address, port, kind) seen at least once in the month's scan results:
``exposed`` (a forbidden service, NET-02), ``end_of_life`` (VUL-04), ``weak_tls`` (legacy TLS or
a weak cipher, CRY-01), ``certificate`` (expired or expiring, CRY-01).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sentinel.events import get_field
from sentinel.reports.figures import FINDING_KINDS, Finding, ScanFigures
from sentinel.reports.incident_figures import counted
from sentinel.reports.reads import all_events
from sentinel.store.base import EventQuery, FieldFilter, Scope, Store

PORTS = "nmap.port"
SCAN_DATASETS = ("nmap.host", "nmap.port")
MAX_EVENTS = 100_000  # per kind and month
MAX_LISTED = 30
# kind -> the policy flags (any of them true) and the field that names the finding
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "exposed": (("forbidden",), ("sentinel.policy.forbidden_service", "service.name")),
    "end_of_life": (("eol",), ("sentinel.policy.eol_product", "service.name")),
    "weak_tls": (("tls_legacy", "weak_cipher"), ("service.name",)),
    "certificate": (("cert_expired", "cert_expiring"), ("service.name",)),
}

Key = tuple[str, int]


def _detail(doc: dict[str, Any], fields: tuple[str, ...]) -> str:
    for name in fields:
        value = get_field(doc, name)
        if isinstance(value, str) and value:
            return value
    return "-"


def findings(store: Store, scope: Scope, start: datetime, end: datetime) -> dict[str, dict[Key, str]]:
    """kind → {(address, port): detail} for the window."""
    out: dict[str, dict[Key, str]] = {}
    for kind, (flags, detail_fields) in KINDS.items():
        found: dict[Key, str] = {}
        for flag in flags:
            query = EventQuery(
                start=start, end=end, datasets=(PORTS,), filters=(FieldFilter(f"sentinel.policy.{flag}", "eq", True),)
            )
            for doc in all_events(store, query, scope, MAX_EVENTS):
                address, port = get_field(doc, "destination.ip"), get_field(doc, "destination.port")
                if isinstance(address, str) and isinstance(port, int):
                    found[(address, port)] = _detail(doc, detail_fields)  # the latest scan names it
        out[kind] = found
    return out


def scan_figures(
    store: Store, scope: Scope, month: tuple[datetime, datetime], previous: tuple[datetime, datetime]
) -> ScanFigures:
    scanned = store.count_events(EventQuery(start=month[0], end=month[1], datasets=SCAN_DATASETS), scope) > 0
    now = findings(store, scope, *month)
    before = findings(store, scope, *previous)
    listed = [
        Finding(kind=kind, address=address, port=port, detail=detail)
        for kind in FINDING_KINDS
        for (address, port), detail in sorted(now[kind].items())
    ]
    return ScanFigures(
        scanned=scanned,
        current=counted(Counter({k: len(now[k]) for k in FINDING_KINDS}), FINDING_KINDS),
        previous=counted(Counter({k: len(before[k]) for k in FINDING_KINDS}), FINDING_KINDS),
        new=counted(Counter({k: len(now[k].keys() - before[k].keys()) for k in FINDING_KINDS}), FINDING_KINDS),
        fixed=counted(Counter({k: len(before[k].keys() - now[k].keys()) for k in FINDING_KINDS}), FINDING_KINDS),
        findings=listed[:MAX_LISTED],
    )
