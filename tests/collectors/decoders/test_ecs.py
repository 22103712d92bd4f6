"""How captured text becomes ECS fields, and which fields a decoder may not write."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.decoders.ecs import classification_problems, field_problem, writer


def written(name: str, value: str) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    writer(name)(doc, value)
    return doc


def test_addresses_are_checked_and_canonical() -> None:
    assert written("source.ip", "::ffff:203.0.113.5") == {
        "source": {"address": "::ffff:203.0.113.5", "ip": "203.0.113.5"}
    }
    assert written("source.address", "mail.example.org") == {
        "source": {"address": "mail.example.org", "domain": "mail.example.org"}
    }
    # Text that is neither an address nor a name stays in address only: nothing treats it as one.
    assert written("source.ip", "unknown'; DROP") == {"source": {"address": "unknown'; DROP"}}
    assert written("destination.domain", "Example.ORG.") == {"destination": {"domain": "example.org"}}
    assert written("source.domain", "not a name!") == {}


def test_numbers_are_numbers_and_junk_is_left_out() -> None:
    assert written("source.port", "51234") == {"source": {"port": 51234}}
    assert written("http.response.status_code", "401") == {"http": {"response": {"status_code": 401}}}
    assert written("process.thread.id", "x") == {}


def test_writers_merge_into_what_is_there() -> None:
    doc: dict[str, Any] = {}
    writer("source.ip")(doc, "203.0.113.5")
    writer("source.port")(doc, "22")
    writer("source.domain")(doc, "scan.example.net")
    assert doc == {"source": {"address": "203.0.113.5", "ip": "203.0.113.5", "port": 22, "domain": "scan.example.net"}}


@pytest.mark.parametrize(
    "name",
    [
        "organization.id", "organization.name", "host.name", "host.ip", "observer.hostname", "agent.type", "event.id",
        "event.original", "event.dataset", "event.ingested", "event.outcome", "event.category", "tags", "@timestamp",
    ],
)  # fmt: skip
def test_attribution_identity_and_classification_are_not_a_decoders(name: str) -> None:
    assert field_problem(name) is not None


@pytest.mark.parametrize(
    "name", ["source.ip", "user.name", "event.reason", "observer.ingress.interface.name", "postfix.queue_id"]
)
def test_ordinary_fields_are(name: str) -> None:
    assert field_problem(name) is None


def test_only_a_header_captures_the_time() -> None:
    assert field_problem("@timestamp", header=True) is None


def test_classification_follows_ecs() -> None:
    assert classification_problems(["authentication"], ["start"], "failure", None) == []
    assert classification_problems(["network"], ["connection", "denied"], "failure", "alert") == []
    assert classification_problems(["authentication"], ["denied"], None, None) == [
        ("type", "event.type 'denied' does not go with event.category authentication")
    ]
    assert [k for k, _ in classification_problems(["auth"], ["start"], "ok", "thing")] == ["category"]
    assert [k for k, _ in classification_problems([], [], "ok", "thing")] == ["outcome", "kind"]
