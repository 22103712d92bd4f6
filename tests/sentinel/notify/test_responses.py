"""Every shipped rule says, in English and Swahili, what it found and what to do (its ``response:``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.detect.rulebook.pack import builtin_rules_dir, load_rule_pack, load_rule_text
from sentinel.notify.responses import CATEGORIES, PLACEHOLDERS, RuleTexts, placeholders


def test_every_shipped_rule_has_a_valid_response_in_both_languages() -> None:
    pack = load_rule_pack([builtin_rules_dir()], builtin=True)
    assert pack.errors == [] and len(pack.rules) >= 40
    texts = RuleTexts.from_rules(pack.rules)
    assert texts.errors == []
    for rule in pack.rules:
        response = texts.by_id[rule.id].response
        assert response is not None, f"{rule.path}: no response section"
        assert response.category in CATEGORIES
        en, sw = response.en, response.sw
        assert en.name != sw.name and en.description != sw.description, f"{rule.path}: sw is not translated"
        for a, b in zip(en.steps, sw.steps, strict=True):
            assert a != b and placeholders(a) == placeholders(b) <= PLACEHOLDERS - {"accounts"}
        assert all("{accounts}" in s for s in en.account_steps), f"{rule.path}: an account step names no account"
        assert texts.name(rule.id, "sw") == sw.name and texts.name(rule.id, "en") == en.name


def test_typed_rules_keep_their_response_too() -> None:
    """Typed rules (silence, threshold, new value) are read from their file: the loader keeps no custom keys."""
    pack = load_rule_pack([builtin_rules_dir()], builtin=True)
    typed = [r for r in pack.rules if r.kind in ("silence", "threshold", "new_value")]
    assert typed
    texts = RuleTexts.from_rules(typed)
    assert all(texts.by_id[r.id].response is not None for r in typed)


BROKEN = """\
title: Test rule
id: 11111111-2222-3333-4444-555555555555
logsource: {product: linux, service: sshd}
detection:
  selection: {event.action: ssh_login}
  condition: selection
level: low
response:
  category: login_attack
  en: {name: Broken rule, description: "A description long enough to pass.", steps: ["Block {adresses} now."]}
  sw: {name: Kanuni mbovu, description: "Maelezo marefu ya kutosha kupita.", steps: ["Zuia {adresses} sasa."]}
"""


def test_a_broken_response_is_reported_with_its_file_and_the_rule_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(BROKEN)
    rules, errors = load_rule_text(BROKEN, path)
    assert errors == [] and len(rules) == 1  # detection does not depend on the words
    texts = RuleTexts.from_rules(rules)
    [error] = texts.errors
    assert str(path) in str(error) and "adresses" in str(error)
    assert texts.name(rules[0].id, "sw") == "Test rule"  # falls back to the rule's own title


@pytest.mark.parametrize("language", ["en", "sw"])
def test_every_category_has_words_in_the_report_files(language: str) -> None:
    from dashboards.reports.words import Words

    words = Words(language)
    assert all(c in words.data["category"] for c in CATEGORIES)
