"""The figures of a monthly posture report: what the store says, without a word of any language.

A report document keeps these figures, so a report can be rendered again (another format, a fixed
layout) and compared month to month without recomputing. Lists of pairs are used instead of maps
keyed by data (rule ids, addresses), so a document store never grows one field per value.
Times are ISO UTC strings; the layout shows them in the institution's zone.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

SEVERITIES = ("critical", "high", "medium", "low")
FINDING_KINDS = ("exposed", "end_of_life", "weak_tls", "certificate")
ControlStatus = Literal["met", "breached", "no_evidence", "not_checkable"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Count(_Model):
    key: str
    count: int


class RuleName(_Model):
    """A rule named in the report, with its names in both languages (kept with the figures)."""

    rule_id: str
    en: str
    sw: str
    category: str


class IncidentFigures(_Model):
    total: int = 0
    by_severity: list[Count] = []  # every severity, in SEVERITIES order
    by_category: list[Count] = []  # most first
    by_tactic: list[Count] = []  # an incident counts once under each of its tactics
    open_at_end: int = 0  # still open when the report was made
    open_serious: int = 0  # of those, critical or high


class Breach(_Model):
    incident_id: str
    rule_id: str | None
    about: str  # the address or host the incident is about
    severity: str
    kind: Literal["acknowledge", "resolve"]
    due_at: str
    done_at: str | None  # None: still not done when the report was made
    late_seconds: float


class SlaTarget(_Model):
    met: int = 0
    missed: int = 0
    pending: int = 0  # not done yet, not yet due

    @property
    def compliance(self) -> float | None:
        measured = self.met + self.missed
        return self.met / measured if measured else None


class SlaFigures(_Model):
    ack_targets: list[Count] = []  # seconds per severity, as set when the report was made
    resolve_targets: list[Count] = []
    acknowledge: SlaTarget = SlaTarget()
    resolve: SlaTarget = SlaTarget()
    median_ack_seconds: float | None = None
    median_resolve_seconds: float | None = None
    breaches: list[Breach] = []  # most late first

    @property
    def compliance(self) -> float | None:
        met = self.acknowledge.met + self.resolve.met
        measured = met + self.acknowledge.missed + self.resolve.missed
        return met / measured if measured else None


class Source(_Model):
    address: str
    alerts: int
    events: int


class AttackFigures(_Model):
    alerts: int = 0
    events: int = 0  # matched by those alerts
    top_sources: list[Source] = []
    top_accounts: list[Count] = []  # incidents naming each account
    top_hosts: list[Count] = []  # incidents naming each of the institution's systems
    rules: list[Count] = []  # alerts per rule id, most first
    techniques: list[Count] = []  # alerts per ATT&CK technique


class Finding(_Model):
    kind: str  # one of FINDING_KINDS
    address: str
    port: int
    detail: str  # service, product or forbidden-service label as the scan named it


class ScanFigures(_Model):
    scanned: bool = False  # any scan result this month
    current: list[Count] = []  # findings per kind this month (FINDING_KINDS order)
    previous: list[Count] = []  # the same last month
    new: list[Count] = []  # per kind: found this month, not last month
    fixed: list[Count] = []  # per kind: found last month, not this month
    findings: list[Finding] = []  # this month's, bounded


class SourceCoverage(_Model):
    name: str
    dataset: str | None
    host: str | None
    events: int
    days_reporting: int
    silent_days: int


class CoverageFigures(_Model):
    events: int = 0  # every event of the institution this month
    by_dataset: list[Count] = []
    expected: list[SourceCoverage] = []
    silence_alerts: int = 0

    @property
    def reporting(self) -> int:
        return sum(1 for s in self.expected if s.events)

    @property
    def ratio(self) -> float | None:
        return self.reporting / len(self.expected) if self.expected else None


class ControlResult(_Model):
    control_id: str
    area: str  # the family: AUTH, LOG, NET...
    status: ControlStatus
    alerts: int = 0  # alerts this month that show it breached
    rules_watching: int = 0  # rules that could see it with this institution's data


class AreaScore(_Model):
    area: str
    met: int
    breached: int
    no_evidence: int
    score: float | None  # 0-100; None: no control of the area has evidence
    previous: float | None


class ControlFigures(_Model):
    controls: list[ControlResult] = []
    areas: list[AreaScore] = []
    score: float | None = None
    previous_score: float | None = None


class Action(_Model):
    """One of the three most useful actions: a key the layout words, and its values."""

    key: str
    count: int = 0
    values: list[str] = []


class InstitutionFigures(_Model):
    kind: Literal["institution"] = "institution"
    institution_id: str
    institution_name: str
    language: Literal["en", "sw"]
    timezone: str
    month: str
    period_start: str
    period_end: str
    as_of: str  # when the figures were read
    incidents: IncidentFigures
    sla: SlaFigures
    attacks: AttackFigures
    scans: ScanFigures
    coverage: CoverageFigures
    controls: ControlFigures
    actions: list[Action]
    rules: list[RuleName]  # every rule named anywhere in the report


class InstitutionRow(_Model):
    institution_id: str
    name: str
    score: float | None
    previous_score: float | None
    incidents: int
    serious: int  # critical + high
    sla: float | None
    coverage: float | None
    rank: int


class TrendPoint(_Model):
    month: str
    incidents: int
    score: float | None  # mean of the institutions' scores that month (stored reports)
    sla: float | None
    reports: int  # institution reports stored for that month


class Spread(_Model):
    key: str  # rule id or technique
    institutions: int
    alerts: int


class NationalFigures(_Model):
    kind: Literal["national"] = "national"
    month: str
    language: Literal["en", "sw"]
    timezone: str
    as_of: str
    institutions: list[InstitutionRow]  # ranked
    trend: list[TrendPoint]  # 12 months, oldest first
    rules: list[Spread]
    techniques: list[Spread]
    rule_names: list[RuleName]
    incidents: int
    by_severity: list[Count]
    sla: float | None
    score: float | None
