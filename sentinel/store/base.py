"""The store contract: what every backend (SQLite, Elasticsearch) must do, and nothing more.

Reads take a ``Scope`` argument with no default, so no caller can forget the institution
boundary: an institution user's scope limits every query in the store itself, not in the page.
Writes come from the trusted core (collectors, engine, playbooks) and carry the institution.

Document collections hold everything that is not an event (alerts, incidents, outbox, ...).
Each document has an opaque ``version`` token; a replace must present the version it read,
so a concurrent change is refused with ``ConflictError`` instead of being lost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sentinel.events import Event

# Every document collection a backend must provide. A later feature adds its name here.
COLLECTIONS: frozenset[str] = frozenset(
    {
        "alerts",
        "incidents",
        "outbox",
        "checkpoints",
        "dead_letters",
        "audit",
        "rule_health",
        "scans",
        "state",
        "tokens",
        "sessions",
        "reports",
    }
)

FilterOp = Literal["eq", "neq", "in", "prefix", "exists", "missing", "gt", "gte", "lt", "lte"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which institutions a read may see. ``institution_id=None`` means all (SOC roles)."""

    institution_id: str | None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def institution(cls, institution_id: str) -> Scope:
        if not institution_id:
            raise ValueError("an institution scope needs an institution id")
        return cls(institution_id)

    def allows(self, institution_id: str | None) -> bool:
        return self.institution_id is None or self.institution_id == institution_id


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """A condition on one dotted field. ``value`` is a list for ``in``; unused for exists/missing."""

    field: str
    op: FilterOp = "eq"
    value: Any = None


@dataclass(frozen=True, slots=True)
class EventQuery:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    datasets: tuple[str, ...] = ()
    filters: tuple[FieldFilter, ...] = ()
    text: str | None = None  # full-text search over ``message``
    time_field: Literal["@timestamp", "event.ingested"] = "@timestamp"


UNCOUNTED = -1  # ``SearchResult.total`` of a search made with ``with_total=False``


@dataclass(frozen=True, slots=True)
class SearchResult:
    events: list[Event]
    total: int  # matching events, regardless of limit; UNCOUNTED when the search was told not to count
    next_after: tuple[int, str] | None = None  # pass back as ``after`` for the next page


@dataclass(frozen=True, slots=True)
class TermBucket:
    key: Any
    count: int


@dataclass(frozen=True, slots=True)
class TimeBucket:
    start: datetime
    count: int


@dataclass(frozen=True, slots=True)
class WriteResult:
    created: int = 0
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (event id, reason)


@dataclass(frozen=True, slots=True)
class DocumentWrite:
    """One write of a ``write_documents`` batch: a create, or a replace at an expected version."""

    collection: str
    doc_id: str
    body: dict[str, Any]
    institution_id: str | None = None
    expected_version: str | None = None  # None: create (ConflictError if it exists); else compare-and-swap


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    body: dict[str, Any]
    version: str
    institution_id: str | None = None


class Store(ABC):
    """One backend. Implementations are registered in ``sentinel.store.BACKENDS``."""

    name: str = "abstract"

    # lifecycle -------------------------------------------------------------------------
    @abstractmethod
    def setup(self) -> None:
        """Create schema, templates and policies if missing. Safe to call every start."""

    @abstractmethod
    def close(self) -> None: ...

    # events ----------------------------------------------------------------------------
    @abstractmethod
    def write_events(self, events: Sequence[Event]) -> WriteResult:
        """Store events idempotently: an id already stored counts as a duplicate, not an error."""

    @abstractmethod
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
        """Events matching the query, ordered by (time, id); ``after`` continues a page.

        ``with_total=False`` skips counting every match (``total`` is then ``UNCOUNTED``): a reader
        that pages through a range, such as the detection engine, does not pay for it on every page.
        """

    @abstractmethod
    def count_events(self, query: EventQuery, scope: Scope) -> int: ...

    @abstractmethod
    def terms(self, query: EventQuery, scope: Scope, field: str, size: int = 10) -> list[TermBucket]:
        """Most frequent values of a field, most frequent first (ties by value)."""

    @abstractmethod
    def date_histogram(self, query: EventQuery, scope: Scope, interval_seconds: int) -> list[TimeBucket]:
        """Event counts per fixed interval (UTC-aligned); empty buckets are omitted."""

    @abstractmethod
    def cardinality(self, query: EventQuery, scope: Scope, field: str) -> int:
        """Distinct values of a field (exact on SQLite, approximate on Elasticsearch)."""

    @abstractmethod
    def delete_events_before(self, cutoff: datetime) -> int:
        """Retention: remove events older than ``cutoff``; returns how many (or an estimate)."""

    # documents -------------------------------------------------------------------------
    @abstractmethod
    def create_document(
        self, collection: str, doc_id: str, body: dict[str, Any], *, institution_id: str | None = None
    ) -> Document:
        """Create a document; ``ConflictError`` if the id exists."""

    @abstractmethod
    def get_document(self, collection: str, doc_id: str, scope: Scope) -> Document | None: ...

    @abstractmethod
    def replace_document(
        self,
        collection: str,
        doc_id: str,
        body: dict[str, Any],
        *,
        expected_version: str,
        institution_id: str | None = None,
    ) -> Document:
        """Replace a document only if it is still at ``expected_version``; else ``ConflictError``."""

    @abstractmethod
    def delete_document(self, collection: str, doc_id: str, *, expected_version: str | None = None) -> bool: ...

    @abstractmethod
    def find_documents(
        self,
        collection: str,
        scope: Scope,
        filters: Sequence[FieldFilter] = (),
        *,
        sort: str | None = None,
        descending: bool = False,
        limit: int = 100,
    ) -> list[Document]: ...

    @abstractmethod
    def count_documents(self, collection: str, scope: Scope, filters: Sequence[FieldFilter] = ()) -> int: ...

    @abstractmethod
    def write_documents(self, writes: Sequence[DocumentWrite]) -> list[Document]:
        """Apply several creates/replaces together, e.g. an incident change, its audit entries and the
        notices it causes. SQLite: all or nothing in one transaction (a ConflictError or NotFoundError
        aborts every write). Elasticsearch has no multi-document transactions: writes are applied in
        order and the first failure stops the rest (earlier ones stay), so callers put the writes that
        depend on the others (outbox notices) last."""


def check_collection(collection: str) -> None:
    from sentinel.errors import StoreError

    if collection not in COLLECTIONS:
        raise StoreError(f"unknown collection {collection!r}; known: {', '.join(sorted(COLLECTIONS))}")
