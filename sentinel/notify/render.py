"""Render a notice's subject, text, HTML and Slack blocks from Jinja2 templates and the i18n files.

Safety, channel by channel, for values an attacker may control (user names, URLs, hostnames
from logs, incident titles built from them):

- Templates run in a ``SandboxedEnvironment`` and values are only ever *inserted* into them,
  never used as template source, so ``{{ 7*7 }}`` in a user name stays ``{{ 7*7 }}``.
- HTML is autoescaped (``<script>`` becomes ``&lt;script&gt;``).
- Slack mrkdwn gets ``&``, ``<`` and ``>`` escaped (Slack's documented escaping), so ``<!channel>``
  shows literally instead of pinging a channel and ``<http://x|y>`` cannot fake a link.
- Plain text is inserted as it is; it is never evaluated. Subjects lose line breaks.

All words come from ``i18n/<language>.yaml`` (one file per language, for review in one place);
templates only arrange them. Placeholders in those strings (``{institution}``) are filled in one
pass, so a value containing ``{title}`` is not expanded again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from sentinel.config import DEFAULT_TIMEZONE
from sentinel.errors import SentinelError
from sentinel.events import parse_timestamp

LANGUAGES = ("en", "sw")
TEMPLATES = ("incident_opened", "incident_escalated", "sla_breach", "incident_update")
AUDIENCES = ("institution", "soc")
SEVERITY_COLORS = {"critical": "#b00020", "high": "#e8590c", "medium": "#f2c744", "low": "#2f80ed"}
_DEFAULT_COLOR = "#8a94a6"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_MAX_VALUES = 10  # per observable kind shown in a notice
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


@dataclass(frozen=True)
class IncidentFacts:
    """What a notice says about an incident, independent of language and channel."""

    incident_id: str
    title: str
    severity: str  # critical/high/medium/low
    state: str
    institution_id: str | None
    institution_name: str
    timezone: str = DEFAULT_TIMEZONE
    opened_at: str | None = None  # ISO UTC
    systems: Sequence[str] = ()
    observables: Mapping[str, Sequence[str]] = field(default_factory=dict)  # ip/user/host/hash/url/domain
    rules: Sequence[str] = ()
    url: str | None = None  # the incident page
    ack_url: str | None = None
    ack_expires_at: str | None = None  # ISO UTC
    extra: Mapping[str, Any] = field(default_factory=dict)  # template-specific: previous_severity, sla, due_at, note


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    slack_text: str  # mrkdwn fallback (notifications, clients without blocks)
    slack_blocks: list[dict[str, Any]]
    color: str


class Renderer:
    """Renders the shipped templates (or those in ``template_dir``) for a language and audience."""

    def __init__(self, template_dir: str | None = None) -> None:
        folder = template_dir or str(resources.files("sentinel.notify").joinpath("templates"))
        common: dict[str, Any] = {
            "loader": FileSystemLoader(folder),
            "undefined": StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
            "keep_trailing_newline": True,
        }
        self._html = SandboxedEnvironment(autoescape=True, **common)
        self._text = SandboxedEnvironment(autoescape=False, **common)

    def render(self, template: str, audience: str, language: str, facts: IncidentFacts) -> Rendered:
        if template not in TEMPLATES:
            raise TemplateError(f"unknown notice template {template!r}; known: {', '.join(TEMPLATES)}")
        if audience not in AUDIENCES:
            raise TemplateError(f"unknown audience {audience!r}; known: {', '.join(AUDIENCES)}")
        view = _View(language, audience, template, facts)
        context = view.context()
        try:
            subject = one_line(self._text.get_template(f"{template}.subject.j2").render(context))
            context["subject"] = subject
            text = self._text.get_template(f"{template}.text.j2").render(context)
            html = self._html.get_template(f"{template}.html.j2").render(context)
        except TemplateError:
            raise
        except Exception as exc:  # jinja2 errors of every kind: name the template
            raise TemplateError(f"notice template {template} ({language}, {audience}) failed: {exc}") from exc
        return Rendered(
            subject=subject,
            text=text,
            html=html,
            slack_text=mrkdwn_escape(subject),
            slack_blocks=view.slack_blocks(),
            color=context["color"],
        )

    def page(self, name: str, language: str, **values: Any) -> str:
        """A small standalone HTML page (autoescaped) using the language's strings: ``t`` is provided."""

        def t(key: str, **more: Any) -> str:
            value = lookup(language, key)
            if not isinstance(value, str):
                raise TemplateError(f"i18n/{language}.yaml: {key!r} is not a string")
            return fill(value, more)

        try:
            return self._html.get_template(name).render({"t": t, "lang": language, **values})
        except TemplateError:
            raise
        except Exception as exc:
            raise TemplateError(f"page template {name} ({language}) failed: {exc}") from exc


class _View:
    """The facts in one language: labels looked up, times local, values listed."""

    def __init__(self, language: str, audience: str, template: str, facts: IncidentFacts) -> None:
        self.lang = language
        self.facts = facts
        self.prefix = f"notice.{template}.{audience}"
        self.zone = ZoneInfo(facts.timezone)
        sla_kind = str(facts.extra.get("sla", ""))
        self.fill_values = {
            "severity": self.severity_label(facts.severity),
            "institution": facts.institution_name,
            "title": facts.title,
            "state": self.state_label(facts.state),
            "sla": lookup(language, f"sla.{sla_kind}") if sla_kind in ("acknowledge", "resolve") else sla_kind,
        }

    def t(self, key: str, **values: Any) -> str:
        value = lookup(self.lang, key)
        if not isinstance(value, str):
            raise TemplateError(f"i18n/{self.lang}.yaml: {key!r} is not a string")
        return fill(value, {**self.fill_values, **values})

    def tl(self, key: str) -> list[str]:
        value = lookup(self.lang, key)
        if not isinstance(value, list):
            raise TemplateError(f"i18n/{self.lang}.yaml: {key!r} is not a list")
        return [fill(str(v), self.fill_values) for v in value]

    def severity_label(self, severity: str) -> str:
        try:
            return str(lookup(self.lang, f"severity.{severity}"))
        except TemplateError:
            return severity

    def state_label(self, state: str) -> str:
        try:
            return str(lookup(self.lang, f"state.{state}"))
        except TemplateError:
            return state

    def local_time(self, value: str | datetime | None) -> str:
        if value is None or value == "":
            return "-"
        try:
            ts = value if isinstance(value, datetime) else parse_timestamp(str(value))
        except ValueError:
            return str(value)
        return ts.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def fact_rows(self) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        if self.facts.systems:
            rows.append((self.t("label.systems"), _listed(self.facts.systems)))
        for kind, values in self.facts.observables.items():
            if values:
                label_key = f"observable.{kind}" if kind in strings(self.lang)["observable"] else "observable.other"
                rows.append((self.t(label_key), _listed(values)))
        if self.facts.rules:
            rows.append((self.t("label.rules"), "; ".join(self.facts.rules)))
        return rows

    def context(self) -> dict[str, Any]:
        f = self.facts
        n = {
            "title": f.title,
            "institution": f.institution_name,
            "severity": self.fill_values["severity"],
            "state": self.fill_values["state"],
            "opened": self.local_time(f.opened_at),
            "facts": self.fact_rows(),
            "url": f.url,
            "ack_url": f.ack_url,
            "ack_expires": self.local_time(f.ack_expires_at),
        }
        return {
            "t": self.t,
            "tl": self.tl,
            "severity_label": self.severity_label,
            "local_time": self.local_time,
            "p": self.prefix,
            "n": n,
            "extra": dict(f.extra),
            "sla": self.fill_values["sla"],
            "lang": self.lang,
            "color": SEVERITY_COLORS.get(f.severity, _DEFAULT_COLOR),
        }

    def slack_blocks(self) -> list[dict[str, Any]]:
        """Block Kit for the message: every value mrkdwn-escaped; the link is a button."""
        e = mrkdwn_escape
        f = self.facts
        fields = [
            (self.t("label.institution"), f.institution_name),
            (self.t("label.severity"), self.fill_values["severity"]),
            (self.t("label.state"), self.fill_values["state"]),
            (self.t("label.opened"), self.local_time(f.opened_at)),
        ]
        blocks: list[dict[str, Any]] = [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{e(self.t(self.prefix + '.headline'))}*\n{e(f.title)}"},
            },
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{e(label)}*\n{e(value)}"} for label, value in fields],
            },
        ]
        rows = self.fact_rows()
        if rows:
            lines = "\n".join(f"*{e(label)}:* {e(value)}" for label, value in rows)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": lines[:2900]}})
        if f.extra.get("note"):
            note = e(str(f.extra["note"]))[:2900]
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{e(self.t('label.note'))}:* {note}"}}
            )
        if f.url:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": self.t("label.view")[:75]},
                            "url": f.url,
                            "action_id": "open_incident",
                        }
                    ],
                }
            )
        return blocks


def _listed(values: Sequence[str]) -> str:
    shown = [str(v) for v in values[:_MAX_VALUES]]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" (+{more})" if more > 0 else "")
