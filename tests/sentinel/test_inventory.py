from pathlib import Path

import pytest

from sentinel.errors import ConfigError
from sentinel.inventory import load_inventory, parse_inventory
from sentinel.yamlfile import YamlDocument

GOOD = """
institutions:
  - id: moh
    name: Ministry of Health
    language: sw
    contacts: [{email: ict@moh.go.tz}]
    networks: [10.10.0.0/16, "2001:db8:10::/48"]
    hostnames: [Web01.moh.go.tz]
  - id: tra
    name: Revenue Authority
    networks: [10.20.0.0/16, 10.10.99.0/24x]
"""


def inventory(text: str):  # type: ignore[no-untyped-def]
    return parse_inventory(YamlDocument.parse(text, "inventory.yaml"))


def test_lookup_by_address_hostname_and_ipv6() -> None:
    inv = inventory(GOOD.replace("10.10.99.0/24x", "10.30.0.0/16"))
    assert inv.owner_of_address("10.10.4.5").id == "moh"  # type: ignore[union-attr]
    assert inv.owner_of_address("10.20.0.1").id == "tra"  # type: ignore[union-attr]
    assert inv.owner_of_address("2001:db8:10::7").id == "moh"  # type: ignore[union-attr]
    assert inv.owner_of_address("::ffff:10.10.0.1").id == "moh"  # type: ignore[union-attr]
    assert inv.owner_of_address("192.0.2.1") is None
    assert inv.owner_of_address("not-an-ip") is None
    assert inv.owner_of_host("web01.moh.go.tz").id == "moh"  # type: ignore[union-attr]
    assert inv.owner_of_host("WEB01").id == "moh"  # type: ignore[union-attr]
    assert inv.attribute(address="192.0.2.1", hostname="web01") is not None


def test_longest_prefix_wins_within_one_owner() -> None:
    inv = inventory(
        "institutions:\n  - {id: a, name: A, networks: [10.0.0.0/8, 10.1.0.0/16]}\n  - {id: b, name: B, networks: [192.0.2.0/24]}\n"
    )
    assert inv.owner_of_address("10.1.2.3").id == "a"  # type: ignore[union-attr]


def test_invalid_network_names_line() -> None:
    with pytest.raises(ConfigError) as info:
        inventory(GOOD)
    assert "invalid network" in str(info.value)
    assert info.value.location is not None and info.value.location.line == 11


def test_overlap_between_two_institutions_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        inventory(GOOD.replace("10.10.99.0/24x", "10.10.99.0/24"))
    message = str(info.value)
    assert "overlaps 10.10.0.0/16 of 'moh'" in message
    assert info.value.location is not None and info.value.location.line == 11


def test_unknown_language() -> None:
    with pytest.raises(ConfigError) as info:
        inventory("institutions:\n  - id: x\n    name: X\n    language: fr\n")
    assert info.value.location is not None and info.value.location.line == 4
    assert "language" in str(info.value)


def test_unknown_key_and_bad_email() -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        inventory("institutions:\n  - {id: x, name: X, colour: red}\n")
    with pytest.raises(ConfigError, match="not an email"):
        inventory("institutions:\n  - {id: x, name: X, contacts: [{email: nobody}]}\n")


def test_duplicate_ids_and_hostnames() -> None:
    with pytest.raises(ConfigError, match="used twice"):
        inventory("institutions:\n  - {id: x, name: X}\n  - {id: x, name: Y}\n")
    with pytest.raises(ConfigError, match="claimed by"):
        inventory("institutions:\n  - {id: x, name: X, hostnames: [h1]}\n  - {id: y, name: Y, hostnames: [H1]}\n")


def test_example_inventory_is_valid() -> None:
    path = Path(__file__).resolve().parents[2] / "sentinel" / "examples" / "inventory.yaml"
    inv = load_inventory(path)
    assert inv.get("moh") is not None
    assert inv.owner_of_address("127.0.0.1").id == "local"  # type: ignore[union-attr]
