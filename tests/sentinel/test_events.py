import json
from datetime import UTC, datetime, timedelta, timezone
from random import Random
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sentinel.events import (
    Event,
    canonical_json,
    event_id,
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
    # make_event_id: the digest of Sentinel's own made-up events (rule samples); their ids must not change.
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


# The identity rule (``event_id``): properties, over generated owners, places and contents.
_NAMES = st.text(min_size=1, max_size=24)  # any text, lone surrogates included
_BLOBS = st.binary(max_size=300)
_INSTITUTIONS = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
_RULE = settings(max_examples=200, deadline=None)


@_RULE
@given(st.one_of(st.none(), _INSTITUTIONS), _NAMES, _BLOBS, st.text(max_size=30))
def test_same_record_same_id(institution: str | None, source: str, content: bytes, place: str) -> None:
    first = event_id(institution, source, content, place)
    assert first == event_id(institution, source, bytes(content), place)  # re-sent, re-read, replayed
    assert len(first) == 32 and int(first, 16) >= 0


@_RULE
@given(
    st.tuples(st.one_of(st.none(), _INSTITUTIONS), _NAMES, _BLOBS, st.text(max_size=30)),
    st.tuples(st.one_of(st.none(), _INSTITUTIONS), _NAMES, _BLOBS, st.text(max_size=30)),
)
def test_a_different_record_is_a_different_id(
    a: tuple[str | None, str, bytes, str], b: tuple[str | None, str, bytes, str]
) -> None:
    # What decides the id: the institution, else the source; the place; the content.
    key_a = (a[0] or ("source", a[1]), a[3], a[2])
    key_b = (b[0] or ("source", b[1]), b[3], b[2])
    assume(key_a != key_b)
    assert event_id(*a) != event_id(*b)


@_RULE
@given(_BLOBS, st.integers(min_value=0, max_value=299), st.integers(min_value=1, max_value=255))
def test_any_byte_changed_is_a_different_id(content: bytes, position: int, delta: int) -> None:
    assume(content)
    i = position % len(content)
    changed = content[:i] + bytes([(content[i] + delta) % 256]) + content[i + 1 :]
    assert event_id("moh", "syslog:10.1.2.3", changed) != event_id("moh", "syslog:10.1.2.3", content)
    assert event_id("moh", "x", content + b"\n") != event_id("moh", "x", content)


@_RULE
@given(_INSTITUTIONS, _INSTITUTIONS, _NAMES, _NAMES, _BLOBS)
def test_same_record_of_two_institutions_is_two_events(a: str, b: str, token_a: str, token_b: str, raw: bytes) -> None:
    assume(a != b)
    assert event_id(a, token_a, raw) != event_id(b, token_a, raw)
    # An institution owns its events whichever of its senders sent them: the token name plays no part.
    assert event_id(a, token_a, raw) == event_id(a, token_b, raw)
    # Unattributed, the source owns them.
    assume(token_a != token_b)
    assert event_id(None, token_a, raw) != event_id(None, token_b, raw)


@_RULE
@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=20))
def test_no_split_of_place_and_content_reads_as_another(x: str, y: str, z: str) -> None:
    # Moving characters between the place and the content (or the owner) never gives the same input.
    assume(y)
    assert event_id(None, x, (y + z).encode("utf-8", "surrogatepass"), "") != event_id(
        None, x, z.encode("utf-8", "surrogatepass"), y
    )
    assert event_id(None, x + y, z.encode("utf-8", "surrogatepass"), "") != event_id(
        None, x, z.encode("utf-8", "surrogatepass"), y
    )


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _JSON, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_canonical_json_ignores_key_order_and_spacing_only(record: dict[str, Any], rnd: Random) -> None:
    keys = list(record)
    rnd.shuffle(keys)
    reordered = json.loads(json.dumps({k: record[k] for k in keys}, indent=rnd.choice([None, 2])))
    assert canonical_json(reordered) == canonical_json(record)
    changed = dict(record)
    key = rnd.choice(keys)
    changed[key] = [record[key]]  # any value changed
    assert canonical_json(changed) != canonical_json(record)


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
