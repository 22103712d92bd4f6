"""``sentinel incidents``: list, show and work incidents from the command line (as a SOC analyst).

Changes are recorded in the audit trail as ``analyst:<name>``: ``--as NAME``, else the login name.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import orjson
import typer

from playbooks.steps.enrich import soc_notes
from sentinel.cli.context import load_context
from sentinel.cli.output import add_row, console, echo, echo_json, table
from sentinel.errors import SentinelError
from sentinel.incidents.model import Incident
from sentinel.incidents.service import IncidentService
from sentinel.store.base import Scope

ALL = Scope.everything()

AsOption = Annotated[
    str | None, typer.Option("--as", help="Who you are, for the audit trail (default: your login name).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def analyst(name: str | None) -> str:
    who = name or _login()
    if not who:
        raise SentinelError("cannot tell who you are: pass --as NAME")
    return f"analyst:{who}"


def _login() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user database entry, e.g. in some containers
        return None


def _service(ctx: typer.Context) -> IncidentService:
    state = load_context(ctx)
    return IncidentService(state.store, state.settings)


def _print_one(incident: Incident, as_json: bool) -> None:
    if as_json:
        echo_json({**incident.body(), "version": incident.version})
    else:
        echo(incident.summary())


def register(app: typer.Typer) -> None:
    incidents = typer.Typer(help="List, show and work incidents.", no_args_is_help=True)
    app.add_typer(incidents, name="incidents")

    @incidents.command("list")
    def list_(
        ctx: typer.Context,
        state: Annotated[list[str] | None, typer.Option("--state", help="new, acknowledged, ... (repeatable).")] = None,
        severity: Annotated[str | None, typer.Option("--severity", help="critical, high, medium or low.")] = None,
        institution: Annotated[str | None, typer.Option("--institution", help="Only this institution.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
        as_json: JsonOption = False,
    ) -> None:
        """Incidents, newest first."""
        found = _service(ctx).list(ALL, state=state or None, severity=severity, institution=institution, limit=limit)
        if as_json:
            for incident in found:
                echo_json({**incident.body(), "version": incident.version})
            return
        out = table(
            f"{len(found)} incident(s), newest first",
            *("id", "opened (UTC)", "severity", "state", "institution", "assignee", "alerts", "title"),
        )
        for i in found:
            add_row(
                out,
                i.id,
                i.created_at,
                i.severity.value,
                i.state.value,
                i.institution_id or "-",
                i.assignee or "-",
                str(len(i.alert_ids)),
                i.title,
            )
        console().print(out)

    @incidents.command("show")
    def show(
        ctx: typer.Context,
        incident_id: Annotated[str, typer.Argument(help="Incident id.")],
        as_json: JsonOption = False,
    ) -> None:
        """One incident with its alerts, observables, comments and audit trail."""
        service = _service(ctx)
        incident = service.get(incident_id, ALL)
        trail = service.audit(incident_id, ALL)
        notes = soc_notes(service.store, incident_id, ALL)
        if as_json:
            body = {**incident.body(), "version": incident.version, "audit": [e.model_dump(mode="json") for e in trail]}
            echo_json({**body, "soc_context": notes})
            return
        echo(incident.summary())
        echo(
            f"opened {incident.created_at} by {incident.created_by}; ack due {incident.ack_due_at}; "
            f"resolve due {incident.resolve_due_at}; tta={incident.tta_seconds} ttr={incident.ttr_seconds}"
        )
        echo("alerts: " + (", ".join(incident.alert_ids) or "-"))
        echo("observables: " + (", ".join(f"{o.kind}={o.value}" for o in incident.observables) or "-"))
        for c in incident.comments:
            echo(f"comment {c.created_at} {c.author}: {c.text}")
        for t in incident.timeline:
            echo(f"playbook {t.at} {t.playbook}/{t.step_key}: {t.outcome}")
        for line in notes:
            echo(f"SOC only: {line}")
        out = table("audit trail", "when (UTC)", "who", "action", "field", "old", "new", "note")
        for e in trail:
            add_row(out, e.at, e.actor, e.action, e.field, _text(e.old), _text(e.new), e.note or "")
        console().print(out)

    @incidents.command("ack")
    def ack(ctx: typer.Context, incident_id: str, who: AsOption = None, as_json: JsonOption = False) -> None:
        """Acknowledge an incident (no change if already acknowledged)."""
        _print_one(_service(ctx).acknowledge(incident_id, actor=analyst(who), scope=ALL), as_json)

    @incidents.command("assign")
    def assign(
        ctx: typer.Context,
        incident_id: str,
        assignee: Annotated[str, typer.Argument(help="Analyst name; '-' unassigns.")],
        who: AsOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Assign an incident to an analyst."""
        name = None if assignee == "-" else assignee
        _print_one(_service(ctx).assign(incident_id, name, actor=analyst(who), scope=ALL), as_json)

    @incidents.command("comment")
    def comment(
        ctx: typer.Context, incident_id: str, text: str, who: AsOption = None, as_json: JsonOption = False
    ) -> None:
        """Add a comment."""
        _print_one(_service(ctx).comment(incident_id, text, actor=analyst(who), scope=ALL), as_json)

    @incidents.command("transition")
    def transition(
        ctx: typer.Context,
        incident_id: str,
        to_state: Annotated[str, typer.Argument(metavar="STATE", help="acknowledged, investigating, contained, ...")],
        note: Annotated[str | None, typer.Option("--note", help="Why, for the audit trail.")] = None,
        who: AsOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Move an incident to another state (illegal moves are refused, naming the allowed ones)."""
        incident = _service(ctx).transition(incident_id, to_state, actor=analyst(who), scope=ALL, note=note)
        _print_one(incident, as_json)

    @incidents.command("merge")
    def merge(
        ctx: typer.Context,
        target: Annotated[str, typer.Argument(help="The incident that remains.")],
        sources: Annotated[list[str], typer.Argument(help="Incidents merged into it (they become duplicates).")],
        who: AsOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Merge incidents into one: alerts, observables and comments move to the target."""
        merged, moved = _service(ctx).merge(target, sources, actor=analyst(who), scope=ALL)
        _print_one(merged, as_json)
        if not as_json:
            for source in moved:
                echo(f"  {source.id} is now {source.state.value}, merged into {merged.id}")


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()
