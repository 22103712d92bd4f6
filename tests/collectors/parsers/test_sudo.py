"""sudo commands and refusals."""

from __future__ import annotations

from typing import Any

from collectors.parsers import sudo


def parse(message: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"event": {}, "log": {}}
    assert sudo.parse(message, doc) == "system.auth"
    return doc


def test_command() -> None:
    doc = parse("  alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -a")
    assert doc["user"] == {"name": "alice", "effective": {"name": "root"}}
    assert doc["system"]["auth"]["sudo"] == {"command": "/usr/bin/id -a", "tty": "pts/0", "pwd": "/home/alice"}
    assert doc["event"]["action"] == "sudo_command"
    assert doc["event"]["outcome"] == "success"


def test_refusals() -> None:
    doc = parse("mallory : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh")
    assert doc["event"]["action"] == "sudo_denied"
    assert doc["event"]["outcome"] == "failure"
    assert doc["event"]["reason"] == "3 incorrect password attempts"
    doc = parse("eve : user NOT in sudoers ; TTY=pts/2 ; PWD=/ ; USER=root ; COMMAND=/bin/bash")
    assert doc["event"]["reason"] == "user NOT in sudoers"


def test_pam_lines_from_sudo() -> None:
    doc = parse(
        "pam_unix(sudo:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=bob"
    )
    assert doc["event"]["action"] == "authentication_failure"
    assert "source" not in doc
    other: dict[str, Any] = {"event": {}, "log": {}}
    assert sudo.parse("unrelated text", other) is None
