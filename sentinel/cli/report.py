"""``sentinel report``: monthly security posture reports on demand (files), or made and sent (``--send``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from sentinel.cli.context import load_context
from sentinel.errors import SentinelError
from sentinel.reports.period import Month
from sentinel.reports.records import get_report, read_pdf, report_id
from sentinel.store.base import Scope


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        ctx: typer.Context,
        month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM (e.g. 2026-11).")],
        institution: Annotated[
            str | None,
            typer.Option("--institution", help="One institution id; default: every one and the national summary."),
        ] = None,
        fmt: Annotated[Literal["html", "pdf"], typer.Option("--format", help="File format written to --out.")] = "pdf",
        out: Annotated[Path, typer.Option("--out", help="Folder for the files (made if missing).")] = Path("."),
        send: Annotated[
            bool,
            typer.Option(
                "--send",
                help="Store the report and email it to its recipients through the outbox, as the schedule does "
                "(once: a report already made is not made or sent again).",
            ),
        ] = False,
    ) -> None:
        """Write a month's reports as files; with --send also store and deliver them (exactly once)."""
        # Imported here so other commands start fast; the layout lives outside the core (composition root).
        from dashboards.reports import ReportLayout
        from sentinel.detect.rulebook.pack import pack_from_settings
        from sentinel.reports import build_publisher

        state = load_context(ctx)
        settings, inventory, store = state.settings, state.inventory, state.store
        wanted = Month.parse(month)
        chosen = None
        if institution is not None:
            found = inventory.get(institution)
            if found is None:
                raise SentinelError(f"no institution {institution!r} in the inventory")
            chosen = [found]
        layout = ReportLayout()
        publisher = build_publisher(settings, store, inventory, pack_from_settings(settings).rules, layout)
        out.mkdir(parents=True, exist_ok=True)
        console = Console(stderr=True)
        targets = chosen if chosen is not None else list(inventory)
        names: list[str | None] = [i.id for i in targets] + ([None] if chosen is None else [])
        if send:
            summary = publisher.run_month(wanted, chosen)
            for p in summary.published:
                console.print(
                    f"{escape(p.report_id)}: {'made' if p.created else 'already made'}, {p.queued} notice(s) queued"
                )
        figures_by_id = {i.id: publisher.institution_figures(i, wanted) for i in targets}
        for name in names:
            record = get_report(store, report_id(str(wanted), name), Scope.everything())
            figures = (
                figures_by_id[name]
                if name is not None
                else publisher.national_figures(wanted, list(figures_by_id.values()))
            )
            path = out / f"security-report-{name or 'national'}-{wanted}.{fmt}"
            if fmt == "html":
                path.write_text(layout.html(figures), encoding="utf-8")
            else:
                stored = read_pdf(store, record, Scope.everything()) if record is not None else None
                path.write_bytes(stored if stored is not None else layout.pdf(layout.html(figures)))
            typer.echo(str(path))
