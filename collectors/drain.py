"""The drain: spool → normalise → store, and only then the checkpoint.

One thread reads the spool in batches, turns each record into an ECS event (or a dead letter
with its reason), writes them to the store and then confirms the batch to the spool. After a
crash the unconfirmed batches are read again; deterministic event ids make the store treat
what it already holds as duplicates, so every record is stored exactly once.

Why one thread doing read → normalise → write in turn, and no pipeline: Python's ``sqlite3``
releases the GIL around each row's step of ``executemany`` and must take it back after every
row; with another thread busy in Python (normalising the next batch) each retake waits for
the interpreter's switch interval. Measured here: 5,000 inserts took 88 ms alone and 312 ms
beside one busy Python thread. A separate drain process would avoid that but would need its
own lifecycle for SIGKILL (an orphan must not keep writing the spool and store); not worth
it while normalising, not the GIL, is most of the cost (``benchmarks/syslog_ingest.py --stages``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from collectors.dead_letters import COLLECTION as DEAD_LETTERS
from collectors.dead_letters import dead_letter_document
from collectors.normalize import Normalizer
from collectors.records import RawRecord
from collectors.spool import Spool, SpoolBatch, error_text
from sentinel.collection_health import CollectionHealth
from sentinel.config import SpoolSettings
from sentinel.errors import ConflictError, ParseError, StoreError
from sentinel.events import Event
from sentinel.inventory import Inventory
from sentinel.memory import MemoryTrimmer
from sentinel.status import COLLECTOR_STATS_ID
from sentinel.store.base import DocumentWrite, Scope, Store

logger = logging.getLogger(__name__)

_RATE_WINDOW = 10.0  # seconds over which events/s is measured
_RETRY_MAX = 5.0  # longest pause between attempts while the store refuses writes (or any I/O fails)
_QUIET_SECONDS = 300.0  # an error met per record or per attempt is logged at most this often
PARTIAL = "partial"  # tag of an event made from the fragment a sender left when it disconnected
BATCH_BYTES = 16 * 1024 * 1024  # spooled bytes per batch at most (plus one read): bounds a burst's memory
DEAD_LETTER_BYTES = 2 * 1024 * 1024  # records' bytes per dead-letter write


class Throttle:
    """At most one log line per ``interval`` for an error that can repeat per record or per attempt."""

    def __init__(self, interval: float = _QUIET_SECONDS) -> None:
        self.interval = interval
        self._last = -interval
        self.suppressed = 0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            return True
        self.suppressed += 1
        return False

    def take_suppressed(self) -> int:
        count, self.suppressed = self.suppressed, 0
        return count


@dataclass(frozen=True, slots=True)
class CollectorStats:
    """Live counters since this process started (``sentinel status`` shows them)."""

    started_at: str
    updated_at: str
    received: int  # records the receivers put in the spool
    processed: int  # records the drain took from the spool (replays after a restart included)
    stored: int  # new events in the store
    duplicates: int  # events the store already had (a replay or a re-send)
    dead_letters: int
    failed_writes: int  # store errors that were retried
    spool_depth: int  # records in the spool not yet confirmed by the store
    spool_bytes: int
    events_per_second: float  # stored + duplicates per second over the last few seconds
    spool_refused: int = 0  # appends the spool refused (disk full, under the floor, write errors)
    spool_skipped_bytes: int = 0  # damaged spool bytes passed over (every intact frame after them kept)
    receivers: dict[str, int] = field(default_factory=dict)  # UDP drops, refused or idle TCP connections...
    collection: dict[str, Any] = field(default_factory=dict)  # the collection state: ok or degraded, and why

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Drain:
    """Moves records from the spool into the store; run it with ``start()`` or call ``run_once()``."""

    def __init__(
        self,
        spool: Spool,
        store: Store,
        normalizer: Normalizer,
        settings: SpoolSettings,
        *,
        inventory: Inventory | None = None,
        received: Callable[[], int] | None = None,
        receivers: Callable[[], dict[str, int]] | None = None,
        stats_interval: float = 5.0,
        health: CollectionHealth | None = None,
    ) -> None:
        self.spool = spool
        self.store = store
        self.normalizer = normalizer
        self.settings = settings
        self.inventory = inventory
        self.health = health or CollectionHealth()
        self._received = received
        self._receivers = receivers
        self.stats_interval = stats_interval
        self._started_at = _now_text()
        self._processed = 0
        self._stored = 0
        self._duplicates = 0
        self._dead = 0
        self._failed_writes = 0
        self._rate_samples: deque[tuple[float, int]] = deque()
        self._last_persist = 0.0
        self._stats_version: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._parse_errors = Throttle()
        self._stats_errors = Throttle()
        self._last_progress = time.monotonic()  # a batch confirmed, or the spool found empty
        self._trimmer = MemoryTrimmer()
        self._busy_since_trim = False  # batches went through since memory was last given back

    # one batch ---------------------------------------------------------------------------
    def run_once(self, wait_seconds: float | None = None) -> int:
        """Read, store and confirm one batch; returns how many records it held."""
        wait = self.settings.batch_wait_seconds if wait_seconds is None else wait_seconds
        batch = self.spool.read_batch(self.settings.batch_size, wait, BATCH_BYTES)
        if batch.items:
            self._process(batch)
            self._busy_since_trim = True
        else:
            self.spool.sync_if_due()
            self._last_progress = time.monotonic()
            if self._busy_since_trim and self._trimmer.trim_if_due():
                self._busy_since_trim = False  # idle after a burst: give its memory back
        self._maybe_persist_stats()
        return len(batch.items)

    def _process(self, batch: SpoolBatch) -> None:
        events: list[Event] = []
        sources: list[RawRecord] = []
        dead: list[tuple[RawRecord, str]] = []
        normalize = self.normalizer.normalize
        for record, reject, partial in batch.items:
            if reject is not None:
                dead.append((record, reject))
                continue
            try:
                event = normalize(record)
            except ParseError as exc:
                dead.append((record, exc.message))
                continue
            except Exception as exc:  # a parser bug must not lose the record or stop the drain
                self._parse_error(record, exc)
                dead.append((record, f"internal error while parsing: {type(exc).__name__}: {exc}"))
                continue
            if partial:
                tags = event.doc.get("tags")
                if isinstance(tags, list):
                    tags.append(PARTIAL)
                else:
                    event.doc["tags"] = [PARTIAL]
            events.append(event)
            sources.append(record)
        if events:
            result = self._retry("write events", lambda: self.store.write_events(events))
            if result is None:
                self.spool.rewind()  # stopping while the store refuses: the batch stays in the spool
                return
            self._stored += result.created
            self._duplicates += result.duplicates
            if result.failed:
                by_id = {event.id: record for event, record in zip(events, sources, strict=True)}
                for event_id, reason in result.failed:
                    refused = by_id.get(event_id)
                    if refused is not None:
                        dead.append((refused, f"store refused the event: {reason}"))
        if dead and self._retry("write dead letters", lambda: self._dead_letters(dead)) is None:
            self.spool.rewind()
            return
        if not self._save_checkpoint(batch):
            self.spool.rewind()  # stopping: stored but not confirmed; the next start finds them as duplicates
            return
        self._processed += len(batch.items)
        self._last_progress = time.monotonic()
        self._rate_samples.append((time.monotonic(), self._stored + self._duplicates))

    def _parse_error(self, record: RawRecord, exc: Exception) -> None:
        """A parser bug: the record becomes a dead letter; the traceback is logged, not once per record."""
        if self._parse_errors.ready():
            logger.error(
                "normalising a record from %s failed (it is kept as a dead letter; %d more such failures "
                "since the last report)",
                record.origin,
                self._parse_errors.take_suppressed(),
                exc_info=exc,
            )

    def _save_checkpoint(self, batch: SpoolBatch) -> bool:
        """Move the spool's checkpoint, retrying while it cannot be saved (disk full); False if stopping."""
        pause = 0.1
        while True:
            try:
                self.spool.commit(batch.end, len(batch.items))
            except OSError as exc:
                self.health.report("drain_stalled", f"cannot save the spool checkpoint: {error_text(exc)}")
                if self._stop.wait(pause):
                    return False
                pause = min(pause * 2, _RETRY_MAX)
                continue
            self.health.clear("drain_stalled")
            return True

    def _dead_letters(self, dead: list[tuple[RawRecord, str]]) -> None:
        """Keep every rejected record, in few store writes, each of a bounded size.

        One write per dead letter made a flood of garbage (binary data or TLS sent to a plain syslog
        port) about ten times slower to get through than good lines, holding up everything behind
        it; one write for the whole batch held every document at once (a dead letter is about four
        times its record: readable text and base64), hundreds of megabytes for a batch of 64 KiB
        records. So: writes of about ``DEAD_LETTER_BYTES`` of records each, documents built per write.
        A replay after a crash finds some already kept: that write then fails on the first of
        those, and each of its documents is written on its own, skipping the ones that exist.
        """
        seen: set[str] = set()
        chunk: list[DocumentWrite] = []
        size = 0
        for record, reason in dead:
            write = self._dead_letter_write(record, reason)
            if write.doc_id in seen:  # the same bytes twice from one origin: one dead letter
                continue
            seen.add(write.doc_id)
            chunk.append(write)
            size += len(record.raw)
            if size >= DEAD_LETTER_BYTES:
                self._write_dead_letters(chunk)
                chunk, size = [], 0
        if chunk:
            self._write_dead_letters(chunk)

    def _write_dead_letters(self, writes: list[DocumentWrite]) -> None:
        try:
            self.store.write_documents(writes)
        except ConflictError:
            for write in writes:
                try:
                    self.store.create_document(
                        write.collection, write.doc_id, write.body, institution_id=write.institution_id
                    )
                except ConflictError:
                    continue  # kept by an earlier run
                self._dead += 1
            return
        self._dead += len(writes)

    def _dead_letter_write(self, record: RawRecord, reason: str) -> DocumentWrite:
        doc_id, body, institution_id = dead_letter_document(record, reason, inventory=self.inventory)
        return DocumentWrite(DEAD_LETTERS, doc_id, body, institution_id)

    def _retry(self, action: str, call: Callable[[], Any]) -> Any:
        """Call until the store accepts; None if stopping (one attempt then): nothing is confirmed."""
        pause = 0.1
        while True:
            try:
                result = call()
            except StoreError as exc:
                self._failed_writes += 1
                self.health.report("store_refusing_writes", str(exc))
                if self._stop.is_set():
                    logger.warning("could not %s while stopping; it stays in the spool: %s", action, exc)
                    return None
                if self._stop.wait(pause):
                    return None
                pause = min(pause * 2, _RETRY_MAX)
                continue
            self.health.clear("store_refusing_writes")
            return True if result is None else result

    # the thread --------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the drain is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="spool-drain", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Batch after batch until stopped; no error ends it: each is reported and retried with backoff."""
        pause = 0.1
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # reading the spool failed (I/O error), or something unforeseen
                self._stalled(exc)
                self.spool.rewind()  # whatever was read and not confirmed is read again
                if self._stop.wait(pause):
                    return
                pause = min(pause * 2, _RETRY_MAX)
                continue
            if pause > 0.1:
                pause = 0.1
                self.health.clear("drain_stalled")

    def _stalled(self, exc: Exception) -> None:
        starting = not self.health.active("drain_stalled")
        self.health.report("drain_stalled", f"{type(exc).__name__}: {error_text(exc)}")
        if starting and not isinstance(exc, OSError):
            logger.error("the spool drain met an unexpected error; retrying with backoff", exc_info=exc)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current batch, then store what is left in the spool (up to ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("the spool drain did not stop within %.0fs; the spool keeps the rest", timeout)
                return
            self._thread = None
        deadline = time.monotonic() + timeout
        while self.spool.pending_records and time.monotonic() < deadline:
            before = self.spool.checkpoint
            try:
                self.run_once(wait_seconds=0)
            except Exception as exc:
                logger.warning("stopping with records in the spool; they are stored at the next start: %s", exc)
                self.spool.rewind()
                break
            if self.spool.checkpoint == before:
                break  # nothing read or the store refused: the rest waits in the spool
        self.persist_stats()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def seconds_since_progress(self) -> float:
        """How long since a batch was confirmed or the spool was found empty."""
        return time.monotonic() - self._last_progress

    # figures -----------------------------------------------------------------------------
    def stats(self) -> CollectorStats:
        now = time.monotonic()
        samples = self._rate_samples
        while samples and now - samples[0][0] > _RATE_WINDOW:
            samples.popleft()
        rate = 0.0
        if len(samples) >= 2 and samples[-1][0] > samples[0][0]:
            rate = (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
        return CollectorStats(
            started_at=self._started_at,
            updated_at=_now_text(),
            received=self._received() if self._received is not None else self._processed,
            processed=self._processed,
            stored=self._stored,
            duplicates=self._duplicates,
            dead_letters=self._dead,
            failed_writes=self._failed_writes,
            spool_depth=self.spool.pending_records,
            spool_bytes=self._spool_bytes(),
            events_per_second=round(rate, 1),
            spool_refused=self.spool.refused_appends,
            spool_skipped_bytes=self.spool.skipped_bytes,
            receivers=self._receivers() if self._receivers is not None else {},
            collection=self.health.state().as_dict(),
        )

    def _spool_bytes(self) -> int:
        try:
            return self.spool.pending_bytes()
        except OSError:
            return -1

    def _maybe_persist_stats(self) -> None:
        if time.monotonic() - self._last_persist >= self.stats_interval:
            self.persist_stats()

    def persist_stats(self) -> None:
        """Write the counters to the store's ``state`` collection for a separate status process."""
        self._last_persist = time.monotonic()
        body = self.stats().as_dict()
        try:
            self._write_stats(body)
        except StoreError as exc:
            if self._stats_errors.ready():
                logger.warning("could not save collector stats: %s", exc)

    def _write_stats(self, body: dict[str, Any]) -> None:
        for _ in range(3):
            if self._stats_version is None:
                current = self.store.get_document("state", COLLECTOR_STATS_ID, Scope.everything())
                if current is None:
                    try:
                        self._stats_version = self.store.create_document("state", COLLECTOR_STATS_ID, body).version
                        return
                    except ConflictError:
                        continue
                self._stats_version = current.version
            try:
                doc = self.store.replace_document(
                    "state", COLLECTOR_STATS_ID, body, expected_version=self._stats_version
                )
            except ConflictError:
                self._stats_version = None  # someone else wrote it: read again
                continue
            self._stats_version = doc.version
            return
