"""``sentinel playbooks``: list, validate, run for one alert (or dry-run it), approve a waiting step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from playbooks.loader import load_playbooks
from playbooks.runner import RunResult
from playbooks.wiring import build_response, load_configured_playbooks, playbook_dirs
from sentinel.cli.context import load_context
from sentinel.cli.output import add_row, console, echo, echo_json, styled, table
from sentinel.detect.alerts import COLLECTION as ALERTS
from sentinel.detect.alerts import Alert
from sentinel.errors import NotFoundError, SentinelError
from sentinel.store.base import Scope


def _print_result(result: RunResult, as_json: bool) -> None:
    if as_json:
        out = {
            "alert_id": result.alert_id,
            "dry_run": result.dry_run,
            "runs": [
                {
                    "playbook": r.playbook,
                    "status": r.status,
                    "incident_id": r.incident_id,
                    "steps": [
                        {"key": s.key, "action": s.action, "status": s.status, "detail": s.detail} for s in r.steps
                    ],
                }
                for r in result.runs
            ],
        }
        echo_json(out, indent=True)
        return
    if not result.runs:
        echo(f"no playbook matches alert {result.alert_id}")
        return
    prefix = "dry run: " if result.dry_run else ""
    for run in result.runs:
        echo(f"{prefix}{run.playbook}: {run.status} (incident {run.incident_id or '-'})")
        for step in run.steps:
            echo(f"  {step.key} [{step.action}] {step.status}: {step.detail}")


def register(app: typer.Typer) -> None:
    pb_app = typer.Typer(help="Response playbooks: list, validate, run, approve.", no_args_is_help=True)
    app.add_typer(pb_app, name="playbooks")

    @pb_app.command("list")
    def list_playbooks(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Every configured playbook: when it applies and its steps."""
        state = load_context(ctx)
        loaded = load_configured_playbooks(state.settings)
        disabled = set(state.settings.playbooks.disabled)
        if as_json:
            out = {
                "playbooks": [
                    {
                        "id": p.id,
                        "title": p.title,
                        "enabled": p.enabled and p.id not in disabled,
                        "default": p.default,
                        "when": p.when.model_dump(mode="json"),
                        "steps": [{"id": s.key, "action": s.action} for s in p.steps],
                        "path": str(p.path) if p.path else None,
                    }
                    for p in loaded.playbooks
                ],
                "errors": [str(e) for e in loaded.errors],
            }
            echo_json(out, indent=True)
            return
        out_table = table(f"{len(loaded.playbooks)} playbook(s)", "id", "title", "when", "steps", "enabled")
        for p in loaded.playbooks:
            when = p.when
            parts = [f"rules: {len(when.rules)}" if when.rules else "", ", ".join(when.tags)]
            if when.severity_at_least:
                parts.append(f">= {when.severity_at_least}")
            if p.default:
                parts.append("default (unmatched alerts)")
            add_row(
                out_table,
                p.id,
                p.title,
                "; ".join(x for x in parts if x) or "any alert",
                " → ".join(f"{s.key}:{s.action}" for s in p.steps),
                "no" if (not p.enabled or p.id in disabled) else "yes",
            )
        screen = console()
        screen.print(out_table)
        for error in loaded.errors:
            screen.print(styled(("not loaded:", "red"), f" {error}"))

    @pb_app.command("validate")
    def validate(
        ctx: typer.Context,
        path: Annotated[
            Path | None, typer.Argument(help="A playbook file or folder (default: the configured playbooks).")
        ] = None,
    ) -> None:
        """Load playbooks; every problem is printed with its file, line and key. Exit status 2 on errors."""
        if path is not None and not path.exists():
            raise SentinelError(f"no such file or folder: {path}")
        if path is not None:
            loaded = load_playbooks([path])
        else:
            loaded = load_playbooks(playbook_dirs(load_context(ctx).settings))
        for error in loaded.errors:
            echo(f"error: {error}", err=True)
        echo(f"{len(loaded.playbooks)} playbook(s) valid, {len(loaded.errors)} error(s)")
        if loaded.errors:
            raise SentinelError(f"{len(loaded.errors)} playbook error(s)")

    @pb_app.command("run")
    def run(
        ctx: typer.Context,
        alert_id: Annotated[str, typer.Option("--alert", help="The alert to run the matching playbooks for.")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would happen; change nothing.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Run the playbooks that match one alert now (steps already done are skipped)."""
        state = load_context(ctx)
        doc = state.store.get_document(ALERTS, alert_id, Scope.everything())
        if doc is None:
            raise NotFoundError(f"no alert {alert_id!r}")
        response = build_response(state.settings, state.store, state.inventory)
        result = response.runner.run_for_alert(Alert.model_validate(doc.body), dry_run=dry_run)
        _print_result(result, as_json)

    @pb_app.command("approve")
    def approve(
        ctx: typer.Context,
        incident_id: Annotated[str, typer.Argument(help="The incident whose playbook waits.")],
        step: Annotated[str, typer.Argument(help="The require_approval step id (as the timeline shows it).")],
        analyst: Annotated[str, typer.Option("--as", help="Who approves (recorded in the run and the timeline).")],
    ) -> None:
        """Approve a waiting step; the playbook continues with the following steps at once."""
        state = load_context(ctx)
        response = build_response(state.settings, state.store, state.inventory)
        runs = response.runner.approve(incident_id, step, actor=f"analyst:{analyst}")
        for r in runs:
            echo(f"{r.playbook}: {r.status} (incident {r.incident_id or '-'})")
            for s in r.steps:
                echo(f"  {s.key} [{s.action}] {s.status}: {s.detail}")
