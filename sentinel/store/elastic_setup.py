"""The Elasticsearch schema: ILM policy, the daily events indices' templates, document indices.

The JSON bodies ship as package data (``es_templates/``) so an operator can read exactly what is
installed; this module only fills in the names (which depend on the index prefix) and retention.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import elasticsearch

from sentinel.store.base import COLLECTIONS
from sentinel.store.elastic_client import error_type

log = logging.getLogger(__name__)

# Above the built-in templates (``logs-*-*`` is 100) so ours wins should patterns ever overlap.
TEMPLATE_PRIORITY = 200


@cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files("sentinel.store").joinpath("es_templates", name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def template(name: str) -> dict[str, Any]:
    """A fresh copy of a shipped JSON body (callers fill in names)."""
    return copy.deepcopy(_load(name))


@dataclass(frozen=True, slots=True)
class Names:
    """Every Elasticsearch name derived from the index prefix."""

    prefix: str

    @property
    def events(self) -> str:
        """The name of the events' ILM policy and index template; the indices are ``<events>-YYYY.MM.DD``."""
        return f"{self.prefix}-events"

    @property
    def events_pattern(self) -> str:
        """Every daily events index: what reads, counts and deletions address."""
        return f"{self.prefix}-events-*"

    def event_index(self, day: date) -> str:
        """The index holding the events whose ``@timestamp`` falls on ``day`` (UTC).

        The index follows from the event itself, so a re-sent event always meets its first copy
        and ``create`` refuses it, however long after. A data stream writes to whichever backing
        index is current, so a re-send after a rollover would be stored twice.
        """
        return f"{self.prefix}-events-{day.year:04d}.{day.month:02d}.{day.day:02d}"

    @property
    def events_mappings(self) -> str:
        return f"{self.prefix}-events-mappings"

    @property
    def events_settings(self) -> str:
        return f"{self.prefix}-events-settings"

    def collection(self, collection: str) -> str:
        return f"{self.prefix}-{collection}"


def ilm_policy(retention_days: int) -> dict[str, Any]:
    policy = template("ilm_policy.json")
    # An index's age counts from the start of its day, and it holds events up to that day's end:
    # one day more keeps every event at least the retention (the retention job cuts to the millisecond).
    policy["phases"]["delete"]["min_age"] = f"{retention_days + 1}d"
    return policy


def events_settings_template(names: Names) -> dict[str, Any]:
    body = template("events_settings.json")
    body["template"]["settings"]["index.lifecycle.name"] = names.events
    return body


def events_index_template(names: Names) -> dict[str, Any]:
    return {
        "index_patterns": [names.events_pattern],
        "composed_of": [names.events_mappings, names.events_settings],
        "priority": TEMPLATE_PRIORITY,
        "_meta": {
            "description": "Sentinel events (ECS), one index per UTC day of @timestamp",
            "managed_by": "sentinel",
        },
    }


def documents_index() -> dict[str, Any]:
    return template("documents_index.json")


def install(client: elasticsearch.Elasticsearch, names: Names, retention_days: int) -> None:
    """Create or update everything; safe on every start (PUTs replace, creations tolerate 'exists')."""
    # ``body=`` sends the shipped JSON unchanged, so what the tests check is what the server gets.
    client.ilm.put_lifecycle(name=names.events, body={"policy": ilm_policy(retention_days)})
    client.cluster.put_component_template(name=names.events_mappings, body=template("events_mappings.json"))
    client.cluster.put_component_template(name=names.events_settings, body=events_settings_template(names))
    # Daily indices are created by their first write; reads address the pattern, which matches
    # nothing until then (and Elasticsearch answers an empty result for that).
    client.indices.put_index_template(name=names.events, body=events_index_template(names))
    body = documents_index()
    for collection in sorted(COLLECTIONS):
        index = names.collection(collection)
        _create_ignoring_exists(lambda index=index: client.indices.create(index=index, body=body))
    log.info("Elasticsearch schema ready: events in %s and %d collections", names.events_pattern, len(COLLECTIONS))


def _create_ignoring_exists(create: Any) -> None:
    try:
        create()
    except elasticsearch.BadRequestError as exc:
        if error_type(exc) != "resource_already_exists_exception":
            raise
