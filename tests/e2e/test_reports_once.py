"""Exactly once across a crash: a real ``sentinel report --send`` is SIGKILLed in the middle of making
the month's reports; a real ``sentinel serve`` then catches up (its scheduled report job) and its
outbox worker mails everything to a real SMTP server. Every recipient gets each report once, and
running the command again afterwards makes and sends nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sentinel.config import Settings
from sentinel.detect.rulebook.pack import builtin_rules_dir, load_rule_pack
from sentinel.reports.period import due_month
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.notify.conftest import SmtpServer
from tests.support.report_month import MonthWriter, inventory_yaml

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
INSTITUTIONS = [(f"inst{i}", f"Institution {i}", "sw" if i % 2 else "en") for i in range(4)]
REPORTS = len(INSTITUTIONS) + 1  # and the national summary
MAILS = 2 * len(INSTITUTIONS) + 1  # director and ICT officer of each; the SOC managers


def _reports_made(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute(
                "SELECT count(*) FROM documents WHERE collection = 'reports' AND json_extract(body, '$.record') = 'report'"
            ).fetchone()
            return int(row[0])
    except sqlite3.OperationalError:
        return 0


def _outbox_states(db: Path, *, reports: bool) -> Counter[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(
            "SELECT json_extract(body, '$.state') FROM documents WHERE collection = 'outbox' "
            "AND (json_extract(body, '$.report_id') IS NOT NULL) = ?",
            (reports,),
        )
        return Counter(str(r[0]) for r in rows)


def _report_mails(smtp: SmtpServer) -> int:
    return sum(1 for m in smtp.mailbox.received if not m.message["X-Sentinel-Incident"])


def _cli(config: Path, *args: str) -> list[str]:
    return [str(VENV_BIN / "sentinel"), "--config", str(config), *args]


def test_reports_reach_each_recipient_once_across_a_kill_of_the_run(tmp_path: Path) -> None:
    smtp = SmtpServer().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    config = tmp_path / "sentinel.yaml"
    config.write_text(
        "data_dir: ./data\n"
        "inventory: inventory.yaml\n"
        "api: {host: 127.0.0.1, port: 0}\n"
        f"smtp: {{host: 127.0.0.1, port: {smtp.port}, sender: sentinel@ega.go.tz}}\n"
        "notify:\n"
        "  soc_emails: [soc-manager@ega.go.tz]\n"
        "  soc_contact: {name: SOC, email: soc@ega.go.tz}\n"
        "  poll_seconds: 0.5\n"
        "playbooks: {builtin: false}\n"  # the month's incidents are not notified again: only reports here
    )
    (tmp_path / "inventory.yaml").write_text(inventory_yaml(INSTITUTIONS))
    db = tmp_path / "data" / "sentinel.db"
    now = datetime.now(UTC)
    month = due_month(now, ZoneInfo("Africa/Dar_es_Salaam"), day=1, hour=6)  # what serve's catch-up makes
    settings = Settings.model_validate({"data_dir": str(tmp_path / "data")})
    store = SqliteStore(db)
    store.setup()
    try:
        MonthWriter(store, settings, load_rule_pack([builtin_rules_dir()], builtin=True)).write(
            [(i, "Africa/Dar_es_Salaam") for i, _, _ in INSTITUTIONS], month, events_per_institution=1000, now=now
        )
    finally:
        store.close()
    serve = None
    report_log, serve_log = (tmp_path / "report.log").open("wb"), (tmp_path / "serve.log").open("wb")
    try:
        # 1. the run is killed (SIGKILL: no clean-up of any kind) once its first report is stored
        run = subprocess.Popen(
            _cli(config, "report", "--month", str(month), "--send", "--out", str(tmp_path / "out")),
            stdout=subprocess.DEVNULL,
            stderr=report_log,
            env=env,
        )
        deadline = time.monotonic() + 180
        made = 0
        while made == 0 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
            made = _reports_made(db)
        os.kill(run.pid, signal.SIGKILL)
        run.wait(10)
        at_kill = _reports_made(db)
        assert 1 <= at_kill < REPORTS, f"the kill came at {at_kill} of {REPORTS} reports: not mid-run"
        assert smtp.mailbox.received == []  # the command makes and queues; it does not deliver

        # 2. the service starts, its report job catches up, its outbox delivers
        serve = subprocess.Popen(_cli(config, "serve"), stdout=subprocess.DEVNULL, stderr=serve_log, env=env)
        deadline = time.monotonic() + 240
        while _report_mails(smtp) < MAILS and time.monotonic() < deadline:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(3)  # anything sent twice would arrive now
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
        serve = None

        # the service also escalates the month's overdue incidents to the SOC: count the reports
        messages = [m.message for m in smtp.mailbox.received if not m.message["X-Sentinel-Incident"]]
        per = Counter((str(m["To"]), str(m["Subject"])) for m in messages)
        assert len(messages) == MAILS, (tmp_path / "serve.log").read_text()[-3000:]
        assert set(per.values()) == {1}
        assert all(len(list(m.iter_attachments())) == 1 for m in messages)
        assert _reports_made(db) == REPORTS
        assert _outbox_states(db, reports=True) == Counter({"delivered": MAILS})

        # 3. the same command again: everything exists, nothing is queued
        again = subprocess.run(
            _cli(config, "report", "--month", str(month), "--send", "--out", str(tmp_path / "out")),
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=True,
        )
        assert again.stderr.count("already made, 0 notice(s) queued") == REPORTS
        assert _outbox_states(db, reports=True) == Counter({"delivered": MAILS})
        files = sorted(p.name for p in (tmp_path / "out").iterdir())
        assert len(files) == REPORTS and all(f.endswith(f"-{month}.pdf") for f in files)
    finally:
        if serve is not None and serve.poll() is None:
            serve.kill()
            serve.wait()
        smtp.stop()
        report_log.close()
        serve_log.close()
