from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.scan.policy import PolicyContext, load_eol, version_tuple
from collectors.scan.report import parse_report
from sentinel.config import ScanSettings
from sentinel.errors import ConfigError

SCAN_TIME = 1767225600  # 2026-01-01T00:00:00Z

# The shape nmap 7.9x writes for ssl-enum-ciphers and ssl-cert (structured <table>/<elem> output).
TLS_XML = f"""<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -p 443 --script ssl-enum-ciphers,ssl-cert" start="{SCAN_TIME - 60}" version="7.93">
<host starttime="{SCAN_TIME - 60}" endtime="{SCAN_TIME}"><status state="up" reason="arp-response"/>
<address addr="10.20.0.7" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="443"><state state="open" reason="syn-ack"/>
<service name="https" product="nginx" version="1.18.0" method="probed" conf="10"/>
<script id="ssl-cert" output="Subject: commonName=www.mof.go.tz">
<table key="subject"><elem key="commonName">www.mof.go.tz</elem><elem key="organizationName">MoF</elem></table>
<table key="issuer"><elem key="commonName">Lab CA</elem></table>
<table key="pubkey"><elem key="type">rsa</elem><elem key="bits">2048</elem></table>
<table key="validity"><elem key="notBefore">2025-01-01T00:00:00</elem><elem key="notAfter">2026-01-21T00:00:00</elem></table>
</script>
<script id="ssl-enum-ciphers" output="...">
<table key="TLSv1.2">
<table key="ciphers">
<table><elem key="kex_info">ecdh_x25519</elem><elem key="name">TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256</elem><elem key="strength">A</elem></table>
<table><elem key="kex_info">rsa 2048</elem><elem key="name">TLS_RSA_WITH_3DES_EDE_CBC_SHA</elem><elem key="strength">C</elem></table>
</table>
<table key="warnings"><elem>64-bit block cipher 3DES vulnerable to SWEET32 attack</elem></table>
</table>
<elem key="least strength">C</elem>
</script></port></ports></host>
<runstats><finished time="{SCAN_TIME}"/><hosts up="1" down="0" total="1"/></runstats></nmaprun>
""".encode()


def test_weak_cipher_expiring_certificate_and_eol() -> None:
    report = parse_report(TLS_XML)
    (port,) = report.hosts[0].open_ports()
    assert port.tls is not None and port.tls.versions == ("TLSv1.2",)
    assert (port.tls.weakest_cipher, port.tls.least_strength) == ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "C")
    assert port.tls.warnings == ("64-bit block cipher 3DES vulnerable to SWEET32 attack",)
    at = datetime.fromtimestamp(SCAN_TIME, tz=UTC)
    policy = PolicyContext.for_institution(ScanSettings(), "mof", load_eol()).evaluate(port, at)
    assert policy == {
        "forbidden": False,
        "tls_legacy": False,  # TLS 1.2 only
        "weak_cipher": True,  # grade C
        "cert_expired": False,
        "cert_expiring": True,  # 20 days left
        "eol": True,  # nginx 1.18 < 1.20
        "new_port": False,
        "eol_product": "nginx",
        "eol_note": "nginx before 1.20 is no longer supported",
    }
    later = datetime(2026, 2, 1, tzinfo=UTC)
    assert PolicyContext.for_institution(ScanSettings(), None, load_eol()).evaluate(port, later)["cert_expired"] is True


def test_institution_overrides_of_forbidden_services() -> None:
    settings = ScanSettings.model_validate(
        {"institution_policies": {"mof": {"allow": ["ftp"], "forbid": {"http-alt": {"ports": [8080]}}}}}
    )
    eol = load_eol()
    mof = PolicyContext.for_institution(settings, "mof", eol)
    other = PolicyContext.for_institution(settings, "moh", eol)
    assert "ftp" not in mof.forbidden and "http-alt" in mof.forbidden
    assert "ftp" in other.forbidden and "http-alt" not in other.forbidden


def test_eol_list_is_editable_and_validated(tmp_path: Path) -> None:
    custom = tmp_path / "eol.yaml"
    custom.write_text("entries:\n  - product: Lab Server\n    branches: ['1.2']\n")
    eol = load_eol(custom)
    assert eol.find("lab server", "1.2.9") is not None and eol.find("Lab Server", "1.3") is None
    assert eol.find("Lab Server", None) is None  # unknown version: no claim
    bad = tmp_path / "bad.yaml"
    bad.write_text("entries:\n  - product: X\n    upto: '1'\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:3"):
        load_eol(bad)
    assert version_tuple("7.2p2 Ubuntu 4ubuntu2.8") == (7, 2) and version_tuple("v1.20.1") == (1, 20, 1)
