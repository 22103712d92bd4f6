"""``sentinel alerts``: list alerts (with their incident) and attach one to an incident."""

from __future__ import annotations

from typing import Annotated

import typer

from sentinel.cli.context import load_context
from sentinel.cli.incidents import AsOption, analyst
from sentinel.cli.output import add_row, console, echo, echo_json, table
from sentinel.errors import SentinelError
from sentinel.incidents.alerts_view import list_alerts
from sentinel.incidents.service import IncidentService
from sentinel.store.base import Scope

ALL = Scope.everything()


def register(app: typer.Typer) -> None:
    alerts = typer.Typer(help="List alerts and attach them to incidents.", no_args_is_help=True)
    app.add_typer(alerts, name="alerts")

    @alerts.command("list")
    def list_(
        ctx: typer.Context,
        state: Annotated[str | None, typer.Option("--state", help="open, acknowledged, closed or resolved.")] = None,
        severity: Annotated[str | None, typer.Option("--severity")] = None,
        institution: Annotated[str | None, typer.Option("--institution")] = None,
        rule: Annotated[str | None, typer.Option("--rule", help="Only this rule id.")] = None,
        unlinked: Annotated[bool, typer.Option("--unlinked", help="Only alerts in no incident.")] = False,
        limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
        as_json: Annotated[bool, typer.Option("--json", help="One alert per line as JSON.")] = False,
    ) -> None:
        """Alerts, most recent first, with the incident each belongs to."""
        state_ = load_context(ctx)
        try:
            rows = list_alerts(
                state_.store,
                ALL,
                state=state,
                severity=severity,
                institution=institution,
                rule_id=rule,
                unlinked=unlinked,
                limit=limit,
            )
        except ValueError as exc:
            raise SentinelError(str(exc)) from None
        if as_json:
            for row in rows:
                echo_json({**row.alert.model_dump(mode="json"), "incident_id": row.incident_id})
            return
        out = table(
            f"{len(rows)} alert(s), most recent first",
            *("id", "last seen (UTC)", "severity", "rule", "institution", "key", "count", "incident"),
        )
        for row in rows:
            a = row.alert
            key = ", ".join(f"{k}={v}" for k, v in a.group_key.items()) or "-"
            add_row(
                out,
                a.id,
                a.last_seen,
                a.severity,
                a.rule_title,
                a.institution_id or "-",
                key,
                str(a.count),
                row.incident_id or "-",
            )
        console().print(out)

    @alerts.command("attach")
    def attach(
        ctx: typer.Context,
        alert_id: Annotated[str, typer.Argument(help="Alert id.")],
        incident_id: Annotated[str, typer.Argument(help="Incident id.")],
        who: AsOption = None,
    ) -> None:
        """Attach an alert to an incident (no change if it is attached already)."""
        state = load_context(ctx)
        incident = IncidentService(state.store, state.settings).attach_alert(
            incident_id, alert_id, actor=analyst(who), scope=ALL
        )
        echo(incident.summary())
