"""Necessary literals of a rule and the gate that joins many of them."""

from __future__ import annotations

import re

from sentinel.detect.prefilter import Gate, _trie_regex, necessary_literals
from sentinel.detect.sigma_rules import SigmaRule, load_sigma_text

HEADER = """
title: t
id: 00000000-0000-0000-0000-000000000001
logsource: {product: windows, category: process_creation}
detection:
"""


def _rule(detection: str) -> SigmaRule:
    (rule,), errors = load_sigma_text(HEADER + detection)
    assert not errors and isinstance(rule, SigmaRule)
    return rule


def test_or_of_values_needs_one_of_them_and_channel_is_ignored() -> None:
    rule = _rule("  sel:\n    Image|endswith:\n      - '\\cmd.exe'\n      - '\\pwsh.exe'\n  condition: sel")
    assert necessary_literals(rule) == {"winlog.event_data.Image": {"\\cmd.exe", "\\pwsh.exe"}}


def test_and_picks_the_rarest_branch_and_not_gives_nothing() -> None:
    rule = _rule(
        "  a:\n    Image|endswith: '\\x.exe'\n  b:\n    CommandLine|contains: 'downloadstring'\n"
        "  f:\n    User: SYSTEM\n  condition: a and b and not f"
    )
    assert necessary_literals(rule) == {"winlog.event_data.CommandLine": {"downloadstring"}}
    assert necessary_literals(_rule("  f:\n    User: SYSTEM\n  condition: not f")) is None


def test_short_or_wildcard_only_values_give_no_literal() -> None:
    assert (
        necessary_literals(_rule("  sel:\n    Image|endswith:\n      - 'ab'\n      - '\\cmd.exe'\n  condition: sel"))
        is None
    )
    assert necessary_literals(_rule("  sel:\n    Image: '*'\n  condition: sel")) is None
    assert necessary_literals(_rule("  sel:\n    Image|re: 'cmd'\n  condition: sel")) is None


def test_wildcard_value_keeps_its_longest_piece() -> None:
    rule = _rule("  sel:\n    CommandLine: '*net* user *ADD*'\n  condition: sel")
    assert necessary_literals(rule) == {"winlog.event_data.CommandLine": {" user "}}


def test_trie_regex_finds_any_text_and_nothing_else() -> None:
    texts = ["abc", "abd", "ab", "xyz", "a.c", "q*"]
    search = re.compile(_trie_regex(texts)).search
    for text in texts:
        assert search(f"--{text}--")
    assert search("a") is None and search("xy z") is None and search("axc") is None and search("q") is None


def test_gate_opens_only_when_a_literal_occurs() -> None:
    gate = Gate([{"message": {"failed password"}}, {"message": {"invalid user"}, "user.name": {"root"}}])
    assert gate.open({"message": ("x failed password y",), "user.name": ()})
    assert gate.open({"message": (), "user.name": ("xrootx",)})
    assert not gate.open({"message": ("accepted publickey",), "user.name": ("alice",)})
