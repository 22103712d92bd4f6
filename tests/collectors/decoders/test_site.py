"""A site's own decoders, from the folders sentinel.yaml names, used by every normaliser of the process."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.decoders.site import decoder_dirs, use_configured_decoders
from collectors.normalize import Normalizer
from collectors.records import RawRecord
from sentinel.config import load_settings
from sentinel.inventory import Inventory

PORTAL = """\
id: portal
title: Ministry e-services portal
dataset: portal.auth
programs: [portal]
rules:
  - action: login_failed
    match: 'login failed for %{USERNAME:user.name} from %{IP:source.ip}'
    category: [authentication, web]
    type: [start]
    outcome: failure
"""


@pytest.mark.usefixtures("decoders_restored")
def test_site_decoders_are_used_beside_the_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "decoders").mkdir()
    (tmp_path / "decoders" / "portal.yaml").write_text(PORTAL)
    (tmp_path / "decoders" / "broken.yaml").write_text(
        PORTAL.replace("id: portal", "id: broken").replace("%{IP", "%{X")
    )
    config = tmp_path / "sentinel.yaml"
    config.write_text("decoders:\n  dirs: [decoders]\n  disabled: [dovecot]\n")
    settings = load_settings(config, environ={})
    assert decoder_dirs(settings) == [tmp_path / "decoders"]

    active = use_configured_decoders(settings)
    ids = {d.id for d in active.decoders}
    assert "portal" in ids and "postfix" in ids and "dovecot" not in ids and "broken" not in ids
    assert len(active.errors) == 1 and "broken.yaml" in str(active.errors[0])

    normalizer = Normalizer(Inventory([]), observer_hostname="t")

    def normalize(line: str) -> dict[str, object]:
        record = RawRecord(line.encode(), datetime(2026, 1, 12, tzinfo=UTC).timestamp(), "t", "udp", "192.0.2.9")
        return normalizer.normalize(record).doc

    doc = normalize("Jan 12 10:00:00 web portal[1]: login failed for juma from 203.0.113.9")
    assert doc["event"]["dataset"] == "portal.auth"  # type: ignore[index]
    assert doc["source"] == {"address": "203.0.113.9", "ip": "203.0.113.9"}
    assert doc["event"]["outcome"] == "failure"  # type: ignore[index]
    disabled = normalize(
        "Jan 12 10:00:01 mail dovecot: imap-login: Disconnected (auth failed, 1 attempts): rip=203.0.113.9"
    )
    assert disabled["event"]["dataset"] == "system.syslog"  # type: ignore[index]
