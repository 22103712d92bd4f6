"""Necessary literals of a rule and the gate that joins many of them."""

from __future__ import annotations

import re

from sentinel.detect.prefilter import Gate, necessary_literals, trie_regex
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


def testtrie_regex_finds_any_text_and_nothing_else() -> None:
    texts = ["abc", "abd", "ab", "xyz", "a.c", "q*"]
    search = re.compile(trie_regex(texts)).search
    for text in texts:
        assert search(f"--{text}--")
    assert search("a") is None and search("xy z") is None and search("axc") is None and search("q") is None


def test_gate_opens_only_when_a_literal_occurs() -> None:
    gate = Gate([{"message": {"failed password"}}, {"message": {"invalid user"}, "user.name": {"root"}}])
    assert gate.open({"message": ("x failed password y",), "user.name": ()})
    assert gate.open({"message": (), "user.name": ("xrootx",)})
    assert not gate.open({"message": ("accepted publickey",), "user.name": ("alice",)})


def test_exact_image_names_and_whole_values_are_keys() -> None:
    from sentinel.detect.prefilter import necessary_keys

    rule = _rule(
        "  img:\n    - Image|endswith: '\\Rundll32.exe'\n    - OriginalFileName: RUNDLL32.EXE\n"
        "  cmd:\n    CommandLine|contains: ',#1'\n  condition: img and cmd"
    )
    assert necessary_keys(rule) == {
        ("winlog.event_data.Image", "\\", "rundll32.exe"),
        ("winlog.event_data.OriginalFileName", "eq", "rundll32.exe"),
    }
    linux = _rule("  sel:\n    Image|endswith: '/whoami'\n  condition: sel")
    assert necessary_keys(linux) == {("winlog.event_data.Image", "/", "whoami")}


def test_no_key_when_a_branch_is_not_exact() -> None:
    from sentinel.detect.prefilter import necessary_keys

    # a suffix without a separator, a wildcard in the name, a contains, a negation, a regex
    for detection in (
        "  sel:\n    Image|endswith: 'rundll32.exe'\n  condition: sel",
        "  sel:\n    Image|endswith: '\\python*.exe'\n  condition: sel",
        "  sel:\n    Image|endswith: '\\a\\b.exe'\n  condition: sel",
        "  sel:\n    Image|contains: '\\cmd.exe'\n  condition: sel",
        "  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: not sel",
        "  sel:\n    Image|re: 'cmd'\n  condition: sel",
        "  a:\n    Image|endswith: '\\cmd.exe'\n  b:\n    CommandLine|contains: x\n  condition: a or b",
    ):
        assert necessary_keys(_rule(detection)) is None, detection


def test_key_index_finds_rules_by_whole_value_and_last_path_component() -> None:
    from sentinel.detect.prefilter import KeyIndex

    index = KeyIndex(
        [
            (0, frozenset({("image", "\\", "cmd.exe")})),
            (1, frozenset({("image", "/", "bash"), ("name", "eq", "bash")})),
            (2, frozenset({("image", "\\", "cmd.exe"), ("name", "eq", "cmd.exe")})),
        ]
    )
    assert index.lookup({"image": ("c:\\windows\\cmd.exe",), "name": ()}) == {0, 2}
    assert index.lookup({"image": ("/usr/bin/bash",), "name": ("bash",)}) == {1}
    assert index.lookup({"image": ("cmd.exe",), "name": ("cmd.exe",)}) == {2}  # no separator: no suffix
    assert index.lookup({"image": ("c:\\x\\cmd.exe\\y",), "name": ()}) == set()
    assert index.lookup({"image": ("/bin/xbash", "c:\\cmd.exe"), "name": ()}) == {0, 2}  # any list element


def test_message_and_original_share_one_search_that_finds_either_fields_texts() -> None:
    gate = Gate([{"message": {"session opened"}}, {"event.original": {"sshd[", "session opened"}}])
    assert len(gate.tests) == 1  # one search over both fields, with the union of their texts
    line = "dec 10 labsz sshd[24200]: session opened for user root"
    # the message is the tail of the original line: either field's texts are found in the line
    assert gate.open({"message": ("session opened for user root",), "event.original": (line,)})
    assert gate.open({"message": ("x",), "event.original": ("labsz sshd[1]: x",)})
    # a message that is not inside the original is searched too
    assert gate.open({"message": ("session opened",), "event.original": ("something else",)})
    assert not gate.open({"message": ("accepted publickey",), "event.original": ("labsz: accepted publickey",)})


def test_anchored_gate_opens_whenever_the_whole_texts_occur() -> None:
    from sentinel.detect.prefilter import _anchored

    texts = {"denied axfr from ", "-wipe > /dev/null", "bash -i >& /dev/tcp/", "nc -e", "abc", "chmod +x"}
    assert _anchored("denied axfr from ") == "xfr from "  # starts at its rarest character
    assert _anchored("abc") == "abc"
    whole, tails = Gate([{"message": texts}]), Gate([{"message": texts}], anchored=True)
    for text in texts:
        for value in (text, f"pre {text} post", f"{text}{text}"):
            assert whole.open({"message": (value,)}) and tails.open({"message": (value,)})
    assert not tails.open({"message": ("accepted publickey for root from 10.0.0.1",)})
