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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from sentinel.config import DEFAULT_TIMEZONE, SocContact
from sentinel.notify.evidence import Evidence
from sentinel.notify.responses import RuleText
from sentinel.notify.strings import (
    LANGUAGES,
    MAX_VALUES,
    TemplateError,
    fill,
    listed,
    lookup,
    mrkdwn_escape,
    one_line,
    strings,
)
from sentinel.notify.view import SEVERITY_COLORS, NoticeView

TEMPLATES = ("incident_opened", "incident_escalated", "sla_breach", "incident_update")
AUDIENCES = ("institution", "soc")


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
    # What makes a notice actionable (all optional: a notice without them keeps the generic wording).
    rule_texts: Sequence[RuleText] = ()  # the incident's rules: names, plain descriptions, advice
    evidence: Evidence | None = None  # counts, times, accounts, successes (read from the store)
    ack_due_at: str | None = None  # ISO UTC: the SLA deadlines
    resolve_due_at: str | None = None
    ack_target_seconds: float | None = None
    resolve_target_seconds: float | None = None
    soc: SocContact | None = None  # who to contact; its email is also the notice's Reply-To


@dataclass(frozen=True)
class Rendered:
    title: str  # the incident's title as this notice shows it (in its language)
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
        view = NoticeView(language, audience, template, facts)
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
            title=context["n"]["title"],
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


__all__ = [
    "AUDIENCES",
    "LANGUAGES",
    "MAX_VALUES",
    "SEVERITY_COLORS",
    "TEMPLATES",
    "IncidentFacts",
    "Rendered",
    "Renderer",
    "TemplateError",
    "fill",
    "listed",
    "lookup",
    "mrkdwn_escape",
    "one_line",
    "strings",
]
