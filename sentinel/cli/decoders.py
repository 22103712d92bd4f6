"""``sentinel decoders``: list the active decoders, validate decoder files, run their samples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from collectors.decoders.compiled import CompiledDecoder
from collectors.decoders.dispatch import DecoderSet
from collectors.decoders.loader import DecoderLoad, load_decoders
from collectors.decoders.samples import SampleRunner, using_decoders
from collectors.decoders.site import load_configured
from sentinel.cli.context import load_context
from sentinel.errors import SentinelError


def _applies_to(decoder: CompiledDecoder) -> str:
    parts = []
    if decoder.programs:
        parts.append("programs " + ", ".join(decoder.programs))
    if decoder.formats:
        parts.append("files " + ", ".join(decoder.formats))
    if decoder.prefilter:
        parts.append(f"{len(decoder.prefilter)} prefilter text(s)")
    return "; ".join(parts)


def _source(decoder: CompiledDecoder) -> str:
    return "shipped" if decoder.shipped else str(decoder.path)


def _report_errors(loaded: DecoderLoad) -> None:
    for error in loaded.errors:
        typer.echo(f"error: {error}", err=True)


def register(app: typer.Typer) -> None:
    decoders_app = typer.Typer(help="Log decoders: list, validate, test.", no_args_is_help=True)
    app.add_typer(decoders_app, name="decoders")

    @decoders_app.command("list")
    def list_decoders(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Every configured decoder (shipped and site), what it applies to, and the files left out."""
        loaded = load_configured(load_context(ctx).settings)
        decoders = DecoderSet(loaded.decoders, loaded.errors).decoders
        if as_json:
            out = {
                "decoders": [
                    {
                        "id": d.id,
                        "title": d.title,
                        "dataset": d.dataset,
                        "order": d.order,
                        "programs": list(d.programs),
                        "formats": list(d.formats),
                        "prefilter": list(d.prefilter),
                        "rules": d.rule_count,
                        "samples": len(d.samples),
                        "source": _source(d),
                    }
                    for d in decoders
                ],
                "errors": [str(e) for e in loaded.errors],
            }
            typer.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
            return
        console = Console()
        table = Table(title=f"{len(decoders)} decoder(s), in dispatch order")
        for column in ("id", "title", "dataset", "applies to", "rules", "samples", "source"):
            table.add_column(column, overflow="fold")
        for d in decoders:
            row = (d.id, d.title, d.dataset, _applies_to(d), str(d.rule_count), str(len(d.samples)), _source(d))
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
        for error in loaded.errors:
            console.print(f"[red]not loaded:[/] {escape(str(error))}", highlight=False)

    @decoders_app.command("validate")
    def validate(path: Annotated[Path, typer.Argument(help="A decoder file or a folder of them.")]) -> None:
        """Load and compile decoders; every problem is printed with its file, line and key."""
        if not path.exists():
            raise SentinelError(f"no such file or folder: {path}")
        loaded = load_decoders([path], builtin=False)
        _report_errors(loaded)
        typer.echo(f"{len(loaded.decoders)} decoder(s) valid, {len(loaded.errors)} error(s)")
        if loaded.errors:  # a failing exit status, for CI pipelines that validate decoder changes
            raise SentinelError(f"{len(loaded.errors)} decoder error(s)")

    @decoders_app.command("test")
    def test(
        ctx: typer.Context,
        path: Annotated[
            Path | None, typer.Argument(help="Decoders to test, beside the shipped ones (default: the configured set).")
        ] = None,
    ) -> None:
        """Run every sample of every decoder through the real normaliser (nothing is stored)."""
        if path is not None:
            if not path.exists():
                raise SentinelError(f"no such file or folder: {path}")
            loaded = load_decoders([path])
            tested = {d.id for d in load_decoders([path], builtin=False).decoders}
        else:
            loaded = load_configured(load_context(ctx).settings)
            tested = {d.id for d in loaded.decoders}
        _report_errors(loaded)
        failures = len(loaded.errors)
        active = DecoderSet(loaded.decoders, loaded.errors)
        runner = SampleRunner()
        with using_decoders(active):
            for decoder in active.decoders:
                if decoder.id not in tested:
                    continue
                results = runner.run(decoder)
                if not results:
                    typer.echo(f"--   {decoder.id}: no samples")
                    continue
                bad = [r for r in results if not r.passed]
                failures += len(bad)
                typer.echo(f"{'FAIL' if bad else 'ok  '} {decoder.id} ({len(results) - len(bad)}/{len(results)})")
                for result in bad:
                    typer.echo(f"     {result.describe()}")
        typer.echo(f"{failures} failure(s)")
        if failures:
            raise SentinelError(f"{failures} decoder sample(s) or file(s) failed")
