"""The inventory: which institution owns which networks, hosts and expected log sources.

Every event is tagged with the institution that owns its source address or host. The
inventory is validated at load: an invalid address, an unknown language or a network range
claimed by two institutions stops the service with the file, line and key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sentinel.config import DEFAULT_TIMEZONE, check_timezone
from sentinel.errors import ConfigError
from sentinel.yamlfile import YamlDocument, validation_error_to_config_error

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_INSTITUTION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    name: str | None = None
    email: str
    role: Literal["security", "ict_officer", "manager", "other"] = "security"

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"not an email address: {value!r}")
        return value


class ExpectedSource(_Strict):
    """A log source the SOC expects from an institution; its silence is a finding (LOG-01)."""

    name: str
    dataset: str | None = None
    host: str | None = None
    silence_minutes: int = Field(default=24 * 60, ge=1)


class Institution(_Strict):
    id: str
    name: str
    language: Literal["en", "sw"] = "en"
    timezone: str = DEFAULT_TIMEZONE
    contacts: list[Contact] = []
    networks: list[str] = []
    hostnames: list[str] = []
    expected_sources: list[ExpectedSource] = []
    # Account names known to exist (e.g. from the directory): notices tell them from guessed names.
    accounts: list[str] = []

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _INSTITUTION_ID.match(value):
            raise ValueError("an institution id is lowercase letters, digits, '-' or '_' (at most 63)")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        check_timezone(value)
        return value

    @field_validator("networks")
    @classmethod
    def _valid_networks(cls, values: list[str]) -> list[str]:
        out = []
        for value in values:
            try:
                out.append(str(ipaddress.ip_network(value, strict=False)))
            except ValueError as exc:
                raise ValueError(f"invalid network {value!r}: {exc}") from exc
        return out

    @field_validator("hostnames")
    @classmethod
    def _lower_hostnames(cls, values: list[str]) -> list[str]:
        return [v.lower().rstrip(".") for v in values]

    def parsed_networks(self) -> list[IPNetwork]:
        return [ipaddress.ip_network(n) for n in self.networks]

    def owns_address(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.parsed_networks())


class _InventoryFile(_Strict):
    institutions: list[Institution] = []


_LONGEST_ADDRESS = 64  # an IPv6 address with a zone, as text, is shorter


class Inventory:
    """Institutions, with fast lookups by address (longest prefix) and hostname."""

    def __init__(self, institutions: Iterable[Institution]) -> None:
        self._by_id: dict[str, Institution] = {}
        # per IP version: prefix length -> network address int -> institution id
        self._v4: dict[int, dict[int, str]] = {}
        self._v6: dict[int, dict[int, str]] = {}
        self._by_host: dict[str, str] = {}
        for inst in institutions:
            self._by_id[inst.id] = inst
            for net in inst.parsed_networks():
                table = self._v4 if net.version == 4 else self._v6
                table.setdefault(net.prefixlen, {})[int(net.network_address)] = inst.id
            for host in inst.hostnames:
                self._by_host[host] = inst.id
                self._by_host.setdefault(host.split(".", 1)[0], inst.id)
        self._v4_order = sorted(self._v4, reverse=True)
        self._v6_order = sorted(self._v6, reverse=True)
        self.owner_id_of_address = lru_cache(maxsize=65536)(self._owner_id_of_address)

    def __iter__(self) -> Iterator[Institution]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, institution_id: str) -> Institution | None:
        return self._by_id.get(institution_id)

    def _owner_id_of_address(self, address: str) -> str | None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        value = int(ip)
        if ip.version == 4:
            table, order, bits = self._v4, self._v4_order, 32
        else:
            table, order, bits = self._v6, self._v6_order, 128
        for prefix in order:
            mask = ((1 << prefix) - 1) << (bits - prefix) if prefix else 0
            owner = table[prefix].get(value & mask)
            if owner is not None:
                return owner
        return None

    def owner_of_address(self, address: str) -> Institution | None:
        if len(address) > _LONGEST_ADDRESS:  # no address: and the cache must not hold long junk
            return None
        owner = self.owner_id_of_address(address)
        return self._by_id[owner] if owner else None

    def owner_of_host(self, hostname: str) -> Institution | None:
        name = hostname.lower().rstrip(".")
        owner = self._by_host.get(name) or self._by_host.get(name.split(".", 1)[0])
        return self._by_id[owner] if owner else None

    def attribute(self, address: str | None = None, hostname: str | None = None) -> Institution | None:
        """The institution owning an event: by address first, then by hostname."""
        if address:
            inst = self.owner_of_address(address)
            if inst is not None:
                return inst
        if hostname:
            return self.owner_of_host(hostname)
        return None


def _check_overlaps(doc: YamlDocument, institutions: list[Institution]) -> None:
    claimed: list[tuple[IPNetwork, str, int, int]] = []  # net, owner, institution index, net index
    for i, inst in enumerate(institutions):
        for j, net in enumerate(inst.parsed_networks()):
            for other, owner, oi, oj in claimed:
                if owner != inst.id and net.version == other.version and net.overlaps(other):
                    other_loc = doc.location(("institutions", oi, "networks", oj))
                    raise doc.error(
                        f"network {net} of {inst.id!r} overlaps {other} of {owner!r} (line {other_loc.line});"
                        " a range must have one owner",
                        ("institutions", i, "networks", j),
                    )
            claimed.append((net, inst.id, i, j))
    seen_ids: dict[str, int] = {}
    seen_hosts: dict[str, str] = {}
    for i, inst in enumerate(institutions):
        if inst.id in seen_ids:
            raise doc.error(f"institution id {inst.id!r} is used twice", ("institutions", i, "id"))
        seen_ids[inst.id] = i
        for j, host in enumerate(inst.hostnames):
            if host in seen_hosts and seen_hosts[host] != inst.id:
                raise doc.error(
                    f"hostname {host!r} is claimed by {seen_hosts[host]!r} and {inst.id!r}",
                    ("institutions", i, "hostnames", j),
                )
            seen_hosts[host] = inst.id


def parse_inventory(doc: YamlDocument) -> Inventory:
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError("the inventory must be a mapping with an 'institutions' list", doc.location(()))
    try:
        parsed = _InventoryFile.model_validate(data)
    except ValidationError as exc:
        raise validation_error_to_config_error(doc, exc) from exc
    _check_overlaps(doc, parsed.institutions)
    return Inventory(parsed.institutions)


def load_inventory(path: str | Path) -> Inventory:
    return parse_inventory(YamlDocument.load(path))
