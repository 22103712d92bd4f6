"""A parsed nmap run → ECS events: one ``nmap.host`` per host, one ``nmap.port`` per open port.

Field choices (ECS where ECS has a field, ``sentinel.scan.*`` where it has none):
- ``service.name`` is nmap's service name (``ssh``) and ``service.version`` its version string;
  ECS has no product field, so nmap's product (``OpenSSH``), extra info, tunnel, detection
  method and CPEs go to ``sentinel.scan.service.*``.
- The certificate goes to ``tls.server.x509.*`` (+ ``tls.server.not_after``/``hash.sha1``). ECS
  ``tls.version`` describes one negotiated connection, so the versions a server *offers*, the
  ssl-enum-ciphers grade and weakest cipher go to ``sentinel.scan.tls.*``.
- ``sentinel.scan.id`` links every event of one run; ids are derived from scan id + host (+ port),
  so importing or storing the same run twice is a no-op.
- ``sentinel.policy.*`` (see ``policy.py``) is added to port events when a policy is given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collectors.scan.policy import PolicyContext, cert_days_left
from collectors.scan.report import HostResult, PortResult, ScanReport, parse_report
from sentinel.events import UNATTRIBUTED, Event, event_id, format_timestamp, new_event
from sentinel.inventory import Inventory

HOST_DATASET = "nmap.host"
PORT_DATASET = "nmap.port"
CHANGE_DATASET = "nmap.change"


@dataclass(frozen=True, slots=True)
class ScanContext:
    scan_id: str
    institution_id: str | None = None  # None: each host is attributed through the inventory
    inventory: Inventory | None = None
    profile: str | None = None
    target: str | None = None
    policy: PolicyContext | None = None
    observer_hostname: str | None = None
    received_at: datetime | None = None  # used when the XML carries no times


def scan_id_from_bytes(data: bytes) -> str:
    """An imported file's scan id: its content, so a re-import yields the same ids."""
    return hashlib.blake2b(data, digest_size=8, person=b"sentinel-scan").hexdigest()


def scan_event_id(doc: dict[str, Any], scan_id: str, finding: str) -> str:
    """``event_id`` of a scan result: owned by the scanned institution, placed in its scan, and
    identified by what it reports on (host, or host and port)."""
    owner = doc["organization"]["id"]
    return event_id(owner if owner != UNATTRIBUTED else None, "nmap", finding, f"nmap:{scan_id}")


def ecs_mac(mac: str) -> str:
    return mac.upper().replace(":", "-")


def _organization(host: HostResult, ctx: ScanContext) -> str:
    if ctx.institution_id:
        return ctx.institution_id
    if ctx.inventory is not None:
        inst = ctx.inventory.attribute(host.ip, host.hostnames[0] if host.hostnames else None)
        if inst is not None:
            return inst.id
    return UNATTRIBUTED


def _when(report: ScanReport, host: HostResult, ctx: ScanContext) -> datetime:
    return host.ended or report.time or host.started or ctx.received_at or datetime.now(UTC)


def _common(report: ScanReport, host: HostResult, ctx: ScanContext, kind: str) -> dict[str, Any]:
    scan: dict[str, Any] = {"id": ctx.scan_id}
    if ctx.profile:
        scan["profile"] = ctx.profile
    if ctx.target:
        scan["target"] = ctx.target
    observer: dict[str, Any] = {"type": "scanner", "vendor": "Nmap", "product": "nmap"}
    if report.scanner_version:
        observer["version"] = report.scanner_version
    if ctx.observer_hostname:
        observer["hostname"] = ctx.observer_hostname
    return {
        "event": {"kind": kind, "category": ["network"], "type": ["info"], "module": "nmap"},
        "observer": observer,
        "agent": {"type": "sentinel", "name": "sentinel-scan"},
        "organization": {"id": _organization(host, ctx)},
        "sentinel": {"scan": scan},
    }


def host_event(report: ScanReport, host: HostResult, ctx: ScanContext) -> Event:
    doc = _common(report, host, ctx, "state")
    host_doc: dict[str, Any] = {"ip": [host.ip]}
    if host.mac:
        host_doc["mac"] = [ecs_mac(host.mac)]
    if host.hostnames:
        host_doc["hostname"] = host.hostnames[0]
        host_doc["name"] = host.hostnames[0]
    if host.os_name:
        host_doc["os"] = {"full": host.os_name}
    doc["host"] = host_doc
    scan = doc["sentinel"]["scan"]
    scan["host_state"] = host.state
    if host.reason:
        scan["host_reason"] = host.reason
    if host.os_accuracy is not None:
        scan["os_accuracy"] = host.os_accuracy
    if host.mac_vendor:
        scan["mac_vendor"] = host.mac_vendor
    scan["open_ports"] = len(host.open_ports())
    if host.timed_out:
        scan["timed_out"] = True
    names = f" ({host.hostnames[0]})" if host.hostnames else ""
    os_text = f", OS {host.os_name} ({host.os_accuracy}%)" if host.os_name else ""
    doc["message"] = f"host {host.ip}{names} is {host.state}, {scan['open_ports']} open ports{os_text}"
    return new_event(
        event_id=scan_event_id(doc, ctx.scan_id, f"host|{host.ip}"),
        timestamp=_when(report, host, ctx),
        dataset=HOST_DATASET,
        fields=doc,
    )


def _tls_fields(port: PortResult, at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ECS ``tls`` object, ``sentinel.scan.tls`` object) for a port with TLS script results."""
    ecs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if port.tls is not None:
        extra.update(
            versions=list(port.tls.versions),
            least_strength=port.tls.least_strength,
            weakest_cipher=port.tls.weakest_cipher,
            weakest_strength=port.tls.weakest_strength,
        )
        if port.tls.warnings:
            extra["warnings"] = list(port.tls.warnings)
    cert = port.cert
    if cert is not None:
        x509: dict[str, Any] = {}
        if cert.subject:
            x509["subject"] = {"distinguished_name": cert.subject}
            if cert.subject_cn:
                x509["subject"]["common_name"] = [cert.subject_cn]
        if cert.issuer:
            x509["issuer"] = {"distinguished_name": cert.issuer}
        if cert.not_before:
            x509["not_before"] = format_timestamp(cert.not_before)
        if cert.not_after:
            x509["not_after"] = format_timestamp(cert.not_after)
        if cert.key_type:
            x509["public_key_algorithm"] = cert.key_type.upper()
        if cert.key_bits:
            x509["public_key_size"] = cert.key_bits
        server: dict[str, Any] = {"x509": x509}
        if cert.not_after:
            server["not_after"] = format_timestamp(cert.not_after)
        if cert.sha1:
            server["hash"] = {"sha1": cert.sha1.upper()}
        ecs["server"] = server
        days = cert_days_left(port, at)
        if days is not None:
            extra["cert_days_left"] = days
            extra["cert_expired"] = days < 0
    return ecs, {k: v for k, v in extra.items() if v is not None}


def port_event(report: ScanReport, host: HostResult, port: PortResult, ctx: ScanContext) -> Event:
    at = _when(report, host, ctx)
    doc = _common(report, host, ctx, "state")
    doc["host"] = {"ip": [host.ip]}
    if host.hostnames:
        doc["host"]["name"] = host.hostnames[0]
    doc["destination"] = {"ip": host.ip, "port": port.port}
    doc["network"] = {"transport": port.protocol, "type": f"ipv{host.ip_version}"}
    if port.service_name:
        doc["service"] = {"name": port.service_name}
        if port.version:
            doc["service"]["version"] = port.version
    scan = doc["sentinel"]["scan"]
    scan["port_state"] = port.state
    service = {
        "product": port.product,
        "extrainfo": port.extrainfo,
        "tunnel": port.tunnel,
        "method": port.method,
        "cpe": list(port.cpe) or None,
    }
    service = {k: v for k, v in service.items() if v}
    if service:
        scan["service"] = service
    if port.scripts:
        scan["scripts"] = [{"id": sid, "output": out} for sid, out in port.scripts.items()]
    tls, tls_extra = _tls_fields(port, at)
    if tls:
        doc["tls"] = tls
    if tls_extra:
        scan["tls"] = tls_extra
    if ctx.policy is not None:
        doc["sentinel"]["policy"] = ctx.policy.evaluate(port, at)
    what = " ".join(v for v in (port.service_name, port.product, port.version) if v) or "unknown service"
    doc["message"] = f"open {port.protocol}/{port.port} on {host.ip}: {what}"
    return new_event(
        event_id=scan_event_id(doc, ctx.scan_id, f"port|{host.ip}|{port.protocol}/{port.port}"),
        timestamp=at,
        dataset=PORT_DATASET,
        fields=doc,
    )


def report_events(report: ScanReport, ctx: ScanContext) -> list[Event]:
    events: list[Event] = []
    for host in report.hosts:
        events.append(host_event(report, host, ctx))
        events.extend(port_event(report, host, port, ctx) for port in host.open_ports())
    return events


def events_from_xml(data: bytes, ctx: ScanContext | None = None) -> tuple[ScanReport, list[Event]]:
    """Parse an ``nmap -oX`` document and build its events (scan id from the bytes unless given)."""
    report = parse_report(data)
    ctx = ctx or ScanContext(scan_id=scan_id_from_bytes(data))
    return report, report_events(report, ctx)
