"""Log sources → datasets/EventIDs and Sigma field names → ECS."""

from __future__ import annotations

import pytest
from sigma.rule import SigmaLogSource

from sentinel.detect.rulebook.ecs_pipeline import LogsourceTarget, logsource_target, map_field, windows_dataset
from sentinel.detect.rulebook.sigma import SigmaRule, load_sigma_text
from sentinel.errors import RuleError


@pytest.mark.parametrize(
    ("logsource", "target"),
    [
        (
            SigmaLogSource(product="windows", category="process_creation"),
            LogsourceTarget(("windows.sysmon_operational",), (1,)),
        ),
        (
            SigmaLogSource(product="windows", category="registry_event"),
            LogsourceTarget(("windows.sysmon_operational",), (12, 13, 14)),
        ),
        (SigmaLogSource(product="windows", service="security"), LogsourceTarget(("windows.security",))),
        (SigmaLogSource(product="windows", service="system"), LogsourceTarget(("windows.system",))),
        (SigmaLogSource(product="windows", service="sysmon"), LogsourceTarget(("windows.sysmon_operational",))),
        (SigmaLogSource(product="windows", service="powershell"), LogsourceTarget(("windows.powershell_operational",))),
        (
            SigmaLogSource(product="windows", category="ps_script"),
            LogsourceTarget(("windows.powershell_operational",), (4104,)),
        ),
        (
            SigmaLogSource(product="windows", category="ps_classic_start"),
            LogsourceTarget(("windows.powershell",), (400,)),
        ),
        (SigmaLogSource(product="windows", service="windefend"), LogsourceTarget(("windows.defender",))),
        (
            SigmaLogSource(product="windows", service="bits-client"),
            LogsourceTarget(("windows.bits_client_operational",)),
        ),
        # SigmaHQ log sources beyond pySigma's table: the Kernel-File ETW channel, IIS, LDAP, SMB server
        (SigmaLogSource(product="windows", category="file_access"), LogsourceTarget(("windows.kernel_file_analytic",))),
        (SigmaLogSource(product="windows", category="file_rename"), LogsourceTarget(("windows.kernel_file_analytic",))),
        (
            SigmaLogSource(product="windows", service="iis-configuration"),
            LogsourceTarget(("windows.microsoft_iis_configuration_operational",)),
        ),
        (SigmaLogSource(product="windows", service="ldap"), LogsourceTarget(("windows.ldap_client_debug",))),
        (
            SigmaLogSource(product="windows", service="smbserver-connectivity"),
            LogsourceTarget(("windows.smbserver_connectivity",)),
        ),
        (SigmaLogSource(product="linux", service="sshd"), LogsourceTarget(("system.auth",))),
        (SigmaLogSource(product="linux", service="auth"), LogsourceTarget(("system.auth",))),
        (SigmaLogSource(product="linux", service="cron"), LogsourceTarget(("system.syslog",))),
        (SigmaLogSource(product="linux", service="vsftpd"), LogsourceTarget(("system.syslog",))),
        (SigmaLogSource(product="linux", service="auditd"), LogsourceTarget(("auditd.log",))),
        (SigmaLogSource(product="linux"), LogsourceTarget(("system.auth", "system.syslog"))),
        (SigmaLogSource(product="linux", category="process_creation"), LogsourceTarget(("linux.process",))),
        (SigmaLogSource(category="webserver"), LogsourceTarget(("nginx.access", "apache.access"))),
        (SigmaLogSource(product="nginx", category="webserver"), LogsourceTarget(("nginx.access",))),
        (SigmaLogSource(category="firewall"), LogsourceTarget(("iptables.log",))),
        (
            SigmaLogSource(product="sentinel", service="system.auth, nginx.access"),
            LogsourceTarget(("system.auth", "nginx.access")),
        ),
    ],
)
def test_logsource_targets(logsource: SigmaLogSource, target: LogsourceTarget) -> None:
    assert logsource_target(logsource) == target


@pytest.mark.parametrize(
    ("logsource", "reason"),
    [
        (SigmaLogSource(product="cisco", service="aaa"), "not one Sentinel collects"),
        (SigmaLogSource(product="windows", category="no_such_thing"), "not one Sentinel collects"),
        (SigmaLogSource(product="windows", service="nope"), "not one Sentinel collects"),
        (SigmaLogSource(product="windows", category="process_creation", service="security"), "does not occur"),
        (SigmaLogSource(product="linux", category="dns"), "not one Sentinel collects"),
        (SigmaLogSource(product="sentinel", service="Bad Name"), "service: <dataset>"),
    ],
)
def test_unsupported_logsources_say_why(logsource: SigmaLogSource, reason: str) -> None:
    with pytest.raises(RuleError, match=reason):
        logsource_target(logsource)


def test_windows_dataset_names() -> None:
    assert windows_dataset("Microsoft-Windows-Sysmon/Operational") == "windows.sysmon_operational"
    assert windows_dataset("Security") == "windows.security"
    assert windows_dataset("Windows PowerShell") == "windows.powershell"
    assert windows_dataset("Microsoft-Windows-TerminalServices-LocalSessionManager/Operational") == (
        "windows.terminalservices_localsessionmanager_operational"
    )
    assert windows_dataset("OpenSSH/Operational") == "windows.openssh_operational"


def test_map_field_by_logsource() -> None:
    win = SigmaLogSource(product="windows", category="process_creation")
    assert map_field(win, "Image") == "winlog.event_data.Image"
    assert map_field(win, "EventID") == "winlog.event_id"
    assert map_field(win, "Computer") == "winlog.computer_name"
    linux = SigmaLogSource(product="linux", category="process_creation")
    assert map_field(linux, "Image") == "process.executable"
    assert map_field(linux, "CommandLine") == "process.command_line"
    assert map_field(SigmaLogSource(product="linux", service="auditd"), "type") == "auditd.log.record_type"
    assert map_field(SigmaLogSource(product="linux", service="auditd"), "a0") == "auditd.log.a0"
    assert map_field(SigmaLogSource(category="webserver"), "c-ip") == "source.ip"
    assert map_field(SigmaLogSource(product="linux", service="sshd"), "source.ip") == "source.ip"


def _processed_fields(text: str) -> tuple[str, ...]:
    (rule,), errors = load_sigma_text(text)
    assert errors == [] and isinstance(rule, SigmaRule)
    return rule.fields


def test_pipeline_maps_linux_network_and_direction_values() -> None:
    text = """
title: t
id: 00000000-0000-0000-0000-000000000001
logsource: {product: linux, category: network_connection}
detection:
    sel:
        Initiated: 'true'
        DestinationPort: 4444
        DestinationHostname|endswith: '.onion'
    condition: sel
"""
    (rule,), _ = load_sigma_text(text)
    assert isinstance(rule, SigmaRule)
    assert rule.fields == ("network.direction", "destination.port", "destination.domain")
    detection = rule.processed.detection.detections["sel"]
    values = {item.field: [str(v) for v in item.value] for item in detection.detection_items}  # type: ignore[union-attr]
    assert values["network.direction"] == ["egress"]


def test_pipeline_adds_channel_and_event_id_conditions_for_windows_categories() -> None:
    fields = _processed_fields(
        """
title: t
id: 00000000-0000-0000-0000-000000000002
logsource: {product: windows, category: image_load}
detection:
    sel:
        ImageLoaded|endswith: '\\dbghelp.dll'
    condition: sel
"""
    )
    assert fields == ("winlog.event_data.ImageLoaded", "winlog.channel", "winlog.event_id")


def test_keywords_map_to_message_and_event_original() -> None:
    fields = _processed_fields(
        """
title: t
id: 00000000-0000-0000-0000-000000000003
logsource: {product: linux, service: syslog}
detection:
    keywords:
        - 'session opened'
    condition: keywords
"""
    )
    assert fields == ("message", "event.original")


def test_auditd_fields_live_under_auditd_log() -> None:
    fields = _processed_fields(
        """
title: t
id: 00000000-0000-0000-0000-000000000004
logsource: {product: linux, service: auditd}
detection:
    sel:
        type: EXECVE
        a0: nc
    condition: sel
"""
    )
    assert fields == ("auditd.log.record_type", "auditd.log.a0")
