"""nmap ``-oX`` XML → a typed scan report, parsed safely.

The parser refuses DTD entity declarations (nmap never writes them; they are how XML bombs
and external-entity reads work) and never fetches anything. A document that is well-formed
XML but not an nmap run yields an empty report with a warning, so a folder of mixed files
imports without stopping; malformed XML raises ``ParseError``.
"""

from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.parsers import expat

from collectors.scan.tls_scripts import CertInfo, TlsInfo, parse_ssl_cert, parse_ssl_enum_ciphers
from sentinel.errors import ParseError

log = logging.getLogger(__name__)
MAX_SCRIPT_OUTPUT = 4096  # characters of one script's text kept on an event


@dataclass(frozen=True, slots=True)
class PortResult:
    protocol: str
    port: int
    state: str
    reason: str | None = None
    service_name: str | None = None
    product: str | None = None
    version: str | None = None
    extrainfo: str | None = None
    tunnel: str | None = None
    method: str | None = None  # "probed" (-sV matched) or "table" (guessed from the port number)
    cpe: tuple[str, ...] = ()
    scripts: dict[str, str] = field(default_factory=dict)
    tls: TlsInfo | None = None
    cert: CertInfo | None = None


@dataclass(frozen=True, slots=True)
class HostResult:
    ip: str
    ip_version: int
    state: str  # up, down, unknown
    reason: str | None = None
    mac: str | None = None
    mac_vendor: str | None = None
    hostnames: tuple[str, ...] = ()
    os_name: str | None = None
    os_accuracy: int | None = None
    ports: tuple[PortResult, ...] = ()
    started: datetime | None = None
    ended: datetime | None = None
    timed_out: bool = False  # --host-timeout hit: the port list is incomplete

    def open_ports(self) -> list[PortResult]:
        return [p for p in self.ports if p.state == "open"]


@dataclass(frozen=True, slots=True)
class ScanReport:
    scanner_version: str | None
    args: str | None
    started: datetime | None
    finished: datetime | None
    hosts: tuple[HostResult, ...]
    sha256: str
    warnings: tuple[str, ...] = ()

    @property
    def time(self) -> datetime | None:
        return self.finished or self.started


class UnsafeXml(ParseError):
    """The XML declares entities: refused unread (nothing is expanded or fetched)."""


def _reject_entities(*_args: object) -> None:
    raise UnsafeXml("refusing XML with entity declarations (nmap output never has them)")


def safe_parse(data: bytes) -> ET.Element:
    """Parse XML with expat into an ElementTree, refusing entity declarations and external references."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _reject_entities
    parser.UnparsedEntityDeclHandler = _reject_entities
    parser.ExternalEntityRefHandler = lambda *a: _reject_entities()  # type: ignore[assignment]
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except UnsafeXml:
        raise
    except expat.ExpatError as exc:
        raise ParseError(f"not well-formed XML: {expat.ErrorString(exc.code)} at line {exc.lineno}") from exc
    return builder.close()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _epoch(value: str | None) -> datetime | None:
    seconds = _int(value)
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None


def _port(el: ET.Element) -> PortResult | None:
    number = _int(el.get("portid"))
    if number is None:
        return None
    state_el = el.find("state")
    svc = el.find("service")
    scripts: dict[str, str] = {}
    tls = cert = None
    for script in el.findall("script"):
        sid = script.get("id") or "?"
        scripts[sid] = (script.get("output") or "")[:MAX_SCRIPT_OUTPUT]
        if sid == "ssl-enum-ciphers":
            tls = parse_ssl_enum_ciphers(script)
        elif sid == "ssl-cert":
            cert = parse_ssl_cert(script)
    return PortResult(
        protocol=el.get("protocol") or "tcp",
        port=number,
        state=state_el.get("state", "unknown") if state_el is not None else "unknown",
        reason=state_el.get("reason") if state_el is not None else None,
        service_name=svc.get("name") if svc is not None else None,
        product=svc.get("product") if svc is not None else None,
        version=svc.get("version") if svc is not None else None,
        extrainfo=svc.get("extrainfo") if svc is not None else None,
        tunnel=svc.get("tunnel") if svc is not None else None,
        method=svc.get("method") if svc is not None else None,
        cpe=tuple((c.text or "").strip() for c in svc.findall("cpe")) if svc is not None else (),
        scripts=scripts,
        tls=tls,
        cert=cert,
    )


def _best_os(host: ET.Element) -> tuple[str | None, int | None]:
    best: tuple[str | None, int | None] = (None, None)
    for match in host.findall("os/osmatch"):
        accuracy = _int(match.get("accuracy")) or 0
        if best[1] is None or accuracy > best[1]:
            best = (match.get("name"), accuracy)
    if best[0] is None:  # very old nmap: only osclass
        for cls in host.findall("os/osclass"):
            accuracy = _int(cls.get("accuracy")) or 0
            name = " ".join(v for v in (cls.get("vendor"), cls.get("osfamily"), cls.get("osgen")) if v)
            if name and (best[1] is None or accuracy > best[1]):
                best = (name, accuracy)
    return best


def _host(el: ET.Element, warnings: list[str]) -> HostResult | None:
    ip = version = mac = vendor = None
    for addr in el.findall("address"):
        kind = addr.get("addrtype")
        if kind in ("ipv4", "ipv6") and ip is None:
            ip, version = addr.get("addr"), 4 if kind == "ipv4" else 6
        elif kind == "mac":
            mac, vendor = addr.get("addr"), addr.get("vendor")
    if not ip or version is None:
        warnings.append(f"a host without an IP address was skipped (MAC {mac or 'unknown'})")
        return None
    status = el.find("status")
    os_name, os_accuracy = _best_os(el)
    ports = tuple(p for p in (_port(pe) for pe in el.findall("ports/port")) if p is not None)
    return HostResult(
        ip=ip,
        ip_version=version,
        state=status.get("state", "unknown") if status is not None else "unknown",
        reason=status.get("reason") if status is not None else None,
        mac=mac.lower() if mac else None,
        mac_vendor=vendor,
        hostnames=tuple(h.get("name", "") for h in el.findall("hostnames/hostname") if h.get("name")),
        os_name=os_name,
        os_accuracy=os_accuracy,
        ports=ports,
        started=_epoch(el.get("starttime")),
        ended=_epoch(el.get("endtime")),
        timed_out=el.get("timedout") == "true",
    )


def parse_report(data: bytes) -> ScanReport:
    """Parse one nmap XML document. Raises ``ParseError`` only for malformed XML; unsafe XML is refused unread."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        root = safe_parse(data)
    except UnsafeXml as exc:
        return ScanReport(None, None, None, None, (), digest, (exc.message,))
    if root.tag != "nmaprun":
        return ScanReport(None, None, None, None, (), digest, (f"not an nmap XML run (root element <{root.tag}>)",))
    warnings: list[str] = []
    hosts: list[HostResult] = []
    # Hosts appear at top level, or inside <hosthint>/<target> wrappers in some versions.
    for el in root.iter("host"):
        host = _host(el, warnings)
        if host is not None:
            hosts.append(host)
    finished = root.find("runstats/finished")
    if finished is None:
        warnings.append("the scan did not finish (no runstats): results may be partial")
    return ScanReport(
        scanner_version=root.get("version"),
        args=root.get("args"),
        started=_epoch(root.get("start")),
        finished=_epoch(finished.get("time")) if finished is not None else None,
        hosts=tuple(_dedupe(hosts)),
        sha256=digest,
        warnings=tuple(warnings),
    )


def _dedupe(hosts: list[HostResult]) -> list[HostResult]:
    """One result per address: an "up" result wins over a "down" from another pass."""
    by_ip: dict[str, HostResult] = {}
    for host in hosts:
        seen = by_ip.get(host.ip)
        if seen is None or (seen.state != "up" and host.state == "up") or (seen.state == host.state and host.ports):
            by_ip[host.ip] = host
    return list(by_ip.values())
