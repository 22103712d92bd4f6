"""``sentinel ingest FILE...``: import log files, scans, captures and Windows event logs once."""

from __future__ import annotations

import dataclasses
import functools
import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from collectors.decoders.site import use_configured_decoders
from collectors.importers import ImportContext, ImportOptions, ImportSummary, import_file
from collectors.normalize import Normalizer
from sentinel.cli.context import load_context
from sentinel.cli.output import add_row, echo_json, markup_safe, styled, table
from sentinel.cli.output import console as output_console
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
        use_configured_decoders(state.settings)
        normalizer = Normalizer(
            state.inventory, default_timezone=state.settings.timezone, observer_hostname=socket.gethostname()
        )
        options = ImportOptions(dataset_hint=dataset, host_hint=host)
        tune_for_service()  # batches of events in flight: the same allocation pattern as the service
        progress_console = output_console(stderr=True)
        summaries: list[ImportSummary] = []
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=progress_console,
            transient=True,
        ) as progress:
            for path in files:
                task = progress.add_task(markup_safe(path.name), total=path.stat().st_size)
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
                echo_json(dataclasses.asdict(s))
            if any(s.failed or s.truncated for s in summaries):
                raise typer.Exit(1)
            return
        out = table("ingest summary", "file", "type", "read", "stored", "duplicates", "dead letters", "failed")
        for column in out.columns[2:]:
            column.justify = "right"
        for s in summaries:
            kind = f"{s.importer} ({s.compression})" if s.compression else s.importer
            if s.truncated:
                kind += ", truncated"
            add_row(out, s.path, kind, s.read, s.stored, s.duplicates, s.dead_letters, s.failed)
        output_console().print(out)
        for s in summaries:
            for error in s.errors[:10]:
                progress_console.print(styled((f"{s.path}: {error}", "red")))
        if any(s.failed or s.truncated for s in summaries):
            raise typer.Exit(1)
