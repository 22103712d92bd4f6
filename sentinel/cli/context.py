"""What every command needs: settings, inventory and the store, loaded once and on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer

from sentinel.config import Settings, load_settings
from sentinel.inventory import Inventory, load_inventory
from sentinel.private_files import private_directory
from sentinel.store import Store, open_store

DEFAULT_CONFIG = Path("sentinel.yaml")


@dataclass
class CliState:
    config_path: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _inventory: Inventory | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            path = self.config_path
            if path is None and DEFAULT_CONFIG.exists():
                path = DEFAULT_CONFIG
            self._settings = load_settings(path)
        return self._settings

    @property
    def inventory(self) -> Inventory:
        if self._inventory is None:
            path = self.settings.inventory_path()
            if not path.exists() and self.settings.source_path is None:
                # No config file at all: run with an empty inventory (every event unattributed).
                self._inventory = Inventory([])
            else:
                self._inventory = load_inventory(path)
        return self._inventory

    @property
    def store(self) -> Store:
        if self._store is None:
            private_directory(self.settings.resolved_data_dir())
            self._store = open_store(self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def load_context(ctx: typer.Context) -> CliState:
    """The loaded settings/inventory/store for a command; closed when the command ends."""
    state = ctx.find_object(CliState)
    if state is None:
        state = CliState()
        ctx.obj = state
    ctx.call_on_close(state.close)
    return state
