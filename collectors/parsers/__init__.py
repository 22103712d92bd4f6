"""The parser registry: which parser reads which syslog program and which whole-line file format.

To add a parser: write ``collectors/parsers/<name>.py`` with ``parse(message, doc) -> dataset | None``
and add one line to ``PROGRAMS`` below (or to ``LINE_FORMATS`` for a file format with its own
timestamp). ``parse`` fills ECS fields into the event document it is given and returns the dataset
when it recognised the message; the registered dataset applies when it returns None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collectors.parsers import auditd, cron, firewall, generic, pam, sshd, su, sudo, web_access, web_error

MessageParser = Callable[[str, dict[str, Any]], "str | None"]
# A whole-line parser fills the document and returns the line's timestamp (naive = the sender's
# local time), or None when the line is not in its format.
LineParser = Callable[[str, dict[str, Any]], "datetime | None"]


@dataclass(frozen=True, slots=True)
class ProgramParser:
    dataset: str  # the dataset of the program's messages when ``parse`` does not name one
    parse: MessageParser


def _web_syslog(default: str) -> MessageParser:
    """nginx/Apache logging through syslog: an access line, or an error message."""

    def parse(message: str, doc: dict[str, Any]) -> str | None:
        if web_access.parse_access(message, doc) is not None:
            return default.split(".", 1)[0] + ".access"
        if default.startswith("nginx"):
            if web_error.parse_nginx_error(message, doc) is not None:
                return "nginx.error"
            return web_error.parse_nginx_message(message, doc)
        if message.startswith("["):
            return web_error.parse_apache_message(message, doc)
        return None

    return parse


def _kernel(message: str, doc: dict[str, Any]) -> str | None:
    """Kernel lines: audit records printed when no auditd runs, else packet-filter logs."""
    if "audit: " in message[:24]:  # one short scan: "audit: type=" or "[  12.345678] audit: type="
        found = auditd.parse_kernel(message, doc)
        if found is not None:
            return found
    return firewall.parse(message, doc)


PROGRAMS: dict[str, ProgramParser] = {}


def register_program(dataset: str, parse: MessageParser, *names: str) -> None:
    for name in names:
        PROGRAMS[name] = ProgramParser(dataset, parse)


# ---- the table: one line per parser ----------------------------------------------------------
register_program(sshd.DATASET, sshd.parse, "sshd", "sshd-session", "sshd-auth")
register_program(sudo.DATASET, sudo.parse, "sudo")
register_program(su.DATASET, su.parse, "su", "su-l")
register_program(cron.DATASET, cron.parse, "CRON", "cron", "crond", "anacron")
register_program(generic.DATASET, _kernel, "kernel")
register_program(auditd.DATASET, auditd.parse, "audisp-syslog", "audispd", "audit", "auditd")
register_program("nginx.error", _web_syslog("nginx.error"), "nginx")
register_program("apache.error", _web_syslog("apache.error"), "httpd", "apache2", "apache")

LINE_FORMATS: dict[str, LineParser] = {
    "nginx.access": web_access.parse_access,
    "apache.access": web_access.parse_access,
    "nginx.error": web_error.parse_nginx_error,
    "apache.error": web_error.parse_apache_error,
    auditd.DATASET: auditd.parse_line,
}
GENERIC = ProgramParser(generic.DATASET, generic.parse)


def program_parser(program: str | None) -> ProgramParser | None:
    """The parser for a syslog tag; ``httpd/backend1`` falls back to ``httpd``."""
    if program is None:
        return None
    found = PROGRAMS.get(program)
    if found is None and "/" in program:
        found = PROGRAMS.get(program.split("/", 1)[0])
    return found


def pam_parser(program: str | None, message: str) -> MessageParser | None:
    """pam_unix messages come from any program; old Linux-PAM put the module in the tag."""
    if program is not None and program.endswith("(pam_unix)"):
        return lambda msg, doc: pam.parse_body(msg, doc)
    if "pam_" in message[:24]:
        return pam.parse
    return None


def detect_line_format(line: str, source_name: str | None) -> tuple[str, LineParser] | None:
    """Guess the file format of a line that has no syslog frame: (dataset, parser) or None."""
    if line.startswith(("type=", "node=")):  # /var/log/audit/audit.log
        return auditd.DATASET, auditd.parse_line
    if line.startswith("["):
        return "apache.error", web_error.parse_apache_error
    if len(line) > 19 and line[4] == "/" and line[7] == "/":
        return "nginx.error", web_error.parse_nginx_error
    if " [" in line and '"' in line:
        return web_access.dataset_for(source_name), web_access.parse_access
    return None
