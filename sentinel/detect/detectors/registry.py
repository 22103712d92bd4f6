"""Which detector runs which kind of rule: the one place to add the next kind."""

from __future__ import annotations

from collections.abc import Callable

from sentinel.detect.detectors.base import Detector
from sentinel.detect.detectors.correlation import CorrelationDetector
from sentinel.detect.detectors.sigma import SigmaDetector
from sentinel.detect.detectors.typed import NewValueDetector, SilenceDetector, ThresholdDetector
from sentinel.detect.rulebook.pack import PackRule
from sentinel.errors import RuleError

DETECTORS: dict[str, Callable[[PackRule], Detector]] = {
    "sigma": SigmaDetector,
    "correlation": CorrelationDetector,
    "threshold": ThresholdDetector,
    "new_value": NewValueDetector,
    "silence": SilenceDetector,
}


def build_detector(rule: PackRule) -> Detector:
    """The detector for a rule; ``RuleError`` when the rule cannot run (reported, others go on)."""
    make = DETECTORS.get(rule.kind)
    if make is None:
        raise RuleError(f"unknown rule kind {rule.kind!r}")
    return make(rule)
