"""Just enough of the DNS wire format (RFC 1035): the header and the first question's name.

Written here instead of dissecting with scapy because the DNS detector needs four values per
message and scapy would cost more than the rest of the sensor together. Malformed messages give
None (a sensor sees garbage on port 53 and must carry on); compression loops are bounded.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from dataclasses import dataclass

_HEADER = struct.Struct("!HHHHHH")
RCODE_NXDOMAIN = 3
_MAX_NAME = 255
_MAX_JUMPS = 16


@dataclass(frozen=True, slots=True)
class DnsMessage:
    is_response: bool
    opcode: int
    rcode: int
    name: str  # first question, lower case, no trailing dot; "" for the root
    labels: tuple[bytes, ...]
    qtype: int


def parse_dns(data: bytes) -> DnsMessage | None:
    """The header and first question of a DNS message, or None when it is not one."""
    if len(data) < 12:
        return None
    _id, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(data, 0)
    if qdcount == 0:
        return None
    parsed = _read_name(data, 12)
    if parsed is None:
        return None
    labels, end = parsed
    if end + 4 > len(data):
        return None
    (qtype,) = struct.unpack_from("!H", data, end)
    name = b".".join(labels).decode("ascii", "backslashreplace").lower()
    return DnsMessage(
        is_response=bool(flags & 0x8000),
        opcode=(flags >> 11) & 0x0F,
        rcode=flags & 0x0F,
        name=name,
        labels=tuple(label.lower() for label in labels),
        qtype=qtype,
    )


def _read_name(data: bytes, pos: int) -> tuple[list[bytes], int] | None:
    labels: list[bytes] = []
    total = 0
    end: int | None = None  # where the name ends in the message (before the first jump)
    jumps = 0
    while True:
        if pos >= len(data):
            return None
        length = data[pos]
        if length == 0:
            return labels, (pos + 1 if end is None else end)
        if length & 0xC0 == 0xC0:  # compression pointer
            if pos + 1 >= len(data) or jumps >= _MAX_JUMPS:
                return None
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            jumps += 1
            continue
        if length & 0xC0:
            return None  # extended label types are obsolete
        label = data[pos + 1 : pos + 1 + length]
        if len(label) < length:
            return None
        total += length + 1
        if total > _MAX_NAME:
            return None
        labels.append(label)
        pos += 1 + length


def shannon_entropy(data: bytes) -> float:
    """Bits per character; random base32 labels score about 4.5, English words about 2.5-3."""
    if not data:
        return 0.0
    n = len(data)
    return -sum((c / n) * math.log2(c / n) for c in Counter(data).values())
