"""A SigmaHQ-sized Windows rule corpus for the start-up and import benchmarks (written outside the project).

No full copy of the SigmaHQ Windows rules is kept on this machine. This script builds a corpus of
``--rules`` (default 2,400) rule files with the shape of the SigmaHQ Windows folder: the real
Windows rules of ``sigma-regression-rules`` (../shared/data) as they are, a few real SigmaHQ rules
of log sources the regression set lacks (kept below as text: the keyword rule of the issue,
``file_access``, ``file_rename``, ``iis-configuration``, ``ldap``, ``smbserver-connectivity``),
and variants of all of them until each log source has roughly its share of the SigmaHQ folder
(process_creation about half, registry, file, image_load, PowerShell, builtin channels ...).

A variant is a real rule with a new id and title and its values changed the way rules differ
from each other (another executable name, another path, another command-line fragment): same
structure, modifiers and condition, other literals. Deterministic: the same arguments give the
same files.

    python benchmarks/detect_corpus.py --out /tmp/sigma-windows [--rules 2400]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The share of each log source (category or service) in the SigmaHQ Windows folder, roughly.
SHARES: dict[str, float] = {
    "process_creation": 0.47,
    "registry_set": 0.09,
    "registry_event": 0.02,
    "registry_add": 0.01,
    "registry_delete": 0.01,
    "file_event": 0.07,
    "file_delete": 0.01,
    "file_access": 0.01,
    "file_rename": 0.001,
    "image_load": 0.045,
    "network_connection": 0.02,
    "dns_query": 0.012,
    "pipe_created": 0.008,
    "process_access": 0.01,
    "create_remote_thread": 0.004,
    "driver_load": 0.006,
    "ps_script": 0.055,
    "ps_module": 0.012,
    "ps_classic_start": 0.006,
    "security": 0.06,
    "system": 0.02,
    "application": 0.012,
    "taskscheduler": 0.003,
    "wmi": 0.002,
    "iis-configuration": 0.003,
    "ldap": 0.001,
    "smbserver-connectivity": 0.001,
}

# Real SigmaHQ rules of log sources the regression set lacks (detection parts as SigmaHQ writes them).
EXTRA = [
    """title: Zerologon Exploitation Using Well-known Tools
id: 18f37338-b9bd-4117-a039-280c81f7a596
status: stable
description: Attempts to exploit Zerologon (CVE-2020-1472) with mimikatz or from a machine named kali.
tags: [attack.t1210, attack.lateral_movement]
logsource: {service: system, product: windows}
detection:
    selection:
        EventID: [5805, 5723]
    keywords: [kali, mimikatz]
    condition: selection and keywords
level: critical
""",
    """title: Suspicious Appended Extension
id: e3f673b3-65d1-4d80-9146-466f8b63fa99
status: experimental
description: Possible ransomware adding a custom extension to encrypted files.
tags: [attack.impact, attack.t1486]
logsource: {product: windows, category: file_rename}
detection:
    selection:
        SourceFilename|endswith: ['.lnk', '.rtf', '.pst', '.docx', '.xlsx', '.jpg', '.jpeg', '.png', '.pdf']
        TargetFilename|contains: ['.lnk.', '.rtf.', '.pst.', '.docx.', '.xlsx.', '.jpg.', '.jpeg.', '.png.', '.pdf.']
    filter_generic:
        SourceFilename|endswith: ['.tmp', '.bak', '.old', '.orig', '.backup', '.temp']
    filter_anaconda:
        SourceFilename|startswith: 'C:\\ProgramData\\Anaconda3\\'
        SourceFilename|endswith: '.c~'
    condition: selection and not 1 of filter_*
level: medium
""",
    """title: Access To Windows DPAPI Master Keys By Uncommon Application
id: 46612ae6-86be-4802-bc07-39b59feb1309
status: experimental
description: File access to the DPAPI master keys by an uncommon application.
tags: [attack.credential_access, attack.t1555.004]
logsource: {category: file_access, product: windows}
detection:
    selection:
        FileName|contains: ['\\Microsoft\\Protect\\S-1-5-18\\', '\\Microsoft\\Protect\\S-1-5-21-']
    filter_system_folders:
        Image|contains: [':\\Program Files\\', ':\\Program Files (x86)\\', ':\\Windows\\system32\\']
    condition: selection and not 1 of filter_*
level: medium
""",
    """title: Previously Installed IIS Module Was Removed
id: 9e1a1fdf-ee58-40ce-8e15-b66ca5a80e1f
status: experimental
description: The removal of an IIS module.
tags: [attack.defense-evasion, attack.persistence, attack.t1562.002, attack.t1505.004]
logsource: {product: windows, service: iis-configuration}
detection:
    selection:
        EventID: 29
        Configuration|contains: '/system.webServer/modules/remove'
    condition: selection
level: low
""",
    """title: Potential Active Directory Reconnaissance/Enumeration Via LDAP
id: 31d68132-4038-47c7-8f8e-635a39a7c174
status: test
description: Potential Active Directory enumeration via LDAP.
tags: [attack.discovery, attack.t1069.002, attack.t1087.002, attack.t1482]
logsource: {product: windows, service: ldap}
detection:
    generic_search:
        EventID: 30
        SearchFilter|contains: ['(sAMAccountType=805306369)', '(objectCategory=groupPolicyContainer)',
            '(objectCategory=Computer)', '(objectClass=trustedDomain)', '(primaryGroupID=512)', 'Domain Admins']
    suspicious_flag:
        EventID: 30
        SearchFilter|contains: ['(userAccountControl:1.2.840.113556.1.4.803:=4194304)', 'msDS-AllowedToDelegateTo',
            'ms-MCS-AdmPwd', '(adminCount=1)']
    narrow_down_filter:
        EventID: 30
        SearchFilter|contains: ['(domainSid=*)', '(objectSid=*)']
    condition: (generic_search and not narrow_down_filter) or suspicious_flag
level: medium
""",
    """title: Unsigned or Unencrypted SMB Connection to Share Established
id: 8d91f6e4-9f3b-4c21-ae41-2c5b7d9f7a12
status: experimental
description: SMB server connections to shares without signing or encryption.
tags: [attack.t1021.002]
logsource: {product: windows, service: smbserver-connectivity}
detection:
    selection_shares:
        EventID: 4000
        ShareName|contains: [IPC$, ADMIN$, C$]
    selection_status:
        - SigningUsed: 'false'
        - EncyptionUsed: 'false'
    filter_main_local_ips:
        - ClientAddress|cidr: [127.0.0.0/8, 169.254.0.0/16, '::1/128', 'fe80::/10', 'fc00::/7']
    condition: all of selection_* and not 1 of filter_main_*
level: medium
""",
    # Log sources with few regression cases, in the shape their SigmaHQ rules have.
    """title: Suspicious Outbound Connection From Script Host
id: 00000000-0000-4000-8000-000000000001
status: test
description: A script host connecting out to a remote address.
tags: [attack.command-and-control, attack.t1105]
logsource: {category: network_connection, product: windows}
detection:
    selection:
        Initiated: 'true'
        Image|endswith: ['\\wscript.exe', '\\cscript.exe', '\\mshta.exe']
    filter_local:
        DestinationIp|cidr: [127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]
    condition: selection and not filter_local
level: medium
""",
    """title: DNS Query To Remote Access Software Domain
id: 00000000-0000-4000-8000-000000000002
status: test
description: A DNS query for a domain of a remote access tool.
tags: [attack.command-and-control, attack.t1219]
logsource: {category: dns_query, product: windows}
detection:
    selection:
        QueryName|endswith: ['.anydesk.com', 'rustdesk.com', '.teamviewer.com', 'api.ngrok.com']
    filter_main:
        Image|endswith: '\\AnyDesk.exe'
    condition: selection and not filter_main
level: medium
""",
    """title: Malicious Named Pipe Created
id: 00000000-0000-4000-8000-000000000003
status: test
description: A named pipe known from offensive tooling.
tags: [attack.execution, attack.t1559]
logsource: {category: pipe_created, product: windows}
detection:
    selection:
        PipeName|startswith: ['\\mojo.5688.8052.', '\\postex_', '\\status_', '\\msagent_']
    condition: selection
level: critical
""",
    """title: PowerShell Script With Suspicious Download Cradle
id: 00000000-0000-4000-8000-000000000004
status: test
description: Script block text holding a download cradle.
tags: [attack.execution, attack.t1059.001]
logsource: {product: windows, category: ps_script, definition: Script Block Logging must be enabled}
detection:
    selection:
        ScriptBlockText|contains|all: ['Net.WebClient', '.DownloadString(']
    filter_main:
        ScriptBlockText|contains: 'chocolatey.org/install.ps1'
    condition: selection and not filter_main
level: high
""",
    """title: PowerShell Module Loading Suspicious Cmdlet
id: 00000000-0000-4000-8000-000000000005
status: test
description: Module logging of a cmdlet often used by attackers.
tags: [attack.execution, attack.t1059.001]
logsource: {product: windows, category: ps_module}
detection:
    selection:
        Payload|contains: ['Invoke-Mimikatz', 'Invoke-Kerberoast', 'Get-GPPPassword']
    condition: selection
level: high
""",
    """title: Failed Logon From Public Address
id: 00000000-0000-4000-8000-000000000006
status: test
description: A failed network logon from an address outside the private ranges.
tags: [attack.credential-access, attack.t1110]
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4625
        LogonType: [3, 10]
    filter_private:
        IpAddress|cidr: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 127.0.0.0/8]
    filter_empty:
        IpAddress: '-'
    condition: selection and not 1 of filter_*
level: low
""",
    """title: Service Installed With Suspicious Binary Path
id: 00000000-0000-4000-8000-000000000007
status: test
description: A service installed whose image path points to a user folder or a script host.
tags: [attack.persistence, attack.t1543.003]
logsource: {product: windows, service: system}
detection:
    selection:
        Provider_Name: 'Service Control Manager'
        EventID: 7045
        ImagePath|contains: ['\\AppData\\', '\\Users\\Public\\', 'powershell', 'cmd.exe /c']
    condition: selection
level: high
""",
    """title: Application Crash Of Security Product
id: 00000000-0000-4000-8000-000000000008
status: test
description: The crash of a security product's process.
tags: [attack.defense-evasion, attack.t1562.001]
logsource: {product: windows, service: application}
detection:
    selection:
        Provider_Name: 'Application Error'
        EventID: 1000
        Data|contains: ['MsMpEng.exe', 'MsSense.exe']
    condition: selection
level: high
""",
    """title: Driver Load From Temporary Folder
id: 00000000-0000-4000-8000-000000000009
status: test
description: A driver loaded from a temporary folder.
tags: [attack.privilege-escalation, attack.t1543.003]
logsource: {category: driver_load, product: windows}
detection:
    selection:
        ImageLoaded|contains: ['\\Temp\\', '\\AppData\\Local\\']
    condition: selection
level: high
""",
    """title: Remote Thread Created In Lsass
id: 00000000-0000-4000-8000-00000000000a
status: test
description: A remote thread created in lsass.exe.
tags: [attack.credential-access, attack.t1003.001]
logsource: {category: create_remote_thread, product: windows}
detection:
    selection:
        TargetImage|endswith: '\\lsass.exe'
    filter_main:
        SourceImage|endswith: ['\\MsMpEng.exe', '\\csrss.exe']
    condition: selection and not filter_main
level: high
""",
    """title: PowerShell Engine Started By Unusual Host
id: 00000000-0000-4000-8000-00000000000b
status: test
description: The classic PowerShell engine started by an unusual host application.
tags: [attack.execution, attack.t1059.001]
logsource: {product: windows, category: ps_classic_start}
detection:
    selection:
        Data|contains: ['HostApplication=rundll32', 'HostApplication=regsvr32', 'HostApplication=mshta']
    condition: selection
level: high
""",
    """title: File Deleted From Startup Folder
id: 00000000-0000-4000-8000-00000000000c
status: test
description: A file deleted from a Startup folder.
tags: [attack.defense-evasion, attack.t1070.004]
logsource: {category: file_delete, product: windows}
detection:
    selection:
        TargetFilename|contains: '\\Start Menu\\Programs\\Startup\\'
    condition: selection
level: low
""",
]

_WORDS = (
    "update sync agent helper host svc loader client runner launcher setup tool service "
    "manager monitor task worker broker proxy remote shell viewer"
).split()


def source_of(rule: dict[str, Any]) -> str:
    logsource = rule.get("logsource") or {}
    return str(logsource.get("category") or logsource.get("service") or "?")


def vary_text(text: str, rng: random.Random) -> str:
    """Another literal of the same kind: an executable or path component renamed, or a fragment changed."""
    match = re.search(r"([A-Za-z][A-Za-z0-9_-]{2,})(\.(?:exe|dll|ps1|bat|vbs|sys|lnk))", text, re.IGNORECASE)
    if match:
        return text[: match.start(1)] + rng.choice(_WORDS) + match.group(1)[-3:] + text[match.end(1) :]
    words = list(re.finditer(r"[A-Za-z]{4,}", text))
    if words:
        w = rng.choice(words)
        return text[: w.start()] + w.group()[:2] + rng.choice(_WORDS) + text[w.end() :]
    return text + rng.choice(_WORDS) if len(text) >= 3 and not text.isdigit() else text


def vary(node: Any, rng: random.Random) -> Any:
    if isinstance(node, dict):
        # EventIDs, conditions, CIDRs and regular expressions stay: only plain texts differ between rules
        kept = ("EventID", "condition")
        return {k: (v if k in kept or "|cidr" in k or "|re" in k else vary(v, rng)) for k, v in node.items()}
    if isinstance(node, list):
        return [vary(v, rng) for v in node]
    if isinstance(node, str):
        return vary_text(node, rng)
    return node


def variant(rule: dict[str, Any], n: int, rng: random.Random) -> dict[str, Any]:
    out = dict(rule)
    out["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    out["title"] = f"{rule.get('title', 'Rule')} (variant {n})"
    out["detection"] = vary(rule["detection"], rng)
    for key in ("regression_tests_path", "related", "name"):
        out.pop(key, None)
    return out


def real_rules(data: Path) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    folder = data / "sigma-regression-rules"
    for path in sorted(folder.rglob("*.yml")):
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
        if len(docs) == 1 and (docs[0].get("logsource") or {}).get("product") == "windows":
            out.append((path.stem, docs[0]))
    for n, text in enumerate(EXTRA):
        out.append((f"extra_{n:02d}", yaml.safe_load(text)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    env = os.environ.get("SENTINEL_TEST_DATA")
    parser.add_argument("--data", type=Path, default=Path(env) if env else ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (outside the project)")
    parser.add_argument("--rules", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    base = real_rules(args.data)
    by_source: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for stem, rule in base:
        by_source.setdefault(source_of(rule), []).append((stem, rule))
    present = sum(share for source, share in SHARES.items() if by_source.get(source))
    written = 0
    for source, share in SHARES.items():
        rules = by_source.get(source) or []
        if not rules:
            continue
        folder = args.out / source
        folder.mkdir(parents=True, exist_ok=True)
        wanted = max(len(rules), round(share / present * args.rules))
        for n in range(wanted):
            stem, rule = rules[n % len(rules)]
            doc = rule if n < len(rules) else variant(rule, n // len(rules), rng)
            name = stem if n < len(rules) else f"{stem}_v{n // len(rules)}"
            (folder / f"{name}.yml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
            written += 1
    print(f"{written} rule files in {args.out} ({len(base)} real ones, the rest variants)")


if __name__ == "__main__":
    main()
