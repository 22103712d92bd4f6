"""Reading alert fields for step parameters: incident keys, titles, observables."""

from __future__ import annotations

import re
from typing import Any

from playbooks.alert_fields import alert_field
from sentinel.detect.alerts import Alert

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.@-]+)\}")
MAX_TITLE = 200


def alert_value(alert: Alert, path: str) -> Any:
    """A dotted path into the alert document; ``source.ip`` is also looked up in group_key and details."""
    doc = alert.model_dump(mode="json")
    found, value = alert_field(doc, path)
    if found:
        return value
    for section in ("group_key", "details"):
        found, value = alert_field(doc.get(section) or {}, path)
        if found:
            return value
    return None


def incident_key(alert: Alert, fields: list[str]) -> str:
    """What groups alerts into one incident: the institution, then the listed fields' values.

    The institution always comes first, so one address attacking two institutions makes two
    incidents, each visible only to its own institution.
    """
    parts: list[str] = [f"institution={alert.institution_id or '-'}"]
    for name in fields:
        if name == "group_key":
            parts.extend(f"{k}={v}" for k, v in sorted(alert.group_key.items()))
        else:
            parts.append(f"{name}={alert_value(alert, name)}")
    if len(parts) == 1:
        parts.append(f"rule_id={alert.rule_id}")
    return "|".join(parts)


def render_title(template: str, alert: Alert) -> str:
    """``{rule_title} from {source.ip}``: placeholders are alert fields, nothing else is evaluated."""

    def value(match: re.Match[str]) -> str:
        found = alert_value(alert, match.group(1))
        return "-" if found is None else str(found)

    text = _PLACEHOLDER.sub(value, template)
    return " ".join(text.split())[:MAX_TITLE]
