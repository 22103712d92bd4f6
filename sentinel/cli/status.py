"""``sentinel status``: is data arriving, from where, and is anything stuck?"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from sentinel.cli.context import load_context
from sentinel.cli.output import add_row, console, echo, echo_json, table
from sentinel.status import build_status
from sentinel.store.base import Scope


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Sources seen, events/s, spool depth and dead letters."""
        state = load_context(ctx)
        report = build_status(state.store, Scope.everything())
        if as_json:
            echo_json(dataclasses.asdict(report), indent=True)
            return
        screen = console()
        echo(
            f"events: {report.events_last_minute} in the last minute ({report.events_per_second_last_minute}/s), "
            f"{report.events_last_hour} in the last hour; dead letters: {report.dead_letters}"
        )
        if report.collector:
            c = report.collector
            echo(
                "collector: "
                + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items() if not isinstance(v, dict | list))
            )
        else:
            echo("collector: no running service has reported yet")
        echo(f"rules: {report.rules_ok} of {report.rules_total} healthy")
        if report.rule_problems:
            problems = table("rules needing attention", "rule", "status", "detail")
            for p in report.rule_problems:
                add_row(problems, f"{p.title} ({p.rule_id})", p.status, p.detail or "")
            screen.print(problems)
        for title, rows in (
            ("datasets (last hour)", report.datasets_last_hour),
            ("hosts (last hour)", report.hosts_last_hour),
        ):
            sources = table(title, "source", "events")
            sources.columns[1].justify = "right"
            for row in rows:
                add_row(sources, row.name, row.events_last_hour)  # host names as the senders wrote them
            screen.print(sources)
