"""The brute-force notice an ICT officer receives, in Swahili and English, end to end on real parts.

Real sshd syslog lines → the syslog parser → the store → the shipped brute-force rule → the
brute-force playbook → the outbox → an SMTP server (aiosmtpd) and the local Slack server. The
notice must carry the rule's name (not its id), the counts, the deadlines, the rule's own advice
with the attacking address, the SOC contact (and Reply-To), and never ask anyone to change the
password of a name the attacker only guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collectors.normalize import Normalizer
from collectors.records import RawRecord
from playbooks.wiring import build_response
from sentinel.config import Settings
from sentinel.detect.engine.runner import DetectionEngine
from sentinel.detect.rulebook.pack import builtin_rules_dir, load_rule_pack
from sentinel.inventory import parse_inventory
from sentinel.notify.channels import build_channels
from sentinel.notify.outbox import Outbox
from sentinel.notify.responses import RuleTexts
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from sentinel.yamlfile import YamlDocument
from tests.sentinel.notify.conftest import SmtpServer
from tests.support.rule_pack_text import english_sentences
from tests.support.slack_server import SlackServer

BRUTE_FORCE = "6b1f7a9c-2d4e-4f8a-8b3c-0e5d7a1c9f02"
SUCCESS_AFTER = "fe03395f-4e81-46bc-91ad-aa2fe25470f0"
ATTACKER = "203.0.113.9"
EAT = ZoneInfo("Africa/Dar_es_Salaam")
START = datetime(2026, 11, 3, 7, 0, tzinfo=UTC)  # 10:00 in Dar es Salaam
GUESSED = ["cisco", "ubnt", "uucp", "oracle"]
EXISTING_BY_LOGIN = "admin"  # logged in successfully last week from the office
EXISTING_BY_INVENTORY = "backup"  # listed in the inventory's accounts
INVENTORY = """\
institutions:
  - id: inst
    name: {name}
    language: {language}
    networks: [10.1.1.0/24]  # the server sends its own syslog: attributed by address
    hostnames: [web01.inst.go.tz]
    accounts: [backup]
    contacts:
      - {{name: ICT Officer, email: ict@inst.go.tz, role: ict_officer}}
"""
SOC = {"name": "SOC ya Mamlaka", "email": "soc@ega.go.tz", "phone": "+255 22 000 0000", "hours": "24/7"}


def _line(at: datetime, text: str) -> bytes:
    # syslog carries the sender's local time, no zone: the institution's zone resolves it
    return f"{at.astimezone(EAT).strftime('%b %e %H:%M:%S')} web01 sshd[4242]: {text}".encode()


def _lines(*, success: bool) -> list[tuple[datetime, bytes]]:
    out = [
        (
            START - timedelta(days=7),
            _line(
                START - timedelta(days=7), f"Accepted password for {EXISTING_BY_LOGIN} from 10.9.0.5 port 51000 ssh2"
            ),
        )
    ]
    users = [*GUESSED, EXISTING_BY_LOGIN, EXISTING_BY_INVENTORY] * 3  # 18 failures within 9 minutes
    for i, user in enumerate(users):
        at = START + timedelta(seconds=30 * i)
        invalid = "invalid user " if user in GUESSED else ""
        out.append((at, _line(at, f"Failed password for {invalid}{user} from {ATTACKER} port {40000 + i} ssh2")))
    if success:
        at = START + timedelta(minutes=10)
        out.append((at, _line(at, f"Accepted password for {EXISTING_BY_LOGIN} from {ATTACKER} port 41000 ssh2")))
    return out


@dataclass
class Delivered:
    email: EmailMessage
    text: str
    html: str
    slack: str
    failures: int
    end: datetime


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    server = SlackServer().start()
    yield server
    server.stop()


def _run(tmp_path: Path, smtp: SmtpServer, slack: SlackServer, language: str, *, success: bool) -> Delivered:
    name = "Wizara ya Afya" if language == "sw" else "Ministry of Health"
    inventory = parse_inventory(YamlDocument.parse(INVENTORY.format(name=name, language=language), "inventory.yaml"))
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "sender": "sentinel@ega.go.tz"},
            "slack": {"token": slack.token, "channel": "#soc", "base_url": slack.base_url},
            "api": {"public_url": "https://sentinel.ega.go.tz"},
            "notify": {"soc_contact": SOC},
        }
    )
    store = SqliteStore(tmp_path / "sentinel.db")
    store.setup()
    try:
        normalizer = Normalizer(inventory)
        lines = _lines(success=success)
        events = [
            normalizer.normalize(
                RawRecord(
                    raw=raw, received_at=at.timestamp() + 1, origin=f"10.1.1.1:{i}", transport="udp", peer="10.1.1.1"
                )
            )
            for i, (at, raw) in enumerate(lines)
        ]
        assert {e.get("organization.id") for e in events} == {"inst"}
        store.write_events(events)
        end = START + timedelta(minutes=40)
        pack = load_rule_pack([builtin_rules_dir()], builtin=True)
        engine = DetectionEngine(store, pack, settings.detect, inventory)
        rules = [BRUTE_FORCE, SUCCESS_AFTER]
        engine.run_all(START - timedelta(minutes=5), rules)
        assert not [r.error for r in engine.catch_up(end, rules) if r.error]
        response = build_response(settings, store, inventory, pack=pack, clock=lambda: end)
        assert response.runner.process_new_alerts().failed == 0
        Outbox(store, build_channels(settings, store), clock=lambda: end).deliver_due()
        [incident] = response.incidents.list(Scope.everything())
        assert BRUTE_FORCE in incident.rule_ids
        [message] = [m.message for m in smtp.mailbox.received]
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        slack_text = repr([p.args for p in slack.posts()])
        failures = sum(1 for _, raw in lines if b"Failed password" in raw)
        return Delivered(message, text, html, slack_text, failures, end)
    finally:
        store.close()


def _step_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"^\d+\. ", line)]


def _local(ts: datetime) -> str:
    return ts.astimezone(EAT).strftime("%Y-%m-%d %H:%M EAT")


@pytest.mark.parametrize("language", ["sw", "en"])
def test_brute_force_notice_says_what_happened_what_to_do_by_when_and_whom_to_ask(
    tmp_path: Path, smtp: SmtpServer, slack: SlackServer, language: str
) -> None:
    got = _run(tmp_path, smtp, slack, language, success=False)
    texts = RuleTexts.from_rules(load_rule_pack([builtin_rules_dir()], builtin=True).rules)
    advice = texts.by_id[BRUTE_FORCE].response.text(language)  # type: ignore[union-attr]
    text = got.text

    # what happened: the rule's name in this language (never its id), the counts, local times
    assert advice.name in text and advice.name in str(got.email["Subject"]) and BRUTE_FORCE not in text
    assert advice.description in text
    events_line = {"en": f"{got.failures} events in 1 alert(s)", "sw": f"Matukio {got.failures} katika tahadhari 1"}
    assert events_line[language] in text
    assert _local(START) in text and _local(START + timedelta(seconds=30 * (got.failures - 1))) in text
    assert ATTACKER in text
    no_success = {
        "en": "None: no login from these addresses succeeded",
        "sw": "Hakuna: hakuna kuingia kutoka anwani hizi",
    }
    assert no_success[language] in text

    # what to do: the rule's own steps with the address filled in, then account steps for real accounts only
    steps = _step_lines(text)
    assert steps[0].endswith(advice.steps[0].replace("{addresses}", ATTACKER))
    account_step = [s for s in steps if EXISTING_BY_LOGIN in s]
    assert len(account_step) == 1 and EXISTING_BY_INVENTORY in account_step[0]
    for guessed in GUESSED:
        assert not any(guessed in s for s in steps), f"{guessed} must not be under the steps"
    guessed_label = {"en": "Names only guessed by the attacker", "sw": "Majina yaliyobahatishwa tu"}
    guessed_row = next(line for line in text.splitlines() if line.startswith(guessed_label[language]))
    assert all(g in guessed_row for g in GUESSED) and EXISTING_BY_LOGIN not in guessed_row

    # by when: the SLA deadlines of a high incident (1 h to acknowledge, 3 days to resolve) and the escalation
    opened = got.end  # the playbook opened the incident at the test clock's time
    assert _local(opened + timedelta(hours=1)) in text and _local(opened + timedelta(days=3)) in text
    within = {"en": "within 1 hour", "sw": "ndani ya saa 1"}
    assert within[language] in text
    escalation = {"en": "escalates the incident", "sw": "hupandisha hadhi tukio"}
    assert escalation[language] in text

    # who to contact: the SOC from the settings, and replies reach it
    assert SOC["email"] in text and SOC["phone"] in text
    assert got.email["Reply-To"] == SOC["email"]
    assert "Please do not reply" not in text and "usijibu" not in text

    # the HTML says the same; the SOC's Slack message names the rule and the counts too
    assert advice.name in got.html and SOC["email"] in got.html
    soc_advice = texts.by_id[BRUTE_FORCE].response.text("en")  # type: ignore[union-attr]
    assert soc_advice.name in got.slack and f"{got.failures} events" in got.slack


def test_swahili_notice_holds_no_english_sentence_from_the_rule_pack(
    tmp_path: Path, smtp: SmtpServer, slack: SlackServer
) -> None:
    got = _run(tmp_path, smtp, slack, "sw", success=False)
    pack = load_rule_pack([builtin_rules_dir()], builtin=True)
    english = english_sentences(pack.rules, RuleTexts.from_rules(pack.rules))
    assert len(english) > 200  # the whole pack, not a handful
    notice = f"{got.email['Subject']}\n{got.text}\n{got.html}"
    leaked = sorted(s for s in english if s in notice)
    assert leaked == []


def test_a_success_after_the_failures_is_said_first_and_its_account_is_to_be_changed(
    tmp_path: Path, smtp: SmtpServer, slack: SlackServer
) -> None:
    got = _run(tmp_path, smtp, slack, "en", success=True)
    assert "A login from the attacking address SUCCEEDED (accounts: admin)" in got.text
    assert got.text.index("SUCCEEDED") < got.text.index("What to do now")
    assert "YES: 1 successful login(s) from these addresses (accounts: admin)" in got.text
    assert any("admin" in s and "Change the password" in s for s in _step_lines(got.text))
