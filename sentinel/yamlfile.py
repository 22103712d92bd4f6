"""Load YAML while remembering where each key was, so errors can name the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sentinel.errors import ConfigError, Location

KeyPath = tuple[str | int, ...]


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records the line of every mapping key and sequence item."""


def _compose_with_lines(text: str, path: str) -> tuple[Any, dict[KeyPath, int]]:
    lines: dict[KeyPath, int] = {}
    try:
        node = yaml.compose(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", Location(path, line)) from exc
    if node is None:
        return None, lines

    def walk(n: yaml.Node, key_path: KeyPath) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in n.value:
                key = key_node.value
                if key in seen:
                    raise ConfigError(
                        f"duplicate key {key!r}",
                        Location(path, key_node.start_mark.line + 1, _dotted((*key_path, key))),
                    )
                seen.add(key)
                lines[(*key_path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*key_path, key))
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                lines[(*key_path, index)] = item.start_mark.line + 1
                walk(item, (*key_path, index))

    walk(node, ())
    data = yaml.load(text, Loader=yaml.SafeLoader)
    return data, lines


def _dotted(key_path: KeyPath) -> str:
    text = ""
    for part in key_path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


class YamlDocument:
    """Parsed YAML data plus the line of every key path, for error messages."""

    def __init__(self, path: str, data: Any, lines: dict[KeyPath, int]) -> None:
        self.path = path
        self.data = data
        self._lines = lines

    @classmethod
    def load(cls, path: str | Path) -> YamlDocument:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ConfigError("file not found", Location(str(p))) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read file: {exc}", Location(str(p))) from exc
        return cls.parse(text, str(p))

    @classmethod
    def parse(cls, text: str, path: str = "<string>") -> YamlDocument:
        data, lines = _compose_with_lines(text, path)
        return cls(path, data, lines)

    def location(self, key_path: KeyPath) -> Location:
        """The nearest known line for a key path (falls back to its parents)."""
        probe = tuple(key_path)
        while probe:
            if probe in self._lines:
                return Location(self.path, self._lines[probe], _dotted(tuple(key_path)))
            probe = probe[:-1]
        return Location(self.path, None, _dotted(tuple(key_path)) or None)

    def error(self, message: str, key_path: KeyPath) -> ConfigError:
        return ConfigError(message, self.location(key_path))


def validation_error_to_config_error(doc: YamlDocument, exc: Any, prefix: KeyPath = ()) -> ConfigError:
    """Turn a pydantic ValidationError into a ConfigError naming the file, line and key."""
    found: list[tuple[Location, str]] = []
    for err in exc.errors():
        location = doc.location(prefix + tuple(err.get("loc", ())))
        msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid value")
        found.append((location, msg))
    if len(found) == 1:
        return ConfigError(found[0][1], found[0][0])
    return ConfigError("; ".join(f"{loc}: {msg}" for loc, msg in found), found[0][0])
