"""The spool's binary record format: round trips, shared-header encoding, corrupt headers."""

from __future__ import annotations

import zlib

import pytest

from collectors.records import RawRecord
from collectors.spool_format import FRAME, SpoolItem, decode_payload, encode_item, encode_lines
from sentinel.errors import CollectorError

TEMPLATE = RawRecord(raw=b"", received_at=1.5, origin="syslog:::1", transport="tcp", peer="::1", source_name="t")


def decode(frame: bytes) -> SpoolItem:
    length, crc = FRAME.unpack_from(frame)
    payload = frame[FRAME.size : FRAME.size + length]
    assert zlib.crc32(payload) == crc
    return decode_payload(payload)


@pytest.mark.parametrize("reject", [None, "", "line longer than 1024 bytes (got 2048)"])
def test_round_trip(reject: str | None) -> None:
    record = RawRecord(raw=b"\x00\xff raw", received_at=3.25, origin="file:/x:1:0", transport="file", host_hint="h")
    assert decode(encode_item(record, reject)) == SpoolItem(record, reject)


def test_encode_lines_matches_one_by_one() -> None:
    lines = [(b"<34>a", None), (b"<34>b" * 100, "too long"), (b"", None)]
    data, count = encode_lines(TEMPLATE, lines)
    expected = b"".join(
        encode_item(
            RawRecord(
                raw=raw,
                **{k: getattr(TEMPLATE, k) for k in ("received_at", "origin", "transport", "peer", "source_name")},
            ),
            why,
        )
        for raw, why in lines
    )
    assert (data, count) == (expected, 3)


def test_unknown_transport_code_is_an_error() -> None:
    frame = bytearray(encode_item(TEMPLATE))
    frame[FRAME.size + 8] = 250  # the transport byte follows the 8-byte receive time
    with pytest.raises(CollectorError, match="corrupt"):
        decode_payload(bytes(frame[FRAME.size :]))


def test_overlong_string_is_refused() -> None:
    with pytest.raises(CollectorError, match="longer than"):
        encode_item(RawRecord(raw=b"x", received_at=0, origin="o" * 70000, transport="udp"))
