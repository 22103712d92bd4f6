"""An event's fields as the matcher reads them: text values, lowercased once, read on first use."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sentinel.detect.matching.field_values import FieldValues

DOC: dict[str, Any] = {
    "message": "Failed Password",
    "process": {"name": "SSHD", "pid": 42, "args": ["-D", 7, None, {"k": 1}, True]},
    "score": 1.5,
    "whole": 3.0,
    "flag": False,
    "empty": None,
    "user.name": "Dotted",  # a top-level dotted key is read as it is
    "host": OrderedDict(name="Mapped"),  # any Mapping, not only dict
    "leaf": "text",
}


def test_values_are_lowercased_text_and_raw_keeps_the_case() -> None:
    values = FieldValues(DOC)
    assert values["message"] == ("failed password",)
    assert values.raw["message"] == ("Failed Password",)
    assert values["process.name"] == ("sshd",)
    assert values["process.pid"] == ("42",)
    assert values["process.args"] == ("-d", "7", "true")  # objects and nulls have no text
    assert values["score"] == ("1.5",) and values["whole"] == ("3",) and values["flag"] == ("false",)
    assert values["user.name"] == ("dotted",)
    assert values["host.name"] == ("mapped",)


def test_missing_null_and_non_object_paths_have_no_values() -> None:
    values = FieldValues(DOC)
    for name in ("nothing", "empty", "process.nothing", "leaf.deeper", "process.name.deeper", "a.b.c"):
        assert values[name] == ()
        assert values.raw[name] == ()
    assert values.present("process.pid") and values.present("host.name")
    assert not values.present("empty") and not values.present("leaf.deeper")


def test_deep_paths_read_through_any_mapping_and_stop_at_non_objects() -> None:
    doc: dict[str, Any] = {
        "winlog": {"event_data": OrderedDict(Image="C:\\X.EXE", Args=["A", 1]), "event_id": 4625},
        "winlog.event_data.Image": "flat wins",  # a top-level dotted key is read first
        "a": {"b": "text", "c": {"d": None}},
    }
    values = FieldValues(doc)
    assert values["winlog.event_data.Image"] == ("flat wins",)
    assert values["winlog.event_data.Args"] == ("a", "1")
    assert values["winlog.event_id"] == ("4625",)
    for name in ("a.b.c", "a.c.d", "a.c.d.e", "winlog.event_data.Image.x", "winlog.nothing.x"):
        assert values[name] == (), name


def test_a_reader_fills_exactly_what_reading_each_field_gives() -> None:
    from sentinel.detect.matching.field_values import FieldReader

    doc: dict[str, Any] = {
        **DOC,
        "winlog": {"event_data": OrderedDict(Image="C:\\X.EXE", Args=["A", 1]), "event_id": 4625, "x": "leaf"},
        "winlog.event_data.Flat": "flat wins",
    }
    names = [
        "message",
        "nothing",
        "process.name",
        "process.args",
        "process.nothing",
        "user.name",
        "host.name",
        "leaf.deeper",
        "winlog.event_data.Image",
        "winlog.event_data.Args",
        "winlog.event_data.Flat",
        "winlog.event_id",
        "winlog.x.y",
        "winlog.x.y.z",
        "a.b.c",
        "empty.x",
    ]
    filled = FieldValues(doc)
    filled["message"] = ("already read",)  # a field read before is left as it is
    FieldReader(names).fill(filled)
    one_by_one = FieldValues(doc)
    assert dict(filled) == {name: one_by_one[name] for name in names} | {"message": ("already read",)}
