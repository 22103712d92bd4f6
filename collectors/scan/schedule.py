"""Scheduled scans: one APScheduler cron job per (institution, profile) from ``scan.schedules``.

``nightly`` and ``weekly`` are spread over 01:00-04:59 (Sunday for weekly) in the
institution's own time zone, at a minute derived from the institution id, so 200
institutions do not all start at once; a 5-field crontab line is taken as written. Every
job shares one ``ScanService`` (so one ``ScanRunner``): ``scan.max_parallel`` bounds the
nmap processes of all jobs together. A job that is still running is not started again
(``max_instances=1``), and missed runs coalesce into one.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from apscheduler.job import Job
from apscheduler.triggers.cron import CronTrigger

from collectors.scan.profiles import get_profile
from collectors.scan.service import ScanService
from sentinel.config import Settings
from sentinel.errors import ConfigError, SentinelError
from sentinel.inventory import Inventory
from sentinel.store.base import Store

log = logging.getLogger(__name__)
JOB_PREFIX = "scan:"


def cron_trigger(spec: str, institution_id: str, timezone: str) -> CronTrigger:
    seed = int.from_bytes(hashlib.blake2b(institution_id.encode(), digest_size=2).digest(), "big")
    hour, minute = 1 + seed % 4, (seed // 4) % 60
    if spec == "nightly":
        return CronTrigger(hour=hour, minute=minute, timezone=timezone)
    if spec == "weekly":
        return CronTrigger(day_of_week="sun", hour=hour, minute=minute, timezone=timezone)
    try:
        return CronTrigger.from_crontab(spec, timezone=timezone)
    except ValueError as exc:
        raise ConfigError(f"invalid scan schedule {spec!r}: {exc} (use nightly, weekly or a crontab line)") from exc


def run_scheduled_scan(service: ScanService, institution_id: str, profile: str) -> None:
    """The job body: one institution, one profile; errors are logged, never raised into the scheduler."""
    try:
        outcome = service.scan_institution(institution_id, profile)
    except SentinelError as exc:
        log.error("scheduled %s scan of %s failed: %s", profile, institution_id, exc)
        return
    log.info(
        "scheduled %s scan of %s: %d hosts up, %d open ports, %d changes, %d events stored",
        profile,
        institution_id,
        outcome.hosts_up,
        outcome.open_ports,
        len(outcome.changes),
        outcome.stored,
    )


def add_scan_jobs(
    scheduler: Any, settings: Settings, inventory: Inventory, store: Store, *, service: ScanService | None = None
) -> list[Job]:
    """Add the configured scan jobs to an APScheduler (3.x) scheduler; returns the jobs added."""
    service = service or ScanService(settings, inventory, store)
    # (institution, profile) -> cron; an entry naming the institution overrides a "*" entry.
    plan: dict[tuple[str, str], str] = {}
    for entry in sorted(settings.scan.schedules, key=lambda e: e.institution != "*"):
        get_profile(settings.scan, entry.profile)  # unknown profile: refuse at start, not at 02:00
        if entry.institution == "*":
            institutions = [i for i in inventory if i.networks]
        else:
            inst = inventory.get(entry.institution)
            if inst is None:
                raise ConfigError(f"scan schedule names unknown institution {entry.institution!r}")
            institutions = [inst]
        for inst in institutions:
            plan[(inst.id, entry.profile)] = entry.cron
    jobs: list[Job] = []
    for (institution_id, profile), cron in plan.items():
        inst = inventory.get(institution_id)
        assert inst is not None
        jobs.append(
            scheduler.add_job(
                run_scheduled_scan,
                trigger=cron_trigger(cron, inst.id, inst.timezone),
                args=(service, inst.id, profile),
                id=f"{JOB_PREFIX}{inst.id}:{profile}",
                name=f"{profile} scan of {inst.id}",
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,
            )
        )
    log.info("scheduled %d scan job(s)", len(jobs))
    return jobs
