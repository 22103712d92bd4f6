"""Per-rule checkpoints: the end of the last detection window a rule completed.

A checkpoint moves only after the window's alerts are stored, so a crash in between re-runs the
window (harmless: alert ids are deterministic) and never skips one. Saving uses the store's
optimistic concurrency, so two engines sharing a store cannot move one rule's checkpoint twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sentinel.events import format_timestamp, from_millis, parse_timestamp, to_millis
from sentinel.store.base import Document, DocumentWrite, Scope, Store

COLLECTION = "checkpoints"
_PREFIX = "detect:"  # the collection is shared with other checkpoint owners


@dataclass(frozen=True, slots=True)
class Checkpoint:
    rule_id: str
    until_ms: int  # windows before this (event time, exclusive) are done
    created_ms: int  # when the rule first ran: new-value rules learn silently from here
    version: str | None = None

    @property
    def until(self) -> datetime:
        return from_millis(self.until_ms)


class Checkpoints:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, rule_id: str) -> Checkpoint | None:
        doc = self.store.get_document(COLLECTION, _PREFIX + rule_id, Scope.everything())
        if doc is None:
            return None
        return Checkpoint(
            rule_id=rule_id,
            until_ms=to_millis(parse_timestamp(doc.body["until"])),
            created_ms=to_millis(parse_timestamp(doc.body["created"])),
            version=doc.version,
        )

    def save(self, checkpoint: Checkpoint, until_ms: int, now: datetime) -> Checkpoint:
        """Move a checkpoint forward; ``ConflictError`` if someone else moved it since it was read."""
        write = self.write_for(checkpoint, until_ms, now)
        if write.expected_version is None:
            doc = self.store.create_document(COLLECTION, write.doc_id, write.body)
        else:
            version = write.expected_version
            doc = self.store.replace_document(COLLECTION, write.doc_id, write.body, expected_version=version)
        return moved(checkpoint, until_ms, doc)

    def write_for(self, checkpoint: Checkpoint, until_ms: int, now: datetime) -> DocumentWrite:
        """The write that moves a checkpoint (for ``write_documents`` with other writes)."""
        body = {
            "rule_id": checkpoint.rule_id,
            "until": format_timestamp(from_millis(until_ms)),
            "created": format_timestamp(from_millis(checkpoint.created_ms)),
            "updated": format_timestamp(now),
        }
        return DocumentWrite(COLLECTION, _PREFIX + checkpoint.rule_id, body, expected_version=checkpoint.version)

    def reset(self, rule_id: str) -> bool:
        return self.store.delete_document(COLLECTION, _PREFIX + rule_id)


def moved(checkpoint: Checkpoint, until_ms: int, doc: Document) -> Checkpoint:
    """The checkpoint once its write (``write_for``) is stored as ``doc``."""
    return Checkpoint(checkpoint.rule_id, until_ms, checkpoint.created_ms, doc.version)


class MemoryCheckpoints:
    """Checkpoints kept in memory: a back-test or a sample run must not move the real ones."""

    def __init__(self, created_ms: int | None = None) -> None:
        self._items: dict[str, Checkpoint] = {}
        self._created_ms = created_ms

    def get(self, rule_id: str) -> Checkpoint | None:
        return self._items.get(rule_id)

    def start_at(self, rule_id: str, until_ms: int, created_ms: int) -> None:
        self._items[rule_id] = Checkpoint(rule_id, until_ms, created_ms, "memory")

    def save(self, checkpoint: Checkpoint, until_ms: int, now: datetime) -> Checkpoint:
        created = checkpoint.created_ms if self._created_ms is None else min(checkpoint.created_ms, self._created_ms)
        saved = Checkpoint(checkpoint.rule_id, until_ms, created, "memory")
        self._items[checkpoint.rule_id] = saved
        return saved
