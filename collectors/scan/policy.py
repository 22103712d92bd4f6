"""Policy enrichment of scan results: the fields the scan policy rules test.

Every open-port event gets the same ``sentinel.policy.*`` booleans (true or false, never
absent), so a rule can match ``true`` and a sample can show ``false``:

- ``forbidden`` / ``forbidden_service``: a service the institution must not expose (NET-02);
  matched on the port number or on nmap's service name, minus the institution's allowed list.
- ``tls_legacy``: SSLv2, SSLv3, TLS 1.0 or TLS 1.1 offered (CRY-01).
- ``weak_cipher``: ssl-enum-ciphers graded the weakest cipher C or worse. A and B are
  acceptable (B is what a strong cipher with a 2048-bit key exchange of older kind gets);
  C and below mean 64-bit block ciphers, RC4, export or anonymous suites (CRY-01).
- ``cert_expired`` / ``cert_expiring``: the certificate's notAfter is past, or within the
  warning window (30 days by default), at the time of the scan (CRY-01).
- ``eol``: the product and version are on the end-of-life list (``eol.yaml``) (VUL-04).
- ``new_port``: the port was not open in the previous scan of the same target (set by the diff).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from collectors.scan.report import PortResult
from collectors.scan.tls_scripts import grade_rank
from sentinel.config import ScanSettings
from sentinel.yamlfile import YamlDocument, validation_error_to_config_error

LEGACY_TLS = frozenset({"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"})
WEAK_FROM_GRADE = "C"
_VERSION = re.compile(r"^\s*v?(\d+(?:\.\d+)*)")


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    match = _VERSION.match(text or "")
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


class EolEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    product: str
    below: str | None = None
    branches: list[str] = []
    note: str = ""

    def matches(self, product: str | None, version: str | None) -> bool:
        if not product or product.lower() != self.product.lower():
            return False
        found = version_tuple(version)
        if found is None:
            return False  # unknown version: no claim
        if self.below is not None and found < (version_tuple(self.below) or ()):
            return True
        return any(found[: len(b)] == b for b in (version_tuple(x) for x in self.branches) if b)


class _EolFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    entries: list[EolEntry] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EolList:
    entries: tuple[EolEntry, ...]

    def find(self, product: str | None, version: str | None) -> EolEntry | None:
        return next((e for e in self.entries if e.matches(product, version)), None)


def load_eol(path: Path | None = None) -> EolList:
    """The end-of-life list: the configured file, or the one shipped beside this module."""
    if path is None:
        text = resources.files("collectors.scan").joinpath("eol.yaml").read_text(encoding="utf-8")
        doc = YamlDocument.parse(text, "collectors/scan/eol.yaml")
    else:
        doc = YamlDocument.load(path)
    try:
        parsed = _EolFile.model_validate(doc.data or {})
    except ValidationError as exc:
        raise validation_error_to_config_error(doc, exc) from exc
    return EolList(tuple(parsed.entries))


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What the policy checks need for one institution."""

    forbidden: dict[str, ScanSettings.Forbidden]
    eol: EolList
    warning_days: int = 30

    @classmethod
    def for_institution(cls, settings: ScanSettings, institution_id: str | None, eol: EolList) -> PolicyContext:
        forbidden = dict(settings.forbidden_services)
        override = settings.institution_policies.get(institution_id or "")
        if override is not None:
            forbidden.update(override.forbid)
            for label in override.allow:
                forbidden.pop(label, None)
        return cls(forbidden, eol, settings.cert_warning_days)

    def forbidden_label(self, port: PortResult) -> str | None:
        for label, rule in self.forbidden.items():
            if port.port in rule.ports or (port.service_name and port.service_name in rule.names):
                return label
        return None

    def evaluate(self, port: PortResult, at: datetime) -> dict[str, Any]:
        """The ``sentinel.policy`` object for one open port seen at time ``at``."""
        label = self.forbidden_label(port)
        versions = set(port.tls.versions) if port.tls else set()
        if "SSLv2 supported" in port.scripts.get("sslv2", ""):
            versions.add("SSLv2")
        grade = port.tls.least_strength if port.tls else None
        days_left = cert_days_left(port, at)
        eol = self.eol.find(port.product, port.version)
        policy: dict[str, Any] = {
            "forbidden": label is not None,
            "tls_legacy": bool(versions & LEGACY_TLS),
            "weak_cipher": grade is not None and grade_rank(grade) >= grade_rank(WEAK_FROM_GRADE),
            "cert_expired": days_left is not None and days_left < 0,
            "cert_expiring": days_left is not None and 0 <= days_left <= self.warning_days,
            "eol": eol is not None,
            "new_port": False,
        }
        if label is not None:
            policy["forbidden_service"] = label
        if eol is not None:
            policy["eol_product"] = eol.product
            policy["eol_note"] = eol.note
        return policy


def cert_days_left(port: PortResult, at: datetime) -> int | None:
    """Whole days from ``at`` to the certificate's notAfter; negative once expired."""
    if port.cert is None or port.cert.not_after is None:
        return None
    seconds = (port.cert.not_after - at).total_seconds()
    return int(seconds // 86400)
