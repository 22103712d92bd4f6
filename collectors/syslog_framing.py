"""Syslog over TCP: split a byte stream into records (RFC 6587), with bounded memory.

Framing is detected per frame: a frame that starts with digits, a space and ``<`` is
octet-counted; anything else ends at LF (CRLF and NUL also end a line). A record longer than
the limit keeps its first N bytes as a dead letter and the rest is skipped as it arrives.
"""

from __future__ import annotations

TRUNCATED_FRAME = "truncated octet-counted frame"
INVALID_OCTET_COUNT = "invalid octet count"
_MAX_COUNT_DIGITS = 9  # an octet count needs at most this many digits (under 1 GB)
_DIGITS = frozenset(b"0123456789")
_LT = ord("<")
_SP = ord(" ")


def too_long(limit: int, size: int) -> str:
    return f"line longer than {limit} bytes (got {size})"


# A framed record: the bytes and, for a dead letter, why.
Frame = tuple[bytes, str | None]


class FrameDecoder:
    """Splits one TCP stream into syslog records; memory stays bounded by ``max_line_bytes``."""

    def __init__(self, max_line_bytes: int) -> None:
        self.max = max_line_bytes
        self._buf = bytearray()
        self._frame_size = 0  # octet-counted frame in progress: its announced size
        self._skip = 0  # bytes of an oversized octet-counted frame still to discard
        self._skip_line = False  # discarding a line up to the next terminator
        self._skip_reason: str | None = None  # why (None: it is too long)
        self._head = b""  # first bytes of the record being discarded, kept as the dead letter
        self._seen = 0  # its size so far
        self.partial_tail = False  # ``close`` returned a last line that had no terminator: a fragment

    def feed(self, data: bytes) -> list[Frame]:
        out: list[Frame] = []
        buf = self._buf
        buf += data
        has_nul = b"\x00" in buf
        pos = 0
        end = len(buf)
        limit = self.max
        while pos < end:
            if self._skip:
                take = min(self._skip, end - pos)
                pos += take
                self._skip -= take
                if self._skip:
                    break
                out.append((self._head, too_long(limit, self._seen)))
                self._head = b""
                continue
            if self._skip_line:
                stop = _terminator(buf, pos, has_nul)
                if stop < 0:
                    self._seen += end - pos
                    pos = end
                    break
                self._seen += stop - pos
                pos = stop + 1
                out.append((self._head, self._skip_reason or too_long(limit, self._seen)))
                self._skip_line = False
                self._skip_reason = None
                self._head = b""
                continue
            if self._frame_size:
                size = self._frame_size
                if size > limit:
                    if end - pos < limit:
                        break
                    self._head = bytes(buf[pos : pos + limit])
                    self._seen = size
                    self._skip = size - limit
                    self._frame_size = 0
                    pos += limit
                    continue
                if end - pos < size:
                    break
                frame = bytes(buf[pos : pos + size]).rstrip(b"\r\n\x00")
                pos += size
                self._frame_size = 0
                if frame:
                    out.append((frame, None))
                continue
            reason: str | None = None
            if buf[pos] in _DIGITS:
                body = self._octet_count(buf, pos, end)
                if body is None:
                    break  # need more bytes to tell
                if body > 0:
                    pos = body
                    continue
                if body == _INVALID:
                    reason = INVALID_OCTET_COUNT  # resync at the next line
            stop = _terminator(buf, pos, has_nul)
            if stop < 0:
                if end - pos > limit:
                    # No end in sight: keep the head, drop the rest as it arrives.
                    self._head = bytes(buf[pos : pos + limit])
                    self._seen = end - pos
                    self._skip_line = True
                    self._skip_reason = reason
                    pos = end
                break
            line_end = stop - 1 if stop > pos and buf[stop - 1] == 13 else stop  # CRLF
            if reason is not None:
                out.append((bytes(buf[pos : min(line_end, pos + limit)]), reason))
            elif line_end - pos > limit:
                out.append((bytes(buf[pos : pos + limit]), too_long(limit, line_end - pos)))
            elif line_end > pos:
                out.append((bytes(buf[pos:line_end]), None))
            pos = stop + 1
        del buf[:pos]
        return out

    def _octet_count(self, buf: bytearray, pos: int, end: int) -> int | None:
        """At a digit: the frame body's start (the frame size is set), None when more bytes are
        needed to tell, ``_NOT_COUNTED`` for an ordinary line, ``_INVALID`` for a bad count."""
        j = pos
        while j < end and buf[j] in _DIGITS:
            j += 1
        if j + 1 >= end:
            return None if end - pos <= self.max else _NOT_COUNTED
        if buf[j] != _SP or buf[j + 1] != _LT:
            return _NOT_COUNTED
        count = int(buf[pos:j]) if j - pos <= _MAX_COUNT_DIGITS else 0
        if count == 0:
            return _INVALID
        self._frame_size = count
        return j + 1

    def close(self) -> list[Frame]:
        """The connection ended: whatever is left becomes a record or a dead letter."""
        out: list[Frame] = []
        rest = bytes(self._buf)
        self._buf.clear()
        if self._skip:
            out.append((self._head, f"{TRUNCATED_FRAME} ({too_long(self.max, self._seen)})"))
        elif self._skip_line:
            out.append((self._head, self._skip_reason or too_long(self.max, self._seen)))
        elif self._frame_size:
            out.append((rest[: self.max], f"{TRUNCATED_FRAME}: got {len(rest)} of {self._frame_size} bytes"))
        elif rest.strip(b"\r\n\x00"):
            # A last line with no terminator: kept, but the sender may have stopped mid-line.
            line = rest.rstrip(b"\r\n\x00")
            if len(line) <= self.max:
                out.append((line, None))
                self.partial_tail = True
            else:
                out.append((line[: self.max], too_long(self.max, len(line))))
        self._skip = 0
        self._skip_line = False
        self._skip_reason = None
        self._frame_size = 0
        self._head = b""
        return out


_NOT_COUNTED = -1
_INVALID = -2


def _terminator(buf: bytearray, pos: int, has_nul: bool) -> int:
    stop = buf.find(b"\n", pos)
    if has_nul:
        nul = buf.find(b"\x00", pos)
        if nul >= 0 and (stop < 0 or nul < stop):
            return nul
    return stop
