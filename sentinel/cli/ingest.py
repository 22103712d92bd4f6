"""``sentinel ingest FILE...``: import log files, scans, captures and Windows event logs once."""

from __future__ import annotations

import dataclasses
import functools
import socket
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from collectors.importers import ImportContext, ImportOptions, ImportSummary, import_file
from collectors.normalize import Normalizer
from sentinel.cli.context import load_context
from sentinel.errors import SentinelError
from sentinel.gc_tuning import tune_for_service


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        ctx: typer.Context,
        files: Annotated[list[Path], typer.Argument(help="Log files, nmap XML, pcap or EVTX files.")],
        dataset: Annotated[
            str | None, typer.Option("--dataset", help="Dataset of every line, e.g. nginx.access.")
        ] = None,
        host: Annotated[
            str | None, typer.Option("--host", help="Host the lines come from, when they name none.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON, one file per line.")] = False,
    ) -> None:
        """Import files once, with a progress bar and a summary (read, stored, duplicates, dead letters).

        gzip, bzip2 and xz files are read through. The exit status is 1 when a file is truncated
        (its records before the cut are imported) or the store refused records.
        """
        state = load_context(ctx)
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise SentinelError(f"not a readable file: {', '.join(missing)}")
        normalizer = Normalizer(
            state.inventory, default_timezone=state.settings.timezone, observer_hostname=socket.gethostname()
        )
        options = ImportOptions(dataset_hint=dataset, host_hint=host)
        tune_for_service()  # batches of events in flight: the same allocation pattern as the service
        console = Console(stderr=True)
        summaries: list[ImportSummary] = []
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            for path in files:
                task = progress.add_task(path.name, total=path.stat().st_size)
                import_ctx = ImportContext(
                    settings=state.settings,
                    normalizer=normalizer,
                    inventory=state.inventory,
                    store=state.store,
                    options=options,
                    on_progress=functools.partial(progress.advance, task),
                )
                summaries.append(import_file(path, import_ctx))
                progress.update(task, completed=path.stat().st_size)
        if as_json:
            for s in summaries:
                typer.echo(orjson.dumps(dataclasses.asdict(s)).decode())
            if any(s.failed or s.truncated for s in summaries):
                raise typer.Exit(1)
            return
        table = Table(title="ingest summary")
        for column in ("file", "type", "read", "stored", "duplicates", "dead letters", "failed"):
            table.add_column(column, justify="left" if column in ("file", "type") else "right")
        for s in summaries:
            kind = f"{s.importer} ({s.compression})" if s.compression else s.importer
            if s.truncated:
                kind += ", truncated"
            table.add_row(
                escape(s.path),
                escape(kind),
                str(s.read),
                str(s.stored),
                str(s.duplicates),
                str(s.dead_letters),
                str(s.failed),
            )
        Console().print(table)
        for s in summaries:
            for error in s.errors[:10]:
                console.print(f"[red]{escape(s.path)}: {escape(error)}[/]")
        if any(s.failed or s.truncated for s in summaries):
            raise typer.Exit(1)
