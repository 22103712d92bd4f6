"""The Elasticsearch backend: events in daily indices, documents in one index per collection.

Events go to ``<prefix>-events-YYYY.MM.DD``, the UTC day of their ``@timestamp`` (ECS template,
ILM deletion), with ``_bulk`` ``create`` actions whose ``_id`` is the deterministic event id. The
index is a function of the event, so a re-sent event always lands where its first copy is and is
a 409 that counts as a duplicate; reads address ``<prefix>-events-*``. Documents (alerts,
incidents, ...) are in :mod:`sentinel.store.elastic_documents`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

import elasticsearch
import orjson

from sentinel.config import ElasticsearchSettings
from sentinel.errors import ConfigError, StoreError
from sentinel.events import Event, format_timestamp, from_millis
from sentinel.store.base import (
    UNCOUNTED,
    Document,
    DocumentWrite,
    EventQuery,
    FieldFilter,
    Scope,
    SearchResult,
    Store,
    TermBucket,
    TimeBucket,
    WriteResult,
)
from sentinel.store.elastic_client import build_client, translated_errors
from sentinel.store.elastic_documents import ElasticDocuments
from sentinel.store.elastic_query import (
    check_field,
    event_query,
    event_sort,
    exact_field,
)
from sentinel.store.elastic_setup import Names, install

log = logging.getLogger(__name__)

_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,100}$")
# Elasticsearch refuses ``from + size`` above ``index.max_result_window`` (10,000 by default).
MAX_PAGE = 10_000
_DAY_MS = 86_400_000
# Exact counts up to this many distinct values; above, HyperLogLog++ approximates (the contract allows it).
CARDINALITY_PRECISION = 40_000


class ElasticStore(Store):
    name = "elasticsearch"

    def __init__(
        self,
        client: elasticsearch.Elasticsearch,
        index_prefix: str = "sentinel",
        *,
        retention_days: int = 90,
        bulk_max_events: int = 5000,
        bulk_max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        if not _PREFIX_RE.match(index_prefix):
            raise ConfigError(
                f"invalid Elasticsearch index prefix {index_prefix!r}: lower-case letters, digits, '_', '-', '.'"
            )
        if retention_days < 1:
            raise ConfigError("retention_days must be at least 1")
        self.client = client
        self.names = Names(index_prefix)
        self.retention_days = retention_days
        self.bulk_max_events = max(1, bulk_max_events)
        self.bulk_max_bytes = max(1024, bulk_max_bytes)
        self._url = _describe(client)
        # Searches see only refreshed data (about once a second). After this process writes events,
        # the next event read refreshes first, so a read after a write sees it (as with SQLite)
        # without paying a refresh on every bulk request of a busy ingest.
        self._events_dirty = threading.Event()
        self.documents = ElasticDocuments(client, self.names, self._errors)

    @classmethod
    def from_settings(cls, es: ElasticsearchSettings, *, retention_days: int = 90) -> ElasticStore:
        return cls(build_client(es), es.index_prefix, retention_days=retention_days)

    def _errors(self, action: str) -> Any:
        return translated_errors(action, self._url)

    # lifecycle -------------------------------------------------------------------------
    def setup(self) -> None:
        with self._errors("installing the index templates and ILM policy"):
            install(self.client, self.names, self.retention_days)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ElasticStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # events ----------------------------------------------------------------------------
    def write_events(self, events: Sequence[Event]) -> WriteResult:
        created = duplicates = 0
        failed: list[tuple[str, str]] = []
        for ids, body in self._bulk_chunks(events, failed):
            with self._errors(f"writing {len(ids)} events"):
                # Pre-encoded NDJSON (orjson) passes through the client's serializer unchanged.
                resp = self.client.bulk(
                    operations=body,  # type: ignore[arg-type]
                    filter_path="errors,items.*.status,items.*._id,items.*.error",
                ).body
            if not resp.get("errors"):
                created += len(ids)
                continue
            items = resp.get("items", [])
            if len(items) != len(ids):
                raise StoreError(f"Elasticsearch answered {len(items)} bulk items for {len(ids)} events")
            for event_id, item in zip(ids, items, strict=True):
                result = next(iter(item.values()))
                status = int(result.get("status", 0))
                if 200 <= status < 300:
                    created += 1
                elif status == 409:
                    duplicates += 1
                else:
                    failed.append((event_id, _item_reason(result)))
        if created:
            self._events_dirty.set()
        if failed:
            log.warning("%d of %d events were refused by Elasticsearch, e.g. %s", len(failed), len(events), failed[0])
        return WriteResult(created=created, duplicates=duplicates, failed=failed)

    def _bulk_chunks(self, events: Sequence[Event], failed: list[tuple[str, str]]) -> Iterator[tuple[list[str], bytes]]:
        """NDJSON bodies of at most ``bulk_max_events`` events / about ``bulk_max_bytes`` each."""
        ids: list[str] = []
        body = bytearray()
        index_of_day: dict[int, str] = {}  # a batch spans a day or two
        for event in events:
            try:
                source = orjson.dumps(event.doc)
            except TypeError as exc:  # orjson.JSONEncodeError: a value JSON cannot hold
                failed.append((event.id, f"not serialisable as JSON: {exc}"))
                continue
            day = event.timestamp_ms // _DAY_MS
            index = index_of_day.get(day)
            if index is None:
                index = index_of_day[day] = self.names.event_index(from_millis(day * _DAY_MS).date())
            # ``create``: the id makes a re-send a 409 (duplicate) instead of an overwrite.
            body += orjson.dumps({"create": {"_index": index, "_id": event.id}})
            body += b"\n"
            body += source
            body += b"\n"
            ids.append(event.id)
            if len(ids) >= self.bulk_max_events or len(body) >= self.bulk_max_bytes:
                yield ids, bytes(body)
                ids, body = [], bytearray()
        if ids:
            yield ids, bytes(body)

    def _refresh_if_written(self) -> None:
        if self._events_dirty.is_set():
            self._events_dirty.clear()  # before the refresh: a write during it sets it again
            with self._errors("refreshing the events indices"):
                self.client.indices.refresh(index=self.names.events_pattern, ignore_unavailable=True)

    def _search_events(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        self._refresh_if_written()
        with self._errors(action):
            resp: dict[str, Any] = self.client.search(
                index=self.names.events_pattern, body=body, ignore_unavailable=True
            ).body
        return resp

    def search_events(
        self,
        query: EventQuery,
        scope: Scope,
        *,
        limit: int = 100,
        order: Literal["asc", "desc"] = "desc",
        after: tuple[int, str] | None = None,
        with_total: bool = True,
    ) -> SearchResult:
        if order not in ("asc", "desc"):
            raise StoreError(f"order must be 'asc' or 'desc', not {order!r}")
        size = max(0, min(limit, MAX_PAGE))
        body: dict[str, Any] = {
            "query": event_query(query, scope),
            "sort": event_sort(order, query.time_field),
            "size": size,
            "track_total_hits": with_total,
        }
        if after is not None:
            body["search_after"] = [int(after[0]), str(after[1])]
        resp = self._search_events("searching events", body)
        hits = resp.get("hits", {}).get("hits", [])
        events = [Event.from_doc(hit["_source"]) for hit in hits]
        next_after = None
        if hits and len(hits) == size:
            last = hits[-1].get("sort") or [events[-1].timestamp_ms, events[-1].id]
            next_after = (int(last[0]), str(last[1]))
        total = _total(resp) if with_total else UNCOUNTED
        return SearchResult(events=events, total=total, next_after=next_after)

    def count_events(self, query: EventQuery, scope: Scope) -> int:
        self._refresh_if_written()
        with self._errors("counting events"):
            resp = self.client.count(
                index=self.names.events_pattern, body={"query": event_query(query, scope)}, ignore_unavailable=True
            ).body
        return int(resp.get("count", 0))

    def _aggregate(self, action: str, query: EventQuery, scope: Scope, agg: dict[str, Any]) -> dict[str, Any]:
        body = {"query": event_query(query, scope), "size": 0, "track_total_hits": False, "aggs": {"result": agg}}
        resp = self._search_events(action, body)
        result: dict[str, Any] = resp.get("aggregations", {}).get("result", {})
        return result

    def terms(self, query: EventQuery, scope: Scope, field: str, size: int = 10) -> list[TermBucket]:
        agg = {
            "terms": {
                "field": exact_field(check_field(field)),
                "size": max(1, size),
                "order": [{"_count": "desc"}, {"_key": "asc"}],
            }
        }
        result = self._aggregate(f"aggregating terms of {field}", query, scope, agg)
        return [
            TermBucket(key=bucket.get("key_as_string", bucket["key"]), count=int(bucket["doc_count"]))
            for bucket in result.get("buckets", [])
        ]

    def date_histogram(self, query: EventQuery, scope: Scope, interval_seconds: int) -> list[TimeBucket]:
        if interval_seconds < 1:
            raise StoreError("a date histogram needs an interval of at least one second")
        agg = {
            "date_histogram": {
                "field": query.time_field,
                "fixed_interval": f"{int(interval_seconds)}s",
                "min_doc_count": 1,
            }
        }
        result = self._aggregate("building a date histogram", query, scope, agg)
        return [
            TimeBucket(start=from_millis(int(bucket["key"])), count=int(bucket["doc_count"]))
            for bucket in result.get("buckets", [])
            if bucket.get("doc_count")
        ]

    def cardinality(self, query: EventQuery, scope: Scope, field: str) -> int:
        agg = {"cardinality": {"field": exact_field(check_field(field)), "precision_threshold": CARDINALITY_PRECISION}}
        result = self._aggregate(f"counting distinct values of {field}", query, scope, agg)
        return int(result.get("value") or 0)

    def delete_events_before(self, cutoff: datetime) -> int:
        # ILM deletes whole daily indices after the retention; this is the explicit command,
        # precise to the millisecond. ``conflicts=proceed``: a concurrent write must not abort it.
        body = {"query": {"range": {"@timestamp": {"lt": format_timestamp(cutoff)}}}}
        with self._errors("deleting old events"):
            resp = self.client.delete_by_query(
                index=self.names.events_pattern,
                body=body,
                conflicts="proceed",
                refresh=True,
                wait_for_completion=True,
                ignore_unavailable=True,
            ).body
        failures = resp.get("failures") or []
        if failures:
            raise StoreError(f"deleting old events partly failed: {failures[0]}")
        return int(resp.get("deleted", 0))

    # documents (sentinel.store.elastic_documents) ----------------------------------------
    def create_document(
        self, collection: str, doc_id: str, body: dict[str, Any], *, institution_id: str | None = None
    ) -> Document:
        return self.documents.create(collection, doc_id, body, institution_id)

    def get_document(self, collection: str, doc_id: str, scope: Scope) -> Document | None:
        return self.documents.get(collection, doc_id, scope)

    def replace_document(
        self,
        collection: str,
        doc_id: str,
        body: dict[str, Any],
        *,
        expected_version: str,
        institution_id: str | None = None,
    ) -> Document:
        return self.documents.replace(collection, doc_id, body, expected_version, institution_id)

    def delete_document(self, collection: str, doc_id: str, *, expected_version: str | None = None) -> bool:
        return self.documents.delete(collection, doc_id, expected_version)

    def find_documents(
        self,
        collection: str,
        scope: Scope,
        filters: Sequence[FieldFilter] = (),
        *,
        sort: str | None = None,
        descending: bool = False,
        limit: int = 100,
    ) -> list[Document]:
        return self.documents.find(collection, scope, filters, sort, descending, min(limit, MAX_PAGE))

    def count_documents(self, collection: str, scope: Scope, filters: Sequence[FieldFilter] = ()) -> int:
        return self.documents.count(collection, scope, filters)

    def write_documents(self, writes: Sequence[DocumentWrite]) -> list[Document]:
        return self.documents.write_many(writes)


def _describe(client: elasticsearch.Elasticsearch) -> str:
    """The node address for messages (never the credentials, which travel in headers)."""
    try:
        nodes = client.transport.node_pool.all()
        return str(nodes[0].base_url) if nodes else "Elasticsearch"
    except (AttributeError, IndexError):
        return "Elasticsearch"


def _total(resp: dict[str, Any]) -> int:
    total = resp.get("hits", {}).get("total", 0)
    return int(total.get("value", 0) if isinstance(total, dict) else total)


def _item_reason(result: dict[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            text += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
        return text
    return f"status {result.get('status')}: {error}"
