"""Cleartext credentials: Telnet, FTP USER/PASS, HTTP Basic; the password never reaches an event."""

from __future__ import annotations

import base64

import orjson

from collectors.sensor.cleartext_creds import basic_auth_user, telnet_user_data
from collectors.sensor.engine import SensorEngine
from sentinel.config import SensorSettings
from tests.collectors.sensor.frames import run, tcp_data

CLIENT, SERVER = "10.40.0.5", "10.40.0.80"
SECRET = "Tr0ub4dor&3-sekret"


def _engine() -> SensorEngine:
    return SensorEngine(SensorSettings(detectors=["cleartext_creds"]))


def _no_secret(events: list) -> None:
    for event in events:
        blob = orjson.dumps(event.doc)
        assert SECRET.encode() not in blob
        assert base64.b64encode(f"alice:{SECRET}".encode()) not in blob


def test_ftp_user_and_pass() -> None:
    frames = [
        (1.0, tcp_data(CLIENT, SERVER, 21, b"USER alice\r\n")),
        (1.1, tcp_data(CLIENT, SERVER, 21, f"PASS {SECRET}\r\n".encode())),
    ]
    [event] = run(_engine(), frames)
    assert event.get("event.action") == "cleartext_credentials"
    assert event.get("network.protocol") == "ftp"
    assert event.get("user.name") == "alice"
    assert (event.get("source.ip"), event.get("destination.ip"), event.get("destination.port")) == (CLIENT, SERVER, 21)
    assert event.get("threat.technique.id") == ["T1040"]
    _no_secret([event])


def test_anonymous_ftp_is_not_a_credential() -> None:
    frames = [
        (1.0, tcp_data(CLIENT, SERVER, 21, b"USER anonymous\r\n")),
        (1.1, tcp_data(CLIENT, SERVER, 21, b"PASS guest@example.org\r\n")),
    ]
    assert run(_engine(), frames) == []


def test_http_basic_keeps_user_not_password() -> None:
    token = base64.b64encode(f"alice:{SECRET}".encode()).decode()
    request = f"GET /admin/panel?token=abc HTTP/1.1\r\nHost: intranet\r\nAuthorization: Basic {token}\r\n\r\n"
    frames = [(5.0, tcp_data(CLIENT, SERVER, 8080, request.encode()))]
    frames.append((6.0, tcp_data(CLIENT, SERVER, 8080, request.encode())))  # repeated: one finding per window
    frames.append((7.0, tcp_data(CLIENT, SERVER, 8080, b"GET / HTTP/1.1\r\nHost: intranet\r\n\r\n")))
    [event] = run(_engine(), frames)
    assert event.get("network.protocol") == "http"
    assert event.get("user.name") == "alice"
    assert event.get("url.path") == "/admin/panel"  # the query string may hold secrets: dropped
    assert event.get("http.request.method") == "GET"
    _no_secret([event])


def test_http_on_an_unwatched_port_is_ignored() -> None:
    token = base64.b64encode(b"alice:pw").decode()
    frame = tcp_data(CLIENT, SERVER, 9443, f"GET / HTTP/1.1\r\nAuthorization: Basic {token}\r\n\r\n".encode())
    assert run(_engine(), [(1.0, frame)]) == []


def test_telnet_login_but_not_bare_negotiation() -> None:
    negotiation = bytes([255, 251, 24, 255, 251, 31, 255, 250, 31, 0, 80, 0, 24, 255, 240])
    assert telnet_user_data(negotiation) == b""
    frames = [(1.0, tcp_data(CLIENT, SERVER, 23, negotiation)), (2.0, tcp_data(CLIENT, SERVER, 23, b"root\r\n"))]
    [event] = run(_engine(), frames)
    assert event.get("network.protocol") == "telnet"
    assert event.get("event.start") == "1970-01-01T00:00:02.000Z"  # the typed login, not the negotiation


def test_basic_auth_user_rejects_garbage() -> None:
    assert basic_auth_user(b"!!!") is None
    assert basic_auth_user(base64.b64encode(b"no-colon")) is None
    assert basic_auth_user(base64.b64encode(b"bob:x")) == "bob"
