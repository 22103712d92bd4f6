"""``sentinel ingest scan.xml``: import any ``nmap -oX`` file as scan events.

Hosts are attributed to institutions through the inventory (unowned ones are
``unattributed``); the scan id is derived from the file's bytes, so importing the same file
twice stores nothing new. Policy fields use the global scan policy (no institution overrides,
since one file may cover several institutions) and certificate days are counted from the
scan's own time. Imports do not advance the diff snapshots: only Sentinel's own scans do.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

from collectors.scan.policy import PolicyContext, load_eol
from collectors.scan.report import parse_report
from collectors.scan.xml_events import ScanContext, report_events, scan_id_from_bytes
from sentinel.config import ScanSettings
from sentinel.errors import CollectorError
from sentinel.events import Event
from sentinel.inventory import Inventory

log = logging.getLogger(__name__)
MAX_IMPORT_BYTES = 512 * 1024 * 1024


def is_nmap_xml(head: bytes) -> bool:
    """nmap's XML starts with an XML declaration and names ``<nmaprun`` in its first lines."""
    text = head.lstrip()
    return text.startswith(b"<?xml") and b"<nmaprun" in head


def events_from_file(path: Path, settings: ScanSettings, inventory: Inventory) -> Iterator[Event]:
    size = path.stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise CollectorError(f"{path}: {size} bytes is more than an nmap XML import may be")
    data = path.read_bytes()
    report = parse_report(data)
    for warning in report.warnings:
        log.warning("%s: %s", path, warning)
    ctx = ScanContext(
        scan_id=scan_id_from_bytes(data),
        inventory=inventory,
        target=path.name,
        policy=PolicyContext.for_institution(settings, None, load_eol(settings.eol_file)),
        observer_hostname=socket.gethostname(),
    )
    yield from report_events(report, ctx)
