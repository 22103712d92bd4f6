"""``NoticeFactory``: turn an incident and a template into ready-to-queue notices.

Institution notices go to each of the institution's contacts whose role is listed in
``notify.contact_roles``, in the institution's language, each with its own signed
acknowledgement link. SOC notices go to the SOC Slack channel, the SOC manager emails or the
configured webhooks, in ``notify.soc_language``.

Ids are deterministic (``make_notice_id``) from (channel, template, incident, reason,
recipient): the same playbook step for the same alert makes the same ids, so queueing them a
second time is a ``ConflictError`` and nothing is sent twice. ``reason`` is the caller's
idempotency key, e.g. ``playbook:brute_force:notify-institution:<alert id>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sentinel.config import Settings
from sentinel.events import format_timestamp
from sentinel.incidents.model import Incident
from sentinel.incidents.sla import targets
from sentinel.inventory import Inventory
from sentinel.notify.ack import AckSigner
from sentinel.notify.evidence import Evidence, gather
from sentinel.notify.notice import ChannelName, Notice, make_notice_id, new_notice
from sentinel.notify.render import IncidentFacts, Renderer
from sentinel.notify.responses import RuleTexts
from sentinel.store.base import Store

log = logging.getLogger(__name__)


def public_base_url(settings: Settings) -> str:
    """Where people reach the web service, for links in notices."""
    if settings.api.public_url:
        return settings.api.public_url.rstrip("/")
    host = settings.api.host if settings.api.host not in ("0.0.0.0", "::") else "localhost"
    return f"http://{host}:{settings.api.port}"


class NoticeFactory:
    def __init__(
        self,
        settings: Settings,
        inventory: Inventory,
        ack_signer: AckSigner,
        *,
        renderer: Renderer | None = None,
        clock: Callable[[], datetime] | None = None,
        store: Store | None = None,
        rule_texts: RuleTexts | None = None,
    ) -> None:
        """``store`` lets notices say what the store knows (counts, accounts, successes), read within
        the incident's institution; ``rule_texts`` gives rule names and advice. Without them a notice
        keeps the generic wording."""
        self.settings = settings
        self.inventory = inventory
        self.ack_signer = ack_signer
        self.renderer = renderer or Renderer()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.store = store
        self.rule_texts = rule_texts or RuleTexts()

    # public -------------------------------------------------------------------------------
    def for_institution(
        self, incident: Incident, template: str, *, reason: str, extra: Mapping[str, Any] | None = None
    ) -> list[Notice]:
        """One email per security contact of the incident's institution, in its language."""
        institution = self.inventory.get(incident.institution_id) if incident.institution_id else None
        if institution is None:
            log.warning(
                "incident %s has no known institution (%s): no institution notice", incident.id, incident.institution_id
            )
            return []
        roles = set(self.settings.notify.contact_roles)
        emails = list(dict.fromkeys(c.email for c in institution.contacts if c.role in roles))
        if not emails:
            log.warning("institution %s has no contact with a role in %s: no notice", institution.id, sorted(roles))
            return []
        now = self._clock()
        ttl = timedelta(hours=self.settings.notify.ack_ttl_hours)
        evidence = self._evidence(incident, now)
        notices = []
        for email in emails:
            token = self.ack_signer.make(incident.id, institution.id, email, ttl)
            facts = self._facts(
                incident,
                extra,
                ack_url=f"{public_base_url(self.settings)}/ack/{token}",
                ack_until=now + ttl,
                evidence=evidence,
            )
            rendered = self.renderer.render(template, "institution", institution.language, facts)
            notices.append(
                new_notice(
                    now=now,
                    id=make_notice_id("email", template, incident.id, reason, email),
                    channel="email",
                    recipient=email,
                    language=institution.language,
                    template=template,
                    audience="institution",
                    subject=rendered.subject,
                    text=rendered.text,
                    html=rendered.html,
                    incident_id=incident.id,
                    institution_id=incident.institution_id,
                    thread_key=incident.id,
                    title=rendered.title,
                    reply_to=self.settings.notify.soc_contact.email,
                )
            )
        return notices

    def for_soc(
        self,
        incident: Incident,
        template: str,
        channel: ChannelName,
        *,
        reason: str = "",
        extra: Mapping[str, Any] | None = None,
    ) -> list[Notice]:
        """Notices to the SOC on one channel: the Slack channel, each manager email, or each webhook."""
        language = self.settings.notify.soc_language
        now = self._clock()
        facts = self._facts(incident, extra, evidence=self._evidence(incident, now))
        rendered = self.renderer.render(template, "soc", language, facts)
        common: dict[str, Any] = {
            "channel": channel,
            "language": language,
            "template": template,
            "audience": "soc",
            "subject": rendered.subject,
            "text": rendered.text,
            "incident_id": incident.id,
            "institution_id": incident.institution_id,
            "thread_key": incident.id,
            "title": rendered.title,
        }
        recipients = self._soc_recipients(channel)
        if not recipients:
            log.warning(
                "no SOC recipient configured for %s: %s notice for incident %s not queued",
                channel,
                template,
                incident.id,
            )
        notices = []
        for recipient in recipients:
            notice_id = make_notice_id(channel, template, incident.id, reason, recipient)
            extra_fields: dict[str, Any] = {}
            if channel == "email":
                extra_fields = {"html": rendered.html}
            elif channel == "slack":
                extra_fields = {
                    "slack_blocks": rendered.slack_blocks,
                    "slack_color": rendered.color,
                    "text": rendered.slack_text,
                }
            else:
                extra_fields = {
                    "webhook_payload": self._payload(notice_id, template, language, incident, facts, rendered.subject)
                }
            notices.append(new_notice(now=now, id=notice_id, recipient=recipient, **{**common, **extra_fields}))
        return notices

    # helpers ------------------------------------------------------------------------------
    def _soc_recipients(self, channel: ChannelName) -> list[str]:
        notify = self.settings.notify
        if channel == "email":
            return list(dict.fromkeys(notify.soc_emails))
        if channel == "slack":
            target = notify.slack_channel or self.settings.slack.channel
            if self.settings.slack.token and target:
                return [target]
            if self.settings.slack.webhook_url:
                return [target or "incoming-webhook"]
            return []
        return sorted(notify.webhooks)

    def _evidence(self, incident: Incident, now: datetime) -> Evidence | None:
        if self.store is None or incident.institution_id is None:
            return None
        return gather(self.store, incident, self.inventory.get(incident.institution_id), now=now)

    def _facts(
        self,
        incident: Incident,
        extra: Mapping[str, Any] | None,
        *,
        ack_url: str | None = None,
        ack_until: datetime | None = None,
        evidence: Evidence | None = None,
    ) -> IncidentFacts:
        institution = self.inventory.get(incident.institution_id) if incident.institution_id else None
        ack_target, resolve_target = targets(self.settings.incidents.sla, incident.severity)
        observables: dict[str, list[str]] = {}
        for ob in incident.observables:
            if ob.kind != "host":
                observables.setdefault(ob.kind, []).append(ob.value)
        return IncidentFacts(
            incident_id=incident.id,
            title=incident.title,
            severity=incident.severity.value,
            state=incident.state.value,
            institution_id=incident.institution_id,
            institution_name=institution.name if institution else (incident.institution_id or "-"),
            timezone=institution.timezone if institution else self.settings.timezone,
            opened_at=incident.created_at,
            systems=[ob.value for ob in incident.observables if ob.kind == "host"],
            observables=observables,
            rules=list(incident.rule_ids),
            url=f"{public_base_url(self.settings)}/incidents/{incident.id}",
            ack_url=ack_url,
            ack_expires_at=format_timestamp(ack_until) if ack_until else None,
            extra=dict(extra or {}),
            rule_texts=[t for t in (self.rule_texts.get(r) for r in incident.rule_ids) if t is not None],
            evidence=evidence,
            ack_due_at=incident.ack_due_at,
            resolve_due_at=incident.resolve_due_at,
            ack_target_seconds=ack_target.total_seconds(),
            resolve_target_seconds=resolve_target.total_seconds(),
            soc=self.settings.notify.soc_contact,
        )

    @staticmethod
    def _payload(
        notice_id: str, template: str, language: str, incident: Incident, facts: IncidentFacts, subject: str
    ) -> dict[str, Any]:
        """The webhook body: structured data for a machine, plus the human subject."""
        return {
            "type": f"sentinel.{template}",
            "notice_id": notice_id,
            "language": language,
            "subject": subject,
            "incident": {
                "id": incident.id,
                "title": incident.title,
                "severity": incident.severity.value,
                "state": incident.state.value,
                "institution_id": incident.institution_id,
                "institution_name": facts.institution_name,
                "created_at": incident.created_at,
                "rule_ids": list(incident.rule_ids),
                "alert_ids": list(incident.alert_ids),
                "observables": [{"kind": o.kind, "value": o.value} for o in incident.observables],
                "url": facts.url,
            },
            "details": dict(facts.extra),
        }
