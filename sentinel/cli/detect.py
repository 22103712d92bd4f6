"""``sentinel detect``: back-test rules over a past range; prints alerts, stores and notifies nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from sentinel.cli.context import load_context
from sentinel.cli.output import add_row, console, echo, echo_json, table
from sentinel.detect.engine.rule_loading import load_rules
from sentinel.detect.engine.runner import backtest
from sentinel.durations import parse_duration
from sentinel.errors import SentinelError
from sentinel.gc_tuning import tune_for_service


def register(app: typer.Typer) -> None:
    @app.command("detect")
    def detect(
        ctx: typer.Context,
        since: Annotated[str, typer.Option("--since", help="How far back: 1h, 7d.")] = "1d",
        rule: Annotated[
            list[str] | None, typer.Option("--rule", help="Rule id, name or file stem (repeatable).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One alert per line as JSON.")] = False,
    ) -> None:
        """Run rules over past events once and print the alerts they would raise."""
        state = load_context(ctx)
        try:
            window = parse_duration(since)
        except ValueError as exc:
            raise SentinelError(str(exc)) from exc
        pack = load_rules(state.settings)
        wanted = None
        if rule:
            wanted = []
            for name in rule:
                found = pack.get(name)
                if found is None:
                    raise SentinelError(f"no rule {name!r} (try: sentinel rules list)")
                wanted.append(found.id)
        tune_for_service()  # pages of thousands of decoded events: the service's collector settings
        end = datetime.now(UTC)
        alerts, reports, errors = backtest(
            state.store, pack, state.settings.detect, state.inventory, end - window, end, wanted
        )
        for error in errors:
            echo(f"rule not run: {error}", err=True)
        for report in reports:
            if report.error:
                echo(f"rule {report.rule_id} failed: {report.error}", err=True)
        if as_json:
            for alert in alerts:
                echo_json(alert.model_dump(mode="json"))
            return
        out = table(
            f"{len(alerts)} alert(s) would be raised (back-test: nothing stored or sent)",
            *("first seen", "severity", "rule", "institution", "key", "count"),
        )
        for alert in alerts:
            key = ", ".join(f"{k}={v}" for k, v in alert.group_key.items()) or "-"
            add_row(
                out, alert.first_seen, alert.severity, alert.rule_title, alert.institution_id or "-", key, alert.count
            )
        console().print(out)
