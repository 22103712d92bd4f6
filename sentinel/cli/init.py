"""``sentinel init``: write commented example configuration and inventory files."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from sentinel.cli.output import echo
from sentinel.config import load_settings
from sentinel.inventory import load_inventory


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        directory: Annotated[Path, typer.Argument(help="Where to write sentinel.yaml and inventory.yaml.")] = Path("."),
        force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    ) -> None:
        """Write a commented example sentinel.yaml and inventory.yaml."""
        directory.mkdir(parents=True, exist_ok=True)
        examples = resources.files("sentinel.examples")
        for name in ("sentinel.yaml", "inventory.yaml"):
            target = directory / name
            if target.exists() and not force:
                echo(f"kept existing {target} (use --force to overwrite)")
                continue
            target.write_text(examples.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
            echo(f"wrote {target}")
        # Validate what is now there, so a mistake shows here rather than at start.
        settings = load_settings(directory / "sentinel.yaml", environ={})
        load_inventory(settings.inventory_path())
        echo("configuration and inventory are valid; start with: sentinel serve")
