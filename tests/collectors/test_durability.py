"""Kill -9 the real service mid-stream, restart it: every line stored exactly once.

The service runs as a subprocess (``python -m sentinel.cli serve``) on a temp config with
SQLite in tmp. Plain syslog has no acknowledgement, so the honest client re-sends after a
reconnect; deterministic ids make that exactly-once. Every wait is bounded in time.
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
