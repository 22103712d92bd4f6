"""The report's words: ``i18n/<language>.yaml`` (one file per language, for review in one place)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sentinel.errors import SentinelError

LANGUAGES = ("en", "sw")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class WordsError(SentinelError):
    """A report string is missing or its placeholders do not fit."""


@cache
def strings(language: str) -> dict[str, Any]:
    if language not in LANGUAGES:
        raise WordsError(f"no report strings for language {language!r}; known: {', '.join(LANGUAGES)}")
    text = resources.files("dashboards.reports").joinpath("i18n", f"{language}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise WordsError(f"reports i18n/{language}.yaml must be a mapping")
    return data


def fill(text: str, values: Mapping[str, Any]) -> str:
    """One pass: a value holding ``{x}`` is not expanded again; a missing value is an error."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise WordsError(f"placeholder {{{name}}} has no value in {text!r}")
        return str(values[name])

    return _PLACEHOLDER.sub(one, text)


class Words:
    def __init__(self, language: str) -> None:
        self.language = language
        self.data = strings(language)

    def lookup(self, key: str) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise WordsError(f"reports i18n/{self.language}.yaml has no string {key!r}")
            node = node[part]
        return node

    def t(self, key: str, **values: Any) -> str:
        value = self.lookup(key)
        if not isinstance(value, str):
            raise WordsError(f"reports i18n/{self.language}.yaml: {key!r} is not a string")
        return fill(value, values)

    def label(self, group: str, key: str) -> str:
        """A label from a group (category, tactic, area...), or ``other``'s, or the key itself."""
        table = self.data.get(group) or {}
        if key in table:
            return str(table[key])
        return str(table.get("other", key))
