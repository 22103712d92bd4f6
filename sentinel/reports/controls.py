"""The control compliance score: which controls of the catalogue have evidence of being met or
breached this month, and which have none, per control area, with last month's score beside it.

For one institution and month a control is:

- ``breached`` when an alert of the month carries it (a rule tagged ``sentinel.control.<id>``
  fired), or its special check failed (IR-01: an SLA target was missed);
- ``met`` when it was not breached and something could have seen a breach: a rule evidencing it
  had this institution's data (events of one of its datasets this month; for silence rules, the
  institution has expected sources), or its special check passed;
- ``no_evidence`` otherwise, and ``not_checkable`` for controls Sentinel cannot check from logs or
  scans (catalogue ``checkable: false``). Neither counts for or against the score.

An area's score is 100 × met / (met + breached) over its controls; with no evidence at all it has
no score (shown as such, never as 0 or 100). The area is the control id's prefix (AUTH, LOG, ...).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sentinel.detect.rulebook.controls import Catalogue, Control
from sentinel.reports.figures import AreaScore, ControlFigures, ControlResult, ControlStatus, SlaFigures
from sentinel.reports.rules import ReportRules


@dataclass(frozen=True)
class Evidence:
    """What one month shows for one institution, as the control checks need it."""

    alerts_by_control: Counter[str]
    datasets: frozenset[str]  # datasets with events this month
    expected_sources: bool
    sla: SlaFigures


# Checks beyond rules, one line per control: (status, how many failures) or None for no evidence.
Special = Callable[[Evidence], tuple[ControlStatus, int] | None]


def _incident_process(evidence: Evidence) -> tuple[ControlStatus, int] | None:
    sla = evidence.sla
    missed = sla.acknowledge.missed + sla.resolve.missed
    measured = missed + sla.acknowledge.met + sla.resolve.met
    if not measured:
        return None
    return ("breached", missed) if missed else ("met", 0)


SPECIAL: dict[str, Special] = {"IR-01": _incident_process}


def area_of(control: Control) -> str:
    return control.id.split("-", 1)[0]


def judge(control: Control, rules: ReportRules, evidence: Evidence) -> ControlResult:
    watching = [
        r
        for r in rules.for_control(control.id)
        if (evidence.expected_sources if r.kind == "silence" else bool(evidence.datasets & set(r.datasets)))
    ]
    alerts = evidence.alerts_by_control.get(control.id, 0)
    special = SPECIAL[control.id](evidence) if control.id in SPECIAL else None
    status: ControlStatus
    if alerts:
        status = "breached"
    elif special is not None and special[0] == "breached":
        status, alerts = "breached", special[1]
    elif watching or special is not None:
        status = "met"
    elif not control.checkable:
        status = "not_checkable"
    else:
        status = "no_evidence"
    return ControlResult(
        control_id=control.id, area=area_of(control), status=status, alerts=alerts, rules_watching=len(watching)
    )


def _score(results: list[ControlResult]) -> float | None:
    met = sum(1 for r in results if r.status == "met")
    breached = sum(1 for r in results if r.status == "breached")
    return 100.0 * met / (met + breached) if met + breached else None


def control_figures(catalogue: Catalogue, rules: ReportRules, now: Evidence, before: Evidence) -> ControlFigures:
    results = [judge(c, rules, now) for c in catalogue.controls]
    previous = [judge(c, rules, before) for c in catalogue.controls]
    areas = []
    for area in dict.fromkeys(r.area for r in results):
        mine = [r for r in results if r.area == area]
        areas.append(
            AreaScore(
                area=area,
                met=sum(1 for r in mine if r.status == "met"),
                breached=sum(1 for r in mine if r.status == "breached"),
                no_evidence=sum(1 for r in mine if r.status in ("no_evidence", "not_checkable")),
                score=_score(mine),
                previous=_score([r for r in previous if r.area == area]),
            )
        )
    return ControlFigures(controls=results, areas=areas, score=_score(results), previous_score=_score(previous))
