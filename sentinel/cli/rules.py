"""``sentinel rules``: list (with control and ATT&CK coverage), validate, test samples, import SigmaHQ rules."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from sentinel.cli.context import load_context
from sentinel.cli.output import add_row, cell, console, echo, echo_json, styled, table
from sentinel.detect.detectors.registry import build_detector
from sentinel.detect.engine.rule_loading import load_rule_paths, load_rules, rule_cache
from sentinel.detect.engine.samples import run_rule_samples
from sentinel.detect.matching.compiled import compile_rule
from sentinel.detect.rulebook.controls import coverage, load_controls
from sentinel.detect.rulebook.pack import PackRule, load_rule_file, rule_files, rules_dirs_of
from sentinel.errors import Location, RuleError, SentinelError
from sentinel.store.sqlite import SqliteStore


def _runnable_errors(rules: list[PackRule]) -> tuple[list[PackRule], list[RuleError]]:
    """Rules that load AND can run (compile for the matcher); the others as errors."""
    ok: list[PackRule] = []
    errors: list[RuleError] = []
    for rule in rules:
        try:
            build_detector(rule)
        except RuleError as exc:
            errors.append(RuleError(f"rule {rule.id}: {exc.message}", exc.location or _where(rule)))
            continue
        ok.append(rule)
    return ok, errors


def _where(rule: PackRule) -> Location | None:
    return Location(str(rule.path)) if rule.path else None


def register(app: typer.Typer) -> None:
    rules_app = typer.Typer(help="Detection rules: list, validate, test, import.", no_args_is_help=True)
    app.add_typer(rules_app, name="rules")

    @rules_app.command("list")
    def list_rules(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Every configured rule with its ATT&CK and control tags, and the control coverage."""
        state = load_context(ctx)
        pack = load_rules(state.settings)
        catalogue = load_controls()
        cover = coverage(catalogue, pack.rules)
        techniques = sorted({t for r in pack.rules for t in r.attack if t.lower().startswith("attack.t")})
        if as_json:
            out = {
                "rules": [
                    {
                        "id": r.id,
                        "title": r.title,
                        "kind": r.kind,
                        "level": r.level,
                        "attack": list(r.attack),
                        "controls": list(r.controls),
                        "path": str(r.path) if r.path else None,
                    }
                    for r in pack.rules
                ],
                "controls": cover,
                "attack_techniques": techniques,
                "errors": [str(e) for e in pack.errors],
            }
            echo_json(out, indent=True)
            return
        screen = console()
        rules_table = table(f"{len(pack.rules)} rule(s)", "title", "kind", "level", "ATT&CK", "controls", "id")
        for r in sorted(pack.rules, key=lambda r: (r.kind, r.title)):
            attack = ", ".join(t.removeprefix("attack.") for t in r.attack)
            add_row(rules_table, r.title, r.kind, r.level, attack, ", ".join(r.controls) or "-", r.id)
        screen.print(rules_table)
        ctable = table("control coverage", "control", "area", "checkable", "rules")
        for control in catalogue.controls:
            n = len(cover.get(control.id, []))
            ctable.add_row(
                cell(control.id),
                cell(control.area),
                cell("yes" if control.checkable else "no"),
                cell(n) if n else styled(("0", "red")),
            )
        screen.print(ctable)
        covered = sum(1 for c in catalogue.controls if cover.get(c.id))
        echo(f"controls covered: {covered}/{len(catalogue.controls)}; ATT&CK techniques: {len(techniques)}")
        for error in pack.errors:
            screen.print(styled(("not loaded:", "red"), f" {error}"))

    @rules_app.command("validate")
    def validate(path: Annotated[Path, typer.Argument(help="A rule file or a folder of rules.")]) -> None:
        """Load and compile rules; every problem is printed with its file and reason."""
        if not path.exists():
            raise SentinelError(f"no such file or folder: {path}")
        pack = load_rule_paths([path])
        ok, compile_errors = _runnable_errors(pack.rules)
        errors = pack.errors + compile_errors
        for error in errors:
            echo(f"error: {error}", err=True)
        echo(f"{len(ok)} rule(s) valid, {len(errors)} error(s)")
        if errors:  # a failing exit status, for CI pipelines that validate rule changes
            raise SentinelError(f"{len(errors)} rule error(s)")

    @rules_app.command("test")
    def test(
        ctx: typer.Context,
        path: Annotated[Path | None, typer.Argument(help="Rules to test (default: the configured rules).")] = None,
    ) -> None:
        """Run every sample of every rule on the real engine (a scratch SQLite store, nothing kept)."""
        if path is not None:
            pack = load_rule_paths([path])
        else:
            pack = load_rules(load_context(ctx).settings)
        failures = len(pack.errors)
        for error in pack.errors:
            echo(f"error: {error}", err=True)
        with tempfile.TemporaryDirectory(prefix="sentinel-rules-test-") as tmp:
            counter = itertools.count()

            def factory(_: int) -> SqliteStore:
                store = SqliteStore(Path(tmp) / f"sample-{next(counter)}.db")
                store.setup()
                return store

            for rule in pack.rules:
                results = run_rule_samples(factory, pack, rule)
                if not results:
                    echo(f"-- {rule.title}: no samples")
                    continue
                bad = [r for r in results if not r.passed]
                failures += len(bad)
                echo(f"{'FAIL' if bad else 'ok  '} {rule.title} ({len(results) - len(bad)}/{len(results)})")
                for result in bad:
                    echo(f"     {result.describe()}")
        echo(f"{failures} failure(s)")
        if failures:
            raise SentinelError(f"{failures} rule sample(s) or file(s) failed")

    @rules_app.command("import")
    def import_rules(
        ctx: typer.Context,
        source: Annotated[Path, typer.Argument(help="A folder of Sigma rules (e.g. a SigmaHQ checkout).")],
        force: Annotated[bool, typer.Option("--force", help="Overwrite rules that already exist.")] = False,
    ) -> None:
        """Copy the Sigma rules that can run into the configured rules folder (detect.rules_dirs[0]).

        Prints a validation report: how many rules loaded, and every refused file with its reason
        (log source Sentinel does not collect, field with no mapping, condition the matcher cannot
        run, ...), then the reasons by count. The rules are compiled into the compiled rule cache
        as they are checked, so the service loads the imported copies without compiling them again.
        """
        state = load_context(ctx)
        dirs = rules_dirs_of(state.settings)
        if not dirs:
            raise SentinelError("no rules folder configured: set detect.rules_dirs in sentinel.yaml")
        if not source.is_dir():
            raise SentinelError(f"not a folder: {source}")
        target = dirs[0]
        target.mkdir(parents=True, exist_ok=True)
        cache = rule_cache(state.settings)
        loaded = imported = skipped = 0
        refused: list[RuleError] = []
        for file in rule_files([source]):
            rules, errors = load_rule_file(file, compiler=compile_rule, cache=cache)
            _, compile_errors = _runnable_errors(rules)
            problems = errors + compile_errors
            if not rules and not problems:
                problems = [RuleError("the file holds no rule", Location(str(file)))]
            if problems:
                refused.extend(problems)
                for error in problems:
                    echo(f"refused: {error}")
                continue
            loaded += len(rules)
            dest = target / file.relative_to(source)
            if dest.exists() and not force and dest.read_bytes() != file.read_bytes():
                skipped += 1
                echo(f"exists, not overwritten (use --force): {dest}", err=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, dest)
            imported += 1
        files = len({e.location.path if e.location else "" for e in refused})
        echo(f"loaded {loaded} rule(s); refused {files} file(s) with {len(refused)} reason(s)")
        for reason, count in Counter(e.message for e in refused).most_common(15):
            echo(f"  {count:5d}  {reason}")
        echo(f"imported {imported} file(s), refused {files}, skipped {skipped} -> {target}")
