"""Credentials sent in clear text: Telnet logins, FTP ``USER``/``PASS``, HTTP ``Authorization: Basic``.

A finding records that a credential crossed the network readable by anyone on the path (and the
user name where the protocol shows it); the password itself is never kept in, logged by or
written from the sensor. One finding per client, server and user per ``cleartext_window_seconds``.

Each TCP segment is looked at on its own: a header split across segments is missed (rare for the
first request of a connection), which errs on the side of fewer findings, never wrong ones.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from collectors.sensor.base import WANTS_TCP, BoundedLRU, Deduper, Finding, iso
from collectors.sensor.decode import PROTO_TCP, ArpPacket, IpPacket, ip_text
from sentinel.config import SensorSettings

NAME = "cleartext_creds"
TELNET_PORT = 23
FTP_PORT = 21
TECHNIQUE = ("T1040", "Network Sniffing")
TACTIC = ("TA0006", "Credential Access")
_HTTP_SCAN_BYTES = 8192
_MAX_USER = 64
_HTTP_REQUEST = re.compile(rb"^(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|PROPFIND|CONNECT) (\S{1,2048}) HTTP/1\.[01]\r\n")
_BASIC = re.compile(rb"\r\n(?:proxy-)?authorization:[ \t]*basic[ \t]+([A-Za-z0-9+/=]{1,1024})", re.IGNORECASE)
_IAC = 0xFF


def telnet_user_data(data: bytes) -> bytes:
    """Client bytes with Telnet option negotiation (IAC sequences) removed: what the user typed."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte != _IAC:
            out.append(byte)
            i += 1
            continue
        if i + 1 >= n:
            break
        command = data[i + 1]
        if command == _IAC:  # an escaped 0xFF data byte
            out.append(_IAC)
            i += 2
        elif command == 250:  # SB ... IAC SE: skip the subnegotiation
            end = data.find(bytes((_IAC, 240)), i + 2)
            i = n if end < 0 else end + 2
        elif 251 <= command <= 254:  # WILL/WONT/DO/DONT option
            i += 3
        else:
            i += 2
    return bytes(out)


def basic_auth_user(header_value: bytes) -> str | None:
    """The user name of an ``Authorization: Basic`` value; the password part is discarded unread."""
    try:
        decoded = base64.b64decode(header_value, validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, _ = decoded.partition(b":")
    if not sep:
        return None
    return user[:_MAX_USER].decode("utf-8", "replace")


class CleartextCredsDetector:
    name = NAME
    wants = frozenset({WANTS_TCP})

    def __init__(self, settings: SensorSettings) -> None:
        self.window = settings.cleartext_window_seconds
        self.http_ports = frozenset(settings.cleartext_http_ports)
        self._reported = Deduper(self.window, settings.max_tracked)
        # FTP: the USER seen on a connection, until its PASS arrives.
        self._ftp_users: BoundedLRU[tuple[bytes, bytes, int], str] = BoundedLRU(settings.max_tracked)

    def bpf(self) -> str:
        ports = sorted({TELNET_PORT, FTP_PORT, *self.http_ports})
        return " or ".join(f"tcp dst port {port}" for port in ports)

    def on_arp(self, pkt: ArpPacket, out: list[Finding]) -> None:
        return

    def on_ip(self, pkt: IpPacket, out: list[Finding]) -> None:
        if pkt.proto != PROTO_TCP or pkt.payload_at >= pkt.end:
            return
        port = pkt.dport
        if port == TELNET_PORT:
            if telnet_user_data(pkt.payload[:512]).strip(b"\x00\r\n "):
                self._report(pkt, "telnet", None, {"credential": "login"}, out)
        elif port == FTP_PORT:
            self._ftp(pkt, out)
        elif port in self.http_ports:
            self._http(pkt, out)

    def _ftp(self, pkt: IpPacket, out: list[Finding]) -> None:
        line = pkt.payload[:512]
        command = line[:5].upper()
        flow = (pkt.src, pkt.dst, pkt.sport)
        if command == b"USER ":
            name = line[5:].split(b"\r", 1)[0].split(b"\n", 1)[0].strip()
            self._ftp_users.put(flow, name[:_MAX_USER].decode("utf-8", "replace"))
        elif command == b"PASS ":
            user = self._ftp_users.pop(flow)
            if user and user.lower() in ("anonymous", "ftp"):
                return  # anonymous FTP sends an e-mail address as its "password", not a secret
            self._report(pkt, "ftp", user, {"credential": "password"}, out)

    def _http(self, pkt: IpPacket, out: list[Finding]) -> None:
        data = pkt.payload[:_HTTP_SCAN_BYTES]
        request = _HTTP_REQUEST.match(data)
        if request is None:
            return
        header = _BASIC.search(data)
        if header is None:
            return
        user = basic_auth_user(header.group(1))
        path = request.group(2).split(b"?", 1)[0].decode("utf-8", "replace")  # a query string can hold secrets
        extra = {"credential": "http_basic"}
        http = {"request": {"method": request.group(1).decode("ascii")}}
        self._report(pkt, "http", user, extra, out, {"http": http, "url": {"path": path}})

    def _report(
        self,
        pkt: IpPacket,
        protocol: str,
        user: str | None,
        extra: dict[str, Any],
        out: list[Finding],
        more: dict[str, Any] | None = None,
    ) -> None:
        client, server = ip_text(pkt.src), ip_text(pkt.dst)
        key = f"{protocol}|{client}|{server}|{user or ''}"
        start = self._reported.first_sighting(key, pkt.ts)
        if start is None:
            return
        fields: dict[str, Any] = {
            "source": {"ip": client, "port": pkt.sport},
            "destination": {"ip": server, "port": pkt.dport},
            "network": {"transport": "tcp", "protocol": protocol},
            "event": {"start": iso(pkt.ts), "end": iso(pkt.ts)},
            "sensor": extra,
            **(more or {}),
        }
        if user:
            fields["user"] = {"name": user}
        who = f" for user {user!r}" if user else ""
        out.append(
            Finding(
                detector=NAME,
                action="cleartext_credentials",
                key=key,
                window_start=start,
                timestamp=pkt.ts,
                message=f"{protocol.upper()} credentials{who} sent in clear text from {client} to {server}",
                fields=fields,
                affected=(server, client),
                event_type=("protocol",),
                technique=TECHNIQUE,
                tactic=TACTIC,
                severity=47,
            )
        )

    def advance(self, now: float, out: list[Finding]) -> None:
        return

    def flush(self, out: list[Finding]) -> None:
        return

    def state_size(self) -> int:
        return len(self._reported) + len(self._ftp_users)
