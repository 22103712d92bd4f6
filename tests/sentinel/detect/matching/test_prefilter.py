"""Necessary literals, keys and EventID texts of a rule, and the index that joins many rules' literals."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from sentinel.detect.matching import prefilter
from sentinel.detect.matching.prefilter import LiteralIndex, necessary_literals, necessary_texts, trie_regex
from sentinel.detect.rulebook.sigma import SigmaRule, load_sigma_text

HEADER = """
title: t
id: 00000000-0000-0000-0000-000000000001
logsource: {product: windows, category: process_creation}
detection:
"""


def _values(fields: dict[str, tuple[str, ...]]) -> defaultdict[str, tuple[str, ...]]:
    """Lowered field values as the matcher reads them: a field the event lacks has none."""
    return defaultdict(tuple, fields)


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


def test_literal_index_finds_the_rules_whose_texts_occur() -> None:
    index = LiteralIndex(
        [
            (0, {"message": {"failed password"}}),
            (1, {"message": {"invalid user"}, "user.name": {"root"}}),
            (2, {"user.name": {"roo", "alice"}}),  # "roo" is a prefix of rule 1's "root"
            (3, {"message": {"password for"}}),  # overlaps rule 0's text
        ]
    )
    assert index.hits(_values({"message": ("x failed password for y",), "user.name": ()})) == {0, 3}
    # a hit on the shorter text marks the rules of the longer one too (never a miss, rarely extra)
    assert index.hits(_values({"message": (), "user.name": ("xrootx",)})) == {1, 2}
    assert index.hits(_values({"message": (), "user.name": ("roo",)})) == {1, 2}
    assert index.hits(_values({"message": ("accepted publickey",), "user.name": ("bob", "alice")})) == {2}
    assert index.hits(_values({"message": ("accepted publickey",), "user.name": ("bob",)})) == set()


def test_short_texts_that_are_not_ascii_are_literals() -> None:
    rule = _rule("  sel:\n    CommandLine|contains: '\u202e'\n  condition: sel")
    assert necessary_literals(rule) == {"winlog.event_data.CommandLine": {"\u202e"}}
    cased = _rule("  sel:\n    CommandLine|contains|cased: '\u202e'\n  condition: sel")
    assert necessary_literals(cased) is None


def test_event_ids_named_in_the_condition_are_necessary_texts() -> None:
    field = "winlog.event_id"
    security = HEADER.replace("{product: windows, category: process_creation}", "{product: windows, service: security}")

    def texts(detection: str) -> frozenset[str] | None:
        (rule,), errors = load_sigma_text(security + detection)
        assert not errors and isinstance(rule, SigmaRule)
        return necessary_texts(rule, field)

    assert texts("  sel:\n    EventID: 4625\n  condition: sel") == {"4625"}
    assert texts("  sel:\n    EventID:\n      - 4624\n      - '4625'\n    LogonType: 3\n  condition: sel") == {
        "4624",
        "4625",
    }
    assert texts("  a:\n    EventID: 4624\n  b:\n    EventID: 4634\n  condition: a or b") == {"4624", "4634"}
    for detection in (
        "  sel:\n    EventID: 4625\n  condition: not sel",
        "  a:\n    EventID: 4624\n  b:\n    LogonType: 3\n  condition: a or b",
        "  sel:\n    EventID: '46*'\n  condition: sel",
        "  sel:\n    LogonType: 3\n  condition: sel",
    ):
        assert texts(detection) is None, detection


def test_exact_image_names_and_whole_values_are_keys() -> None:
    from sentinel.detect.matching.prefilter import necessary_keys

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
    from sentinel.detect.matching.prefilter import necessary_keys

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
    from sentinel.detect.matching.prefilter import KeyIndex

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
    index = LiteralIndex([(0, {"message": {"session opened"}}), (1, {"event.original": {"sshd[", "session opened"}})])
    assert len(index.tests) == 1  # one search over both fields, with the union of their texts
    line = "dec 10 labsz sshd[24200]: session opened for user root"
    # the message is the tail of the original line: either field's texts are found in the line
    assert index.hits(_values({"message": ("session opened for user root",), "event.original": (line,)})) == {0, 1}
    assert index.hits(_values({"message": ("x",), "event.original": ("labsz sshd[1]: x",)})) == {1}
    # a message that is not inside the original is searched too
    assert index.hits(_values({"message": ("session opened",), "event.original": ("something else",)})) == {0, 1}
    assert not index.hits(
        _values({"message": ("accepted publickey",), "event.original": ("labsz: accepted publickey",)})
    )


@pytest.mark.parametrize("tail_search", [True, False])
def test_hits_are_the_same_with_or_without_the_tail_search(tail_search: bool) -> None:
    from sentinel.detect.matching.prefilter import _anchored

    texts = ["denied axfr from ", "-wipe > /dev/null", "bash -i >& /dev/tcp/", "nc -e", "abc", "chmod +x", "axfr"]
    assert _anchored("denied axfr from ") == "xfr from "  # starts at its rarest character
    assert _anchored("abc") == "abc"
    index = LiteralIndex([(i, {"message": {text}}) for i, text in enumerate(texts)])
    (test,) = index.tests
    values = ["accepted publickey for root from 10.0.0.1", *(f"pre {t} post {t}" for t in texts)]
    values += [texts[0] + texts[2], "nc -e chmod +x", "x" * 40 + "denied axfr from"]
    for value in values:
        test[-1][2] = int(tail_search)  # the choice the index makes from what it sees
        test[-1][0] = 0
        expected = {i for i, text in enumerate(texts) if text in value}
        assert index.hits(_values({"message": (value,)})) == expected, value


def test_a_field_whose_values_mostly_hold_a_text_drops_its_tail_search() -> None:
    index = LiteralIndex([(0, {"image": {"\\cmd.exe"}}), (1, {"message": {"failed password"}})])
    image, message = index.tests
    for n in range(prefilter._PROBE):
        index.hits(_values({"image": (f"c:\\windows\\cmd.exe{n}",), "message": ("accepted publickey",)}))
    assert image[-1][2] == 0 and message[-1][2] == 1
    assert index.hits(_values({"image": ("c:\\cmd.exe",), "message": ("failed password",)})) == {0, 1}


def test_literals_besides_the_keys_come_from_another_branch_of_an_and() -> None:
    from sentinel.detect.matching.prefilter import necessary_keys

    rule = _rule(
        "  img:\n    - Image|endswith: '\\wmic.exe'\n    - OriginalFileName: wmic.exe\n"
        "  cli:\n    CommandLine|contains: ' group'\n  condition: img and cli"
    )
    keys = necessary_keys(rule)
    assert keys is not None
    # alone, the longer texts of the image branch; besides the keys (which test that branch), the other
    assert necessary_literals(rule) == {
        "winlog.event_data.Image": {"\\wmic.exe"},
        "winlog.event_data.OriginalFileName": {"wmic.exe"},
    }
    assert necessary_literals(rule, keys) == {"winlog.event_data.CommandLine": {" group"}}
    # with no other branch to take, the keys' branch is kept
    only = _rule("  img:\n    Image|endswith: '\\wmic.exe'\n  condition: img")
    assert necessary_literals(only, necessary_keys(only)) == {"winlog.event_data.Image": {"\\wmic.exe"}}
