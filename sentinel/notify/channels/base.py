"""What a channel is: something that sends one notice and says whether a failure is worth retrying."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sentinel.errors import SentinelError
from sentinel.notify.notice import Notice


class DeliveryError(SentinelError):
    """A send failed. ``retryable`` False means retrying cannot help (the notice goes ``dead``)."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the channel asked us to wait (Retry-After)


@dataclass(frozen=True, slots=True)
class Sent:
    remote_id: str | None = None  # what the channel called it: Slack ts, HTTP status, SMTP reply
    already_delivered: bool = False  # dedupe found the message an earlier, unrecorded attempt sent


class Channel(Protocol):
    name: str

    def send(self, notice: Notice, *, uncertain: bool) -> Sent:
        """Send one notice. ``uncertain``: an earlier attempt may have got through; dedupe if you can."""
        ...

    def close(self) -> None: ...
