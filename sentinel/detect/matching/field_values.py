"""Reading fields of an event: the one dotted-field reader of detection.

``read_field``/``field_reader``: a field's value as stored (``a.b`` is ``{"a": {"b": ...}}``, or a
top-level key ``"a.b"`` as it is; ``a.b.*`` is every value of the object ``a.b``, which Windows
keyword rules search; ``derived.*`` names are computed, see ``derived``), for group
keys, metrics and new values. ``FieldValues``: the same fields as Sigma reads them, text values
lowercased once, read on first use; ``FieldReader`` fills a fixed set of them at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from sentinel.detect.matching.derived import DERIVED_FIELDS

ValueReader = Callable[[Mapping[str, Any]], Any]  # a field's value from a document (None: absent)
ALL_VALUES = "*"  # the last part of a field name that means every value of the object before it

_EMPTY: tuple[str, ...] = ()


def _as_text(value: Any) -> str | None:
    """How Sigma sees a field value: text. Numbers and booleans as their usual spelling."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None  # objects have no text value


# dotted field name → its parts; names come from the loaded rules, so this stays small
_PARTS: dict[str, tuple[str, ...]] = {}


def _texts(doc: Mapping[str, Any], name: str) -> tuple[str, ...]:
    return _texts_of(field_reader(name)(doc))


def _texts_of(value: Any) -> tuple[str, ...]:
    if value is None:
        return _EMPTY
    if type(value) is str:
        return (value,)
    if isinstance(value, list):
        return tuple(t for t in map(_as_text, value) if t is not None)
    text = _as_text(value)
    return _EMPTY if text is None else (text,)


class _Raw(dict[str, tuple[str, ...]]):
    """Field → its values as text, read from the document on first use."""

    __slots__ = ("doc",)

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc

    def __missing__(self, name: str) -> tuple[str, ...]:
        texts = self[name] = _texts(self.doc, name)
        return texts


class FieldValues(dict[str, tuple[str, ...]]):
    """Field → lowercased text values (the common case); ``raw`` holds them as they are.

    ``raw`` is made on first use: most events meet only case-insensitive tests, and the matcher
    builds one of these per event.
    """

    __slots__ = ("_raw", "doc")

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self._raw: _Raw | None = None

    @property
    def raw(self) -> _Raw:
        raw = self._raw
        if raw is None:
            raw = self._raw = _Raw(self.doc)
        return raw

    def __missing__(self, name: str) -> tuple[str, ...]:
        # _lookup inlined (one call per field per event is most of what reading costs)
        doc = self.doc
        if name in doc:
            value = doc[name]
        else:
            parts = _PARTS.get(name)
            if parts is None:
                parts = _PARTS[name] = tuple(name.split("."))
            if parts[-1] == ALL_VALUES:  # every value of an object (Windows keywords)
                every = tuple([t.lower() for t in _texts_of(field_reader(name)(doc))])
                self[name] = every
                return every
            value = doc.get(parts[0])
            for part in parts[1:]:
                if value is None:
                    break
                # documents decoded from JSON hold plain dicts: skip the slower ABC check for them
                if type(value) is not dict and not isinstance(value, Mapping):
                    value = None
                    break
                value = value.get(part)
        if type(value) is str:  # the usual case: one text, no tuple of texts to build first
            texts: tuple[str, ...] = (value.lower(),)
        elif value is None:
            texts = _EMPTY
        else:
            texts = tuple([t.lower() for t in _texts_of(value)])
        self[name] = texts
        return texts

    def present(self, name: str) -> bool:
        return field_reader(name)(self.doc) is not None


class FieldReader:
    """Reads a fixed set of fields into :class:`FieldValues` at once, as ``__missing__`` would.

    Fields under one parent (``winlog.event_data.*``) share the walk to it, and there is one call
    per event instead of one per field: for fields every event is tested on (the rule index's keys
    and literals), that is most of what reading them costs.
    """

    __slots__ = ("groups", "whole")

    def __init__(self, names: Iterable[str]) -> None:
        by_parent: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        whole: list[str] = []
        for name in dict.fromkeys(names):
            *parent, leaf = name.split(".")
            if leaf == ALL_VALUES:
                whole.append(name)  # read as ``__missing__`` reads them
            else:
                by_parent.setdefault(tuple(parent), []).append((name, leaf))
        self.groups = tuple((parent, tuple(leaves)) for parent, leaves in by_parent.items())
        self.whole = tuple(whole)

    def fill(self, values: FieldValues) -> None:
        doc = values.doc
        for name in self.whole:
            values[name]
        for parent, leaves in self.groups:
            node: Any = doc
            for part in parent:  # the walk of ``__missing__``, stopping where it would
                if type(node) is not dict and not isinstance(node, Mapping):
                    node = None
                    break
                node = node.get(part)
                if node is None:
                    break
            if node is not None and type(node) is not dict and not isinstance(node, Mapping):
                node = None
            for name, leaf in leaves:
                if name in values:
                    continue
                if name in doc:  # a top-level dotted key is read as it is
                    value = doc[name]
                else:
                    value = None if node is None else node.get(leaf)
                if type(value) is str:
                    texts: tuple[str, ...] = (value.lower(),)
                elif value is None:
                    texts = _EMPTY
                else:
                    texts = tuple([t.lower() for t in _texts_of(value)])
                values[name] = texts


def read_field(doc: Mapping[str, Any], name: str) -> Any:
    """The value of a dotted field (or a derived one) in a document; None when absent."""
    return field_reader(name)(doc)


@lru_cache(maxsize=4096)
def field_reader(name: str) -> ValueReader:
    """A reader of one field (``read_field`` with the name bound), its dotted parts split once: a
    shared pass reads the same few fields from every fetched event."""
    derived = DERIVED_FIELDS.get(name)
    if derived is not None:
        return derived
    parts = tuple(name.split("."))
    if len(parts) > 1 and parts[-1] == ALL_VALUES:
        return _all_values_reader(field_reader(name[: -len(ALL_VALUES) - 1]))
    if len(parts) == 2:
        return _pair_reader(name, *parts)

    def read(doc: Mapping[str, Any]) -> Any:
        if name in doc:  # top-level names with dots, e.g. "@timestamp"
            return doc[name]
        node: Any = doc
        for part in parts:
            # decoded documents hold plain dicts: the ABC check only for anything else
            if type(node) is not dict and not isinstance(node, Mapping):
                return None
            node = node.get(part)
            if node is None:
                return None
        return node

    return read


def _pair_reader(name: str, outer: str, inner: str) -> ValueReader:
    """``field_reader`` of a two-part name (``host.hostname``, most ECS fields), its loop unrolled."""

    def read(doc: Mapping[str, Any]) -> Any:
        if name in doc:
            return doc[name]
        if type(doc) is not dict and not isinstance(doc, Mapping):
            return None
        node = doc.get(outer)
        if node is None or (type(node) is not dict and not isinstance(node, Mapping)):
            return None
        return node.get(inner)

    return read


def _all_values_reader(read_object: ValueReader) -> ValueReader:
    """``a.b.*``: the values of the object at ``a.b`` (lists flattened), None when it has none."""

    def read(doc: Mapping[str, Any]) -> Any:
        node = read_object(doc)
        if type(node) is not dict and not isinstance(node, Mapping):
            return None
        out: list[Any] = []
        for value in node.values():
            if isinstance(value, list):
                out.extend(value)
            elif value is not None:
                out.append(value)
        return out or None

    return read
