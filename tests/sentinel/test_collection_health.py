"""Collection health: problems with a reason and a start, logged once per change, and /healthz's answer."""

from __future__ import annotations

import logging
import time

import pytest

from sentinel.collection_health import CollectionHealth, HealthState, healthz_answer


def test_a_problem_is_logged_when_it_starts_and_when_it_ends_not_per_occurrence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = CollectionHealth()
    with caplog.at_level(logging.INFO, logger="sentinel.collection_health"):
        for _ in range(10_000):
            health.report("spool_unwritable", "No space left on device")
        state = health.state()
        health.clear("spool_unwritable")
        health.clear("spool_unwritable")
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "collection degraded",
        "collection recovered from",
    ]
    assert "met 10000 times" in caplog.records[1].getMessage()
    assert state.status == "degraded"
    (problem,) = state.problems
    assert (problem.kind, problem.detail, problem.occurrences) == (
        "spool_unwritable",
        "No space left on device",
        10_000,
    )
    assert problem.since.endswith("+00:00")
    assert health.state() == HealthState("ok")


def test_a_long_problem_is_reminded_at_a_bounded_rate(caplog: pytest.LogCaptureFixture) -> None:
    health = CollectionHealth(remind_seconds=0.0)  # every report is "due": the reminder text shows
    with caplog.at_level(logging.WARNING, logger="sentinel.collection_health"):
        health.report("store_refusing_writes", "database or disk is full")
        health.report("store_refusing_writes", "database or disk is full")
    assert "collection still degraded" in caplog.records[-1].getMessage()


def test_healthz_says_ok_or_503_with_reasons_and_never_details() -> None:
    health = CollectionHealth()
    assert healthz_answer(health.state()) == (200, {"status": "ok"})
    assert healthz_answer(None) == (200, {"status": "ok"})
    health.report("disk_low", "3 MB free on /var/lib/sentinel, floor 64 MB")
    health.report("drain_stalled", "cannot save the spool checkpoint: No space left on device")
    code, body = healthz_answer(health.state())
    assert code == 503
    assert body["status"] == "degraded"
    assert [p["kind"] for p in body["problems"]] == ["disk_low", "drain_stalled"]  # in the order they started
    assert all(set(p) == {"kind", "reason", "since"} for p in body["problems"])
    assert "/var/lib" not in str(body) and "No space" not in str(body)


def test_a_saved_state_reads_back() -> None:
    health = CollectionHealth()
    health.report("store_refusing_writes", "locked")
    saved = health.state().as_dict()
    assert HealthState.from_dict(saved) == health.state()
    assert HealthState.from_dict({"status": "weird"}) is None
    assert HealthState.from_dict(None) is None


def test_a_flapping_problem_is_logged_at_most_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    health = CollectionHealth()
    with caplog.at_level(logging.INFO, logger="sentinel.collection_health"):
        for _ in range(500):  # a disk at its floor: full, not full, full...
            health.report("spool_unwritable", "free disk space is below the floor of 64 MB")
            health.clear("spool_unwritable")
        health.report("spool_unwritable", "free disk space is below the floor of 64 MB")
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "collection degraded",
        "collection recovered from",
    ]
    assert health.state().status == "degraded"  # the state is exact even when the log is quiet


def test_a_problem_back_after_the_quiet_minute_is_logged_with_the_brief_times_between(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = CollectionHealth(flap_seconds=0.2)
    with caplog.at_level(logging.INFO, logger="sentinel.collection_health"):
        health.report("disk_low", "1 MB free")
        health.clear("disk_low")
        for _ in range(3):
            health.report("disk_low", "1 MB free")
            health.clear("disk_low")
        time.sleep(0.25)
        health.report("disk_low", "1 MB free")  # still there after the quiet time: logged now
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert "came and went 3 times" in messages[-1]
