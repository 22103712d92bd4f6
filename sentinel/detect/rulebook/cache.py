"""The compiled rule cache: what a rule file gave when it was last loaded, kept on disk by its content.

Parsing and compiling 2,400 SigmaHQ rules costs seconds; reading back what they compiled to costs
a fraction of that. An entry is the rules and errors one file gave, compiled for the matcher
(``SigmaRule.compiled``, plain data, no pySigma object), pickled under

    <folder>/<code version>/<first two hex digits>/<hash of the file's bytes>.pickle

The code version is a hash of the source of the modules that decide what a rule compiles to
(``rulebook``, ``matching``, durations, errors) and of the Python and pySigma versions: any change
to them starts a new folder, so an entry is never read by code that would compile differently.
Changing one rule file changes only its own entry ("recompiles only what it affects"); a
correlation and its base rules share a file, so they are one entry.

Entries are written to a temporary file and renamed, so concurrent writers (``serve`` and a CLI
command) never leave half an entry; an entry that cannot be read is treated as missing. The
cache holds only what Sentinel itself wrote in its own data folder: ``pickle`` is safe here for
that reason, and the folder is created readable by its owner only.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import pickle
import sys
import tempfile
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinel.errors import Location, RuleError

if TYPE_CHECKING:
    from sentinel.detect.rulebook.pack import PackRule

log = logging.getLogger(__name__)

FORMAT = b"sentinel-rule-cache-1"
_DETECT = Path(__file__).resolve().parent.parent  # sentinel/detect
_SOURCES = ("rulebook", "matching")  # the subpackages whose code decides what a rule compiles to
_MORE_SOURCES = (_DETECT.parent / "durations.py", _DETECT.parent / "errors.py")


@cache
def code_version() -> str:
    """A hash of everything that decides what a rule file compiles to (see the module docstring)."""
    digest = hashlib.blake2b(FORMAT, digest_size=10)
    digest.update(sys.version.encode())
    for package in ("pysigma", "pydantic"):
        try:
            digest.update(f"{package}={importlib.metadata.version(package)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(package.encode())
    sources = sorted(p for name in _SOURCES for p in (_DETECT / name).glob("*.py"))
    for source in [*sources, *_MORE_SOURCES]:
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


class RuleCache:
    """Compiled rule files by content (``get``/``put``); see the module docstring."""

    def __init__(self, folder: Path, version: str | None = None) -> None:
        self.folder = folder / (version or code_version())
        self.hits = 0
        self.misses = 0

    def _path(self, data: bytes, builtin: bool) -> Path:
        key = hashlib.blake2b(data, digest_size=20, person=b"builtin" if builtin else b"rules").hexdigest()
        return self.folder / key[:2] / f"{key}.pickle"

    def get(self, data: bytes, path: Path, builtin: bool) -> tuple[list[PackRule], list[RuleError]] | None:
        """What the file with these bytes gave, as if loaded from ``path``; None when not cached."""
        try:
            with self._path(data, builtin).open("rb") as handle:
                entry = pickle.load(handle)  # noqa: S301  (our own entries, in our own data folder)
            rules, errors, old = entry["rules"], entry["errors"], entry["path"]
        except FileNotFoundError:
            self.misses += 1
            return None
        except Exception as exc:  # a damaged or foreign entry: compile again (and overwrite it)
            log.warning("compiled rule cache entry for %s not readable (%s); compiling it again", path, exc)
            self.misses += 1
            return None
        self.hits += 1
        if old != str(path):  # the same rule file at another place (e.g. copied by ``rules import``)
            rules, errors = _moved(rules, errors, old, path)
        return rules, errors

    def put(self, data: bytes, path: Path, builtin: bool, rules: list[PackRule], errors: list[RuleError]) -> None:
        """Keep what the file gave; a failure to write is logged, never raised (the cache is an aid)."""
        target = self._path(data, builtin)
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            payload = pickle.dumps({"path": str(path), "rules": rules, "errors": errors}, pickle.HIGHEST_PROTOCOL)
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".entry-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(payload)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except Exception as exc:
            log.warning("could not keep %s in the compiled rule cache: %s", path, exc)


def _moved(
    rules: list[PackRule], errors: list[RuleError], old: str, new: Path
) -> tuple[list[PackRule], list[RuleError]]:
    """The rules and errors of a file as if it had been loaded from ``new`` (objects shared stay shared)."""
    memo: dict[int, Any] = {}

    def move(item: Any) -> Any:
        if id(item) not in memo:
            memo[id(item)] = replace(item, path=new) if getattr(item, "path", None) is not None else item
        return memo[id(item)]

    moved_rules = [
        replace(
            rule,
            path=new,
            definition=move(rule.definition),
            base_rules=tuple(move(base) for base in rule.base_rules),
        )
        for rule in rules
    ]
    moved_errors = []
    for error in errors:
        location = error.location
        if location is not None and location.path == old:
            error = RuleError(error.message, Location(str(new), location.line, location.key))
        moved_errors.append(error)
    return moved_rules, moved_errors
