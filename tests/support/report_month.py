"""A month of events, scans, alerts and incidents for institutions, written through Sentinel's own
writers (``Store.write_events``, ``StoreAlertSink``, ``IncidentService``), and a ledger of exactly
what was written, so a test can compute every report figure on its own and compare.

Used by the report acceptance tests and by ``benchmarks/reports.py`` (200 institutions, 2M events).
Deterministic for a seed: the same call writes the same ids, so writing twice changes nothing.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sentinel.config import Settings
from sentinel.detect.alerts import AlertCandidate, StoreAlertSink
from sentinel.detect.rulebook.pack import PackRule, RulePack
from sentinel.events import Event, make_event_id, new_event, to_millis
from sentinel.incidents.model import Incident, IncidentState
from sentinel.incidents.service import IncidentService
from sentinel.reports.period import Month
from sentinel.store.base import Scope, Store

BRUTE_FORCE = "6b1f7a9c-2d4e-4f8a-8b3c-0e5d7a1c9f02"
SUCCESS_AFTER = "fe03395f-4e81-46bc-91ad-aa2fe25470f0"
EXPOSED = "4d0b3c7e-2a55-4f0e-9a51-8f1c2e6b7a01"
SILENT = "9edb24f5-ecdd-4501-986d-c1e80f30e685"
SQLI = "d0357ceb-1b8b-4901-9a0b-b7b69c418322"
ROOT_LOGIN = "d3ca30c9-e0f8-4790-9370-8910999c2960"
GUESSED = ("cisco", "ubnt", "uucp", "oracle", "test", "pi")
BATCH = 20_000


def inventory_yaml(ids: list[tuple[str, str, str]]) -> str:
    """Institutions (id, name, language) with two expected sources and contacts each."""
    lines = ["institutions:"]
    for n, (inst, name, language) in enumerate(ids):
        lines += [
            f"  - id: {inst}",
            f"    name: {name}",
            f"    language: {language}",
            f"    networks: [10.{n // 250}.{n % 250}.0/24]",
            f"    hostnames: [web01.{inst}.go.tz, portal.{inst}.go.tz]",
            "    contacts:",
            f"      - {{name: Director, email: director@{inst}.go.tz, role: manager}}",
            f"      - {{name: ICT Officer, email: ict@{inst}.go.tz, role: ict_officer}}",
            f"      - {{name: Security, email: security@{inst}.go.tz, role: security}}",
            "    expected_sources:",
            f"      - {{name: web01 auth log, dataset: system.auth, host: web01.{inst}.go.tz, silence_minutes: 1440}}",
            f"      - {{name: portal access log, dataset: nginx.access, host: portal.{inst}.go.tz, silence_minutes: 1440}}",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class IncidentRecord:
    id: str
    rule_id: str
    severity: str
    opened: datetime
    acknowledged: datetime | None
    resolved: datetime | None
    address: str
    accounts: tuple[str, ...]
    hosts: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass
class Ledger:
    """What was written for one institution and month (and the findings of the month before)."""

    institution: str
    events_by_dataset: Counter[str] = field(default_factory=Counter)
    source_events: Counter[str] = field(default_factory=Counter)  # expected source name -> events
    source_days: dict[str, set[date]] = field(default_factory=dict)  # local days with events
    alerts: list[AlertCandidate] = field(default_factory=list)  # activity starting this month
    previous_alerts: list[AlertCandidate] = field(default_factory=list)
    incidents: list[IncidentRecord] = field(default_factory=list)
    findings: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    previous_findings: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    scanned: bool = False


def _candidate(
    rule: PackRule, institution: str, key: dict[str, Any], at: datetime, count: int, details: dict[str, Any]
) -> AlertCandidate:
    start = to_millis(at)
    return AlertCandidate(
        rule_id=rule.id,
        rule_title=rule.title,
        rule_kind=rule.kind,
        severity=rule.level,
        description=rule.description,
        tags=rule.tags,
        attack=rule.attack,
        controls=rule.controls,
        institution_id=institution,
        group_key=key,
        window_start_ms=start - start % 3_600_000,
        window_end_ms=start - start % 3_600_000 + 3_600_000,
        first_seen_ms=start,
        last_seen_ms=start + 60_000 * min(count, 600),
        count=count,
        details=details,
    )


class MonthWriter:
    def __init__(self, store: Store, settings: Settings, pack: RulePack, *, seed: int = 7) -> None:
        self.store = store
        self.settings = settings
        self.rules = {r.id: r for r in pack.rules}
        self.seed = seed

    # events ---------------------------------------------------------------------------------
    def _events(
        self, inst: str, n: int, month: Month, tz: ZoneInfo, rng: random.Random, ledger: Ledger
    ) -> Iterator[Event]:
        days = [d for d in range(month.days())]
        silent = {
            "web01 auth log": set(rng.sample(days, rng.randint(0, 4))),
            "portal access log": set(rng.sample(days, rng.randint(0, 3))),
        }
        start = month.start(tz)
        attackers = [f"203.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}" for _ in range(3)]
        for i in range(n):
            roll = i % 20
            if roll < 12:
                source, dataset, host = "web01 auth log", "system.auth", f"web01.{inst}.go.tz"
            elif roll < 19:
                source, dataset, host = "portal access log", "nginx.access", f"portal.{inst}.go.tz"
            else:
                source, dataset, host = None, "system.syslog", f"db01.{inst}.go.tz"
            day = rng.choice(days)
            if source is not None and day in silent[source]:
                day = next((d for d in days if d not in silent[source]), day)
            at = start + timedelta(days=day, seconds=rng.randint(0, 86_399))
            fields: dict[str, Any] = {
                "organization": {"id": inst},
                "host": {"hostname": host},
                "message": f"synthetic {dataset} event {i}",
            }
            if dataset == "system.auth":
                failed = rng.random() < 0.5
                fields["event"] = {
                    "category": ["authentication"],
                    "action": "ssh_login",
                    "outcome": "failure" if failed else "success",
                }
                fields["source"] = {"ip": rng.choice(attackers) if failed else f"10.9.0.{rng.randint(1, 50)}"}
                fields["user"] = {"name": rng.choice(GUESSED) if failed else rng.choice(("admin", "backup", "ana"))}
            elif dataset == "nginx.access":
                fields["http"] = {"response": {"status_code": rng.choice((200, 200, 200, 404, 302))}}
                fields["source"] = {"ip": f"198.51.100.{rng.randint(1, 254)}"}
            event = new_event(
                event_id=make_event_id(f"report-test:{inst}", str(i)), timestamp=at, dataset=dataset, fields=fields
            )
            ledger.events_by_dataset[dataset] += 1
            if source is not None:
                ledger.source_events[source] += 1
                ledger.source_days.setdefault(source, set()).add(at.astimezone(tz).date())
            yield event
        for source in silent:
            ledger.source_days.setdefault(source, set())

    def _scan_events(
        self, inst: str, n: int, month: Month, tz: ZoneInfo, rng: random.Random
    ) -> tuple[list[Event], dict[str, set[tuple[str, int]]]]:
        """One scan on the 10th: a set of open ports with policy flags; some kinds on some addresses."""
        net = f"10.{n // 250}.{n % 250}"
        at = month.start(tz) + timedelta(days=9, hours=2)
        found: dict[str, set[tuple[str, int]]] = {
            "exposed": set(),
            "end_of_life": set(),
            "weak_tls": set(),
            "certificate": set(),
        }
        events = []
        ports = [
            (f"{net}.{h}", p, svc)
            for h in range(5, 12)
            for p, svc in ((23, "telnet"), (3389, "ms-wbt-server"), (22, "ssh"), (443, "https"))
        ]
        for address, port, service in ports:
            if rng.random() < 0.5:
                continue
            policy = {
                "forbidden": port in (23, 3389) and rng.random() < 0.7,
                "tls_legacy": port == 443 and rng.random() < 0.5,
                "weak_cipher": port == 443 and rng.random() < 0.3,
                "cert_expired": port == 443 and rng.random() < 0.2,
                "cert_expiring": port == 443 and rng.random() < 0.2,
                "eol": port == 22 and rng.random() < 0.4,
                "new_port": False,
            }
            if policy["forbidden"]:
                policy["forbidden_service"] = {23: "telnet", 3389: "rdp"}[port]
                found["exposed"].add((address, port))
            if policy["eol"]:
                policy["eol_product"] = "OpenSSH"
                found["end_of_life"].add((address, port))
            if policy["tls_legacy"] or policy["weak_cipher"]:
                found["weak_tls"].add((address, port))
            if policy["cert_expired"] or policy["cert_expiring"]:
                found["certificate"].add((address, port))
            fields = {
                "organization": {"id": inst},
                "destination": {"ip": address, "port": port},
                "service": {"name": service},
                "sentinel": {"policy": policy, "scan": {"id": f"{inst}-{month}"}},
                "message": f"open tcp/{port} on {address}: {service}",
            }
            events.append(
                new_event(
                    event_id=make_event_id(f"scan:{inst}:{month}", f"{address}:{port}"),
                    timestamp=at,
                    dataset="nmap.port",
                    fields=fields,
                )
            )
        return events, found

    # alerts and incidents ---------------------------------------------------------------------
    def _alerts(
        self,
        inst: str,
        month: Month,
        tz: ZoneInfo,
        rng: random.Random,
        found: dict[str, set[tuple[str, int]]],
        silent_days: list[date],
    ) -> list[AlertCandidate]:
        start = month.start(tz)
        out = []
        for k in range(rng.randint(1, 4)):
            ip = f"203.0.113.{rng.randint(1, 254)}"
            at = start + timedelta(days=rng.randint(0, month.days() - 2), seconds=rng.randint(0, 80_000))
            accounts = [*rng.sample(GUESSED, 2), rng.choice(("admin", "backup"))]
            out.append(
                _candidate(
                    self.rules[BRUTE_FORCE],
                    inst,
                    {"source.ip": ip},
                    at,
                    rng.randint(20, 400),
                    {"user.name": accounts, "host.hostname": f"web01.{inst}.go.tz", "n": k},
                )
            )
        for address, port in sorted(found.get("exposed", ())):
            at = start + timedelta(days=9, hours=3)
            out.append(
                _candidate(self.rules[EXPOSED], inst, {"destination.ip": address, "destination.port": port}, at, 1, {})
            )
        for day in silent_days[:2]:
            at = datetime(day.year, day.month, day.day, 8, tzinfo=tz).astimezone(UTC)
            key = {"source": "web01 auth log", "dataset": "system.auth", "host": f"web01.{inst}.go.tz"}
            out.append(_candidate(self.rules[SILENT], inst, key, at, 1, {}))
        if rng.random() < 0.5:
            at = start + timedelta(days=rng.randint(0, month.days() - 2), hours=10)
            out.append(
                _candidate(
                    self.rules[SQLI],
                    inst,
                    {"source.ip": f"198.51.100.{rng.randint(1, 254)}"},
                    at,
                    rng.randint(1, 30),
                    {"host.hostname": f"portal.{inst}.go.tz"},
                )
            )
        return out

    def _incidents(
        self, inst: str, alerts: list[AlertCandidate], rng: random.Random, now: datetime
    ) -> list[IncidentRecord]:
        """An incident for every high alert, then acknowledged and resolved at chosen times
        (some on time, some late, some never) through the real service."""
        out = []
        sla = self.settings.incidents.sla
        for candidate in alerts:
            if candidate.severity not in ("high", "critical"):
                continue
            opened = datetime.fromtimestamp(candidate.first_seen_ms / 1000, tz=UTC) + timedelta(minutes=5)
            clock = _Clock(opened)
            service = IncidentService(self.store, self.settings, clock=clock)
            alert = service.load_alert(candidate.id, Scope.everything())
            key = f"{inst}|{candidate.rule_id}|{sorted(candidate.group_key.items())}"
            incident, _ = service.open_or_attach(alert, key=key, actor="playbook:test")
            ack_target = getattr(sla.acknowledge, incident.severity.value)
            resolve_target = getattr(sla.resolve, incident.severity.value)
            acked = resolved = None
            plan = rng.random()
            if plan < 0.85:
                acked = opened + (ack_target * 0.5 if rng.random() < 0.7 else ack_target * 2)
                if acked < now:
                    clock.now = acked
                    service.acknowledge(incident.id, actor="analyst:ana", scope=Scope.everything())
                else:
                    acked = None
            if acked is not None and plan < 0.6:
                resolved = acked + (resolve_target * 0.3 if rng.random() < 0.7 else resolve_target * 1.5)
                if resolved < now:
                    clock.now = resolved
                    service.transition(
                        incident.id, IncidentState.RESOLVED, actor="analyst:ana", scope=Scope.everything()
                    )
                else:
                    resolved = None
            stored: Incident = service.get(incident.id, Scope.everything())
            out.append(
                IncidentRecord(
                    id=stored.id,
                    rule_id=candidate.rule_id,
                    severity=stored.severity.value,
                    opened=opened,
                    acknowledged=acked,
                    resolved=resolved,
                    address=str(candidate.group_key.get("source.ip") or candidate.group_key.get("destination.ip")),
                    accounts=tuple(candidate.details.get("user.name", ())),
                    hosts=tuple([candidate.details["host.hostname"]] if "host.hostname" in candidate.details else [])
                    + (
                        (str(candidate.group_key["destination.ip"]),) if "destination.ip" in candidate.group_key else ()
                    ),
                    tags=tuple(candidate.tags),
                )
            )
        return out

    # the whole month --------------------------------------------------------------------------
    def write(
        self,
        institutions: list[tuple[str, str]],  # (id, time zone)
        month: Month,
        *,
        events_per_institution: int,
        now: datetime,
        scanned: Callable[[int], bool] = lambda n: n % 5 != 4,
    ) -> dict[str, Ledger]:
        ledgers: dict[str, Ledger] = {}
        batch: list[Event] = []
        sink = StoreAlertSink(self.store, clock=lambda: now)
        for n, (inst, timezone) in enumerate(institutions):
            tz = ZoneInfo(timezone)
            rng = random.Random(f"{self.seed}:{inst}:{month}")
            ledger = Ledger(inst)
            for event in self._events(inst, events_per_institution, month, tz, rng, ledger):
                batch.append(event)
                if len(batch) >= BATCH:
                    self.store.write_events(batch)
                    batch = []
            previous_events, ledger.previous_findings = self._scan_events(inst, n, month.previous(), tz, rng)
            batch.extend(previous_events)
            ledger.scanned = scanned(n)
            if ledger.scanned:
                events, ledger.findings = self._scan_events(inst, n, month, tz, rng)
                batch.extend(events)
                ledger.events_by_dataset["nmap.port"] += len(events)
            else:
                ledger.findings = {k: set() for k in ledger.previous_findings}
            silent_days = sorted(
                d for d in month.local_days(tz) if d.date() not in ledger.source_days.get("web01 auth log", set())
            )
            ledger.alerts = self._alerts(inst, month, tz, rng, ledger.findings, [d.date() for d in silent_days])
            ledger.previous_alerts = self._alerts(inst, month.previous(), tz, rng, ledger.previous_findings, [])
            for candidate in ledger.previous_alerts + ledger.alerts:
                sink.upsert(candidate)
            ledger.incidents = self._incidents(inst, ledger.alerts, rng, now)
            ledgers[inst] = ledger
        if batch:
            self.store.write_events(batch)
        return ledgers


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
