"""Reading pcap and pcapng files frame by frame, and refusing what is not a capture."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgWriter, PcapWriter, RawPcapReader

from collectors.sensor.capture_reader import is_capture, read_frames
from sentinel.errors import ParseError


def _packets(n: int) -> list[Ether]:
    out = []
    for i in range(n):
        pkt = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=1000 + i)
        pkt.time = 1_600_000_000 + i + 0.123456
        out.append(pkt)
    return out


def test_masscan_capture_matches_scapy(shared_data: Path) -> None:
    path = shared_data / "pcaps/esnet-curated/masscan/tcp_0_1000_20190821.pcap"
    ours = list(read_frames(path))
    with RawPcapReader(str(path)) as reader:
        theirs = [(meta.sec + meta.usec / 1e6, data) for data, meta in reader]
    assert len(ours) == len(theirs) == 1005
    assert all(lt == 1 for _, lt, _ in ours)
    assert [f for _, _, f in ours] == [f for _, f in theirs]
    assert [round(ts, 6) for ts, _, _ in ours] == [round(ts, 6) for ts, _ in theirs]


def test_nanosecond_pcap(tmp_path: Path) -> None:
    path = tmp_path / "nano.pcap"
    pkts = _packets(3)
    with PcapWriter(str(path), nano=True) as w:
        for p in pkts:
            w.write(p)
    got = list(read_frames(path))
    assert [f for _, _, f in got] == [bytes(p) for p in pkts]
    assert got[2][0] == pytest.approx(1_600_000_002.123456, abs=1e-6)


def test_big_endian_pcap(tmp_path: Path) -> None:
    path = tmp_path / "be.pcap"
    with PcapWriter(str(path), endianness=">") as w:
        for p in _packets(2):
            w.write(p)
    assert path.read_bytes()[:4] == b"\xa1\xb2\xc3\xd4"
    got = list(read_frames(path))
    assert len(got) == 2 and got[1][0] == pytest.approx(1_600_000_001.123456, abs=1e-6)


def test_pcapng(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    pkts = _packets(4)
    with PcapNgWriter(str(path)) as w:
        for p in pkts:
            w.write(p)
    assert is_capture(path.read_bytes()[:4])
    got = list(read_frames(path))
    assert [f for _, _, f in got] == [bytes(p) for p in pkts]
    assert [lt for _, lt, _ in got] == [1, 1, 1, 1]
    assert got[3][0] == pytest.approx(1_600_000_003.123456, abs=1e-5)


def test_truncated_capture_reads_up_to_the_cut(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cut.pcap"
    with PcapWriter(str(path)) as w:
        for p in _packets(5):
            w.write(p)
    path.write_bytes(path.read_bytes()[:-7])
    with caplog.at_level(logging.WARNING):
        got = list(read_frames(path))
    assert len(got) == 4
    assert "truncated" in caplog.text


def test_not_a_capture_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.pcap"
    path.write_text("this is a text file\n")
    assert not is_capture(path.read_bytes()[:4])
    with pytest.raises(ParseError, match="not a pcap or pcapng") as info:
        list(read_frames(path))
    assert str(path) in str(info.value)


def test_impossible_record_length_names_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "bad.pcap"
    with PcapWriter(str(path)) as w:
        for p in _packets(2):
            w.write(p)
    data = bytearray(path.read_bytes())
    first_len = int.from_bytes(data[24 + 8 : 24 + 12], "little")
    second = 24 + 16 + first_len
    data[second + 8 : second + 12] = (0x7FFFFFFF).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    frames = read_frames(path)
    assert next(frames)[2] == bytes(_packets(1)[0])  # what came before the damage is still read
    with pytest.raises(ParseError, match=f"byte {second}"):
        next(frames)


def test_pcapng_block_too_short_for_its_type(tmp_path: Path) -> None:
    shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    idb = struct.pack("<III", 1, 12, 12)  # an interface block with no room for its fields
    path = tmp_path / "short.pcapng"
    path.write_bytes(shb + idb)
    with pytest.raises(ParseError, match="byte 28 is too short"):
        list(read_frames(path))
