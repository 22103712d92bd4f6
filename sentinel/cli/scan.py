"""``sentinel scan TARGET_OR_INSTITUTION [--institution ID] [--profile P]``: an on-demand nmap scan.

The target is an institution id (all its registered networks) or an address, network or
hostname that the inventory gives to an institution; anything else is refused before nmap
runs. Shows a progress bar (one step per nmap chunk), then a summary and the policy findings.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from collectors.scan.runner import ScanProgress
from collectors.scan.service import ScanOutcome, ScanService
from collectors.scan.targets import resolve_request
from sentinel.cli.context import load_context
from sentinel.cli.output import add_row, console, markup_safe, styled, table

FLAGS = ("forbidden", "tls_legacy", "weak_cipher", "cert_expired", "cert_expiring", "eol", "new_port")
MAX_ROWS = 50


def _findings(outcome: ScanOutcome) -> Counter[str]:
    found: Counter[str] = Counter()
    for event in outcome.events:
        policy = event.get("sentinel.policy") or {}
        found.update(flag for flag in FLAGS if policy.get(flag) is True)
    return found


def _summary(outcome: ScanOutcome, screen: Console) -> None:
    summary = table(f"scan {outcome.scan_id} ({outcome.profile}) of {outcome.institution_id}", "what", "count")
    summary.columns[1].justify = "right"
    add_row(summary, "targets", ", ".join(outcome.targets))
    add_row(summary, "hosts up", outcome.hosts_up)
    add_row(summary, "open ports", outcome.open_ports)
    for action, count in sorted(Counter(c.action for c in outcome.changes).items()):
        add_row(summary, f"change: {action}", count)
    for flag, count in sorted(_findings(outcome).items()):
        add_row(summary, f"finding: {flag}", count)
    add_row(
        summary, "events stored / duplicates / failed", f"{outcome.stored} / {outcome.duplicates} / {outcome.failed}"
    )
    add_row(summary, "elapsed", f"{outcome.elapsed_seconds:.1f}s")
    screen.print(summary)
    ports = [e for e in outcome.events if e.dataset == "nmap.port"]
    if ports:
        # Service names and versions are what the scanned hosts answered: untrusted text.
        detail = table(
            "open ports" + (f" (first {MAX_ROWS})" if len(ports) > MAX_ROWS else ""),
            *("address", "port", "service", "product/version", "findings"),
        )
        for event in ports[:MAX_ROWS]:
            policy = event.get("sentinel.policy") or {}
            versions = (event.get("sentinel.scan.service.product"), event.get("service.version"))
            product = " ".join(str(v) for v in versions if v)
            add_row(
                detail,
                event.get("destination.ip"),
                f"{event.get('network.transport')}/{event.get('destination.port')}",
                event.get("service.name") or "",
                product,
                ", ".join(flag for flag in FLAGS if policy.get(flag) is True),
            )
        screen.print(detail)


def register(app: typer.Typer) -> None:
    @app.command("scan")
    def scan(
        ctx: typer.Context,
        target: Annotated[
            str, typer.Argument(metavar="TARGET_OR_INSTITUTION", help="Institution id, or an address/CIDR/hostname.")
        ],
        institution: Annotated[
            str | None, typer.Option("--institution", "-i", help="Institution that owns the target.")
        ] = None,
        profile: Annotated[
            str, typer.Option("--profile", "-p", help="Scan profile from the configuration.")
        ] = "services",
    ) -> None:
        """Scan an institution's networks or one of its targets with nmap, store the events, show the findings."""
        state = load_context(ctx)
        targets = resolve_request(target, state.inventory, institution)
        service = ScanService(state.settings, state.inventory, state.store)
        progress_console = console(stderr=True)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=progress_console, transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task(
                markup_safe(f"{profile} scan of {', '.join(t.label for t in targets)}"), total=None
            )

            def on_progress(p: ScanProgress) -> None:
                progress.update(task, total=p.total, completed=p.done, description=f"{p.hosts_up} hosts up")

            outcome = service.scan(targets, profile, progress=on_progress)
        _summary(outcome, console())
        for error in outcome.errors[:10]:
            progress_console.print(styled((error, "yellow")))
        if outcome.failed:
            raise typer.Exit(1)
