"""Acceptance: fail2ban's annotated test logs (sshd, pam-generic, nginx-http-auth, apache-auth).

Every line preceded by ``# failJSON: {"match": true, "host": H, "time": T}`` must normalise to an
event whose ``source.ip`` (or ``source.domain`` when H is a name) is H and whose ``@timestamp`` is T
in fail2ban's test time zone (Europe/Zurich: its suite runs with TZ=Europe/Zurich; the RFC 5424
line ``17:40:16-04:00`` annotated ``23:40:16`` confirms it).

Some ``match: true`` annotations carry no host: fail2ban found the host on an earlier line of the
same connection (multi-line state). One line cannot say who the attacker is, so those lines are
checked for time only, and the counts of each kind are pinned below so nothing is skipped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.normalize import Normalizer
from collectors.records import RawRecord
from sentinel.inventory import Institution, Inventory

pytestmark = pytest.mark.shared_data

ZONE = ZoneInfo("Europe/Zurich")
FILES = ("sshd", "pam-generic", "nginx-http-auth", "apache-auth")


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
        if line.startswith("# failJSON:"):
            pending = json.loads(line.split(":", 1)[1])
            continue
        if line.startswith("#") or not line.strip():
            continue
        if pending is not None:
            annotated.append(Annotated(path.name, lineno, line, pending))
            pending = None
        else:
            plain.append((lineno, line))
    return annotated, plain


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    # Lines are "sent" from 127.0.0.1, owned by an institution in fail2ban's time zone.
    inst = Institution(id="f2b", name="fail2ban tests", timezone="Europe/Zurich", networks=["127.0.0.0/8"])
    return Normalizer(Inventory([inst]), default_timezone="UTC", observer_hostname="test")


def normalize(normalizer: Normalizer, item: Annotated) -> Any:
    when = item.spec.get("time")
    received = (
        datetime.fromisoformat(when).replace(tzinfo=ZONE) + timedelta(seconds=5)
        if when
        else datetime(2026, 1, 1, tzinfo=ZONE)
    )
    record = RawRecord(
        raw=item.line.encode("utf-8"),
        received_at=received.timestamp(),
        origin=f"{item.file}:{item.lineno}",
        transport="file",
        peer="127.0.0.1",
        source_name=f"/var/log/{item.file}",
    )
    return normalizer.normalize(record)


def check(normalizer: Normalizer, item: Annotated) -> str | None:
    """None when the event agrees with the annotation, else what differs."""
    event = normalize(normalizer, item)
    problems = []
    host = item.spec.get("host")
    if host is not None:
        got = {event.get("source.ip"), event.get("source.domain")}
        if host not in got:
            problems.append(f"host {host!r} not in source.ip/domain {sorted(map(str, got - {None}))}")
    when = item.spec.get("time")
    if when is not None:
        expected = datetime.fromisoformat(when).replace(tzinfo=ZONE)
        got_ts = event.timestamp.replace(microsecond=0)
        if got_ts != expected:
            problems.append(f"time {got_ts.astimezone(ZONE).isoformat()} != {expected.isoformat()}")
    return "; ".join(problems) or None


# What each file holds (counted from the files; pinned so a change in coverage is visible).
EXPECTED_COUNTS = {
    #               (annotated, match+host, match without host, match false)
    "sshd": (155, 108, 1, 46),
    "pam-generic": (9, 8, 0, 1),
    "nginx-http-auth": (18, 17, 0, 1),
    "apache-auth": (45, 41, 0, 4),
}
# Lines we knowingly cannot match, with the reason. Keyed by (file, line number). Each of these
# lines names no address at all: fail2ban takes the host from an earlier line of the same sshd
# process ("Connection from H port P ..." with the same pid). The normaliser reads one line at a
# time (stateless, replayable, any order), so it cannot know; the time on these lines is right.
_MULTILINE = "no address on the line; fail2ban carries it from an earlier line of the same sshd pid"
KNOWN_GAPS: dict[tuple[str, int], str] = {
    ("sshd", lineno): _MULTILINE for lineno in (203, 208, 289, 295, 301, 322, 324, 359, 388, 390, 396)
}


@pytest.mark.parametrize("name", FILES)
def test_fail2ban_annotations(shared_data: Path, normalizer: Normalizer, name: str) -> None:
    annotated, plain = annotated_lines(shared_data / "fail2ban-testlogs" / name)
    with_host = [a for a in annotated if a.spec.get("match") and a.spec.get("host")]
    without_host = [a for a in annotated if a.spec.get("match") and not a.spec.get("host")]
    negative = [a for a in annotated if not a.spec.get("match")]
    counts = (len(annotated), len(with_host), len(without_host), len(negative))
    assert counts == EXPECTED_COUNTS[name]

    failures = {}
    for item in with_host + without_host:
        problem = check(normalizer, item)
        if problem is not None:
            failures[(name, item.lineno)] = f"{problem}: {item.line}"
    unexpected = {k: v for k, v in failures.items() if k not in KNOWN_GAPS or "time" in v}
    assert not unexpected, "\n".join(f"{k}: {v}" for k, v in unexpected.items())
    fixed = {k for k in KNOWN_GAPS if k[0] == name} - set(failures)
    assert not fixed, f"known gaps now pass, remove them from KNOWN_GAPS: {sorted(fixed)}"
    # Lines fail2ban does not count as attacks, and unannotated lines, still normalise.
    for item in negative:
        normalize(normalizer, item)
    for lineno, line in plain:
        normalize(normalizer, Annotated(name, lineno, line, {}))
    print(
        f"{name}: {counts[0]} annotated; {counts[1]} match with host checked (host+time), "
        f"{counts[2]} match without host checked (time only), {counts[3]} match=false normalised; "
        f"{len(failures)} known gaps; {len(plain)} unannotated lines normalised"
    )
