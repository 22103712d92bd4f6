"""Run the sensor's detectors over a capture file (``sentinel ingest FILE.pcap``).

The same engine as live capture, fed from the file in capture order; windows use the packets'
timestamps, so the findings (and their event ids) are the same however often the file is read.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

from collectors.sensor.capture_reader import is_capture, read_frames
from collectors.sensor.engine import Observer, SensorEngine
from sentinel.config import SensorSettings
from sentinel.events import Event
from sentinel.inventory import Inventory

log = logging.getLogger(__name__)
DRAIN_EVERY = 4096  # frames between hand-overs, so findings stream out of a large capture

__all__ = ["findings_from_pcap", "is_capture"]


def findings_from_pcap(
    path: str | Path,
    settings: SensorSettings | None = None,
    inventory: Inventory | None = None,
    *,
    engine: SensorEngine | None = None,
) -> Iterator[Event]:
    """Every finding in a pcap/pcapng file, as ECS events, in the order they were made.

    Raises ``ParseError`` if the file is not a capture or is corrupt mid-way (findings made before
    that point have already been yielded); a capture cut short at the end is read up to the cut.
    """
    path = Path(path)
    if engine is None:
        engine = SensorEngine(
            settings or SensorSettings(),
            inventory,
            observer=Observer(hostname=socket.gethostname(), capture_file=path.name),
        )
    feed = engine.feed
    count = 0
    for ts, linktype, frame in read_frames(path):
        feed(frame, linktype, ts)
        count += 1
        if count % DRAIN_EVERY == 0 and engine.pending:
            yield from engine.drain()
    engine.flush()
    yield from engine.drain()
    log.info("%s: %d frames, %d decoded, %d findings", path, count, engine.stats.decoded, engine.stats.findings)
