"""The channel registry: to add a channel, write a module with a class that has ``send`` and
``close`` (``base.Channel``), and add one line to ``CHANNELS`` that builds it from the settings.

A builder returns None when the channel is not configured; notices for it then wait (retried
with backoff) until it is, and ``sentinel outbox status`` shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sentinel.config import Settings
from sentinel.notify.channels.base import Channel, DeliveryError, Sent
from sentinel.store.base import Store

log = logging.getLogger(__name__)


def _email(settings: Settings, store: Store) -> Channel | None:
    from sentinel.notify.channels.email import EmailChannel

    return EmailChannel(settings.smtp, store)


def _slack(settings: Settings, store: Store) -> Channel | None:
    from sentinel.notify.channels.slack import SlackChannel

    if not (settings.slack.token or settings.slack.webhook_url):
        return None
    return SlackChannel(settings.slack, store)


def _webhook(settings: Settings, store: Store) -> Channel | None:
    from sentinel.notify.channels.webhook import WebhookChannel

    return WebhookChannel(settings.notify) if settings.notify.webhooks else None


CHANNELS: dict[str, Callable[[Settings, Store], Channel | None]] = {
    "email": _email,
    "slack": _slack,
    "webhook": _webhook,
}


def build_channels(settings: Settings, store: Store) -> dict[str, Channel]:
    """Every configured channel, by name."""
    channels: dict[str, Channel] = {}
    for name, build in CHANNELS.items():
        channel = build(settings, store)
        if channel is None:
            log.debug("notice channel %s is not configured", name)
        else:
            channels[name] = channel
    return channels


__all__ = ["CHANNELS", "Channel", "DeliveryError", "Sent", "build_channels"]
