"""Browser sessions kept on the server.

Signing in with an API token opens a session: the browser's cookie holds a random 256-bit session
id, and the store holds only its SHA-256 (as for tokens, a copy of the store gives no usable
cookie). The session names the token it was opened with, never the token itself. A session ends at
sign-out, at its expiry, or when its token is revoked (checked on every request, and revoking
removes the token's sessions). Each session carries its own CSRF token for the forms and for
cookie-authenticated API calls.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sentinel.auth import AuthError, Principal, Role, authenticate, hash_token
from sentinel.errors import ConflictError
from sentinel.store.base import FieldFilter, Scope, Store

log = logging.getLogger(__name__)

COLLECTION = "sessions"
DEFAULT_TTL = timedelta(hours=12)
_MAX_ID = 128  # far above a real id; refuses junk before any hashing or lookup


@dataclass(frozen=True, slots=True)
class Session:
    key: str  # SHA-256 of the session id: the document id
    principal: Principal
    token_hash: str
    csrf: str
    language: str | None
    expires_at: datetime

    def csrf_ok(self, offered: str | None) -> bool:
        return bool(offered) and same_secret(self.csrf, offered or "")


def same_secret(expected: str, offered: str) -> bool:
    """Constant-time comparison of two texts (any characters: compared as UTF-8 bytes)."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), offered.encode("utf-8", "surrogatepass"))


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class SessionStore:
    """Open, resolve and end sessions in the store (collection ``sessions``)."""

    def __init__(
        self, store: Store, *, ttl: timedelta = DEFAULT_TTL, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock or (lambda: datetime.now(UTC))

    def open(self, token: str) -> tuple[str, Session]:
        """Authenticate ``token`` and open a session; returns the id for the cookie (shown once) and the session."""
        principal = authenticate(self.store, token)
        token_doc = self.store.get_document("tokens", hash_token(token), Scope.everything())
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        body = {
            "name": principal.name,
            "role": principal.role.value,
            "institution_id": principal.institution_id,
            "token_hash": hash_token(token),
            "csrf": secrets.token_urlsafe(32),
            "language": token_doc.body.get("language") if token_doc else None,
            "created": now.isoformat(),
            "expires": (now + self.ttl).isoformat(),
        }
        key = _key(session_id)
        self.store.create_document(COLLECTION, key, body, institution_id=principal.institution_id)
        return session_id, self._session(key, body)

    def resolve(self, session_id: str) -> Session | None:
        """The live session for a cookie value, or None (unknown, expired, or its token revoked)."""
        if not session_id or len(session_id) > _MAX_ID:
            return None
        key = _key(session_id)
        doc = self.store.get_document(COLLECTION, key, Scope.everything())
        if doc is None:
            return None
        session = self._session(key, doc.body)
        if session.expires_at <= self._clock():
            self.store.delete_document(COLLECTION, key)
            return None
        token = self.store.get_document("tokens", session.token_hash, Scope.everything())
        if token is None or token.body.get("revoked"):
            self.store.delete_document(COLLECTION, key)
            return None
        return session

    def end(self, session_id: str) -> None:
        if session_id and len(session_id) <= _MAX_ID:
            self.store.delete_document(COLLECTION, _key(session_id))

    def set_language(self, session: Session, language: str) -> None:
        """The user's language for pages: kept with the session and with its token for the next sign-in."""
        for collection, doc_id in ((COLLECTION, session.key), ("tokens", session.token_hash)):
            doc = self.store.get_document(collection, doc_id, Scope.everything())
            if doc is None:
                continue
            try:
                self.store.replace_document(
                    collection,
                    doc_id,
                    {**doc.body, "language": language},
                    expected_version=doc.version,
                    institution_id=doc.institution_id,
                )
            except ConflictError:
                log.info("language not saved in %s: the record changed meanwhile", collection)

    def _session(self, key: str, body: dict[str, object]) -> Session:
        try:
            principal = Principal(
                name=str(body["name"]),
                role=Role(str(body["role"])),
                institution_id=str(body["institution_id"]) if body.get("institution_id") else None,
            )
            return Session(
                key=key,
                principal=principal,
                token_hash=str(body["token_hash"]),
                csrf=str(body["csrf"]),
                language=str(body["language"]) if body.get("language") else None,
                expires_at=datetime.fromisoformat(str(body["expires"])),
            )
        except (KeyError, ValueError) as exc:
            raise AuthError("damaged session record; sign in again") from exc


def end_sessions_for_token(store: Store, token_hash: str) -> int:
    """Remove every session opened with one token (when it is revoked)."""
    ended = 0
    while True:
        docs = store.find_documents(
            COLLECTION, Scope.everything(), [FieldFilter("token_hash", "eq", token_hash)], limit=500
        )
        removed = sum(int(store.delete_document(COLLECTION, doc.id)) for doc in docs)
        ended += removed
        if not docs or not removed:
            return ended
