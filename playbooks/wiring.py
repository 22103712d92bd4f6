"""The response as ``sentinel serve`` runs it: the services built once, and the scheduled jobs.

``build_response`` constructs the incident service, the notice factory, the playbook runner and
the escalation timers from settings (the CLI uses it too); ``add_response_jobs`` adds the four
periodic jobs: new alerts through playbooks, due escalations (and approved or failed runs),
SLA breaches, and outbox delivery. Each job is one APScheduler job with ``max_instances=1``, so
a slow run delays only itself, and every job is idempotent, so a missed or repeated run is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playbooks.breaches import escalate_breaches
from playbooks.escalations import Escalations
from playbooks.loader import LIBRARY_DIR, PlaybookSet, load_playbooks
from playbooks.runner import PlaybookRunner
from sentinel.config import Settings
from sentinel.detect.rulebook.pack import RulePack, pack_from_settings
from sentinel.errors import StoreClosed
from sentinel.incidents import IncidentService
from sentinel.inventory import Inventory
from sentinel.notify.ack import AckSigner
from sentinel.notify.channels import build_channels
from sentinel.notify.factory import NoticeFactory
from sentinel.notify.outbox import Outbox
from sentinel.notify.responses import RuleTexts
from sentinel.store.base import Store

log = logging.getLogger(__name__)

JOB_PREFIX = "response:"


def playbook_dirs(settings: Settings) -> list[Path]:
    """The shipped library (unless turned off), then the configured folders (relative to the config file)."""
    dirs = [LIBRARY_DIR] if settings.playbooks.builtin else []
    base = settings.source_path.parent if settings.source_path is not None else Path.cwd()
    dirs.extend(d if d.is_absolute() else base / d for d in settings.playbooks.dirs)
    return dirs


def load_configured_playbooks(settings: Settings) -> PlaybookSet:
    return load_playbooks(playbook_dirs(settings))


def rule_names(pack: RulePack) -> dict[str, str]:
    """Rule name (and unambiguous file stem) → rule id, to resolve ``when.rules`` entries."""
    names: dict[str, str] = {}
    stems: dict[str, set[str]] = {}
    for rule in pack.rules:
        names[rule.id] = rule.id
        if rule.name:
            names[rule.name] = rule.id
        if rule.path is not None:
            stems.setdefault(rule.path.stem, set()).add(rule.id)
    for stem, ids in stems.items():
        if len(ids) == 1:
            names.setdefault(stem, next(iter(ids)))
    return names


@dataclass
class Response:
    incidents: IncidentService
    notices: NoticeFactory
    runner: PlaybookRunner
    escalations: Escalations
    playbooks: PlaybookSet


def build_response(
    settings: Settings,
    store: Store,
    inventory: Inventory,
    *,
    pack: RulePack | None = None,
    playbooks: PlaybookSet | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Response:
    playbooks = playbooks if playbooks is not None else load_configured_playbooks(settings)
    for error in playbooks.errors:
        log.error("playbook not loaded: %s", error)
    pack = pack if pack is not None else pack_from_settings(settings)
    incidents = IncidentService(store, settings, clock=clock)
    signer = AckSigner.from_data_dir(settings.resolved_data_dir(), clock=clock)
    notices = NoticeFactory(
        settings, inventory, signer, clock=clock, store=store, rule_texts=RuleTexts.from_rules(pack.rules)
    )
    runner = PlaybookRunner(
        store,
        settings,
        inventory,
        incidents,
        notices,
        playbooks=playbooks.playbooks,
        rule_names=rule_names(pack),
        clock=clock,
    )
    escalations = Escalations(store, incidents, notices, clock=clock)
    return Response(incidents, notices, runner, escalations, playbooks)


def _guarded(name: str, job: Callable[[], Any]) -> Callable[[], None]:
    """A job that logs its own failure: the next run tries again (every job is idempotent)."""

    def run() -> None:
        try:
            job()
        except StoreClosed:  # the service is stopping: the next start runs the job again
            log.info("response job %s stopped: the store is closed", name)
        except Exception:
            log.exception("response job %s failed; it runs again at its next interval", name)

    return run


def add_response_jobs(
    scheduler: Any,
    settings: Settings,
    store: Store,
    inventory: Inventory,
    *,
    pack: RulePack | None = None,
    response: Response | None = None,
) -> list[str]:
    """Add the response jobs to an APScheduler scheduler; returns their ids."""
    response = response or build_response(settings, store, inventory, pack=pack)
    outbox = Outbox(store, build_channels(settings, store), retry=settings.notify.retry)
    pb = settings.playbooks

    def playbook_step() -> None:
        report = response.runner.process_new_alerts(pb.batch_size)
        if report.alerts:
            log.info("playbooks: %d alert(s), %d run(s), %d failed", report.alerts, report.runs, report.failed)

    def escalation_step() -> None:
        response.escalations.run_due(pb.batch_size)
        response.runner.resume_pending(pb.batch_size)

    jobs: list[tuple[str, Callable[[], Any], float]] = [
        ("playbooks", playbook_step, pb.interval_seconds),
        ("escalations", escalation_step, pb.escalation_interval_seconds),
        ("sla", lambda: escalate_breaches(response.incidents, response.notices), pb.sla_interval_seconds),
        ("outbox", lambda: outbox.deliver_due(settings.notify.batch_size), settings.notify.poll_seconds),
    ]
    ids: list[str] = []
    start = datetime.now(UTC)
    for offset, (name, job, seconds) in enumerate(jobs):
        job_id = JOB_PREFIX + name
        scheduler.add_job(
            _guarded(name, job),
            trigger="interval",
            seconds=seconds,
            id=job_id,
            name=f"response {name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(seconds)),
            replace_existing=True,
            next_run_time=start + timedelta(milliseconds=100 * offset),
        )
        ids.append(job_id)
    log.info(
        "response: %d playbook(s) loaded, %d error(s); jobs %s",
        len(response.playbooks.playbooks),
        len(response.playbooks.errors),
        ", ".join(ids),
    )
    return ids
