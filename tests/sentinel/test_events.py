from datetime import UTC, datetime, timedelta, timezone

import pytest

from sentinel.events import Event, format_timestamp, get_field, make_event_id, new_event, parse_timestamp, set_field


def test_event_id_is_deterministic_and_depends_on_origin_and_bytes() -> None:
    a = make_event_id("syslog:10.0.0.1", b"<34>Oct 11 22:14:15 host su: x")
    assert a == make_event_id("syslog:10.0.0.1", "<34>Oct 11 22:14:15 host su: x")
    assert a != make_event_id("syslog:10.0.0.2", b"<34>Oct 11 22:14:15 host su: x")
    assert a != make_event_id("syslog:10.0.0.1", b"<34>Oct 11 22:14:15 host su: y")
    assert len(a) == 32


def test_timestamps_are_utc_millis() -> None:
    ts = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=3)))
    assert format_timestamp(ts) == "2026-01-02T00:04:05.678Z"
    assert parse_timestamp("2026-01-02T00:04:05.678Z") == datetime(2026, 1, 2, 0, 4, 5, 678000, tzinfo=UTC)
    with pytest.raises(ValueError):
        format_timestamp(datetime(2026, 1, 1))


def test_fields_and_round_trip() -> None:
    doc: dict = {"message": "hello"}
    set_field(doc, "source.ip", "10.0.0.1")
    set_field(doc, "organization.id", "moh")
    event = new_event(event_id="abc", timestamp=datetime(2026, 1, 1, tzinfo=UTC), dataset="system.auth", fields=doc)
    assert get_field(event.doc, "source.ip") == "10.0.0.1"
    assert get_field(event.doc, "source.port") is None
    assert event.organization_id == "moh"
    again = Event.from_doc(event.doc)
    assert (again.id, again.timestamp, again.dataset) == ("abc", event.timestamp, "system.auth")
    assert event.doc["event"]["module"] == "system"
