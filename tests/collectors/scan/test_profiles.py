from __future__ import annotations

import shlex

import pytest
from pydantic import ValidationError

from collectors.scan.profiles import argument_string, build_arguments, get_profile
from sentinel.config import ScanSettings, load_settings
from sentinel.errors import ConfigError


def test_default_profiles_build_the_documented_arguments() -> None:
    s = ScanSettings()
    assert build_arguments(s.profiles["discovery"], s) == ["-T4", "-sn", "--host-timeout", "900s", "-n"]
    assert build_arguments(s.profiles["services"], s)[:4] == ["-T4", "--top-ports", "100", "-sV"]
    tls = build_arguments(s.profiles["tls"], s)
    assert tls[1:6] == ["-p", "443,465,636,853,993,995,8443", "-sV", "--script", "ssl-enum-ciphers,ssl-cert"]
    assert build_arguments(s.profiles["full"], s)[:4] == ["-T3", "-p", "1-65535", "-sV"]


def test_every_option_comes_from_typed_fields() -> None:
    profile = ScanSettings.Profile(
        kind="services", ports=[80, 22, 22], timing=2, max_rate=50, host_timeout_seconds=30, max_retries=1,
        skip_host_discovery=True, resolve_names=True,
    )  # fmt: skip
    args = build_arguments(profile, ScanSettings(), ipv6=True)
    assert args == ["-T2", "-p", "22,80", "-sV", "--max-rate", "50", "--host-timeout", "30s", "--max-retries", "1",
                    "-Pn", "-6"]  # fmt: skip
    # python-nmap re-splits the string with shlex: the argv must come back unchanged.
    assert shlex.split(argument_string(args)) == args


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "services", "extra_args": "-oN /etc/passwd"},  # unknown keys refused
        {"kind": "shell"},
        {"kind": "services", "timing": 6},
        {"kind": "services", "ports": [0]},
        {"kind": "services", "ports": ["22 -oN x"]},
        {"kind": "services", "max_rate": -1},
    ],
)
def test_profile_vocabulary_is_fixed(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError):
        ScanSettings.Profile.model_validate(bad)


def test_scan_settings_from_yaml_refuse_unknown_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "sentinel.yaml"
    good.write_text(
        "scan:\n  max_parallel: 3\n  profiles:\n    web: {kind: services, ports: [80, 443]}\n"
        "  schedules:\n    - {institution: mof, profile: web, cron: weekly}\n"
        "  institution_policies:\n    mof: {allow: [ftp], forbid: {vnc: {ports: [5900]}}}\n"
    )
    settings = load_settings(good, {})
    assert settings.scan.max_parallel == 3
    assert settings.scan.institution_policies["mof"].forbid["vnc"].ports == [5900]
    bad = tmp_path / "bad.yaml"
    bad.write_text("scan:\n  profiles:\n    web: {kind: services, arguments: '-sC'}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:3"):
        load_settings(bad, {})


def test_refusals() -> None:
    with pytest.raises(ConfigError, match="unknown scan profile 'nope'"):
        get_profile(ScanSettings(), "nope")
    with pytest.raises(ConfigError, match="word splitting"):
        argument_string(["-p", "22 -oN /tmp/x"])
    with pytest.raises(ConfigError, match="needs its TLS ports"):
        build_arguments(ScanSettings.Profile(kind="tls"), ScanSettings())
