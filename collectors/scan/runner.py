"""Run nmap through python-nmap: validated targets, fixed-vocabulary arguments, bounded parallelism.

python-nmap starts nmap with ``subprocess.Popen(argv)`` (no shell; checked in its source,
``PortScanner.scan``): it appends ``-oX -``, the ``shlex``-split hosts string and the
``shlex``-split arguments string. Both strings are built here from validated targets and
typed profile fields only, so each ends up as exactly the argv elements we intend.

A large network is split into chunks (one nmap process each) so the CLI can show progress
and so ``max_parallel`` bounds the nmap processes of *all* scans sharing one runner (the
scheduler and the CLI each hold one runner).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime

import nmap  # python-nmap

from collectors.scan.profiles import argument_string, build_arguments, get_profile
from collectors.scan.report import HostResult, ScanReport, parse_report
from collectors.scan.targets import Target
from sentinel.config import ScanSettings
from sentinel.errors import CollectorError

log = logging.getLogger(__name__)
DEFAULT_CHUNK_ADDRESSES = 256


@dataclass(frozen=True, slots=True)
class ScanProgress:
    done: int  # chunks finished
    total: int  # chunks in this run
    hosts_up: int  # so far
    chunk: str  # the targets of the chunk that just finished


ProgressCallback = Callable[[ScanProgress], None]


@dataclass(frozen=True, slots=True)
class Chunk:
    tokens: tuple[str, ...]
    version: int


@dataclass(slots=True)
class RunResult:
    report: ScanReport
    xml: list[bytes]
    arguments: list[str]
    started: datetime
    finished: datetime
    chunk_errors: list[str] = field(default_factory=list)

    @property
    def elapsed_seconds(self) -> float:
        return (self.finished - self.started).total_seconds()


def split_chunks(targets: Sequence[Target], chunk_addresses: int = DEFAULT_CHUNK_ADDRESSES) -> list[Chunk]:
    """One chunk per target token; networks larger than ``chunk_addresses`` become several subnets."""
    chunks: list[Chunk] = []
    for target in targets:
        for token in target.tokens:
            net = ipaddress.ip_network(token)
            if net.num_addresses <= chunk_addresses:
                chunks.append(Chunk((token,), net.version))
                continue
            bits = net.max_prefixlen - (chunk_addresses.bit_length() - 1)
            chunks += [Chunk((str(sub),), net.version) for sub in net.subnets(new_prefix=max(bits, net.prefixlen))]
    return chunks


def merge_reports(reports: Sequence[ScanReport], digest: str) -> ScanReport:
    hosts: dict[str, HostResult] = {}
    for report in reports:
        for host in report.hosts:
            if host.ip not in hosts or host.state == "up":
                hosts[host.ip] = host
    starts = [r.started for r in reports if r.started]
    ends = [r.finished for r in reports if r.finished]
    return ScanReport(
        scanner_version=next((r.scanner_version for r in reports if r.scanner_version), None),
        args=next((r.args for r in reports if r.args), None),
        started=min(starts) if starts else None,
        finished=max(ends) if ends else None,
        hosts=tuple(hosts.values()),
        sha256=digest,
        warnings=tuple(w for r in reports for w in r.warnings),
    )


class ScanRunner:
    """Runs scans; at most ``settings.max_parallel`` nmap processes at once across all callers."""

    def __init__(
        self, settings: ScanSettings, *, nmap_path: str | None = None, chunk_addresses: int = DEFAULT_CHUNK_ADDRESSES
    ) -> None:
        self.settings = settings
        self.chunk_addresses = chunk_addresses
        self._search_path = (nmap_path,) if nmap_path else ("nmap", "/usr/bin/nmap", "/usr/local/bin/nmap")
        self._slots = threading.BoundedSemaphore(settings.max_parallel)
        self._idle: queue.SimpleQueue[nmap.PortScanner] = queue.SimpleQueue()
        self._running = 0
        self._peak = 0
        self._count_lock = threading.Lock()

    @property
    def peak_parallel(self) -> int:
        """The most nmap processes this runner has had running at once."""
        return self._peak

    def _scanner(self) -> nmap.PortScanner:
        # PortScanner runs ``nmap -V`` when created and keeps its last output per instance:
        # instances are reused across scans, one per concurrent chunk.
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        try:
            return nmap.PortScanner(nmap_search_path=self._search_path)
        except nmap.PortScannerError as exc:
            raise CollectorError(f"nmap is not available ({exc}); install it, e.g. apt-get install nmap") from exc

    def arguments(self, profile_name: str, version: int = 4) -> list[str]:
        return build_arguments(get_profile(self.settings, profile_name), self.settings, ipv6=version == 6)

    def _run_chunk(self, chunk: Chunk, args: str) -> bytes:
        hosts = " ".join(chunk.tokens)
        with self._slots:
            with self._count_lock:
                self._running += 1
                self._peak = max(self._peak, self._running)
            try:
                scanner = self._scanner()
                log.debug("nmap %s %s", args, hosts)
                result = scanner.scan(hosts=hosts, arguments=args, timeout=self.settings.scan_timeout_seconds)
                output = scanner.get_nmap_last_output()
                self._idle.put(scanner)
            except nmap.PortScannerTimeout as exc:
                raise CollectorError(
                    f"nmap did not finish within {self.settings.scan_timeout_seconds}s for {hosts}"
                ) from exc
            except nmap.PortScannerError as exc:
                raise CollectorError(f"nmap failed for {hosts}: {str(exc).strip()[:500]}") from exc
            finally:
                with self._count_lock:
                    self._running -= 1
        for line in result.get("nmap", {}).get("scaninfo", {}).get("error", [])[:5]:
            log.warning("nmap reported for %s: %s", hosts, str(line).strip()[:300])
        return output if isinstance(output, bytes) else str(output).encode()

    def run(self, targets: Sequence[Target], profile_name: str, progress: ProgressCallback | None = None) -> RunResult:
        """Scan every target with one profile; a failed chunk is reported, the others still count."""
        profile_args = {v: argument_string(self.arguments(profile_name, v)) for v in (4, 6)}
        chunks = split_chunks(targets, self.chunk_addresses)
        if not chunks:
            raise CollectorError("nothing to scan")
        started = datetime.now(UTC)
        t0 = time.monotonic()
        xml: list[bytes] = []
        reports: list[ScanReport] = []
        errors: list[str] = []
        done = hosts_up = 0
        lock = threading.Lock()
        with ThreadPoolExecutor(max_workers=min(self.settings.max_parallel, len(chunks))) as pool:
            futures = {pool.submit(self._run_chunk, c, profile_args[c.version]): c for c in chunks}
            for future in as_completed(futures):
                chunk = futures[future]
                try:
                    data = future.result()
                    report = parse_report(data)
                except CollectorError as exc:  # ParseError is one too
                    errors.append(f"{' '.join(chunk.tokens)}: {exc}")
                    log.error("scan chunk %s failed: %s", " ".join(chunk.tokens), exc)
                    report, data = None, b""
                with lock:
                    done += 1
                    if report is not None:
                        xml.append(data)
                        reports.append(report)
                        hosts_up += sum(1 for h in report.hosts if h.state == "up")
                    if progress is not None:
                        progress(ScanProgress(done, len(chunks), hosts_up, " ".join(chunk.tokens)))
        if not reports:
            raise CollectorError("every scan chunk failed: " + "; ".join(errors[:3]))
        digest = hashlib.sha256(b"".join(xml)).hexdigest()
        log.info("scan of %d chunk(s) with profile %s took %.1fs", len(chunks), profile_name, time.monotonic() - t0)
        return RunResult(
            report=merge_reports(reports, digest),
            xml=xml,
            arguments=self.arguments(profile_name, chunks[0].version),
            started=started,
            finished=datetime.now(UTC),
            chunk_errors=errors,
        )
