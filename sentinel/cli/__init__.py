"""The ``sentinel`` command line. Part of the composition root: it wires collectors to the core.

Each command group lives in its own module with a ``register(app)`` function; to add one,
write the module and name it in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sentinel.cli.context import CliState
from sentinel.cli.output import plain
from sentinel.errors import SentinelError

COMMAND_MODULES = (
    "init",
    "serve",
    "ingest",
    "search",
    "status",
    "tokens",
    "sensor",
    "scan",
    "rules",
    "detect",
    "playbooks",
    "outbox",
    "incidents",
    "alerts",
    "decoders",
    "report",
)

app = typer.Typer(
    name="sentinel",
    help="Sentinel: security monitoring and incident response for e-Government institutions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", envvar="SENTINEL_CONFIG", help="Path to sentinel.yaml (default: ./sentinel.yaml)."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more detail.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # APScheduler logs two INFO lines per job run (the outbox runs every few seconds): noise
        # that buries Sentinel's own messages. Its warnings (missed runs) and errors still show.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    ctx.obj = CliState(config_path=config)


for _name in COMMAND_MODULES:
    importlib.import_module(f"sentinel.cli.{_name}").register(app)


def main() -> None:
    """Console entry point: one clear line for Sentinel's own errors, exit code 2.

    Click's standalone mode already turns usage errors and ``typer.Exit`` into messages and exit
    codes; only our own errors come through to here.
    """
    try:
        app(prog_name="sentinel")
    except SentinelError as exc:
        # Plain write: a rich console would wrap a long path over several lines.
        sys.stderr.write(f"error: {plain(exc, newlines=True)}\n")  # errors quote input: shown inert
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
