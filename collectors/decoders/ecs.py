"""ECS fields as decoders may set them: which names are allowed, which values, and how each is written.

A captured text becomes a typed value on its way in: addresses through the same ``endpoint`` rule
as the Python parsers (``source.address`` keeps the text, ``source.ip`` is set only when it is an
address, ``source.domain`` when it is a host name), counts and ports as integers. Fields that say
where an event came from or who owns it (``organization.*``, ``host.*``, ``observer.*``, ``agent.*``,
the event's id and times) are the normaliser's: a decoder cannot set them, so a line cannot claim
another institution or rewrite its own identity.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_$][a-z0-9_$]*)*$")
# A firewall's interfaces are ECS observer.ingress/egress; the rest of observer.* is the collector's.
OBSERVER_INTERFACES = ("observer.ingress.", "observer.egress.")
ENDPOINT_SIDES = frozenset({"source", "destination", "client", "server"})
PROTECTED_PREFIXES = ("organization.", "host.", "observer.", "agent.", "ecs.", "data_stream.")
PROTECTED = frozenset(
    {
        "@timestamp",
        "tags",
        "labels",
        "organization",
        "host",
        "observer",
        "agent",
        "ecs",
        "event",
        "event.id",
        "event.original",
        "event.ingested",
        "event.created",
        "event.dataset",
        "event.module",
        # Classification comes from a rule's own keys, checked at load, never from line text.
        "event.action",
        "event.category",
        "event.type",
        "event.outcome",
        "event.kind",
    }
)
# Fields ECS types as numbers (by their last name part), written as integers.
_INTEGER_LEAVES = frozenset(
    {"port", "pid", "ppid", "bytes", "packets", "status_code", "count", "duration", "severity", "ttl", "priority"}
)
_INTEGER_FIELDS = frozenset({"process.thread.id", "process.parent.pid", "http.response.body.bytes"})

# ECS 8 allowed values, and which event types suit each category.
CATEGORY_TYPES: dict[str, frozenset[str]] = {
    "api": frozenset({"access", "admin", "allowed", "change", "creation", "deletion", "denied", "end", "info", "start",
                      "user"}),
    "authentication": frozenset({"start", "end", "info"}),
    "configuration": frozenset({"access", "change", "creation", "deletion", "info"}),
    "database": frozenset({"access", "change", "info", "error"}),
    "driver": frozenset({"change", "end", "info", "start"}),
    "email": frozenset({"info"}),
    "file": frozenset({"access", "change", "creation", "deletion", "info"}),
    "host": frozenset({"access", "change", "end", "info", "start"}),
    "iam": frozenset({"admin", "change", "creation", "deletion", "group", "info", "user"}),
    "intrusion_detection": frozenset({"allowed", "denied", "info"}),
    "library": frozenset({"start"}),
    "malware": frozenset({"info"}),
    "network": frozenset({"access", "allowed", "connection", "denied", "end", "info", "protocol", "start"}),
    "package": frozenset({"access", "change", "deletion", "info", "installation", "start"}),
    "process": frozenset({"access", "change", "end", "info", "start"}),
    "registry": frozenset({"access", "change", "creation", "deletion"}),
    "session": frozenset({"start", "end", "info"}),
    "threat": frozenset({"indicator"}),
    "vulnerability": frozenset({"info"}),
    "web": frozenset({"access", "error", "info"}),
}  # fmt: skip
OUTCOMES = frozenset({"success", "failure", "unknown"})
KINDS = frozenset({"alert", "enrichment", "event", "metric", "state", "pipeline_error", "signal"})

Writer = Callable[[dict[str, Any], Any], None]


def field_problem(name: str, *, header: bool = False) -> str | None:
    """Why ``name`` cannot be written by a decoder, or None when it can.

    ``header``: the name is a capture of a line header or JSON time, where ``@timestamp`` is the
    time the line carries.
    """
    if name == "@timestamp":
        return None if header else "@timestamp can only be captured by a line header (`lines`) or `json.time`"
    if not FIELD_NAME.match(name):
        return f"{name!r} is not a field name (lower-case dotted words, e.g. source.ip)"
    if name.startswith(OBSERVER_INTERFACES):
        return None
    if name in PROTECTED or name.startswith(PROTECTED_PREFIXES):
        return f"{name} is set by the normaliser or by a rule's own keys, not by a decoder capture"
    return None


def classification_problems(
    category: list[str], types: list[str], outcome: str | None, kind: str | None
) -> list[tuple[str, str]]:
    """What is wrong with a rule's ECS classification, as (key, problem); empty when it is valid."""
    problems = [
        ("category", f"event.category {c!r} is not an ECS category") for c in category if c not in CATEGORY_TYPES
    ]
    allowed = set().union(*(CATEGORY_TYPES.get(c, frozenset()) for c in category)) if category else set()
    if problems:
        return problems  # an unknown category: its types cannot be judged
    for t in types:
        if category and t not in allowed:
            problems.append(("type", f"event.type {t!r} does not go with event.category {', '.join(category)}"))
        elif not category and not any(t in v for v in CATEGORY_TYPES.values()):
            problems.append(("type", f"event.type {t!r} is not an ECS event type"))
    if outcome is not None and outcome not in OUTCOMES:
        problems.append(("outcome", f"event.outcome {outcome!r} is not one of {', '.join(sorted(OUTCOMES))}"))
    if kind is not None and kind not in KINDS:
        problems.append(("kind", f"event.kind {kind!r} is not one of {', '.join(sorted(KINDS))}"))
    return problems


def _node(doc: dict[str, Any], parents: tuple[str, ...]) -> dict[str, Any]:
    node = doc
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    return node


def writer(name: str) -> Writer:
    """How a value captured for ``name`` is written into an event document."""
    # Imported here: the parser registry (collectors.parsers) imports the decoders at its own import.
    from collectors.parsers.fields import endpoint, is_hostname

    parts = tuple(name.split("."))
    parents, leaf = parts[:-1], parts[-1]
    if len(parts) == 2 and parts[0] in ENDPOINT_SIDES and leaf in ("ip", "address"):

        def write_endpoint(doc: dict[str, Any], value: Any) -> None:
            text = str(value)
            if text:
                _node(doc, parents).update(endpoint(text))

        return write_endpoint
    if len(parts) == 2 and parts[0] in ENDPOINT_SIDES and leaf == "domain":

        def write_domain(doc: dict[str, Any], value: Any) -> None:
            text = str(value)
            if text and is_hostname(text) and not text.isdigit():
                _node(doc, parents)["domain"] = text.rstrip(".").lower()

        return write_domain
    if leaf in _INTEGER_LEAVES or name in _INTEGER_FIELDS:

        def write_integer(doc: dict[str, Any], value: Any) -> None:
            try:
                number = int(value)
            except (TypeError, ValueError):
                return  # "-" or junk where a number belongs: the field stays unset
            _node(doc, parents)[leaf] = number

        return write_integer

    def write_text(doc: dict[str, Any], value: Any) -> None:
        if value is None or value == "":
            return
        _node(doc, parents)[leaf] = value if isinstance(value, str | bool | int | float) else str(value)

    return write_text


def constant_writer(name: str, value: Any) -> Writer:
    """Write a constant (a rule's ``set:``); lists are copied per event, later stages may extend them."""
    parts = tuple(name.split("."))
    parents, leaf = parts[:-1], parts[-1]
    if isinstance(value, list):
        frozen = tuple(value)

        def write_list(doc: dict[str, Any], _: Any) -> None:
            _node(doc, parents)[leaf] = list(frozen)

        return write_list

    def write_value(doc: dict[str, Any], _: Any) -> None:
        _node(doc, parents)[leaf] = value

    return write_value
