"""Slack (slack-sdk): Web API ``chat.postMessage`` with Block Kit, or an incoming webhook.

The Block Kit blocks are rendered with the notice (``render.py``); here they are wrapped in an
attachment whose ``color`` is the severity colour. Follow-ups on the same incident are replies in
the thread of the first message: the first message's ``ts`` is kept in the store's ``state``
collection under the channel and the notice's ``thread_key``.

Every Web API message carries ``metadata`` (``event_type: sentinel_notice``, the notice id in
``event_payload``). When a worker died after posting but before recording it (the notice is
"uncertain"), the next attempt first reads the channel (``conversations.history``, or
``conversations.replies`` inside the incident's thread) for a message with that notice id, and
only posts when none is there. That needs the channel's id, which Sentinel records after its first
post to the channel (or give the channel by id in the settings). Incoming webhooks cannot be
read back nor threaded: through them a crash at the wrong moment can post twice.

``ratelimited`` (HTTP 429, ``Retry-After``) and 5xx answers are retried; errors that no retry can
fix (``channel_not_found``, ``invalid_blocks``, ...) make the notice ``dead``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from sentinel.config import SlackSettings
from sentinel.errors import ConflictError
from sentinel.events import parse_timestamp
from sentinel.notify.channels.base import DeliveryError, Sent
from sentinel.notify.notice import Notice
from sentinel.store.base import Scope, Store

log = logging.getLogger(__name__)

STATE = "state"
EVENT_TYPE = "sentinel_notice"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
# Errors that are about the message or the channel: retrying the same request cannot succeed.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_attachments",
        "too_many_attachments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "restricted_action",
        "not_in_channel",
        "cannot_reply_to_message",
    }
)


def _key(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    for name, value in dict(headers).items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None


def _attachment(notice: Notice) -> dict[str, Any]:
    return {"color": notice.slack_color or "#8a94a6", "fallback": notice.text, "blocks": notice.slack_blocks or []}


class SlackChannel:
    """Web API when a token is set, else the incoming webhook."""

    name = "slack"

    def __init__(self, settings: SlackSettings, store: Store, *, timeout: int = 15) -> None:
        self.settings = settings
        self.store = store
        self.web: WebClient | None = None
        self.hook: WebhookClient | None = None
        # No retry inside the client: a retried POST could post twice; the outbox retries instead.
        if settings.token:
            kwargs: dict[str, Any] = {"token": settings.token, "timeout": timeout, "retry_handlers": []}
            if settings.base_url:
                kwargs["base_url"] = settings.base_url.rstrip("/") + "/"
            self.web = WebClient(**kwargs)
        elif settings.webhook_url:
            self.hook = WebhookClient(settings.webhook_url, timeout=timeout, retry_handlers=[])
        else:
            raise ValueError("Slack needs slack.token (Web API) or slack.webhook_url (incoming webhook)")

    def send(self, notice: Notice, *, uncertain: bool) -> Sent:
        if self.web is not None:
            return self._post(self.web, notice, uncertain)
        assert self.hook is not None
        return self._hook(self.hook, notice)

    def close(self) -> None:
        return None

    # Web API ------------------------------------------------------------------------------
    def _post(self, web: WebClient, notice: Notice, uncertain: bool) -> Sent:
        channel = notice.recipient
        thread = self._thread(channel, notice.thread_key)
        try:
            if uncertain:
                found = self._find_earlier(web, channel, notice, thread)
                if found is not None:
                    log.info("Slack notice %s was already posted (ts %s): not posting again", notice.id, found)
                    return Sent(remote_id=found, already_delivered=True)
            response = web.chat_postMessage(
                channel=channel,
                text=notice.text,
                attachments=[_attachment(notice)],
                thread_ts=thread["ts"] if thread else None,
                metadata={
                    "event_type": EVENT_TYPE,
                    "event_payload": {"notice_id": notice.id, "incident_id": notice.incident_id or ""},
                },
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise _api_error(exc) from exc
        except SlackClientError as exc:
            raise DeliveryError(f"Slack request failed: {exc}", retryable=True) from exc
        except OSError as exc:
            raise DeliveryError(f"Slack unreachable: {exc}", retryable=True) from exc
        ts = str(response.get("ts") or "")
        channel_id = str(response.get("channel") or "")
        self._remember(channel, channel_id, notice.thread_key, ts, notice.id, thread is None)
        return Sent(remote_id=ts or None)

    def _thread(self, channel: str, thread_key: str | None) -> dict[str, Any] | None:
        if not thread_key:
            return None
        doc = self.store.get_document(STATE, f"slack-thread-{_key(channel, thread_key)}", Scope.everything())
        return doc.body if doc is not None else None

    def _remember(
        self, channel: str, channel_id: str, thread_key: str | None, ts: str, notice_id: str, root: bool
    ) -> None:
        """Record the channel's id (for dedupe reads) and a new thread's first ``ts`` (for replies)."""
        if channel_id:
            self._create_once(
                f"slack-channel-{_key(channel)}", {"kind": "slack_channel", "name": channel, "id": channel_id}
            )
        if root and thread_key and ts:
            body = {
                "kind": "slack_thread",
                "channel": channel,
                "channel_id": channel_id,
                "thread_key": thread_key,
                "ts": ts,
                "notice_id": notice_id,
            }
            self._create_once(f"slack-thread-{_key(channel, thread_key)}", body)

    def _create_once(self, doc_id: str, body: dict[str, Any]) -> None:
        try:
            self.store.create_document(STATE, doc_id, body)
        except ConflictError:
            pass  # recorded already (or by another worker at the same moment): the first one wins

    def _channel_id(self, channel: str, thread: dict[str, Any] | None) -> str | None:
        if thread and thread.get("channel_id"):
            return str(thread["channel_id"])
        if _CHANNEL_ID.match(channel):
            return channel
        doc = self.store.get_document(STATE, f"slack-channel-{_key(channel)}", Scope.everything())
        return str(doc.body["id"]) if doc is not None and doc.body.get("id") else None

    def _find_earlier(self, web: WebClient, channel: str, notice: Notice, thread: dict[str, Any] | None) -> str | None:
        """The ts of a message already carrying this notice's id, if the channel can be read."""
        channel_id = self._channel_id(channel, thread)
        if channel_id is None:
            log.warning(
                "cannot check Slack channel %s for notice %s (channel id unknown): posting again", channel, notice.id
            )
            return None
        oldest = f"{parse_timestamp(notice.created_at).timestamp() - 1:.6f}" if notice.created_at else None
        if thread:
            response = web.conversations_replies(
                channel=channel_id, ts=thread["ts"], oldest=oldest, include_all_metadata=True, limit=200
            )
        else:
            response = web.conversations_history(
                channel=channel_id, oldest=oldest, include_all_metadata=True, limit=200
            )
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == EVENT_TYPE
                and (metadata.get("event_payload") or {}).get("notice_id") == notice.id
            ):
                return str(message.get("ts") or "")
        return None

    # incoming webhook -----------------------------------------------------------------------
    def _hook(self, hook: WebhookClient, notice: Notice) -> Sent:
        try:
            response = hook.send(
                text=notice.text, attachments=[_attachment(notice)], unfurl_links=False, unfurl_media=False
            )
        except (SlackClientError, OSError) as exc:
            raise DeliveryError(f"Slack webhook unreachable: {exc}", retryable=True) from exc
        status = response.status_code
        if status == 200:
            return Sent(remote_id="200")
        body = (response.body or "")[:200]
        if status == 429 or status >= 500:
            raise DeliveryError(
                f"Slack webhook answered {status} {body}", retryable=True, retry_after=_retry_after(response.headers)
            )
        raise DeliveryError(f"Slack webhook refused the message: {status} {body}", retryable=False)


def _api_error(exc: SlackApiError) -> DeliveryError:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    error = str(response.get("error", "") if response is not None else "") or f"HTTP {status}"
    if status == 429 or error == "ratelimited":
        return DeliveryError(
            "Slack rate limit (ratelimited)", retryable=True, retry_after=_retry_after(response.headers)
        )
    if status >= 500 or error in ("internal_error", "fatal_error", "service_unavailable", "request_timeout"):
        return DeliveryError(f"Slack server error: {error}", retryable=True, retry_after=_retry_after(response.headers))
    return DeliveryError(f"Slack refused the message: {error}", retryable=error not in PERMANENT_ERRORS)
