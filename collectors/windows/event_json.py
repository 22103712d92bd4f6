"""Windows event log records in evtx-rs JSON (``{"Event": {"System": ..., "EventData": ...}}``) → ECS.

This is the shape ``evtx_dump -o json`` and the ``evtx`` PyPI package write, and what the
sigma-regression cases ship. Each record becomes one ECS event the way Winlogbeat lays it out:
``winlog.channel``, ``winlog.event_id``, ``winlog.provider_name``, ``winlog.computer_name``,
``winlog.record_id`` and the raw ``winlog.event_data.<Name>`` (Sigma rules read these), plus
ECS ``event.code``, ``host.name``, ``@timestamp`` and ``process.*``/``user.*``/``file.*``/
``registry.*`` where the record makes them unambiguous. ``UserData`` records (no EventData)
keep their fields in ``winlog.user_data`` and also in ``winlog.event_data``, so Sigma field
names reach them as they do for EventData. Spaces in data names are dropped ("Source Name" →
``SourceName``), the spelling Sigma rules for Defender and similar providers use.

The event id follows ``sentinel.events.event_id``: the institution the record is attributed to (by
its computer name, or the sender's institution) and the whole record in canonical JSON. Computer,
channel and record id are not enough: two EVTX files of one host reuse record numbers for different
events. The same record read from an ``.evtx`` and from an exact JSON dump of it is stored once; a
dump that changed any value (some trim trailing blanks) holds other records.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sentinel.detect.rulebook.ecs_pipeline import windows_dataset
from sentinel.errors import ParseError
from sentinel.events import UNATTRIBUTED, Event, canonical_json, event_id, new_event, parse_timestamp
from sentinel.inventory import Institution, Inventory

log = logging.getLogger(__name__)

_SYSMON = "Microsoft-Windows-Sysmon/Operational"
LOCAL_IMPORT = "windows-import"  # the source of records an operator imports on the Sentinel host
ATTRIBUTED_BY_SENDER = "sentinel.attributed_by_token"  # as collectors.normalize: the sender's institution


def iter_json_documents(text: str) -> Iterator[Any]:
    """Every JSON value in ``text``: one document, an array of them, or several concatenated."""
    decoder = json.JSONDecoder()
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n\ufeff":
            pos += 1
        if pos >= end:
            return
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
        if isinstance(value, list):
            yield from value
        else:
            yield value


def looks_like_windows_json(text: str) -> bool:
    """True when a text starts like an evtx-rs JSON record (used to pick the importer)."""
    head = text.lstrip("\ufeff \t\r\n[")[:200]
    return head.startswith("{") and '"Event"' in head


def _text(value: Any) -> Any:
    """A scalar from an XML-ish JSON value: ``{"#text": x, "#attributes": ...}`` → x."""
    if isinstance(value, Mapping):
        if "#text" in value:
            return _text(value["#text"])
        return None
    if isinstance(value, list):
        items = [_text(v) for v in value]
        return [i for i in items if i is not None]
    return value


def _attribute(node: Any, name: str) -> Any:
    if isinstance(node, Mapping):
        attrs = node.get("#attributes")
        if isinstance(attrs, Mapping):
            return attrs.get(name)
    return None


def _data_fields(section: Any) -> dict[str, Any]:
    """EventData/UserData → flat {Name: value}; unnamed <Data> items stay as ``Data``."""
    if not isinstance(section, Mapping):
        return {}
    fields: dict[str, Any] = {}
    for key, value in section.items():
        if key == "#attributes":
            continue
        if isinstance(value, Mapping) and "#text" not in value:  # a nested element (UserData wrapper)
            fields.update(_data_fields(value))
            continue
        scalar = _text(value)
        if scalar is not None:
            # Defender & co. name fields with spaces ("Source Name"); Sigma rules write them without.
            fields[key.replace(" ", "")] = scalar
    return fields


def _split_user(value: Any) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value or value == "-":
        return None, None
    domain, sep, name = value.partition("\\")
    return (domain, name) if sep else (None, value)


def _ecs_extras(doc: dict[str, Any], channel: str, code: int | None, data: Mapping[str, Any]) -> None:
    """ECS process/user/file/registry fields where the record says them plainly."""

    def put(section: str, key: str, value: Any) -> None:
        if value is not None and value != "" and value != "-":
            doc.setdefault(section, {})[key] = value

    if channel == _SYSMON:
        put("process", "executable", data.get("Image"))
        put("process", "command_line", data.get("CommandLine"))
        put("process", "pid", data.get("ProcessId"))
        put("process", "entity_id", data.get("ProcessGuid"))
        put("process", "working_directory", data.get("CurrentDirectory"))
        if data.get("ParentImage") or data.get("ParentCommandLine"):
            parent: dict[str, Any] = {}
            for key, name in (("executable", "ParentImage"), ("command_line", "ParentCommandLine")):
                if data.get(name):
                    parent[key] = data[name]
            if data.get("ParentProcessId") is not None:
                parent["pid"] = data["ParentProcessId"]
            doc.setdefault("process", {})["parent"] = parent
        put("file", "path", data.get("TargetFilename") or data.get("ImageLoaded"))
        put("registry", "path", data.get("TargetObject"))
        domain, user_name = _split_user(data.get("User"))
        put("user", "name", user_name)
        put("user", "domain", domain)
    elif channel == "Security":
        put("user", "name", data.get("TargetUserName") or data.get("SubjectUserName"))
        put("user", "domain", data.get("TargetDomainName") or data.get("SubjectDomainName"))
        put("source", "ip", data.get("IpAddress") if data.get("IpAddress") not in ("-", "::1") else None)
        put("process", "executable", data.get("NewProcessName") or data.get("ProcessName"))
        put("process", "command_line", data.get("CommandLine"))
    if code is not None:
        doc["event"]["code"] = str(code)


def event_from_json(
    record: Any,
    *,
    source: str = LOCAL_IMPORT,
    inventory: Inventory | None = None,
    sender: Institution | None = None,
    ingested: datetime | None = None,
) -> Event:
    """One evtx-rs JSON record → an ECS event. ``ParseError`` when it is not such a record.

    ``source`` is the authenticated source (it owns the id of an unattributed record); ``sender`` the
    institution the sender is bound to (an institution's API token): the event is that one's.
    """
    event = record.get("Event") if isinstance(record, Mapping) else None
    system = event.get("System") if isinstance(event, Mapping) else None
    if not isinstance(event, Mapping) or not isinstance(system, Mapping):
        raise ParseError('not a Windows event record: expected {"Event": {"System": ...}}')
    try:
        content = canonical_json(record)  # first: it also refuses records nested too deep to walk or store
    except TypeError as exc:  # orjson.JSONEncodeError
        raise ParseError(f"Windows event record cannot be kept as JSON: {exc}") from None
    channel = _text(system.get("Channel"))
    if not isinstance(channel, str) or not channel:
        raise ParseError("Windows event record has no System.Channel")
    raw_id = _text(system.get("EventID"))
    try:
        code = int(raw_id) if raw_id is not None else None
    except (TypeError, ValueError):
        raise ParseError(f"Windows event record has a non-numeric EventID {raw_id!r}") from None
    system_time = _attribute(system.get("TimeCreated"), "SystemTime")
    try:
        timestamp = parse_timestamp(str(system_time)) if system_time else None
    except ValueError:
        raise ParseError(f"Windows event record has an invalid TimeCreated {system_time!r}") from None
    if timestamp is None:
        raise ParseError("Windows event record has no System.TimeCreated")
    computer = _text(system.get("Computer"))
    provider = _attribute(system.get("Provider"), "Name")
    record_id = _text(system.get("EventRecordID"))
    event_data = _data_fields(event.get("EventData"))
    user_data = _data_fields(event.get("UserData"))

    winlog: dict[str, Any] = {"channel": channel, "api": "wineventlog"}
    if code is not None:
        winlog["event_id"] = code
    for key, value in (
        ("provider_name", provider),
        ("provider_guid", _attribute(system.get("Provider"), "Guid")),
        ("computer_name", computer),
        ("record_id", record_id),
        ("version", _text(system.get("Version"))),
        ("task", _text(system.get("Task"))),
        ("opcode", _text(system.get("Opcode"))),
        ("keywords", _text(system.get("Keywords"))),
        ("level", _text(system.get("Level"))),
    ):
        if value is not None:
            winlog[key] = value
    execution = system.get("Execution")
    if _attribute(execution, "ProcessID") is not None:
        winlog["process"] = {
            "pid": _attribute(execution, "ProcessID"),
            "thread": {"id": _attribute(execution, "ThreadID")},
        }
    user_sid = _attribute(system.get("Security"), "UserID")
    if user_sid:
        winlog["user"] = {"identifier": user_sid}
    if user_data:
        winlog["user_data"] = user_data
    winlog["event_data"] = {**user_data, **event_data}

    fields: dict[str, Any] = {
        "winlog": winlog,
        "event": {"kind": "event", "provider": provider} if provider else {"kind": "event"},
        "agent": {"type": "sentinel", "name": "windows-import"},
    }
    if computer:
        fields["host"] = {"name": computer}
    _ecs_extras(fields, channel, code, winlog["event_data"])
    institution = inventory.attribute(None, computer) if inventory is not None and computer else None
    if sender is not None and (institution is None or institution.id != sender.id):
        institution = sender
        fields["tags"] = [ATTRIBUTED_BY_SENDER]
    if institution is not None:
        fields["organization"] = {"id": institution.id, "name": institution.name}
    else:
        fields["tags"] = [UNATTRIBUTED]
    eid = event_id(institution.id if institution is not None else None, source, content)
    return new_event(
        event_id=eid,
        timestamp=timestamp,
        dataset=windows_dataset(channel),
        fields=fields,
        ingested=ingested or datetime.now(UTC),
    )


def events_from_json_text(
    text: str, *, source: str = LOCAL_IMPORT, inventory: Inventory | None = None
) -> Iterator[Event | ParseError]:
    """Each record of a JSON text as an event, or the ``ParseError`` saying why it is not one."""
    ingested = datetime.now(UTC)
    try:
        for index, record in enumerate(iter_json_documents(text)):
            try:
                yield event_from_json(record, source=source, inventory=inventory, ingested=ingested)
            except ParseError as exc:
                yield ParseError(f"record {index + 1}: {exc.message}")
    except ParseError as exc:  # the rest of the text is not JSON: one error, earlier events kept
        yield exc
