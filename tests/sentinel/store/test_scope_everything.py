"""Who may read every institution's data: ``Scope.everything()`` outside the store, each use allowed by name.

A read made for a user or for an institution (an incident it reads, a lookup on its behalf) must run
with that user's or that incident's scope, so another institution's records never reach it. The
whole-store scope is for the SOC's own paths and the system's machinery. This test finds every use
of ``Scope.everything()`` (and of ``Scope(None)``, which means the same) in the packages, outside
``sentinel/store/``, and fails on any use not in ``ALLOWED``, and on any entry of ``ALLOWED`` that
no longer exists, so the list stays the true list. Each entry says why it is safe.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("sentinel", "collectors", "playbooks", "dashboards")

_SYSTEM = "system machinery: no user asked, nothing read here is shown to an institution"
_DETECT = "detection reads every institution's events and state to detect; alerts keep each event's institution"
_CLI = "the command line runs on the Sentinel host with the operator's rights over the whole store (SOC/admin)"
_OWN_INCIDENT = "a playbook step reads or changes the incident its run created (id from the run state, not a lookup)"

# (module path, enclosing function or class.method, or "<module>") -> why it is safe
ALLOWED: dict[tuple[str, str], str] = {
    ("sentinel/auth.py", "Principal.scope"): "the definition: SOC roles (admin, manager, analyst) see all",
    ("sentinel/auth.py", "authenticate"): "finds the presented token by its hash, before anyone is known",
    ("sentinel/auth.py", "revoke_tokens"): "admin operation (CLI) on tokens, which belong to no reader",
    (
        "sentinel/cli/report.py",
        "register.report",
    ): "operator's CLI (reads the whole store): finds a stored report by id",
    ("sentinel/notify/channels/email.py", "EmailChannel._attachment_bytes"): (
        "delivery worker: a notice owned by no institution (the national report to SOC managers)"
    ),
    ("sentinel/reports/national.py", "trend"): "the national summary is SOC-only (owned by no institution)",
    ("sentinel/reports/publish.py", "ReportPublisher._ensure"): "scheduled publisher: its own notices by id",
    ("sentinel/reports/publish.py", "ReportPublisher._publish"): "scheduled publisher: its own report file by id",
    ("sentinel/reports/publish.py", "ReportPublisher.institution_figures"): (
        "scheduled publisher: the stored report by its id; fresh figures are read in the institution's scope"
    ),
    ("sentinel/reports/publish.py", "ReportPublisher.institution_report"): "scheduled publisher: its report by id",
    ("sentinel/reports/publish.py", "ReportPublisher.national_report"): "the national summary is SOC-only",
    ("sentinel/sessions.py", "SessionStore.open"): "finds the presented token by its hash, before anyone is known",
    ("sentinel/sessions.py", "SessionStore.resolve"): "finds the session (and its token) by the cookie's hash",
    ("sentinel/sessions.py", "SessionStore.set_language"): "the caller's own session or token, found by its hash",
    ("sentinel/sessions.py", "end_sessions_for_token"): "revocation: every session of one token, owned by no reader",
    ("sentinel/cli/alerts.py", "<module>"): _CLI,
    ("sentinel/cli/incidents.py", "<module>"): _CLI,
    ("sentinel/cli/playbooks.py", "register.run"): _CLI,
    ("sentinel/cli/search.py", "register.search"): _CLI + "; --institution narrows it",
    ("sentinel/cli/status.py", "register.status"): _CLI,
    ("sentinel/detect/alerts.py", "StoreAlertSink.upsert"): _DETECT,
    ("sentinel/detect/alerts.py", "StoreAlertSink.prepare"): _DETECT,
    ("sentinel/detect/alerts.py", "StoreAlertSink.open_alerts"): _DETECT,
    ("sentinel/detect/engine/checkpoints.py", "Checkpoints.get"): _DETECT,
    ("sentinel/detect/detectors/base.py", "fetch"): _DETECT,
    (
        "sentinel/detect/engine/health.py",
        "HealthRecorder.record",
    ): "rule health belongs to no institution; SOC pages only",
    (
        "sentinel/detect/engine/health.py",
        "HealthRecorder.record_all",
    ): "rule health belongs to no institution; SOC pages only",
    (
        "sentinel/detect/engine/health.py",
        "HealthRecorder.record_load_errors",
    ): "rule health: no institution; SOC pages only",
    ("sentinel/detect/engine/health.py", "HealthRecorder.all"): "rule health: build_status shows it to SOC scopes only",
    ("sentinel/detect/engine/shared_pass.py", "_scan"): _DETECT,
    ("sentinel/detect/engine/live_feed.py", "LiveFeed._pages"): _DETECT,
    ("sentinel/detect/detectors/typed.py", "NewValueDetector.seen_before"): _DETECT + " (per institution if known)",
    ("sentinel/incidents/observables.py", "from_alert"): "an alert of no institution: SOC roles alone read it",
    ("sentinel/incidents/opening.py", "open_or_attach"): "opens incidents from alerts; keys keep institutions apart",
    ("sentinel/incidents/opening.py", "_follow"): "follows a merged incident for the opening machinery",
    ("sentinel/incidents/service.py", "IncidentService._moved_on"): "re-reads an incident the caller read in scope",
    ("sentinel/incidents/service.py", "IncidentService.record_playbook_step"): _OWN_INCIDENT,
    ("sentinel/incidents/service.py", "IncidentService.record_breach"): "the SLA job escalating a breached incident",
    ("sentinel/incidents/sla.py", "find_breaches"): "the SLA job: finds breaches of every institution",
    ("sentinel/notify/channels/slack.py", "SlackChannel._thread"): "Slack thread ids: delivery state, no institution",
    ("sentinel/notify/channels/slack.py", "SlackChannel._channel_id"): "Slack channel ids: delivery state",
    ("sentinel/notify/outbox.py", "Outbox.due"): "the delivery worker takes every institution's due notices",
    ("sentinel/notify/outbox.py", "Outbox._deliver"): "the delivery worker checks the notice's incident exists",
    ("sentinel/notify/outbox.py", "Outbox._finish"): "the delivery worker records the outcome of its attempt",
    ("sentinel/notify/outbox.py", "Outbox.status"): "default for the CLI (sentinel outbox status); callers may narrow",
    ("sentinel/notify/outbox.py", "Outbox.retry"): "sentinel outbox retry (CLI, operator)",
    ("sentinel/status.py", "build_status"): "collector counters, read only when the caller's scope is the SOC's",
    ("collectors/drain.py", "Drain._write_stats"): "collector counters of the service, no institution",
    ("collectors/scan/diff.py", "SnapshotKeeper.load"): "the scanner's last snapshot of a target, keyed by institution",
    ("collectors/scan/diff.py", "SnapshotKeeper.swap"): "the scanner's snapshot, compare-and-swap",
    ("playbooks/breaches.py", "escalate_breaches"): "the SLA job escalating breached incidents",
    ("playbooks/escalations.py", "Escalations.run_due"): "escalation timers of every institution (job)",
    ("playbooks/escalations.py", "Escalations._fire"): "a due timer reads and escalates its own incident",
    ("playbooks/runner.py", "PlaybookRunner.approve"): "SOC approval (API behind require_soc, CLI) of waiting runs",
    ("playbooks/runner.py", "PlaybookRunner._resume"): "resumes a run with its own alert",
    ("playbooks/runner.py", "PlaybookRunner.resume_pending"): "the resume job over every institution's runs",
    ("playbooks/runner.py", "PlaybookRunner.process_new_alerts"): "the runner's job over every institution's alerts",
    ("playbooks/runs.py", "RunBook.get"): "a run record by its (playbook, alert) id, for the runner",
    ("playbooks/steps/assign.py", "next_on_call"): "the SOC's on-call rotation state, no institution",
    ("playbooks/steps/assign.py", "run"): _OWN_INCIDENT,
    ("playbooks/steps/enrich.py", "soc_context"): "looks across institutions for a note written with no institution,"
    " which SOC roles alone can read; never on the incident's timeline",
    ("playbooks/steps/enrich.py", "run"): "an incident of no institution: SOC roles alone read its timeline",
    ("playbooks/steps/notify.py", "enqueue"): "whether a notice is already queued (outbox ids are per incident)",
    ("playbooks/steps/notify.py", "build_notices"): _OWN_INCIDENT,
    ("playbooks/steps/set_severity.py", "apply_severity"): _OWN_INCIDENT,
}


class _Finder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.names = {"Scope"}  # and whatever Scope is imported as
        self.where: list[str] = []
        self.found: set[str] = set()

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "Scope" and alias.asname:
                self.names.add(alias.asname)

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.where.append(node.name)
        self.generic_visit(node)
        self.where.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def _is_scope(self, node: ast.expr) -> bool:
        return (isinstance(node, ast.Name) and node.id in self.names) or (
            isinstance(node, ast.Attribute) and node.attr == "Scope"
        )

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "everything" and self._is_scope(node.value):
            self.found.add(".".join(self.where) or "<module>")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        # Scope(None) / Scope(institution_id=None): the same as everything().
        values = [*node.args, *(k.value for k in node.keywords)]
        if self._is_scope(node.func) and values and isinstance(values[0], ast.Constant) and values[0].value is None:
            self.found.add(".".join(self.where) or "<module>")
        self.generic_visit(node)


def whole_store_reads() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = path.relative_to(ROOT).as_posix()
            if module.startswith("sentinel/store/"):
                continue
            finder = _Finder()
            finder.visit(ast.parse(path.read_text(encoding="utf-8"), filename=module))
            found |= {(module, where) for where in finder.found}
    return found


def test_every_whole_store_read_outside_the_store_is_allowed_by_name() -> None:
    found = whole_store_reads()
    unexplained = sorted(found - ALLOWED.keys())
    assert not unexplained, (
        "Scope.everything() where a user's or an incident's scope belongs? Use that scope; if the read is"
        f" truly SOC-only or system machinery, add it to ALLOWED with the reason: {unexplained}"
    )
    gone = sorted(ALLOWED.keys() - found)
    assert not gone, f"ALLOWED names uses that no longer exist; remove them: {gone}"


def test_the_finder_sees_every_spelling(tmp_path: Path) -> None:
    source = """
from sentinel.store.base import Scope as S
import sentinel.store.base as base

ALL = S.everything()

def a(store):
    return store.get_document("x", "y", S(None))

class B:
    def c(self):
        return base.Scope(institution_id=None), base.Scope.everything

def fine(i):
    return S.institution(i), S("moh")
"""
    finder = _Finder()
    finder.visit(ast.parse(source))
    assert finder.found == {"<module>", "a", "B.c"}
