"""The compiled rule cache: an unchanged rule file is read back, a changed one alone is compiled again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentinel.detect.matching.compiled import CompiledRule, compile_rule
from sentinel.detect.matching.index import RuleIndex
from sentinel.detect.rulebook.cache import RuleCache, code_version
from sentinel.detect.rulebook.pack import load_rule_pack
from sentinel.detect.rulebook.sigma import SigmaCorrelation, SigmaRule
from sentinel.events import new_event

RULE = """
title: Whoami {n}
id: 5f0a6b9e-0000-4000-8000-00000000000{n}
status: test
logsource: {{category: process_creation, product: windows}}
detection:
    selection:
        Image|endswith: '\\whoami{n}.exe'
    condition: selection
level: low
response: {{en: Ask who ran it.}}
"""
CORRELATED = """
title: fail
id: aaaaaaaa-0000-4000-8000-000000000001
name: fail
logsource: {product: linux, service: sshd}
detection:
  sel: {event.action: ssh_login, event.outcome: failure}
  condition: sel
---
title: many failures
id: aaaaaaaa-0000-4000-8000-0000000000ff
correlation: {type: event_count, rules: [fail], group-by: [source.ip], timespan: 15m, condition: {gte: 3}}
level: high
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for n in range(1, 4):
        (folder / f"whoami{n}.yml").write_text(RULE.format(n=n))
    (folder / "ssh.yml").write_text(CORRELATED)
    (folder / "broken.yml").write_text("title: broken\nlogsource: {product: windows, category: no_such}\n")
    return folder


def load(folder: Path, cache: RuleCache) -> tuple[dict[str, object], list[str]]:
    pack = load_rule_pack([folder], compiler=compile_rule, cache=cache)
    return {r.id: r for r in pack.rules}, sorted(str(e) for e in pack.errors)


def test_a_warm_load_gives_what_the_cold_one_gave_without_compiling(rules_dir: Path, tmp_path: Path) -> None:
    cold_cache = RuleCache(tmp_path / "cache")
    cold, cold_errors = load(rules_dir, cold_cache)
    assert (cold_cache.hits, cold_cache.misses) == (0, 5)
    warm_cache = RuleCache(tmp_path / "cache")
    warm, warm_errors = load(rules_dir, warm_cache)
    assert (warm_cache.hits, warm_cache.misses) == (5, 0)
    assert warm_errors == cold_errors and len(warm_errors) == 1
    assert sorted(warm) == sorted(cold)
    for rule_id, rule in warm.items():
        definition = rule.definition  # type: ignore[attr-defined]
        assert rule.path == cold[rule_id].path  # type: ignore[attr-defined]
        if isinstance(definition, SigmaRule):
            # compiled for the matcher, no pySigma objects, unknown top-level keys kept
            assert isinstance(definition.compiled, CompiledRule) and definition.raw is None
            assert definition.compiled == cold[rule_id].definition.compiled  # type: ignore[attr-defined]
    whoami = warm["5f0a6b9e-0000-4000-8000-000000000001"].definition  # type: ignore[attr-defined]
    assert whoami.custom["response"] == {"en": "Ask who ran it."}
    correlation = warm["aaaaaaaa-0000-4000-8000-0000000000ff"]
    assert isinstance(correlation.definition, SigmaCorrelation)  # type: ignore[attr-defined]
    assert [b.id for b in correlation.base_rules] == ["aaaaaaaa-0000-4000-8000-000000000001"]  # type: ignore[attr-defined]
    # a rule read back matches as the compiled one does
    event = new_event(
        event_id="e1",
        timestamp=datetime(2025, 1, 1, tzinfo=UTC),
        dataset="windows.sysmon_operational",
        fields={
            "winlog": {
                "channel": "Microsoft-Windows-Sysmon/Operational",
                "event_id": 1,
                "event_data": {"Image": "C:\\Windows\\System32\\WHOAMI1.EXE"},
            }
        },
    )
    assert [r.id for r, _ in RuleIndex([whoami]).match([event])] == [whoami.id]


def test_changing_one_rule_file_compiles_only_that_file(rules_dir: Path, tmp_path: Path) -> None:
    load(rules_dir, RuleCache(tmp_path / "cache"))
    (rules_dir / "whoami2.yml").write_text(RULE.format(n=2).replace("low", "high"))
    cache = RuleCache(tmp_path / "cache")
    rules, _ = load(rules_dir, cache)
    assert (cache.hits, cache.misses) == (4, 1)
    assert rules["5f0a6b9e-0000-4000-8000-000000000002"].level == "high"  # type: ignore[attr-defined]


def test_a_copied_rule_file_is_read_back_with_its_new_path(rules_dir: Path, tmp_path: Path) -> None:
    load(rules_dir, RuleCache(tmp_path / "cache"))
    copy = tmp_path / "imported"
    copy.mkdir()
    (copy / "ssh.yml").write_bytes((rules_dir / "ssh.yml").read_bytes())
    cache = RuleCache(tmp_path / "cache")
    pack = load_rule_pack([copy], compiler=compile_rule, cache=cache)
    assert cache.hits == 1
    assert {r.path for r in pack.rules} == {copy / "ssh.yml"}
    assert all(b.path == copy / "ssh.yml" for r in pack.rules for b in r.base_rules)


def test_a_damaged_entry_is_compiled_again_and_another_code_version_is_another_folder(
    rules_dir: Path, tmp_path: Path
) -> None:
    load(rules_dir, RuleCache(tmp_path / "cache"))
    for entry in (tmp_path / "cache" / code_version()).rglob("*.pickle"):
        entry.write_bytes(b"not a pickle")
    cache = RuleCache(tmp_path / "cache")
    rules, errors = load(rules_dir, cache)
    assert (cache.hits, cache.misses) == (0, 5) and len(rules) == 4 and len(errors) == 1
    other = RuleCache(tmp_path / "cache", version="another-code-version")
    load(rules_dir, other)
    assert other.misses == 5
