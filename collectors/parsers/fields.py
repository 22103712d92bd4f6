"""Small helpers the message parsers share to fill ECS fields the same way."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Any

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$")


@lru_cache(maxsize=65536)
def clean_ip(text: str) -> str | None:
    """The canonical IP address in ``text`` (brackets and ``::ffff:`` mapping removed), or None."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def is_hostname(text: str) -> bool:
    return _HOSTNAME.match(text) is not None


def set_endpoint(doc: dict[str, Any], side: str, host: str | None, port: str | int | None = None) -> None:
    """Fill ``source.*``/``destination.*``: ``ip`` for an address, ``domain`` for a DNS name.

    ``address`` keeps what the log said. Values that are neither (``unknown``, injected junk) only
    land in ``address`` so nothing downstream treats them as an address or a name.
    """
    if not host:
        return
    node: dict[str, Any] = {"address": host}
    ip = clean_ip(host)
    if ip is not None:
        node["ip"] = ip
    elif is_hostname(host) and not host.isdigit():
        node["domain"] = host.rstrip(".").lower()
    if port is not None:
        try:
            node["port"] = int(port)
        except ValueError:
            pass
    doc[side] = node


def set_event(
    doc: dict[str, Any],
    *,
    action: str,
    category: tuple[str, ...],
    type: tuple[str, ...],
    outcome: str | None = None,
    kind: str | None = None,
) -> None:
    """Merge the ECS ``event.*`` classification into the document's ``event`` object."""
    ev = doc["event"]
    ev["action"] = action
    ev["category"] = list(category)  # a fresh list per event: later stages may extend it
    ev["type"] = list(type)
    if outcome is not None:
        ev["outcome"] = outcome
    if kind is not None:
        ev["kind"] = kind


def set_user(doc: dict[str, Any], name: str | None) -> None:
    if name:
        user = doc.get("user")
        if isinstance(user, dict):
            user["name"] = name
        else:
            doc["user"] = {"name": name}
