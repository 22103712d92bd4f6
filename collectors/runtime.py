"""The collection runtime: spool, drain, syslog listeners and file tailers, started and stopped together.

``sentinel serve`` builds the store, calls ``CollectorRuntime(...).start()``, serves the API and
calls ``stop()`` on SIGTERM/SIGINT. Stop is graceful: listeners close and flush into the spool,
the drain stores what the spool holds and moves the checkpoint. A kill instead of a stop loses
nothing either: the next start replays the spool from the checkpoint.

Every part reports its problems to one ``CollectionHealth`` (``health``), which ``/healthz`` and
``sentinel status`` show; a monitor thread adds what no part meets by itself: free disk space
under the floor, and a drain that has not moved a batch for a while with records waiting.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from collectors.drain import CollectorStats, Drain
from collectors.file_tail import FileTailService
from collectors.normalize import Normalizer
from collectors.spool import Spool, error_text, floor_margin, write_file_atomically
from collectors.syslog_server import BoundListener, SyslogServer, SyslogThread
from sentinel.collection_health import CollectionHealth
from sentinel.config import Settings
from sentinel.inventory import Inventory
from sentinel.private_files import private_directory
from sentinel.store.base import Store

logger = logging.getLogger(__name__)

SPOOL_DIR = "spool"
TAIL_STATE_FILE = "file_tail_state.json"
PORTS_FILE = "ports.json"
MONITOR_SECONDS = 1.0  # how often the monitor looks at the disk and the drain
STALL_SECONDS = 60.0  # records waiting and no batch stored for this long: the drain is stalled


class CollectionMonitor:
    """Checks what no collector meets by itself: free disk under the floor, a drain that does not move."""

    def __init__(self, runtime: CollectorRuntime, interval: float = MONITOR_SECONDS) -> None:
        self.runtime = runtime
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        runtime = self.runtime
        health = runtime.health
        floor = runtime.settings.spool.min_free_mb
        if floor:
            try:
                free = runtime.spool.free_bytes()
            except OSError as exc:
                health.report("disk_low", f"cannot read free space: {error_text(exc)}")
            else:
                floor_bytes = floor * 1024 * 1024
                if free < floor_bytes:
                    health.report("disk_low", f"{free // (1024 * 1024)} MB free, floor {floor} MB")
                elif free >= floor_bytes + floor_margin(floor_bytes):  # in between: as it was
                    health.clear("disk_low")
        drain = runtime.drain
        stalled = drain.seconds_since_progress()
        if not drain.alive and runtime.running:
            health.report("drain_stalled", "the drain thread is not running")
        elif runtime.spool.pending_records and stalled >= STALL_SECONDS:
            health.report("drain_stalled", f"no batch stored for {stalled:.0f} s with records waiting")
        # The drain clears "drain_stalled" itself once a batch goes through.

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="collection-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # pragma: no cover - the monitor must not die of a bug
                logger.exception("the collection monitor failed; it goes on")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


class CollectorRuntime:
    """Everything that receives events, wired to one store."""

    def __init__(
        self,
        settings: Settings,
        inventory: Inventory,
        store: Store,
        *,
        observer_hostname: str | None = None,
        stats_interval: float = 5.0,
        tail_poll_interval: float = 0.25,
    ) -> None:
        self.settings = settings
        self.inventory = inventory
        self.store = store
        self.data_dir = settings.resolved_data_dir()
        self.health = CollectionHealth()
        self.spool = Spool(self.data_dir / SPOOL_DIR, settings.spool, health=self.health)
        self.normalizer = Normalizer(
            inventory, default_timezone=settings.timezone, observer_hostname=observer_hostname or socket.gethostname()
        )
        self._syslog: SyslogThread | None = None
        self._tail: FileTailService | None = None
        self.drain = Drain(
            self.spool,
            store,
            self.normalizer,
            settings.spool,
            inventory=inventory,
            received=self._received,
            receivers=self._receiver_figures,
            stats_interval=stats_interval,
            health=self.health,
        )
        self.monitor = CollectionMonitor(self)
        self._tail_poll_interval = tail_poll_interval
        self._running = False

    def _received(self) -> int:
        total = 0
        if self._syslog is not None:
            total += self._syslog.server.received
        if self._tail is not None:
            total += self._tail.received
        return total

    def _receiver_figures(self) -> dict[str, int]:
        figures: dict[str, int] = {}
        if self._syslog is not None:
            figures.update(self._syslog.server.figures())
        if self._tail is not None:
            figures["file_tail_blocked"] = int(self._tail.blocked)
        return figures

    def start(self) -> None:
        """Open the spool (replaying what the last run left), then start the drain and the receivers."""
        if self._running:
            raise RuntimeError("the collector runtime is already running")
        private_directory(self.data_dir)
        report = self.spool.open()
        if report.pending_records:
            logger.info("replaying %d spooled records from the last run", report.pending_records)
        self._running = True
        try:
            self.drain.start()
            listeners = self.settings.listeners
            if listeners.syslog:
                self._syslog = SyslogThread(SyslogServer(listeners.syslog, self.spool))
                self._syslog.start()
            if listeners.files:
                self._tail = FileTailService(
                    listeners.files,
                    self.spool,
                    self.data_dir / TAIL_STATE_FILE,
                    poll_interval=self._tail_poll_interval,
                    fsync_state=self.settings.spool.fsync != "never",
                )
                self._tail.start()
            self.monitor.start()
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Close the receivers, store everything spooled, confirm it, close the spool."""
        if not self._running:
            return
        self._running = False
        started = time.monotonic()
        self.monitor.stop()
        try:
            if self._syslog is not None:
                self._syslog.stop(timeout)
            if self._tail is not None:
                self._tail.stop(timeout)
            self.drain.stop(max(1.0, timeout - (time.monotonic() - started)))
        finally:
            self.spool.close()
        left = self.spool.pending_records
        if left:
            logger.warning("stopped with %d records still in the spool; they are stored at the next start", left)

    @property
    def running(self) -> bool:
        return self._running

    @property
    def listeners(self) -> list[BoundListener]:
        """Every syslog listener with its actual port (a configured port 0 gets one from the system)."""
        return list(self._syslog.server.bound) if self._syslog is not None else []

    @property
    def bound_ports(self) -> dict[str, int]:
        """Actual ports by name, as ``ports.json`` holds them: ``syslog_tcp``, ``syslog_udp`` for the
        first listener of each protocol, then ``syslog_tcp_2``, ``syslog_tcp_3``... in config order."""
        ports: dict[str, int] = {}
        for bound in self.listeners:
            name = f"syslog_{bound.protocol}"
            n = 1
            while (name if n == 1 else f"{name}_{n}") in ports:
                n += 1
            ports[name if n == 1 else f"{name}_{n}"] = bound.port
        return ports

    def stats(self) -> CollectorStats:
        return self.drain.stats()

    def write_ports_file(self, extra: dict[str, Any] | None = None, path: Path | None = None) -> Path:
        """Write ``ports.json`` (``{"syslog_tcp": 5140, ...}`` plus ``extra``) atomically."""
        target = path or self.data_dir / PORTS_FILE
        write_file_atomically(target, orjson.dumps(self.bound_ports | (extra or {})))
        return target
