"""Scan targets: only addresses, networks and hostnames the inventory gives the institution.

A target is checked before nmap sees it and is then passed as its own argv element: an
IP address or a CIDR network that lies wholly inside one of the institution's registered
networks, or a hostname the inventory lists for that institution (resolved here, and every
resolved address must be inside too; nmap is given the checked addresses, so a DNS answer
that changes after the check cannot redirect the scan).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sentinel.errors import ConfigError
from sentinel.inventory import Institution, Inventory

log = logging.getLogger(__name__)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# A bound on one scan's size: a /16 (IPv4) is the largest range one request may cover.
MAX_TARGET_ADDRESSES = 65_536
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_ALLOWED = re.compile(r"^[A-Za-z0-9.:/-]+$")
_SHELL_CHARS = set(";|&$`<>(){}[]!*?'\"\\~#=,%")

Resolver = Callable[[str], list[str]]


class TargetError(ConfigError):
    """A scan target was refused; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """A validated target: what was asked for and the nmap target tokens that cover exactly it."""

    label: str  # as the user or the schedule named it (normalised)
    kind: Literal["address", "network", "hostname"]
    tokens: tuple[str, ...]  # each one an address or CIDR; never starts with "-"
    version: int  # 4 or 6: nmap needs -6 for IPv6 and one family per run
    institution_id: str

    def networks(self) -> list[IPNetwork]:
        return [ipaddress.ip_network(t) for t in self.tokens]

    def address_count(self) -> int:
        return sum(n.num_addresses for n in self.networks())


def system_resolver(name: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise TargetError(f"hostname {name!r} does not resolve: {exc.strerror}") from exc
    return sorted({str(info[4][0]) for info in infos})


def _check_text(raw: object) -> str:
    if not isinstance(raw, str) or not raw:
        raise TargetError("a scan target must be a non-empty string")
    if raw.startswith("-"):
        raise TargetError(f"refusing target {raw!r}: a target may not start with '-' (it would be read as an option)")
    if any(ch.isspace() for ch in raw):
        raise TargetError(f"refusing target {raw!r}: a target may not contain whitespace")
    bad = sorted({ch for ch in raw if ch in _SHELL_CHARS})
    if bad:
        raise TargetError(f"refusing target {raw!r}: characters {''.join(bad)!r} are not allowed in a target")
    if len(raw) > 253 or not _ALLOWED.match(raw):
        raise TargetError(f"refusing target {raw!r}: not an IP address, a CIDR network or a hostname")
    return raw


def _inside(net: IPNetwork, institution: Institution) -> bool:
    return any(net.version == own.version and net.subnet_of(own) for own in institution.parsed_networks())  # type: ignore[arg-type]


def _refuse_outside(what: str, institution: Institution) -> TargetError:
    ranges = ", ".join(institution.networks) or "none registered"
    return TargetError(
        f"refusing target {what}: outside the registered networks of institution {institution.id!r} ({ranges})"
    )


def validate_target(raw: str, institution: Institution, resolver: Resolver = system_resolver) -> Target:
    """Check one target against the institution's inventory entry; raise ``TargetError`` if refused."""
    text = _check_text(raw)
    if "/" in text:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise TargetError(f"refusing target {raw!r}: not a valid CIDR network ({exc})") from exc
        if not _inside(net, institution):
            raise _refuse_outside(str(net), institution)
        if net.num_addresses > MAX_TARGET_ADDRESSES:
            raise TargetError(f"refusing target {raw!r}: {net.num_addresses} addresses is more than one scan may cover")
        return Target(str(net), "network", (str(net),), net.version, institution.id)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if address is not None:
        net = ipaddress.ip_network(address)
        if not _inside(net, institution):
            raise _refuse_outside(str(address), institution)
        return Target(str(address), "address", (str(address),), address.version, institution.id)
    name = text.lower().rstrip(".")
    if not _HOSTNAME.match(name):
        raise TargetError(f"refusing target {raw!r}: not an IP address, a CIDR network or a valid hostname")
    if name not in institution.hostnames:
        raise TargetError(f"refusing target {raw!r}: hostname not listed in the inventory for {institution.id!r}")
    resolved = [ipaddress.ip_address(a) for a in resolver(name)]
    if not resolved:
        raise TargetError(f"hostname {name!r} does not resolve to any address")
    outside = [str(a) for a in resolved if not _inside(ipaddress.ip_network(a), institution)]
    if outside:
        raise _refuse_outside(f"{name!r} (resolves to {', '.join(outside)})", institution)
    # One address family per nmap run; prefer IPv4 when the name has both.
    version = 4 if any(a.version == 4 for a in resolved) else 6
    tokens = tuple(sorted(str(a) for a in resolved if a.version == version))
    return Target(name, "hostname", tokens, version, institution.id)


def resolve_request(
    target_or_institution: str,
    inventory: Inventory,
    institution_id: str | None = None,
    resolver: Resolver = system_resolver,
) -> list[Target]:
    """What ``sentinel scan X [--institution ID]`` means: an institution's networks, or one checked target."""
    if institution_id is None:
        inst = inventory.get(target_or_institution)
        if inst is not None:
            return institution_targets(inst)
        _check_text(target_or_institution)
        owner = inventory.attribute(target_or_institution.split("/", 1)[0], target_or_institution)
        if owner is None:
            raise TargetError(
                f"refusing target {target_or_institution!r}: no institution in the inventory owns it"
                " (name the institution with --institution)"
            )
        return [validate_target(target_or_institution, owner, resolver)]
    inst = inventory.get(institution_id)
    if inst is None:
        raise TargetError(f"unknown institution {institution_id!r}")
    if target_or_institution == institution_id:
        return institution_targets(inst)
    return [validate_target(target_or_institution, inst, resolver)]


def institution_targets(institution: Institution, only: Sequence[str] = ()) -> list[Target]:
    """Every registered network of an institution (or just ``only``), each checked like user input."""
    if not institution.networks:
        raise TargetError(f"institution {institution.id!r} has no registered networks to scan")
    names = list(only) or institution.networks
    targets = []
    for name in names:
        net = ipaddress.ip_network(name, strict=False)
        if not only and net.num_addresses > MAX_TARGET_ADDRESSES:
            # A registered IPv6 /48 cannot be swept; its known hosts are scanned by name or address.
            log.warning("not sweeping %s of %s: too many addresses for one scan", name, institution.id)
            continue
        targets.append(validate_target(name, institution))
    if not targets:
        raise TargetError(f"institution {institution.id!r} has no network small enough to sweep; name targets")
    return targets
