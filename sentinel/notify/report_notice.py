"""The email that delivers a monthly report: a short letter in the recipient's language, with the
PDF attached (by reference to its document, read by the email channel at delivery).

Ids are deterministic from the report and the recipient, so queueing a report's notices again is a
no-op per notice (``Outbox.enqueue`` skips ids already queued): each report reaches each recipient once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from sentinel.notify.notice import Attachment, Notice, make_notice_id, new_notice
from sentinel.notify.strings import fill, lookup, one_line

TEMPLATE = "monthly_report"


def report_notices(
    *,
    report_id: str,
    kind: str,  # "institution" or "national"
    institution_id: str | None,
    recipients: Sequence[str],
    language: str,
    values: Mapping[str, str],  # institution, month, incidents, sla, score (already formatted)
    attachment: Attachment,
    reply_to: str | None,
    now: datetime,
) -> list[Notice]:
    subject = one_line(fill(str(lookup(language, f"report.{kind}.subject")), values))
    text = fill(str(lookup(language, f"report.{kind}.text")), values)
    html = (
        f'<!DOCTYPE html><html lang="{escape(language)}"><head><meta charset="utf-8"><title>{escape(subject)}</title>'
        '</head><body style="font-family: Arial, Helvetica, sans-serif; color: #1f2933; max-width: 640px;">'
        + "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
        + "</body></html>"
    )
    return [
        new_notice(
            now=now,
            id=make_notice_id("email", TEMPLATE, report_id, email),
            channel="email",
            recipient=email,
            language=language,
            template=TEMPLATE,
            audience="institution" if kind == "institution" else "soc",
            subject=subject,
            text=text,
            html=html,
            institution_id=institution_id,
            thread_key=None,
            reply_to=reply_to,
            attachments=[attachment],
            report_id=report_id,
        )
        for email in dict.fromkeys(recipients)
    ]
