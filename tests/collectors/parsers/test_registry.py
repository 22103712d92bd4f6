"""The parser registry (collectors/parsers/__init__.py)."""

from __future__ import annotations

from typing import Any

from collectors import parsers


def test_programs_resolve_to_parsers() -> None:
    ssh = parsers.program_parser("sshd")
    assert ssh is not None and ssh.dataset == "system.auth"
    backend = parsers.program_parser("httpd/backend1")
    assert backend is not None and backend.dataset == "apache.error"
    assert parsers.program_parser("unknown-daemon") is None
    assert parsers.program_parser(None) is None


def test_register_program_adds_one_line() -> None:
    def parse(message: str, doc: dict[str, Any]) -> str | None:
        return "custom.log"

    parsers.register_program("custom.log", parse, "my-daemon-for-test")
    try:
        found = parsers.program_parser("my-daemon-for-test")
        assert found is not None and found.parse("x", {}) == "custom.log"
    finally:
        del parsers.PROGRAMS["my-daemon-for-test"]


def test_pam_parser_and_detection() -> None:
    assert parsers.pam_parser("sshd(pam_unix)", "check pass; user unknown") is not None
    assert parsers.pam_parser("vsftpd", "pam_unix(vsftpd:auth): authentication failure;") is not None
    assert parsers.pam_parser("vsftpd", "OK LOGIN: Client") is None
    assert parsers.detect_line_format("[Sun Dec 04 04:47:44 2005] [notice] x", None) is not None
    nginx = parsers.detect_line_format("2012/04/09 11:53:29 [error] 1#0: x", None)
    assert nginx is not None and nginx[0] == "nginx.error"
    access = parsers.detect_line_format('1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1', None)
    assert access is not None and access[0] == "apache.access"
    assert parsers.detect_line_format("plain words", None) is None


def test_web_servers_through_syslog() -> None:
    nginx = parsers.program_parser("nginx")
    assert nginx is not None
    doc: dict[str, Any] = {"event": {}, "log": {}}
    line = '1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1'
    assert nginx.parse(line, doc) == "nginx.access"
    doc = {"event": {}, "log": {}}
    msg = "host nginx: 2025/09/07 21:20:40 [error] 1#1: *2 PAM: user 'u' - not authenticated, client: 192.0.2.120, server: w"
    assert nginx.parse(msg, doc) == "nginx.error"
    assert doc["source"]["ip"] == "192.0.2.120"
    assert doc["user"]["name"] == "u"
    httpd = parsers.program_parser("apache2")
    assert httpd is not None
    doc = {"event": {}, "log": {}}
    assert (
        httpd.parse("[authz_core:error] [pid 1] [client 192.0.2.1:58585] AH01630: client denied", doc) == "apache.error"
    )
    assert doc["source"]["port"] == 58585
