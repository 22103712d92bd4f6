"""Garbage-collector settings for the long-running service and bulk commands.

Ingestion allocates about twenty containers per event (the ECS document's nested dicts and lists)
and keeps a batch of thousands alive until the store has it. With CPython's default thresholds
(700, 10, 10) that triggers a collection every few dozen events, and the older generations,
which hold every batch still in flight plus everything loaded at start, are traversed again and
again: measured here, normalising 5,000-event batches cost 42 µs per event with the defaults and
20 µs with the collector off (``benchmarks/syslog_ingest.py --stages``); detection decodes pages of
stored events the same way. Event documents hold no
reference cycles, so reference counting frees them; the cyclic collector only has to catch the
rare cycle elsewhere, which a far larger young generation still does.
"""

from __future__ import annotations

import gc

# Young-generation allocations between collections, then how many young (and middle) collections
# before the next older one. Memory held by unreachable cycles stays bounded by these counts.
SERVICE_THRESHOLDS = (50_000, 20, 100)


def tune_for_service() -> None:
    """Raise the collector's thresholds and move what exists now out of its sight.

    Call once after start-up (configuration, rules and templates loaded): ``gc.freeze`` puts every
    object alive at that point in a permanent generation that later collections skip.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVICE_THRESHOLDS)
