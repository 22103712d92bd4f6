"""Scan profiles → nmap arguments, built only from typed, validated profile fields.

No argument ever comes from free text: every token below is a literal or an integer from
``ScanSettings.Profile``. python-nmap splits its ``arguments`` string on whitespace (``shlex``)
and starts nmap without a shell, so a token containing whitespace would be the only way to
smuggle an option; ``argument_string`` refuses that as a last guard.
"""

from __future__ import annotations

from sentinel.config import ScanSettings
from sentinel.errors import ConfigError

Profile = ScanSettings.Profile

# nmap scripts the tls profile runs; fixed here, never configurable.
TLS_SCRIPTS = "ssl-enum-ciphers,ssl-cert"


def get_profile(settings: ScanSettings, name: str) -> Profile:
    try:
        return settings.profiles[name]
    except KeyError:
        known = ", ".join(sorted(settings.profiles)) or "none"
        raise ConfigError(f"unknown scan profile {name!r}; configured profiles: {known}") from None


def _ports(ports: list[int]) -> str:
    return ",".join(str(int(p)) for p in sorted(set(ports)))


def build_arguments(profile: Profile, settings: ScanSettings, *, ipv6: bool = False) -> list[str]:
    """nmap options for one profile (targets are appended separately, after validation)."""
    args: list[str] = [f"-T{int(profile.timing)}"]
    if profile.kind == "discovery":
        args.append("-sn")
    elif profile.kind == "services":
        args += ["-p", _ports(profile.ports)] if profile.ports else ["--top-ports", str(int(profile.top_ports))]
        args.append("-sV")
    elif profile.kind == "tls":
        if not profile.ports:
            raise ConfigError("a tls scan profile needs its TLS ports listed in 'ports'")
        # -sV lets the ssl scripts recognise TLS on non-standard ports.
        args += ["-p", _ports(profile.ports), "-sV", "--script", TLS_SCRIPTS]
    elif profile.kind == "full":
        args += ["-p", "1-65535", "-sV"]
    else:  # pragma: no cover - the Literal type makes this unreachable
        raise ConfigError(f"unknown scan profile kind {profile.kind!r}")
    if profile.max_rate is not None:
        args += ["--max-rate", str(int(profile.max_rate))]
    host_timeout = profile.host_timeout_seconds or settings.host_timeout_seconds
    args += ["--host-timeout", f"{int(host_timeout)}s"]
    if profile.max_retries is not None:
        args += ["--max-retries", str(int(profile.max_retries))]
    if profile.skip_host_discovery:
        args.append("-Pn")
    if not profile.resolve_names:
        args.append("-n")
    if ipv6:
        args.append("-6")
    return args


def argument_string(args: list[str]) -> str:
    """Join for python-nmap, which re-splits with ``shlex``: every token must survive that unchanged."""
    for token in args:
        if not token or any(ch.isspace() or ch in "'\"\\" for ch in token):
            raise ConfigError(f"refusing nmap argument {token!r}: it would not survive word splitting")
    return " ".join(args)
