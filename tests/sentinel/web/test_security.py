"""HTTP security (#10 items 3, 4, 9): sessions, CSRF, content types, body limit, headers, sign-in throttling."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentinel.app import create_app
from sentinel.auth import Role, create_token, hash_token, revoke_tokens
from sentinel.sessions import COLLECTION as SESSIONS
from sentinel.sessions import SessionStore
from sentinel.store.base import Scope
from sentinel.web.deps import SESSION_COOKIE
from tests.conftest import PROJECT_ROOT
from tests.support.web import A, B, World, bearer, build_world, sign_in


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # One world for the module: tests that end sessions or revoke tokens use their own.
    w = build_world(tmp_path_factory.mktemp("security"))
    yield w
    w.store.close()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with world.client() as c:
        yield c


def _sessions(world: World, token: str) -> list[str]:
    found = world.store.find_documents(SESSIONS, Scope.everything(), limit=1000)
    return [d.id for d in found if d.body["token_hash"] == hash_token(token)]


def _own_token(world: World, name: str, role: Role = Role.SOC_ANALYST) -> str:
    return create_token(world.store, name=name, role=role)


# sessions -----------------------------------------------------------------------------------
def test_the_cookie_holds_a_random_session_id_stored_hashed_never_the_token(world: World, client: TestClient) -> None:
    token = _own_token(world, "cookie-check")
    sign_in(client, token)
    cookie = client.cookies[SESSION_COOKIE]
    assert token not in cookie and hash_token(token) not in cookie
    assert len(cookie) >= 40  # 256 random bits
    stored = [
        d
        for d in world.store.find_documents(SESSIONS, Scope.everything(), limit=1000)
        if d.id in _sessions(world, token)
    ]
    assert len(stored) == 1
    assert cookie not in str(stored[0].body) and stored[0].id != cookie and token not in str(stored[0].body)


def test_sign_out_ends_the_session_on_the_server(world: World, client: TestClient) -> None:
    token = _own_token(world, "sign-out-check")
    csrf = sign_in(client, token)
    cookie = client.cookies[SESSION_COOKIE]
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).headers["location"] == "/login"
    assert _sessions(world, token) == []
    # The old cookie replayed (as a thief would) is refused.
    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/api/v1/whoami").status_code == 401


def test_revoking_the_token_ends_its_sessions(world: World, client: TestClient) -> None:
    token = _own_token(world, "revoke-check")
    sign_in(client, token)
    assert client.get("/api/v1/whoami").status_code == 200
    assert revoke_tokens(world.store, "revoke-check") == 1
    assert _sessions(world, token) == []
    assert client.get("/api/v1/whoami").status_code == 401


def test_a_session_expires(world: World) -> None:
    now = [datetime.now(UTC)]
    sessions = SessionStore(world.store, ttl=timedelta(hours=1), clock=lambda: now[0])
    token = _own_token(world, "expiry-check")
    session_id, _ = sessions.open(token)
    assert sessions.resolve(session_id) is not None
    now[0] += timedelta(hours=1, seconds=1)
    assert sessions.resolve(session_id) is None
    assert _sessions(world, token) == []  # removed when found expired


# CSRF ---------------------------------------------------------------------------------------
def test_cookie_authenticated_changes_need_the_sessions_csrf_token(world: World, client: TestClient) -> None:
    incident = world.ids[A.id]["incidents"][0]
    url = f"/api/v1/incidents/{incident}/comments"
    csrf = sign_in(client, world.tokens["soc_analyst"])
    assert client.post(url, json={"text": "no token"}).status_code == 403
    assert client.post(url, json={"text": "wrong"}, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    assert client.post(url, json={"text": "right"}, headers={"X-CSRF-Token": csrf}).status_code == 200
    # Forms: the field, bound to this session (another session's token does not do).
    with world.client() as other:
        other_csrf = sign_in(other, world.tokens["soc_manager"])
    page = f"/incidents/{incident}/comment"
    assert client.post(page, data={"text": "t", "csrf": other_csrf}, follow_redirects=False).status_code == 403
    assert client.post(page, data={"text": "t", "csrf": csrf}, follow_redirects=False).status_code == 303


def test_bearer_requests_need_no_csrf_token(world: World, client: TestClient) -> None:
    incident = world.ids[A.id]["incidents"][0]
    answer = client.post(
        f"/api/v1/incidents/{incident}/comments", json={"text": "from a script"}, headers=bearer(world.tokens["admin"])
    )
    assert answer.status_code == 200


# ingest: content types and size ------------------------------------------------------------
@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("application/x-ndjson", 200),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
        (None, 415),
    ],
)
def test_ingest_accepts_only_json(world: World, client: TestClient, content_type: str | None, status: int) -> None:
    headers = bearer(world.tokens[A.id])
    if content_type:
        headers["Content-Type"] = content_type
    answer = client.post("/api/v1/ingest", content=b'{"message": "hello"}', headers=headers)
    assert answer.status_code == status, answer.text
    if status == 415:
        assert "send JSON" in answer.json()["error"]


def test_an_oversized_body_is_refused_before_it_is_read(world: World, client: TestClient) -> None:
    headers = {**bearer(world.tokens[A.id]), "Content-Type": "application/json"}
    declared = client.post("/api/v1/ingest", content=b"[" + b" " * (10 * 1024 * 1024) + b"]", headers=headers)
    assert declared.status_code == 413 and "over" in declared.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"["
        for _ in range(12):
            yield b" " * (1024 * 1024)
        yield b"]"

    streamed = client.post("/api/v1/ingest", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    # Other routes have a smaller limit (1 MiB) for forms and commands.
    big_form = client.post("/login", data={"token": "x" * (2 * 1024 * 1024), "csrf": "x"})
    assert big_form.status_code == 413


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1))


@pytest.mark.slow
def test_a_huge_streamed_body_costs_the_server_no_more_than_its_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real server process gets a 256 MiB chunked body: it answers 413 after about the 10 MiB
    limit, closes, and its peak memory grows by far less than the body."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.web_process", str(tmp_path / "data")],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port_text, token = proc.stdout.readline().split()
        port = int(port_text)
        with socket.create_connection(("127.0.0.1", port)) as warm:
            warm.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            warm.recv(4096)
        before = _peak_rss_kib(proc.pid)
        sent = 0
        answer = b""
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                b"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b" " * (256 * 1024)
            framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            try:
                for _ in range(1024):  # 256 MiB
                    sock.sendall(framed)
                    sent += len(chunk)
                sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server stopped reading and closed: expected
            try:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    answer += data
            except ConnectionResetError:
                pass
        after = _peak_rss_kib(proc.pid)
        grown_mib = (after - before) / 1024
        with capsys.disabled():
            print(
                f"\noversized body: sent {sent / 2**20:.0f} MiB before the server closed; peak RSS {before / 1024:.0f} MiB -> {after / 1024:.0f} MiB (+{grown_mib:.1f} MiB)"
            )
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent < 128 * 2**20  # it stopped reading long before the end
        assert grown_mib < 48  # the limit (10 MiB) plus buffers, not the body
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


# headers ------------------------------------------------------------------------------------
def test_every_answer_carries_the_security_headers(world: World, client: TestClient) -> None:
    csrf = sign_in(client, world.tokens["soc_analyst"])
    answers = {
        "page": client.get("/"),
        "login": client.get("/login"),
        "api": client.get("/api/v1/whoami"),
        "api 401": client.get("/api/v1/whoami", headers={"Authorization": "Bearer nope"}),
        "page 404": client.get("/incidents/missing"),
        "no route": client.get("/no/such/thing"),
        "static": client.get("/static/sentinel.css"),
        "healthz": client.get("/healthz"),
        "413": client.post("/language", data={"language": "x" * (2 * 1024 * 1024), "csrf": csrf}),
        "422": client.get("/api/v1/events", params={"limit": "many"}),
    }
    for name, answer in answers.items():
        csp = answer.headers.get("content-security-policy", "")
        script_src = re.search(r"script-src ([^;]*)", csp)
        assert script_src is not None and "unsafe-inline" not in script_src.group(1), name
        assert "frame-ancestors 'none'" in csp, name
        assert answer.headers["x-frame-options"] == "DENY", name
        assert answer.headers["x-content-type-options"] == "nosniff", name
        assert answer.headers["referrer-policy"] == "no-referrer", name
        if name != "static":
            assert answer.headers["cache-control"] == "no-store", name


# sign-in -----------------------------------------------------------------------------------
def test_failed_sign_ins_are_logged_and_throttled_per_address(world: World, caplog: pytest.LogCaptureFixture) -> None:
    # An app of its own: its throttle must not hold back the other tests' sign-ins.
    app = create_app(world.settings, store=world.store, inventory=world.inventory, response=world.response)
    client = TestClient(app)

    def attempt(token: str) -> int:
        nonce = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert nonce is not None
        return client.post("/login", data={"token": token, "csrf": nonce.group(1)}, follow_redirects=False).status_code

    with caplog.at_level(logging.WARNING, logger="sentinel.web.security.throttle"):
        unknown = [attempt(f"snt_guess{n}") for n in range(5)]
    assert unknown == [401] * 5
    assert sum("failed sign-in from testclient" in r.getMessage() for r in caplog.records) == 5
    # Now even the right token waits: the address is throttled, not the token.
    assert attempt(world.tokens["soc_analyst"]) == 429


def test_one_answer_for_wrong_and_malformed_tokens(client: TestClient) -> None:
    pages = []
    for token in ("snt_" + "a" * 43, "not-even-a-token"):
        nonce = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert nonce is not None
        page = client.post("/login", data={"token": token, "csrf": nonce.group(1)}).text
        pages.append(re.search(r'class="error"[^>]*>([^<]*)<', page).group(1))  # type: ignore[union-attr]
    assert pages[0] == pages[1]


def test_unknown_and_foreign_institutions_get_the_same_answer(world: World, client: TestClient) -> None:
    headers = bearer(world.tokens[A.id])
    foreign = client.get("/api/v1/events", params={"institution": B.id}, headers=headers)
    unknown = client.get("/api/v1/events", params={"institution": "inst-zz"}, headers=headers)
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json()["error"].replace(B.id, "?") == unknown.json()["error"].replace("inst-zz", "?")


# bad parameters -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/events", {"since": "1000000d"}),
        ("/api/v1/events", {"after": "99999999999999999999999:x"}),
        ("/api/v1/events/count", {"since": "99999999999w"}),
        ("/events", {"since": "1000000d"}),
    ],
)
def test_bad_parameters_are_4xx_with_a_message(
    world: World, client: TestClient, path: str, params: dict[str, str]
) -> None:
    answer = client.get(path, params=params, headers=bearer(world.tokens["soc_analyst"]))
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.text.strip()


@pytest.mark.parametrize("q", ["a..b:x", "@timestamp:abc"])
def test_query_parse_errors_are_400(world: World, client: TestClient, q: str) -> None:
    answer = client.get("/api/v1/events", params={"q": q}, headers=bearer(world.tokens["soc_analyst"]))
    assert answer.status_code == 400, answer.text
