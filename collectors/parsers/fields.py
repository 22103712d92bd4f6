"""Small helpers the message parsers share to fill ECS fields the same way."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$")


# Caches of what a host text is, bounded (cleared when full): attackers' addresses repeat for
# thousands of lines, and a dict lookup costs a fraction of parsing the address again. Bounded in
# size too: only texts that can be an address or a host name are kept (a flood of long junk
# "hosts" would otherwise hold up to 64K lines of 64 KiB).
_CACHE_SIZE = 65536
_LONGEST_IP = 64  # "[v6 address%zone]" is shorter
_LONGEST_HOST = 255
_IPS: dict[str, str] = {}  # text -> canonical address, or "" when it is not one
_HOSTS: dict[str, tuple[str, str] | tuple[()]] = {}  # text -> ("ip"|"domain", value), or () for neither


def _parse_ip(text: str) -> str:
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def clean_ip(text: str) -> str | None:
    """The canonical IP address in ``text`` (brackets and ``::ffff:`` mapping removed), or None."""
    found = _IPS.get(text)
    if found is None:
        if len(text) > _LONGEST_IP:
            return None
        found = _parse_ip(text)
        if len(_IPS) >= _CACHE_SIZE:
            _IPS.clear()
        _IPS[text] = found
    return found or None


def is_hostname(text: str) -> bool:
    return _HOSTNAME.match(text) is not None


def _host_kind(host: str) -> tuple[str, str] | tuple[()]:
    kind = _HOSTS.get(host)
    if kind is None:
        if len(host) > _LONGEST_HOST:
            return ()
        ip = clean_ip(host)
        if ip is not None:
            kind = ("ip", ip)
        elif is_hostname(host) and not host.isdigit():
            kind = ("domain", host.rstrip(".").lower())
        else:
            kind = ()
        if len(_HOSTS) >= _CACHE_SIZE:
            _HOSTS.clear()
        _HOSTS[host] = kind
    return kind


def endpoint(host: str, port: str | int | None = None) -> dict[str, Any]:
    """The ``source``/``destination`` object for a non-empty ``host`` (see ``set_endpoint``)."""
    node: dict[str, Any] = {"address": host}
    kind = _HOSTS.get(host)
    if kind is None:
        kind = _host_kind(host)
    if kind:
        node[kind[0]] = kind[1]
    if port is not None:
        try:
            node["port"] = int(port)
        except ValueError:
            pass
    return node


def set_endpoint(doc: dict[str, Any], side: str, host: str | None, port: str | int | None = None) -> None:
    """Fill ``source.*``/``destination.*``: ``ip`` for an address, ``domain`` for a DNS name.

    ``address`` keeps what the log said. Values that are neither (``unknown``, injected junk) only
    land in ``address`` so nothing downstream treats them as an address or a name.
    """
    if host:
        doc[side] = endpoint(host, port)


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
