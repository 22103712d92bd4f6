"""The ``store`` fixture: every contract test runs once per available backend.

SQLite always runs (a real file under tmp_path). Elasticsearch runs when ``SENTINEL_TEST_ES_URL``
names a server; each test gets its own index prefix, and its indices, data streams and
templates are removed afterwards. Backends are built through ``BACKENDS``, as the service does.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinel.config import ElasticsearchSettings, Settings, StoreSettings
from sentinel.store import BACKENDS
from sentinel.store.base import Store

log = logging.getLogger(__name__)

ES_URL_ENV = "SENTINEL_TEST_ES_URL"


def _settings(backend: str, tmp_path: Path, prefix: str) -> Settings:
    es = ElasticsearchSettings(url=os.environ.get(ES_URL_ENV, "http://127.0.0.1:9200"), index_prefix=prefix)
    return Settings(data_dir=tmp_path / "data", store=StoreSettings(backend=backend, elasticsearch=es))  # type: ignore[arg-type]


def _remove_es_prefix(url: str, prefix: str) -> None:
    """Delete everything a test created under its prefix (data streams, indices, index and component
    templates, ILM policies), by concrete names.

    Elasticsearch 8 refuses wildcard deletes (action.destructive_requires_name), so names are
    resolved first.
    """
    from elasticsearch import Elasticsearch, NotFoundError

    client = Elasticsearch(url)
    pattern = f"{prefix}*"
    try:
        streams: Any = client.indices.get_data_stream(name=pattern, expand_wildcards="all")
        for stream in streams.get("data_streams", []):
            client.indices.delete_data_stream(name=stream["name"])
        indices: Any = client.indices.get(index=pattern, expand_wildcards="all", ignore_unavailable=True)
        for name in indices:
            client.indices.delete(index=name, ignore_unavailable=True)
        try:
            templates: Any = client.indices.get_index_template(name=pattern)
            for template in templates.get("index_templates", []):
                client.indices.delete_index_template(name=template["name"])
        except NotFoundError:
            pass
        try:
            components: Any = client.cluster.get_component_template(name=pattern)
            for component in components.get("component_templates", []):
                client.cluster.delete_component_template(name=component["name"])
        except NotFoundError:
            pass
        policies: Any = client.ilm.get_lifecycle()
        for name in policies:
            if name.startswith(prefix):
                client.ilm.delete_lifecycle(name=name)
    finally:
        client.close()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "elasticsearch",
            marks=pytest.mark.skipif(not os.environ.get(ES_URL_ENV), reason=f"{ES_URL_ENV} not set"),
        ),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend: str = request.param
    prefix = f"sentinel-test-{uuid.uuid4().hex[:12]}"
    settings = _settings(backend, tmp_path, prefix)
    settings.resolved_data_dir().mkdir(parents=True, exist_ok=True)
    instance = BACKENDS[backend](settings)
    try:
        instance.setup()
        yield instance
    finally:
        instance.close()
        if backend == "elasticsearch":
            _remove_es_prefix(settings.store.elasticsearch.url, prefix)
