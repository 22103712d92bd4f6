"""The tenancy sweep: every route, every role, bearer and browser session, on two institutions' data.

The routes come from the app's own route table: the API from its OpenAPI description, pages and
service routes from the same table (``sentinel.web.routes``), so a new route is walked without
touching this test, and a route outside the table fails it. For each credential the sweep sends
requests built from known ids of both institutions (an institution asking for the other's records
by id must get nothing of them) and requests Schemathesis generates from the description (bounded,
derandomised). It asserts that no answer is a 5xx and that no answer to an institution contains any
id, name, address or text of the other institution's records (unless the request itself said it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings

from sentinel.web.routes import full_description, route_table
from tests.support.web import INSTITUTIONS, SOC_ROLES, A, B, World, bearer, build_world, sign_in

EXAMPLES_PER_OPERATION = 4  # generated requests per route and credential, on top of the known ids
TIME_BUDGET = 45.0  # seconds; past it, generation stops (the known-id requests always run)
MODES = ("bearer", "session")


@dataclass
class Credential:
    role: str  # "admin", ..., or an institution id
    mode: str
    client: TestClient
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def institution(self) -> str | None:
        return self.role if self.role not in SOC_ROLES else None

    def __str__(self) -> str:
        return f"{self.role}/{self.mode}"


@dataclass
class Tally:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(Path(tmp_path_factory.mktemp("sweep")))
    yield w
    w.store.close()


def _credentials(world: World, role: str) -> Iterator[Credential]:
    for mode in MODES:
        client = world.client()
        if mode == "bearer":
            yield Credential(role, mode, client, bearer(world.tokens[role]))
        else:
            yield Credential(role, mode, client, {"X-CSRF-Token": sign_in(client, world.tokens[role])})


def _known_path_values(world: World, cred: Credential) -> dict[str, list[str]]:
    """Real ids of both institutions for each path parameter name (and a missing one)."""
    values: dict[str, list[str]] = {
        "incident_id": ["inc-missing"],
        "alert_id": ["alert-missing"],
        "token": ["not.a-token"],
        "name": ["swagger-ui.css", "missing.js"],
        "step": ["confirm"],
    }
    for inst in INSTITUTIONS:
        values["incident_id"] += world.ids[inst.id]["incidents"]
        values["alert_id"] += world.ids[inst.id]["alerts"]
    # An acknowledgement link is a capability of whoever holds it, whoever is signed in: only the
    # caller's own institution's links (or any for the SOC) belong in its requests.
    for inst in INSTITUTIONS:
        if cred.institution in (None, inst.id):
            values["token"] += world.ack_tokens[inst.id]
    return values


# Parameters that once gave a 500 or 503 (issue #10): each must be a 4xx with a message.
HOSTILE_QUERIES = [
    {"since": "1000000d"},
    {"after": "99999999999999999999999:x"},
    {"limit": "-1"},
    {"q": "a..b:x"},
    {"q": "@timestamp:abc"},
]


def _known_queries(world: World) -> list[dict[str, str]]:
    queries: list[dict[str, str]] = [{}, {"since": "30d"}, *HOSTILE_QUERIES]
    for inst in INSTITUTIONS:
        queries += [{"institution": inst.id, "since": "30d"}, {"q": inst.attacker_ip, "since": "30d"}]
    return queries


def _fill(path: str, params: dict[str, str]) -> str:
    for name, value in params.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def _send(world: World, cred: Credential, tally: Tally, method: str, url: str, **kwargs: Any) -> None:
    headers = {**kwargs.pop("headers", {}), **cred.headers}
    for dropped in ("Authorization", "Cookie"):
        if dropped not in cred.headers:
            headers.pop(dropped, None)
    response = cred.client.request(method, url, headers=headers, follow_redirects=False, **kwargs)
    tally.requests += 1
    tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
    where = f"{cred} {method} {url}"
    if response.status_code >= 500:
        tally.failures.append(f"{where}: {response.status_code} {response.text[:200]}")
    if cred.institution is None:
        return
    asked = f"{url} {kwargs}"
    answer = f"{response.text} {response.headers.get('location', '')}"
    for other in INSTITUTIONS:
        if other.id == cred.institution:
            continue
        for marker in world.markers(other.id):
            if marker in answer and marker not in asked:
                tally.failures.append(f"{where}: answer contains {other.id}'s {marker!r}")


def _sweep_operation(world: World, cred: Credential, tally: Tally, operation: Any, deadline: float) -> None:
    method = operation.method.upper()
    path_names = [p.name for p in operation.path_parameters] if hasattr(operation, "path_parameters") else []
    path_names = [n for n in path_names] or [s.strip("{}") for s in operation.path.split("/") if s.startswith("{")]
    known = _known_path_values(world, cred)
    # Known ids: each value of each path parameter (others at their first value), every known query on GETs.
    combos: list[dict[str, str]] = []
    for name in path_names:
        for value in known.get(name, ["x"]):
            combos.append({n: (value if n == name else known.get(n, ["x"])[0]) for n in path_names})
    combos = combos or [{}]
    for params in combos:
        url = _fill(operation.path, params)
        if method == "GET":
            for query in _known_queries(world):
                _send(world, cred, tally, method, url, params=query)
        else:
            _send(world, cred, tally, method, url)
    if time.monotonic() > deadline:
        return

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy())
    def generated(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="")
        url = kwargs.pop("url")
        kwargs.pop("method")
        kwargs.pop("cookies", None)
        for name in ("params", "headers"):
            kwargs.setdefault(name, {})
        _send(world, cred, tally, method, url, **kwargs)

    generated()


def test_no_answer_leaks_the_other_institution_or_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    described = full_description()
    published = world.app.openapi()["paths"]
    described_ops = {(m.upper(), p) for p, ops in described["paths"].items() for m in ops}
    # Every route the app answers is in the route table's lists, and every API route is published.
    for route in route_table(world.app):
        assert route.kind != "unknown", f"{route.path} is neither an API route, a page nor the static mount"
        if route.kind == "static":
            continue
        for method in route.methods:
            assert (method, route.path) in described_ops, f"{method} {route.path} is not in the route table"
            if route.kind == "api":
                assert method.lower() in published.get(route.path, {}), f"{method} {route.path} is undocumented"
    schema = schemathesis.openapi.from_dict(described)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Reads before changes; signing out last, so the session lasts the walk.
    operations.sort(key=lambda op: (op.path == "/logout", op.method.upper() != "GET", op.path))
    tally = Tally()
    started = time.monotonic()
    deadline = started + TIME_BUDGET
    for role in [inst.id for inst in INSTITUTIONS] + list(SOC_ROLES):
        for cred in _credentials(world, role):
            with cred.client:
                for operation in operations:
                    _sweep_operation(world, cred, tally, operation, deadline)
    elapsed = time.monotonic() - started
    with capsys.disabled():  # shown in every run, `make test` included
        print(
            f"\ntenancy sweep: {tally.requests} requests over {len(operations)} routes, "
            f"{len(INSTITUTIONS) + len(SOC_ROLES)} roles x {len(MODES)} credential kinds in {elapsed:.1f} s; "
            f"statuses {dict(sorted(tally.statuses.items()))}"
        )
    assert tally.requests >= len(operations) * 10 * 2
    assert not tally.failures, "\n".join(tally.failures[:30])


def test_an_institution_naming_the_others_address_learns_nothing_of_it(tmp_path: Path) -> None:
    """Institution A reports an attack from B's address: what A reads names nothing of B but the address A gave."""
    world = build_world(tmp_path)
    try:
        attacker = B.attacker_ip
        tags = ("attack.credential_access", "attack.t1110.001")
        from sentinel.detect.alerts import AlertCandidate, StoreAlertSink
        from sentinel.events import to_millis

        start = to_millis(datetime.now(UTC) - timedelta(minutes=5))
        StoreAlertSink(world.store).upsert(
            AlertCandidate(
                rule_id="6b1f7a9c-2d4e-4f8a-8b3c-0e5d7a1c9f02",
                rule_title="SSH brute force from one source",
                rule_kind="correlation",
                severity="high",
                description="",
                tags=tags,
                attack=tags,
                controls=(),
                institution_id=A.id,
                group_key={"source.ip": attacker},
                window_start_ms=start,
                window_end_ms=start + 60_000,
                first_seen_ms=start,
                last_seen_ms=start + 1000,
                count=12,
                sample_event_ids=[],
            )
        )
        world.response.runner.process_new_alerts()
        leaks = []
        with world.client() as client:
            for incident in client.get("/api/v1/incidents", headers=bearer(world.tokens[A.id])).json()["incidents"]:
                for path in (f"/api/v1/incidents/{incident['id']}", f"/api/v1/incidents/{incident['id']}/audit"):
                    text = client.get(path, headers=bearer(world.tokens[A.id])).text
                    leaks += [f"{path}: {m!r}" for m in world.markers(B.id) - {attacker} if m in text]
        assert not leaks, leaks
    finally:
        world.store.close()
