"""``sentinel sensor --iface IF [--duration S]``: run the packet sensor live and store its findings."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from collectors.sensor.engine import Observer, SensorEngine
from collectors.sensor.live import run_live
from sentinel.cli.context import CliState, load_context
from sentinel.cli.output import console, echo, styled
from sentinel.config import SensorSettings
from sentinel.errors import StoreError
from sentinel.events import Event

log = logging.getLogger(__name__)


def sensor_settings(state: CliState) -> SensorSettings:
    """The sensor section, with a relative blocklist path read from the configuration's folder."""
    sensor = state.settings.sensor
    path = sensor.dns_blocklist
    if path is not None and not path.is_absolute() and state.settings.source_path is not None:
        sensor = sensor.model_copy(update={"dns_blocklist": Path(state.settings.source_path).parent / path})
    return sensor


def register(app: typer.Typer) -> None:
    @app.command("sensor")
    def sensor(
        ctx: typer.Context,
        iface: Annotated[str, typer.Option("--iface", "-i", help="Network interface to capture on (needs root).")],
        duration: Annotated[
            float | None,
            typer.Option("--duration", min=0.1, help="Stop after this many seconds (default: until Ctrl-C)."),
        ] = None,
    ) -> None:
        """Watch an interface for port scans, ARP spoofing, DNS abuse and cleartext credentials."""
        state = load_context(ctx)
        store, inventory = state.store, state.inventory
        engine = SensorEngine(
            sensor_settings(state), inventory, observer=Observer(hostname=socket.gethostname(), interface=iface)
        )
        screen = console(stderr=True)
        stop = threading.Event()

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        # Ctrl-C or SIGTERM ends the capture cleanly: open windows are reported before exit.
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}

        def write(events: list[Event]) -> None:
            result = store.write_events(events)
            if result.failed:
                raise StoreError(f"the store refused {len(result.failed)} findings: {result.failed[0][1]}")
            for event in events:
                # The message quotes what was captured (user names, DNS names): untrusted text.
                screen.print(styled((str(event.get("event.action")), "yellow"), f" {event.message}"))

        def ready(bpf: str) -> None:
            echo(f"sensor listening on {iface}; kernel filter: {bpf}", err=True)

        try:
            stats = run_live(engine, iface, write, duration=duration, stop=stop, on_ready=ready)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        echo(
            f"sensor stopped after {stats.seconds:.1f} s: {stats.frames} packets, {stats.events} findings stored",
            err=True,
        )
