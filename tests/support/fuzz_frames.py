"""Malformed syslog frames for fuzz runs over real sockets (the memory test and its benchmark).

Every frame is exactly one record for the receiver, and unique (a counter inside), so a run can
check that each frame became one event or one dead letter: for UDP one datagram is one record;
for TCP a frame is either an octet-counted frame or a line with no LF or NUL inside that does not
start with a digit (so it is never read as an octet count).

The content mixes what breaks parsers: binary garbage, invalid UTF-8, control characters, dates
at the edges of the range, numbers beyond 64 bits, broken structured data, huge fields, lines far
over the size limit, bad and cut octet counts. Deterministic for a seed.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tests.support.service_process import ServiceProcess, line

MAX_LINE = 65536  # the listeners' default max_line_bytes


def _garbage(rnd: random.Random, n: int) -> bytes:
    return rnd.randbytes(rnd.randint(1, 300)) + b" #%d" % n


def _invalid_utf8(rnd: random.Random, n: int) -> bytes:
    return b"<34>Oct 11 22:14:15 host app: caf\xc3 \xff\xfe \xed\xa0\x80 %d" % n


def _controls(rnd: random.Random, n: int) -> bytes:
    return b"<13>" + bytes(rnd.choice(b"\x01\x02\x07\x08\x1b\x7f\t") for _ in range(40)) + b" %d" % n


def _edge_date(rnd: random.Random, n: int) -> bytes:
    stamp = rnd.choice(
        [b"0001-01-01T00:00:00+14:00", b"9999-12-31T23:59:59-12:00", b"2024-02-30T25:61:61Z", b"0000-00-00T00:00:00Z"]
    )
    return b"<34>1 " + stamp + b" host app 12 ID47 - edge date %d" % n


def _huge_numbers(rnd: random.Random, n: int) -> bytes:
    big = b"9" * rnd.randint(20, 40)
    return (
        b"<38>Oct 11 22:14:15 web01 sshd["
        + big
        + b"]: Failed password for root from 203.0.113.9 port "
        + big
        + b" ssh2 %d" % n
    )


def _huge_msgid(rnd: random.Random, n: int) -> bytes:
    return b"<34>1 2024-01-01T00:00:00Z host app " + b"1" * 20 + b" " + b"2" * 30 + b" - msg %d" % n


def _broken_sd(rnd: random.Random, n: int) -> bytes:
    sd = rnd.choice([b'[id a="b', b"[[[[[[[[", b'[x a="\\"]', b"[" + b"a=" * 200 + b"]", b'[id a="b"][id'])
    return b"<165>1 2003-10-11T22:14:15.003Z mymachine evntslog - ID47 " + sd + b" %d" % n


def _long_fields(rnd: random.Random, n: int) -> bytes:
    return b"<34>Oct 11 22:14:15 " + b"h" * 3000 + b" " + b"p" * 3000 + b"[1]: %d" % n


def _unique_long_host(rnd: random.Random, n: int) -> bytes:
    return b"<34>Oct 11 22:14:15 host%d" % n + b"h" * rnd.randint(300, 8000) + b" app: a new long host each time"


def _over_limit(rnd: random.Random, n: int) -> bytes:
    return b"<34>%d " % n + b"L" * (MAX_LINE + rnd.randint(1, 20_000))


def _near_limit(rnd: random.Random, n: int) -> bytes:
    return b"<34>Oct 11 22:14:15 host app: %d " % n + rnd.randbytes(rnd.randint(20_000, 60_000)).replace(b"\n", b"~")


def _bad_pri(rnd: random.Random, n: int) -> bytes:
    return b"<" + str(rnd.choice([999, -1, 192, 2**70])).encode() + b">Oct 11 22:14:15 host app: %d" % n


def _format_strings(rnd: random.Random, n: int) -> bytes:
    return b"<34>Oct 11 22:14:15 host app: %%s%%s%%n%%x {0} ${jndi:ldap://x} \xe2\x80\xae %d" % n


KINDS: list[Callable[[random.Random, int], bytes]] = [
    _garbage,
    _invalid_utf8,
    _controls,
    _edge_date,
    _huge_numbers,
    _huge_msgid,
    _broken_sd,
    _long_fields,
    _unique_long_host,
    _bad_pri,
    _format_strings,
]


def record(rnd: random.Random, n: int, *, over_limit_share: float = 0.01, near_limit_share: float = 0.03) -> bytes:
    """One malformed record's bytes (never empty once stripped of CR, LF and NUL at the end)."""
    draw = rnd.random()
    if draw < over_limit_share:
        return _over_limit(rnd, n)  # dead letters of 64 KiB heads
    if draw < over_limit_share + near_limit_share:
        return _near_limit(rnd, n)  # 20-60 KB of binary in one record
    return rnd.choice(KINDS)(rnd, n)


def udp_datagrams(count: int, seed: int = 1, first: int = 0) -> Iterator[bytes]:
    """Datagrams of one record each; none over the size limit (UDP cannot carry 64 KiB).

    ``first``: the first counter value; give each stream its own range so no two frames are equal.
    """
    rnd = random.Random(seed)
    for n in range(first, first + count):
        yield record(rnd, n, over_limit_share=0, near_limit_share=0.01)


def tcp_frames(count: int, seed: int = 2, first: int = 0) -> Iterator[bytes]:
    """Frames for one TCP stream, each one record: octet-counted (any bytes) or a safe line."""
    rnd = random.Random(seed)
    for n in range(first, first + count):
        data = record(rnd, n)
        if rnd.random() < 0.5:
            yield b"%d " % len(data) + (data if data.startswith(b"<") else b"<" + data[1:])
        else:
            line = data.replace(b"\n", b" ").replace(b"\x00", b" ")
            if line[:1].isdigit() or line[:1] in (b" ", b"\r"):
                line = b"x" + line[1:]
            yield line + b"\n"


# a fuzz run against the real service ------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FuzzRun:
    frames: int  # malformed frames sent (UDP datagrams + TCP frames)
    udp_sent: int
    udp_dropped: int  # by the kernel or the receiver (UDP cannot wait), from the service's figures
    events: int  # frames that became events (stored, or duplicates of one stored)
    dead_letters: int  # frames kept as dead letters
    rss_steady_mb: float  # after start and a warm-up of good lines
    rss_peak_mb: float  # the highest reading while the run was processed
    rss_after_mb: float  # once every frame is processed
    seconds: float
    log_lines: int  # written during the flood (start-up lines not counted)
    tracebacks: int


def fuzz_service(service: ServiceProcess, frames: int, *, warmup: int = 100_000, timeout: float = 300.0) -> FuzzRun:
    """Send ``frames`` malformed frames (half UDP, half TCP over four connections) to a started
    service (UDP and TCP listeners) and wait until every one is an event, a dead letter or dropped.

    The steady state is the service after ``warmup`` good lines: its caches (SQLite's page cache
    above all) at their working size, as in a service that has run for a while.
    """
    tcp_port, udp_port = service.ports["syslog_tcp"], service.ports["syslog_udp"]
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=60) as s:
        for start in range(0, warmup, 5000):
            s.sendall(b"".join(line(n) for n in range(start, min(start + 5000, warmup))))
    assert service.wait_for_count(warmup) == warmup
    before = _settled(service, warmup, timeout)
    time.sleep(2.0)
    steady = service.rss_mb()
    peak = steady
    log_before = len(service.log_path.read_text(errors="replace").splitlines())  # start-up lines are not the flood's
    started = time.monotonic()
    udp_count = frames // 2
    tcp_count = frames - udp_count

    def tcp_sender(part: int) -> None:
        share = tcp_count // 4 + (1 if part < tcp_count % 4 else 0)
        with socket.create_connection(("127.0.0.1", tcp_port), timeout=60) as s:
            buf: list[bytes] = []
            for frame in tcp_frames(share, seed=100 + part, first=(part + 1) * 10_000_000):
                buf.append(frame)
                if len(buf) >= 200:
                    s.sendall(b"".join(buf))
                    buf = []
            s.sendall(b"".join(buf))

    senders = [threading.Thread(target=tcp_sender, args=(part,)) for part in range(4)]
    for t in senders:
        t.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for n, datagram in enumerate(udp_datagrams(udp_count)):
            udp.sendto(datagram, ("127.0.0.1", udp_port))
            if n % 500 == 499:  # about 10,000 datagrams/s: under the loss knee on a quiet machine
                time.sleep(0.05)
                peak = max(peak, service.rss_mb())
    for t in senders:
        t.join(timeout)
    deadline = started + timeout
    while True:
        peak = max(peak, service.rss_mb())
        figures = service.stats()
        receivers = figures.get("receivers", {})
        dropped = int(receivers.get("udp_kernel_drops", 0)) + int(receivers.get("udp_dropped", 0))
        processed = int(figures.get("processed", 0)) - before["processed"]
        if (processed + dropped >= frames and figures.get("spool_depth") == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    seconds = time.monotonic() - started
    time.sleep(2.0)  # let the last batch's memory go
    log = service.log_path.read_text(errors="replace")
    return FuzzRun(
        frames=frames,
        udp_sent=udp_count,
        udp_dropped=dropped,
        events=int(figures.get("stored", 0)) + int(figures.get("duplicates", 0)) - before["events"],
        dead_letters=int(figures.get("dead_letters", 0)) - before["dead_letters"],
        rss_steady_mb=steady,
        rss_peak_mb=peak,
        rss_after_mb=service.rss_mb(),
        seconds=seconds,
        log_lines=len(log.splitlines()) - log_before,
        tracebacks=log.count("Traceback"),
    )


def _settled(service: ServiceProcess, records: int, timeout: float) -> dict[str, int]:
    """The service's counters once it reports ``records`` processed and an empty spool."""
    deadline = time.monotonic() + timeout
    while True:
        figures = service.stats()
        if (figures.get("processed", 0) >= records and figures.get("spool_depth") == 0) or time.monotonic() > deadline:
            return {
                "processed": int(figures.get("processed", 0)),
                "events": int(figures.get("stored", 0)) + int(figures.get("duplicates", 0)),
                "dead_letters": int(figures.get("dead_letters", 0)),
            }
        time.sleep(0.2)
