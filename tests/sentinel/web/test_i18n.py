"""Every page string exists in English and Swahili, and no page shows words that are not in the files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboards import I18N_DIR, TEMPLATES_DIR
from sentinel.auth import Role
from sentinel.incidents.model import IncidentState, Severity
from sentinel.web.i18n import LANGUAGES, PageText, load_language

WEB_PACKAGE = Path(__file__).resolve().parents[3] / "sentinel" / "web"
# t("key") / t('key') in templates and in the web package's Python code.
KEY_CALL = re.compile(r"""\bt(?:\.t)?\(\s*["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")
# Keys built in templates from a prefix and a value: every value needs its key.
DYNAMIC = {
    "severity.": [s.value for s in Severity],
    "state.": [s.value for s in IncidentState],
    "role.": [r.value for r in Role],
    "language.": list(LANGUAGES),
}
# Text a template may show as it is: the product's name and symbols; commands and query syntax
# (inside <code>, or the search box's example) are not words of a language.
ALLOWED_TEXT = {"Sentinel"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*TEMPLATES_DIR.glob("*.html"), *WEB_PACKAGE.rglob("*.py")]:
        keys.update(KEY_CALL.findall(path.read_text(encoding="utf-8")))
    for prefix, values in DYNAMIC.items():
        keys.update(prefix + value for value in values)
    return keys


def test_both_languages_have_the_same_strings_and_placeholders() -> None:
    en = load_language(I18N_DIR / "en.yaml")
    for language in LANGUAGES:
        strings = load_language(I18N_DIR / f"{language}.yaml")
        assert set(strings) == set(en), f"{language}.yaml: keys differ: {sorted(set(strings) ^ set(en))}"
        for key, text in strings.items():
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(en[key])), f"{language}.yaml {key}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_a_page_uses_is_in_the_language_file(language: str) -> None:
    strings = PageText().strings[language]
    missing = sorted(k for k in _used_keys() if k not in strings)
    assert not missing, f"dashboards/i18n/{language}.yaml lacks {missing}"
    assert len(_used_keys()) > 100  # the scan finds the pages' strings at all


def _visible_text(template: str) -> list[str]:
    text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", template, flags=re.S)
    text = re.sub(r"<(script|style|code)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<[^>]*>", " ", text)
    return [w for w in re.findall(r"[^\W\d_][\w'’-]*", text) if w not in ALLOWED_TEXT]


def _worded_attributes(template: str) -> list[str]:
    found = []
    for name, value in re.findall(r"""\b(placeholder|title|aria-label|alt|value)=["']([^"']*)["']""", template):
        plain = re.sub(r"\{\{.*?\}\}", "", value)
        if name == "placeholder":
            continue  # the search box shows an example query: syntax, not words
        if re.search(r"[A-Za-z]{2,}", plain):
            found.append(f'{name}="{value}"')
    return found


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES_DIR.glob("*.html")))
def test_templates_show_no_text_outside_the_language_files(template: str) -> None:
    source = (TEMPLATES_DIR / template).read_text(encoding="utf-8")
    assert _visible_text(source) == [], f"{template}: words not taken from the language files"
    assert _worded_attributes(source) == [], f"{template}: attributes with words not taken from the language files"


def test_the_check_catches_a_bare_word() -> None:
    assert _visible_text("<p>{{ t('x.y') }} Hello</p>") == ["Hello"]
    assert _worded_attributes('<a title="Open it">') == ['title="Open it"']
