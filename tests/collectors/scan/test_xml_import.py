"""``sentinel ingest`` of nmap XML files through the shared importer, into a real SQLite store."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from collectors.importers import ImportContext, ImportOptions, choose_importer, import_file
from collectors.normalize import Normalizer
from collectors.scan.xml_import import is_nmap_xml
from sentinel.config import Settings
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore

pytestmark = pytest.mark.shared_data


def test_import_all_forty_files_twice(shared_data: Path, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    inventory = Inventory([Institution(id="home-lab", name="Home lab", networks=["192.168.1.0/24"])])
    store = SqliteStore(data_dir / "sentinel.db")
    store.setup()
    try:
        ctx = ImportContext(
            settings=settings,
            normalizer=Normalizer(
                inventory, default_timezone=settings.timezone, observer_hostname=socket.gethostname()
            ),
            inventory=inventory,
            store=store,
            options=ImportOptions(),
        )
        files = sorted((shared_data / "nmap-xml").rglob("*.xml"))
        nmap_files = [f for f in files if is_nmap_xml(f.read_bytes()[:4096])]
        assert len(nmap_files) == 38  # the other two are XML-safety fixtures, not nmap runs
        first = [import_file(f, ctx) for f in nmap_files]
        assert {s.importer for s in first} == {"nmap XML"} and sum(s.failed for s in first) == 0
        stored = sum(s.stored for s in first)
        assert stored > 1000
        again = [import_file(f, ctx) for f in nmap_files]
        assert sum(s.stored for s in again) == 0 and sum(s.duplicates for s in again) == stored
        # fullscan.xml swept 192.168.1.0/24: its hosts belong to the inventory's home-lab
        owned = store.count_events(EventQuery(datasets=("nmap.host",)), Scope.institution("home-lab"))
        assert owned >= 256
        assert choose_importer(shared_data / "nmap-xml/python-libnmap/defused_et_included.xml").name != "nmap XML"
    finally:
        store.close()
