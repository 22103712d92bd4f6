"""Dispatch: a line reaches only the decoders of its program, its file format, or its prefilter texts.

Each decoder here has a catch-all rule, so any decoder a line is offered to would classify it: which
one did (or that none did) shows where the line was sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.decoders.dispatch import DecoderSet, LiteralIndex
from collectors.decoders.loader import load_decoder_file, load_decoders
from collectors.decoders.samples import using_decoders
from collectors.normalize import Normalizer
from collectors.records import RawRecord
from sentinel.events import Event
from sentinel.inventory import Inventory

RECEIVED = datetime(2026, 1, 12, 12, 0, tzinfo=UTC).timestamp()


def decoder(folder: Path, name: str, applies: str, *, order: int = 100, extra: str = "") -> None:
    (folder / f"{name}.yaml").write_text(
        f"id: {name}\ntitle: {name}\ndataset: {name.replace('-', '_')}.log\norder: {order}\n{applies}\n{extra}"
        f"rules:\n  - action: seen_by_{name}\n    match: '(?:.*?from %{{IP:source.ip}}.*|.*)'\n",
        encoding="utf-8",
    )


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[DecoderSet]:
    decoder(tmp_path, "alpha", "programs: [alpha]")
    decoder(tmp_path, "beta", "programs: [beta]")
    decoder(tmp_path, "gamma", "programs: ['gamma*']")
    decoder(tmp_path, "magic", "prefilter: [MAGIC-TOKEN]")
    decoder(tmp_path, "magic-first", "prefilter: [MAGIC-TOKEN]", order=50)
    decoder(tmp_path, "sshd-extra", "programs: [sshd]")
    decoder(
        tmp_path,
        "delta",
        "formats: [delta.log]\nprefilter: [DELTA]",
        extra="lines:\n  - match: '%{TIMESTAMP_ISO8601:@timestamp} '\n    time: iso8601\n    zone: UTC\n",
    )
    loaded = load_decoders([tmp_path], builtin=False)
    assert loaded.errors == []
    with using_decoders(DecoderSet(loaded.decoders)) as active:
        yield active


def normalize(line: str, dataset: str | None = None) -> Event:
    record = RawRecord(
        raw=line.encode(), received_at=RECEIVED, origin="t", transport="file", peer="192.0.2.1", dataset_hint=dataset
    )
    return Normalizer(Inventory([]), default_timezone="Africa/Dar_es_Salaam", observer_hostname="t").normalize(record)


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(
    ("line", "action"),
    [
        ("Jan 12 10:00:00 h alpha[1]: anything from 203.0.113.1", "seen_by_alpha"),
        ("Jan 12 10:00:00 h beta[1]: anything", "seen_by_beta"),
        ("Jan 12 10:00:00 h gamma/smtpd[1]: anything", "seen_by_gamma"),  # a program prefix
        ("Jan 12 10:00:00 h gammaray[1]: anything", "seen_by_gamma"),
        ("Jan 12 10:00:00 h other[1]: anything", None),  # no program, no text: no decoder runs
        ("Jan 12 10:00:00 h other[1]: a MAGIC-TOKEN here", "seen_by_magic-first"),  # by text, lower order first
        ("no header at all, MAGIC-TOKEN", "seen_by_magic-first"),
        ("no header and no text", None),
    ],
)
def test_a_line_goes_to_its_decoders_only(line: str, action: str | None) -> None:
    assert normalize(line).get("event.action") == action


@pytest.mark.usefixtures("installed")
def test_a_python_parser_keeps_its_program_and_decoders_get_what_it_leaves() -> None:
    classified = normalize("Jan 12 10:00:00 h sshd[1]: Failed password for root from 203.0.113.5 port 22 ssh2")
    assert classified.get("event.action") == "ssh_login" and classified.dataset == "system.auth"
    unknown = normalize("Jan 12 10:00:00 h sshd[1]: a message sshd's parser does not know")
    assert unknown.get("event.action") == "seen_by_sshd-extra" and unknown.dataset == "sshd_extra.log"


@pytest.mark.usefixtures("installed")
def test_a_file_format_is_read_whole_with_its_time() -> None:
    event = normalize("2026-01-12 09:00:00 anything from 198.51.100.7", dataset="delta.log")
    assert event.get("event.action") == "seen_by_delta" and event.dataset == "delta.log"
    assert event.timestamp == datetime(2026, 1, 12, 9, tzinfo=UTC)  # the decoder's zone (UTC), not the institution's
    # The same line without its format named and without the decoder's text is not offered to it: it
    # reads as an ISO-stamped syslog line, with the institution's zone.
    plain = normalize("2026-01-12 09:00:00 anything from 198.51.100.7")
    assert plain.get("event.action") is None
    assert plain.timestamp == datetime(2026, 1, 12, 6, tzinfo=UTC)
    # With the text, an application line ("YYYY-MM-DD hh:mm:ss ...") goes to the decoder first.
    found = normalize("2026-01-12 09:00:00 DELTA from 198.51.100.7")
    assert found.get("event.action") == "seen_by_delta" and found.get("source.ip") == "198.51.100.7"
    assert found.timestamp == datetime(2026, 1, 12, 9, tzinfo=UTC)


def test_the_literal_index_finds_every_text_present_overlaps_included(tmp_path: Path) -> None:
    for name, text in (("a", "abc"), ("b", "abcdef"), ("c", "bcd"), ("d", "zzz")):
        decoder(tmp_path, name, f"prefilter: [{text}]")
    found = [load_decoder_file(p)[0] for p in sorted(tmp_path.iterdir())]
    index = LiteralIndex([d for d in found if d is not None])
    assert index.hits("xxabcdefxx") == [0, 1, 2]
    assert index.hits("xxabcxx") == [0, 1]  # "abcdef" starts with "abc": offered, its rules decide
    assert index.hits("nothing here") == []


def test_an_empty_set_dispatches_nothing() -> None:
    empty = DecoderSet(())
    doc: dict[str, object] = {"event": {}}
    assert empty.decode_unclaimed("anything", doc) is None
    assert empty.decode_line("anything", doc) is None
    assert empty.by_prefix("postfix/smtpd") == ()


def _corpus(shared: Path | None) -> list[str]:
    lines = [s.line for d in load_decoders(()).decoders for s in d.samples]
    folder = shared / "fail2ban-testlogs" if shared is not None else None
    if folder is not None and folder.is_dir():
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name != "COPYING"):
            lines += [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return lines


def _comparable(event: Event) -> dict[str, object]:
    doc = dict(event.doc)
    doc["event"] = {k: v for k, v in doc["event"].items() if k != "ingested"}
    return doc


def test_the_fast_paths_decide_as_the_plain_reference_does() -> None:
    """Over the decoder samples and fail2ban's real lines, the literal index offers a line the same
    decoders as testing each text with ``in``, and the per-rule text guards change no event."""
    from dataclasses import replace

    from tests.conftest import shared_data_dir

    lines = _corpus(shared_data_dir())
    library = DecoderSet(load_decoders(()).decoders)
    with_text = [d for d in library.decoders if d.prefilter]
    for line in lines:
        plain = [d.id for d in with_text if any(t in line for t in d.prefilter)]
        assert [d.id for d in library.candidates(line)] == plain, line
    unguarded = DecoderSet(
        replace(
            d,
            rules=tuple(replace(r, needs=None) for r in d.rules),
            headers=tuple(replace(h, needs=None) for h in d.headers),
        )
        for d in library.decoders
    )
    guarded_events = []
    with using_decoders(library):
        guarded_events = [_comparable(normalize(line)) for line in lines]
    with using_decoders(unguarded):
        assert [_comparable(normalize(line)) for line in lines] == guarded_events
    assert len(lines) > 200
