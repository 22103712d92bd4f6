"""The spool's record format: compact binary frames, no JSON.

A frame is ``<u32 payload length><u32 crc32(payload)>`` + payload. The payload is a fixed
header (receive time, transport code, the lengths of six optional strings) followed by the
strings (origin, peer, source name, dataset hint, host hint, reject reason) and the raw bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from typing import NamedTuple

from collectors.records import RawRecord, Transport
from sentinel.errors import CollectorError

FRAME = struct.Struct("<II")  # payload length, crc32 of payload
# received_at, transport code, then lengths of origin, peer, source_name, dataset_hint, host_hint, reject reason
HEAD = struct.Struct("<dB6H")
_NONE = 0xFFFF  # length marking an absent optional string
_MAX_STRING = 0xFFFE
MAX_PAYLOAD = 256 * 1024 * 1024  # a larger length can only be garbage

_TRANSPORTS: tuple[Transport, ...] = ("udp", "tcp", "tls", "file", "http", "import")
_TRANSPORT_CODE = {name: code for code, name in enumerate(_TRANSPORTS)}


class SpoolItem(NamedTuple):
    """One spooled record; ``reject`` is set when the receiver already knows it is a dead letter."""

    record: RawRecord
    reject: str | None = None


def _enc(value: str | None) -> bytes:
    if value is None:
        return b""
    data = value.encode("utf-8", "surrogateescape")
    if len(data) > _MAX_STRING:
        raise CollectorError(f"spool field longer than {_MAX_STRING} bytes")
    return data


def encode_item(record: RawRecord, reject: str | None = None) -> bytes:
    """One frame: header + strings + raw bytes, compact and without JSON."""
    strings = (record.origin, record.peer, record.source_name, record.dataset_hint, record.host_hint, reject)
    encoded = [_enc(s) for s in strings]
    lengths = [_NONE if s is None else len(e) for s, e in zip(strings, encoded, strict=True)]
    payload = b"".join(
        (HEAD.pack(record.received_at, _TRANSPORT_CODE[record.transport], *lengths), *encoded, record.raw)
    )
    return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def encode_lines(template: RawRecord, lines: Iterable[tuple[bytes, str | None]]) -> tuple[bytes, int]:
    """Frames for many lines that share everything but the bytes (one TCP read, one file chunk).

    The shared header is packed and checksummed once; each line costs one CRC continuation.
    Returns the frames and how many there are.
    """
    prefix = encode_item(template)[FRAME.size :]
    prefix = prefix[: len(prefix) - len(template.raw)]
    prefix_crc = zlib.crc32(prefix)
    size = len(prefix)
    pack = FRAME.pack
    crc32 = zlib.crc32
    parts: list[bytes] = []
    count = 0
    for raw, reject in lines:
        if reject is None:
            parts.append(pack(size + len(raw), crc32(raw, prefix_crc)))
            parts.append(prefix)
            parts.append(raw)
        else:
            parts.append(encode_item(template._replace(raw=raw), reject))
        count += 1
    return b"".join(parts), count


def _decode_strings(payload: bytes) -> tuple[int, tuple[float, Transport, tuple[str | None, ...]]]:
    """The header of one payload: where the raw bytes start, and the decoded fields."""
    if len(payload) < HEAD.size:
        raise CollectorError("corrupt spool record header (too short)")
    received_at, code, *lengths = HEAD.unpack_from(payload)
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
    return pos, (received_at, _TRANSPORTS[code], tuple(strings))


def _item(raw: bytes, fields: tuple[float, Transport, tuple[str | None, ...]]) -> SpoolItem:
    received_at, transport, (origin, peer, source_name, dataset_hint, host_hint, reject) = fields
    assert origin is not None
    record = RawRecord(raw, received_at, origin, transport, peer, source_name, dataset_hint, host_hint)
    return SpoolItem(record, reject)


def decode_payload(payload: bytes) -> SpoolItem:
    pos, fields = _decode_strings(payload)
    return _item(payload[pos:], fields)


class FrameReader:
    """Decodes the frames of a buffer read from a segment into ``SpoolItem``s.

    This runs once per event on the drain's path, so it does as little per frame as it can:
    the frames of one TCP read or file chunk share their header bytes (``encode_lines``), so
    the header of the previous frame is compared in place (``startswith`` at an offset, no
    slice) and, when equal, its decoded fields and its CRC are reused; the CRC of a frame is
    then the header's CRC continued over the raw bytes, which are the only slice taken.
    """

    def __init__(self) -> None:
        self._head = b""  # header bytes (fixed part and strings) of the previous frame; none yet
        self._head_crc = 0
        self._rest: tuple[object, ...] = ()  # the record's fields after ``raw``
        self._reject: str | None = None

    def read(self, buf: bytes, want: int, out: list[SpoolItem]) -> int:
        """Append up to ``want`` items for the complete frames at the start of ``buf``.

        Returns the bytes consumed (a torn or partial frame at the end is left). A frame whose
        checksum does not match raises ``CollectorError`` with its offset in ``buf``.
        """
        unpack = FRAME.unpack_from
        new = tuple.__new__
        crc32 = zlib.crc32
        append = out.append
        frame_size = FRAME.size
        head, head_crc, rest, reject = self._head, self._head_crc, self._rest, self._reject
        size = len(head)
        n = len(buf)
        offset = 0
        stop_count = len(out) + want
        while len(out) < stop_count and offset + frame_size <= n:
            length, crc = unpack(buf, offset)
            start = offset + frame_size
            stop = start + length
            if stop > n:
                break
            if not (size and length >= size and buf.startswith(head, start)):
                payload = buf[start:stop]
                size, fields = _decode_strings(payload)
                head = payload[:size]
                head_crc = crc32(head)
                received_at, transport, (origin, peer, source_name, dataset_hint, host_hint, reject) = fields
                rest = (received_at, origin, transport, peer, source_name, dataset_hint, host_hint)
            raw = buf[start + size : stop]
            if crc32(raw, head_crc) != crc:
                self._head = b""
                raise CollectorError(f"corrupt frame (checksum mismatch) at byte {offset}")
            append(new(SpoolItem, (new(RawRecord, (raw, *rest)), reject)))
            offset = stop
        self._head, self._head_crc, self._rest, self._reject = head, head_crc, rest, reject
        return offset
