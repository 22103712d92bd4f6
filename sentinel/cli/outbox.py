"""``sentinel outbox status|retry|deliver``: see and steer the notice outbox."""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from typing import Annotated

import typer

from sentinel.cli.context import load_context
from sentinel.cli.output import add_row, console, echo, echo_json, table
from sentinel.notify.channels import build_channels
from sentinel.notify.outbox import Outbox


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The notice outbox: delivery state, retries.", no_args_is_help=True)
    app.add_typer(group, name="outbox")

    def _outbox(ctx: typer.Context) -> Outbox:
        state = load_context(ctx)
        settings = state.settings
        return Outbox(state.store, build_channels(settings, state.store), retry=settings.notify.retry)

    @group.command("status")
    def status(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Notices per state, how many are due, and the latest dead ones with their errors."""
        report = _outbox(ctx).status()
        if as_json:
            echo_json(dataclasses.asdict(report), indent=True)
            return
        counts = ", ".join(f"{state} {n}" for state, n in report.counts.items())
        echo(f"outbox: {counts}; due now {report.due_now}; being sent {report.in_flight}")
        if report.oldest_waiting:
            echo(f"oldest waiting notice created {report.oldest_waiting}")
        if report.dead:
            out = table("dead notices (latest first)", "id", "channel", "recipient", "tries", "last error")
            for d in report.dead:
                add_row(out, d["id"], d["channel"], d["recipient"], d["tries"], d["last_error"])
            console().print(out)

    @group.command("retry")
    def retry(
        ctx: typer.Context,
        notice_id: Annotated[
            str | None, typer.Argument(help="One notice id; default: every dead or failed notice.")
        ] = None,
    ) -> None:
        """Put dead (or failed) notices back for delivery now, with a fresh try budget."""
        count = _outbox(ctx).retry(notice_id)
        echo(f"{count} notice(s) put back for delivery")

    @group.command("deliver")
    def deliver(
        ctx: typer.Context,
        once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit.")] = False,
        max_seconds: Annotated[
            float | None, typer.Option("--max-seconds", help="Stop after this long (default: until interrupted).")
        ] = None,
    ) -> None:
        """Run the delivery worker (``serve`` runs it too; more workers can run side by side)."""
        outbox = _outbox(ctx)
        notify = load_context(ctx).settings.notify
        try:
            if once:
                report = outbox.deliver_due(notify.batch_size)
                echo(
                    f"delivered {report.delivered + report.already_delivered}, retrying {report.retrying}, "
                    f"dead {report.dead}, skipped {report.skipped}"
                )
                return
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            if max_seconds is not None:
                timer = threading.Timer(max_seconds, stop.set)
                timer.daemon = True
                timer.start()
            started = time.monotonic()
            outbox.run(stop, poll_seconds=notify.poll_seconds, batch_size=notify.batch_size)
            echo(f"outbox worker stopped after {time.monotonic() - started:.1f}s")
        finally:
            for channel in outbox.channels.values():
                channel.close()
