"""A real Sentinel web app over two institutions' data, for the HTTP, sweep and browser tests.

``build_world`` makes a real SQLite store and fills it the way the service does: events and dead
letters posted to ``/api/v1/ingest`` with each institution's token, alerts stored as the detection
engine stores them, incidents opened, enriched and notified by the real playbook runner (timeline,
outbox), comments and acknowledgements through the incident service (audit trail). Every record of
an institution carries texts no other record has (``World.markers``), so a test can check that no
answer to one institution contains anything of the other's.

``LiveServer`` runs the same app under uvicorn on a loopback port, for the browser.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from playbooks.wiring import Response, build_response
from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.config import DEFAULT_TIMEZONE, Settings
from sentinel.detect.alerts import COLLECTION as ALERTS
from sentinel.detect.alerts import AlertCandidate, StoreAlertSink
from sentinel.events import to_millis
from sentinel.inventory import Inventory, parse_inventory
from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore
from sentinel.yamlfile import YamlDocument

BRUTE_FORCE_TAGS = ("attack.credential_access", "attack.t1110.001", "sentinel.control.auth-02")

INVENTORY = """\
institutions:
  - id: inst-a
    name: Wizara ya Maji
    language: sw
    contacts:
      - {name: Afisa TEHAMA, email: tehama@maji.go.tz, role: security}
    networks: [10.11.0.0/16]
    hostnames: [app01.maji.go.tz]
  - id: inst-b
    name: Revenue Board
    language: en
    contacts:
      - {name: Security desk, email: secdesk@revenueboard.go.tz, role: security}
    networks: [10.22.0.0/16]
    hostnames: [db01.revenueboard.go.tz]
"""


@dataclass(frozen=True)
class Institution:
    """What one institution's records are made of: every value here is found in no other's."""

    id: str
    name: str
    host: str
    attacker_ip: str  # an address of this institution's network that attacks its own host
    user: str
    comment: str
    dead_letter: str
    email: str


A = Institution(
    "inst-a",
    "Wizara ya Maji",
    "app01.maji.go.tz",
    "10.11.7.7",
    "amina-maji",
    "Kagua seva ya maji kwanza",
    "garbage-from-maji",
    "tehama@maji.go.tz",
)
B = Institution(
    "inst-b",
    "Revenue Board",
    "db01.revenueboard.go.tz",
    "10.22.6.6",
    "bosco-revenue",
    "Quarantined the revenue ledger host",
    "garbage-from-revenue",
    "secdesk@revenueboard.go.tz",
)
INSTITUTIONS = (A, B)
SOC_ROLES = ("admin", "soc_manager", "soc_analyst")


@dataclass
class World:
    app: FastAPI
    store: SqliteStore
    settings: Settings
    inventory: Inventory
    response: Response
    tokens: dict[str, str]  # "admin", "soc_manager", "soc_analyst", "inst-a", "inst-b"
    ids: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # institution -> kind -> ids
    ack_tokens: dict[str, list[str]] = field(default_factory=dict)  # institution -> acknowledgement link tokens

    def markers(self, institution: str) -> set[str]:
        """Texts found only in this institution's records: ids, names, addresses, free text."""
        inst = next(i for i in INSTITUTIONS if i.id == institution)
        found = {inst.id, inst.name, inst.host, inst.attacker_ip, inst.user, inst.comment, inst.dead_letter, inst.email}
        for ids in self.ids[institution].values():
            found.update(ids)
        return found

    def client(self) -> TestClient:
        # Server errors become answers (500), so a sweep sees them as a status, as a browser would.
        return TestClient(self.app, raise_server_exceptions=False)


def make_inventory() -> Inventory:
    return parse_inventory(YamlDocument.parse(INVENTORY, "inventory.yaml"))


def make_settings(data_dir: Path) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": str(data_dir),
            "slack": {"token": "xoxb-test", "channel": "#soc"},
            "notify": {"soc_emails": ["soc-manager@ega.go.tz"]},
            "incidents": {"on_call": ["ana"]},
        }
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client: TestClient, token: str) -> str:
    """Sign in through the form; returns the session's CSRF token (from the overview's forms)."""
    form = client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert nonce is not None, form.text
    answer = client.post("/login", data={"token": token, "csrf": nonce.group(1)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert csrf is not None
    return csrf.group(1)


def _syslog(inst: Institution, n: int, now: datetime) -> str:
    # Syslog writes the sender's local time: both institutions are in the default time zone.
    stamp = (now - timedelta(minutes=n)).astimezone(ZoneInfo(DEFAULT_TIMEZONE)).strftime("%b %e %H:%M:%S")
    return (
        f"<38>{stamp} {inst.host} sshd[{100 + n}]: Failed password for {inst.user} "
        f"from {inst.attacker_ip} port {4000 + n} ssh2"
    )


def _raise_alert(store: SqliteStore, inst: Institution, now: datetime) -> str:
    start = to_millis(now - timedelta(minutes=30))
    candidate = AlertCandidate(
        rule_id="6b1f7a9c-2d4e-4f8a-8b3c-0e5d7a1c9f02",
        rule_title="SSH brute force from one source",
        rule_kind="correlation",
        severity="high",
        description="",
        tags=BRUTE_FORCE_TAGS,
        attack=tuple(t for t in BRUTE_FORCE_TAGS if t.startswith("attack.")),
        controls=(),
        institution_id=inst.id,
        group_key={"source.ip": inst.attacker_ip},
        window_start_ms=start,
        window_end_ms=start + 1_800_000,
        first_seen_ms=start,
        last_seen_ms=start + 60_000,
        count=12,
        sample_event_ids=[],
    )
    StoreAlertSink(store).upsert(candidate)
    return candidate.id


def build_world(tmp_path: Path) -> World:
    store = SqliteStore(tmp_path / "sentinel.db")
    store.setup()
    settings = make_settings(tmp_path / "data")
    inventory = make_inventory()
    response = build_response(settings, store, inventory)
    app = create_app(settings, store=store, inventory=inventory, response=response)
    tokens = {role: create_token(store, name=f"{role}-user", role=Role(role)) for role in SOC_ROLES}
    for inst in INSTITUTIONS:
        tokens[inst.id] = create_token(
            store, name=f"{inst.id}-officer", role=Role.INSTITUTION, institution_id=inst.id, inventory=inventory
        )
    world = World(app, store, settings, inventory, response, tokens)
    now = datetime.now(UTC)
    with TestClient(app) as client:
        for inst in INSTITUTIONS:
            lines = [{"message": _syslog(inst, n, now)} for n in range(1, 13)]
            body = orjson.dumps([*lines, {"nothing": inst.dead_letter}])
            headers = {**bearer(tokens[inst.id]), "Content-Type": "application/json"}
            answer = client.post("/api/v1/ingest", content=body, headers=headers)
            assert answer.status_code == 200 and answer.json()["stored"] == 12, answer.text
    for inst in INSTITUTIONS:
        _raise_alert(store, inst, now)
    report = response.runner.process_new_alerts()
    assert report.runs >= 2, report
    for inst in INSTITUTIONS:
        scope = Scope.institution(inst.id)
        incidents = response.incidents.list(scope, limit=10)
        assert incidents, f"no incident opened for {inst.id}"
        for incident in incidents:
            response.incidents.comment(incident.id, inst.comment, actor=f"institution:{inst.id}-officer", scope=scope)
        world.ids[inst.id] = {
            "events": [e.id for e in store.search_events(EventQuery(), scope, limit=100).events],
            "alerts": [d.id for d in store.find_documents(ALERTS, scope, limit=100)],
            "incidents": [i.id for i in incidents],
            "dead_letters": [d.id for d in store.find_documents("dead_letters", scope, limit=100)],
            "outbox": [d.id for d in store.find_documents("outbox", scope, limit=100)],
        }
        world.ack_tokens[inst.id] = [
            response.notices.ack_signer.make(incident.id, inst.id, inst.email, timedelta(days=7))
            for incident in incidents
        ]
        assert world.ids[inst.id]["outbox"], f"no notice queued for {inst.id}"
    return world


class LiveServer:
    """The app under uvicorn on a loopback port, in a thread (for the browser tests)."""

    def __init__(self, app: FastAPI) -> None:
        self.url = ""
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
