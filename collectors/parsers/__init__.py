"""The parser registry: which parser reads which syslog program and which whole-line file format.

Two kinds of parser sit behind it. Python parsers, where Python is really needed (the sshd fast
path, auditd, pam, sudo, su, cron, the kernel firewall, web access and error logs): write
``collectors/parsers/<name>.py`` with ``parse(message, doc) -> dataset | None`` and add one line to
the table below (or to ``LINE_FORMATS`` for a file format with its own timestamp). ``parse`` fills
ECS fields into the event document it is given and returns the dataset when it recognised the
message; the registered dataset applies when it returns None. And declarative decoders
(``collectors/decoders``): YAML files, the shipped library plus a site's folder, installed here by
``install_decoders``; a decoder names its programs, file formats and prefilter texts, and this
registry routes to it the same way.

Order of precedence for a syslog message: the Python parser of its program (then, when that did not
classify it, the decoders of the same program), the decoders of its program, pam_unix, and last the
decoders whose prefilter texts occur in it. For a line without a syslog header: the configured
format's parser, the Python format guesses, then the decoders whose prefilter texts occur in it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collectors.decoders.compiled import CompiledDecoder
from collectors.decoders.dispatch import DecoderSet
from collectors.decoders.loader import load_decoders
from collectors.decoders.timestamps import YearlessTime
from collectors.parsers import auditd, cron, firewall, generic, pam, sshd, su, sudo, web_access, web_error

logger = logging.getLogger(__name__)

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


PROGRAMS: dict[str, ProgramParser] = {}  # Python parsers and decoders, by program name
_PYTHON: dict[str, ProgramParser] = {}  # the Python parsers alone (decoders are laid over them)


def register_program(dataset: str, parse: MessageParser, *names: str) -> None:
    for name in names:
        PROGRAMS[name] = _PYTHON[name] = ProgramParser(dataset, parse)


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
_PYTHON_FORMATS = dict(LINE_FORMATS)


def _unclaimed(message: str, doc: dict[str, Any]) -> str | None:
    """A message no program parser claims: the decoders whose prefilter texts occur in it."""
    return active_decoders().decode_unclaimed(message, doc)


GENERIC = ProgramParser(generic.DATASET, _unclaimed)
_active: DecoderSet | None = None  # None until first needed: the shipped library is compiled then
_loading = threading.Lock()
_by_prefix: dict[tuple[CompiledDecoder, ...], ProgramParser] = {}


def _decoders_of(decoders: tuple[CompiledDecoder, ...], python: ProgramParser | None) -> ProgramParser:
    """One program's parser: its Python parser first (when it has one), then its decoders, then pam."""

    def parse(message: str, doc: dict[str, Any]) -> str | None:
        found = None
        if python is not None:
            found = python.parse(message, doc)
            if "action" in doc["event"]:
                return found
        for decoder in decoders:
            if decoder.decode_message(message, doc):
                return decoder.dataset
        if "pam_" in message[:24]:
            return pam.parse(message, doc) or found
        return found

    return ProgramParser(python.dataset if python is not None else decoders[0].dataset, parse)


def install_decoders(decoders: DecoderSet | None) -> DecoderSet | None:
    """Make ``decoders`` the active set and return the previous one (None: back to the shipped
    library, compiled when next needed)."""
    global _active
    table = dict(_PYTHON)
    formats: dict[str, LineParser] = {}
    if decoders is not None:
        decoders.dispatch_program = parse_message
        for name, found in decoders.by_program.items():
            table[name] = _decoders_of(found, _PYTHON.get(name))
        formats = {name: decoder.parse_line for name, decoder in decoders.by_format.items()}
    formats.update(_PYTHON_FORMATS)  # the Python parsers keep their formats
    for name in [n for n in PROGRAMS if n not in table]:
        del PROGRAMS[name]
    PROGRAMS.update(table)
    for name in [n for n in LINE_FORMATS if n not in formats]:
        del LINE_FORMATS[name]
    LINE_FORMATS.update(formats)
    _by_prefix.clear()
    previous, _active = _active, decoders
    return previous


def active_decoders() -> DecoderSet:
    """The decoders in use; the first call compiles the shipped library unless a set was installed.

    Commands that never read a log line (``sentinel search``, ``rules``...) do not pay for compiling
    the library; a normaliser asks for it when it is built, before its first line.
    """
    found = _active
    if found is None:
        with _loading:
            if _active is None:
                _install_shipped()
            found = _active
            assert found is not None
    return found


def program_parser(program: str | None) -> ProgramParser | None:
    """The parser for a syslog tag; ``httpd/backend1`` falls back to ``httpd``, then ``name*`` decoders."""
    if program is None:
        return None
    decoders = active_decoders()  # their programs join PROGRAMS when the library is first compiled
    found = PROGRAMS.get(program)
    if found is None and "/" in program:
        found = PROGRAMS.get(program.split("/", 1)[0])
    if found is None:
        prefixed = decoders.by_prefix(program)
        if prefixed:
            found = _by_prefix.get(prefixed)
            if found is None:
                found = _by_prefix[prefixed] = _decoders_of(prefixed, None)
    return found


def parse_message(program: str | None, message: str, doc: dict[str, Any]) -> str:
    """The program's parser (or pam's, or the decoders' prefilter) on ``message``; returns the dataset."""
    parser = PROGRAMS.get(program) if program is not None else None
    if parser is None:
        parser = program_parser(program)
    if parser is not None:
        return parser.parse(message, doc) or parser.dataset
    pam_parse = pam_parser(program, message)
    if pam_parse is not None:
        found = pam_parse(message, doc)
        if found is not None:
            return found
    return GENERIC.parse(message, doc) or GENERIC.dataset


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


def parse_line_format(line: str, source_name: str | None, doc: dict[str, Any]) -> tuple[str, datetime] | None:
    """A line with no syslog header and no configured format: (dataset, time), or None.

    The Python format guesses first (cheap prefix checks), then the decoders whose prefilter texts
    occur in the line. A ``YearlessTime`` is a time whose year the line did not say.
    """
    detected = detect_line_format(line, source_name)
    if detected is not None:
        ts = detected[1](line, doc)
        if ts is not None:
            return detected[0], ts
    return active_decoders().decode_line(line, doc)


def parse_app_line(line: str, doc: dict[str, Any]) -> tuple[str, datetime] | None:
    """A line that reads as syslog but starts like an application's own file (``2024-01-10 10:00:00``):
    (dataset, time) when a decoder's rules classify it, else None (the syslog reading stands)."""
    return active_decoders().decode_line(line, doc, classified_only=True)


def line_time(ts: datetime) -> tuple[datetime, bool]:
    """A line parser's time as (naive or aware time, whether its year is missing)."""
    if isinstance(ts, YearlessTime):
        return datetime(ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second, ts.microsecond), True
    return ts, False


def _install_shipped() -> None:
    """The shipped decoder library (a site's folders are added by
    ``collectors.decoders.site.use_configured_decoders`` at start)."""
    loaded = load_decoders((), builtin=True)
    for error in loaded.errors:
        logger.error("shipped decoder not loaded: %s", error)
    install_decoders(DecoderSet(loaded.decoders, loaded.errors))
