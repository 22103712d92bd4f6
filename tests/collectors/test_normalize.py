"""The normaliser: decoding, framing, attribution, time resolution and the fields every event gets."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.normalize import INVALID_UTF8, NO_SYSLOG_HEADER, Normalizer, decode_line
from collectors.records import RawRecord, Transport
from sentinel.errors import ParseError
from sentinel.events import UNATTRIBUTED, event_id
from sentinel.inventory import Institution, Inventory

DAR = ZoneInfo("Africa/Dar_es_Salaam")
INVENTORY = Inventory(
    [
        Institution(id="moh", name="Ministry of Health", networks=["10.1.0.0/16"], hostnames=["web1.moh.go.tz"]),
        Institution(id="nairobi", name="Liaison office", timezone="Africa/Nairobi", networks=["10.2.0.0/16"]),
        Institution(id="lon", name="London office", timezone="Europe/London", networks=["10.3.0.0/16"]),
    ]
)


@pytest.fixture
def normalizer() -> Normalizer:
    return Normalizer(INVENTORY, observer_hostname="sentinel-1")


def record(
    raw: bytes,
    *,
    received: datetime = datetime(2024, 6, 15, 12, 0, tzinfo=UTC),
    peer: str | None = "10.1.2.3",
    transport: Transport = "udp",
    **kwargs: str,
) -> RawRecord:
    return RawRecord(
        raw=raw, received_at=received.timestamp(), origin=peer or "file", transport=transport, peer=peer, **kwargs
    )


SSHD = b"Jun 15 14:59:01 web1 sshd[4242]: Failed password for root from 203.0.113.9 port 50122 ssh2\n"


def test_sshd_line_becomes_a_complete_ecs_event(normalizer: Normalizer) -> None:
    rec = record(SSHD)
    event = normalizer.normalize(rec)
    doc = event.doc
    assert event.id == event_id("moh", rec.origin, rec.raw, rec.origin) == doc["event"]["id"]
    assert event.dataset == "system.auth"
    assert doc["@timestamp"] == "2024-06-15T11:59:01.000Z"  # 14:59 in Dar es Salaam (UTC+3)
    assert doc["event"]["created"] == "2024-06-15T12:00:00.000Z"
    assert doc["event"]["ingested"].endswith("Z")
    assert doc["event"]["original"] == SSHD.decode().rstrip("\n")
    assert doc["event"]["category"] == ["authentication"]
    assert doc["event"]["outcome"] == "failure"
    assert doc["event"]["action"] == "ssh_login"
    assert doc["message"] == "Failed password for root from 203.0.113.9 port 50122 ssh2"
    assert doc["source"] == {"address": "203.0.113.9", "ip": "203.0.113.9", "port": 50122}
    assert doc["user"] == {"name": "root"}
    assert doc["process"] == {"name": "sshd", "pid": 4242}
    assert doc["host"] == {"hostname": "web1"}
    assert doc["organization"] == {"id": "moh", "name": "Ministry of Health"}
    assert doc["observer"] == {"hostname": "sentinel-1", "type": "sentinel"}
    assert doc["agent"] == {"type": "sentinel", "name": "syslog"}
    assert "tags" not in doc
    assert "network" not in doc


def test_same_bytes_same_origin_same_id(normalizer: Normalizer) -> None:
    a = normalizer.normalize(record(SSHD))
    b = normalizer.normalize(record(SSHD, received=datetime(2024, 6, 15, 12, 5, tzinfo=UTC)))
    c = normalizer.normalize(record(SSHD, peer="10.1.9.9"))
    assert a.id == b.id != c.id


def test_attribution_peer_then_hostname_then_host_hint(normalizer: Normalizer) -> None:
    by_peer = normalizer.normalize(record(b"Jun 15 14:59:01 web1.moh.go.tz app: x", peer="10.2.0.5"))
    assert by_peer.organization_id == "nairobi"  # the sender's address wins over the header's host name
    by_line = normalizer.normalize(record(b"Jun 15 14:59:01 web1.moh.go.tz app: x", peer=None, transport="file"))
    assert by_line.organization_id == "moh"  # a file the operator configured: the host it names counts
    by_hint = normalizer.normalize(
        record(b"Jun 15 14:59:01 other app: x", peer=None, transport="file", host_hint="web1.moh.go.tz")
    )
    assert by_hint.organization_id == "moh"
    nobody = normalizer.normalize(record(b"Jun 15 14:59:01 other app: x", peer="192.0.2.1"))
    assert nobody.organization_id is None
    assert nobody.doc["tags"] == [UNATTRIBUTED]
    assert "organization" not in nobody.doc


def test_institution_time_zone_applies(normalizer: Normalizer) -> None:
    line = b"Jan 15 10:00:00 host app: x"
    received = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
    london = normalizer.normalize(record(line, peer="10.3.0.1", received=received))
    dar = normalizer.normalize(record(line, peer="10.1.0.1", received=received))
    unattributed = Normalizer(Inventory([]), default_timezone="UTC", observer_hostname="x").normalize(
        record(line, peer="192.0.2.1", received=received)
    )
    assert london.doc["@timestamp"] == "2024-01-15T10:00:00.000Z"
    assert dar.doc["@timestamp"] == "2024-01-15T07:00:00.000Z"
    assert unattributed.doc["@timestamp"] == "2024-01-15T10:00:00.000Z"


@pytest.mark.parametrize(
    ("line", "received", "expected"),
    [
        # December line received in January belongs to last year.
        (b"Dec 31 23:59:00 h app: x", datetime(2024, 1, 1, 0, 5, tzinfo=UTC), "2023-12-31T20:59:00.000Z"),
        # January line received on Dec 31 (sender clock or zone ahead) is next year's.
        (b"Jan  1 00:01:00 h app: x", datetime(2023, 12, 31, 20, 0, tzinfo=UTC), "2023-12-31T21:01:00.000Z"),
        # Slightly in the future (clock skew) stays this year.
        (b"Jun 16 10:00:00 h app: x", datetime(2024, 6, 15, 12, 0, tzinfo=UTC), "2024-06-16T07:00:00.000Z"),
        # More than two days ahead: it was last year's.
        (b"Jun 20 10:00:00 h app: x", datetime(2024, 6, 15, 12, 0, tzinfo=UTC), "2023-06-20T07:00:00.000Z"),
        # Feb 29 received in a non-leap year: the last leap year.
        (b"Feb 29 10:00:00 h app: x", datetime(2023, 3, 1, 12, 0, tzinfo=UTC), "2020-02-29T07:00:00.000Z"),
        (b"Feb 29 10:00:00 h app: x", datetime(2024, 3, 1, 12, 0, tzinfo=UTC), "2024-02-29T07:00:00.000Z"),
    ],
)
def test_rfc3164_year_resolution(normalizer: Normalizer, line: bytes, received: datetime, expected: str) -> None:
    assert normalizer.normalize(record(line, received=received)).doc["@timestamp"] == expected


def test_offsets_in_the_line_are_kept(normalizer: Normalizer) -> None:
    iso = normalizer.normalize(record(b"2024-06-15T18:02:50.321974+02:00 host sshd[2716]: Connection from 1.2.3.4"))
    assert iso.doc["@timestamp"] == "2024-06-15T16:02:50.321Z"
    rfc5424 = normalizer.normalize(record(b"<34>1 2024-06-15T22:14:15.003Z mymachine su - ID47 - 'su root' failed"))
    assert rfc5424.doc["@timestamp"] == "2024-06-15T22:14:15.003Z"
    assert rfc5424.doc["log"]["syslog"] == {
        "priority": 34,
        "facility": {"code": 4, "name": "auth"},
        "severity": {"code": 2, "name": "critical"},
        "version": "1",
        "msgid": "ID47",
    }
    assert rfc5424.doc["message"] == "'su root' failed"
    assert rfc5424.doc["process"] == {"name": "su"}
    assert rfc5424.doc["host"] == {"hostname": "mymachine"}


def test_rfc5424_structured_data(normalizer: Normalizer) -> None:
    line = (
        b'<165>1 2024-06-15T22:14:15.003-04:00 host evntslog 77 ID47 [exampleSDID@32473 iut="3" '
        b'eventSource="App\\"lication"][examplePriority@32473 class="high"] \xef\xbb\xbfAn application event'
    )
    event = normalizer.normalize(record(line))
    assert event.doc["log"]["syslog"]["structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": 'App"lication'},
        "examplePriority@32473": {"class": "high"},
    }
    assert event.message == "An application event"  # the BOM is framing
    assert event.doc["process"] == {"name": "evntslog", "pid": 77}
    assert event.doc["@timestamp"] == "2024-06-16T02:14:15.003Z"


def test_pri_gives_facility_and_severity(normalizer: Normalizer) -> None:
    event = normalizer.normalize(record(b"<86>Jun 15 14:59:01 web1 sshd[1]: Accepted publickey for a from 10.1.1.1"))
    assert event.doc["log"]["syslog"]["facility"] == {"code": 10, "name": "authpriv"}
    assert event.doc["log"]["syslog"]["severity"] == {"code": 6, "name": "informational"}
    assert event.doc["event"]["outcome"] == "success"


def test_file_record_fields(normalizer: Normalizer) -> None:
    event = normalizer.normalize(
        record(SSHD, peer=None, transport="file", source_name="/var/log/auth.log", host_hint="web1.moh.go.tz")
    )
    assert event.doc["log"]["file"] == {"path": "/var/log/auth.log"}
    assert event.doc["agent"]["name"] == "file"
    assert event.doc["host"] == {"hostname": "web1"}  # the header's name wins over the hint


def test_dataset_hint_selects_the_whole_line_format(normalizer: Normalizer) -> None:
    line = b'203.0.113.9 - - [15/Jun/2024:14:59:01 +0300] "GET /login?next=/ HTTP/1.1" 401 512 "-" "curl/8.0"\n'
    event = normalizer.normalize(
        record(line, peer=None, transport="file", source_name="/srv/x.log", dataset_hint="nginx.access")
    )
    assert event.dataset == "nginx.access"
    assert event.doc["@timestamp"] == "2024-06-15T11:59:01.000Z"
    assert event.doc["http"]["response"]["status_code"] == 401
    assert event.doc["url"]["query"] == "next=/"
    with pytest.raises(ParseError, match=r"not a nginx\.access line"):
        normalizer.normalize(record(b"hello world", dataset_hint="nginx.access"))


def test_detects_file_formats_without_a_hint(normalizer: Normalizer) -> None:
    nginx = normalizer.normalize(
        record(b"2024/06/15 14:59:01 [error] 1#1: *5 open() failed, client: 10.1.7.7, server: x", peer=None)
    )
    assert nginx.dataset == "nginx.error"
    assert nginx.doc["@timestamp"] == "2024-06-15T11:59:01.000Z"
    # The client is the remote party, not the owner: with no sender and no host hint, nobody owns it.
    assert nginx.organization_id is None
    assert nginx.doc["source"]["ip"] == "10.1.7.7"
    access = normalizer.normalize(
        record(b'1.2.3.4 - - [15/Jun/2024:14:59:01 +0000] "GET / HTTP/1.0" 200 5', source_name="/var/log/nginx/a.log")
    )
    assert access.dataset == "nginx.access"


def test_line_without_any_header_is_kept_with_receive_time(normalizer: Normalizer) -> None:
    event = normalizer.normalize(record(b"something happened"))
    assert event.doc["@timestamp"] == "2024-06-15T12:00:00.000Z"
    assert NO_SYSLOG_HEADER in event.doc["tags"]
    assert event.message == "something happened"
    assert event.dataset == "system.syslog"


def test_invalid_utf8_is_kept_and_tagged(normalizer: Normalizer) -> None:
    event = normalizer.normalize(record(b"Jun 15 14:59:01 web1 app: caf\xe9 ol\xe9"))
    assert event.doc["tags"] == [INVALID_UTF8]
    assert event.message == "caf\ufffd ol\ufffd"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty line"),
        (b"\n", "empty line"),
        (b"   \r\n", "empty line"),
        (b"Jun 15 14:59:01 web1 app: a\x00b", "binary data: NUL"),
        (bytes(range(1, 32)) * 4, "binary data"),
        (bytes([0xFF, 0xFE, 0x81, 0x90, 0xC3, 0x28, 0xA0, 0xA1, 0xE2, 0x28, 0xA1]) * 10, "binary data"),
    ],
)
def test_bad_input_is_a_clear_parse_error(normalizer: Normalizer, raw: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        normalizer.normalize(record(raw))


def test_decode_strips_exactly_one_line_ending() -> None:
    assert decode_line(b"a\r\n") == ("a", False)
    assert decode_line(b"a\n\n") == ("a\n", False)
    assert decode_line(b"a\tb") == ("a\tb", False)


def test_pam_from_any_program_and_old_pam_tags(normalizer: Normalizer) -> None:
    vsftpd = normalizer.normalize(
        record(
            b"Jul 19 18:11:26 srv2 vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 "
            b"euid=0 tty=ftp ruser=an8767 rhost=198.51.100.7"
        )
    )
    assert vsftpd.dataset == "system.auth"
    assert vsftpd.doc["source"]["ip"] == "198.51.100.7"
    old = normalizer.normalize(record(b"Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown"))
    assert old.dataset == "system.auth"
    assert old.doc["event"]["action"] == "invalid_user"
    assert old.doc["process"] == {"name": "sshd(pam_unix)", "pid": 19937}


def test_unknown_program_falls_back_to_generic(normalizer: Normalizer) -> None:
    event = normalizer.normalize(record(b"Jun 15 14:59:01 web1 myapp[12]: started"))
    assert event.dataset == "system.syslog"
    assert event.doc["event"] == {
        "kind": "event",
        "created": "2024-06-15T12:00:00.000Z",
        "original": "Jun 15 14:59:01 web1 myapp[12]: started",
        "id": event.id,
        "dataset": "system.syslog",
        "module": "system",
        "ingested": event.doc["event"]["ingested"],
    }


def test_dar_es_salaam_default(normalizer: Normalizer) -> None:
    event = normalizer.normalize(record(b"Jun 15 14:59:01 web1 myapp: x", peer="192.0.2.1"))
    assert event.timestamp.astimezone(DAR).hour == 14


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"plain text", ("plain text", False)),
        (b"caf\xc3\xa9 \xe2\x9c\x93", ("caf\u00e9 \u2713", False)),  # printable non-ASCII: the quick path
        (b"abcdef\xffgh", ("abcdef\ufffdgh", True)),
        ("\ufffd ok".encode(), ("\ufffd ok", False)),  # one replacement character in 4: not binary
    ],
)
def test_decode_quick_and_careful_paths_agree(raw: bytes, expected: tuple[str, bool]) -> None:
    assert decode_line(raw) == expected


def test_valid_utf8_replacement_characters_still_count_as_binary() -> None:
    with pytest.raises(ParseError, match="binary data"):
        decode_line("\ufffd\ufffd\ufffdab".encode())


def test_non_decimal_pid_is_not_a_pid(normalizer: Normalizer) -> None:
    event = normalizer.normalize(record("Jun 15 14:59:01 web1 app[\u00b2]: x".encode()))  # "²" isdigit, not a number
    assert event.doc["process"] == {"name": "app"}


def test_invalid_date_in_the_common_form_is_not_a_header(normalizer: Normalizer) -> None:
    event = normalizer.normalize(record(b"Feb 30 10:00:00 web1 sshd[1]: Invalid user a from 10.0.0.1"))
    assert NO_SYSLOG_HEADER in event.doc["tags"]
    assert event.doc["@timestamp"] == "2024-06-15T12:00:00.000Z"  # the receive time


def test_repeated_header_times_resolve_per_zone(normalizer: Normalizer) -> None:
    # The resolved-time cache is keyed by zone: the same text from two zones gives two instants.
    line = b"Jun 15 14:59:01 web1 sshd[1]: Accepted password for a from 10.9.9.9 port 1 ssh2"
    dar = [normalizer.normalize(record(line, peer="10.1.0.1")) for _ in range(2)]
    london = normalizer.normalize(record(line, peer="10.3.0.1"))
    assert {e.doc["@timestamp"] for e in dar} == {"2024-06-15T11:59:01.000Z"}
    assert london.doc["@timestamp"] == "2024-06-15T13:59:01.000Z"  # BST, UTC+1


COMMON_FORM_LINES = [
    b"Jun 15 14:59:01 web1 sshd[4242]: Failed password for root from 203.0.113.9 port 50122 ssh2",
    b"Jun 15 14:59:01 web1 sshd[7]: Invalid user oracle from 198.51.100.4 port 22 ",
    b"Jun  5 01:02:03 db2 sudo[99]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
    b"Jun 15 14:59:01 web1 CRON[1234]: (root) CMD (run-parts /etc/cron.hourly)",
    b"Jun 15 14:59:01 web1 login[5]: pam_unix(login:auth): authentication failure; logname= uid=0 rhost=10.9.9.9",
]


@pytest.mark.parametrize("line", COMMON_FORM_LINES)
@pytest.mark.parametrize("pri", [0, 38, 86, 191])
def test_pri_prefixed_common_lines_equal_the_same_line_without_pri(
    normalizer: Normalizer, line: bytes, pri: int
) -> None:
    # The common form with a PRI takes the quick path; it must give what the line without one gives,
    # plus the priority fields (the path without PRI is checked field by field above).
    plain = normalizer.normalize(record(line)).doc
    framed = normalizer.normalize(record(b"<%d>%s" % (pri, line))).doc
    syslog = framed.pop("log")["syslog"]
    assert syslog["priority"] == pri
    assert (syslog["facility"]["code"], syslog["severity"]["code"]) == divmod(pri, 8)
    for doc in (plain, framed):
        del doc["event"]["original"], doc["event"]["id"], doc["event"]["created"], doc["event"]["ingested"]
    assert framed == plain


def test_out_of_range_pri_is_not_a_priority(normalizer: Normalizer) -> None:
    event = normalizer.normalize(record(b"<192>" + SSHD))
    assert "syslog" not in event.doc.get("log", {})
    assert event.doc["@timestamp"] == "2024-06-15T12:00:00.000Z"  # no header: the receive time


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
@pytest.mark.parametrize(
    "line",
    [
        b"Jun 15 14:59:01 web1.moh.go.tz sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2",  # fast path
        b"<38>1 2024-06-15T14:59:01+03:00 web1.moh.go.tz sshd 1 - - Failed password for root",  # RFC 5424
        b"<38>Jun 15 14:59:01 web1.moh.go.tz app: x",
    ],
)
def test_a_syslog_sender_no_institution_owns_cannot_claim_one_by_host_name(
    normalizer: Normalizer, transport: Transport, line: bytes
) -> None:
    # The listener does not authenticate senders: naming MoH's host does not make the line MoH's.
    event = normalizer.normalize(record(line, peer="192.0.2.1", transport=transport))
    assert event.organization_id is None and "organization" not in event.doc
    assert event.doc["tags"] == [UNATTRIBUTED]
    assert event.doc["host"] == {"hostname": "web1.moh.go.tz"}  # what the line says is kept, as its content
    # MoH's own address still attributes it; so does a file the operator configured (trusted names).
    assert normalizer.normalize(record(line, peer="10.1.2.3", transport=transport)).organization_id == "moh"
    assert normalizer.normalize(record(line, peer=None, transport="file")).organization_id == "moh"


def test_sender_bound_to_an_institution_owns_the_event_with_its_id_and_name(normalizer: Normalizer) -> None:
    liaison = INVENTORY.get("nairobi")
    rec = record(SSHD.replace(b"web1", b"web1.moh.go.tz"), peer=None, transport="http")
    event = normalizer.normalize(rec, sender=liaison)
    assert event.doc["organization"] == {"id": "nairobi", "name": "Liaison office"}
    assert event.doc["tags"] == ["sentinel.attributed_by_token"]
    assert event.doc["@timestamp"] == "2024-06-15T11:59:01.000Z"  # the sender's time zone (Nairobi, UTC+3)
    unclaimed = normalizer.normalize(
        record(b"Jun 15 14:59:01 other app: x", peer=None, transport="http"), sender=liaison
    )
    assert unclaimed.doc["organization"]["id"] == "nairobi" and UNATTRIBUTED not in unclaimed.doc["tags"]


def test_same_line_attributed_to_two_institutions_is_two_events(normalizer: Normalizer) -> None:
    line = b"<38>Jun 15 14:59:01 gw app: link down"
    rec = record(line, peer=None, transport="http")
    moh, lon = INVENTORY.get("moh"), INVENTORY.get("lon")
    assert normalizer.normalize(rec, sender=moh).id != normalizer.normalize(rec, sender=lon).id
    assert normalizer.normalize(rec, sender=moh).id == normalizer.normalize(rec, sender=moh).id


def test_a_flood_of_long_unique_host_names_keeps_the_caches_small(normalizer: Normalizer) -> None:
    from collectors.parsers import fields

    for n in range(2000):
        host = b"host%d" % n + b"h" * 5000
        normalizer.normalize(
            record(b"<34>Oct 11 22:14:15 " + host + b" sshd[1]: Failed password for root from " + host)
        )
    kept = sum(len(k[1] or "") for k in normalizer._owners) + sum(map(len, fields._IPS)) + sum(map(len, fields._HOSTS))
    assert kept < 1_000_000  # without the size bound: 2,000 keys of 5 KB in each cache
