"""``sentinel search``: find events from the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from sentinel.cli.context import load_context
from sentinel.cli.output import add_row, console, echo, echo_json, table
from sentinel.durations import parse_duration
from sentinel.errors import SentinelError
from sentinel.search_query import parse_search
from sentinel.store.base import Scope


def register(app: typer.Typer) -> None:
    @app.command("search")
    def search(
        ctx: typer.Context,
        query: Annotated[str, typer.Argument(help="e.g. 'source.ip:203.0.113.9 \"invalid user\"' (empty: all).")] = "",
        since: Annotated[str, typer.Option("--since", help="How far back: 15m, 1h, 7d.")] = "1h",
        institution: Annotated[str | None, typer.Option("--institution", help="Only this institution.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
        as_json: Annotated[bool, typer.Option("--json", help="One ECS document per line.")] = False,
        count: Annotated[bool, typer.Option("--count", help="Print only the number of matching events.")] = False,
    ) -> None:
        """Search stored events."""
        state = load_context(ctx)
        try:
            window = parse_duration(since)
            event_query = parse_search(query, start=datetime.now(UTC) - window)
        except ValueError as exc:
            raise SentinelError(str(exc)) from exc
        except OverflowError:  # a look-back before year 1
            raise SentinelError(f"--since {since} reaches too far back") from None
        if institution is not None and state.inventory.get(institution) is None:
            raise SentinelError(f"unknown institution {institution!r}")
        scope = Scope.institution(institution) if institution else Scope.everything()
        if count:
            echo(state.store.count_events(event_query, scope))
            return
        result = state.store.search_events(event_query, scope, limit=limit)
        if as_json:
            for event in result.events:
                echo_json(event.doc)
            return
        out = table(
            f"{result.total} event(s), newest first (showing {len(result.events)})",
            *("time (UTC)", "institution", "dataset", "host", "source", "message"),
        )
        for event in result.events:
            add_row(
                out,
                event.doc.get("@timestamp", ""),
                event.organization_id or "-",
                event.dataset,
                event.get("host.hostname") or "-",
                event.get("source.ip") or event.get("source.domain") or "-",
                (event.message or "")[:200],
            )
        console().print(out)
