"""Access logs: Common and Combined Log Format."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collectors.parsers import web_access


def blank() -> dict[str, Any]:
    return {"event": {}, "log": {}}


def test_combined_line() -> None:
    doc = blank()
    line = (
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1&b=2 HTTP/1.0" 200 2326 '
        '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
    )
    ts = web_access.parse_access(line, doc)
    assert ts is not None and ts.astimezone(UTC) == datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)
    assert doc["source"]["ip"] == "127.0.0.1"
    assert doc["user"]["name"] == "frank"
    assert doc["http"] == {
        "request": {"method": "GET", "referrer": "http://www.example.com/start.html"},
        "version": "1.0",
        "response": {"status_code": 200, "body": {"bytes": 2326}},
    }
    assert doc["url"] == {"original": "/apache_pb.gif?a=1&b=2", "path": "/apache_pb.gif", "query": "a=1&b=2"}
    assert doc["user_agent"]["original"] == "Mozilla/4.08 [en] (Win98; I ;Nav)"
    assert doc["event"]["outcome"] == "success"


def test_common_line_with_dash_size_and_escaped_quote() -> None:
    doc = blank()
    line = '2001:db8::7 - - [01/Jan/2024:00:00:00 +0300] "GET /a\\"b HTTP/1.1" 404 -'
    ts = web_access.parse_access(line, doc)
    assert ts is not None and ts.utcoffset() is not None
    assert doc["source"]["ip"] == "2001:db8::7"
    assert doc["http"]["response"] == {"status_code": 404}
    assert doc["event"]["outcome"] == "failure"
    assert "user" not in doc


def test_vhost_prefix_and_garbage_request() -> None:
    doc = blank()
    line = 'www.example.org:443 198.51.100.4 - - [01/Jan/2024:00:00:00 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"'
    assert web_access.parse_access(line, doc) is not None
    assert doc["destination"]["domain"] == "www.example.org"
    assert doc["source"]["ip"] == "198.51.100.4"
    assert "url" not in doc
    assert web_access.parse_access("not an access line", blank()) is None
    assert web_access.parse_access('1.2.3.4 - - [99/Foo/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1', blank()) is None


def test_dataset_from_source() -> None:
    assert web_access.dataset_for("/var/log/nginx/access.log") == "nginx.access"
    assert web_access.dataset_for("/var/log/httpd/access_log") == "apache.access"
    assert web_access.dataset_for(None, "nginx") == "nginx.access"


def test_refused_credentials_are_a_failed_login_and_a_challenge_is_not() -> None:
    doc = blank()
    web_access.parse_access(
        '203.0.113.5 - admin [12/Jan/2026:10:00:00 +0300] "GET /manager/html HTTP/1.1" 401 2473', doc
    )
    assert doc["event"] == {
        "action": "http_auth_failed",
        "category": ["authentication", "web"],
        "type": ["start"],
        "outcome": "failure",
    }
    assert doc["user"]["name"] == "admin" and doc["source"]["ip"] == "203.0.113.5"
    challenge = blank()
    web_access.parse_access(
        '203.0.113.5 - - [12/Jan/2026:10:00:00 +0300] "GET /manager/html HTTP/1.1" 401 2473', challenge
    )
    assert challenge["event"]["action"] == "http_request" and challenge["event"]["outcome"] == "failure"


def test_a_time_without_its_zone_is_local() -> None:
    doc = blank()
    ts = web_access.parse_access('192.0.2.12 - user1 [27/Jun/2013:11:55:44] "GET /knocking/ HTTP/1.1" 200 266', doc)
    assert ts == datetime(2013, 6, 27, 11, 55, 44)  # naive: the institution's zone applies
