"""Where a Sigma rule looks in Sentinel's store: field names and log sources mapped to ECS.

One pySigma ``ProcessingPipeline`` (:func:`sentinel_pipeline`) renames Sigma's field names to the
ECS names Sentinel's collectors write, and :func:`logsource_target` says which datasets (and,
for Windows, which event ids) a rule's ``logsource`` can match, so the engine fetches and tries
only events that can apply. The same pipeline feeds the Python matcher, the SQLite compiler and
pySigma's Elasticsearch backend, so the three agree on what a rule means.

Conventions:

- Windows (``product: windows``): events keep their raw EventData under ``winlog.event_data.*``
  (as Winlogbeat does), so a Sigma field ``Image`` is ``winlog.event_data.Image``; ``EventID``,
  ``Channel``, ``Provider_Name`` and ``Computer`` map to ``winlog.*``. A category (Sysmon's
  ``process_creation`` = channel Sysmon + EventID 1, ...) or service (``security`` = channel
  Security) adds channel/EventID conditions, exactly as pySigma's own Windows pipelines do.
- Linux: process/file/network categories map Sysmon-style names to ECS (``Image`` →
  ``process.executable``); ``auditd`` key=value fields live under ``auditd.log.<key>`` (``type`` →
  ``auditd.log.record_type``); web server and firewall categories map to ECS HTTP/network fields.
- Keywords (values with no field) search ``message`` and ``event.original`` as substrings; on
  Windows events, which have no raw line, the rendered ``message`` (where a forwarder sent one)
  and every value of the event data (``winlog.event_data.*``).
- Windows log sources beyond pySigma's table: ``file_access`` and ``file_rename`` are the
  Microsoft-Windows-Kernel-File ETW events (as SigmaHQ's rules require), ``iis-configuration``,
  ``ldap`` and ``smbserver-connectivity`` their channels (``WINDOWS_SERVICES``).
- ``product: sentinel, service: <dataset>`` is Sentinel's own log source: fields are ECS names
  already and the dataset is the service (several separated by ``,``).
- A field name that already contains a dot is taken as an ECS name and left alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sigma.pipelines.common import windows_logsource_mapping
from sigma.processing.conditions import (
    IncludeFieldCondition,
    LogsourceCondition,
    MatchValueCondition,
)
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    AddConditionTransformation,
    FieldFunctionTransformation,
    FieldMappingTransformation,
    SetValueTransformation,
)
from sigma.rule import SigmaLogSource

from sentinel.errors import RuleError

KEYWORD_FIELDS: tuple[str, ...] = ("message", "event.original")
# Every value under winlog.event_data (a field name ending ".*" reads all values of that object)
EVENT_DATA_VALUES = "winlog.event_data.*"
WINDOWS_KEYWORD_FIELDS: tuple[str, ...] = ("message", EVENT_DATA_VALUES)

# -- Windows ---------------------------------------------------------------------------------

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"

# Channels with a short, stable dataset name; any other channel gets a slug (see windows_dataset).
_CHANNEL_DATASETS: dict[str, str] = {
    "Security": "windows.security",
    "System": "windows.system",
    "Application": "windows.application",
    SYSMON_CHANNEL: "windows.sysmon_operational",
    "Windows PowerShell": "windows.powershell",
    "Microsoft-Windows-PowerShell/Operational": "windows.powershell_operational",
    "PowerShellCore/Operational": "windows.powershell_operational",
    "Microsoft-Windows-Windows Defender/Operational": "windows.defender",
    "Microsoft-Windows-TaskScheduler/Operational": "windows.taskscheduler",
    "Microsoft-Windows-WMI-Activity/Operational": "windows.wmi",
}

# Sysmon categories: Sigma's standard category → EventID table (as in pySigma-pipeline-sysmon).
_SYSMON_CATEGORIES: dict[str, tuple[int, ...]] = {
    "process_creation": (1,),
    "file_change": (2,),
    "network_connection": (3,),
    "sysmon_status": (4, 16),
    "process_termination": (5,),
    "driver_load": (6,),
    "image_load": (7,),
    "create_remote_thread": (8,),
    "raw_access_thread": (9,),
    "process_access": (10,),
    "file_event": (11,),
    "registry_add": (12,),
    "registry_delete": (12,),
    "registry_set": (13,),
    "registry_rename": (14,),
    "registry_event": (12, 13, 14),
    "create_stream_hash": (15,),
    "pipe_created": (17, 18),
    "wmi_event": (19, 20, 21),
    "dns_query": (22,),
    "file_delete": (23, 26),
    "clipboard_capture": (24,),
    "process_tampering": (25,),
    "file_delete_detected": (26,),
    "file_block_executable": (27,),
    "file_block_shredding": (28,),
    "file_executable_detected": (29,),
    "sysmon_error": (255,),
}

# Kernel-File ETW categories (SigmaHQ: "Requirements: Microsoft-Windows-Kernel-File ETW provider"):
# (channel, EventIDs); the rules name the event's own fields (FileName, SourceFilename, ...).
KERNEL_FILE_CHANNEL = "Microsoft-Windows-Kernel-File/Analytic"
_KERNEL_FILE_CATEGORIES: dict[str, tuple[str, tuple[int, ...]]] = {
    "file_access": (KERNEL_FILE_CHANNEL, ()),
    "file_rename": (KERNEL_FILE_CHANNEL, ()),
}

# Sigma Windows services → channels: pySigma's table plus those SigmaHQ rules use that it lacks.
WINDOWS_SERVICES: dict[str, str | Sequence[str]] = {
    **windows_logsource_mapping,
    "iis-configuration": "Microsoft-IIS-Configuration/Operational",
    "ldap": "Microsoft-Windows-LDAP-Client/Debug",
    "smbserver-connectivity": "Microsoft-Windows-SMBServer/Connectivity",
}

# PowerShell categories: (channel, EventIDs).
_POWERSHELL_CATEGORIES: dict[str, tuple[str, tuple[int, ...]]] = {
    "ps_module": ("Microsoft-Windows-PowerShell/Operational", (4103,)),
    "ps_script": ("Microsoft-Windows-PowerShell/Operational", (4104,)),
    "ps_classic_start": ("Windows PowerShell", (400,)),
    "ps_classic_provider_start": ("Windows PowerShell", (600,)),
    "ps_classic_script": ("Windows PowerShell", (800,)),
}

_WINDOWS_FIELDS: dict[str | None, str | list[str]] = {
    "EventID": "winlog.event_id",
    "Channel": "winlog.channel",
    "Provider_Name": "winlog.provider_name",
    "Computer": "winlog.computer_name",
    "ComputerName": "winlog.computer_name",
}

# -- Linux -----------------------------------------------------------------------------------

_LINUX_PROCESS_FIELDS: dict[str | None, str | list[str]] = {
    "Image": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line",
    "CurrentDirectory": "process.working_directory",
    "ProcessId": "process.pid",
    "ParentProcessId": "process.parent.pid",
    "User": "user.name",
    "LogonId": "user.audit.id",  # Sysmon for Linux's LogonId is the audit login uid
}
_LINUX_CATEGORY_FIELDS: dict[str, dict[str | None, str | list[str]]] = {
    "process_creation": _LINUX_PROCESS_FIELDS,
    "file_event": {"TargetFilename": "file.path", "Image": "process.executable", "User": "user.name"},
    "network_connection": {
        "Image": "process.executable",
        "User": "user.name",
        "SourceIp": "source.ip",
        "SourcePort": "source.port",
        "SourceHostname": "source.domain",
        "DestinationIp": "destination.ip",
        "DestinationPort": "destination.port",
        "DestinationHostname": "destination.domain",
        "Protocol": "network.transport",
        "Initiated": "network.direction",
    },
}
_LINUX_CATEGORY_DATASETS: dict[str, tuple[str, ...]] = {
    "process_creation": ("linux.process",),
    "file_event": ("linux.file",),
    "network_connection": ("linux.network",),
}
# Linux services logging through syslog; the normaliser puts sshd/sudo/su/pam in system.auth.
_LINUX_SERVICE_DATASETS: dict[str, tuple[str, ...]] = {
    "auth": ("system.auth",),
    "sshd": ("system.auth",),
    "sudo": ("system.auth",),
    "su": ("system.auth",),
    "pam": ("system.auth",),
    "syslog": ("system.syslog", "system.auth"),
    "cron": ("system.syslog",),
    "auditd": ("auditd.log",),
}
_LINUX_ANY = ("system.auth", "system.syslog")

# -- Web servers and firewalls (W3C-style Sigma field names) --------------------------------

_WEBSERVER_FIELDS: dict[str | None, str | list[str]] = {
    "c-ip": "source.ip",
    "c-uri": "url.original",
    "c-uri-query": "url.query",
    "c-uri-stem": "url.path",
    "c-useragent": "user_agent.original",
    "cs-user-agent": "user_agent.original",
    "cs-method": "http.request.method",
    "cs-referer": "http.request.referrer",
    "cs-uri-query": "url.query",
    "cs-uri-stem": "url.path",
    "cs-username": "user.name",
    "sc-status": "http.response.status_code",
    "sc-bytes": "http.response.body.bytes",
    "cs-host": "url.domain",
}
_WEBSERVER_DATASETS = ("nginx.access", "apache.access")
_FIREWALL_FIELDS: dict[str | None, str | list[str]] = {
    "src_ip": "source.ip",
    "src_port": "source.port",
    "dst_ip": "destination.ip",
    "dst_port": "destination.port",
    "action": "event.action",
    "protocol": "network.transport",
}
_FIREWALL_DATASETS = ("iptables.log",)

_DATASET_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


@dataclass(frozen=True, slots=True)
class LogsourceTarget:
    """What a log source means in the store: the datasets to read and, for Windows, the EventIDs."""

    datasets: tuple[str, ...]
    event_ids: tuple[int, ...] = ()  # empty: any event id


def windows_dataset(channel: str) -> str:
    """Dataset of a Windows event log channel: a fixed name for common ones, else a slug."""
    known = _CHANNEL_DATASETS.get(channel)
    if known is not None:
        return known
    slug = re.sub(r"[^a-z0-9]+", "_", channel.lower()).strip("_")
    slug = slug.removeprefix("microsoft_windows_")
    return "windows." + (slug or "unknown")


def _windows_channels(logsource: SigmaLogSource) -> tuple[tuple[str, ...], tuple[int, ...]]:
    category, service = logsource.category, logsource.service
    channels: tuple[str, ...] = ()
    event_ids: tuple[int, ...] = ()
    if category is not None:
        if category in _SYSMON_CATEGORIES:
            channels, event_ids = (SYSMON_CHANNEL,), _SYSMON_CATEGORIES[category]
        elif category in _POWERSHELL_CATEGORIES:
            channel, event_ids = _POWERSHELL_CATEGORIES[category]
            channels = (channel,)
        elif category in _KERNEL_FILE_CATEGORIES:
            channel, event_ids = _KERNEL_FILE_CATEGORIES[category]
            channels = (channel,)
        else:
            raise RuleError(f"Windows log source category {category!r} is not one Sentinel collects")
    if service is not None:
        mapped = WINDOWS_SERVICES.get(service)
        if mapped is None:
            raise RuleError(f"Windows log source service {service!r} is not one Sentinel collects")
        service_channels = (mapped,) if isinstance(mapped, str) else tuple(mapped)
        # category and service together: the category's channel must also be the service's
        channels = tuple(c for c in channels if c in service_channels) if channels else service_channels
        if not channels:
            raise RuleError(f"Windows log source category {category!r} does not occur in service {service!r}")
    if not channels:
        raise RuleError("a Windows log source needs a category or a service")
    return channels, event_ids


def logsource_target(logsource: SigmaLogSource) -> LogsourceTarget:
    """Datasets (and EventIDs) a Sigma log source covers; ``RuleError`` when Sentinel has no such logs."""
    product, category, service = logsource.product, logsource.category, logsource.service
    if product == "windows":
        channels, event_ids = _windows_channels(logsource)
        return LogsourceTarget(tuple(dict.fromkeys(windows_dataset(c) for c in channels)), event_ids)
    if product == "sentinel":
        datasets = tuple(s.strip() for s in (service or "").split(",") if s.strip())
        bad = [d for d in datasets if not _DATASET_RE.match(d)]
        if not datasets or bad:
            raise RuleError("log source 'product: sentinel' needs 'service: <dataset>[,<dataset>...]'")
        return LogsourceTarget(datasets)
    if category == "webserver" and product in (None, "linux", "apache", "nginx"):
        if product in ("apache", "nginx"):
            return LogsourceTarget((f"{product}.access",))
        return LogsourceTarget(_WEBSERVER_DATASETS)
    if category == "firewall" and product in (None, "linux"):
        return LogsourceTarget(_FIREWALL_DATASETS)
    if product == "linux":
        if category is not None:
            category_datasets = _LINUX_CATEGORY_DATASETS.get(category)
            if category_datasets is None:
                raise RuleError(f"Linux log source category {category!r} is not one Sentinel collects")
            return LogsourceTarget(category_datasets)
        if service is None:
            return LogsourceTarget(_LINUX_ANY)
        # Other daemons (vsftpd, clamav, ...) log through syslog: their lines are in system.syslog.
        return LogsourceTarget(_LINUX_SERVICE_DATASETS.get(service, ("system.syslog",)))
    raise RuleError(
        f"log source (product={product}, category={category}, service={service}) is not one Sentinel collects"
    )


def _prefixed(prefix: str, name: str | None) -> str:
    """A bare Sigma field name under ``prefix``; dotted names are ECS already and stay."""
    if name is None or "." in name:
        return name  # type: ignore[return-value]  # None: pySigma leaves keywords alone
    return prefix + name


def _field_map(identifier: str, mapping: dict[str | None, str | list[str]], **logsource: str) -> ProcessingItem:
    return ProcessingItem(
        identifier=identifier,
        transformation=FieldMappingTransformation(dict(mapping)),
        rule_conditions=[LogsourceCondition(**logsource)],
    )


def _windows_items() -> list[ProcessingItem]:
    items = [
        ProcessingItem(  # named System fields to winlog.*, every other bare name is raw EventData
            identifier="sentinel_windows_fields",
            transformation=FieldFunctionTransformation(dict(_WINDOWS_FIELDS), partial(_prefixed, "winlog.event_data.")),
            rule_conditions=[LogsourceCondition(product="windows")],
        ),
    ]
    # Channel (and EventID) conditions: added after field mapping so the names stay as written.
    for service, mapped in WINDOWS_SERVICES.items():
        channels = [mapped] if isinstance(mapped, str) else list(mapped)
        items.append(
            ProcessingItem(
                identifier=f"sentinel_windows_service_{service}",
                transformation=AddConditionTransformation(
                    {"winlog.channel": channels if len(channels) > 1 else channels[0]},
                    name=f"_sentinel_channel_{service}",
                ),
                rule_conditions=[LogsourceCondition(product="windows", service=service)],
            )
        )
    for category, ids in _SYSMON_CATEGORIES.items():
        items.append(_windows_category_item(category, SYSMON_CHANNEL, ids))
    for category, (channel, ids) in {**_POWERSHELL_CATEGORIES, **_KERNEL_FILE_CATEGORIES}.items():
        items.append(_windows_category_item(category, channel, ids))
    items.append(
        ProcessingItem(  # keywords on Windows events: the rendered message and every event data value
            identifier="sentinel_windows_keywords",
            transformation=FieldMappingTransformation({None: list(WINDOWS_KEYWORD_FIELDS)}),
            rule_conditions=[LogsourceCondition(product="windows")],
        )
    )
    return items


def _windows_category_item(category: str, channel: str, ids: tuple[int, ...]) -> ProcessingItem:
    conditions: dict[str, int | str | list[str]] = {"winlog.channel": channel}
    if ids:
        conditions["winlog.event_id"] = ids[0] if len(ids) == 1 else [str(i) for i in ids]
    return ProcessingItem(
        identifier=f"sentinel_windows_category_{category}",
        transformation=AddConditionTransformation(conditions, name=f"_sentinel_category_{category}"),
        rule_conditions=[LogsourceCondition(product="windows", category=category)],
    )


def _linux_items() -> list[ProcessingItem]:
    items = [
        _field_map(f"sentinel_linux_{category}", mapping, product="linux", category=category)
        for category, mapping in _LINUX_CATEGORY_FIELDS.items()
    ]
    items.append(
        ProcessingItem(  # auditd key=value fields live under auditd.log.*
            identifier="sentinel_auditd_fields",
            transformation=FieldFunctionTransformation(
                {"type": "auditd.log.record_type"}, partial(_prefixed, "auditd.log.")
            ),
            rule_conditions=[LogsourceCondition(product="linux", service="auditd")],
        )
    )
    # Sysmon's Initiated=true/false is ECS network.direction egress/ingress.
    for value, direction in ((True, "egress"), ("true", "egress"), (False, "ingress"), ("false", "ingress")):
        items.append(
            ProcessingItem(
                identifier=f"sentinel_direction_{direction}_{value}",
                transformation=SetValueTransformation(value=direction),
                field_name_conditions=[IncludeFieldCondition(fields=["network.direction"])],
                detection_item_conditions=[MatchValueCondition(value=value, cond="all")],
                rule_conditions=[LogsourceCondition(product="linux", category="network_connection")],
            )
        )
    return items


def sentinel_pipeline() -> ProcessingPipeline:
    """The pipeline that maps every supported Sigma log source onto Sentinel's ECS events."""
    items = _windows_items() + _linux_items()
    items.append(_field_map("sentinel_webserver_fields", _WEBSERVER_FIELDS, category="webserver"))
    items.append(_field_map("sentinel_firewall_fields", _FIREWALL_FIELDS, category="firewall"))
    items.append(
        ProcessingItem(  # keyword rules: a substring anywhere in the message or the raw line
            identifier="sentinel_keywords",
            transformation=FieldMappingTransformation({None: list(KEYWORD_FIELDS)}),
        )
    )
    return ProcessingPipeline(name="Sentinel ECS", priority=20, items=items)


def map_field(logsource: SigmaLogSource, name: str) -> str:
    """ECS name of one Sigma field under a log source (for correlation group-by and aliases)."""
    if "." in name:
        return name
    product, category = logsource.product, logsource.category
    if product == "windows":
        mapped = _WINDOWS_FIELDS.get(name)
        return mapped if isinstance(mapped, str) else f"winlog.event_data.{name}"
    if product == "linux" and category in _LINUX_CATEGORY_FIELDS:
        mapped = _LINUX_CATEGORY_FIELDS[category].get(name)
        if isinstance(mapped, str):
            return mapped
    if product == "linux" and logsource.service == "auditd":
        return "auditd.log.record_type" if name == "type" else f"auditd.log.{name}"
    for table, cat in ((_WEBSERVER_FIELDS, "webserver"), (_FIREWALL_FIELDS, "firewall")):
        if category == cat and isinstance(table.get(name), str):
            return str(table[name])
    return name
