"""An event's fields as the matcher reads them: text values, lowercased once, read on first use."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sentinel.detect.field_values import FieldValues

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
