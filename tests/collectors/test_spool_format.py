"""The spool's binary record format: round trips, shared-header encoding, corrupt headers."""

from __future__ import annotations

import zlib

import pytest

from collectors.records import RawRecord
from collectors.spool_format import FRAME, FrameReader, SpoolItem, decode_payload, encode_item, encode_lines
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


OTHER = RawRecord(raw=b"", received_at=2.5, origin="syslog:10.0.0.7", transport="udp", peer="10.0.0.7", source_name="u")


def _mixed() -> tuple[bytes, list[SpoolItem]]:
    """Frames whose headers repeat, change, repeat with a reject, and share a prefix length."""
    lines_a = [(b"<34>a %d" % n, None) for n in range(3)]
    lines_b = [(b"<13>b", None), (b"<13>too long", "line longer than 8 bytes (got 12)"), (b"<13>c", None)]
    data_a, _ = encode_lines(TEMPLATE, lines_a)
    data_b, _ = encode_lines(OTHER, lines_b)
    same_lengths = TEMPLATE._replace(peer="::2", origin="syslog:::2")  # same header size, other strings
    data_c, _ = encode_lines(same_lengths, [(b"<34>d", None)])
    data = data_a + data_b + data_c + data_a
    expected = (
        [SpoolItem(TEMPLATE._replace(raw=raw)) for raw, _ in lines_a]
        + [SpoolItem(OTHER._replace(raw=raw), why) for raw, why in lines_b]
        + [SpoolItem(same_lengths._replace(raw=b"<34>d"))]
        + [SpoolItem(TEMPLATE._replace(raw=raw)) for raw, _ in lines_a]
    )
    return data, expected


def test_frame_reader_decodes_shared_and_changing_headers() -> None:
    data, expected = _mixed()
    out: list[SpoolItem] = []
    assert FrameReader().read(data, 100, out) == len(data)
    assert out == expected
    assert all(type(item.record) is RawRecord for item in out)


def test_frame_reader_stops_at_want_and_at_a_partial_frame() -> None:
    data, expected = _mixed()
    reader = FrameReader()
    out: list[SpoolItem] = []
    used = reader.read(data, 4, out)
    assert out == expected[:4]
    used += reader.read(data[used:-3], 100, out)  # the last frame is cut short: left for later
    assert out == expected[:-1]
    assert used == len(data) - len(encode_item(TEMPLATE._replace(raw=b"<34>a 2")))
    assert reader.read(data[used:], 100, out) == len(data) - used
    assert out == expected


@pytest.mark.parametrize("index", [0, 1, 5])  # the first frame, a repeated header, a changed one
def test_frame_reader_refuses_a_changed_byte(index: int) -> None:
    data, expected = _mixed()
    frames = [encode_item(item.record, item.reject) for item in expected]
    assert b"".join(frames) == data
    damaged = bytearray(frames[index])
    damaged[-1] ^= 0x01  # the last raw byte: only the checksum can tell
    out: list[SpoolItem] = []
    with pytest.raises(CollectorError, match="checksum"):
        FrameReader().read(b"".join(frames[:index]) + bytes(damaged) + b"".join(frames[index + 1 :]), 100, out)
    assert out == expected[:index]


def test_frame_reader_refuses_a_header_longer_than_its_frame() -> None:
    payload = encode_item(TEMPLATE._replace(raw=b""))[FRAME.size :]  # header only, no raw bytes
    short = payload[:-2]  # cut into the strings: the lengths promise more than there is
    bad = FRAME.pack(len(short), zlib.crc32(short)) + short
    with pytest.raises(CollectorError, match="corrupt"):
        FrameReader().read(bad, 10, [])
