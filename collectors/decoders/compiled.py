"""Decoders compiled for the hot path: regexes built once, every capture bound to its field writer.

``decode_message`` reads a syslog message (the header's time stands); ``parse_line`` reads a whole
line of the service's own file and returns its time. Nothing here allocates beyond the event
document's own fields: a rule match is one ``re.match`` and one ``groups()`` call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from collectors.decoders.ecs import Writer
from collectors.decoders.model import SampleSpec
from collectors.decoders.timestamps import Parser

# Decodes a message as a syslog program's would be: (program, message, doc) -> dataset.
ProgramDispatch = Callable[[str | None, str, dict[str, Any]], str]
NO_VALUE = "-"  # what logs write for "no value": never stored


@dataclass(frozen=True, slots=True)
class Capture:
    """One regex group (0-based index into ``groups()``) and the writer of its field."""

    group: int
    write: Writer


def write_captures(captures: tuple[Capture, ...], m: re.Match[str], doc: dict[str, Any]) -> None:
    """Each capture's text into its field; empty and ``-`` captures write nothing."""
    groups = m.groups()
    for capture in captures:
        value = groups[capture.group]
        if value and value != NO_VALUE:
            capture.write(doc, value)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    action: str
    match: Callable[[str], re.Match[str] | None]
    needs: str | None  # a text every match contains: when absent, the regex is not tried
    on_line: bool
    captures: tuple[Capture, ...]
    constants: tuple[Writer, ...]
    category: tuple[str, ...]
    types: tuple[str, ...]
    outcome: str | None
    kind: str | None

    def apply(self, m: re.Match[str], doc: dict[str, Any]) -> None:
        write_captures(self.captures, m, doc)
        for write in self.constants:
            write(doc, None)
        ev = doc["event"]
        ev["action"] = self.action
        if self.category:
            ev["category"] = list(self.category)  # a fresh list per event: later stages may extend it
        if self.types:
            ev["type"] = list(self.types)
        if self.outcome is not None:
            ev["outcome"] = self.outcome
        if self.kind is not None:
            ev["kind"] = self.kind


@dataclass(frozen=True, slots=True)
class CompiledHeader:
    """The start of a line of the service's own file: where the time is and how to read it."""

    match: Callable[[str], re.Match[str] | None]
    needs: str | None
    time_group: int
    parse_time: Parser
    captures: tuple[Capture, ...]

    def read(self, line: str) -> tuple[re.Match[str], datetime] | None:
        if self.needs is not None and self.needs not in line:
            return None
        m = self.match(line)
        if m is None:
            return None
        ts = self.parse_time(m.group(self.time_group + 1))
        return None if ts is None else (m, ts)

    def apply(self, m: re.Match[str], doc: dict[str, Any]) -> None:
        write_captures(self.captures, m, doc)


@dataclass(frozen=True, slots=True)
class JsonField:
    path: str
    write: Writer | None  # the value into one field, or
    pattern: Callable[[str], re.Match[str] | None] | None  # a pattern whose captures read the value
    captures: tuple[Capture, ...]


def json_value(obj: Any, path: str) -> Any:
    """``obj[path]``, else the dotted path walked (keys may hold dots themselves: ``meta.user``)."""
    if isinstance(obj, dict):
        if path in obj:
            return obj[path]
        head, dot, rest = path.partition(".")
        while dot:
            child = obj.get(head)
            if child is not None:
                found = json_value(child, rest)
                if found is not None:
                    return found
            more, dot, rest = rest.partition(".")
            head = f"{head}.{more}"
    return None


@dataclass(frozen=True, slots=True)
class CompiledJson:
    time_path: str
    parse_time: Parser
    message: str | None
    program: str | None
    fields: tuple[JsonField, ...]

    def load(self, text: str) -> dict[str, Any] | None:
        if not text.startswith("{"):
            return None
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        return obj if isinstance(obj, dict) else None

    def apply(self, obj: dict[str, Any], doc: dict[str, Any]) -> None:
        for field in self.fields:
            value = json_value(obj, field.path)
            if value is None or value == "" or value == NO_VALUE:
                continue
            if field.write is not None:
                field.write(doc, value)
            elif field.pattern is not None:
                m = field.pattern(str(value))
                if m is not None:
                    write_captures(field.captures, m, doc)


@dataclass(frozen=True, slots=True, eq=False)
class CompiledDecoder:
    id: str
    title: str
    dataset: str
    order: int
    programs: tuple[str, ...]
    formats: tuple[str, ...]
    prefilter: tuple[str, ...]
    headers: tuple[CompiledHeader, ...]
    rules: tuple[CompiledRule, ...]
    json: CompiledJson | None
    constants: tuple[Writer, ...]
    path: Path | None
    shipped: bool
    rule_count: int
    samples: tuple[SampleSpec, ...]

    # ---- syslog messages -------------------------------------------------------------------
    def decode_message(self, message: str, doc: dict[str, Any]) -> bool:
        """Classify a syslog message of this service; True when a rule matched.

        The message may repeat the line header of the service's own file (``mysqld: 130916 21:30:26
        [Warning] ...``): it is read (its fields kept) and skipped; the syslog header's time stands.
        """
        text = message
        for header in self.headers:
            found = header.read(text)  # a header only when its time reads as one
            if found is not None:
                header.apply(found[0], doc)
                text = text[found[0].end() :]
                break
        if self.json is not None and text.startswith("{"):
            obj = self.json.load(text)
            if obj is not None:
                self.json.apply(obj, doc)
                inner = json_value(obj, self.json.message) if self.json.message else None
                text = inner if isinstance(inner, str) else ""
        return self.classify(text, doc)

    def classify(self, text: str, doc: dict[str, Any]) -> bool:
        """Try the rules on ``text`` in order; the first that matches fills ``doc``. Nothing is
        written when none matches."""
        line = None
        for rule in self.rules:
            if rule.on_line:
                if line is None:
                    line = doc["event"].get("original", text)
                subject = line
            else:
                subject = text
            needs = rule.needs
            if needs is not None and needs not in subject:
                continue
            m = rule.match(subject)
            if m is not None:
                for write in self.constants:
                    write(doc, None)
                rule.apply(m, doc)
                return True
        return False

    # ---- whole lines of the service's own files ----------------------------------------------
    def read_header(self, line: str) -> tuple[CompiledHeader, re.Match[str], datetime] | None:
        for header in self.headers:
            found = header.read(line)
            if found is not None:
                return header, found[0], found[1]
        return None

    @staticmethod
    def finish_header(
        found: tuple[CompiledHeader, re.Match[str], datetime], text: str, doc: dict[str, Any]
    ) -> datetime:
        """The header's fields and the line's message into ``doc``; the line's time."""
        header, m, ts = found
        header.apply(m, doc)
        doc["message"] = text
        return ts

    def parse_line(self, line: str, doc: dict[str, Any]) -> datetime | None:
        """A whole line in this service's own format: fields filled, its time; None when it is not one."""
        if self.json is not None:
            decoded = self.parse_json(line, doc, None)
            return decoded[1] if decoded is not None else None
        found = self.read_header(line)
        if found is None:
            return None
        text = line[found[1].end() :].strip()
        self.classify(text, doc)
        return self.finish_header(found, text, doc)

    def parse_json(
        self, line: str, doc: dict[str, Any], dispatch: ProgramDispatch | None
    ) -> tuple[str, datetime] | None:
        """A JSON line: (dataset, time), or None when it is not this decoder's shape."""
        spec = self.json
        assert spec is not None
        obj = spec.load(line)
        if obj is None:
            return None
        raw_time = json_value(obj, spec.time_path)
        ts = spec.parse_time(str(raw_time)) if raw_time is not None else None
        if ts is None:
            return None
        spec.apply(obj, doc)
        message = json_value(obj, spec.message) if spec.message else None
        text = message if isinstance(message, str) else ""
        if text:
            doc["message"] = text
        dataset = self.dataset
        if spec.program is not None:
            program = json_value(obj, spec.program)
            name = program if isinstance(program, str) and program else None
            if name is not None:
                doc.setdefault("process", {})["name"] = name
            if dispatch is not None:
                found = dispatch(name, text, doc)
                if found:
                    dataset = found
            if "action" not in doc["event"]:
                self.classify(text, doc)
        else:
            self.classify(text, doc)
        return dataset, ts
