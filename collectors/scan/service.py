"""One scan end to end: run, turn into events with policy fields, diff, store events and the raw XML.

Used by ``sentinel scan`` and by the scheduled jobs. The raw XML is kept as a document in
the ``scans`` collection (``run-<scan id>``) with the scan's metadata, bounded by
``scan.raw_xml_max_bytes`` (default 2 MiB: a services scan of a /24 is a few hundred KiB;
beyond the bound the head is kept with ``xml_truncated: true`` and the full size and
SHA-256, because a document store is no place for a 100 MiB blob and the events already
carry every fact the rules use).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collectors.scan.diff import (
    COLLECTION,
    Change,
    SnapshotKeeper,
    carry_over_timed_out,
    change_events,
    diff_snapshots,
    snapshot_of,
)
from collectors.scan.policy import EolList, PolicyContext, load_eol
from collectors.scan.report import ScanReport
from collectors.scan.runner import ProgressCallback, RunResult, ScanRunner
from collectors.scan.targets import Target, TargetError, institution_targets
from collectors.scan.xml_events import PORT_DATASET, ScanContext, report_events
from sentinel.config import Settings
from sentinel.errors import ConflictError, StoreError
from sentinel.events import Event, format_timestamp
from sentinel.inventory import Inventory
from sentinel.store.base import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ScanOutcome:
    scan_id: str
    institution_id: str
    profile: str
    targets: list[str]
    report: ScanReport
    events: list[Event]  # host and port events
    changes: list[Change]
    change_events: list[Event]
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    elapsed_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def hosts_up(self) -> int:
        return sum(1 for h in self.report.hosts if h.state == "up")

    @property
    def open_ports(self) -> int:
        return sum(len(h.open_ports()) for h in self.report.hosts)


def make_scan_id(institution_id: str, targets: Sequence[str], profile: str, started: datetime) -> str:
    key = "\x1f".join([institution_id, *targets, profile, started.isoformat()]).encode()
    return hashlib.blake2b(key, digest_size=8, person=b"sentinel-scan").hexdigest()


def _hosts_of(report: ScanReport, target: Target) -> ScanReport:
    nets = target.networks()
    hosts = tuple(h for h in report.hosts if any(ipaddress.ip_address(h.ip) in n for n in nets))
    return ScanReport(report.scanner_version, report.args, report.started, report.finished, hosts, report.sha256)


class ScanService:
    def __init__(
        self,
        settings: Settings,
        inventory: Inventory,
        store: Store,
        *,
        runner: ScanRunner | None = None,
        eol: EolList | None = None,
        observer_hostname: str | None = None,
    ) -> None:
        self.settings = settings
        self.inventory = inventory
        self.store = store
        self.runner = runner or ScanRunner(settings.scan)
        self.eol = eol or load_eol(settings.scan.eol_file)
        self.observer_hostname = observer_hostname or socket.gethostname()
        self.snapshots = SnapshotKeeper(store)

    def scan_institution(
        self, institution_id: str, profile: str, progress: ProgressCallback | None = None
    ) -> ScanOutcome:
        inst = self.inventory.get(institution_id)
        if inst is None:
            raise TargetError(f"unknown institution {institution_id!r}")
        return self.scan(institution_targets(inst), profile, progress)

    def scan(self, targets: Sequence[Target], profile: str, progress: ProgressCallback | None = None) -> ScanOutcome:
        owners = {t.institution_id for t in targets}
        if len(owners) != 1:
            raise TargetError("one scan covers targets of exactly one institution")
        institution_id = owners.pop()
        labels = [t.label for t in targets]
        result = self.runner.run(targets, profile, progress)
        scan_id = make_scan_id(institution_id, labels, profile, result.started)
        ctx = ScanContext(
            scan_id=scan_id,
            institution_id=institution_id,
            profile=profile,
            target=",".join(labels),
            policy=PolicyContext.for_institution(self.settings.scan, institution_id, self.eol),
            observer_hostname=self.observer_hostname,
            received_at=result.finished,
        )
        events = report_events(result.report, ctx)
        at = result.report.time or result.finished
        changes: list[Change] = []
        pending: list[tuple[Target, dict[str, Any]]] = []
        for target in targets:
            if result.chunk_errors:
                # A failed chunk would look like vanished hosts: no diff, and the baseline stays as it was.
                log.warning("scan %s was partial: no diff for %s", scan_id, target.label)
                continue
            part = _hosts_of(result.report, target)
            current = snapshot_of(part)
            previous = self.snapshots.load(institution_id, target.label, profile)
            if previous is not None:
                current = carry_over_timed_out(previous, current, part)
                changes += diff_snapshots(previous, current)
            pending.append((target, current))
        _mark_new_ports(events, changes)
        diffs = change_events(
            changes, scan_id=scan_id, institution_id=institution_id, target=ctx.target or "", profile=profile, at=at
        )
        outcome = ScanOutcome(scan_id, institution_id, profile, labels, result.report, events, changes, diffs)
        outcome.elapsed_seconds = result.elapsed_seconds
        outcome.errors = list(result.chunk_errors) + list(result.report.warnings)
        written = self.store.write_events([*events, *diffs])
        outcome.stored, outcome.duplicates, outcome.failed = written.created, written.duplicates, len(written.failed)
        # Snapshots advance only after the events are stored: a failed write is re-diffed next time.
        for target, current in pending:
            self.snapshots.swap(institution_id, target.label, profile, current, scan_id, at)
        self._keep_run(outcome, result)
        return outcome

    def _keep_run(self, outcome: ScanOutcome, result: RunResult) -> None:
        raw = b"\n".join(result.xml)
        limit = self.settings.scan.raw_xml_max_bytes
        body: dict[str, Any] = {
            "type": "run",
            "scan_id": outcome.scan_id,
            "institution_id": outcome.institution_id,
            "profile": outcome.profile,
            "targets": outcome.targets,
            "arguments": result.arguments,
            "nmap_version": result.report.scanner_version,
            "started": format_timestamp(result.started),
            "finished": format_timestamp(result.finished),
            "hosts_up": outcome.hosts_up,
            "open_ports": outcome.open_ports,
            "changes": len(outcome.changes),
            "errors": outcome.errors[:20],
            "xml": raw[:limit].decode("utf-8", "replace"),
            "xml_bytes": len(raw),
            "xml_sha256": hashlib.sha256(raw).hexdigest(),
            "xml_truncated": len(raw) > limit,
        }
        try:
            self.store.create_document(
                COLLECTION, f"run-{outcome.scan_id}", body, institution_id=outcome.institution_id
            )
        except ConflictError:
            log.info("scan run %s was already kept", outcome.scan_id)
        except StoreError as exc:
            outcome.errors.append(f"raw XML not kept: {exc}")
            log.error("could not keep the raw XML of scan %s: %s", outcome.scan_id, exc)


def _mark_new_ports(events: list[Event], changes: list[Change]) -> None:
    opened = {(c.ip, c.port) for c in changes if c.action == "port_opened"}
    if not opened:
        return
    for event in events:
        if event.dataset != PORT_DATASET:
            continue
        key = (event.get("destination.ip"), f"{event.get('network.transport')}/{event.get('destination.port')}")
        policy = event.doc.get("sentinel", {}).get("policy")
        if key in opened and isinstance(policy, dict):
            policy["new_port"] = True
