from datetime import UTC, datetime, timedelta, timezone

import pytest

from sentinel.events import (
    Event,
    format_timestamp,
    format_unix_time,
    get_field,
    make_event_id,
    new_event,
    parse_timestamp,
    set_field,
)


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


def test_event_id_values_are_stable() -> None:
    # Fixed values from the original two-update implementation: ids already stored must not change.
    raw = b"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"
    assert make_event_id("10.1.2.3#7", raw) == "5320551e86705b86baef40507d12ac03"
    assert make_event_id("file:/var/log/\udcff#1", "x\udcfe") == "39389f9c3bf263a0e10583d7ef6f5239"


@pytest.mark.parametrize(
    "seconds",
    [0.0, 1718452800.0, 1718452800.0004994, 1718452800.9995, 1718452800.9999996, 1704067199.9996, 7.5e9, -1.5],
)
def test_format_unix_time_matches_format_timestamp(seconds: float) -> None:
    assert format_unix_time(seconds) == format_timestamp(datetime.fromtimestamp(seconds, UTC))


def test_new_event_ingested_is_now_without_an_argument() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    event = new_event(event_id="a", timestamp=before, dataset="x.y", fields={})
    ingested = parse_timestamp(event.doc["event"]["ingested"])
    assert before <= ingested <= datetime.now(UTC)
    assert event.doc["ecs"] == {"version": "8.11.0"}


def test_timestamp_ms_follows_the_timestamp() -> None:
    event = new_event(event_id="a", timestamp=datetime(2026, 1, 1, 0, 0, 1, 5000, tzinfo=UTC), dataset="x", fields={})
    assert event.timestamp_ms == 1767225601005
    assert event.timestamp_ms == 1767225601005  # cached
    event.timestamp = datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)
    assert event.timestamp_ms == 1767225602000
    same = Event(id="a", timestamp=event.timestamp, dataset="x", doc=event.doc)
    assert same == event  # the cache is no part of the event's value


def test_a_stored_event_is_the_event_of_its_milliseconds() -> None:
    import random

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(5)
    for n in range(50_000):
        ms = rng.randrange(-(10**12), 7 * 10**12) if n % 2 else rng.randrange(17 * 10**11, 18 * 10**11)
        ts = epoch + timedelta(milliseconds=ms)
        built = Event(id="e", timestamp=ts, dataset="d", doc={"n": n})
        stored = Event.stored("e", ms, "d", {"n": n})
        assert stored.timestamp_ms == built.timestamp_ms == ms  # exact, as the store column (floats are not)
        assert stored.timestamp == ts and stored == built and repr(stored) == repr(built)
    stored = Event.stored("e", 5, "d", {})
    stored.timestamp = datetime(2026, 1, 1, tzinfo=UTC)
    assert stored.timestamp_ms == 1767225600000
    with pytest.raises(TypeError):
        hash(stored)
    assert Event.stored("e", 1.5, "d", {}).timestamp == epoch + timedelta(microseconds=1500)  # not an int: as built
    assert Event(id="e", timestamp=None, dataset="d", doc={}).timestamp is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        (datetime(1, 1, 1, 14, tzinfo=UTC), "0001-01-01T14:00:00.000Z"),
        (datetime(999, 3, 4, 5, 6, 7, 891000, tzinfo=UTC), "0999-03-04T05:06:07.891Z"),
        (datetime(9999, 12, 31, 11, 59, 59, tzinfo=UTC), "9999-12-31T11:59:59.000Z"),
    ],
)
def test_timestamps_at_the_edges_of_the_range_are_iso_text(ts: datetime, text: str) -> None:
    assert format_timestamp(ts) == text
    assert parse_timestamp(text) == ts
