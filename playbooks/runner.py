"""The playbook runner: which playbooks match an alert, and running their steps once.

``run_for_alert`` runs every enabled playbook whose ``when`` matches (the default playbooks only
when no other one did). Each (playbook, alert) has a run record (``playbooks.runs``): a step done
is never done again, a run waiting for approval continues where it stopped, a failed run is
retried by the resume job a bounded number of times. Every step that acts is also written on the
incident's timeline (``record_playbook_step``, idempotent by step key).

``process_new_alerts`` is the scheduled entry point: it reads alerts created or updated since its
cursor (``updated_at``, plus the ids already seen at that instant, so equal timestamps are never
skipped or re-read forever) and runs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from playbooks.levels import level_rank
from playbooks.loader import resolve_rule_ids
from playbooks.model import Playbook
from playbooks.runs import Approval, RunBook, RunRecord, StepRecord
from playbooks.steps import ACTIONS
from playbooks.steps.base import RunState, Services, StepContext, StepOutcome
from sentinel.config import Settings
from sentinel.detect.alerts import COLLECTION as ALERTS
from sentinel.detect.alerts import Alert
from sentinel.errors import ConflictError, NotFoundError, SentinelError
from sentinel.events import format_timestamp
from sentinel.inventory import Inventory
from sentinel.store.base import FieldFilter, Scope, Store

if TYPE_CHECKING:
    from sentinel.incidents import IncidentService
    from sentinel.notify.factory import NoticeFactory

log = logging.getLogger(__name__)

CURSOR_ID = "playbooks-cursor"
DEFAULT_MIN_SEVERITY = "high"  # the default playbooks are for unmatched alerts at least this severe
_SKIP_ALERT_STATES = ("closed", "resolved")  # an analyst or the engine already settled it


@dataclass(frozen=True, slots=True)
class StepResult:
    key: str
    action: str
    status: str
    detail: str


@dataclass
class PlaybookRun:
    playbook: str
    status: str  # done | waiting | failed | unchanged (nothing left to do)
    incident_id: str | None
    steps: list[StepResult] = field(default_factory=list)


@dataclass
class RunResult:
    alert_id: str
    dry_run: bool
    runs: list[PlaybookRun] = field(default_factory=list)

    @property
    def matched(self) -> list[str]:
        return [r.playbook for r in self.runs]


@dataclass(frozen=True, slots=True)
class ProcessReport:
    alerts: int
    runs: int
    failed: int


class PlaybookRunner:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        inventory: Inventory,
        incidents: IncidentService,
        notices: NoticeFactory,
        *,
        playbooks: Iterable[Playbook] = (),
        rule_names: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.services = Services(store, settings, inventory, incidents, notices, self.clock)
        self.runs = RunBook(store)
        off = set(settings.playbooks.disabled)
        self.playbooks = [p for p in playbooks if p.enabled and p.id not in off]
        self._rule_ids = {p.id: resolve_rule_ids(p, rule_names or {})[0] for p in self.playbooks}

    # matching ----------------------------------------------------------------------------
    def matching(self, alert: Alert) -> list[Playbook]:
        doc = alert.model_dump(mode="json")
        specific = [p for p in self.playbooks if not p.default and p.matches(doc, self._rule_ids[p.id])]
        if specific:
            return specific
        if level_rank(alert.severity) < level_rank(DEFAULT_MIN_SEVERITY):
            return []
        return [p for p in self.playbooks if p.default and p.matches(doc, self._rule_ids[p.id])]

    # running -----------------------------------------------------------------------------
    def run_for_alert(self, alert: Alert, *, dry_run: bool = False) -> RunResult:
        result = RunResult(alert.id, dry_run)
        for playbook in self.matching(alert):
            result.runs.append(self.run_playbook(playbook, alert, dry_run=dry_run))
        return result

    def run_playbook(self, playbook: Playbook, alert: Alert, *, dry_run: bool = False) -> PlaybookRun:
        """Run the steps not done yet; on a concurrent save, re-read and try once more."""
        for attempt in range(2):
            record = self.runs.get(playbook.id, alert.id)
            try:
                return self._run_steps(playbook, alert, record, dry_run)
            except ConflictError as exc:
                if attempt:
                    raise
                log.info("run of %s for alert %s changed meanwhile; re-reading: %s", playbook.id, alert.id, exc)
        raise AssertionError("unreachable")

    def _run_steps(self, playbook: Playbook, alert: Alert, record: RunRecord | None, dry_run: bool) -> PlaybookRun:
        now = self.clock()
        if record is None:
            record = RunRecord.new(playbook.id, alert.id, alert.rule_id, alert.institution_id, now)
        elif record.status == "done" and record.alert_updated_at == alert.updated_at:
            return PlaybookRun(playbook.id, "unchanged", record.incident_id)
        state = RunState(
            incident_id=record.incident_id,
            data={**record.data, "approvals": {k: a.model_dump() for k, a in record.approvals.items()}},
        )
        run = PlaybookRun(playbook.id, "done", record.incident_id)
        acted = False
        for step in playbook.steps:
            previous = record.steps.get(step.key)
            if previous is not None and previous.status in ("done", "skipped"):
                if dry_run:
                    run.steps.append(StepResult(step.key, step.action, "already " + previous.status, previous.detail))
                continue
            outcome = self._run_step(playbook, step.key, step.action, step.params, alert, state, dry_run)
            run.steps.append(StepResult(step.key, step.action, outcome.status, outcome.detail))
            acted = True
            if dry_run:  # show the whole playbook: the steps after an approval gate too
                if outcome.status in ("waiting", "failed"):
                    run.status = outcome.status
                if outcome.status == "failed":
                    break
                continue
            record.steps[step.key] = StepRecord(status=outcome.status, detail=outcome.detail, at=_stamp(self.clock()))
            record.incident_id = state.incident_id
            self._on_timeline(playbook, step.key, outcome, state.incident_id, alert)
            if outcome.status in ("waiting", "failed"):
                run.status = outcome.status
                break
        run.incident_id = state.incident_id
        if dry_run:
            return run
        if not acted and record.version is not None:
            if record.alert_updated_at != alert.updated_at:  # remember this version was seen
                record.alert_updated_at = alert.updated_at
                self.runs.save(record)
            return PlaybookRun(playbook.id, "unchanged", record.incident_id)
        record.status = "done" if run.status == "done" else run.status  # type: ignore[assignment]
        record.waiting_step = run.steps[-1].key if run.status == "waiting" and run.steps else None
        record.failures = record.failures + 1 if run.status == "failed" else record.failures
        record.alert_updated_at = alert.updated_at
        record.data = {k: v for k, v in state.data.items() if k != "approvals"}
        record.updated_at = _stamp(self.clock())
        self.runs.save(record)
        if run.status == "failed":
            log.warning("playbook %s failed for alert %s: %s", playbook.id, alert.id, run.steps[-1].detail)
        return run

    def _run_step(
        self,
        playbook: Playbook,
        key: str,
        action: str,
        params: Any,
        alert: Alert,
        state: RunState,
        dry_run: bool,
    ) -> StepOutcome:
        spec = ACTIONS[action]
        if spec.needs_incident and state.incident_id is None and not dry_run:
            return StepOutcome("failed", "no incident: an open_incident step must come first")
        ctx = StepContext(self.services, playbook.id, alert, state, key, dry_run)
        try:
            return spec.run(ctx, params)
        except SentinelError as exc:
            return StepOutcome("failed", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # one broken step must not stop the runner; it is retried later
            log.exception("step %s (%s) of playbook %s failed for alert %s", key, action, playbook.id, alert.id)
            return StepOutcome("failed", f"{type(exc).__name__}: {exc}")

    def _on_timeline(
        self, playbook: Playbook, key: str, outcome: StepOutcome, incident_id: str | None, alert: Alert
    ) -> None:
        if incident_id is None:
            return
        try:
            self.services.incidents.record_playbook_step(
                incident_id,
                playbook.id,
                f"{key}@{alert.id[:12]}",  # one entry per step and alert; waiting -> approved updates it
                f"{outcome.status}: {outcome.detail}",
                actor=playbook.actor,
            )
        except SentinelError as exc:  # the step itself is done; a missing timeline line is not a reason to redo it
            log.warning("could not record step %s of %s on incident %s: %s", key, playbook.id, incident_id, exc)

    # approvals ---------------------------------------------------------------------------
    def approve(self, incident_id: str, step_key: str, *, actor: str) -> list[PlaybookRun]:
        """Approve a waiting ``require_approval`` step of every run of this incident, and continue them."""
        waiting = [
            r
            for r in self.runs.find(Scope.everything(), incident_id=incident_id, status="waiting", limit=1000)
            if r.waiting_step == step_key
        ]
        if not waiting:
            raise NotFoundError(
                f"no playbook run of incident {incident_id} is waiting for approval of step {step_key!r}"
            )
        results: list[PlaybookRun] = []
        for record in waiting:
            record.approvals[step_key] = Approval(by=actor, at=_stamp(self.clock()))
            record.steps.pop(step_key, None)
            record.updated_at = _stamp(self.clock())
            self.runs.save(record)  # ConflictError: approved or continued concurrently; the caller may retry
            results.extend(self._resume(record))
        return results

    def _resume(self, record: RunRecord) -> list[PlaybookRun]:
        playbook = next((p for p in self.playbooks if p.id == record.playbook), None)
        if playbook is None:
            log.warning("run %s: playbook %s is no longer loaded", record.id, record.playbook)
            return []
        doc = self.store.get_document(ALERTS, record.alert_id, Scope.everything())
        if doc is None:
            log.warning("run %s: alert %s no longer exists", record.id, record.alert_id)
            return []
        alert = Alert.model_validate(doc.body)
        # Force a pass even though the alert did not change: the approval (or a retry) is the change.
        current = self.runs.get(playbook.id, alert.id)
        if current is not None and current.status == "done":
            return []
        return [self._run_steps(playbook, alert, current, dry_run=False)]

    def resume_pending(self, limit: int = 100) -> int:
        """Continue approved runs and retry failed ones (at most ``max_failures`` times)."""
        resumed = 0
        for record in self.runs.find(Scope.everything(), status="failed", limit=limit):
            if record.failures >= self.settings.playbooks.max_failures:
                continue
            try:
                resumed += len(self._resume(record))
            except SentinelError as exc:
                log.warning("retry of run %s failed: %s", record.id, exc)
        for record in self.runs.find(Scope.everything(), status="waiting", limit=limit):
            if record.waiting_step and record.waiting_step in record.approvals:
                resumed += len(self._resume(record))
        return resumed

    # the scheduled job -------------------------------------------------------------------
    def process_new_alerts(self, limit: int | None = None) -> ProcessReport:
        limit = limit or self.settings.playbooks.batch_size
        cursor = self.store.get_document("state", CURSOR_ID, Scope.everything())
        since = str(cursor.body.get("updated_at", "")) if cursor else ""
        seen = set(cursor.body.get("ids", [])) if cursor else set()
        filters = [FieldFilter("updated_at", "gte", since)] if since else []
        docs = self.store.find_documents(
            ALERTS, Scope.everything(), filters, sort="updated_at", limit=limit + len(seen)
        )
        docs = [d for d in docs if not (d.body.get("updated_at") == since and d.id in seen)][:limit]
        alerts = runs = failed = 0
        for doc in docs:
            alert = Alert.model_validate(doc.body)
            alerts += 1
            if alert.state not in _SKIP_ALERT_STATES:
                try:
                    result = self.run_for_alert(alert)
                except SentinelError as exc:
                    log.warning("alert %s: playbooks not run: %s", alert.id, exc)
                    failed += 1
                    continue
                runs += len(result.runs)
                failed += sum(1 for r in result.runs if r.status == "failed")
            if alert.updated_at != since:
                since, seen = alert.updated_at, set()
            seen.add(alert.id)
        if docs:
            self._save_cursor(cursor, since, seen)
        return ProcessReport(alerts, runs, failed)

    def _save_cursor(self, cursor: Any, since: str, seen: set[str]) -> None:
        body = {"kind": "playbooks_cursor", "updated_at": since, "ids": sorted(seen)}
        try:
            if cursor is None:
                self.store.create_document("state", CURSOR_ID, body)
            else:
                self.store.replace_document("state", CURSOR_ID, body, expected_version=cursor.version)
        except ConflictError:
            # Another worker moved it; the alerts we ran are idempotent, so re-reading them is harmless.
            log.info("playbook cursor moved by another worker")


def _stamp(now: datetime) -> str:
    return format_timestamp(now)
