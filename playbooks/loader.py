"""Load playbook YAML files into typed ``Playbook`` objects, with the file, line and key of every error.

One file holds one playbook. Loading a folder collects the errors of every bad file instead of
stopping at the first, so ``sentinel playbooks validate`` shows them all; the service runs the
playbooks that loaded and logs the others.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from playbooks.model import Playbook, When
from playbooks.steps import ACTIONS
from sentinel.errors import ConfigError, Location, PlaybookError
from sentinel.yamlfile import KeyPath, YamlDocument

log = logging.getLogger(__name__)

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
_TOP_KEYS = {"id", "title", "description", "enabled", "default", "when", "steps"}


@dataclass
class PlaybookSet:
    """Loaded playbooks plus every error found while loading them."""

    playbooks: list[Playbook] = field(default_factory=list)
    errors: list[PlaybookError] = field(default_factory=list)

    def get(self, playbook_id: str) -> Playbook | None:
        return next((p for p in self.playbooks if p.id == playbook_id), None)

    def enabled(self, disabled: Iterable[str] = ()) -> list[Playbook]:
        off = set(disabled)
        return [p for p in self.playbooks if p.enabled and p.id not in off]


def _validation_error(doc: YamlDocument, exc: ValidationError, prefix: KeyPath) -> PlaybookError:
    problems: list[tuple[Location, str]] = []
    for err in exc.errors():
        loc = doc.location(prefix + tuple(err.get("loc", ())))
        msg = "unknown key" if err.get("type") == "extra_forbidden" else str(err.get("msg", "invalid value"))
        msg = msg.removeprefix("Value error, ")
        problems.append((loc, msg))
    if len(problems) == 1:
        return PlaybookError(problems[0][1], problems[0][0])
    return PlaybookError("; ".join(f"{loc}: {msg}" for loc, msg in problems), problems[0][0])


def _parse_steps(doc: YamlDocument, raw_steps: Any) -> list[dict[str, Any]]:
    if not isinstance(raw_steps, list) or not raw_steps:
        raise PlaybookError("a playbook needs a non-empty list of steps", doc.location(("steps",)))
    steps: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    has_incident = False
    for index, raw in enumerate(raw_steps):
        where: KeyPath = ("steps", index)
        if not isinstance(raw, Mapping):
            raise PlaybookError("a step is a mapping with an 'action'", doc.location(where))
        action = raw.get("action")
        spec = ACTIONS.get(str(action)) if action is not None else None
        if spec is None:
            known = ", ".join(sorted(ACTIONS))
            raise PlaybookError(f"unknown action {action!r}; known: {known}", doc.location((*where, "action")))
        key = raw.get("id", f"{index + 1}-{spec.name}")
        if not isinstance(key, str) or not key or any(c.isspace() for c in key):
            raise PlaybookError("a step id is a non-empty word", doc.location((*where, "id")))
        if key in seen:
            raise PlaybookError(f"step id {key!r} is used twice (first in step {seen[key] + 1})", doc.location(where))
        seen[key] = index
        if spec.needs_incident and not has_incident:
            raise PlaybookError(
                f"action {spec.name!r} acts on an incident: put an open_incident step before it", doc.location(where)
            )
        has_incident = has_incident or spec.name == "open_incident"
        values = {k: v for k, v in raw.items() if k not in ("action", "id")}
        try:
            params = spec.params.model_validate(values)
        except ValidationError as exc:
            raise _validation_error(doc, exc, where) from exc
        steps.append({"key": key, "action": spec.name, "params": params, "line": doc.location(where).line})
    return steps


def parse_playbook(doc: YamlDocument, default_id: str | None = None) -> Playbook:
    data = doc.data
    if not isinstance(data, Mapping):
        raise PlaybookError("a playbook file holds one mapping (id, title, when, steps)", Location(doc.path, 1))
    for key in data:
        if key not in _TOP_KEYS:
            raise PlaybookError(f"unknown key; known: {', '.join(sorted(_TOP_KEYS))}", doc.location((str(key),)))
    try:
        when = When.model_validate(data.get("when") or {})
    except ValidationError as exc:
        raise _validation_error(doc, exc, ("when",)) from exc
    steps = _parse_steps(doc, data.get("steps"))
    body = {k: v for k, v in data.items() if k not in ("when", "steps")}
    body.setdefault("id", default_id)
    try:
        return Playbook.model_validate(
            {**body, "when": when, "steps": steps, "path": Path(doc.path) if doc.path.startswith("/") else None}
        )
    except ValidationError as exc:
        raise _validation_error(doc, exc, ()) from exc


def load_playbook_file(path: Path) -> Playbook:
    try:
        doc = YamlDocument.load(path)
    except ConfigError as exc:  # unreadable file or invalid YAML: same message, playbook family
        raise PlaybookError(exc.message, exc.location) from exc
    playbook = parse_playbook(doc, default_id=path.stem.replace(".", "_").lower())
    return playbook.model_copy(update={"path": path.resolve()})


def playbook_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            files.append(path)
    return files


def load_playbooks(paths: Iterable[Path]) -> PlaybookSet:
    """Every playbook in the given files and folders; a bad file is an error, not a stop."""
    result = PlaybookSet()
    ids: dict[str, Path | None] = {}
    for file in playbook_files(paths):
        try:
            playbook = load_playbook_file(file)
        except PlaybookError as exc:
            result.errors.append(exc)
            continue
        if playbook.id in ids:
            result.errors.append(
                PlaybookError(f"playbook id {playbook.id!r} is also used by {ids[playbook.id]}", Location(str(file)))
            )
            continue
        ids[playbook.id] = playbook.path
        result.playbooks.append(playbook)
    return result


def resolve_rule_ids(playbook: Playbook, names: Mapping[str, str]) -> tuple[frozenset[str], list[str]]:
    """``when.rules`` as rule ids (``names``: rule name or file stem → id), and the unknown entries.

    With no rule pack at hand (``names`` empty) every entry is taken as an id.
    """
    ids: set[str] = set()
    unknown: list[str] = []
    known_ids = set(names.values())
    for entry in playbook.when.rules:
        if entry in known_ids or not names:
            ids.add(entry)
        elif entry in names:
            ids.add(names[entry])
        else:
            unknown.append(entry)
            ids.add(entry)
    return frozenset(ids), unknown
