from __future__ import annotations

import pytest

from collectors.scan.targets import TargetError, resolve_request, validate_target
from sentinel.errors import ConfigError
from sentinel.inventory import Institution, Inventory

MOF = Institution(
    id="mof",
    name="Ministry of Finance",
    networks=["10.20.0.0/16", "2001:db8:20::/48"],
    hostnames=["portal.mof.go.tz", "mail.mof.go.tz"],
)
MOH = Institution(id="moh", name="Ministry of Health", networks=["10.30.0.0/24"], hostnames=["moh.go.tz"])
INVENTORY = Inventory([MOF, MOH])


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    return lambda name: table[name]


@pytest.mark.parametrize(
    ("raw", "kind", "tokens"),
    [
        ("10.20.1.5", "address", ("10.20.1.5",)),
        ("10.20.1.0/24", "network", ("10.20.1.0/24",)),
        ("10.20.1.7/24", "network", ("10.20.1.0/24",)),  # host bits normalised
        ("10.20.0.0/16", "network", ("10.20.0.0/16",)),
        ("2001:db8:20::1", "address", ("2001:db8:20::1",)),
    ],
)
def test_inside_targets_are_accepted(raw: str, kind: str, tokens: tuple[str, ...]) -> None:
    target = validate_target(raw, MOF)
    assert (target.kind, target.tokens, target.institution_id) == (kind, tokens, "mof")
    assert all(not t.startswith("-") for t in target.tokens)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("10.30.0.5", "outside the registered networks"),  # another institution's address
        ("10.20.0.0/15", "outside the registered networks"),  # wider than the registered /16
        ("192.168.1.1", "outside the registered networks"),
        ("0.0.0.0/0", "outside the registered networks"),
        ("-oN /etc/passwd", "may not start with '-'"),
        ("-oN", "may not start with '-'"),
        ("--script=http-shellshock", "may not start with '-'"),
        ("127.0.0.1; rm -rf /", "whitespace"),
        ("10.20.1.5;reboot", "not allowed"),
        ("10.20.1.5|nc", "not allowed"),
        ("$(id)", "not allowed"),
        ("`id`", "not allowed"),
        ("10.20.1.5\n", "whitespace"),
        ("10.20.1.5,6", "not allowed"),
        ("evil.example.org", "not listed in the inventory"),
        ("moh.go.tz", "not listed in the inventory"),  # listed, but for another institution
        ("10.20.1.300", "refusing target"),
        ("", "non-empty"),
    ],
)
def test_refused_targets(raw: str, reason: str) -> None:
    with pytest.raises(TargetError, match=reason) as info:
        validate_target(raw, MOF, resolver({}))
    assert isinstance(info.value, ConfigError)  # one SentinelError family


def test_hostname_is_resolved_and_every_address_must_be_inside() -> None:
    good = validate_target("Portal.MOF.go.tz.", MOF, resolver({"portal.mof.go.tz": ["10.20.5.5", "2001:db8:20::5"]}))
    assert (good.kind, good.tokens, good.version) == ("hostname", ("10.20.5.5",), 4)
    with pytest.raises(TargetError, match=r"resolves to 8\.8\.8\.8"):
        validate_target("mail.mof.go.tz", MOF, resolver({"mail.mof.go.tz": ["10.20.5.6", "8.8.8.8"]}))


def test_resolve_request_by_institution_target_and_owner() -> None:
    # the /48 is too large to sweep: skipped with a warning, the /16 is scanned
    assert [t.label for t in resolve_request("mof", INVENTORY)] == ["10.20.0.0/16"]
    assert resolve_request("10.30.0.9", INVENTORY)[0].institution_id == "moh"  # owner from the inventory
    assert resolve_request("10.20.3.0/24", INVENTORY, "mof")[0].label == "10.20.3.0/24"
    with pytest.raises(TargetError, match="outside"):
        resolve_request("10.30.0.9", INVENTORY, "mof")
    with pytest.raises(TargetError, match="no institution"):
        resolve_request("172.16.0.1", INVENTORY)
    with pytest.raises(TargetError, match="unknown institution"):
        resolve_request("10.20.0.1", INVENTORY, "nope")
    with pytest.raises(TargetError, match="may not start"):
        resolve_request("-iL/etc/passwd", INVENTORY)


def test_size_bound() -> None:
    big = Institution(id="big", name="Big", networks=["10.0.0.0/8"])
    assert validate_target("10.1.0.0/16", big).address_count() == 65536
    with pytest.raises(TargetError, match="more than one scan may cover"):
        validate_target("10.0.0.0/15", big)
