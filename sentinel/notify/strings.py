"""The words of notices: the i18n files (one per language, for review in one place) and how values
are put into them. Placeholders (``{institution}``) are filled in one pass, so a value containing
``{title}`` is not expanded again."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sentinel.errors import SentinelError

LANGUAGES = ("en", "sw")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
MAX_VALUES = 10  # per observable kind shown in a notice
_MAX_SUBJECT = 200


class TemplateError(SentinelError):
    """A notice template or translation is missing or broken."""


def mrkdwn_escape(text: str) -> str:
    """Slack's escaping for text in mrkdwn fields: ``&``, ``<``, ``>`` (in that order)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str, limit: int = _MAX_SUBJECT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@cache
def strings(language: str) -> dict[str, Any]:
    if language not in LANGUAGES:
        raise TemplateError(f"no notice strings for language {language!r}; known: {', '.join(LANGUAGES)}")
    text = resources.files("sentinel.notify").joinpath("i18n").joinpath(f"{language}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise TemplateError(f"i18n/{language}.yaml must be a mapping")
    return data


def lookup(language: str, key: str) -> Any:
    node: Any = strings(language)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise TemplateError(f"i18n/{language}.yaml has no string {key!r}")
        node = node[part]
    return node


def fill(text: str, values: Mapping[str, Any]) -> str:
    """Replace ``{name}`` placeholders in one pass; an unknown name is an error in the strings file."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise TemplateError(f"placeholder {{{name}}} has no value in {text!r}")
        return str(values[name])

    return _PLACEHOLDER.sub(one, text)


def listed(values: Sequence[str]) -> str:
    shown = [str(v) for v in values[:MAX_VALUES]]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" (+{more})" if more > 0 else "")
