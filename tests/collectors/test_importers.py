"""``sentinel ingest``'s importers: compressed files read through, truncated inputs reported."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.importers import ImportContext, ImportOptions, ImportSummary, import_file
from collectors.normalize import Normalizer
from sentinel.config import Settings
from sentinel.inventory import Inventory
from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AUTH_LOG = FIXTURES / "auth.log"  # 6 lines: 5 events and one line of binary garbage
COMPRESS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "sentinel.db")
    s.setup()
    yield s
    s.close()


def ingest(path: Path, store: SqliteStore) -> ImportSummary:
    inventory = Inventory([])
    ctx = ImportContext(
        settings=Settings(),
        normalizer=Normalizer(inventory, observer_hostname="test"),
        inventory=inventory,
        store=store,
        options=ImportOptions(),
    )
    return import_file(path, ctx)


@pytest.mark.parametrize("codec", list(COMPRESS))
@pytest.mark.parametrize("name", ["auth.log.2.{suffix}", "auth.log.2"])  # told by content, not by name
def test_a_compressed_log_is_read_through(tmp_path: Path, store: SqliteStore, codec: str, name: str) -> None:
    suffix = {"gzip": "gz", "bzip2": "bz2", "xz": "xz"}[codec]
    path = tmp_path / name.format(suffix=suffix)
    path.write_bytes(COMPRESS[codec](AUTH_LOG.read_bytes()))
    first = ingest(path, store)
    assert (first.importer, first.compression, first.truncated) == ("log lines", codec, False)
    assert (first.read, first.stored, first.dead_letters) == (6, 5, 1)
    messages = {e.message for e in store.search_events(EventQuery(), Scope.everything()).events}
    assert any("Failed password for root" in (m or "") for m in messages)
    again = ingest(path, store)
    assert (again.read, again.stored, again.duplicates) == (6, 0, 6)


def test_a_cut_gzip_gives_its_lines_before_the_cut_and_says_so(tmp_path: Path, store: SqliteStore) -> None:
    lines = b"".join(
        b"<34>Oct 11 22:14:15 web01 sshd[42]: Failed password for root from 10.0.0.%d port 22 ssh2\n" % (n % 250)
        for n in range(20_000)
    )
    whole = gzip.compress(lines)
    path = tmp_path / "auth.log.3.gz"
    path.write_bytes(whole[: len(whole) // 2])
    summary = ingest(path, store)
    assert summary.truncated
    assert "cut short or damaged" in summary.errors[-1]
    assert 5_000 < summary.stored < 20_000
    assert summary.dead_letters <= 1  # at most the line the cut went through


def test_a_compressed_evtx_is_read_from_a_copy_and_named_after_the_file(
    tmp_path: Path, store: SqliteStore, shared_data: Path
) -> None:
    source = next((shared_data / "sigma-regression").rglob("0b9ad457-2554-44c1-82c2-d56a99c42377.evtx"))
    path = tmp_path / "Security.evtx.gz"
    path.write_bytes(gzip.compress(source.read_bytes()))
    summary = ingest(path, store)
    assert (summary.importer, summary.compression, summary.stored, summary.truncated) == (
        "windows evtx",
        "gzip",
        5,
        False,
    )
    assert ingest(path, store).duplicates == 5  # the same names again: nothing stored twice
    plain = tmp_path / "copy.evtx"
    shutil.copyfile(source, plain)
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(source.read_bytes()[:8000])
    truncated = ingest(cut, store)
    assert truncated.truncated and truncated.read == 2  # the third record is the one the cut goes through
    assert "records read before the cut" in truncated.errors[-1]
