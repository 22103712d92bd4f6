"""sshd messages: actions, outcomes, addresses, and resistance to injected user names."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.parsers import sshd


def parse(message: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"event": {}, "log": {}}
    assert sshd.parse(message, doc) == "system.auth"
    return doc


@pytest.mark.parametrize(
    ("message", "action", "outcome", "ip", "user"),
    [
        ("Accepted password for alice from 10.0.0.5 port 50000 ssh2", "ssh_login", "success", "10.0.0.5", "alice"),
        (
            "Accepted publickey for git from 2001:db8::1 port 22 ssh2: ED25519 SHA256:abc",
            "ssh_login",
            "success",
            "2001:db8::1",
            "git",
        ),
        ("Failed password for root from 203.0.113.9 port 1 ssh2", "ssh_login", "failure", "203.0.113.9", "root"),
        (
            "Failed password for invalid user admin from 203.0.113.9 port 1 ssh2",
            "ssh_login",
            "failure",
            "203.0.113.9",
            "admin",
        ),
        (
            "Failed publickey for bob from 203.0.113.9 port 1 ssh2: RSA SHA256:x",
            "ssh_login",
            "failure",
            "203.0.113.9",
            "bob",
        ),
        (
            "Failed keyboard-interactive/pam for invalid user j from 203.0.113.9 port 3 ssh2",
            "ssh_login",
            "failure",
            "203.0.113.9",
            "j",
        ),
        ("Invalid user webmaster from 173.234.31.186", "invalid_user", "failure", "173.234.31.186", "webmaster"),
        ("Invalid user  from 192.0.2.68 port 34916", "invalid_user", "failure", "192.0.2.68", None),  # empty name
        ("input_userauth_request: invalid user test9 [preauth]", "invalid_user", "failure", None, "test9"),
        ("Connection closed by 192.0.2.212 [preauth]", "ssh_disconnect", "failure", "192.0.2.212", None),
        ("Connection closed by 192.0.2.5", "ssh_disconnect", None, "192.0.2.5", None),
        (
            "Connection closed by authenticating user root 192.0.2.10 port 46038 [preauth]",
            "ssh_disconnect",
            "failure",
            "192.0.2.10",
            "root",
        ),
        (
            "Received disconnect from 139.59.209.18: 11: Bye Bye [preauth]",
            "ssh_disconnect",
            "failure",
            "139.59.209.18",
            None,
        ),
        (
            "Received disconnect from 198.51.100.76 port 58846:11: Bye Bye [preauth]",
            "ssh_disconnect",
            "failure",
            "198.51.100.76",
            None,
        ),
        ("Received disconnect from 10.0.0.9: 11: disconnected by user", "ssh_disconnect", None, "10.0.0.9", None),
        (
            "reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
            "ssh_break_in_attempt",
            "failure",
            "173.234.31.186",
            None,
        ),
        (
            "Did not receive identification string from 69.61.56.114",
            "ssh_no_identification",
            "failure",
            "69.61.56.114",
            None,
        ),
        (
            "error: maximum authentication attempts exceeded for root from 61.0.0.1 port 49940 ssh2 [preauth]",
            "ssh_max_auth_attempts",
            "failure",
            "61.0.0.1",
            "root",
        ),
        (
            "Disconnecting: Too many authentication failures for admin [preauth]",
            "ssh_max_auth_attempts",
            "failure",
            None,
            "admin",
        ),
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root",
            "authentication_failure",
            "failure",
            "1.2.3.4",
            "root",
        ),
        (
            "User root from 46.45.128.3 not allowed because listed in DenyUsers",
            "ssh_login_denied",
            "failure",
            "46.45.128.3",
            "root",
        ),
        ("ROOT LOGIN REFUSED FROM ::ffff:1.2.3.4", "ssh_login_denied", "failure", "1.2.3.4", None),
        (
            "Unable to negotiate with 192.0.2.1 port 55419: no matching cipher found. Their offer: aes [preauth]",
            "ssh_negotiation_failed",
            "failure",
            "192.0.2.1",
            None,
        ),
        (
            "fatal: Timeout before authentication for 192.0.2.14 port 55555",
            "ssh_auth_timeout",
            "failure",
            "192.0.2.14",
            None,
        ),
        (
            "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=183.62.140.253  user=root",
            "authentication_failure",
            "failure",
            "183.62.140.253",
            "root",
        ),
    ],
)
def test_sshd_messages(message: str, action: str, outcome: str | None, ip: str | None, user: str | None) -> None:
    doc = parse(message)
    assert doc["event"]["action"] == action
    assert doc["event"].get("outcome") == outcome
    assert doc.get("source", {}).get("ip") == ip
    assert doc.get("user", {}).get("name") == user


@pytest.mark.parametrize(
    ("message", "ip", "user"),
    [
        # A user name may carry "from A port P ssh2": the address is the one sshd wrote last.
        (
            "Failed password for invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2",
            "127.0.0.1",
            "from 10.10.1.1",
        ),
        (
            "Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2",
            "127.0.0.1",
            "test from 10.10.1.2 port 55555 ssh2",
        ),
        (
            "Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2",
            "127.0.0.1",
            "test",
        ),
        (
            "Connection closed by authenticating user test 127.0.0.1 port 12345 192.0.2.11 port 46039 [preauth]",
            "192.0.2.11",
            "test 127.0.0.1 port 12345",
        ),
    ],
)
def test_injected_user_names_do_not_move_the_address(message: str, ip: str, user: str) -> None:
    doc = parse(message)
    assert doc["source"]["ip"] == ip
    assert doc["user"]["name"] == user


def test_host_names_go_to_source_domain() -> None:
    doc = parse("User allena from example.com not allowed because not in any group")
    assert doc["source"] == {"address": "example.com", "domain": "example.com"}


def test_break_in_keeps_the_claimed_name() -> None:
    doc = parse(
        "reverse mapping checking getaddrinfo for ns.Example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!"
    )
    assert doc["source"]["domain"] == "ns.example.com"
    assert doc["event"]["category"] == ["intrusion_detection"]


def test_repeated_message_is_unwrapped_with_a_count() -> None:
    doc = parse("message repeated 2 times: [ Failed password for root from 183.62.140.253 port 41078 ssh2]")
    assert doc["event"]["count"] == 2
    assert doc["event"]["action"] == "ssh_login"
    assert doc["source"]["ip"] == "183.62.140.253"


def test_error_prefix_sets_log_level_and_unknown_lines_stay_auth() -> None:
    doc = parse("error: kex_exchange_identification: Connection closed by remote host")
    assert doc["log"]["level"] == "error"
    assert "action" not in doc["event"]
    assert "source" not in doc


def test_connection_from_has_both_ends() -> None:
    doc = parse("Connection from 192.0.2.3 port 39678 on 192.168.1.9 port 22")
    assert doc["source"]["port"] == 39678
    assert doc["destination"] == {"address": "192.168.1.9", "ip": "192.168.1.9", "port": 22}
