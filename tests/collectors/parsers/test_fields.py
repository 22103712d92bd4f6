"""Shared field helpers."""

from __future__ import annotations

from typing import Any

from collectors.parsers.fields import clean_ip, endpoint, set_endpoint, set_event


def test_clean_ip() -> None:
    assert clean_ip("::ffff:1.2.3.4") == "1.2.3.4"
    assert clean_ip("[2001:DB8::1]") == "2001:db8::1"
    assert clean_ip("192.030.0.6") is None  # leading zeros are ambiguous (octal?) and refused
    assert clean_ip("example.com") is None


def test_set_endpoint_kinds() -> None:
    doc: dict[str, Any] = {}
    set_endpoint(doc, "source", "Host.Example.COM.", "22")
    assert doc["source"] == {"address": "Host.Example.COM.", "domain": "host.example.com", "port": 22}
    set_endpoint(doc, "source", "<invalid username>", "x")
    assert doc["source"] == {"address": "<invalid username>"}
    set_endpoint(doc, "destination", None)
    assert "destination" not in doc


def test_set_event_gives_each_event_its_own_lists() -> None:
    a: dict[str, Any] = {"event": {}}
    b: dict[str, Any] = {"event": {}}
    category = ("authentication",)
    set_event(a, action="x", category=category, type=("info",))
    set_event(b, action="x", category=category, type=("info",), outcome="failure", kind="alert")
    a["event"]["category"].append("network")
    assert b["event"]["category"] == ["authentication"]
    assert b["event"]["kind"] == "alert" and "outcome" not in a["event"]


def test_host_kinds_are_stable_when_repeated() -> None:
    # The second call of each is answered from the cache and must say the same.
    for _ in range(2):
        assert clean_ip("[::ffff:10.0.0.1]") == "10.0.0.1"
        assert clean_ip("not-an-ip") is None
        assert endpoint("Example.ORG", "22") == {"address": "Example.ORG", "domain": "example.org", "port": 22}
        assert endpoint("12345") == {"address": "12345"}  # digits only: neither an address nor a name
