"""The spool's record format: compact binary frames that a reader can resynchronise on.

A frame is ``<u32 marker><u32 payload length><u32 checksum>`` + payload. The marker lets a
reader that meets a torn or damaged frame find the next frame; the length and checksum tell a
real frame from bytes that merely contain the marker. The checksum is CRC-32 of the payload
started from the segment's *seed*, a random value written once in the segment's first frame
(its header): a sender who embeds a well-formed frame inside a log line cannot know the seed,
so resynchronising never turns received bytes into a forged record.

The payload of a record frame is a fixed header (receive time, transport code, flags, the
lengths of six optional strings) followed by the strings (origin, peer, source name, dataset
hint, host hint, reject reason) and the raw bytes.

Format 1 (before the marker, seed and flags) is still read, only to migrate such a segment when
the spool opens (``decode_v1_frames``).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from collectors.records import RawRecord, Transport
from sentinel.errors import CollectorError

MARK = 0xD7C39AF5  # bytes f5 9a c3 d7: above MAX_PAYLOAD as a length, so never the start of a format 1 segment
MARK_BYTES = struct.pack("<I", MARK)
FRAME = struct.Struct("<III")  # marker, payload length, seeded crc32 of payload
# received_at, transport code, flags, then lengths of origin, peer, source_name, dataset_hint, host_hint, reject
HEAD = struct.Struct("<dBB6H")
FLAG_PARTIAL = 1  # the sender disconnected mid-record: a fragment, kept and tagged
_NONE = 0xFFFF  # length marking an absent optional string
_MAX_STRING = 0xFFFE
MAX_PAYLOAD = 256 * 1024 * 1024  # a larger length can only be garbage

# A segment's first frame: this magic, the format version and the seed (crc from 0, not seeded).
SEGMENT_MAGIC = b"SNTSPOOL"
_SEGMENT_BODY = struct.Struct("<8sHI")
SEGMENT_HEADER_SIZE = FRAME.size + _SEGMENT_BODY.size
FORMAT_VERSION = 2

_TRANSPORTS: tuple[Transport, ...] = ("udp", "tcp", "tls", "file", "http", "import")
_TRANSPORT_CODE = {name: code for code, name in enumerate(_TRANSPORTS)}


class SpoolItem(NamedTuple):
    """One spooled record; ``reject`` is set when the receiver already knows it is a dead letter;
    ``partial`` when the record is the fragment a sender left when it disconnected mid-record."""

    record: RawRecord
    reject: str | None = None
    partial: bool = False


def new_seed() -> int:
    return int.from_bytes(os.urandom(4), "little")


def segment_header(seed: int) -> bytes:
    body = _SEGMENT_BODY.pack(SEGMENT_MAGIC, FORMAT_VERSION, seed)
    return FRAME.pack(MARK, len(body), zlib.crc32(body)) + body


def read_segment_header(data: bytes) -> int | None:
    """The seed of a segment that starts with ``data``; None when it is no (intact) format 2 header."""
    if len(data) < SEGMENT_HEADER_SIZE:
        return None
    mark, length, crc = FRAME.unpack_from(data)
    if mark != MARK or length != _SEGMENT_BODY.size:
        return None
    body = data[FRAME.size : SEGMENT_HEADER_SIZE]
    if zlib.crc32(body) != crc:
        return None
    magic, version, seed = _SEGMENT_BODY.unpack(body)
    if magic != SEGMENT_MAGIC or version != FORMAT_VERSION:
        return None
    return int(seed)


def _enc(value: str | None) -> bytes:
    if value is None:
        return b""
    data = value.encode("utf-8", "surrogateescape")
    if len(data) > _MAX_STRING:
        raise CollectorError(f"spool field longer than {_MAX_STRING} bytes")
    return data


def _payload_prefix(record: RawRecord, reject: str | None, partial: bool) -> bytes:
    strings = (record.origin, record.peer, record.source_name, record.dataset_hint, record.host_hint, reject)
    encoded = [_enc(s) for s in strings]
    lengths = [_NONE if s is None else len(e) for s, e in zip(strings, encoded, strict=True)]
    flags = FLAG_PARTIAL if partial else 0
    return b"".join((HEAD.pack(record.received_at, _TRANSPORT_CODE[record.transport], flags, *lengths), *encoded))


def encode_item(record: RawRecord, reject: str | None = None, *, partial: bool = False, seed: int = 0) -> bytes:
    """One frame: header + strings + raw bytes, compact and without JSON."""
    prefix = _payload_prefix(record, reject, partial)
    crc = zlib.crc32(record.raw, zlib.crc32(prefix, seed))
    return FRAME.pack(MARK, len(prefix) + len(record.raw), crc) + prefix + record.raw


def encode_lines(
    template: RawRecord, lines: Iterable[tuple[bytes, str | None]], seed: int = 0, *, partial: bool = False
) -> tuple[bytes, int]:
    """Frames for many lines that share everything but the bytes (one TCP read, one file chunk).

    The shared header is packed and checksummed once; each line costs one CRC continuation.
    Returns the frames and how many there are.
    """
    prefix = _payload_prefix(template, None, partial)
    prefix_crc = zlib.crc32(prefix, seed)
    size = len(prefix)
    pack = FRAME.pack
    crc32 = zlib.crc32
    parts: list[bytes] = []
    count = 0
    for raw, reject in lines:
        if reject is None:
            parts.append(pack(MARK, size + len(raw), crc32(raw, prefix_crc)))
            parts.append(prefix)
            parts.append(raw)
        else:
            parts.append(encode_item(template._replace(raw=raw), reject, partial=partial, seed=seed))
        count += 1
    return b"".join(parts), count


def _decode_strings(payload: bytes) -> tuple[int, tuple[float, Transport, int, tuple[str | None, ...]]]:
    """The header of one payload: where the raw bytes start, and the decoded fields."""
    if len(payload) < HEAD.size:
        raise CollectorError("corrupt spool record header (too short)")
    received_at, code, flags, *lengths = HEAD.unpack_from(payload)
    pos = HEAD.size
    strings: list[str | None] = []
    for length in lengths:
        if length == _NONE:
            strings.append(None)
            continue
        strings.append(payload[pos : pos + length].decode("utf-8", "surrogateescape"))
        pos += length
    if code >= len(_TRANSPORTS) or strings[0] is None or pos > len(payload):
        raise CollectorError("corrupt spool record header")
    return pos, (received_at, _TRANSPORTS[code], flags, tuple(strings))


def decode_payload(payload: bytes) -> SpoolItem:
    pos, (received_at, transport, flags, strings) = _decode_strings(payload)
    origin, peer, source_name, dataset_hint, host_hint, reject = strings
    assert origin is not None
    record = RawRecord(payload[pos:], received_at, origin, transport, peer, source_name, dataset_hint, host_hint)
    return SpoolItem(record, reject, bool(flags & FLAG_PARTIAL))


def frame_at(buf: bytes, offset: int, seed: int) -> int:
    """The end of the intact frame that starts at ``offset`` in ``buf``; -1 if there is none.

    "Intact": the marker, a possible length, the whole frame inside ``buf``, the seeded checksum,
    and a payload header that decodes. This is what resynchronisation trusts.
    """
    if offset + FRAME.size > len(buf):
        return -1
    mark, length, crc = FRAME.unpack_from(buf, offset)
    start = offset + FRAME.size
    stop = start + length
    if mark != MARK or length < HEAD.size or length > MAX_PAYLOAD or stop > len(buf):
        return -1
    payload = buf[start:stop]
    if zlib.crc32(payload, seed) != crc:
        return -1
    try:
        _decode_strings(payload)
    except CollectorError:
        return -1
    return stop


class FrameReader:
    """Decodes the frames of a buffer read from a segment into ``SpoolItem``s.

    This runs once per event on the drain's path, so it does as little per frame as it can:
    the frames of one TCP read or file chunk share their header bytes (``encode_lines``), so
    the header of the previous frame is compared in place (``startswith`` at an offset, no
    slice) and, when equal, its decoded fields and its CRC are reused; the CRC of a frame is
    then the header's CRC continued over the raw bytes, which are the only slice taken.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._forget()

    def _forget(self) -> None:
        self._head = b""  # header bytes (fixed part and strings) of the previous frame; none yet
        self._head_crc = 0
        self._rest: tuple[object, ...] = ()  # the record's fields after ``raw``
        self._reject: str | None = None
        self._partial = False

    def use_seed(self, seed: int) -> None:
        """Read frames of a segment with this seed from now on."""
        if seed != self.seed:
            self.seed = seed
            self._forget()

    def read(self, buf: bytes, want: int, out: list[SpoolItem]) -> tuple[int, bool]:
        """Append up to ``want`` items for the complete frames at the start of ``buf``.

        Returns the bytes consumed and whether reading stopped at a frame that is not intact
        (wrong marker, impossible length, checksum mismatch, undecodable header): the caller
        resynchronises from there. A partial frame at the end of ``buf`` is simply left.
        """
        unpack = FRAME.unpack_from
        new = tuple.__new__
        crc32 = zlib.crc32
        append = out.append
        frame_size = FRAME.size
        mark_value = MARK
        seed = self.seed
        head, head_crc, rest, reject, partial = self._head, self._head_crc, self._rest, self._reject, self._partial
        size = len(head)
        n = len(buf)
        offset = 0
        stop_count = len(out) + want
        bad = False
        while len(out) < stop_count and offset + frame_size <= n:
            mark, length, crc = unpack(buf, offset)
            if mark != mark_value or length > MAX_PAYLOAD:
                bad = True
                break
            start = offset + frame_size
            stop = start + length
            if stop > n:
                break
            if not (size and length >= size and buf.startswith(head, start)):
                payload = buf[start:stop]
                try:
                    size, fields = _decode_strings(payload)
                except CollectorError:
                    size = 0
                    head = b""
                    bad = True
                    break
                head = payload[:size]
                head_crc = crc32(head, seed)
                received_at, transport, flags, (origin, peer, source_name, dataset_hint, host_hint, reject) = fields
                partial = bool(flags & FLAG_PARTIAL)
                rest = (received_at, origin, transport, peer, source_name, dataset_hint, host_hint)
            raw = buf[start + size : stop]
            if crc32(raw, head_crc) != crc:
                size = 0
                head = b""
                bad = True
                break
            append(new(SpoolItem, (new(RawRecord, (raw, *rest)), reject, partial)))
            offset = stop
        self._head, self._head_crc, self._rest, self._reject, self._partial = head, head_crc, rest, reject, partial
        return offset, bad


# format 1 --------------------------------------------------------------------------------
V1_FRAME = struct.Struct("<II")  # payload length, crc32 of payload
_V1_HEAD = struct.Struct("<dB6H")


def decode_v1_frames(data: bytes) -> Iterator[tuple[int, SpoolItem | None]]:
    """The frames of a format 1 segment as (end offset, item); a torn or corrupt frame ends it
    with (its offset, None), as format 1 could only cut its tail there."""
    offset = 0
    while offset < len(data):
        if offset + V1_FRAME.size > len(data):
            yield offset, None
            return
        length, crc = V1_FRAME.unpack_from(data, offset)
        start = offset + V1_FRAME.size
        payload = data[start : start + length]
        if length < _V1_HEAD.size or len(payload) < length or zlib.crc32(payload) != crc:
            yield offset, None
            return
        received_at, code, *lengths = _V1_HEAD.unpack_from(payload)
        pos = _V1_HEAD.size
        strings: list[str | None] = []
        for n in lengths:
            strings.append(None if n == _NONE else payload[pos : pos + n].decode("utf-8", "surrogateescape"))
            pos += 0 if n == _NONE else n
        origin, peer, source_name, dataset_hint, host_hint, reject = strings
        if code >= len(_TRANSPORTS) or origin is None or pos > length:
            yield offset, None
            return
        record = RawRecord(
            payload[pos:], received_at, origin, _TRANSPORTS[code], peer, source_name, dataset_hint, host_hint
        )
        offset = start + length
        yield offset, SpoolItem(record, reject)
