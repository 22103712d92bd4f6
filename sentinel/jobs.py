"""The scheduler wiring: which periodic jobs ``sentinel serve`` runs (composition root)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from collectors.scan.schedule import add_scan_jobs
from dashboards.reports import ReportLayout
from playbooks.wiring import Response, add_response_jobs
from sentinel.config import Settings
from sentinel.detect.engine.health import HealthRecorder
from sentinel.detect.engine.rule_loading import load_rules
from sentinel.detect.engine.runner import DetectionEngine
from sentinel.detect.engine.scheduler import add_detection_jobs
from sentinel.detect.rulebook.pack import RulePack
from sentinel.inventory import Inventory
from sentinel.reports import build_publisher
from sentinel.reports.schedule import add_report_jobs
from sentinel.store.base import Store

log = logging.getLogger(__name__)


def apply_retention(store: Store, retention_days: int, now: datetime | None = None) -> int:
    """LOG-02: drop events older than the configured retention."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    removed = store.delete_events_before(cutoff)
    if removed:
        log.info("retention removed %s event(s) older than %s", removed, cutoff.isoformat())
    return removed


def build_scheduler(
    settings: Settings,
    store: Store,
    inventory: Inventory,
    *,
    pack: RulePack | None = None,
    response: Response | None = None,
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.add_job(
        apply_retention,
        "interval",
        hours=1,
        args=[store, settings.store.retention_days],
        id="retention",
        next_run_time=datetime.now(UTC) + timedelta(minutes=1),
    )
    pack = pack or load_rules(settings)
    for error in pack.errors:
        log.error("rule not loaded: %s", error)
    engine = DetectionEngine(store, pack, settings.detect, inventory, health=HealthRecorder(store))
    jobs = add_detection_jobs(scheduler, engine)
    log.info(
        "detection: %d rule(s) in %d job(s), %d rule file error(s)", len(engine.rules), len(jobs), len(pack.errors)
    )
    scans = add_scan_jobs(scheduler, settings, inventory, store)
    log.info("scanning: %d scheduled scan job(s)", len(scans))
    # The response: playbooks, escalations, SLA breaches, outbox delivery.
    add_response_jobs(scheduler, settings, store, inventory, pack=pack, response=response)
    if settings.reports.enabled:  # monthly posture reports, made and emailed once each
        publisher = build_publisher(settings, store, inventory, pack.rules, ReportLayout())
        reports = add_report_jobs(scheduler, publisher, settings, inventory)
        log.info("reports: %d scheduled report job(s)", len(reports))
    return scheduler
