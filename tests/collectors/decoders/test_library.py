"""The shipped decoder library: it loads whole, covers the services institutions run, and every
decoder's samples pass through the real normaliser."""

from __future__ import annotations

import pytest

from collectors.decoders.compiled import CompiledDecoder
from collectors.decoders.loader import load_decoders
from collectors.decoders.samples import SampleRunner
from collectors.parsers import active_decoders

SHIPPED = load_decoders((), builtin=True)
BY_ID = {d.id: d for d in SHIPPED.decoders}

# The services the library is for (issue #14), by the decoder that reads each. Apache and nginx basic
# auth are read by the Python web parsers (tested in tests/collectors/parsers), sshd by its fast path.
SERVICES = {
    "mail": ["postfix", "dovecot", "exim", "sendmail", "courier", "cyrus", "roundcube", "sogo", "horde"],
    "ftp": ["vsftpd", "proftpd", "pure-ftpd"],
    "databases": ["mysql", "postgresql", "mssql", "mongodb"],
    "directories and identity": ["slapd", "keycloak"],
    "vpn and remote access": ["openvpn", "strongswan", "xrdp", "guacamole", "softether"],
    "dns": ["named"],
    "proxies and web applications": [
        "squid", "haproxy", "tomcat", "gitlab", "grafana", "moodle", "wordpress", "drupal", "phpmyadmin", "webmin",
        "proxmox",
    ],
    "network devices": ["cisco-asa", "fortigate", "pfsense", "mikrotik"],
    "other": ["iis", "journald", "dropbear"],
}  # fmt: skip
# Decoders with an authentication-failure rule whose lines name no client address (so no sample can
# show one), and why: a brute-force rule keyed on source.ip cannot count them per attacker.
AUTH_FAILURE_WITHOUT_ADDRESS = {
    "slapd": "a bind result names its connection; the address is on the connection's ACCEPT line",
    "tomcat": "LockOutRealm names the user, not the client",
}


def test_the_shipped_library_loads_whole() -> None:
    assert SHIPPED.errors == []
    assert len(SHIPPED.decoders) >= 40
    # The registry starts with exactly this library.
    assert {d.id for d in active_decoders().decoders} == set(BY_ID)


def test_the_services_of_the_issue_have_decoders() -> None:
    missing = [name for names in SERVICES.values() for name in names if name not in BY_ID]
    assert not missing


@pytest.mark.parametrize("decoder_id", sorted(BY_ID))
def test_samples(decoder_id: str) -> None:
    decoder = BY_ID[decoder_id]
    assert any(s.decodes for s in decoder.samples), "a decoder needs a line it must decode"
    assert any(not s.decodes for s in decoder.samples), "and a line it must not"
    failures = [r.describe() for r in SampleRunner().run(decoder) if not r.passed]
    assert not failures, "\n".join(failures)


def _authentication_failures(decoder: CompiledDecoder) -> list[dict[str, object]]:
    runner = SampleRunner()
    out = []
    for index, sample in enumerate(decoder.samples):
        event = runner.normalize(sample, f"auth:{decoder.id}:{index}")
        if event.get("event.outcome") == "failure" and "authentication" in (event.get("event.category") or ()):
            out.append({"source.ip": event.get("source.ip"), "event.dataset": event.dataset})
    return out


def test_authentication_failures_are_keyed_on_the_attacker_address() -> None:
    """Every decoder that can classify an authentication failure shows one with source.ip in its
    samples: rules keyed on event.category authentication, event.outcome failure and source.ip see it."""
    lacking = []
    for decoder in SHIPPED.decoders:
        if not any(r.outcome == "failure" and "authentication" in r.category for r in decoder.rules):
            continue
        failures = _authentication_failures(decoder)
        with_address = [f for f in failures if f["source.ip"]]
        if decoder.id in AUTH_FAILURE_WITHOUT_ADDRESS:
            assert failures and not with_address, decoder.id  # still classified, honestly without an address
        elif not with_address:
            lacking.append(decoder.id)
    assert not lacking
