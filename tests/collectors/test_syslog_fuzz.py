"""Fuzz of the syslog path (Hypothesis, bounded): bytes over real TCP and UDP sockets, through the real
framing, spool, drain and normaliser into a real SQLite store.

Whatever is sent, the drain keeps running and every record the framing cuts is stored as an event
(under the id ``sentinel.events.event_id`` gives it) or kept as a dead letter with its bytes.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.records import RawRecord, Transport, record_event_id
from collectors.runtime import CollectorRuntime
from collectors.syslog_framing import Frame, FrameDecoder, too_long
from sentinel.config import load_settings
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import EventQuery, FieldFilter, Scope
from sentinel.store.sqlite import SqliteStore
from tests.support.syslog_lines import TEXT, rfc3164

pytestmark = pytest.mark.timeout(240)

EXAMPLES = 120
TIME_BUDGET = 60.0  # seconds; inputs past it are not tried (the count printed says how many were)
MAX_LINE = 1024
INVENTORY = Inventory(
    [
        Institution(id="local", name="Loopback", networks=["127.0.0.0/8"], hostnames=["web01.local"]),
        Institution(id="other", name="Other", networks=["10.2.0.0/16"], hostnames=["db01.other"]),
    ]
)


class Service:
    def __init__(self, tmp: Path) -> None:
        config = tmp / "sentinel.yaml"
        listeners = [
            {"protocol": p, "host": "127.0.0.1", "port": 0, "max_line_bytes": MAX_LINE} for p in ("tcp", "udp")
        ]
        body = {
            "data_dir": str(tmp / "data"),
            "listeners": {"syslog": listeners},
            "spool": {"batch_wait_seconds": 0.005},
        }
        config.write_bytes(orjson.dumps(body))  # JSON is YAML
        self.store = SqliteStore(tmp / "data" / "sentinel.db")
        self.store.setup()
        self.runtime = CollectorRuntime(load_settings(config, environ={}), INVENTORY, self.store, stats_interval=60)
        self.runtime.start()
        self.ports = {b.protocol: b.port for b in self.runtime.listeners}

    def close(self) -> None:
        self.runtime.stop()
        self.store.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    s = Service(tmp_path_factory.mktemp("syslog-fuzz"))
    yield s
    s.close()


_STAMP = st.sampled_from(
    [
        "2025-11-27T07:40:10.165324Z",
        "2025-02-30T10:00:00Z",
        "9999-12-31T23:59:59+14:00",
        "0001-01-01T00:00:00-12:00",
        "-",
    ]
)
_HOST = st.sampled_from(["web01.local", "db01.other", "10.2.6.6", "-", ""])
_RFC3164 = rfc3164(_HOST)
_RFC5424 = st.builds(
    "<{}>1 {} {} {} {} {} {} {}".format,
    st.integers(0, 191),
    _STAMP,
    _HOST,
    st.sampled_from(["sshd", "-", "app"]),
    st.integers(0, 2**70).map(str) | st.just("-"),
    st.sampled_from(["ID47", "-"]),
    st.sampled_from(["-", '[x@1 a="b"]', '[x@1 a="\\"]"]', "[bad"]),
    TEXT,
)
_LINE = st.one_of(
    _RFC3164.map(str.encode),
    _RFC5424.map(str.encode),
    TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=120),
)


@st.composite
def _payloads(draw: st.DrawFn) -> tuple[Transport, list[bytes]]:
    """("tcp", [one stream]) or ("udp", [datagrams])."""
    lines = draw(st.lists(_LINE, min_size=1, max_size=6))
    if draw(st.booleans()):
        return "udp", [line + draw(st.sampled_from([b"", b"\n", b"\r\n", b"\x00"])) for line in lines]
    stream = b""
    for line in lines:
        if draw(st.integers(0, 4)) == 0:  # octet counting, sometimes with a wrong count
            stream += b"%d " % max(0, len(line) + draw(st.integers(-3, 3))) + line
        else:
            stream += line + draw(st.sampled_from([b"\n", b"\r\n", b"\x00"]))
    if draw(st.integers(0, 5)) == 0:
        stream += b"x" * draw(st.integers(MAX_LINE - 2, MAX_LINE + 40))  # about the limit, unterminated
    return "tcp", [stream]


def _frames(transport: Transport, payloads: list[bytes]) -> list[Frame]:
    """What the listener cuts from these bytes: the real TCP framing; for UDP one record a datagram."""
    if transport == "tcp":
        decoder = FrameDecoder(MAX_LINE)
        return decoder.feed(payloads[0]) + decoder.close()
    frames: list[Frame] = []
    for data in payloads:
        data = data.rstrip(b"\r\n\x00")
        if data:
            frames.append((data, None) if len(data) <= MAX_LINE else (data[:MAX_LINE], too_long(MAX_LINE, len(data))))
    return frames


def _send(service: Service, transport: Transport, payloads: list[bytes]) -> None:
    if transport == "tcp":
        with socket.create_connection(("127.0.0.1", service.ports["tcp"]), timeout=5) as conn:
            conn.sendall(payloads[0])
        return
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in payloads:
            sock.sendto(data, ("127.0.0.1", service.ports["udp"]))


def _kept(store: SqliteStore, transport: Transport, raw: bytes) -> str | None:
    """Where the record is: "event", "dead letter" (with exactly these bytes), or None yet."""
    record = RawRecord(raw, 0.0, "syslog:127.0.0.1", transport, peer="127.0.0.1")
    record_id = record_event_id(record, "local")  # the sender's address is the loopback institution's
    if store.count_events(EventQuery(filters=(FieldFilter("event.id", "eq", record_id),)), Scope.everything()):
        return "event"
    letter = store.get_document("dead_letters", record_id, Scope.everything())
    if letter is not None:
        assert base64.b64decode(letter.body["raw_b64"]) == raw
        return "dead letter"
    return None


def test_syslog_fuzz_every_record_is_stored_or_a_dead_letter(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    tried = {"inputs": 0, "records": 0, "event": 0, "dead letter": 0}
    started = time.monotonic()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(payload=_payloads())
    def send(payload: tuple[Transport, list[bytes]]) -> None:
        if time.monotonic() - started > TIME_BUDGET:
            return
        transport, payloads = payload
        tried["inputs"] += 1
        frames = _frames(transport, payloads)
        _send(service, transport, payloads)
        waiting = {raw for raw, _ in frames}  # the same bytes twice in one input are one record
        deadline = time.monotonic() + 15
        while waiting and time.monotonic() < deadline:
            for raw in list(waiting):
                where = _kept(service.store, transport, raw)
                if where is not None:
                    waiting.discard(raw)
                    tried[where] += 1
            time.sleep(0.005)
        assert service.runtime.drain.alive, "the drain stopped"
        assert not waiting, f"not stored and no dead letter: {sorted(waiting)[:3]} (sent {payloads!r})"
        tried["records"] += len({raw for raw, _ in frames})

    send()
    with capsys.disabled():
        print(
            f"\nsyslog fuzz: {tried['inputs']} inputs tried, {tried['records']} distinct records: "
            f"{tried['event']} events, {tried['dead letter']} dead letters"
        )
    assert tried["inputs"] >= 20
