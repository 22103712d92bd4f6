"""Templates and strings: every template renders in both languages, and hostile values stay inert."""

from __future__ import annotations

from typing import Any

import pytest

from sentinel.notify.render import (
    AUDIENCES,
    LANGUAGES,
    TEMPLATES,
    IncidentFacts,
    Renderer,
    TemplateError,
    fill,
    mrkdwn_escape,
    strings,
)

HOSTILE = "{{ 7*7 }} <script>alert(1)</script> <!channel> & {title}"


def facts(**changes: Any) -> IncidentFacts:
    base: dict[str, Any] = {
        "incident_id": "inc1",
        "title": f"Brute force by {HOSTILE}",
        "severity": "critical",
        "state": "new",
        "institution_id": "moh",
        "institution_name": "Ministry of Health",
        "opened_at": "2025-03-01T10:00:00.000Z",
        "systems": ["web01.moh.go.tz"],
        "observables": {"ip": ["203.0.113.9"], "user": [HOSTILE]},
        "rules": ["ssh_brute_force"],
        "url": "https://sentinel.example/incidents/inc1",
        "ack_url": "https://sentinel.example/ack/TOKEN",
        "ack_expires_at": "2025-03-04T10:00:00.000Z",
        "extra": {
            "sla": "acknowledge",
            "due_at": "2025-03-01T10:15:00.000Z",
            "previous_severity": "high",
            "note": HOSTILE,
        },
    }
    base.update(changes)
    return IncidentFacts(**base)


def _keys(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, dict):
        out: set[str] = set()
        for key, value in node.items():
            out |= _keys(value, f"{prefix}{key}.")
        return out
    return {prefix.rstrip(".") + (f"[{len(node)}]" if isinstance(node, list) else "")}


def test_swahili_has_exactly_the_english_keys() -> None:
    assert _keys(strings("sw")) == _keys(strings("en"))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("audience", AUDIENCES)
def test_every_template_renders(language: str, template: str, audience: str) -> None:
    out = Renderer().render(template, audience, language, facts())
    headline = strings(language)["notice"][template][audience]["headline"]
    assert headline.split("{")[0].strip() in out.text
    assert out.subject and "\n" not in out.subject
    assert out.html.startswith("<!DOCTYPE html>") and f'lang="{language}"' in out.html
    assert out.slack_blocks and out.color == "#b00020"


def test_language_decides_the_words() -> None:
    en = Renderer().render("incident_opened", "institution", "en", facts())
    sw = Renderer().render("incident_opened", "institution", "sw", facts())
    assert en.subject.startswith("[Critical] Security incident at Ministry of Health")
    assert sw.subject.startswith("[Dharura] Tukio la usalama katika Ministry of Health")
    assert "What to do now" in en.text and "Hatua za kuchukua sasa" in sw.text
    assert "https://sentinel.example/ack/TOKEN" in en.text and 'href="https://sentinel.example/ack/TOKEN"' in en.html
    # times are shown in the institution's zone (Africa/Dar_es_Salaam, UTC+3)
    assert "2025-03-01 13:00 EAT" in en.text


@pytest.mark.parametrize("template", TEMPLATES)
def test_hostile_values_are_inert_everywhere(template: str) -> None:
    out = Renderer().render(template, "institution", "en", facts())
    # plain text: literal, never evaluated or expanded
    assert "{{ 7*7 }} <script>" in out.text and "49 <script>" not in out.text
    assert "& {title}" in out.text  # a placeholder inside a value is not filled
    # HTML: escaped, no live tag
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "&lt;!channel&gt;" in out.html
    # Slack: mrkdwn-escaped, so no mention and no fake link
    blob = repr(out.slack_blocks)
    assert "<!channel>" not in blob and "&lt;!channel&gt;" in blob and "&lt;script&gt;" in blob
    assert "&amp; {title}" in blob


def test_mrkdwn_escape_order() -> None:
    assert mrkdwn_escape("a & <b> &lt;") == "a &amp; &lt;b&gt; &amp;lt;"


def test_fill_is_one_pass_and_strict() -> None:
    assert fill("{a} {b}", {"a": "{b}", "b": "x"}) == "{b} x"
    with pytest.raises(TemplateError, match="placeholder"):
        fill("{missing}", {})


def test_unknown_template_language_or_audience() -> None:
    with pytest.raises(TemplateError, match="unknown notice template"):
        Renderer().render("nope", "soc", "en", facts())
    with pytest.raises(TemplateError, match="audience"):
        Renderer().render("incident_opened", "press", "en", facts())
    with pytest.raises(TemplateError, match="language"):
        Renderer().render("incident_opened", "soc", "fr", facts())


def test_sandbox_refuses_unsafe_template_code(tmp_path: Any) -> None:
    """Even a template someone edits cannot reach Python internals."""
    (tmp_path / "incident_opened.subject.j2").write_text("{{ t.__globals__ }}")
    with pytest.raises(TemplateError, match=r"unsafe|__globals__"):
        Renderer(str(tmp_path)).render("incident_opened", "soc", "en", facts())
