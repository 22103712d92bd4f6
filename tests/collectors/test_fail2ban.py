"""Acceptance: fail2ban's annotated test logs, every file whose service has a shipped decoder or parser.

Every line preceded by ``# failJSON: {"match": true, "host": H, "time": T}`` must normalise to an
event whose ``source.ip`` (or ``source.domain`` when H is a name) is H and whose ``@timestamp`` is T
in fail2ban's test time zone (Europe/Zurich: its suite runs with TZ=Europe/Zurich; the RFC 5424
line ``17:40:16-04:00`` annotated ``23:40:16`` confirms it). An IPv6 host is compared as an address
(``2001:DB8::1`` is ``2001:db8::1``). Lines are sent as files from an institution in that zone,
received a few seconds after their annotated time (so a line without a year lands in its year).

Lines fail2ban matches with the help of an earlier line of the same process or connection carry
no attacker address (or no time) themselves: they are listed in ``GAPS`` with the reason, and only
the part the line does carry is checked. Each file's counts are pinned, so nothing is skipped
silently, and each file prints what it checked: ``pytest -s -k fail2ban`` gives the totals.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.normalize import Normalizer
from collectors.records import RawRecord
from sentinel.events import Event
from sentinel.inventory import Institution, Inventory

pytestmark = pytest.mark.shared_data

ZONE = ZoneInfo("Europe/Zurich")
_ANNOTATION = re.compile(r"#\s*failJSON:(.*)$")

# Every file of the folder: (annotated, match with host, match without host, match false).
EXPECTED_COUNTS = {
    "3proxy": (3, 3, 0, 0),
    "apache-auth": (45, 41, 0, 4),
    "apache-badbots": (4, 4, 0, 0),
    "apache-botsearch": (19, 17, 0, 2),
    "apache-fakegooglebot": (3, 2, 0, 1),
    "apache-modsecurity": (4, 4, 0, 0),
    "apache-pass": (1, 1, 0, 0),
    "apache-shellshock": (2, 2, 0, 0),
    "assp": (22, 22, 0, 0),
    "asterisk": (48, 48, 0, 0),
    "centreon": (1, 1, 0, 0),
    "counter-strike": (2, 2, 0, 0),
    "courier-smtp": (8, 8, 0, 0),
    "cyrus-imap": (10, 10, 0, 0),
    "dante": (4, 4, 0, 0),
    "directadmin": (5, 4, 0, 1),
    "domino-smtp": (9, 8, 0, 1),
    "dovecot": (67, 56, 0, 11),
    "drupal-auth": (7, 4, 0, 3),
    "ejabberd-auth": (7, 4, 0, 3),
    "exim-spam": (8, 8, 0, 0),
    "freeswitch": (11, 10, 0, 1),
    "froxlor-auth": (4, 4, 0, 0),
    "grafana": (2, 2, 0, 0),
    "groupoffice": (2, 1, 0, 1),
    "gssftpd": (1, 1, 0, 0),
    "haproxy-http-auth": (4, 3, 0, 1),
    "horde": (2, 2, 0, 0),
    "kerio": (15, 15, 0, 0),
    "lighttpd-auth": (8, 8, 0, 0),
    "monitorix": (4, 3, 0, 1),
    "murmur": (3, 3, 0, 0),
    "mysqld-auth": (17, 16, 0, 1),
    "nagios": (1, 1, 0, 0),
    "named-refused": (16, 16, 0, 0),
    "nginx-botsearch": (14, 14, 0, 0),
    "nginx-http-auth": (18, 17, 0, 1),
    "nginx-limit-req": (9, 9, 0, 0),
    "nsd": (3, 3, 0, 0),
    "openvpn": (8, 8, 0, 0),
    "openwebmail": (3, 3, 0, 0),
    "oracleims": (4, 3, 0, 1),
    "pam-generic": (9, 8, 0, 1),
    "perdition": (2, 2, 0, 0),
    "php-url-fopen": (1, 1, 0, 0),
    "phpmyadmin-syslog": (1, 1, 0, 0),
    "portsentry": (2, 2, 0, 0),
    "postfix": (63, 58, 0, 5),
    "proftpd": (10, 10, 0, 0),
    "qmail": (4, 4, 0, 0),
    "recidive": (9, 7, 0, 2),
    "routeros-auth": (4, 3, 0, 1),
    "scanlogd": (4, 4, 0, 0),
    "screensharingd": (4, 3, 0, 1),
    "sendmail-reject": (45, 37, 0, 8),
    "sieve": (3, 3, 0, 0),
    "slapd": (9, 1, 0, 8),
    "softethervpn": (2, 2, 0, 0),
    "sogo-auth": (15, 6, 0, 9),
    "solid-pop3d": (8, 8, 0, 0),
    "squirrelmail": (1, 1, 0, 0),
    "sshd": (155, 108, 1, 46),
    "stunnel": (1, 1, 0, 0),
    "suhosin": (4, 4, 0, 0),
    "tine20": (2, 2, 0, 0),
    "uwimap-auth": (6, 6, 0, 0),
    "vsftpd": (8, 8, 0, 0),
    "xinetd-fail": (2, 2, 0, 0),
    "xrdp": (8, 6, 0, 2),
    "znc-adminlog": (5, 3, 0, 2),
    "zoneminder": (3, 3, 0, 0),
    "zzz-generic-example": (23, 16, 0, 7),
}
# Files of no real service: nothing ships for them, and the acceptance does not cover them.
NOT_A_SERVICE = {"zzz-generic-example": "fail2ban's own demonstration daemon 'test-demo'"}
FILES = sorted(set(EXPECTED_COUNTS) - set(NOT_A_SERVICE))

# Lines a single-line reader cannot fully decide: (file, line number) -> (what is not checked, why).
_SSHD_PID = "no address on the line; fail2ban carries it from an earlier line of the same sshd pid"
GAPS: dict[tuple[str, int], tuple[str, str]] = {
    **{("sshd", n): ("host", _SSHD_PID) for n in (203, 208, 289, 295, 301, 322, 324, 359, 388, 390, 396)},
    ("slapd", 14): (
        "host",
        "a bind result (err=49) names its connection, conn=1022; the address is on its ACCEPT line",
    ),
    ("ejabberd-auth", 9): ("time", "the time is on the '=INFO REPORT==== ...' line before the message"),
    ("apache-fakegooglebot", 3): (
        "host and time",
        "a custom Apache LogFormat (four fields before the time, the virtual host after it): a site decoder reads it",
    ),
}
# Lines that carry their own UTC offset, which the annotation leaves out (fail2ban's 3proxy filter reads
# the local time and drops the "+0300"): the event must be that wall-clock time at the line's offset.
OFFSET_IN_LINE = {("3proxy", n): timezone(timedelta(hours=3)) for n in (2, 4, 6)}


@dataclass(frozen=True)
class Annotated:
    file: str
    lineno: int
    line: str
    spec: dict[str, Any]


def annotated_lines(path: Path) -> tuple[list[Annotated], list[tuple[int, str]]]:
    """(lines with a failJSON, every other log line). A failJSON applies to the next log line."""
    annotated: list[Annotated] = []
    plain: list[tuple[int, str]] = []
    pending: dict[str, Any] | None = None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        found = _ANNOTATION.match(line)
        if found is not None:
            pending = json.loads(found.group(1))
            continue
        if line.startswith("#") or not line.strip():
            continue
        if pending is not None:
            annotated.append(Annotated(path.name, lineno, line, pending))
            pending = None
        else:
            plain.append((lineno, line))
    return annotated, plain


def annotation_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=ZONE)  # "2005-03-7T..." occurs


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    # Lines are "sent" from 127.0.0.1, owned by an institution in fail2ban's time zone.
    inst = Institution(id="f2b", name="fail2ban tests", timezone="Europe/Zurich", networks=["127.0.0.0/8"])
    return Normalizer(Inventory([inst]), default_timezone="UTC", observer_hostname="test")


def normalize(normalizer: Normalizer, item: Annotated) -> Event:
    when = item.spec.get("time")
    received = annotation_time(when) + timedelta(seconds=5) if when else datetime(2026, 1, 1, tzinfo=ZONE)
    record = RawRecord(
        raw=item.line.encode("utf-8"),
        received_at=received.timestamp(),
        origin=f"{item.file}:{item.lineno}",
        transport="file",
        peer="127.0.0.1",
        source_name=f"/var/log/{item.file}",
    )
    return normalizer.normalize(record)


def _canonical(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def check(event: Event, item: Annotated) -> list[str]:
    """What differs between the event and the annotation (host, time), each prefixed by its kind."""
    problems = []
    host = item.spec.get("host")
    if host:
        got = {event.get("source.ip"), event.get("source.domain")}
        if _canonical(host) not in got:
            problems.append(f"host: {host!r} not in source.ip/domain {sorted(map(str, got - {None}))}")
    when = item.spec.get("time")
    if when:
        expected = annotation_time(when)
        offset = OFFSET_IN_LINE.get((item.file, item.lineno))
        if offset is not None:
            expected = expected.replace(tzinfo=offset)
        got_ts = event.timestamp.replace(microsecond=0)
        if got_ts != expected:
            problems.append(f"time: {got_ts.astimezone(ZONE).isoformat()} != {expected.isoformat()}")
    return problems


def test_the_folder_holds_the_pinned_files(shared_data: Path) -> None:
    folder = shared_data / "fail2ban-testlogs"
    assert {p.name for p in folder.iterdir() if p.is_file() and p.name != "COPYING"} == set(EXPECTED_COUNTS)


@pytest.mark.parametrize("name", FILES)
def test_fail2ban_annotations(shared_data: Path, normalizer: Normalizer, name: str) -> None:
    annotated, plain = annotated_lines(shared_data / "fail2ban-testlogs" / name)
    with_host = [a for a in annotated if a.spec.get("match") and a.spec.get("host")]
    without_host = [a for a in annotated if a.spec.get("match") and not a.spec.get("host")]
    negative = [a for a in annotated if not a.spec.get("match")]
    counts = (len(annotated), len(with_host), len(without_host), len(negative))
    assert counts == EXPECTED_COUNTS[name]

    unexpected: dict[int, str] = {}
    waived: set[int] = set()
    authentication_failures = 0
    for item in with_host + without_host:
        event = normalize(normalizer, item)
        if event.get("event.outcome") == "failure" and "authentication" in (event.get("event.category") or ()):
            authentication_failures += 1
        problems = check(event, item)
        gap = GAPS.get((name, item.lineno))
        if gap is not None:
            waived.add(item.lineno)
            problems = [p for p in problems if p.split(":", 1)[0] not in gap[0]]
        if problems:
            unexpected[item.lineno] = f"{'; '.join(problems)}: {item.line}"
    assert not unexpected, "\n".join(f"{name}:{n}: {v}" for n, v in unexpected.items())
    listed = {n for f, n in GAPS if f == name}
    assert listed == waived, f"GAPS lists lines that are not annotated matches: {sorted(listed - waived)}"
    # Lines fail2ban does not count as attacks, and unannotated lines, still normalise.
    for item in negative:
        normalize(normalizer, item)
    for lineno, line in plain:
        normalize(normalizer, Annotated(name, lineno, line, {}))
    checked = len(with_host) - sum(1 for n in waived if GAPS[(name, n)][0] != "time")
    print(
        f"fail2ban {name}: {len(with_host)} annotated attack lines with a host, {checked} decoded to that "
        f"host and time, {len(waived)} listed gaps; {authentication_failures} classified as authentication "
        f"failures; {len(without_host)} without host (time checked); {len(negative)} match=false and "
        f"{len(plain)} unannotated lines normalised"
    )
