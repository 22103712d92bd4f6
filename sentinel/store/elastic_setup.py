"""The Elasticsearch schema: ILM policy, events data stream templates, document indices.

The JSON bodies ship as package data (``es_templates/``) so an operator can read exactly what is
installed; this module only fills in the names (which depend on the index prefix) and retention.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
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
        """The events data stream, also the ILM policy name."""
        return f"{self.prefix}-events"

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
    policy["phases"]["delete"]["min_age"] = f"{retention_days}d"
    return policy


def events_settings_template(names: Names) -> dict[str, Any]:
    body = template("events_settings.json")
    body["template"]["settings"]["index.lifecycle.name"] = names.events
    return body


def events_index_template(names: Names) -> dict[str, Any]:
    return {
        "index_patterns": [f"{names.events}*"],
        "data_stream": {},
        "composed_of": [names.events_mappings, names.events_settings],
        "priority": TEMPLATE_PRIORITY,
        "_meta": {"description": "Sentinel events (ECS) data stream", "managed_by": "sentinel"},
    }


def documents_index() -> dict[str, Any]:
    return template("documents_index.json")


def install(client: elasticsearch.Elasticsearch, names: Names, retention_days: int) -> None:
    """Create or update everything; safe on every start (PUTs replace, creations tolerate 'exists')."""
    # ``body=`` sends the shipped JSON unchanged, so what the tests check is what the server gets.
    client.ilm.put_lifecycle(name=names.events, body={"policy": ilm_policy(retention_days)})
    client.cluster.put_component_template(name=names.events_mappings, body=template("events_mappings.json"))
    client.cluster.put_component_template(name=names.events_settings, body=events_settings_template(names))
    client.indices.put_index_template(name=names.events, body=events_index_template(names))
    # Created now rather than on the first write, so reads before any event find an empty stream.
    _create_ignoring_exists(lambda: client.indices.create_data_stream(name=names.events))
    body = documents_index()
    for collection in sorted(COLLECTIONS):
        index = names.collection(collection)
        _create_ignoring_exists(lambda index=index: client.indices.create(index=index, body=body))
    log.info("Elasticsearch schema ready: data stream %s and %d collections", names.events, len(COLLECTIONS))


def _create_ignoring_exists(create: Any) -> None:
    try:
        create()
    except elasticsearch.BadRequestError as exc:
        if error_type(exc) != "resource_already_exists_exception":
            raise
