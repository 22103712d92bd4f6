"""Store backends behind one contract (``base.Store``); ``open_store`` picks one from settings."""

from __future__ import annotations

from collections.abc import Callable

from sentinel.config import Settings
from sentinel.errors import ConfigError
from sentinel.store.base import Document, EventQuery, FieldFilter, Scope, SearchResult, Store, WriteResult


def _sqlite(settings: Settings) -> Store:
    from sentinel.store.sqlite import SqliteStore

    # A spool that survives power loss needs a store whose commits do too (see sqlite_connections).
    return SqliteStore(settings.resolved_data_dir() / "sentinel.db", sync_commits=settings.spool.fsync == "always")


def _elasticsearch(settings: Settings) -> Store:
    from sentinel.store.elastic import ElasticStore

    return ElasticStore.from_settings(settings.store.elasticsearch, retention_days=settings.store.retention_days)


# The one place a backend is registered.
BACKENDS: dict[str, Callable[[Settings], Store]] = {"sqlite": _sqlite, "elasticsearch": _elasticsearch}


def open_store(settings: Settings) -> Store:
    try:
        factory = BACKENDS[settings.store.backend]
    except KeyError as exc:
        raise ConfigError(f"unknown store backend {settings.store.backend!r}") from exc
    store = factory(settings)
    store.setup()
    return store


__all__ = [
    "BACKENDS",
    "Document",
    "EventQuery",
    "FieldFilter",
    "Scope",
    "SearchResult",
    "Store",
    "WriteResult",
    "open_store",
]
