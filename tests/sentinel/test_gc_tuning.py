"""The service's garbage-collector settings, checked in a child process (they are process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys

from sentinel.gc_tuning import SERVICE_THRESHOLDS

_CHILD = """
import gc, json
from sentinel.gc_tuning import tune_for_service
kept = [[n] for n in range(1000)]  # alive at start-up: frozen, out of later collections' sight
before = gc.get_freeze_count()
tune_for_service()
print(json.dumps({"threshold": gc.get_threshold(), "before": before, "frozen": gc.get_freeze_count() - before}))
"""


def test_tuning_raises_thresholds_and_freezes_what_start_up_loaded() -> None:
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=60)
    figures = json.loads(out.stdout)
    assert tuple(figures["threshold"]) == SERVICE_THRESHOLDS
    assert figures["before"] == 0
    assert figures["frozen"] >= 1000
