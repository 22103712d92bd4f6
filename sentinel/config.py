"""Service configuration: ``sentinel.yaml`` plus ``SENTINEL_*`` environment overrides.

Values are validated into typed models at start. Unknown keys are refused, and every error
names the file, the line and the key. An environment variable overrides one key:
``SENTINEL_STORE__BACKEND=elasticsearch`` sets ``store.backend`` (``__`` separates levels,
values are read as YAML scalars so numbers and booleans work).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from sentinel.errors import ConfigError, Location
from sentinel.yamlfile import YamlDocument, validation_error_to_config_error

ENV_PREFIX = "SENTINEL_"
DEFAULT_TIMEZONE = "Africa/Dar_es_Salaam"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ElasticsearchSettings(Strict):
    url: str = "http://localhost:9200"
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    index_prefix: str = "sentinel"
    request_timeout: float = 30.0


class StoreSettings(Strict):
    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    retention_days: int = Field(default=90, ge=1)
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()


class SyslogListener(Strict):
    protocol: Literal["udp", "tcp"]
    host: str = "0.0.0.0"
    port: int = Field(ge=0, le=65535)
    max_line_bytes: int = Field(default=65536, ge=1024)
    # UDP: the kernel's receive buffer; a burst larger than it is dropped by the kernel (counted in status).
    receive_buffer_bytes: int = Field(default=8 * 1024 * 1024, ge=65536)
    # TCP: a connection that sends nothing for this long is closed (what it had is kept, tagged partial).
    idle_timeout_seconds: float = Field(default=300.0, gt=0)
    # TCP: connections one sender address may hold at once; more are refused (a relay needs a few).
    max_connections_per_source: int = Field(default=64, ge=1)


class FileSource(Strict):
    path: Path
    dataset: str | None = None  # None: decided by the parsers per line
    host: str | None = None  # hostname to attribute lines to when the line names none


class HttpListener(Strict):
    enabled: bool = True


class Listeners(Strict):
    syslog: list[SyslogListener] = []
    files: list[FileSource] = []
    http: HttpListener = HttpListener()


class SpoolSettings(Strict):
    # "batch" flushes every batch to the OS and fsyncs on an interval: a killed process loses
    # nothing; "always" also survives power loss at a throughput cost (and makes the SQLite
    # store sync every commit, since the spool forgets what the store has committed).
    fsync: Literal["always", "batch", "never"] = "batch"
    fsync_interval_seconds: float = Field(default=1.0, gt=0)
    segment_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)
    batch_size: int = Field(default=5000, ge=1)
    batch_wait_seconds: float = Field(default=0.05, ge=0)
    # Free disk space (MB) the spool leaves on its file system: below it new records are refused
    # (TCP stops reading) so the store and state files keep room, and /healthz reports it. 0: off.
    min_free_mb: int = Field(default=64, ge=0)


class ApiSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None  # base URL used in links inside notices


class SmtpSettings(Strict):
    """Outgoing mail. ``starttls`` and ``ssl`` (implicit TLS) check the server's certificate and its
    name (``host``) against ``ca_file`` if set, else the system's CAs; neither falls back to plain text."""

    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: str | None = None
    sender: str = "sentinel@localhost"
    timeout: float = 10.0
    # PEM bundle of the CAs to trust *instead of* the system's (a private CA). Absolute, so it
    # cannot depend on the working directory of whoever starts the service.
    ca_file: Path | None = None

    @field_validator("ca_file")
    @classmethod
    def _loadable_ca_bundle(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if not value.is_absolute():
            raise ValueError(f"ca_file must be an absolute path, not {str(value)!r}")
        try:  # load it as the channel will, so a bad bundle stops the start, not the first notice
            ssl.create_default_context(cafile=str(value))
        except FileNotFoundError:
            raise ValueError(f"ca_file {value}: no such file") from None
        except ssl.SSLError as exc:
            raise ValueError(f"ca_file {value}: no PEM CA certificate in it ({exc.reason})") from None
        except OSError as exc:
            raise ValueError(f"ca_file {value}: cannot be read ({exc.strerror})") from None
        return value

    @model_validator(mode="after")
    def _tls_for_login_and_ca(self) -> SmtpSettings:
        if self.security == "none":
            if self.username is not None:
                # Refused rather than warned: over plain SMTP the password crosses the network in clear.
                raise ValueError("username needs security: starttls or ssl (no password in clear)")
            if self.ca_file is not None:
                raise ValueError("ca_file needs security: starttls or ssl")
        return self


class SlackSettings(Strict):
    token: str | None = None
    webhook_url: str | None = None
    channel: str | None = None
    base_url: str | None = None  # Web API base; a test points it at a local server


class SensorSettings(Strict):
    """The packet sensor (``sentinel sensor``, ``sentinel ingest FILE.pcap``): detectors and their limits.

    Windows run on packet timestamps, so a capture replayed later finds what live capture found.
    """

    detectors: list[Literal["portscan", "arp_spoof", "dns_abuse", "cleartext_creds"]] = [
        "portscan",
        "arp_spoof",
        "dns_abuse",
        "cleartext_creds",
    ]
    # Every per-source/per-key table of every detector holds at most this many entries (LRU).
    max_tracked: int = Field(default=10_000, ge=16)
    portscan_window_seconds: float = Field(default=60.0, gt=0)
    portscan_min_ports: int = Field(default=25, ge=2)  # distinct ports on one host: port scan
    portscan_min_hosts: int = Field(default=25, ge=2)  # distinct hosts on one port: host sweep
    # (host, port) pairs remembered across all sources; bounds the scan tables' memory.
    portscan_max_pairs: int = Field(default=1_000_000, ge=1024)
    arp_window_seconds: float = Field(default=60.0, gt=0)
    arp_gratuitous_threshold: int = Field(default=20, ge=2)
    dns_window_seconds: float = Field(default=60.0, gt=0)
    dns_long_name_length: int = Field(default=100, ge=16, le=255)
    dns_entropy_min_label_length: int = Field(default=24, ge=8, le=63)
    dns_entropy_threshold: float = Field(default=3.8, gt=0, le=6)
    dns_nxdomain_threshold: int = Field(default=20, ge=2)
    dns_blocklist: Path | None = None  # None: the blocklist shipped with the sensor
    cleartext_window_seconds: float = Field(default=300.0, gt=0)
    cleartext_http_ports: list[Annotated[int, Field(ge=1, le=65535)]] = [80, 8000, 8008, 8080, 8888]
    snaplen: int = Field(default=65535, ge=256, le=262144)


Port = Annotated[int, Field(ge=1, le=65535)]


class ScanSettings(Strict):
    """Network scans (``sentinel scan``, scheduled per institution): profiles, schedules, limits, policy.

    Profiles use a fixed vocabulary; the collector builds nmap's arguments from these typed
    fields only, never from free text. The nested models keep the scan vocabulary in one place.
    """

    class Profile(Strict):
        kind: Literal["discovery", "services", "tls", "full"]
        top_ports: int = Field(default=100, ge=1, le=65535)  # services: nmap --top-ports
        ports: list[Port] = []  # services/tls: an explicit list instead of top ports
        timing: int = Field(default=4, ge=0, le=5)  # -T0 .. -T5
        max_rate: int | None = Field(default=None, ge=1, le=100_000)  # packets per second
        host_timeout_seconds: int | None = Field(default=None, ge=1, le=86_400)  # None: ScanSettings default
        max_retries: int | None = Field(default=None, ge=0, le=10)
        skip_host_discovery: bool = False  # -Pn: for hosts that drop pings
        resolve_names: bool = False  # reverse DNS of every address (-n when off)

    class Schedule(Strict):
        institution: str = "*"  # an institution id, or "*" for every institution
        profile: str
        cron: str = "nightly"  # "nightly", "weekly", or a 5-field crontab line, in the institution's time zone

    class Forbidden(Strict):
        ports: list[Port] = []
        names: list[str] = []  # nmap service names (``-sV``), matched on any port

    class InstitutionPolicy(Strict):
        allow: list[str] = []  # forbidden-service labels this institution may expose (documented exception)
        forbid: dict[str, ScanSettings.Forbidden] = {}  # extra labels for this institution only

    profiles: dict[str, Profile] = {
        "discovery": Profile(kind="discovery"),
        "services": Profile(kind="services", top_ports=100),
        "tls": Profile(kind="tls", ports=[443, 465, 636, 853, 993, 995, 8443]),
        "full": Profile(kind="full", timing=3),
    }
    schedules: list[Schedule] = []
    max_parallel: int = Field(default=2, ge=1, le=32)  # nmap processes at once, across all scans
    host_timeout_seconds: int = Field(default=900, ge=1, le=86_400)
    scan_timeout_seconds: int = Field(default=6 * 3600, ge=10)  # one nmap process, wall clock
    forbidden_services: dict[str, Forbidden] = {
        "telnet": Forbidden(ports=[23], names=["telnet"]),
        "ftp": Forbidden(ports=[21], names=["ftp"]),
        "smb": Forbidden(ports=[139, 445], names=["microsoft-ds", "netbios-ssn"]),
        "rdp": Forbidden(ports=[3389], names=["ms-wbt-server"]),
        "mssql": Forbidden(ports=[1433], names=["ms-sql-s"]),
        "mysql": Forbidden(ports=[3306], names=["mysql"]),
        "postgresql": Forbidden(ports=[5432], names=["postgresql"]),
        "oracle": Forbidden(ports=[1521], names=["oracle-tns"]),
        "mongodb": Forbidden(ports=[27017], names=["mongodb", "mongod"]),
        "redis": Forbidden(ports=[6379], names=["redis"]),
        "vnc": Forbidden(ports=[5900], names=["vnc"]),
        "elasticsearch": Forbidden(ports=[9200], names=["elasticsearch"]),
    }
    institution_policies: dict[str, InstitutionPolicy] = {}
    cert_warning_days: int = Field(default=30, ge=1, le=365)
    eol_file: Path | None = None  # None: the end-of-life list shipped with the collector
    raw_xml_max_bytes: int = Field(default=2 * 1024 * 1024, ge=4096)  # raw nmap XML kept per scan


ScanSettings.model_rebuild()


class DetectSettings(Strict):
    """The scheduled detection engine: where rules are and how windows are run (seconds)."""

    rules_dirs: list[Path] = []  # extra rule folders, after the shipped pack; relative to the config file
    builtin_rules: bool = True  # load the pack shipped in sentinel/detect/rules
    disabled_rules: list[str] = []  # rule ids or names not to run
    interval_seconds: int = Field(default=60, ge=1)
    lookback_seconds: int = Field(default=300, ge=0)  # late events this old still match
    ingest_delay_seconds: int = Field(default=30, ge=0)  # windows end this long before now
    realert_seconds: int = Field(default=3600, ge=1)  # one alert per rule, key and this window
    max_windows_per_run: int = Field(default=60, ge=1)  # bounded catch-up work per step
    max_run_seconds: float = Field(default=60.0, gt=0)  # a slower rule run is stopped and reported
    sample_event_ids: int = Field(default=20, ge=1, le=1000)  # matching event ids kept per alert
    rule_cache: bool = True  # keep compiled rules in <data_dir>/cache/rules: an unchanged rule loads fast
    # Read each stored event once, by ingest time, and keep the matching rules' matches in memory
    # (alerts within seconds; sentinel init turns it on). Off: every step re-reads its windows.
    follow_ingest: bool = False
    ingest_margin_seconds: int = Field(default=5, ge=0, le=3600)  # re-read this much ingest time
    scan_interval_seconds: int | None = Field(default=None, ge=1)  # threshold/new-value/silence cadence


def _duration(value: Any) -> Any:
    """``15m``/``4h``/``1d`` as people write them; a bare number is seconds."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        from sentinel.durations import parse_duration

        return parse_duration(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class IncidentSettings(Strict):
    """Incidents: SLA targets per severity, the default attach window, the on-call list.

    SLA defaults follow REFERENCE-controls.md for acknowledgement (critical 15 min, high 1 h,
    medium 4 h, low 1 business day, taken as 24 h: no business calendar). Resolution targets are
    our proposal until the authority sets its own: critical 1 day, high 3 days, medium 7 days,
    low 30 days. Both are measured from the moment the incident was opened.
    """

    class Acknowledge(Strict):
        critical: Duration = timedelta(minutes=15)
        high: Duration = timedelta(hours=1)
        medium: Duration = timedelta(hours=4)
        low: Duration = timedelta(hours=24)

    class Resolve(Strict):
        critical: Duration = timedelta(days=1)
        high: Duration = timedelta(days=3)
        medium: Duration = timedelta(days=7)
        low: Duration = timedelta(days=30)

    class Sla(Strict):
        acknowledge: IncidentSettings.Acknowledge = Field(default_factory=lambda: IncidentSettings.Acknowledge())
        resolve: IncidentSettings.Resolve = Field(default_factory=lambda: IncidentSettings.Resolve())

    sla: Sla = Field(default_factory=lambda: IncidentSettings.Sla())
    attach_window: Duration = timedelta(hours=24)  # an alert joins the open incident with its key seen this recently
    on_call: list[str] = []  # analyst names for round-robin assignment by playbooks


IncidentSettings.Sla.model_rebuild()
IncidentSettings.model_rebuild()


class SocContact(Strict):
    """How institutions reach the SOC: named in every notice and report; ``email`` is the Reply-To of
    institution notices, so a reply reaches people instead of the sending address."""

    name: str = "SOC"
    email: str | None = Field(default=None, pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
    phone: str | None = Field(default=None, max_length=40)
    hours: str | None = Field(default=None, max_length=80)  # e.g. "24/7", shown as written


class NotifySettings(Strict):
    """Notices (outbox): who the SOC is on each channel, signed webhooks, retries, acknowledgement links."""

    class Retry(Strict):
        max_attempts: int = Field(default=8, ge=1, le=100)  # then the notice is ``dead``
        base_seconds: float = Field(default=30.0, gt=0)  # first retry after about this long, doubling
        max_seconds: float = Field(default=3600.0, gt=0)  # the doubling stops here
        jitter: float = Field(default=0.5, ge=0, le=1)  # up to this fraction of a delay is random
        claim_seconds: float = Field(default=300.0, gt=0)  # a worker that died holds a notice this long

    class Webhook(Strict):
        url: str = Field(pattern=r"^https?://")
        secret: str | None = Field(default=None, min_length=16)  # None: ``webhook_secret``

    slack_channel: str | None = None  # the SOC channel; None: ``slack.channel``
    soc_emails: list[str] = []  # SOC managers: escalations and SLA breaches by email
    soc_language: Literal["en", "sw"] = "en"
    webhooks: dict[str, Webhook] = {}  # named receivers, e.g. another government system
    webhook_secret: str | None = Field(default=None, min_length=16)
    contact_roles: list[Literal["security", "ict_officer", "manager", "other"]] = ["security", "ict_officer"]
    retry: Retry = Retry()
    ack_ttl_hours: float = Field(default=72.0, gt=0, le=24 * 90)
    poll_seconds: float = Field(default=5.0, gt=0)  # how often ``serve`` delivers due notices
    batch_size: int = Field(default=100, ge=1, le=10_000)
    soc_contact: SocContact = SocContact()  # named in every institution notice

    @model_validator(mode="after")
    def _webhooks_signed(self) -> NotifySettings:
        unsigned = [name for name, hook in self.webhooks.items() if not (hook.secret or self.webhook_secret)]
        if unsigned:
            raise ValueError(f"webhook(s) {', '.join(unsigned)} need a secret (or set webhook_secret)")
        return self


NotifySettings.model_rebuild()


class PlaybookSettings(Strict):
    """The response: which playbooks run and how often the response jobs of ``sentinel serve`` run (seconds)."""

    dirs: list[Path] = []  # extra playbook folders, after the shipped library; relative to the config file
    builtin: bool = True  # load the library shipped in playbooks/library
    disabled: list[str] = []  # playbook ids not to run
    interval_seconds: float = Field(default=5.0, gt=0)  # new or updated alerts are run through playbooks
    escalation_interval_seconds: float = Field(default=30.0, gt=0)  # due escalate_after steps, waiting runs
    sla_interval_seconds: float = Field(default=60.0, gt=0)  # SLA breach check
    batch_size: int = Field(default=100, ge=1, le=10_000)  # alerts per run of the job
    max_failures: int = Field(default=5, ge=1, le=100)  # a failing run is retried this often, then left to analysts


class DecoderSettings(Strict):
    """Log decoders: the library shipped in collectors/decoders/library plus a site's own YAML folders."""

    dirs: list[Path] = []  # site folders, relative to the config file; a site decoder with a shipped id replaces it
    builtin: bool = True  # load the shipped library
    disabled: list[str] = []  # decoder ids not to use


class ReportSettings(Strict):
    """Monthly security posture reports: when they are made and who receives them.

    Each institution's report for the month just ended is made on ``day`` at ``hour`` in the
    institution's time zone (the national summary in ``timezone``) and emailed with the PDF.
    """

    enabled: bool = True  # scheduled by ``sentinel serve``; ``sentinel report`` works either way
    day: int = Field(default=1, ge=1, le=28)
    hour: int = Field(default=6, ge=0, le=23)
    recipient_roles: list[Literal["security", "ict_officer", "manager", "other"]] = ["manager", "ict_officer"]
    top: int = Field(default=5, ge=1, le=20)  # rows in each "top" table (sources, accounts, hosts, rules)


class Settings(Strict):
    data_dir: Path = Path("./data")
    timezone: str = DEFAULT_TIMEZONE
    inventory: Path = Path("inventory.yaml")
    store: StoreSettings = StoreSettings()
    listeners: Listeners = Listeners()
    spool: SpoolSettings = SpoolSettings()
    api: ApiSettings = ApiSettings()
    smtp: SmtpSettings = SmtpSettings()
    slack: SlackSettings = SlackSettings()
    sensor: SensorSettings = SensorSettings()
    scan: ScanSettings = ScanSettings()
    detect: DetectSettings = DetectSettings()
    notify: NotifySettings = NotifySettings()
    incidents: IncidentSettings = IncidentSettings()
    playbooks: PlaybookSettings = PlaybookSettings()
    decoders: DecoderSettings = DecoderSettings()
    reports: ReportSettings = ReportSettings()
    # Source of this configuration, for messages; not a user setting.
    source_path: Path | None = Field(default=None, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        check_timezone(value)
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def inventory_path(self) -> Path:
        if self.inventory.is_absolute() or self.source_path is None:
            return self.inventory
        return self.source_path.parent / self.inventory

    def resolved_data_dir(self) -> Path:
        if self.data_dir.is_absolute() or self.source_path is None:
            return self.data_dir
        return self.source_path.parent / self.data_dir


def check_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc


def _env_overrides(environ: Mapping[str, str]) -> dict[str, tuple[tuple[str, ...], Any]]:
    found: dict[str, tuple[tuple[str, ...], Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _NOT_SETTINGS:
            continue
        key_path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part)
        if not key_path:
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        found[name] = (key_path, value)
    return found


# Variables that steer tools and tests, not the service configuration.
_NOT_SETTINGS = frozenset({"SENTINEL_CONFIG", "SENTINEL_TEST_DATA", "SENTINEL_TEST_ES_URL"})


def _apply(data: dict[str, Any], key_path: tuple[str, ...], value: Any) -> None:
    node = data
    for part in key_path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[key_path[-1]] = value


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate settings from a YAML file (optional) and the environment."""
    environ = os.environ if environ is None else environ
    if path is not None:
        doc = YamlDocument.load(path)
    else:
        doc = YamlDocument.parse("{}", "<defaults>")
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping of keys to values", Location(doc.path, 1))
    overrides = _env_overrides(environ)
    for key_path, value in overrides.values():
        _apply(data, key_path, value)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        # An error in an overridden key is the environment's fault: say so.
        for err in exc.errors():
            loc = tuple(str(p) for p in err.get("loc", ()))
            for env_name, (key_path, _) in overrides.items():
                if loc[: len(key_path)] == key_path:
                    msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg")
                    raise ConfigError(
                        f"{msg} (set by environment variable {env_name})", doc.location(key_path)
                    ) from exc
        raise validation_error_to_config_error(doc, exc) from exc
    if path is not None:
        settings = settings.model_copy(update={"source_path": Path(path).resolve()})
    return settings
