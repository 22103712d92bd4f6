"""One notice's facts in one language: labels looked up, times local, the rule's own advice filled in.

The view decides *what* a notice says; the templates only arrange it. For an institution:

- **what happened**: the rule's name and plain description in the notice's language, how many
  events and alerts, first and last seen (the institution's time zone), where from, which systems,
  which accounts exist and which names were only guessed, and whether a login succeeded;
- **what to do**: the rule's own steps with the incident's addresses and hosts, the rule's account
  steps only for accounts that exist (never for guessed names), then the template's closing step;
- **by when**: the SLA deadlines and what happens when one is missed;
- **who to contact**: the SOC contact from the settings (its email is the Reply-To).

A notice without rule texts or evidence (a rule with no response section, an old incident) keeps
the generic wording of the i18n file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sentinel.events import parse_timestamp
from sentinel.notify.responses import RuleText
from sentinel.notify.strings import TemplateError, fill, listed, lookup, mrkdwn_escape, strings

if TYPE_CHECKING:
    from sentinel.notify.render import IncidentFacts

SEVERITY_COLORS = {"critical": "#b00020", "high": "#e8590c", "medium": "#f2c744", "low": "#2f80ed"}
DEFAULT_COLOR = "#8a94a6"
_SLACK_TEXT = 2900  # Slack's section text limit is 3000


def duration_words(language: str, seconds: float) -> str:
    """``15 minutes`` / ``1 hour`` / ``3 days`` (``dakika 15`` / ``saa 1`` / ``siku 3``)."""
    minutes = round(seconds / 60)
    for unit, size in (("days", 1440), ("hours", 60)):
        if minutes >= size and minutes % size == 0:
            n = minutes // size
            return fill(str(lookup(language, f"duration.{unit}_{'one' if n == 1 else 'other'}")), {"n": n})
    return fill(str(lookup(language, f"duration.minutes_{'one' if minutes == 1 else 'other'}")), {"n": minutes})


def count_words(value: int) -> str:
    """Whole numbers with thousands separators (the same in English and Swahili: 12,345)."""
    return f"{value:,}"


class NoticeView:
    """The facts of one notice in one language and for one audience."""

    def __init__(self, language: str, audience: str, template: str, facts: IncidentFacts) -> None:
        self.lang = language
        self.audience = audience
        self.template = template
        self.facts = facts
        self.prefix = f"notice.{template}.{audience}"
        self.zone = ZoneInfo(facts.timezone)
        self.rules: Sequence[RuleText] = facts.rule_texts
        self.advice = next((r.response.text(language) for r in self.rules if r.response), None)
        sla_kind = str(facts.extra.get("sla", ""))
        self.fill_values = {
            "severity": self.severity_label(facts.severity),
            "institution": facts.institution_name,
            "title": self.title(),
            "state": self.state_label(facts.state),
            "sla": lookup(language, f"sla.{sla_kind}") if sla_kind in ("acknowledge", "resolve") else sla_kind,
        }

    # words --------------------------------------------------------------------------------
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

    def title(self) -> str:
        """The rule's name in this language and what it is about; the stored title without rule texts.

        The stored incident title is built from the English rule title, so it never appears in a
        notice whose rule has a response section.
        """
        if self.advice is None:
            return self.facts.title
        ev = self.facts.evidence
        about = (ev.addresses or ev.hosts) if ev is not None else ()
        if not about:
            about = tuple(self.facts.observables.get("ip", ())) or tuple(self.facts.systems)
        return f"{self.advice.name} ({listed(list(about)[:3])})" if about else self.advice.name

    def rule_names(self) -> list[str]:
        return [r.name(self.lang) for r in self.rules] or list(self.facts.rules)

    # what happened ------------------------------------------------------------------------
    def fact_rows(self) -> list[tuple[str, str]]:
        """Label/value rows: systems, observables, detected-by. With evidence the accounts are split."""
        rows: list[tuple[str, str]] = []
        ev = self.facts.evidence
        if ev is not None:
            return self._evidence_rows()
        if self.facts.systems:
            rows.append((self.t("label.systems"), listed(self.facts.systems)))
        for kind, values in self.facts.observables.items():
            if values:
                label_key = f"observable.{kind}" if kind in strings(self.lang)["observable"] else "observable.other"
                rows.append((self.t(label_key), listed(values)))
        names = self.rule_names()
        if names:
            rows.append((self.t("label.rules"), "; ".join(names)))
        return rows

    def _evidence_rows(self) -> list[tuple[str, str]]:
        ev = self.facts.evidence
        assert ev is not None
        rows: list[tuple[str, str]] = []
        names = self.rule_names()
        if names and not (len(names) == 1 and self.advice is not None):  # one rule: its name is the title
            rows.append((self.t("label.rules"), "; ".join(names)))
        if ev.alerts:
            rows.append(
                (self.t("label.events"), self.t("what.events", events=count_words(ev.attempts), alerts=ev.alerts))
            )
            rows.append((self.t("label.first_seen"), self.local_time(ev.first_seen)))
            rows.append((self.t("label.last_seen"), self.local_time(ev.last_seen)))
        if ev.addresses:
            rows.append((self.t("label.addresses"), listed(ev.addresses)))
        if ev.hosts:
            rows.append((self.t("label.systems"), listed(ev.hosts)))
        if ev.existing_accounts:
            rows.append((self.t("label.existing_accounts"), listed(sorted(ev.existing_accounts))))
        if ev.guessed_accounts:
            rows.append((self.t("label.guessed_accounts"), listed(sorted(ev.guessed_accounts))))
        if ev.checked_success:
            if ev.successes:
                answer = self.t(
                    "what.success_yes", count=count_words(ev.successes), accounts=listed(ev.success_accounts) or "-"
                )
            else:
                answer = self.t("what.success_no")
            rows.append((self.t("label.success_after"), answer))
        for kind in ("hash", "url", "domain"):
            values = self.facts.observables.get(kind, ())
            if values:
                rows.append((self.t(f"observable.{kind}"), listed(values)))
        return rows

    def description(self) -> str | None:
        return self.advice.description if self.advice is not None else None

    def alarm(self) -> str | None:
        """A line that must not be missed: a login succeeded from the attacking address."""
        ev = self.facts.evidence
        if ev is not None and ev.successes:
            return self.t("what.success_alarm", accounts=listed(ev.success_accounts) or "-")
        return None

    # what to do ---------------------------------------------------------------------------
    def _values(self) -> dict[str, str]:
        ev = self.facts.evidence
        addresses = ev.addresses if ev is not None else tuple(self.facts.observables.get("ip", ()))
        hosts = ev.hosts if ev is not None else tuple(self.facts.systems)
        return {
            "addresses": listed(addresses) if addresses else self.t("fallback.addresses"),
            "hosts": listed(hosts) if hosts else self.t("fallback.hosts"),
        }

    def actions(self) -> list[str]:
        """The steps, in order. Account steps name only accounts that exist."""
        if (
            self.audience != "institution"
            or self.advice is None
            or self.template
            not in (
                "incident_opened",
                "incident_escalated",
            )
        ):
            return self.tl(self.prefix + ".actions")
        values = self._values()
        steps = [fill(step, values) for step in self.advice.steps]
        ev = self.facts.evidence
        if ev is not None and ev.successes:  # a guessed password worked: that comes before anything else
            steps.insert(0, self.t("advice.success_first", accounts=listed(ev.success_accounts) or "-", **values))
        existing = ev.existing_accounts if ev is not None else ()
        if existing:
            accounts = {**values, "accounts": listed(sorted(existing))}
            steps += [fill(step, accounts) for step in self.advice.account_steps]
        return [*steps, *self.tl(self.prefix + ".closing")]

    # by when ------------------------------------------------------------------------------
    def deadlines(self) -> list[tuple[str, str]]:
        f = self.facts
        rows: list[tuple[str, str]] = []
        if f.ack_due_at:
            rows.append((self.t("label.ack_by"), self._due(f.ack_due_at, f.ack_target_seconds)))
        if f.resolve_due_at:
            rows.append((self.t("label.resolve_by"), self._due(f.resolve_due_at, f.resolve_target_seconds)))
        if rows:
            rows.append((self.t("label.if_missed"), self.t(f"deadline.if_missed_{self.audience}")))
        return rows

    def _due(self, due_at: str, target_seconds: float | None) -> str:
        when = self.local_time(due_at)
        if target_seconds is None:
            return when
        return self.t("deadline.due", when=when, within=duration_words(self.lang, target_seconds))

    # who to contact -----------------------------------------------------------------------
    def contact_lines(self) -> list[str]:
        soc = self.facts.soc
        if soc is None:
            return []
        lines = []
        if soc.email:
            lines.append(self.t("contact.reply", name=soc.name, email=soc.email))
        else:
            lines.append(self.t("contact.name", name=soc.name))
        if soc.phone:
            lines.append(self.t("contact.phone", phone=soc.phone))
        if soc.hours:
            lines.append(self.t("contact.hours", hours=soc.hours))
        if self.facts.ack_url:
            lines.append(self.t("contact.note"))
        return lines

    def footer(self) -> str:
        soc = self.facts.soc
        if soc is not None and soc.email:
            return self.t("footer_reply", email=soc.email)
        return self.t("footer")

    # the template context -----------------------------------------------------------------
    def context(self) -> dict[str, Any]:
        f = self.facts
        n = {
            "title": self.fill_values["title"],
            "institution": f.institution_name,
            "severity": self.fill_values["severity"],
            "state": self.fill_values["state"],
            "opened": self.local_time(f.opened_at),
            "facts": self.fact_rows(),
            "description": self.description(),
            "alarm": self.alarm(),
            "actions": self.actions(),
            "deadlines": self.deadlines(),
            "contact": self.contact_lines(),
            "footer": self.footer(),
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
            "color": SEVERITY_COLORS.get(f.severity, DEFAULT_COLOR),
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
        headline = f"*{e(self.t(self.prefix + '.headline'))}*\n{e(self.fill_values['title'])}"
        if self.description():
            headline += f"\n{e(str(self.description()))}"
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline[:_SLACK_TEXT]}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{e(label)}*\n{e(value)}"} for label, value in fields],
            },
        ]
        alarm = self.alarm()
        if alarm:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f":warning: *{e(alarm)}*"}})
        rows = self.fact_rows() + self.deadlines()[:2]
        if rows:
            lines = "\n".join(f"*{e(label)}:* {e(value)}" for label, value in rows)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": lines[:_SLACK_TEXT]}})
        if f.extra.get("note"):
            note = e(str(f.extra["note"]))[:_SLACK_TEXT]
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
