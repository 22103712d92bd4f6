"""Observables from alerts and sample events: by ECS field, each value checked for its kind."""

from __future__ import annotations

from sentinel.incidents.observables import MAX_OBSERVABLES, from_alert, from_fields, merge_observables, without_alert
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.incidents.factory import make_alert


def test_kinds_are_validated() -> None:
    found = from_fields(
        [
            ("source.ip", "203.0.113.9"),
            ("destination.ip", "not-an-ip"),
            ("related.ip", ["2001:db8::1", "999.1.1.1"]),
            ("user.name", "{{ 7*7 }}"),
            ("file.hash.sha256", "A" * 64),
            ("file.hash.md5", "xyz"),
            ("url.full", "javascript:alert(1)"),
            ("url.original", "https://moh.go.tz/login?x=1"),
            ("host.name", "web01.moh.go.tz"),
            ("host.hostname", "bad host\nname"),
            ("details.source.ip", "198.51.100.7"),
            ("message", "Failed password from 192.0.2.1"),
        ],
        "a1",
    )
    assert {(o.kind, o.value) for o in found} == {
        ("ip", "203.0.113.9"),
        ("ip", "2001:db8::1"),
        ("user", "{{ 7*7 }}"),  # kept as data, literally
        ("hash", "a" * 64),
        ("url", "https://moh.go.tz/login?x=1"),
        ("host", "web01.moh.go.tz"),
        ("ip", "198.51.100.7"),
    }
    assert all(o.alert_ids == ["a1"] for o in found)


def test_from_alert_reads_group_key_details_and_sample_events(store: SqliteStore) -> None:
    alert = make_alert(store, 1, user="oracle", details={"destination": {"ip": "10.10.0.5"}})
    values = {(o.kind, o.value) for o in from_alert(alert, store)}
    assert values == {
        ("ip", "203.0.113.9"),
        ("ip", "10.10.0.5"),
        ("user", "oracle"),  # from the sample event only
        ("host", "web01.moh.go.tz"),
    }
    assert {(o.kind, o.value) for o in from_alert(alert)} == {("ip", "203.0.113.9"), ("ip", "10.10.0.5")}


def test_merge_is_bounded_and_detach_drops_only_orphans() -> None:
    a = from_fields([("source.ip", "192.0.2.1"), ("user.name", "root")], "a1")
    b = from_fields([("source.ip", "192.0.2.1"), ("user.name", "admin")], "a2")
    merged = merge_observables(a, b)
    assert [(o.value, o.alert_ids) for o in merged] == [
        ("192.0.2.1", ["a1", "a2"]),
        ("root", ["a1"]),
        ("admin", ["a2"]),
    ]
    assert [(o.value, o.alert_ids) for o in without_alert(merged, "a2")] == [("192.0.2.1", ["a1"]), ("root", ["a1"])]
    many = from_fields([("related.ip", [f"10.0.{i // 250}.{i % 250}" for i in range(MAX_OBSERVABLES + 50)])], "a3")
    assert len(merge_observables([], many)) == MAX_OBSERVABLES


def test_from_alert_reads_only_its_own_institution_s_sample_events(store: SqliteStore) -> None:
    other = make_alert(store, 2, institution="tra", ip="10.2.6.6", user="tra-admin")
    # An alert of MoH naming TRA's event as a sample (ids once collided across institutions).
    alert = make_alert(store, 1, institution="moh").model_copy(update={"sample_event_ids": other.sample_event_ids})
    values = {o.value for o in from_alert(alert, store)}
    assert "tra-admin" not in values and "10.2.6.6" not in values
    assert {"tra-admin", "10.2.6.6"} <= {o.value for o in from_alert(other, store)}
