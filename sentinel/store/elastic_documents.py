"""Document collections on Elasticsearch: one index per collection, versions as seq_no/primary_term.

A stored document is ``{doc_id, institution_id, created, updated, body}`` in ``<prefix>-<collection>``;
its version token is ``"<seq_no>:<primary_term>"``, and a replace or delete presents it as
``if_seq_no``/``if_primary_term`` so the server does the compare-and-swap. Writes wait for the
refresh (``refresh=wait_for``): a caller told "created" can find the document in a search at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import elasticsearch
import orjson

from sentinel.errors import ConflictError, NotFoundError, StoreError
from sentinel.events import format_timestamp
from sentinel.store.base import Document, DocumentWrite, FieldFilter, Scope, check_collection
from sentinel.store.elastic_query import document_query, document_sort
from sentinel.store.elastic_setup import Names

Errors = Callable[[str], AbstractContextManager[Any]]


class ElasticDocuments:
    """The document half of the store contract on one client; ``errors`` names the failing action."""

    def __init__(self, client: elasticsearch.Elasticsearch, names: Names, errors: Errors) -> None:
        self.client = client
        self.names = names
        self._errors = errors

    def _index(self, collection: str) -> str:
        check_collection(collection)
        return self.names.collection(collection)

    def create(self, collection: str, doc_id: str, body: dict[str, Any], institution_id: str | None) -> Document:
        index = self._index(collection)
        _check_body(body)
        now = _now()
        source = _source(doc_id, body, institution_id, created=now, updated=now)
        with self._errors(f"creating {collection}/{doc_id}"):
            try:
                # refresh=wait_for: the call returns once a search can see the document, so the
                # queue page (find_documents) shows an alert the moment its creator is told it exists.
                resp = self.client.index(
                    index=index, id=doc_id, document=source, op_type="create", refresh="wait_for"
                ).body
            except elasticsearch.ConflictError as exc:
                raise ConflictError(f"document {collection}/{doc_id} already exists") from exc
        return Document(id=doc_id, body=body, version=_version(resp), institution_id=institution_id)

    def _get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        index = self._index(collection)
        with self._errors(f"reading {collection}/{doc_id}"):
            try:
                # GET is real-time: it sees the latest write without a refresh.
                resp: dict[str, Any] = self.client.get(index=index, id=doc_id).body
            except elasticsearch.NotFoundError:
                return None
        return resp if resp.get("found") else None

    def get(self, collection: str, doc_id: str, scope: Scope) -> Document | None:
        hit = self._get(collection, doc_id)
        if hit is None:
            return None
        doc = _document(hit)
        return doc if scope.allows(doc.institution_id) else None

    def replace(
        self,
        collection: str,
        doc_id: str,
        body: dict[str, Any],
        expected_version: str,
        institution_id: str | None,
    ) -> Document:
        _check_body(body)
        current = self._get(collection, doc_id)
        if current is None:
            raise NotFoundError(f"document {collection}/{doc_id} does not exist")
        seq_no, primary_term = _parse_version(expected_version)
        if (current.get("_seq_no"), current.get("_primary_term")) != (seq_no, primary_term):
            raise ConflictError(f"document {collection}/{doc_id} changed since version {expected_version}")
        old = current.get("_source", {})
        if institution_id is None:  # as in the SQLite backend: a replace keeps the institution unless given
            institution_id = old.get("institution_id")
        source = _source(doc_id, body, institution_id, created=old.get("created") or _now(), updated=_now())
        with self._errors(f"replacing {collection}/{doc_id}"):
            try:
                # The server checks the version again (compare-and-swap); the read above only
                # gives a clearer error and keeps ``created``.
                resp = self.client.index(
                    index=self.names.collection(collection),
                    id=doc_id,
                    document=source,
                    if_seq_no=seq_no,
                    if_primary_term=primary_term,
                    refresh="wait_for",
                ).body
            except elasticsearch.ConflictError as exc:
                if self._get(collection, doc_id) is None:
                    raise NotFoundError(f"document {collection}/{doc_id} does not exist") from exc
                raise ConflictError(f"document {collection}/{doc_id} changed since version {expected_version}") from exc
        return Document(id=doc_id, body=body, version=_version(resp), institution_id=institution_id)

    def delete(self, collection: str, doc_id: str, expected_version: str | None) -> bool:
        index = self._index(collection)
        options: dict[str, Any] = {}
        if expected_version is not None:
            options["if_seq_no"], options["if_primary_term"] = _parse_version(expected_version)
        with self._errors(f"deleting {collection}/{doc_id}"):
            try:
                self.client.delete(index=index, id=doc_id, refresh="wait_for", **options)
            except elasticsearch.NotFoundError:
                return False
            except elasticsearch.ConflictError as exc:
                if self._get(collection, doc_id) is None:
                    return False
                raise ConflictError(f"document {collection}/{doc_id} changed since version {expected_version}") from exc
        return True

    def find(
        self,
        collection: str,
        scope: Scope,
        filters: Sequence[FieldFilter],
        sort: str | None,
        descending: bool,
        limit: int,
    ) -> list[Document]:
        index = self._index(collection)
        body = {
            "query": document_query(scope, filters),
            "sort": document_sort(sort, descending),
            "size": max(0, limit),
            "seq_no_primary_term": True,  # hits carry the version token
        }
        with self._errors(f"searching {collection}"):
            resp = self.client.search(index=index, body=body).body
        return [_document(hit) for hit in resp.get("hits", {}).get("hits", [])]

    def count(self, collection: str, scope: Scope, filters: Sequence[FieldFilter]) -> int:
        index = self._index(collection)
        with self._errors(f"counting {collection}"):
            resp = self.client.count(index=index, body={"query": document_query(scope, filters)}).body
        return int(resp.get("count", 0))

    def write_many(self, writes: Sequence[DocumentWrite]) -> list[Document]:
        # No multi-document transactions in Elasticsearch: in order, stopping at the first failure
        # (the contract tells callers to put dependent writes, such as outbox notices, last).
        written: list[Document] = []
        for w in writes:
            if w.expected_version is None:
                written.append(self.create(w.collection, w.doc_id, w.body, w.institution_id))
            else:
                written.append(self.replace(w.collection, w.doc_id, w.body, w.expected_version, w.institution_id))
        return written


def _now() -> str:
    return format_timestamp(datetime.now(UTC))


def _source(
    doc_id: str, body: dict[str, Any], institution_id: str | None, *, created: str, updated: str
) -> dict[str, Any]:
    return {"doc_id": doc_id, "institution_id": institution_id, "created": created, "updated": updated, "body": body}


def _check_body(body: Any) -> None:
    """Refuse a body that is not a JSON object before anything is sent (nothing half-stored)."""
    if not isinstance(body, dict):
        raise StoreError(f"a document body must be a mapping, not {type(body).__name__}")
    try:
        orjson.dumps(body)
    except TypeError as exc:  # orjson.JSONEncodeError
        raise StoreError(f"a document body must be JSON: {exc}") from exc


def _version(resp: dict[str, Any]) -> str:
    return f"{int(resp['_seq_no'])}:{int(resp['_primary_term'])}"


def _parse_version(token: str) -> tuple[int, int]:
    seq, sep, term = str(token).partition(":")
    if not sep or not seq.isdigit() or not term.isdigit():
        # A token this store never issued cannot match the stored document's version.
        raise ConflictError(f"version {token!r} is not a version of this store (expected '<seq_no>:<primary_term>')")
    return int(seq), int(term)


def _document(hit: dict[str, Any]) -> Document:
    source = hit.get("_source", {})
    return Document(
        id=str(hit["_id"]),
        body=source.get("body") or {},
        version=_version(hit),
        institution_id=source.get("institution_id"),
    )
