"""``sentinel serve``: collectors, scheduler and the web API in one process."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from sentinel.cli.context import load_context

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        ctx: typer.Context,
        host: Annotated[str | None, typer.Option("--host", help="API bind address (default from config).")] = None,
        port: Annotated[
            int | None, typer.Option("--port", help="API port (default from config; 0 = any free).")
        ] = None,
    ) -> None:
        """Run the collectors, the scheduled jobs and the web UI/API until stopped (Ctrl-C or SIGTERM)."""
        # Imported here so the other commands start fast.
        import uvicorn

        from collectors.decoders.site import use_configured_decoders
        from collectors.runtime import CollectorRuntime
        from playbooks.wiring import build_response
        from sentinel.app import create_app
        from sentinel.detect.engine.rule_loading import load_rules
        from sentinel.gc_tuning import tune_for_service
        from sentinel.jobs import build_scheduler

        state = load_context(ctx)
        settings, inventory, store = state.settings, state.inventory, state.store
        use_configured_decoders(settings)  # the shipped library and the site's decoder folders
        runtime = CollectorRuntime(settings, inventory, store)
        runtime.start()
        # Built once and shared by the scheduled jobs and the web app.
        pack = load_rules(settings)
        response = build_response(settings, store, inventory, pack=pack)
        scheduler = build_scheduler(settings, store, inventory, pack=pack, response=response)
        scheduler.start()
        web = create_app(
            settings,
            store=store,
            inventory=inventory,
            response=response,
            collector_health=lambda: dataclasses.asdict(runtime.stats()),
            collection_health=runtime.health,
        )
        tune_for_service()  # everything loaded: rules, templates, the app
        server = uvicorn.Server(
            uvicorn.Config(
                web,
                host=host or settings.api.host,
                port=settings.api.port if port is None else port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        stopping = threading.Event()

        def _stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()
            server.should_exit = True

        # uvicorn captures SIGINT/SIGTERM while it runs and re-raises them after its own clean
        # shutdown; ours then make sure the collectors stop gracefully too.
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

        def _announce() -> None:
            while not server.started and not stopping.is_set():
                stopping.wait(0.05)
            if stopping.is_set():
                return
            api_port = server.servers[0].sockets[0].getsockname()[1] if server.servers else settings.api.port
            runtime.write_ports_file(extra={"api": api_port})  # atomic: tests and tools poll for it
            shown_host = host or settings.api.host
            shown_host = "127.0.0.1" if shown_host in ("0.0.0.0", "::") else shown_host
            Console(stderr=True).print(
                f"Sentinel is running. Open the UI at [bold]http://{shown_host}:{api_port}/[/] "
                f"(sign in with a token from `sentinel tokens create`). Listeners: {runtime.bound_ports}"
            )

        threading.Thread(target=_announce, name="announce", daemon=True).start()
        try:
            server.run()
        finally:
            stopping.set()
            scheduler.shutdown(wait=False)
            runtime.stop()
            log.info("sentinel stopped")
