"""Dead-letter documents: the reason, the exact bytes, and an id that makes a replay a no-op."""

from __future__ import annotations

import base64
import json

import pytest

from collectors.dead_letters import dead_letter_document
from collectors.normalize import Normalizer
from collectors.records import RawRecord, record_event_id
from sentinel.errors import ParseError
from sentinel.inventory import Institution, Inventory


def test_binary_record_becomes_a_replayable_dead_letter() -> None:
    raw = b"\x00\x01\xffgarbage\n"
    record = RawRecord(
        raw=raw,
        received_at=1718452800.25,
        origin="10.1.2.3",
        transport="udp",
        peer="10.1.2.3",
        source_name="syslog-udp",
    )
    with pytest.raises(ParseError) as caught:
        Normalizer(Inventory([]), observer_hostname="x").normalize(record)
    doc_id, body, institution = dead_letter_document(record, caught.value.message)
    assert doc_id == record_event_id(record, None)  # the id the record would have had as an event
    assert institution is None
    assert body["reason"].startswith("binary data")
    assert body["@timestamp"] == body["received_at"] == "2024-06-15T12:00:00.250Z"
    assert base64.b64decode(body["raw_b64"]) == raw
    assert body["raw_text"] == "\x00\x01\ufffdgarbage\n"
    assert body["size"] == len(raw)
    assert body["peer"] == "10.1.2.3" and body["source_name"] == "syslog-udp"
    assert "dataset_hint" not in body
    json.dumps(body)  # storable as JSON as it is
    again = dead_letter_document(record, "another attempt")
    assert again[0] == doc_id


def test_same_bytes_from_another_origin_is_another_dead_letter() -> None:
    a = RawRecord(raw=b"x", received_at=0.0, origin="/var/log/a:0", transport="file")
    b = RawRecord(raw=b"x", received_at=0.0, origin="/var/log/a:2", transport="file")
    assert dead_letter_document(a, "r")[0] != dead_letter_document(b, "r")[0]


def test_dead_letter_is_attributed_by_sender_or_file_host() -> None:
    inventory = Inventory([Institution(id="moh", name="MoH", networks=["10.1.0.0/16"], hostnames=["web1.moh.go.tz"])])
    by_peer = RawRecord(raw=b"\x00", received_at=0.0, origin="10.1.2.3", transport="tcp", peer="10.1.2.3")
    _, body, institution = dead_letter_document(by_peer, "binary data", inventory=inventory)
    assert institution == "moh" and body["organization"] == {"id": "moh", "name": "MoH"}
    by_file = RawRecord(raw=b"\x00", received_at=0.0, origin="f:0", transport="file", host_hint="web1.moh.go.tz")
    assert dead_letter_document(by_file, "binary data", inventory=inventory)[2] == "moh"
    stranger = RawRecord(raw=b"\x00", received_at=0.0, origin="192.0.2.1", transport="udp", peer="192.0.2.1")
    _, body, institution = dead_letter_document(stranger, "binary data", inventory=inventory)
    assert institution is None and "organization" not in body
