"""Signed JSON webhooks (httpx): another government system receives notices it can verify.

The request is ``POST <url>`` with the notice's JSON payload and these headers:

- ``X-Sentinel-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``: the HMAC, keyed with the
  webhook's shared secret, of the ASCII timestamp, a ``.``, and the exact body bytes;
- ``X-Sentinel-Notice-Id`` (also ``Idempotency-Key``): the notice id, the same on every retry.

A receiver verifies it like this (``verify_signature`` does exactly this):

1. split the header on ``,`` into ``t`` and ``v1`` (ignore other keys, so new versions can be added);
2. refuse the request if ``t`` is more than 5 minutes away from its own clock (replays);
3. compute ``HMAC-SHA256(secret, t + "." + body)`` over the raw body *before* parsing the JSON,
   and compare it with ``v1`` in constant time (``hmac.compare_digest``);
4. store the notice id and ignore a request whose id it has already processed: a retry after a
   lost answer, or after Sentinel died between sending and recording, repeats the same id.

2xx is success. 408, 429 (with ``Retry-After``) and 5xx are retried; any other answer is permanent.
Redirects are not followed: the signature is for the configured URL only.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

import httpx
import orjson

from sentinel.config import NotifySettings
from sentinel.notify.channels.base import DeliveryError, Sent
from sentinel.notify.notice import Notice

SIGNATURE_HEADER = "X-Sentinel-Signature"
NOTICE_HEADER = "X-Sentinel-Notice-Id"
TOLERANCE_SECONDS = 300


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: str | bytes, header: str, body: bytes, *, now: float | None = None, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """True when ``header`` is a valid, fresh signature of ``body``: what a receiver should run."""
    parts: dict[str, str] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, value)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("retry-after", "")))
    except ValueError:
        return None


class WebhookChannel:
    name = "webhook"

    def __init__(self, notify: NotifySettings, *, timeout: float = 10.0, client: httpx.Client | None = None) -> None:
        self.targets = notify.webhooks
        self.default_secret = notify.webhook_secret
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, notice: Notice, *, uncertain: bool) -> Sent:
        target = self.targets.get(notice.recipient)
        if target is None:
            raise DeliveryError(f"no webhook named {notice.recipient!r} in notify.webhooks", retryable=True)
        secret = target.secret or self.default_secret
        if not secret:  # the settings refuse this; kept so an unsigned request can never go out
            raise DeliveryError(f"webhook {notice.recipient!r} has no secret", retryable=False)
        body = orjson.dumps(notice.webhook_payload or {"notice_id": notice.id, "subject": notice.subject})
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            NOTICE_HEADER: notice.id,
            "Idempotency-Key": notice.id,
            "User-Agent": "Sentinel-notify/1",
        }
        try:
            response = self.client.post(target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {notice.recipient}: {type(exc).__name__}: {exc}", retryable=True) from exc
        status = response.status_code
        if 200 <= status < 300:
            return Sent(remote_id=str(status))
        detail = f"webhook {notice.recipient} answered {status}"
        if status in (408, 429) or status >= 500:
            raise DeliveryError(detail, retryable=True, retry_after=_retry_after(response.headers))
        raise DeliveryError(detail, retryable=False)

    def close(self) -> None:
        self.client.close()
