"""Notices: outbox, delivery worker, channels (email, Slack, webhook), en/sw templates, ack links.

- ``notice``: the ``Notice`` document, ``make_notice_id``, ``notice_writes`` (for ``write_documents``);
- ``factory.NoticeFactory``: incident + template → notices (institution contacts or the SOC);
- ``outbox.Outbox``: the delivery worker (claim, send, record; retries with backoff);
- ``channels``: the channel registry; ``render``: templates and escaping; ``ack``: signed links.
"""

from sentinel.notify.ack import AckClaim, AckSigner, AckTokenError
from sentinel.notify.notice import COLLECTION, Attempt, Notice, make_notice_id, new_notice, notice_writes
from sentinel.notify.outbox import DeliveryReport, Outbox, OutboxStatus

__all__ = [
    "COLLECTION",
    "AckClaim",
    "AckSigner",
    "AckTokenError",
    "Attempt",
    "DeliveryReport",
    "Notice",
    "Outbox",
    "OutboxStatus",
    "make_notice_id",
    "new_notice",
    "notice_writes",
]
