"""Issue 13 acceptance: a month of events, alerts, incidents and scans for three institutions (one in
Swahili, two in English) → every monthly report and the national summary as PDF → pdftotext and
pdftoppm: every section is there, the figures equal a computation made here from what was written,
the Swahili report holds no English sentence of the rule pack, each PDF has more than one page; the
first page of each is kept as a PNG in ``tests/artefacts/reports/`` (git-ignored). Then delivery:
each report reaches each recipient once, with its PDF attached, and a second run sends nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dashboards.reports import ReportLayout
from dashboards.reports.words import Words
from sentinel.config import Settings
from sentinel.detect.rulebook.controls import load_controls
from sentinel.detect.rulebook.pack import RulePack, builtin_rules_dir, load_rule_pack
from sentinel.inventory import Inventory, parse_inventory
from sentinel.notify.channels import build_channels
from sentinel.notify.outbox import Outbox
from sentinel.notify.responses import RuleTexts, tactics_of
from sentinel.reports import build_publisher
from sentinel.reports.figures import InstitutionFigures, NationalFigures
from sentinel.reports.period import Month
from sentinel.reports.publish import ReportPublisher
from sentinel.reports.records import list_reports, read_pdf
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from sentinel.yamlfile import YamlDocument
from tests.conftest import PROJECT_ROOT
from tests.sentinel.notify.conftest import SmtpServer
from tests.support.report_month import Ledger, MonthWriter, inventory_yaml
from tests.support.rule_pack_text import english_sentences

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils: `make system-deps`"),
]

MONTH = Month(2026, 11)
AS_OF = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 06:00 on the 1st in Dar es Salaam
EAT = ZoneInfo("Africa/Dar_es_Salaam")
INSTITUTIONS = [
    ("moh", "Wizara ya Afya", "sw"),
    ("tra", "Revenue Authority", "en"),
    ("nida", "Identity Authority", "en"),
]
ARTEFACTS = PROJECT_ROOT / "tests" / "artefacts" / "reports"
SOC = {"name": "SOC", "email": "soc@ega.go.tz", "phone": "+255 22 000 0000"}


@dataclass
class World:
    store: SqliteStore
    settings: Settings
    inventory: Inventory
    pack: RulePack
    ledgers: dict[str, Ledger]
    publisher: ReportPublisher
    smtp: SmtpServer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("reports")
    smtp = SmtpServer().start()
    settings = Settings.model_validate(
        {
            "data_dir": str(root / "data"),
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "sender": "sentinel@ega.go.tz"},
            "notify": {"soc_emails": ["soc-manager@ega.go.tz"], "soc_contact": SOC},
        }
    )
    inventory = parse_inventory(YamlDocument.parse(inventory_yaml(INSTITUTIONS), "inventory.yaml"))
    store = SqliteStore(root / "sentinel.db")
    store.setup()
    pack = load_rule_pack([builtin_rules_dir()], builtin=True)
    ledgers = MonthWriter(store, settings, pack).write(
        [(i.id, i.timezone) for i in inventory], MONTH, events_per_institution=4000, now=AS_OF
    )
    publisher = build_publisher(settings, store, inventory, pack.rules, ReportLayout(), clock=lambda: AS_OF)
    summary = publisher.run_month(MONTH)
    assert summary.created == 4 and summary.queued == 3 * 2 + 1  # manager + ICT officer each; the SOC managers
    try:
        yield World(store, settings, inventory, pack, ledgers, publisher, smtp)
    finally:
        store.close()
        smtp.stop()


# the independent computation -------------------------------------------------------------------


def _verdict(done: datetime | None, due: datetime) -> str:
    if done is not None:
        return "met" if done <= due else "missed"
    return "missed" if AS_OF >= due else "pending"


def expected(world: World, ledger: Ledger) -> dict[str, Any]:
    """Every checked figure, from the ledger of what was written (and the rule pack's definitions)."""
    sla = world.settings.incidents.sla
    texts = RuleTexts.from_rules(world.pack.rules)
    rules = {r.id: r for r in world.pack.rules}
    ack: Counter[str] = Counter()
    resolve: Counter[str] = Counter()
    for inc in ledger.incidents:
        ack[_verdict(inc.acknowledged, inc.opened + getattr(sla.acknowledge, inc.severity))] += 1
        resolve[_verdict(inc.resolved, inc.opened + getattr(sla.resolve, inc.severity))] += 1
    sources: dict[str, list[int]] = {}
    for a in ledger.alerts:
        ip = a.group_key.get("source.ip")
        if ip:
            sources.setdefault(ip, [0, 0])
            sources[ip][0] += 1
            sources[ip][1] += a.count
    top = sorted(sources.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:5]
    days = MONTH.days()
    datasets = set(ledger.events_by_dataset)
    by_control: Counter[str] = Counter()
    for a in ledger.alerts:
        by_control.update(set(a.controls))
    missed = ack["missed"] + resolve["missed"]
    status = {}
    for control in load_controls().controls:
        watching = [
            r
            for r in rules.values()
            if control.id in r.controls and (r.kind == "silence" or set(r.datasets) & datasets)
        ]
        if by_control[control.id]:
            status[control.id] = "breached"
        elif control.id == "IR-01" and missed:
            status[control.id] = "breached"
        elif watching or (control.id == "IR-01" and ack["met"] + resolve["met"]):
            status[control.id] = "met"
        else:
            status[control.id] = "not_checkable" if not control.checkable else "no_evidence"
    met = sum(1 for s in status.values() if s == "met")
    breached = sum(1 for s in status.values() if s == "breached")
    tactics: Counter[str] = Counter()
    for inc in ledger.incidents:
        tactics.update(set(tactics_of(inc.tags)))
    return {
        "incidents": len(ledger.incidents),
        "severity": Counter(i.severity for i in ledger.incidents),
        "category": Counter(texts.by_id[i.rule_id].category for i in ledger.incidents),
        "tactic": tactics,
        "ack": ack,
        "resolve": resolve,
        "sources": [(ip, n, e) for ip, (n, e) in top],
        "alerts": len(ledger.alerts),
        "findings": {k: len(v) for k, v in ledger.findings.items()},
        "previous_findings": {k: len(v) for k, v in ledger.previous_findings.items()},
        "new": {k: len(ledger.findings[k] - ledger.previous_findings[k]) for k in ledger.findings},
        "fixed": {k: len(ledger.previous_findings[k] - ledger.findings[k]) for k in ledger.findings},
        "scanned": ledger.scanned,
        "coverage": {
            name: (ledger.source_events[name], len(ledger.source_days[name]), days - len(ledger.source_days[name]))
            for name in ("web01 auth log", "portal access log")
        },
        "events": sum(ledger.events_by_dataset.values()),
        "by_dataset": dict(ledger.events_by_dataset),
        "controls": status,
        "score": 100.0 * met / (met + breached) if met + breached else None,
    }


def _check_figures(f: InstitutionFigures, want: dict[str, Any]) -> None:
    assert f.incidents.total == want["incidents"]
    assert {c.key: c.count for c in f.incidents.by_severity} == {
        s: want["severity"].get(s, 0) for s in ("critical", "high", "medium", "low")
    }
    assert {c.key: c.count for c in f.incidents.by_category} == dict(want["category"])
    assert {c.key: c.count for c in f.incidents.by_tactic} == dict(want["tactic"])
    for target, key in ((f.sla.acknowledge, "ack"), (f.sla.resolve, "resolve")):
        assert (target.met, target.missed, target.pending) == (
            want[key]["met"],
            want[key]["missed"],
            want[key]["pending"],
        )
    assert len(f.sla.breaches) == want["ack"]["missed"] + want["resolve"]["missed"]
    assert [(s.address, s.alerts, s.events) for s in f.attacks.top_sources] == want["sources"]
    assert f.attacks.alerts == want["alerts"]
    assert f.scans.scanned is want["scanned"]
    assert {c.key: c.count for c in f.scans.current} == want["findings"]
    assert {c.key: c.count for c in f.scans.previous} == want["previous_findings"]
    assert {c.key: c.count for c in f.scans.new} == want["new"]
    assert {c.key: c.count for c in f.scans.fixed} == want["fixed"]
    assert {s.name: (s.events, s.days_reporting, s.silent_days) for s in f.coverage.expected} == want["coverage"]
    assert f.coverage.events == want["events"]
    assert {c.key: c.count for c in f.coverage.by_dataset} == want["by_dataset"]
    assert {c.control_id: c.status for c in f.controls.controls} == want["controls"]
    assert f.controls.score == pytest.approx(want["score"]) if want["score"] is not None else f.controls.score is None


# the PDFs ---------------------------------------------------------------------------------------


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]


def _first_page_png(pdf: Path, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-f", "1", "-l", "1", "-r", "80", "-png", "-singlefile", str(pdf), str(ARTEFACTS / name)],
        check=True,
    )
    return ARTEFACTS / f"{name}.png"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _row(text: str, *cells: str) -> bool:
    """A table row: the cells in this order on one line of the laid-out text, each a whole word group."""
    pattern = ".*?".join(rf"(?<!\S){re.escape(c)}(?!\S)" for c in cells)
    return any(re.search(pattern, line) for line in text.splitlines())


@pytest.mark.parametrize("institution", [i[0] for i in INSTITUTIONS])
def test_institution_report_pdf_has_every_section_and_the_figures(
    world: World, institution: str, tmp_path: Path
) -> None:
    [record] = list_reports(world.store, Scope.institution(institution), month=str(MONTH))
    pdf = tmp_path / f"{record.id}.pdf"
    data = read_pdf(world.store, record, Scope.institution(institution))
    assert data is not None and data.startswith(b"%PDF")
    pdf.write_bytes(data)
    assert _pages(pdf) > 1
    png = _first_page_png(pdf, record.id)
    assert png.stat().st_size > 10_000
    shutil.copy(pdf, ARTEFACTS / pdf.name)
    text = _pdf_text(pdf)
    flat = _flat(text)
    language = world.inventory.get(institution).language  # type: ignore[union-attr]
    words = Words(language)

    for key in ("actions", "incidents", "sla", "attacks", "scans", "coverage", "controls", "method"):
        assert _flat(words.t(f"section.{key}")) in flat, f"section {key} missing"

    figures = InstitutionFigures.model_validate(record.figures)
    want = expected(world, world.ledgers[institution])
    _check_figures(figures, want)

    # the same numbers as the PDF shows them
    assert _row(text, words.t("tile.incidents")) and f" {want['incidents']} " in f" {flat} "
    for severity in ("critical", "high", "medium", "low"):
        assert _row(text, words.label("severity", severity), str(want["severity"].get(severity, 0)))
    for kind in ("ack", "resolve"):
        label = words.label("sla_kind", "acknowledge" if kind == "ack" else "resolve")
        counts = want[kind]
        assert _row(text, label, str(counts["met"]), str(counts["missed"]), str(counts["pending"]))
    for address, alerts, events in want["sources"]:
        assert _row(text, address, str(alerts), f"{events:,}")
    for kind, count in want["findings"].items():
        row = (words.label("finding", kind), str(count), str(want["previous_findings"][kind]), str(want["new"][kind]))
        assert _row(text, *row)
    for name, (events, reporting, silent) in want["coverage"].items():
        assert _row(text, name, f"{events:,}", str(reporting), str(silent))
    for control_id, status in want["controls"].items():
        assert _row(text, control_id) and words.label("status", status) in flat
    if want["score"] is not None:
        assert f"{round(want['score'])}%" in flat

    if language == "sw":
        english = english_sentences(world.pack.rules, RuleTexts.from_rules(world.pack.rules))
        leaked = sorted(s for s in english if _flat(s) in flat)
        assert leaked == [], leaked
        catalogue_english = [c.title.en for c in load_controls().controls if c.title.en != c.title.sw]
        assert [t for t in catalogue_english if t in flat] == []
        assert "Novemba 2026" in flat and "Ukurasa 1 kati ya" in flat
    else:
        assert "November 2026" in flat and "Page 1 of" in flat


def test_national_summary_ranks_institutions_with_trends_and_spread(world: World, tmp_path: Path) -> None:
    [record] = list_reports(world.store, Scope.everything(), month=str(MONTH), kind="national")
    assert list_reports(world.store, Scope.institution("moh"), kind="national") == []  # SOC only
    data = read_pdf(world.store, record, Scope.everything())
    assert data is not None
    pdf = tmp_path / f"{record.id}.pdf"
    pdf.write_bytes(data)
    assert _pages(pdf) > 1
    _first_page_png(pdf, record.id)
    shutil.copy(pdf, ARTEFACTS / pdf.name)
    text = _pdf_text(pdf)
    flat = _flat(text)
    words = Words("en")
    for key in ("ranking", "trend", "spread", "method"):
        assert words.t(f"section.{key}") in flat
    national = NationalFigures.model_validate(record.figures)
    per = {i: expected(world, world.ledgers[i]) for i, _, _ in INSTITUTIONS}
    assert national.incidents == sum(w["incidents"] for w in per.values())
    assert len(national.institutions) == 3 and [r.rank for r in national.institutions] == [1, 2, 3]
    scores = [per[r.institution_id]["score"] for r in national.institutions]
    assert scores == sorted(scores, key=lambda s: (s is None, -(s or 0)))
    for row in national.institutions:
        assert row.incidents == per[row.institution_id]["incidents"]
        assert _row(text, str(row.rank), row.name)
    assert [p.month for p in national.trend] == [str(m) for m in MONTH.last(12)]
    assert national.trend[-1].incidents == national.incidents and national.trend[-1].reports == 3
    spread: Counter[str] = Counter()
    for ledger in world.ledgers.values():
        spread.update({a.rule_id for a in ledger.alerts})
    top = national.rules[0]
    assert top.institutions == max(spread.values()) and spread[top.key] == top.institutions


def test_reports_are_delivered_once_each_with_the_pdf_and_a_rerun_sends_nothing(world: World) -> None:
    outbox = Outbox(world.store, build_channels(world.settings, world.store), clock=lambda: AS_OF)
    first = outbox.deliver_due()
    assert first.delivered == 7 and not first.errors
    again = world.publisher.run_month(MONTH)  # the schedule running again for the same month
    assert again.created == 0 and again.queued == 0
    assert outbox.deliver_due().handled == 0
    messages: list[EmailMessage] = [m.message for m in world.smtp.mailbox.received]
    assert len(messages) == 7
    seen = Counter((str(m["To"]), str(m["Subject"])) for m in messages)
    assert set(seen.values()) == {1}
    for institution, _, language in INSTITUTIONS:
        [record] = list_reports(world.store, Scope.institution(institution), month=str(MONTH))
        stored = read_pdf(world.store, record, Scope.everything())
        mine = [m for m in messages if str(m["To"]).endswith(f"@{institution}.go.tz")]
        assert sorted(str(m["To"]) for m in mine) == [f"director@{institution}.go.tz", f"ict@{institution}.go.tz"]
        for message in mine:
            [attachment] = list(message.iter_attachments())
            assert attachment.get_content_type() == "application/pdf"
            assert attachment.get_content() == stored
            assert message["Reply-To"] == SOC["email"]
            assert ("Taarifa ya kila mwezi ya usalama" if language == "sw" else "Monthly security report") in str(
                message["Subject"]
            )
    [soc] = [m for m in messages if m["To"] == "soc-manager@ega.go.tz"]
    assert "National security posture summary" in str(soc["Subject"])


def test_next_month_trend_reads_the_stored_month(world: World) -> None:
    """The month after: the national trend shows November from its stored reports, December fresh."""
    december = MONTH.next()
    later = ReportPublisher(
        world.publisher.inputs,
        world.settings,
        world.inventory,
        ReportLayout(),
        clock=lambda: AS_OF + timedelta(days=31),
    )
    national = later.national_figures(december)
    november = next(p for p in national.trend if p.month == str(MONTH))
    stored = [
        InstitutionFigures.model_validate(r.figures)
        for r in list_reports(world.store, Scope.everything(), month=str(MONTH), kind="institution")
    ]
    assert november.reports == 3
    assert november.score == pytest.approx(sum(f.controls.score or 0 for f in stored) / 3)
