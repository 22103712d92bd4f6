"""Group keys and groups: what every detector counts its matches by."""

from __future__ import annotations

from typing import Any

import pytest

from sentinel.detect.detectors.base import Grouper, key_builder, key_value
from sentinel.detect.matching.field_values import read_field

DOCS: list[dict[str, Any]] = [
    {"host": {"hostname": "web01"}, "user": {"name": ["root", "admin"]}, "n": 3},
    {"host": {"hostname": None}, "user": {"name": {"first": "a"}}, "n": "3"},
    {"host.hostname": "top-level", "host": {"hostname": "nested"}},
    {"host": "flat", "@timestamp": "2024-01-01T00:00:00.000Z", "event": {"created": "2024-01-01T00:01:00Z"}},
    {},
]


@pytest.mark.parametrize(
    "fields",
    [(), ("host.hostname",), ("host.hostname", "user.name"), ("n", "derived.clock_skew_seconds", "@timestamp")],
)
def test_key_builder_builds_the_key_of_read_field_and_key_value(fields: tuple[str, ...]) -> None:
    key_of = key_builder(fields)
    for doc in DOCS:
        assert key_of(doc) == tuple(key_value(read_field(doc, f)) for f in fields)


def test_grouper_keeps_count_first_last_and_samples() -> None:
    grouper = Grouper(window_ms=1000, sample_limit=2)
    for ts, event_id in [(1500, "b"), (1200, "a"), (1900, "c"), (1700, "d"), (2100, "e")]:
        grouper.add("mof", ("k",), ts, event_id, value=ts % 2)
    first = grouper.groups[("mof", ("k",), 1000)]
    assert (first.count, first.first_ms, first.last_ms, first.samples, first.values) == (4, 1200, 1900, ["b", "a"], {0})
    assert grouper.groups[("mof", ("k",), 2000)].count == 1
