"""TCP syslog framing: newline (LF, CRLF, NUL), octet counting, limits, resync, truncation."""

from __future__ import annotations

from collectors.syslog_framing import INVALID_OCTET_COUNT, TRUNCATED_FRAME, FrameDecoder

LIMIT = 1024


def feed_all(chunks: list[bytes], limit: int = LIMIT) -> list[tuple[bytes, str | None]]:
    decoder = FrameDecoder(limit)
    out = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    out.extend(decoder.close())
    return out


def test_newline_crlf_and_nul_terminated_lines() -> None:
    got = feed_all([b"<34>one\n<34>two\r\n<34>three\x00<34>four\n\n"])
    assert got == [(b"<34>one", None), (b"<34>two", None), (b"<34>three", None), (b"<34>four", None)]


def test_octet_counting_and_newline_mixed_per_frame() -> None:
    msg = b"<165>1 2003-10-11T22:14:15.003Z host app - ID47 - hello world"
    stream = str(len(msg)).encode() + b" " + msg + b"<34>plain line\n" + b"5 <34>x"
    assert feed_all([stream]) == [(msg, None), (b"<34>plain line", None), (b"<34>x", None)]


def test_frames_split_byte_by_byte() -> None:
    msg = b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed"
    stream = str(len(msg)).encode() + b" " + msg + b"<13>next line\r\n"
    assert feed_all([bytes([b]) for b in stream]) == [(msg, None), (b"<13>next line", None)]


def test_line_starting_with_digits_is_not_a_count() -> None:
    assert feed_all([b"2024-01-01 12:00:00 no pri\n123 abc\n"]) == [
        (b"2024-01-01 12:00:00 no pri", None),
        (b"123 abc", None),
    ]


def test_overlong_line_keeps_head_and_skips_the_rest() -> None:
    line = b"<34>" + b"A" * (1024 * 1024)
    decoder = FrameDecoder(LIMIT)
    out = []
    for start in range(0, len(line), 65536):  # arrives in socket-sized pieces
        out.extend(decoder.feed(line[start : start + 65536]))
        assert len(decoder._buf) <= LIMIT + 65536  # never buffers the whole line
    out.extend(decoder.feed(b"\n<34>after\n"))
    assert out == [(line[:LIMIT], f"line longer than {LIMIT} bytes (got {len(line)})"), (b"<34>after", None)]


def test_overlong_octet_counted_frame() -> None:
    body = b"<34>" + b"B" * 5000
    stream = str(len(body)).encode() + b" " + body + b"3 <1>"
    got = feed_all([stream[i : i + 700] for i in range(0, len(stream), 700)])
    assert got == [(body[:LIMIT], f"line longer than {LIMIT} bytes (got {len(body)})"), (b"<1>", None)]


def test_invalid_octet_count_resyncs_at_next_line() -> None:
    got = feed_all([b"0 <34>zero count\n99999999999 <34>huge\n<34>good\n"])
    assert got == [
        (b"0 <34>zero count", INVALID_OCTET_COUNT),
        (b"99999999999 <34>huge", INVALID_OCTET_COUNT),
        (b"<34>good", None),
    ]


def test_truncated_octet_counted_frame_at_close() -> None:
    got = feed_all([b"100 <34>only a part"])
    assert len(got) == 1
    assert got[0][0] == b"<34>only a part"
    assert got[0][1] is not None and got[0][1].startswith(TRUNCATED_FRAME)


def test_last_line_without_newline_is_kept_at_close() -> None:
    assert feed_all([b"<34>a\n<34>b"]) == [(b"<34>a", None), (b"<34>b", None)]


def test_only_an_unterminated_last_line_is_marked_partial() -> None:
    decoder = FrameDecoder(1024)
    assert decoder.feed(b"<34>a\n<34>b") == [(b"<34>a", None)]
    assert decoder.close() == [(b"<34>b", None)]
    assert decoder.partial_tail
    whole = FrameDecoder(1024)
    assert whole.feed(b"<34>a\n") == [(b"<34>a", None)]
    assert whole.close() == []
    assert not whole.partial_tail
