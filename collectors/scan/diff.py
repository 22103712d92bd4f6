"""Compare a scan with the previous scan of the same (institution, target, profile).

The last snapshot per key is one document in the store's ``scans`` collection. The first
scan of a key is the baseline and yields no change events (otherwise every service of a new
institution would be reported as "opened"). Changes: ``host_appeared``, ``host_vanished``,
``port_opened``, ``port_closed``, ``service_changed`` → ``nmap.change`` events.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from collectors.scan.report import ScanReport
from collectors.scan.xml_events import CHANGE_DATASET, scan_event_id
from sentinel.errors import ConflictError
from sentinel.events import Event, format_timestamp, new_event
from sentinel.store.base import Scope, Store

log = logging.getLogger(__name__)
COLLECTION = "scans"
Action = Literal["host_appeared", "host_vanished", "port_opened", "port_closed", "service_changed"]
# host ip -> "tcp/22" -> service facts
Snapshot = dict[str, dict[str, dict[str, str | None]]]


@dataclass(frozen=True, slots=True)
class Change:
    action: Action
    ip: str
    port: str | None = None  # "tcp/22"
    before: dict[str, str | None] | None = None
    after: dict[str, str | None] | None = None


def snapshot_of(report: ScanReport) -> Snapshot:
    """Hosts that are up, with their open ports and what runs on them."""
    snap: Snapshot = {}
    for host in report.hosts:
        if host.state != "up":
            continue
        snap[host.ip] = {
            f"{p.protocol}/{p.port}": {"name": p.service_name, "product": p.product, "version": p.version}
            for p in host.open_ports()
        }
    return snap


def carry_over_timed_out(previous: Snapshot, current: Snapshot, report: ScanReport) -> Snapshot:
    """A host nmap gave up on (``--host-timeout``) keeps its previous ports: an unfinished scan
    of a host is not evidence that its ports closed."""
    merged = dict(current)
    for host in report.hosts:
        if host.timed_out and host.ip in previous:
            merged[host.ip] = previous[host.ip]
    return merged


def diff_snapshots(before: Snapshot, after: Snapshot) -> list[Change]:
    changes: list[Change] = []
    for ip in sorted(after.keys() - before.keys()):
        changes.append(Change("host_appeared", ip))
        changes += [Change("port_opened", ip, port, None, svc) for port, svc in sorted(after[ip].items())]
    for ip in sorted(before.keys() - after.keys()):
        changes.append(Change("host_vanished", ip))
    for ip in sorted(before.keys() & after.keys()):
        old, new = before[ip], after[ip]
        changes += [Change("port_opened", ip, p, None, new[p]) for p in sorted(new.keys() - old.keys())]
        changes += [Change("port_closed", ip, p, old[p], None) for p in sorted(old.keys() - new.keys())]
        for port in sorted(old.keys() & new.keys()):
            if _service_differs(old[port], new[port]):
                changes.append(Change("service_changed", ip, port, old[port], new[port]))
    return changes


def _service_differs(old: dict[str, str | None], new: dict[str, str | None]) -> bool:
    # A field -sV could not determine this time is not a change (a timeout is not an upgrade).
    return any(new.get(k) and old.get(k) and new.get(k) != old.get(k) for k in ("name", "product", "version"))


def snapshot_id(institution_id: str, target: str, profile: str) -> str:
    key = f"{institution_id}\x1f{target}\x1f{profile}".encode()
    return "snapshot-" + hashlib.blake2b(key, digest_size=12).hexdigest()


class SnapshotKeeper:
    """Reads and replaces the last snapshot per (institution, target, profile) in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, institution_id: str, target: str, profile: str) -> Snapshot | None:
        doc = self.store.get_document(COLLECTION, snapshot_id(institution_id, target, profile), Scope.everything())
        if doc is None:
            return None
        hosts = doc.body.get("hosts")
        return hosts if isinstance(hosts, dict) else None

    def swap(
        self, institution_id: str, target: str, profile: str, snapshot: Snapshot, scan_id: str, at: datetime
    ) -> Snapshot | None:
        """Store ``snapshot`` as the latest and return the one it replaces (None on the first scan)."""
        doc_id = snapshot_id(institution_id, target, profile)
        body: dict[str, Any] = {
            "type": "snapshot",
            "institution_id": institution_id,
            "target": target,
            "profile": profile,
            "scan_id": scan_id,
            "scanned_at": format_timestamp(at),
            "hosts": snapshot,
        }
        for _attempt in range(3):
            current = self.store.get_document(COLLECTION, doc_id, Scope.everything())
            try:
                if current is None:
                    self.store.create_document(COLLECTION, doc_id, body, institution_id=institution_id)
                    return None
                self.store.replace_document(
                    COLLECTION, doc_id, body, expected_version=current.version, institution_id=institution_id
                )
            except ConflictError:
                log.info("snapshot %s changed while saving; retrying", doc_id)
                continue
            previous = current.body.get("hosts")
            return previous if isinstance(previous, dict) else {}
        raise ConflictError(f"could not save scan snapshot {doc_id}: it kept changing")


def change_events(
    changes: list[Change], *, scan_id: str, institution_id: str, target: str, profile: str, at: datetime
) -> list[Event]:
    events = []
    for change in changes:
        doc: dict[str, Any] = {
            "event": {
                "kind": "event",
                "category": ["network"],
                "type": ["change"],
                "action": change.action,
                "module": "nmap",
            },
            "observer": {"type": "scanner", "vendor": "Nmap", "product": "nmap"},
            "agent": {"type": "sentinel", "name": "sentinel-scan"},
            "organization": {"id": institution_id},
            "host": {"ip": [change.ip]},
            "sentinel": {"scan": {"id": scan_id, "target": target, "profile": profile}},
        }
        text = f"{change.action.replace('_', ' ')}: {change.ip}"
        if change.port is not None:
            transport, _, number = change.port.partition("/")
            doc["destination"] = {"ip": change.ip, "port": int(number)}
            doc["network"] = {"transport": transport}
            text += f" {change.port}"
            svc = change.after or change.before or {}
            if svc.get("name"):
                doc["service"] = {"name": svc["name"]}
        if change.before is not None:
            doc["sentinel"]["scan"]["previous"] = {k: v for k, v in change.before.items() if v}
        if change.after is not None:
            doc["sentinel"]["scan"]["current"] = {k: v for k, v in change.after.items() if v}
        doc["message"] = text
        events.append(
            new_event(
                event_id=scan_event_id(doc, scan_id, f"change|{change.action}|{change.ip}|{change.port or ''}"),
                timestamp=at,
                dataset=CHANGE_DATASET,
                fields=doc,
            )
        )
    return events
