"""The SQLite schema and its migrations.

``schema_version`` records every migration applied, so a later release adds a numbered step
to ``MIGRATIONS`` and an existing database is brought forward at start. A database written by
a newer Sentinel is refused rather than guessed at.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from sentinel.errors import StoreError

log = logging.getLogger(__name__)

# Events are immutable once written. ``seq`` is an explicit INTEGER PRIMARY KEY because the
# full-text index maps to it: an implicit rowid may be renumbered by VACUUM, ``seq`` never is.
# ``id`` is still the unique key the contract speaks of (INSERT OR IGNORE relies on it).
_EVENTS = [
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        ts INTEGER NOT NULL,
        ingested INTEGER NOT NULL,
        dataset TEXT NOT NULL,
        org TEXT,
        message TEXT,
        doc TEXT NOT NULL
    )""",
    "CREATE INDEX events_ts ON events (ts)",
    "CREATE INDEX events_dataset_ts ON events (dataset, ts)",
    "CREATE INDEX events_org_ts ON events (org, ts)",
    "CREATE INDEX events_ingested ON events (ingested)",
    # External-content FTS5: the text lives once, in events.message. columnsize=0 because we
    # never rank (no bm25), which saves a write per event.
    """CREATE VIRTUAL TABLE events_fts USING fts5(
        message, content='events', content_rowid='seq', columnsize=0,
        tokenize='unicode61 remove_diacritics 2'
    )""",
    # New rows are indexed by the store in bulk, in the same transaction as the insert
    # (``INSERT INTO events_fts ... SELECT ... WHERE seq > previous max``): a per-row trigger
    # measured about twice as slow. Deletes (retention) go through this trigger, so any delete
    # keeps the index consistent.
    """CREATE TRIGGER events_fts_delete AFTER DELETE ON events WHEN old.message IS NOT NULL BEGIN
        INSERT INTO events_fts (events_fts, rowid, message) VALUES ('delete', old.seq, old.message);
    END""",
]

# One table with a collection column rather than a table per collection: every collection has
# the same shape and access paths, so a new collection is one name in ``COLLECTIONS`` with no
# migration, and one set of indexes serves all. A rowid table (not WITHOUT ROWID) because
# bodies such as incidents can be several kilobytes.
_DOCUMENTS = [
    """CREATE TABLE documents (
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        org TEXT,
        version INTEGER NOT NULL,
        body TEXT NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        UNIQUE (collection, id)
    )""",
    "CREATE INDEX documents_org ON documents (collection, org)",
    "CREATE INDEX documents_created ON documents (collection, created)",
    "CREATE INDEX documents_updated ON documents (collection, updated)",
]

MIGRATIONS: list[tuple[int, list[str]]] = [(1, _EVENTS + _DOCUMENTS)]
LATEST = MIGRATIONS[-1][0]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to ``LATEST`` in one write transaction; returns the version now in place.

    Two processes starting at once are serialised by ``BEGIN IMMEDIATE``; the second sees the
    first's work and does nothing.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)"
        )
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] or 0
        if current > LATEST:
            raise StoreError(
                f"the database schema is version {current}, newer than this Sentinel knows ({LATEST}); upgrade Sentinel"
            )
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, int(time.time() * 1000)))
            log.info("applied store schema migration %s", version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return LATEST
