"""nginx and Apache error logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from collectors.parsers import web_error


def blank() -> dict[str, Any]:
    return {"event": {}, "log": {}}


def test_apache_22_line() -> None:
    doc = blank()
    ts = web_error.parse_apache_error(
        "[Sun Dec 04 06:01:30 2005] [error] [client 216.216.185.130] Directory index forbidden by rule: /var/www/html/",
        doc,
    )
    assert ts == datetime(2005, 12, 4, 6, 1, 30)
    assert doc["log"]["level"] == "error"
    assert doc["source"]["ip"] == "216.216.185.130"
    assert doc["message"] == "Directory index forbidden by rule: /var/www/html/"


def test_apache_24_line_with_module_pid_port_and_code() -> None:
    doc = blank()
    line = (
        "[Sat Jul 20 21:37:32.266605 2013] [auth_basic:error] [pid 17512:tid 140123079128832] "
        "[client [2001:db8::80da:af6b:8b2c]:51386] AH01618: user bob not found: /basic/file"
    )
    ts = web_error.parse_apache_error(line, doc)
    assert ts == datetime(2013, 7, 20, 21, 37, 32, 266605)
    assert doc["source"] == {"address": "2001:db8::80da:af6b:8b2c", "ip": "2001:db8::80da:af6b:8b2c", "port": 51386}
    assert doc["process"] == {"pid": 17512, "thread": {"id": 140123079128832}}
    assert doc["error"] == {"code": "AH01618"}
    assert doc["apache"] == {"error": {"module": "auth_basic"}}
    assert doc["user"]["name"] == "bob"


def test_apache_first_client_wins_over_text_in_the_message() -> None:
    doc = blank()
    web_error.parse_apache_error(
        "[Sat Jun 01 02:17:42 2013] [error] [client 192.168.33.1] File does not exist: "
        "/srv/http/site/[client 192.168.0.1] user root not found",
        doc,
    )
    assert doc["source"]["ip"] == "192.168.33.1"


def test_nginx_error_line() -> None:
    doc = blank()
    line = (
        '2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found in "/var/www/.htpasswd", '
        'client: 192.0.43.10, server: www.myhost.com, request: "GET /admin?x=1 HTTP/1.1", host: "www.myhost.com"'
    )
    ts = web_error.parse_nginx_error(line, doc)
    assert ts == datetime(2012, 4, 9, 11, 53, 29)
    assert doc["source"]["ip"] == "192.0.43.10"
    assert doc["destination"] == {"domain": "www.myhost.com"}
    assert doc["user"]["name"] == "xyz"
    assert doc["url"]["path"] == "/admin"
    assert doc["http"]["request"]["method"] == "GET"
    assert doc["message"] == 'user "xyz" was not found in "/var/www/.htpasswd"'
    assert doc["log"]["level"] == "error"


def test_nginx_injected_client_in_user_name() -> None:
    doc = blank()
    line = (
        '2014/04/03 22:20:40 [error] 30708#0: *3 user "test": password mismatch, client: 127.0.0.1, server: test, '
        'request: "GET / HTTP/1.1", host: "localhost:8443"": was not found in "/etc/nginx/.htpasswd", '
        'client: 192.0.2.2, server: , request: "GET / HTTP/1.1", host: "localhost:8443"'
    )
    web_error.parse_nginx_error(line, doc)
    assert doc["source"]["ip"] == "192.0.2.2"


def test_not_error_lines() -> None:
    assert web_error.parse_nginx_error("hello", blank()) is None
    assert web_error.parse_apache_error("[Foo Bar 99 00:00:00 2005] [error] x", blank()) is None


AUTH_FAILURE = {
    "action": "http_auth_failed",
    "category": ["authentication", "web"],
    "type": ["start"],
    "outcome": "failure",
}


def test_apache_basic_and_digest_auth_failures_are_failed_logins() -> None:
    lines = [
        # 2.4, with codes: user not found, password mismatch, digest realm and nonce tampering
        "[Sat Jul 20 21:37:32 2013] [auth_basic:error] [pid 1] [client 192.0.2.1:51386] AH01618: user bob not found: /x",
        '[Sat Jul 20 21:37:33 2013] [auth_basic:error] [pid 1] [client 192.0.2.1:51387] AH01617: user bob: authentication failure for "/x": Password Mismatch',
        "[Sat Jul 20 21:37:34 2013] [auth_digest:error] [pid 1] [client 192.0.2.1:51388] AH01792: user bob: password mismatch: /d",
        "[Sat Jul 20 21:37:35 2013] [auth_digest:error] [pid 1] [client 192.0.2.1:51389] AH01788: realm mismatch - got `a' but expected `b'",
        # 2.2, without codes
        "[Sun Dec 04 06:01:30 2005] [error] [client 192.0.2.1] user bob not found: /basic/file",
        "[Sun Dec 04 06:01:31 2005] [error] [client 192.0.2.1] Digest: user bob: password mismatch: /digest/x",
        "[Sun Dec 04 06:01:32 2005] [error] [client 192.0.2.1] client used wrong authentication scheme: /basic/file",
    ]
    for line in lines:
        doc = blank()
        assert web_error.parse_apache_error(line, doc) is not None, line
        assert doc["event"] == AUTH_FAILURE, line
        assert doc["source"]["ip"] == "192.0.2.1"


def test_apache_refused_access_is_not_a_failed_login() -> None:
    for line in (
        "[Sat Jul 20 21:37:32 2013] [authz_core:error] [pid 1] [client 192.0.2.1:5] AH01630: client denied by server configuration: /x",
        "[Sun Dec 04 06:01:30 2005] [error] [client 192.0.2.1] client denied by server configuration: /x",
    ):
        doc = blank()
        web_error.parse_apache_error(line, doc)
        assert doc["event"] == {
            "action": "http_access_denied",
            "category": ["web"],
            "type": ["access"],
            "outcome": "failure",
        }


def test_nginx_basic_auth_failures_are_failed_logins() -> None:
    for line, user in (
        (
            '2026/01/12 11:53:29 [error] 2865#0: *1 user "xyz" was not found in "/etc/nginx/.htpasswd", client: 192.0.2.1, server: w',
            "xyz",
        ),
        ('2026/01/12 11:53:36 [error] 2865#0: *1 user "xyz": password mismatch, client: 192.0.2.1, server: w', "xyz"),
        (
            "2026/01/12 11:53:37 [error] 1#1: *2 PAM: user 'u' - not authenticated: Authentication failure, client: 192.0.2.1, server: w",
            "u",
        ),
    ):
        doc = blank()
        web_error.parse_nginx_error(line, doc)
        assert doc["event"] == AUTH_FAILURE and doc["user"]["name"] == user and doc["source"]["ip"] == "192.0.2.1"
    doc = blank()
    web_error.parse_nginx_error("2026/01/12 11:53:38 [error] 1#1: *3 open() failed, client: 192.0.2.1, server: w", doc)
    assert doc["event"]["action"] == "http_error" and "outcome" not in doc["event"]
