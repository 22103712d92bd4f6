"""Signed, expiring acknowledgement links for institution notices.

A token binds one incident, its institution and the contact it was sent to, and expires. It is
``base64url(payload) "." base64url(HMAC-SHA256(secret, payload))``; the payload is compact JSON.
Nothing secret is inside (an incident id, an institution id, an email address): the token is a
capability to acknowledge that one incident as that contact, no more.

The secret lives in ``<data_dir>/ack.key``, created on first use with mode 0600 and never logged.
Rotating it (delete the file) invalidates every link already sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from sentinel.errors import SentinelError
from sentinel.private_files import private_directory

log = logging.getLogger(__name__)

SECRET_FILE = "ack.key"  # noqa: S105 (a file name, not a secret)
_VERSION = 1
_MAX_TOKEN = 2048  # far above a real token; refuses junk before any work
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_MAC_CHARS = 43  # HMAC-SHA256: 32 bytes, 43 characters of unpadded base64url


class AckTokenError(SentinelError):
    """The link is not valid: ``reason`` is ``expired`` or ``invalid`` (forged, damaged, unknown version)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AckClaim:
    incident_id: str
    institution_id: str
    contact: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict: the canonical unpadded base64url of some bytes, or ``ValueError``.

    The standard decoder skips characters outside the alphabet, takes the standard alphabet's ``+/``
    as well, accepts padding anywhere near the end and ignores the unused low bits of the last
    character: many spellings of one token. Exactly one is accepted here.
    """
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if _b64(data) != text:  # unused bits set in the last character
        raise ValueError("not the canonical base64url of its bytes")
    return data


class AckSigner:
    def __init__(self, secret: bytes, *, clock: Callable[[], datetime] | None = None) -> None:
        if len(secret) < 16:
            raise ValueError("the acknowledgement secret must be at least 16 bytes")
        self._secret = secret
        self._clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_data_dir(cls, data_dir: Path, *, clock: Callable[[], datetime] | None = None) -> AckSigner:
        return cls(load_or_create_secret(Path(data_dir) / SECRET_FILE), clock=clock)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, b"sentinel-ack\x00" + payload, hashlib.sha256).digest()

    def make(self, incident_id: str, institution_id: str, contact: str, ttl: timedelta | float) -> str:
        seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
        if seconds <= 0:
            raise ValueError("an acknowledgement link needs a positive lifetime")
        expires = int(self._clock().timestamp() + seconds)
        payload = orjson.dumps({"v": _VERSION, "i": incident_id, "o": institution_id, "c": contact, "e": expires})
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str) -> AckClaim:
        """The claim inside a genuine, unexpired token; ``AckTokenError`` otherwise."""
        if not isinstance(token, str) or len(token) > _MAX_TOKEN or token.count(".") != 1:
            raise AckTokenError("this acknowledgement link is not valid", "invalid")
        encoded, signature = token.split(".")
        if len(signature) != _MAC_CHARS:
            raise AckTokenError("this acknowledgement link is not valid", "invalid")
        try:
            payload, mac = _unb64(encoded), _unb64(signature)
        except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
            raise AckTokenError("this acknowledgement link is not valid", "invalid") from exc
        # Check the signature (in constant time) before parsing anything an attacker wrote.
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise AckTokenError("this acknowledgement link is not valid", "invalid")
        try:
            data = orjson.loads(payload)
            if data.get("v") != _VERSION:
                raise ValueError("unknown token version")
            claim = AckClaim(
                incident_id=str(data["i"]),
                institution_id=str(data["o"]),
                contact=str(data["c"]),
                expires_at=datetime.fromtimestamp(int(data["e"]), tz=UTC),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AckTokenError("this acknowledgement link is not valid", "invalid") from exc
        if self._clock() >= claim.expires_at:
            raise AckTokenError("this acknowledgement link has expired", "expired")
        return claim


def load_or_create_secret(path: Path) -> bytes:
    """Read the secret, creating it (32 random bytes, hex, mode 0600) if it does not exist."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        private_directory(path.parent)
        text = secrets.token_hex(32)
        try:
            # O_EXCL: two processes starting together never overwrite each other's secret.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            text = path.read_text(encoding="ascii").strip()
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(text + "\n")
            log.info("created the acknowledgement link secret %s", path)
    if len(text) < 32:
        raise SentinelError(f"{path}: the acknowledgement secret is too short (delete the file to make a new one)")
    return text.encode("ascii")
