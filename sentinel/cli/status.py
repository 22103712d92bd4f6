"""``sentinel status``: is data arriving, from where, and is anything stuck?"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from sentinel.cli.context import load_context
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
            typer.echo(orjson.dumps(dataclasses.asdict(report), option=orjson.OPT_INDENT_2).decode())
            return
        console = Console()
        console.print(
            f"events: {report.events_last_minute} in the last minute ({report.events_per_second_last_minute}/s), "
            f"{report.events_last_hour} in the last hour; dead letters: {report.dead_letters}"
        )
        if report.collector:
            c = report.collector
            console.print(
                "collector: "
                + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items() if not isinstance(v, dict | list))
            )
        else:
            console.print("collector: no running service has reported yet")
        console.print(f"rules: {report.rules_ok} of {report.rules_total} healthy")
        if report.rule_problems:
            problems = Table(title="rules needing attention")
            for column in ("rule", "status", "detail"):
                problems.add_column(column, overflow="fold")
            for p in report.rule_problems:
                problems.add_row(f"{p.title} ({p.rule_id})", p.status, p.detail or "")
            console.print(problems)
        for title, rows in (
            ("datasets (last hour)", report.datasets_last_hour),
            ("hosts (last hour)", report.hosts_last_hour),
        ):
            table = Table(title=title)
            table.add_column("source")
            table.add_column("events", justify="right")
            for row in rows:
                table.add_row(row.name, str(row.events_last_hour))
            console.print(table)
