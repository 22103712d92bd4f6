"""A step's alerts and checkpoints stored in one ``write_documents`` call.

After a step of many rules, storing each alert and moving each checkpoint in its own transaction
cost more than matching the events of a quiet hour. Here every run's alert writes (prepared as
``StoreAlertSink.upsert`` would make them), then every run's checkpoint move, go to the store in
one batch: on SQLite one transaction, so a checkpoint still never moves without its alerts (on
Elasticsearch, in that order). Any failure (a conflict with an analyst or another runner, a store
error) raises; the engine then lets each run store its own alerts with ``upsert``, which re-reads
and merges, so nothing is lost or counted twice (alert writes are idempotent merges).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sentinel.detect.alerts import Alert, Outcome, StoreAlertSink
from sentinel.detect.engine.checkpoints import Checkpoints, moved
from sentinel.detect.engine.steps import Step
from sentinel.store.base import DocumentWrite, Store

log = logging.getLogger(__name__)


def store_together(store: Store, sink: StoreAlertSink, checkpoints: Checkpoints, runs: Sequence[Step]) -> None:
    """Store every run's alerts, then move every run's checkpoint, in one batch; raises on any failure."""
    alert_writes: list[DocumentWrite] = []
    planned: list[list[tuple[Outcome, Alert]]] = []
    for run in runs:
        assert run.evaluation is not None
        outcomes = []
        for cand in run.evaluation.candidates:
            write, outcome, alert = sink.prepare(cand)
            if write is not None:
                alert_writes.append(write)
            outcomes.append((outcome, alert))
        planned.append(outcomes)
    if len({w.doc_id for w in alert_writes}) != len(alert_writes):
        raise ValueError("two runs of a step wrote the same alert")  # merge them one by one instead
    moves = []
    for run in runs:
        assert run.checkpoint is not None
        moves.append(checkpoints.write_for(run.checkpoint, run.end_ms, run.now))
    docs = store.write_documents([*alert_writes, *moves])
    for run, outcomes, doc in zip(runs, planned, docs[len(alert_writes) :], strict=True):
        assert run.checkpoint is not None
        run.checkpoint = moved(run.checkpoint, run.end_ms, doc)
        run.created = sum(outcome == "created" for outcome, _ in outcomes)
        run.updated = sum(outcome == "updated" for outcome, _ in outcomes)
        run.stored = True
        for outcome, alert in outcomes:
            if outcome == "created":
                log.info("alert %s raised: %s", alert.id, alert.summary())
