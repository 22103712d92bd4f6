"""Monthly security posture reports: the figures (read from the store in the right scope), the report
documents, and their scheduled, exactly-once delivery through the outbox.

- ``figures``: what a report says, language-free; ``institution``/``national``: how it is read;
- ``records``: the stored reports (``reports`` collection) and ``list_reports`` (scoped);
- ``publish.ReportPublisher``: make and deliver, once; ``schedule``: the APScheduler jobs.

The layout (HTML, PDF, words in en and sw) is ``dashboards.reports``, given to the publisher by the
composition root (``build_publisher``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sentinel.config import Settings
from sentinel.detect.rulebook.controls import load_controls
from sentinel.inventory import Inventory
from sentinel.reports.institution import Inputs
from sentinel.reports.publish import ReportPublisher, ReportRenderer
from sentinel.reports.rules import ReportRules
from sentinel.store.base import Store


def build_publisher(
    settings: Settings,
    store: Store,
    inventory: Inventory,
    rules: Any,
    renderer: ReportRenderer,
    *,
    clock: Callable[[], datetime] | None = None,
) -> ReportPublisher:
    """The publisher ``serve`` and ``sentinel report`` use: ``rules`` are the loaded rules (a pack's)."""
    inputs = Inputs(
        store, ReportRules.from_rules(rules), load_controls(), settings.incidents.sla, top=settings.reports.top
    )
    return ReportPublisher(inputs, settings, inventory, renderer, clock=clock)


__all__ = ["ReportPublisher", "ReportRenderer", "build_publisher"]
