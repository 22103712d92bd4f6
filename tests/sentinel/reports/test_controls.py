"""The control score: met, breached, no evidence (shown as such, never as 0 or 100), per area, by month."""

from __future__ import annotations

from collections import Counter

from sentinel.detect.rulebook.controls import load_controls
from sentinel.detect.rulebook.pack import builtin_rules_dir, load_rule_pack
from sentinel.reports.controls import Evidence, control_figures
from sentinel.reports.figures import SlaFigures, SlaTarget
from sentinel.reports.rules import ReportRules

CATALOGUE = load_controls()
RULES = ReportRules.from_rules(load_rule_pack([builtin_rules_dir()], builtin=True).rules)
NOTHING = Evidence(Counter(), frozenset(), False, SlaFigures())


def test_without_any_data_nothing_is_met_and_there_is_no_score() -> None:
    figures = control_figures(CATALOGUE, RULES, NOTHING, NOTHING)
    assert figures.score is None and figures.previous_score is None
    assert {c.status for c in figures.controls} == {"no_evidence", "not_checkable"}
    assert all(a.score is None for a in figures.areas)
    not_checkable = {c.id for c in CATALOGUE.controls if not c.checkable}
    assert {c.control_id for c in figures.controls if c.status == "not_checkable"} == not_checkable


def test_data_that_rules_watch_meets_controls_and_alerts_breach_them() -> None:
    now = Evidence(Counter({"AUTH-02": 3}), frozenset({"system.auth"}), True, SlaFigures())
    figures = control_figures(CATALOGUE, RULES, now, NOTHING)
    status = {c.control_id: c.status for c in figures.controls}
    assert status["AUTH-02"] == "breached"  # alerts of a rule tagged with it
    assert status["ADM-01"] == "met"  # ssh_root_login reads system.auth and did not fire
    assert status["LOG-01"] == "met"  # the silence rule watches the registered sources
    assert status["CRY-01"] == "no_evidence"  # no scan, no sensor data: nothing could see it
    auth = next(a for a in figures.areas if a.area == "AUTH")
    assert (auth.met, auth.breached) == (1, 1) and auth.score == 50.0 and auth.previous is None
    assert figures.previous_score is None  # last month had no evidence at all, not a 0 score


def test_incident_handling_is_judged_by_the_deadlines() -> None:
    late = SlaFigures(acknowledge=SlaTarget(met=3, missed=1))
    on_time = SlaFigures(acknowledge=SlaTarget(met=4), resolve=SlaTarget(met=2, pending=1))
    figures = control_figures(
        CATALOGUE,
        RULES,
        Evidence(Counter(), frozenset(), False, late),
        Evidence(Counter(), frozenset(), False, on_time),
    )
    ir = next(c for c in figures.controls if c.control_id == "IR-01")
    assert ir.status == "breached" and ir.alerts == 1
    area = next(a for a in figures.areas if a.area == "IR")
    assert area.score == 0.0 and area.previous == 100.0
