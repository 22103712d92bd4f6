"""pam_unix messages from any program."""

from __future__ import annotations

from typing import Any

from collectors.parsers import pam


def blank() -> dict[str, Any]:
    return {"event": {}, "log": {}}


def test_authentication_failure_with_host_name_and_user() -> None:
    doc = blank()
    body = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=h.example.org  user=root"
    assert pam.parse(body, doc) == "system.auth"
    assert doc["source"] == {"address": "h.example.org", "domain": "h.example.org"}
    assert doc["user"] == {"name": "root"}
    assert doc["event"]["outcome"] == "failure"


def test_rhost_injection_in_user_names() -> None:
    doc = blank()
    pam.parse(
        "pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test rhost=192.0.2.151 "
        "rhost=192.0.2.1",
        doc,
    )
    assert doc["source"]["ip"] == "192.0.2.1"
    assert doc["user"]["name"] == "test rhost=192.0.2.151"
    doc = blank()
    pam.parse(
        "pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.2 "
        "user=test rhost=192.0.2.152",
        doc,
    )
    assert doc["source"]["ip"] == "192.0.2.2"
    assert doc["user"]["name"] == "test rhost=192.0.2.152"


def test_prefix_forms() -> None:
    for message in (
        "(pam_unix) authentication failure; logname= uid=0 euid=0 tty= ruser= rhost=66.232.129.62  user=mark",
        "pam_unix: authentication failure; logname= uid=0 euid=0 tty= ruser= rhost=66.232.129.62  user=mark",
    ):
        doc = blank()
        assert pam.parse(message, doc) == "system.auth"
        assert doc["source"]["ip"] == "66.232.129.62"
        assert doc["user"]["name"] == "mark"
    assert pam.parse("not pam at all", blank()) is None


def test_sessions() -> None:
    doc = blank()
    pam.parse("pam_unix(su-l:session): session opened for user root by alice(uid=1000)", doc)
    assert doc["event"]["action"] == "session_opened"
    assert doc["event"]["type"] == ["start"]
    assert doc["user"]["name"] == "root"
    doc = blank()
    assert pam.parse_body("session closed for user cyrus", doc) == "system.auth"
    assert doc["event"]["action"] == "session_closed"
    assert pam.parse_body("something else", blank()) is None
