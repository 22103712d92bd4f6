"""Linux audit records (collectors/parsers/auditd.py): the file line, the syslog relays, dead letters."""

from __future__ import annotations

from typing import Any

import pytest

from collectors import parsers
from collectors.normalize import Normalizer
from collectors.parsers import auditd
from collectors.records import RawRecord
from sentinel.errors import ParseError
from sentinel.events import Event
from sentinel.inventory import Inventory

RECEIVED = 1_700_000_100.0
EXECVE = 'type=EXECVE msg=audit(1700000000.123:4567): argc=4 a0="grep" a1="-r" a2=6462207061737377 a3=2F746D70'
SYSCALL = (
    "type=SYSCALL msg=audit(1700000000.123:4567): arch=c000003e syscall=59 success=yes exit=0 a0=55d0e1c8 "
    "a1=55d0e1f0 a2=55d0e210 a3=0 items=2 ppid=1000 pid=1001 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 "
    'egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="grep" exe="/usr/bin/grep" subj=unconfined key="exec"'
)
ENRICHED = SYSCALL + '\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="root" GID="root" EUID="root"'
PATH = (
    'type=PATH msg=audit(1700000000.123:4567): item=0 name="/usr/bin/grep" inode=1311 dev=08:01 '
    "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0"
)
PROCTITLE = "type=PROCTITLE msg=audit(1700000000.123:4567): proctitle=67726570002D720064622070617373"
USER_LOGIN = (
    "type=USER_LOGIN msg=audit(1700000001.000:100): pid=2000 uid=0 auid=4294967295 ses=4294967295 "
    'subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg=\'op=login acct="alice" exe="/usr/sbin/sshd" '
    "hostname=? addr=203.0.113.7 terminal=ssh res=failed'"
)
USER_AUTH = (
    "type=USER_AUTH msg=audit(1700000002.500:101): pid=2001 uid=0 auid=4294967295 ses=4294967295 "
    'subj=unconfined msg=\'op=PAM:authentication grantors=pam_unix acct="bob" exe="/usr/sbin/sshd" '
    "hostname=host.example.org addr=198.51.100.4 terminal=ssh res=success'"
)
SERVICE_STOP = (
    "type=SERVICE_STOP msg=audit(1700000003.000:102): pid=1 uid=0 auid=4294967295 ses=4294967295 "
    'subj=system_u:system_r:init_t:s0 msg=\'unit=firewalld comm="systemd" exe="/usr/lib/systemd/systemd" '
    "hostname=? addr=? terminal=? res=success'"
)
CONFIG_CHANGE = (
    "type=CONFIG_CHANGE msg=audit(1700000004.000:103): auid=1000 ses=3 subj=unconfined op=add_rule "
    'key="identity" list=4 res=1'
)
AVC = (
    'type=AVC msg=audit(1700000005.000:104): avc:  denied  { read write } for  pid=1234 comm="httpd" '
    'name="shadow" dev="dm-0" ino=12345 scontext=system_u:system_r:httpd_t:s0 '
    "tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0"
)


def _doc() -> dict[str, Any]:
    return {"event": {}, "log": {}}


def _line(line: str) -> dict[str, Any]:
    doc = _doc()
    assert auditd.parse_line(line, doc) is not None
    return doc


def _normalize(raw: str, *, hint: str | None = None, transport: str = "file") -> Event:
    record = RawRecord(raw=raw.encode(), received_at=RECEIVED, origin="t:1", transport=transport, dataset_hint=hint)  # type: ignore[arg-type]
    return Normalizer(Inventory([])).normalize(record)


def test_execve_decodes_hex_arguments_and_sets_the_command() -> None:
    doc = _doc()
    ts = auditd.parse_line(EXECVE, doc)
    assert ts is not None and ts.isoformat() == "2023-11-14T22:13:20.123000+00:00"  # epoch, UTC
    log = doc["auditd"]["log"]
    assert log["record_type"] == "EXECVE" and log["sequence"] == 4567
    assert (log["a0"], log["a1"], log["a2"], log["a3"]) == ("grep", "-r", "db passw", "/tmp")
    assert doc["process"]["args"] == ["grep", "-r", "db passw", "/tmp"]
    assert doc["process"]["args_count"] == 4
    assert doc["process"]["command_line"] == doc["message"] == "grep -r db passw /tmp"
    assert doc["event"]["category"] == ["process"] and doc["event"]["type"] == ["start"]


def test_syscall_raw_gets_names_and_ecs_process_and_user() -> None:
    doc = _line(SYSCALL)
    log = doc["auditd"]["log"]
    assert log["SYSCALL"] == "execve" and log["ARCH"] == "x86_64"  # as an ENRICHED log says
    assert log["a0"] == "55d0e1c8"  # syscall arguments are numbers, never decoded
    assert doc["process"] == {"pid": 1001, "parent": {"pid": 1000}, "executable": "/usr/bin/grep", "name": "grep"}
    assert doc["user"]["id"] == "0" and doc["user"]["audit"] == {"id": "1000"}
    assert doc["event"]["outcome"] == "success"
    assert "message" not in doc  # nothing was hex: the normaliser keeps the line


def test_enriched_fields_after_the_separator() -> None:
    doc = _line(ENRICHED)
    log = doc["auditd"]["log"]
    assert log["SYSCALL"] == "execve" and log["AUID"] == "alice" and log["key"] == "exec"
    assert doc["user"]["name"] == "root" and doc["user"]["audit"] == {"id": "1000", "name": "alice"}


def test_path_proctitle_and_node() -> None:
    doc = _line("node=web1 " + PATH)
    assert doc["auditd"]["log"]["node"] == "web1"
    assert doc["file"] == {"path": "/usr/bin/grep"} and doc["auditd"]["log"]["nametype"] == "NORMAL"
    doc = _line(PROCTITLE)
    assert doc["auditd"]["log"]["proctitle"] == "grep -r db pass"  # NUL-separated argv
    assert doc["process"]["title"] == "grep -r db pass"
    assert doc["message"].endswith('proctitle="grep -r db pass"')


def test_user_login_failure_is_a_failed_authentication_from_the_address() -> None:
    doc = _line(USER_LOGIN)
    log = doc["auditd"]["log"]
    assert log["op"] == "login" and log["acct"] == "alice" and log["res"] == "failed"  # msg='...' flattened
    assert log["pid"] == "2000" and "msg" not in log
    ev = doc["event"]
    assert ev["category"] == ["authentication", "session"] and ev["outcome"] == "failure"
    assert ev["action"] == "user_login"
    assert doc["user"] == {"id": "0", "name": "alice"}  # auid 4294967295 is unset
    assert doc["source"]["ip"] == "203.0.113.7"


def test_user_auth_success_and_hostname() -> None:
    doc = _line(USER_AUTH)
    assert doc["auditd"]["log"]["op"] == "PAM:authentication"
    assert doc["event"]["category"] == ["authentication"] and doc["event"]["outcome"] == "success"
    assert doc["source"]["ip"] == "198.51.100.4"  # addr first; hostname only when addr is "?"
    doc = _line(USER_AUTH.replace("addr=198.51.100.4", "addr=?"))
    assert doc["source"] == {"address": "host.example.org", "domain": "host.example.org"}


def test_service_stop_config_change_and_avc() -> None:
    doc = _line(SERVICE_STOP)
    assert doc["auditd"]["log"]["unit"] == "firewalld" and doc["service"] == {"name": "firewalld"}
    assert doc["event"]["type"] == ["end"]
    doc = _line(CONFIG_CHANGE)
    assert doc["auditd"]["log"]["op"] == "add_rule" and doc["event"]["category"] == ["configuration"]
    assert doc["event"]["outcome"] == "success"  # res=1
    doc = _line(AVC)
    log = doc["auditd"]["log"]
    assert (log["seresult"], log["seperms"], log["tclass"]) == ("denied", "read,write", "file")
    assert doc["event"]["type"] == ["denied"] and doc["event"]["outcome"] == "failure"
    assert doc["process"] == {"pid": 1234, "name": "httpd"}


def test_edge_values() -> None:
    line = 'type=EXECVE msg=audit(1700000000.000:1): argc=2 a0="bash" a1_len=8 a1[0]=41424344 a1[1]=45464748 a2=(null)'
    log = _line(line)["auditd"]["log"]
    assert log["a1"] == "ABCDEFGH" and log["a1_len"] == "8"  # split argument joined
    assert log["a2"] == "(null)"
    keys = _line('type=SYSCALL msg=audit(1700000000.000:2): arch=c000003e syscall=2 key=6B31016B32 comm="x"')
    assert keys["auditd"]["log"]["key"] == ["k1", "k2"]  # several rule keys
    assert keys["auditd"]["log"]["SYSCALL"] == "open"
    # a value that looks like hex is only decoded in a field the kernel escapes
    doc = _line("type=CWD msg=audit(1700000000.000:3): cwd=2F686F6D652F612062 dev=BEEF")
    assert doc["process"]["working_directory"] == "/home/a b" and doc["auditd"]["log"]["dev"] == "BEEF"
    eoe = _line("type=EOE msg=audit(1700000000.000:4): ")  # end-of-event records are empty
    assert eoe["auditd"]["log"] == {"record_type": "EOE", "sequence": 4}
    missing = _line("type=USER_CMD msg=audit(1700000000.000:5): pid=7 msg='cwd=\"/root\" res=success'")
    assert "user" not in missing and missing["event"]["outcome"] == "success"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("type=EXECVE msg=audit(1700000000.12", "header"),
        ("type=EXECVE msg=audit(abc:1): argc=1", "header"),
        ("type=EXECVE garbage", "header"),
        ('type=EXECVE msg=audit(1700000000.000:1): argc=2 a0="ls" a1="-l', "unterminated quoted value of a1"),
        ("type=EXECVE msg=audit(1700000000.000:1): argc=1 a0=2F746D7", "odd-length hex value of a0"),
        ('type=USER_AUTH msg=audit(1700000000.000:1): pid=1 msg=\'op=PAM:auth acct="x" res=fai', "msg='...'"),
        ("type=SOCKADDR msg=audit(1700000000.000:1): SADDR={ saddr_fam=inet laddr=1.2.3.4", "{...}"),
        ("type=EXECVE msg=audit(999999999999.000:1): argc=0", "out of range"),
    ],
)
def test_broken_records_are_dead_letters_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(ParseError, match="audit") as info:
        _normalize(line)
    assert reason in str(info.value)
    with pytest.raises(ParseError):  # the same through the named file format
        _normalize(line, hint="auditd.log")


def test_file_format_registered_and_detected() -> None:
    assert parsers.LINE_FORMATS["auditd.log"] is auditd.parse_line
    found = parsers.detect_line_format(SYSCALL, "/var/log/audit/audit.log")
    assert found is not None and found[0] == "auditd.log"
    assert parsers.detect_line_format("node=h type=PATH msg=audit(1.000:1): x=1", None) is not None
    event = _normalize(EXECVE)  # no hint: detected
    assert event.dataset == "auditd.log" and event.doc["@timestamp"] == "2023-11-14T22:13:20.123Z"
    assert event.doc["event"]["module"] == "auditd" and event.doc["event"]["original"] == EXECVE
    hinted = _normalize(ENRICHED, hint="auditd.log")
    assert hinted.dataset == "auditd.log" and hinted.doc["auditd"]["log"]["AUID"] == "alice"
    doc = _doc()
    assert auditd.parse_line("Nov 23 10:00:00 h audispd: type=X", doc) is None and doc == _doc()


def test_relayed_by_audisp_syslog_and_audispd() -> None:
    event = _normalize("<14>Nov 14 22:13:20 web1 audisp-syslog: " + ENRICHED.replace("\x1d", " "), transport="udp")
    log = event.doc["auditd"]["log"]
    assert event.dataset == "auditd.log" and log["sequence"] == 4567 and log["AUID"] == "alice"
    assert event.doc["process"]["executable"] == "/usr/bin/grep"  # the audited process, not the relay
    assert event.doc["log"]["syslog"]["appname"] == "audisp-syslog"
    event = _normalize("<86>Nov 14 22:13:21 web1 audispd: node=web1 " + USER_LOGIN, transport="udp")
    assert event.dataset == "auditd.log" and event.doc["event"]["outcome"] == "failure"
    assert event.doc["auditd"]["log"]["node"] == "web1"
    daemon = _normalize("<30>Nov 14 22:13:21 web1 auditd[55]: Audit daemon rotating log files", transport="udp")
    assert daemon.dataset == "system.syslog" and "auditd" not in daemon.doc


def test_relayed_by_journald_and_the_kernel() -> None:
    journald = "<38>Nov 14 22:13:23 web1 audit[1]: " + SERVICE_STOP.split(": ", 1)[1].replace(
        "pid=1", "SERVICE_STOP pid=1", 1
    )
    event = _normalize(journald, transport="udp")
    log = event.doc["auditd"]["log"]
    assert event.dataset == "auditd.log" and log["record_type"] == "SERVICE_STOP" and "sequence" not in log
    assert log["unit"] == "firewalld"
    kernel = (
        '<4>Nov 14 22:13:25 web1 kernel: [ 1234.567890] audit: type=1400 audit(1700000005.456:77): apparmor="DENIED" '
        'operation="open" profile="/usr/sbin/cupsd" name="/etc/shadow" pid=981 comm="cupsd" requested_mask="r" '
        'denied_mask="r" fsuid=0 ouid=0'
    )
    event = _normalize(kernel, transport="udp")
    log = event.doc["auditd"]["log"]
    assert event.dataset == "auditd.log" and log["record_type"] == "AVC" and log["sequence"] == 77
    assert log["apparmor"] == "DENIED" and event.doc["event"]["type"] == ["denied"]
    firewall = "<4>Nov 14 22:13:25 web1 kernel: [UFW BLOCK] IN=eth0 OUT= MAC= SRC=192.0.2.1 DST=192.0.2.2 PROTO=TCP"
    assert _normalize(firewall, transport="udp").dataset == "iptables.log"  # other kernel lines as before
    other = _normalize("<4>Nov 14 22:13:25 web1 kernel: audit: backlog limit exceeded", transport="udp")
    assert other.dataset == "system.syslog"
