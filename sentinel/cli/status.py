"""``sentinel status``: is data arriving, from where, and is anything stuck?"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import httpx
import orjson
import typer
from rich.console import Console

from sentinel.cli.context import load_context
from sentinel.cli.output import add_row, console, echo, echo_json, styled, table
from sentinel.collection_health import HealthState
from sentinel.config import Settings
from sentinel.status import CollectionState, build_status
from sentinel.store.base import Scope

PORTS_FILE = "ports.json"  # written by ``sentinel serve`` in the data directory


def live_collection_state(settings: Settings, timeout: float = 2.0) -> HealthState | None:
    """What the running service's ``/healthz`` says now (it knows even when its store cannot save
    figures); None when no service answers."""
    try:
        port = int(orjson.loads((settings.resolved_data_dir() / PORTS_FILE).read_bytes())["api"])
    except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    host = settings.api.host
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    url_host = f"[{host}]" if ":" in host else host
    try:
        answer = httpx.get(f"http://{url_host}:{port}/healthz", timeout=timeout)
        return HealthState.from_dict(answer.json()) if answer.status_code in (200, 503) else None
    except (httpx.HTTPError, ValueError):
        return None


def _print_collection(screen: Console, state: CollectionState | None) -> None:
    if state is None:
        return
    if state.status == "ok":
        screen.print(styled("collection: ", ("ok", "green")))
    elif state.status == "unknown":
        screen.print(styled("collection: ", ("unknown", "yellow"), " (no running service has reported yet)"))
    else:
        screen.print(styled("collection: ", (state.status, "bold red"), f" ({state.source} state)"))
        for p in state.problems:
            detail = f" ({p.get('detail')})" if p.get("detail") else ""
            echo(f"  since {p.get('since')}: {p.get('reason')}{detail}")


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Collection state (ok or degraded, why, since when), sources seen, events/s, spool depth and dead letters."""
        state = load_context(ctx)
        report = build_status(state.store, Scope.everything(), live=live_collection_state(state.settings))
        if as_json:
            echo_json(dataclasses.asdict(report), indent=True)
            return
        screen = console()
        _print_collection(screen, report.collection_state)
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
