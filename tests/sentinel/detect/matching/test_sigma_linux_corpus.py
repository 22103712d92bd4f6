"""All 210 public Linux Sigma rules load (or are reported one by one), compile, and keyword rules work."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentinel.detect.matching.index import RuleIndex
from sentinel.detect.rulebook.sigma import SigmaRule, load_sigma_paths
from sentinel.events import new_event


@pytest.mark.shared_data
def test_linux_corpus_loads_or_reports_every_rule(shared_data: Path) -> None:
    folder = shared_data / "sigma-rules-linux"
    files = sorted(folder.rglob("*.yml"))
    rules, errors = load_sigma_paths([folder])
    index = RuleIndex([r for r in rules if isinstance(r, SigmaRule)])
    print(
        f"\nsigma-rules-linux: {len(files)} files, {len(rules)} loaded, {len(errors)} refused at load, "
        f"{len(index.unsupported)} unsupported by the matcher, {len(index.rules)} runnable"
    )
    for error in errors:
        print("  REFUSED", error)
    for rule, reason in index.unsupported:
        print("  UNSUPPORTED", rule.path, reason)
    assert len(files) == 210
    # every file is accounted for: loaded or reported with its file
    reported = {Path(e.location.path) for e in errors if e.location is not None}
    loaded = {r.path for r in rules}
    assert loaded | reported == set(files)
    assert len(index.rules) + len(index.unsupported) == len(rules)
    assert len(index.rules) == 210  # what this corpus achieves today: keep it


@pytest.mark.shared_data
def test_linux_keyword_rules_match_the_message(shared_data: Path) -> None:
    rules, _ = load_sigma_paths([shared_data / "sigma-rules-linux"])
    keyword_rules = [r for r in rules if isinstance(r, SigmaRule) and r.is_keyword_rule]
    assert len(keyword_rules) == 28
    by_title = {r.title: r for r in keyword_rules}
    vsftpd = by_title["Suspicious VSFTPD Error Messages"]
    assert vsftpd.datasets == ("system.syslog",)
    index = RuleIndex(keyword_rules)
    assert index.unsupported == []

    def event(n: int, dataset: str, message: str) -> object:
        return new_event(
            event_id=f"k{n}",
            timestamp=datetime(2025, 1, 1, tzinfo=UTC),
            dataset=dataset,
            fields={"message": message, "event": {"original": f"<13>Jan  1 00:00:00 h vsftpd[1]: {message}"}},
        )

    events = [
        event(1, "system.syslog", "Connection refused: TOO MANY SESSIONS for this address."),  # case differs
        event(2, "system.syslog", "an ordinary line"),
        event(3, "nginx.access", "Connection refused: too many sessions for this address."),  # wrong dataset
    ]
    hits = [(r.title, e.id) for r, e in index.match(events)]  # type: ignore[arg-type]
    assert ("Suspicious VSFTPD Error Messages", "k1") in hits
    assert all(e != "k2" and e != "k3" for _, e in hits)
