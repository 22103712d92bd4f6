"""Linux audit records: ``/var/log/audit/audit.log`` lines and the same records relayed by syslog.

A record is ``[node=N ]type=T msg=audit(SECONDS.MS:SERIAL): key=value ...``. Every key=value lands
in ``auditd.log.<key>`` (as Elastic's auditd module and Sentinel's Sigma pipeline expect), with
``auditd.log.record_type`` and ``auditd.log.sequence`` (the serial); ECS fields are added where
their meaning is plain. Forms accepted (chosen from the audit and systemd sources):

- the file line, RAW or ENRICHED (``\\x1d`` then upper-case interpreted fields: ``SYSCALL=execve
  AUID="root"``); the record's epoch time is ``@timestamp`` (UTC, no zone to guess);
- syslog program ``audisp-syslog`` (audit 3 plugin, default facility) or ``audispd`` (audit 2
  built-in, or audit 3 with a facility set): the file line as the message, ``\\x1d`` made a space;
- syslog program ``audit`` (journald's audit transport forwarded to syslog): ``TYPE key=value ...``
  with no ``audit(...)`` stamp, so no sequence and the syslog header's time;
- syslog program ``kernel`` (no auditd running, printk): ``audit: type=1400 audit(T:S): ...``,
  the type by number. For syslog-relayed records ``@timestamp`` stays the header's, as for every
  syslog line; the audited process replaces the relay in ``process.*``.

Values: ``"quoted"`` is unquoted; an unquoted value of a field the kernel escapes (comm, exe,
name, proctitle, EXECVE arguments, key, ...) is hex and decoded; a USER_* record's
``msg='...'`` is flattened into the same object (the outer field wins on a clash). Long EXECVE
arguments split into ``a1[0]``, ``a1[1]``... within a record are joined into ``a1``. RAW syscall
numbers get their name (``SYSCALL``) and ``ARCH`` for x86_64, i386 and aarch64, as ENRICHED
logs carry them, so Sigma's ``SYSCALL: execve`` matches both. ``message`` is an EXECVE record's
command line (keyword rules such as ``--to-ports 42`` look for it), else the record with its hex
values decoded when it had any. A record cut short (a header that does not parse, an
unterminated quote or brace, odd-length hex) is a ``ParseError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.parsers import generic
from collectors.parsers.auditd_tables import EVENT_KINDS, RECORD_TYPES, Kind, arch_name, syscall_name
from collectors.parsers.fields import set_endpoint, set_event
from sentinel.errors import ParseError

DATASET = "auditd.log"
_HEADER = re.compile(
    r"(?:node=(?P<node>\S+) )?type=(?P<type>[A-Za-z0-9_\[\]]+) (?:msg=)?"
    r"audit\((?P<sec>\d{1,12})\.(?P<ms>\d{3}):(?P<serial>\d{1,20})\):[ \x1d]?"
)
_KERNEL = re.compile(r"(?:\[\s*\d+\.\d+\] )?audit: (?=type=\d)")
_JOURNAL = re.compile(r"(?P<type>[A-Z][A-Z0-9_]+) (?=[\w\-]+=)")
_TOKEN = re.compile(r"([\w\-\[\]]+)=(\"[^\"]*\"?|\{[^}]*\}?|[^\s\x1d]*)")
_AVC = re.compile(r"\s*avc:\s+(\w+)\s+\{\s*([^}]*?)\s*\}\s+for\s")
_HEX = re.compile(r"[0-9A-F]+")
_ARG = re.compile(r"a(\d+)(?:\[(\d+)\])?")
# Fields the kernel and libaudit write quoted when plain and as hex otherwise (auparse's typetab).
_ESCAPED = frozenset(
    "path comm exe file name watch cwd cmd acct dir key vm old-chardev new-chardev old-disk new-disk old-fs "
    "new-fs old-net new-net device cgroup apparmor operation denied_mask info profile requested_mask old-rng "
    "new-rng ocomm grp new_group invalid_context sw root_dir proctitle data".split()
)
_UNSET = frozenset(("4294967295", "-1", "unset"))
_SUCCESS = frozenset(("success", "yes", "1"))
_FAILURE = frozenset(("failed", "failure", "no", "0"))
_MAX_CHUNKS = 4096  # a1[0]..a1[n] pieces kept per argument: the kernel splits at 7,500 bytes
_MAC = frozenset(("AVC", "USER_AVC", "SELINUX_ERR", "USER_SELINUX_ERR", "APPARMOR_DENIED", "APPARMOR_ALLOWED"))


@dataclass(slots=True)
class AuditRecord:
    """One audit record: its type, fields (decoded), and the stamp when the form carries one."""

    record_type: str
    fields: dict[str, Any] = field(default_factory=dict)
    time: datetime | None = None
    sequence: int | None = None
    node: str | None = None
    decoded: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, text) of hex values


# ---- entry points ---------------------------------------------------------------------------


def parse_line(line: str, doc: dict[str, Any]) -> datetime | None:
    """The whole-line file format: fill ``doc`` and return the record's UTC time.

    None for a line that is not an audit record at all (so a syslog frame can still be tried);
    ``ParseError`` for one that starts as a record and is broken or cut short.
    """
    if not line.startswith(("type=", "node=")):
        return None
    record = parse_record(line)
    fill(doc, record, line)
    return record.time


def parse(message: str, doc: dict[str, Any]) -> str | None:
    """Syslog programs that relay records (audisp-syslog, audispd, audit, auditd)."""
    text = message.strip()
    if text.startswith(("type=", "node=")):
        record = parse_record(text)
    else:
        m = _JOURNAL.match(text)
        if m is None:
            return generic.DATASET  # the daemon's own messages: "Audit daemon rotating log files"
        record = AuditRecord(m.group("type"))
        _parse_body(record, text, m.end())
    _relayed(doc)
    fill(doc, record, text)
    return DATASET


def parse_kernel(message: str, doc: dict[str, Any]) -> str | None:
    """``audit: type=1400 audit(1700000000.123:45): ...`` printed by the kernel; None for other lines."""
    m = _KERNEL.match(message)
    if m is None:
        return None
    record = parse_record(message, m.end())
    _relayed(doc)
    fill(doc, record, message)
    return DATASET


# ---- parsing --------------------------------------------------------------------------------


def parse_record(text: str, start: int = 0) -> AuditRecord:
    """The record at ``text[start:]``; ``ParseError`` with the reason when it is not whole."""
    m = _HEADER.match(text, start)
    if m is None:
        raise ParseError(f"malformed or truncated audit record header: {text[start : start + 80]!r}")
    rtype = m.group("type")
    if rtype.isdecimal():
        rtype = RECORD_TYPES.get(rtype, f"UNKNOWN[{rtype}]")  # auparse's name for an unknown number
    try:
        time = datetime.fromtimestamp(int(m.group("sec")), UTC) + timedelta(milliseconds=int(m.group("ms")))
    except (OverflowError, OSError, ValueError) as exc:
        raise ParseError(f"audit record time out of range: {m.group('sec')}") from exc
    record = AuditRecord(rtype, time=time, sequence=int(m.group("serial")), node=m.group("node"))
    _parse_body(record, text, m.end())
    return record


def _parse_body(record: AuditRecord, text: str, start: int) -> None:
    end = text.find("\x1d", start)
    raw_end = len(text) if end == -1 else end
    msg = text.find("msg='", start, raw_end)
    if msg != -1 and (msg == start or text[msg - 1] in " \x1d"):
        close = text.rfind("'", msg + 5, raw_end)
        if close == -1:
            raise ParseError("truncated audit record: msg='...' is not closed")
        _tokens(record, text, start, msg)
        inner = msg + 5
        avc = _AVC.match(text, inner, close)
        if avc is not None:
            _avc(record, avc)
            inner = avc.end()
        if _TOKEN.search(text, inner, close) is None:
            record.fields.setdefault("msg", text[inner:close])  # free text, not key=value
        else:
            _tokens(record, text, inner, close)
        _tokens(record, text, close + 1, raw_end)  # audisp-syslog turned the \x1d into a space
    else:
        avc = _AVC.match(text, start, raw_end)
        if avc is not None:
            _avc(record, avc)
            start = avc.end()
        _tokens(record, text, start, raw_end)
    if end != -1:
        _tokens(record, text, end + 1, len(text))
    _derive(record)


def _avc(record: AuditRecord, m: re.Match[str]) -> None:
    """SELinux ``avc:  denied  { read write } for ...``: auparse's seresult and seperms."""
    record.fields.setdefault("seresult", m.group(1))
    record.fields.setdefault("seperms", ",".join(m.group(2).split()))


def _tokens(record: AuditRecord, text: str, start: int, end: int) -> None:
    fields = record.fields
    execve = record.record_type == "EXECVE"
    for m in _TOKEN.finditer(text, start, end):
        key, raw = m.group(1), m.group(2)
        if raw[:1] == '"':
            if len(raw) < 2 or raw[-1] != '"':
                raise ParseError(f"truncated audit record: unterminated quoted value of {key}")
            value: Any = raw[1:-1]
        elif raw[:1] == "{":
            if raw[-1] != "}":
                raise ParseError(f"truncated audit record: unterminated {{...}} value of {key}")
            value = raw[1:-1].strip()
        elif raw and (key in _ESCAPED or (execve and _ARG.fullmatch(key))) and _HEX.fullmatch(raw):
            if len(raw) % 2:
                raise ParseError(f"truncated audit record: odd-length hex value of {key}")
            value = _unhex(key, raw)
            shown = " ".join(value) if isinstance(value, list) else value
            record.decoded.append((m.start(2), m.end(2), '"' + shown + '"'))
        else:
            value = raw
        if execve and key.endswith("]"):
            arg = _ARG.fullmatch(key)
            if arg is not None and int(arg.group(2)) < _MAX_CHUNKS:  # a1[0], a1[1]... join into a1
                name = f"a{arg.group(1)}"
                fields[name] = fields.get(name, "") + value
                continue
        fields.setdefault(key, value)


def _unhex(key: str, raw: str) -> str | list[str]:
    data = bytes.fromhex(raw)
    if key == "proctitle":  # argv joined by NULs
        return data.replace(b"\x00", b" ").decode("utf-8", "replace").rstrip()
    if key == "key" and b"\x01" in data:  # several rule keys, separated by \x01
        return [k.decode("utf-8", "replace") for k in data.split(b"\x01")]
    return data.decode("utf-8", "replace")


def _derive(record: AuditRecord) -> None:
    """What ENRICHED logs add, for RAW ones: the architecture's and the syscall's names."""
    fields = record.fields
    arch = fields.get("arch")
    if not isinstance(arch, str):
        return
    if "ARCH" not in fields:
        name = arch_name(arch)
        if name is not None:
            fields["ARCH"] = name
    number = fields.get("syscall")
    if "SYSCALL" not in fields and isinstance(number, str):
        name = syscall_name(arch, number)
        if name is not None:
            fields["SYSCALL"] = name


# ---- ECS ------------------------------------------------------------------------------------


def fill(doc: dict[str, Any], record: AuditRecord, text: str) -> None:
    """The record into ``doc``: ``auditd.log.*`` and the ECS fields with a plain meaning."""
    fields = record.fields
    log: dict[str, Any] = dict(fields)
    log["record_type"] = record.record_type
    if record.sequence is not None:
        log["sequence"] = record.sequence
    if record.node is not None:
        log["node"] = record.node
    doc["auditd"] = {"log": log}
    rtype = record.record_type
    _process(doc, rtype, fields)
    _user(doc, fields)
    addr = _text(fields, "addr") or _text(fields, "hostname")
    set_endpoint(doc, "source", addr)
    if rtype == "PATH" and _text(fields, "name"):
        doc["file"] = {"path": fields["name"]}
    if rtype.startswith("SERVICE_") and _text(fields, "unit"):
        doc["service"] = {"name": fields["unit"]}
    _classify(doc, rtype, fields)
    command_line = doc.get("process", {}).get("command_line")
    if command_line:  # EXECVE: the command as one string, as keyword rules ("--to-ports 42") expect
        doc["message"] = command_line
    elif record.decoded:  # hex values shown decoded, so keyword rules and people can read them
        parts: list[str] = []
        at = 0
        for start, end, shown in record.decoded:
            parts.append(text[at:start])
            parts.append(shown)
            at = end
        parts.append(text[at:])
        doc["message"] = "".join(parts)


def _text(fields: dict[str, Any], key: str) -> str | None:
    """A field's value when it says something (not ``?``, ``(null)``, ``(none)`` or empty)."""
    value = fields.get(key)
    if isinstance(value, str) and value and value not in ("?", "(null)", "(none)"):
        return value
    return None


def _relayed(doc: dict[str, Any]) -> None:
    """A relayed record is about the audited process, not the relay: keep the relay's name apart."""
    relay = doc.pop("process", None)
    if isinstance(relay, dict) and relay.get("name"):
        doc.setdefault("log", {}).setdefault("syslog", {})["appname"] = relay["name"]


def _process(doc: dict[str, Any], rtype: str, fields: dict[str, Any]) -> None:
    process: dict[str, Any] = {}
    pid, ppid = fields.get("pid"), fields.get("ppid")
    if isinstance(pid, str) and pid.isdecimal():
        process["pid"] = int(pid)
    if isinstance(ppid, str) and ppid.isdecimal():
        process["parent"] = {"pid": int(ppid)}
    exe, comm = _text(fields, "exe"), _text(fields, "comm")
    if exe:
        process["executable"] = exe
    if comm:
        process["name"] = comm
    if rtype == "EXECVE":
        args = _execve_args(fields)
        if args:
            process["args"] = args
            process["args_count"] = len(args)
            process["command_line"] = " ".join(args)
    elif rtype == "CWD" and _text(fields, "cwd"):
        process["working_directory"] = fields["cwd"]
    elif rtype == "PROCTITLE" and _text(fields, "proctitle"):
        process["title"] = fields["proctitle"]
    if process:
        doc["process"] = process


def _execve_args(fields: dict[str, Any]) -> list[str]:
    """a0, a1, ... in order, up to the first one missing (the rest are in a later record)."""
    args: list[str] = []
    while True:
        value = fields.get(f"a{len(args)}")
        if not isinstance(value, str):
            return args
        args.append(value)


def _user(doc: dict[str, Any], fields: dict[str, Any]) -> None:
    user: dict[str, Any] = {}
    uid, auid = fields.get("uid"), fields.get("auid")
    auid = auid if isinstance(auid, str) and auid not in _UNSET else None
    if isinstance(uid, str) and uid:
        user["id"] = uid
    elif auid is not None:
        user["id"] = auid
    name = _text(fields, "acct") or _text(fields, "UID")
    if name:
        user["name"] = name
    if auid is not None:
        audit: dict[str, Any] = {"id": auid}
        auid_name = _text(fields, "AUID")
        if auid_name and auid_name != "unset":
            audit["name"] = auid_name
        user["audit"] = audit
    euid = fields.get("euid")
    if isinstance(euid, str) and euid:
        user["effective"] = {"id": euid}
    if user:
        doc["user"] = user
    gid = fields.get("gid")
    if isinstance(gid, str) and gid:
        doc["group"] = {"id": gid}


def _outcome(fields: dict[str, Any]) -> str | None:
    for key in ("res", "result", "success"):
        value = fields.get(key)
        if isinstance(value, str):
            value = value.lower()
            if value in _SUCCESS:
                return "success"
            if value in _FAILURE:
                return "failure"
    return None


def _classify(doc: dict[str, Any], rtype: str, fields: dict[str, Any]) -> None:
    outcome = _outcome(fields)
    if rtype in _MAC or rtype.startswith("APPARMOR"):
        verdict = str(fields.get("seresult") or fields.get("apparmor") or "").lower()
        if verdict == "denied" or rtype == "APPARMOR_DENIED":
            kind: Kind = (("intrusion_detection",), ("denied",))
            outcome = "failure"
        elif verdict in ("granted", "allowed") or rtype == "APPARMOR_ALLOWED":
            kind = (("intrusion_detection",), ("allowed",))
        else:
            kind = (("intrusion_detection",), ("info",))
    else:
        found = EVENT_KINDS.get(rtype)
        if found is None:
            doc["event"]["action"] = rtype.lower()
            if outcome is not None:
                doc["event"]["outcome"] = outcome
            return
        kind = found
    set_event(doc, action=rtype.lower(), category=kind[0], type=kind[1], outcome=outcome)
