"""Syslog framing: RFC 3164 variants, rsyslog ISO timestamps, RFC 5424."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from collectors.parsers.syslog_header import parse_structured_data, parse_syslog, parse_untimed, representable


def test_rfc3164_with_pri() -> None:
    h = parse_syslog("<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8")
    assert h is not None
    assert (h.pri, h.hostname, h.program, h.pid) == (34, "mymachine", "su", "230")
    assert h.timestamp == datetime(2000, 10, 11, 22, 14, 15) and h.year_missing
    assert h.message == "'su root' failed for lonvick on /dev/pts/8"


@pytest.mark.parametrize(
    ("line", "host", "program", "pid", "message"),
    [
        ("Feb  7 16:01:07 linux-m899 sshd[5106]: msg", "linux-m899", "sshd", "5106", "msg"),
        ("Nov 23 21:50:19 sshd[8148]: no host here", None, "sshd", "8148", "no host here"),
        ("Mar  3 00:17:22 [sshd]: bracketed", None, "sshd", None, "bracketed"),
        ("Jun 25 23:53:34 [sshd] no colon", None, "sshd", None, "no colon"),
        ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: x", "combo", "sshd(pam_unix)", "19939", "x"),
        ("Feb 15 16:23:40 srv httpd/backend1[22034]: y", "srv", "httpd/backend1", "22034", "y"),
        ("Jun 14 15:16:01 combo kernel: z", "combo", "kernel", None, "z"),
        ("Jun 14 15:16:01 combo syslogd 1.4.1: restart.", "combo", None, None, "syslogd 1.4.1: restart."),
        ("Mar 29 05:59:23 dusky sshd[20878]: [ID 800047 auth.info] Failed", "dusky", "sshd", "20878", "Failed"),
        ("Jul  3 14:59:17 fe80::1 sshd-session[1571]: v6 host", "fe80::1", "sshd-session", "1571", "v6 host"),
    ],
)
def test_rfc3164_variants(line: str, host: str | None, program: str | None, pid: str | None, message: str) -> None:
    h = parse_syslog(line)
    assert h is not None
    assert (h.hostname, h.program, h.pid, h.message) == (host, program, pid, message)


def test_iso_timestamp_and_year_in_3164() -> None:
    h = parse_syslog("2015-04-16T18:02:50.321974+00:00 host sshd[2716]: hello")
    assert h is not None and not h.year_missing
    assert h.timestamp == datetime(2015, 4, 16, 18, 2, 50, 321974, tzinfo=UTC)
    h = parse_syslog("Feb 29 10:00:00 2024 host app: leap")
    assert h is not None and h.timestamp == datetime(2024, 2, 29, 10) and not h.year_missing


def test_rfc5424() -> None:
    h = parse_syslog(
        "<38>1 2019-07-08T17:40:17.954167-04:00 host.example.com sshd 55555 - "
        '[timeQuality tzKnown="1"][x@1 t="[b\\]"] Failed unknown'
    )
    assert h is not None
    assert h.version == 1 and h.pri == 38 and h.program == "sshd" and h.pid == "55555" and h.msgid is None
    assert h.timestamp == datetime(2019, 7, 8, 17, 40, 17, 954167, tzinfo=timezone(-timedelta(hours=4)))
    assert h.message == "Failed unknown"
    assert h.structured_data is not None
    assert parse_structured_data(h.structured_data) == {"timeQuality": {"tzKnown": "1"}, "x@1": {"t": "[b]"}}
    nil = parse_syslog("<13>1 - - - - - -")
    assert nil is not None and nil.timestamp is None and nil.hostname is None and nil.message == ""


def test_not_syslog() -> None:
    assert parse_syslog("hello world") is None
    assert parse_syslog("[Sun Dec 04 04:47:44 2005] [notice] x") is None
    assert parse_syslog("Feb 30 10:00:00 host app: impossible date") is None
    pri_only = parse_syslog("<13>just a message")
    assert pri_only is not None and pri_only.timestamp is None and pri_only.pri == 13


def test_untimed() -> None:
    h = parse_untimed("host nginx[983478]: 2023/12/09 21:35:20 [error] x")
    assert h is not None and (h.hostname, h.program, h.pid) == ("host", "nginx", "983478")
    assert parse_untimed("free text: no tag") is None


def test_a_year_after_the_day() -> None:
    # Cisco's "logging timestamp" and macOS write "Mmm dd yyyy hh:mm:ss".
    h = parse_syslog("Jan 12 2026 10:00:01 asa01 %ASA-6-605004: Login denied from 198.51.100.8/51000")
    assert h is not None and h.timestamp == datetime(2026, 1, 12, 10, 0, 1) and not h.year_missing
    assert (h.hostname, h.program) == ("asa01", "%ASA-6-605004")


def test_key_value_fields_are_not_a_host_and_a_tag() -> None:
    h = parse_syslog('<189>date=2026-01-12 time=10:00:01 devname="FGT60F" devid="FGT60F1" logid="0100032002"')
    assert h is not None and (h.hostname, h.program, h.pri) == (None, None, 189)
    assert h.message.startswith("date=2026-01-12 time=10:00:01 devname=")


def test_bsd_verbose_facility_marker() -> None:
    h = parse_syslog("Jun 17 14:37:39 <mail.info> robin sm-mta[2794]: 55HIbcGI002794: from=<root@example.org>")
    assert h is not None and (h.hostname, h.program, h.pid) == ("robin", "sm-mta", "2794")


def test_an_application_time_is_flagged() -> None:
    app = parse_syslog("2026-01-12 06:09:42 5907 [Warning] Access denied for user 'root'@'203.0.113.1'")
    assert app is not None and app.app_time
    rsyslog = parse_syslog("2026-01-12T06:09:42+03:00 db mysqld[1]: ready")
    assert rsyslog is not None and not rsyslog.app_time and rsyslog.program == "mysqld"


@pytest.mark.parametrize(
    "line",
    [
        "<34>1 0001-01-01T00:00:00+14:00 host app 12 ID47 - msg",
        "<34>1 9999-12-31T23:59:59-12:00 host app 12 ID47 - msg",
        "<34>0001-01-01T00:00:00+14:00 host app: msg",
        "<34>Jan  1 00:00:00 0001 host app: msg",
    ],
)
def test_a_date_no_utc_time_can_hold_keeps_the_header_without_a_time(line: str) -> None:
    header = parse_syslog(line)
    assert header is not None
    assert header.timestamp is None
    assert header.invalid_time is not None and header.invalid_time in line
    assert (header.hostname, header.program, header.message) == ("host", "app", "msg")


def test_dates_near_the_edges_that_a_utc_time_holds_are_kept() -> None:
    header = parse_syslog("<34>1 9999-12-31T10:00:00+02:00 host app 12 - - msg")
    assert header is not None and header.timestamp is not None and header.invalid_time is None
    assert representable(datetime(9999, 12, 30))
    assert not representable(datetime(9999, 12, 31, 23))
    assert not representable(datetime(1, 1, 1, 0, tzinfo=timezone(timedelta(hours=14))))
