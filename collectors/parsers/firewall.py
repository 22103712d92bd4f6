"""Kernel packet-filter log lines (iptables LOG, ufw, nftables ``log``).

``[UFW BLOCK] IN=eth0 OUT= MAC=.. SRC=1.2.3.4 DST=5.6.7.8 LEN=60 ... PROTO=TCP SPT=4444 DPT=22 SYN``.
The text before ``IN=`` is the administrator's log prefix; words in it decide allowed/denied.
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers.fields import set_endpoint, set_event

DATASET = "iptables.log"
_LINE = re.compile(r"(?:\[\s*\d+\.\d+\] )?(?P<prefix>.*?)\s*IN=(?P<in>\S*) OUT=(?P<out>\S*)(?P<rest>(?: .*)?)$", re.S)
_PAIR = re.compile(r"([A-Z][A-Z0-9_]*)(?:=(\S*))?")
_DENY_WORDS = ("BLOCK", "DROP", "DENY", "REJECT", "DENIED")
_ALLOW_WORDS = ("ALLOW", "ACCEPT", "PASS")


def _mac(raw: str) -> str:
    return raw.replace(":", "-").upper()


def parse(message: str, doc: dict[str, Any]) -> str | None:
    if "IN=" not in message or "SRC=" not in message:
        return None  # an ordinary kernel message
    m = _LINE.match(message)
    if m is None:
        return None
    fields: dict[str, str] = {}
    flags: list[str] = []
    for key, value in _PAIR.findall(m.group("rest")):
        if value or f"{key}=" in m.group("rest"):
            fields.setdefault(key, value)
        else:
            flags.append(key)
    set_endpoint(doc, "source", fields.get("SRC"), fields.get("SPT"))
    set_endpoint(doc, "destination", fields.get("DST"), fields.get("DPT"))
    mac = fields.get("MAC", "")
    if len(mac) >= 35:  # destination MAC, source MAC, ethertype
        doc.setdefault("destination", {})["mac"] = _mac(mac[0:17])
        doc.setdefault("source", {})["mac"] = _mac(mac[18:35])
    network: dict[str, Any] = {}
    proto = fields.get("PROTO")
    if proto:
        network["transport"] = proto.lower()
    src = fields.get("SRC", "")
    network["type"] = "ipv6" if ":" in src else "ipv4"
    doc["network"] = network
    observer = doc.setdefault("observer", {})
    if m.group("in"):
        observer["ingress"] = {"interface": {"name": m.group("in")}}
    if m.group("out"):
        observer["egress"] = {"interface": {"name": m.group("out")}}
    prefix = m.group("prefix").strip()
    iptables: dict[str, Any] = {}
    if prefix:
        iptables["prefix"] = prefix
    if flags:
        iptables["tcp"] = {"flags": flags}
    if "LEN" in fields:
        iptables["length"] = fields["LEN"]
    if iptables:
        doc["iptables"] = iptables
    upper = prefix.upper()
    if any(w in upper for w in _DENY_WORDS):
        set_event(doc, action="firewall_block", category=("network",), type=("connection", "denied"), outcome="failure")
    elif any(w in upper for w in _ALLOW_WORDS):
        set_event(
            doc, action="firewall_allow", category=("network",), type=("connection", "allowed"), outcome="success"
        )
    else:
        set_event(doc, action="firewall_log", category=("network",), type=("connection",))
    return DATASET
