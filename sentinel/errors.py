"""One error family for the whole service.

Every error Sentinel raises on purpose is a ``SentinelError``; the CLI, the API and the
collectors turn it into one clear message. Errors about a file carry its path and, where
known, the line and the key path, so an operator can go straight to the mistake.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a file a problem is: path, 1-based line, and the dotted key path."""

    path: str
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
        if self.key:
            text += f" ({self.key})"
        return text


class SentinelError(Exception):
    """Base of every error Sentinel raises on purpose."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class ConfigError(SentinelError):
    """The configuration or the inventory is invalid."""


class StoreError(SentinelError):
    """The store could not do what was asked."""


class StoreClosed(StoreError):
    """The store was closed: the service is shutting down, and a job still running meets it."""


class ConflictError(StoreError):
    """A document changed since it was read (optimistic concurrency) or already exists."""


class NotFoundError(StoreError):
    """A document that was asked for does not exist (or is outside the caller's scope)."""


class CollectorError(SentinelError):
    """A collector could not receive, spool or parse input."""


class ParseError(CollectorError):
    """One input record could not be parsed; it becomes a dead letter with this reason."""


class RuleError(SentinelError):
    """A detection rule is invalid or cannot run on the active backend."""


class PlaybookError(SentinelError):
    """A playbook is invalid or one of its steps failed."""


class TooLargeError(SentinelError):
    """A request or input is larger than Sentinel accepts in one piece."""


class QueryError(SentinelError, ValueError):
    """A search, filter or page cursor a caller gave is not valid (a 400, never reaching the store)."""
