"""Who is asking: API tokens, roles and the store scope that follows from them.

Tokens are random (256 bits) and shown once; only their SHA-256 is stored, so a copy of the
store does not leak usable tokens. (A slow hash such as argon2 is for low-entropy passwords;
for random tokens a fast hash is as safe and keeps every request cheap.)
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sentinel.errors import SentinelError
from sentinel.inventory import Inventory
from sentinel.store.base import FieldFilter, Scope, Store

TOKEN_PREFIX = "snt_"  # noqa: S105 - a prefix, not a secret


class Role(StrEnum):
    ADMIN = "admin"
    SOC_MANAGER = "soc_manager"
    SOC_ANALYST = "soc_analyst"
    INSTITUTION = "institution"


class AuthError(SentinelError):
    """Missing, unknown or revoked credentials."""


class PermissionDenied(SentinelError):
    """Known caller, but its role may not do this (HTTP 403)."""


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    institution_id: str | None = None

    @property
    def scope(self) -> Scope:
        # An institution user sees only its own institution, whatever it asks for.
        if self.role is Role.INSTITUTION:
            assert self.institution_id is not None
            return Scope.institution(self.institution_id)
        return Scope.everything()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    store: Store, *, name: str, role: Role, institution_id: str | None = None, inventory: Inventory | None = None
) -> str:
    """Create an API token and return it; it cannot be shown again."""
    if role is Role.INSTITUTION:
        if not institution_id:
            raise AuthError("an institution token needs --institution")
        if inventory is not None and inventory.get(institution_id) is None:
            raise AuthError(f"unknown institution {institution_id!r}")
    elif institution_id:
        raise AuthError("only institution tokens are bound to an institution")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    store.create_document(
        "tokens",
        hash_token(token),
        {
            "name": name,
            "role": role.value,
            "institution_id": institution_id,
            "created": datetime.now(UTC).isoformat(),
            "revoked": False,
        },
        institution_id=institution_id,
    )
    return token


def authenticate(store: Store, token: str) -> Principal:
    if not token or not token.startswith(TOKEN_PREFIX):
        raise AuthError("missing or malformed API token")
    doc = store.get_document("tokens", hash_token(token), Scope.everything())
    if doc is None or doc.body.get("revoked"):
        raise AuthError("unknown or revoked API token")
    return Principal(name=doc.body["name"], role=Role(doc.body["role"]), institution_id=doc.body.get("institution_id"))


def revoke_tokens(store: Store, name: str) -> int:
    """Revoke every token of that name and end the browser sessions opened with them."""
    from sentinel.sessions import end_sessions_for_token  # sessions build on this module

    revoked = 0
    for doc in store.find_documents("tokens", Scope.everything(), [FieldFilter("name", "eq", name)], limit=1000):
        if not doc.body.get("revoked"):
            store.replace_document(
                "tokens",
                doc.id,
                {**doc.body, "revoked": True},
                expected_version=doc.version,
                institution_id=doc.institution_id,
            )
            revoked += 1
        end_sessions_for_token(store, doc.id)
    return revoked
