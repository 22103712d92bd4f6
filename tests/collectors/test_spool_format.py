"""The spool's binary record format: round trips, shared-header encoding, corrupt headers."""

from __future__ import annotations

import zlib

import pytest

from collectors.records import RawRecord
from collectors.spool_format import (
    FRAME,
    MARK,
    SEGMENT_HEADER_SIZE,
    FrameReader,
    SpoolItem,
    decode_payload,
    encode_item,
    encode_lines,
    frame_at,
    read_segment_header,
    segment_header,
)
from sentinel.errors import CollectorError

TEMPLATE = RawRecord(raw=b"", received_at=1.5, origin="syslog:::1", transport="tcp", peer="::1", source_name="t")


def decode(frame: bytes, seed: int = 0) -> SpoolItem:
    mark, length, crc = FRAME.unpack_from(frame)
    assert mark == MARK
    payload = frame[FRAME.size : FRAME.size + length]
    assert zlib.crc32(payload, seed) == crc
    return decode_payload(payload)


@pytest.mark.parametrize("reject", [None, "", "line longer than 1024 bytes (got 2048)"])
@pytest.mark.parametrize("partial", [False, True])
def test_round_trip(reject: str | None, partial: bool) -> None:
    record = RawRecord(raw=b"\x00\xff raw", received_at=3.25, origin="file:/x:1:0", transport="file", host_hint="h")
    assert decode(encode_item(record, reject, partial=partial, seed=77), 77) == SpoolItem(record, reject, partial)


def test_the_seed_changes_the_checksum_and_the_segment_header_holds_it() -> None:
    frame = encode_item(TEMPLATE._replace(raw=b"<34>x"), seed=12345)
    assert frame_at(frame, 0, 12345) == len(frame)
    assert frame_at(frame, 0, 0) == -1
    header = segment_header(12345)
    assert len(header) == SEGMENT_HEADER_SIZE
    assert read_segment_header(header + frame) == 12345
    assert read_segment_header(header[:-1]) is None
    damaged = bytearray(header)
    damaged[-1] ^= 1
    assert read_segment_header(bytes(damaged)) is None


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
    assert FrameReader().read(data, 100, out) == (len(data), False)
    assert out == expected
    assert all(type(item.record) is RawRecord for item in out)


def test_frame_reader_stops_at_want_and_at_a_partial_frame() -> None:
    data, expected = _mixed()
    reader = FrameReader()
    out: list[SpoolItem] = []
    used, _ = reader.read(data, 4, out)
    assert out == expected[:4]
    more, bad = reader.read(data[used:-3], 100, out)  # the last frame is cut short: left for later
    used += more
    assert out == expected[:-1]
    assert not bad
    assert used == len(data) - len(encode_item(TEMPLATE._replace(raw=b"<34>a 2")))
    assert reader.read(data[used:], 100, out) == (len(data) - used, False)
    assert out == expected


@pytest.mark.parametrize("index", [0, 1, 5])  # the first frame, a repeated header, a changed one
def test_frame_reader_refuses_a_changed_byte(index: int) -> None:
    data, expected = _mixed()
    frames = [encode_item(item.record, item.reject) for item in expected]
    assert b"".join(frames) == data
    damaged = bytearray(frames[index])
    damaged[-1] ^= 0x01  # the last raw byte: only the checksum can tell
    out: list[SpoolItem] = []
    data = b"".join(frames[:index]) + bytes(damaged) + b"".join(frames[index + 1 :])
    assert FrameReader().read(data, 100, out) == (len(b"".join(frames[:index])), True)
    assert out == expected[:index]


def test_frame_reader_refuses_a_header_longer_than_its_frame() -> None:
    payload = encode_item(TEMPLATE._replace(raw=b""))[FRAME.size :]  # header only, no raw bytes
    short = payload[:-2]  # cut into the strings: the lengths promise more than there is
    bad = FRAME.pack(MARK, len(short), zlib.crc32(short)) + short
    assert FrameReader().read(bad, 10, []) == (0, True)
    assert frame_at(bad, 0, 0) == -1


def test_frame_reader_stops_at_a_wrong_marker() -> None:
    data, _ = _mixed()
    damaged = bytearray(data)
    damaged[0] ^= 0xFF
    assert FrameReader().read(bytes(damaged), 100, []) == (0, True)
