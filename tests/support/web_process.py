"""The web app in a process of its own (uvicorn on a loopback port), for tests that measure it.

``python -m tests.support.web_process DATA_DIR`` builds a real SQLite store in DATA_DIR with one
admin token, serves the real app, and prints ``PORT TOKEN`` on one line once it is listening.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import uvicorn

from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.config import Settings
from sentinel.inventory import Inventory
from sentinel.store.sqlite import SqliteStore


def main(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data_dir / "sentinel.db")
    store.setup()
    token = create_token(store, name="probe", role=Role.ADMIN)
    app = create_app(Settings(data_dir=data_dir), store=store, inventory=Inventory([]))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))

    def announce() -> None:
        while not server.started:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(port, token, flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
