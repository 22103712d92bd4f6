"""The two TLS scripts of the tls profile: ``ssl-enum-ciphers`` and ``ssl-cert`` (structured XML output)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

# ssl-enum-ciphers grades, best first.
GRADES = ("A", "B", "C", "D", "E", "F")
_DN_KEYS = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "emailAddress": "emailAddress",
}
_NOT_AFTER_TEXT = re.compile(r"Not valid after:\s*(\S+(?:[ T]\d\d:\d\d:\d\d)?)")


@dataclass(frozen=True, slots=True)
class TlsInfo:
    versions: tuple[str, ...]  # e.g. ("TLSv1.0", "TLSv1.2"), as ssl-enum-ciphers names them
    least_strength: str | None  # the script's overall grade, A (best) .. F
    weakest_cipher: str | None
    weakest_strength: str | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str | None
    issuer: str | None
    subject_cn: str | None
    not_before: datetime | None
    not_after: datetime | None
    key_type: str | None = None
    key_bits: int | None = None
    sha1: str | None = None


def grade_rank(grade: str | None) -> int:
    """0 for A ... 5 for F; unknown grades rank as the worst."""
    return GRADES.index(grade) if grade in GRADES else len(GRADES)


def _elems(table: ET.Element) -> dict[str, str]:
    return {e.get("key", ""): (e.text or "") for e in table.findall("elem")}


def parse_ssl_enum_ciphers(script: ET.Element) -> TlsInfo:
    versions: list[str] = []
    weakest: tuple[str | None, str | None] = (None, None)
    warnings: list[str] = []
    for table in script.findall("table"):
        version = table.get("key") or ""
        if not version:
            continue
        versions.append(version)
        for cipher in table.findall("table[@key='ciphers']/table"):
            info = _elems(cipher)
            strength = info.get("strength")
            if weakest[0] is None or grade_rank(strength) > grade_rank(weakest[1]):
                weakest = (info.get("name"), strength)
        warnings += [(w.text or "").strip() for w in table.findall("table[@key='warnings']/elem")]
    top = _elems(script)
    return TlsInfo(
        versions=tuple(versions),
        least_strength=top.get("least strength") or weakest[1],
        weakest_cipher=weakest[0],
        weakest_strength=weakest[1],
        warnings=tuple(dict.fromkeys(w for w in warnings if w)),
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        ts = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _dn(table: ET.Element | None) -> tuple[str | None, str | None]:
    if table is None:
        return None, None
    parts = _elems(table)
    text = ", ".join(f"{_DN_KEYS.get(k, k)}={v}" for k, v in parts.items() if k)
    return (text or None), parts.get("commonName")


def parse_ssl_cert(script: ET.Element) -> CertInfo:
    subject, cn = _dn(script.find("table[@key='subject']"))
    issuer, _ = _dn(script.find("table[@key='issuer']"))
    validity = script.find("table[@key='validity']")
    dates = _elems(validity) if validity is not None else {}
    not_after = _parse_time(dates.get("notAfter"))
    if not_after is None:  # old nmap: only the text output
        match = _NOT_AFTER_TEXT.search(script.get("output") or "")
        not_after = _parse_time(match.group(1)) if match else None
    pubkey = script.find("table[@key='pubkey']")
    key = _elems(pubkey) if pubkey is not None else {}
    bits = key.get("bits")
    return CertInfo(
        subject=subject,
        issuer=issuer,
        subject_cn=cn,
        not_before=_parse_time(dates.get("notBefore")),
        not_after=not_after,
        key_type=key.get("type"),
        key_bits=int(bits) if bits and bits.isdigit() else None,
        sha1=_elems(script).get("sha1"),
    )
