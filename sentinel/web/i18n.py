"""The pages' words in English and Swahili, and dates and numbers written the way each language does.

Every string a page shows is a key in ``dashboards/i18n/<language>.yaml`` (one file per language,
so a native speaker reviews them in one place; the notices keep theirs in ``sentinel/notify/i18n``).
A test fails when a key is missing from either file or a template shows text that is not a key.
Dates and numbers go through Babel with the language's locale, in the reader's time zone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_datetime
from babel.numbers import format_decimal

from dashboards import I18N_DIR
from sentinel.errors import ConfigError
from sentinel.notify.render import fill

log = logging.getLogger(__name__)

LANGUAGES = ("en", "sw")
DEFAULT_LANGUAGE = "en"
LOCALES = {"en": "en_GB", "sw": "sw_TZ"}


def _flatten(prefix: str, value: Any, into: dict[str, str], path: Path) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, into, path)
    elif isinstance(value, str):
        into[prefix] = value
    else:
        raise ConfigError(f"{path}: {prefix!r} must be a string or a mapping of strings")


def load_language(path: Path) -> dict[str, str]:
    """One language file as ``{"dotted.key": "text"}``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: must be a mapping of strings")
    strings: dict[str, str] = {}
    _flatten("", data, strings, path)
    return strings


class PageText:
    """Every page string in every language, read once at start."""

    def __init__(self, folder: Path = I18N_DIR) -> None:
        self.strings = {language: load_language(folder / f"{language}.yaml") for language in LANGUAGES}

    def text(self, language: str, key: str, **values: Any) -> str:
        strings = self.strings.get(language) or self.strings[DEFAULT_LANGUAGE]
        template = strings.get(key)
        if template is None:
            log.error("page string %r missing in %s", key, language)
            template = self.strings[DEFAULT_LANGUAGE].get(key, key)
        return fill(template, values) if values else template

    def translator(self, language: str, timezone: str) -> Translator:
        return Translator(self, language if language in LANGUAGES else DEFAULT_LANGUAGE, ZoneInfo(timezone))


@dataclass(frozen=True)
class Translator:
    """The words and formats for one reader: ``t("nav.events")``, ``date(dt)``, ``number(n)``."""

    page_text: PageText
    language: str
    zone: ZoneInfo

    @property
    def locale(self) -> str:
        return LOCALES[self.language]

    def t(self, key: str, **values: Any) -> str:
        return self.page_text.text(self.language, key, **values)

    def date(self, value: datetime | str | None) -> str:
        """A moment in the reader's time zone and language, e.g. ``3 Des 2026 13:05:00 EAT``."""
        if value is None or value == "":
            return "–"
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return format_datetime(moment, "d MMM y HH:mm:ss zzz", tzinfo=self.zone, locale=self.locale)

    def number(self, value: float | int | None) -> str:
        if value is None:
            return "–"
        return str(format_decimal(value, locale=self.locale))
