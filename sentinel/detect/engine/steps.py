"""One step of one rule as the engine runs it, and where a step ends.

A step is planned from the rule's checkpoint (``DetectionEngine._plan``), evaluated alone or in a
shared pass, then finished: its alerts stored, its checkpoint moved, its health recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sentinel.detect.detectors.base import Evaluation, RunContext
from sentinel.detect.engine.checkpoints import Checkpoint
from sentinel.detect.rulebook.pack import PackRule


@dataclass(frozen=True, slots=True)
class Timing:
    interval_ms: int
    lookback_ms: int
    suppress_ms: int
    max_run_seconds: float


@dataclass
class Step:
    """One step of one rule as it goes: planned, evaluated (alone or shared), finished."""

    rule_id: str
    rule: PackRule
    timing: Timing
    now: datetime
    now_ms: int
    limit: int  # the end of the last window that may be done now
    checkpoint: Checkpoint | None = None
    ctx: RunContext | None = None  # set when the step has windows to do
    windows: int = 0
    evaluation: Evaluation | None = None
    error: str | None = None
    created: int = 0
    updated: int = 0
    elapsed: float = 0.0  # seconds spent on this rule (its share of a shared pass included)
    stored: bool = False  # alerts stored and checkpoint moved together with other runs'

    @property
    def end_ms(self) -> int:
        assert self.ctx is not None
        return self.ctx.end_ms

    @property
    def storable(self) -> bool:
        evaluated = self.evaluation is not None and self.ctx is not None
        return evaluated and self.error is None and self.checkpoint is not None


def step_end(start_ms: int, limit_ms: int, max_windows: int, interval_ms: int, lookback_ms: int, window_ms: int) -> int:
    """Where a step from ``start_ms`` ends: at most ``max_windows`` windows, never past ``limit_ms``.

    A step re-reads its events from the start of the alert window holding ``start - lookback``,
    so that window's figures are exact. A catch-up step that ended on an alert-window boundary
    would make the next one re-read that whole window (an hour, for a 5-minute look-back): when
    the rule is behind, the step instead ends a look-back past a boundary, so the next step
    re-reads only the look-back. The engine passes the default look-back and alert window for
    every rule, so rules with their own still end with the others and share their fetch. Any
    window end is a valid step end; only the re-read shrinks.
    """
    end = min(start_ms + max_windows * interval_ms, limit_ms)
    if end >= limit_ms or lookback_ms % interval_ms or window_ms % interval_ms:
        return end  # caught up, or the aligned end would not be a window end
    aligned = end - (end - lookback_ms) % window_ms
    return aligned if aligned > start_ms else end
