"""The real service under kill -9, a full disk, a checkpoint that cannot be written, a torn spool
frame and a flood of malformed frames: every line stored exactly once, nothing accepted and lost.

The service runs as a subprocess (``python -m sentinel.cli serve``, ``tests/support/service_process``)
on a temp config with SQLite in tmp. Plain syslog has no acknowledgement, so the honest client
re-sends after a reconnect; deterministic ids make that exactly-once. A full disk is made two
ways: a real 16 MB tmpfs (skipped with a reason where mounting is impossible) and a file-size
limit on the process, which makes the kernel cut writes short and refuse them at the write call
(everywhere, so CI always runs it). Every wait is bounded in time.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from collectors.records import RawRecord
from collectors.spool_format import encode_item, read_segment_header
from tests.support.faults import grow_tmpfs, limit_file_size_of, small_tmpfs
from tests.support.fuzz_frames import fuzz_service
from tests.support.service_process import ServiceProcess, line

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_sigkill_mid_stream_then_resend_gives_exactly_once(tmp_path: Path) -> None:
    total = 100_000
    service = ServiceProcess(tmp_path)
    try:
        port = service.start()["syslog_tcp"]
        sent = 0
        error: list[BaseException] = []

        def sender() -> None:
            nonlocal sent
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                    for start in range(0, total, 100):
                        s.sendall(b"".join(line(n) for n in range(start, min(start + 100, total))))
                        sent = min(start + 100, total)
                        time.sleep(0.01)  # paced (about 10,000 lines/s) so the kill lands mid-stream
            except OSError as exc:  # the service was killed under us: expected
                error.append(exc)

        thread = threading.Thread(target=sender)
        thread.start()
        # Kill once the store has confirmed some batches, while the sender is still sending.
        deadline = time.monotonic() + 120
        while service.count() < 5000 and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        stored_before_kill = service.count()
        service.kill()
        thread.join(60)
        assert not thread.is_alive()
        assert sent < total, "the kill came after everything was sent; the test proves nothing"

        # Restart: the spool is replayed from the checkpoint. One TCP stream is spooled and
        # stored in order, so what is stored must be exactly a prefix: a gap would be a loss.
        port = service.start()["syslog_tcp"]
        service.wait_until_replayed()
        replayed = sorted(service.stored_sequence_numbers())
        assert replayed == list(range(len(replayed))), "records lost or duplicated inside the received stream"
        assert len(replayed) >= stored_before_kill > 0

        # The client cannot know what arrived: it re-sends everything.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            for start in range(0, total, 2000):
                s.sendall(b"".join(line(n) for n in range(start, min(start + 2000, total))))
        assert service.wait_for_count(total) == total
        time.sleep(1.0)  # a late duplicate would show up here
        seqs = service.stored_sequence_numbers()
        assert len(seqs) == total
        assert sorted(seqs) == list(range(total))
    finally:
        service.stop()
    log = (tmp_path / "service-2.log").read_text()
    print(
        f"sent before kill={sent}, stored before kill>={stored_before_kill}, after replay={len(replayed)}; "
        f"{re.findall('replaying.*', log)}"
    )


def append_lines(path: Path, start: int, stop: int) -> None:
    with open(path, "ab") as fh:
        for chunk in range(start, stop, 1000):
            fh.write(b"".join(line(n) for n in range(chunk, min(chunk + 1000, stop))))


def test_file_tail_survives_rename_rotation_kill_and_copytruncate(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "auth.log"
    log.write_bytes(b"")
    service = ServiceProcess(tmp_path, files=[str(log)])
    try:
        service.start()
        append_lines(log, 0, 20_000)
        os.rename(log, logs / "auth.log.1")  # rename rotation while running
        append_lines(logs / "auth.log.1", 20_000, 21_000)  # the writer has not reopened yet
        append_lines(log, 21_000, 40_000)
        assert service.wait_for_count(25_000) >= 25_000  # the tailer switched to the new file
        for start in range(40_000, 50_000, 1000):  # kill mid-stream
            append_lines(log, start, start + 1000)
        service.kill()
        append_lines(log, 50_000, 60_000)  # written while the service is down
        os.rename(logs / "auth.log.1", logs / "auth.log.2")  # copytruncate while down
        shutil.copyfile(log, logs / "auth.log.1")
        with open(log, "r+b") as fh:
            fh.truncate(0)
        append_lines(log, 60_000, 70_000)
        service.start()
        append_lines(log, 70_000, 80_000)
        assert service.wait_for_count(80_000) == 80_000
        time.sleep(1.0)
        seqs = service.stored_sequence_numbers()
        assert len(seqs) == 80_000
        assert sorted(seqs) == list(range(80_000))
    finally:
        service.stop()


# resources running out --------------------------------------------------------------------
class Sender:
    """One TCP connection sending seq=start..stop in chunks; ``sent`` is what sendall has taken."""

    def __init__(self, port: int, start: int, stop: int, chunk: int = 500) -> None:
        self.sent = start
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(port, start, stop, chunk))
        self._thread.start()

    def _run(self, port: int, start: int, stop: int, chunk: int) -> None:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
                s.settimeout(300)
                s.connect(("127.0.0.1", port))
                for first in range(start, stop, chunk):
                    s.sendall(b"".join(line(n) for n in range(first, min(first + chunk, stop))))
                    self.sent = min(first + chunk, stop)
        except OSError as exc:
            self.error = exc

    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float = 300) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the sender did not finish"
        assert self.error is None, self.error


def send_lines(port: int, start: int, stop: int) -> None:
    sender = Sender(port, start, stop)
    sender.join()


def held_back(sender: Sender, seconds: float = 1.0, within: float = 60.0) -> bool:
    """Within ``within`` seconds the sender, not done, makes no progress for ``seconds``: once the
    kernel's socket buffers are full, TCP holds it back."""
    deadline = time.monotonic() + within
    while sender.alive() and time.monotonic() < deadline:
        before = sender.sent
        time.sleep(seconds)
        if sender.sent == before:
            return sender.alive()
    return False


def log_lines(service: ServiceProcess) -> list[str]:
    return service.log_path.read_text(errors="replace").splitlines()


def test_a_disk_full_at_the_write_call_holds_senders_back_and_loses_nothing(tmp_path: Path) -> None:
    """The kernel refuses every write that grows a file (RLIMIT_FSIZE on the running service): the
    spool's writes are cut short and fail, as on a full disk. CI runs this everywhere."""
    service = ServiceProcess(tmp_path, spool={"min_free_mb": 0})
    try:
        port = service.start()["syslog_tcp"]
        send_lines(port, 0, 20_000)
        assert service.wait_for_count(20_000) == 20_000
        assert service.healthz() == (200, {"status": "ok"})
        quiet_before = len(log_lines(service))
        (segment,) = sorted((service.data / "spool").glob("*.seg"))[-1:]
        limit_file_size_of(service.pid, segment.stat().st_size + 65536)  # "the disk is full"
        sender = Sender(port, 20_000, 120_000)  # 10 MB: more than the socket buffers hold
        body = service.wait_for_health(503)
        assert "spool_unwritable" in {p["kind"] for p in body["problems"]}
        assert all(p["reason"] and p["since"] for p in body["problems"])
        assert "File too large" not in str(body)  # no error details without credentials
        assert held_back(sender)
        limit_file_size_of(service.pid, None)  # space returns
        service.wait_for_health(200)
        sender.join()
        send_lines(port, 120_000, 121_000)  # sent after space returned
        assert service.wait_for_count(121_000) == 121_000
        seqs = service.stored_sequence_numbers()
        assert sorted(seqs) == list(range(121_000))  # nothing accepted was lost, nothing stored twice
    finally:
        service.stop()
    episode = log_lines(service)[quiet_before:]
    assert len(episode) < 40, "\n".join(episode)  # once per state change, not once per message
    assert not [x for x in episode if "Traceback" in x]


def test_a_checkpoint_that_cannot_be_written_resumes_without_a_restart(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path)
    try:
        port = service.start()["syslog_tcp"]
        blocker = service.data / "spool" / "checkpoint.tmp"
        blocker.mkdir()  # the checkpoint's write fails (EISDIR), as a full disk makes it fail (ENOSPC)
        send_lines(port, 0, 5_000)
        body = service.wait_for_health(503)
        assert [p["kind"] for p in body["problems"]] == ["drain_stalled"]
        assert service.count() > 0  # stored; the drain waits to confirm it (the spool keeps it meanwhile)
        state = service.status()["collection_state"]  # `sentinel status --json`, from another process
        assert (state["status"], state["source"]) == ("degraded", "live")
        assert state["problems"][0]["kind"] == "drain_stalled" and state["problems"][0]["since"]
        blocker.rmdir()
        service.wait_for_health(200)
        send_lines(port, 5_000, 10_000)
        assert service.wait_for_count(10_000) == 10_000
        service.wait_until_replayed()
        assert sorted(service.stored_sequence_numbers()) == list(range(10_000))
    finally:
        service.stop()
    log = service.log_path.read_text()
    assert log.count("cannot save the spool checkpoint") == 1
    assert "collection recovered" in log
    assert "Traceback" not in log


def test_a_real_full_disk_then_space_returns_then_a_torn_frame_at_restart(tmp_path: Path) -> None:
    """The data directory on a 16 MB tmpfs: fill it, give space back, go on; then a restart after a
    torn frame keeps every valid frame after it."""
    disk = tmp_path / "disk"
    with small_tmpfs(disk, 16):
        service = ServiceProcess(tmp_path, data=disk / "data", spool={"min_free_mb": 4})
        try:
            port = service.start()["syslog_tcp"]
            sender = Sender(port, 0, 100_000)  # 10 MB of lines: far more than 16 MB holds once stored
            body = service.wait_for_health(503, timeout=120)
            assert {"disk_low", "spool_unwritable"} & {p["kind"] for p in body["problems"]}
            assert held_back(sender)
            grow_tmpfs(disk, 512)  # space returns
            service.wait_for_health(200, timeout=120)
            sender.join()
            send_lines(port, 100_000, 101_000)  # sent after space returned
            assert service.wait_for_count(101_000, timeout=300) == 101_000
            service.wait_until_replayed()
        finally:
            service.stop()
        episode = log_lines(service)
        assert len(episode) < 60, "\n".join(episode)
        assert not [x for x in episode if "Traceback" in x]
        # A torn frame, then valid ones, at the end of the newest segment (a crash mid-write
        # while other writers went on): the restart keeps every valid frame after the tear.
        newest = sorted((service.data / "spool").glob("*.seg"))[-1]
        seed = read_segment_header(newest.read_bytes())
        assert seed is not None
        record = RawRecord(b"", time.time(), "syslog:127.0.0.1", "tcp", "127.0.0.1", "syslog-tcp")
        with open(newest, "ab") as fh:
            fh.write(encode_item(record._replace(raw=line(999_999).rstrip()), seed=seed)[:60])
            for n in range(101_000, 101_300):
                fh.write(encode_item(record._replace(raw=line(n).rstrip()), seed=seed))
        try:
            service.start()
            assert service.wait_for_count(101_300) == 101_300
        finally:
            service.stop()
        assert sorted(service.stored_sequence_numbers()) == list(range(101_300))
        assert "skipping 60 bytes, keeping the intact frames after it" in service.log_path.read_text()


def test_a_flood_of_malformed_frames_leaves_memory_bounded_and_no_traceback(tmp_path: Path) -> None:
    """100,000 malformed frames over UDP and TCP (``tests/support/fuzz_frames.py``): each one is an
    event, a dead letter or a counted UDP drop; the service's RSS comes back to within 50 MB of
    its steady state; nothing in the log is a traceback. (``benchmarks/fuzz_memory.py`` prints the
    same figures over several runs.)"""
    service = ServiceProcess(tmp_path, udp=True)
    try:
        service.start()
        run = fuzz_service(service, 100_000)
    finally:
        service.stop()
    print(run)
    assert run.events + run.dead_letters + run.udp_dropped == run.frames
    assert run.dead_letters > 10_000 and run.events > 10_000  # both paths were exercised
    assert run.rss_after_mb - run.rss_steady_mb <= 50, run
    assert run.tracebacks == 0
    assert run.log_lines < 40
