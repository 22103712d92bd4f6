"""Named sub-patterns: %{NAME} inserts, %{NAME:field} captures, unknown and circular names are refused."""

from __future__ import annotations

import pytest

from collectors.decoders.patterns import PatternError, compile_pattern, required_literal, shared_patterns


def test_captures_land_in_their_fields() -> None:
    regex, fields = compile_pattern("from %{IP:source.ip} port %{PORT:source.port}", shared_patterns())
    m = regex.match("from 203.0.113.9 port 22")
    assert m is not None and fields == ["source.ip", "source.port"]
    assert m.group("_f0") == "203.0.113.9" and m.group("_f1") == "22"


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("::ffff:192.0.2.1:58430 x", "::ffff:192.0.2.1"),
        ("2001:db8::1234:58430 x", "2001:db8::1234"),  # HAProxy writes an IPv6 client and its port unbracketed
        ("192.0.2.1:58430 x", "192.0.2.1"),
    ],
)
def test_an_address_before_its_port(text: str, address: str) -> None:
    regex, _ = compile_pattern("%{IP:source.ip}:%{PORT:source.port} x", shared_patterns())
    m = regex.match(text)
    assert m is not None and m.group("_f0") == address


def test_an_ipv4_pattern_does_not_take_part_of_a_number() -> None:
    regex, _ = compile_pattern(".*?%{IPV4:source.ip}$", shared_patterns())
    assert regex.match("id 1192.0.2.1") is None  # "192.0.2.1" is not read out of "1192.0.2.1"
    m = regex.match("id 192.0.2.1")
    assert m is not None and m.group("_f0") == "192.0.2.1"


@pytest.mark.parametrize(
    ("pattern", "local", "message"),
    [
        ("%{NOPE}", {}, "unknown pattern %{NOPE}"),
        ("%{A}", {"A": "%{B}", "B": "%{A}"}, "refers to itself"),
        ("(unclosed", {}, "not a valid regular expression"),
    ],
)
def test_bad_patterns(pattern: str, local: dict[str, str], message: str) -> None:
    with pytest.raises(PatternError, match=message.replace("{", r"\{").replace("(", r"\(")):
        compile_pattern(pattern, {**shared_patterns(), **local})


@pytest.mark.parametrize(
    ("pattern", "needs"),
    [
        (r'.*?\blogdesc="Admin login failed".*?\buser="(.*?)"', 'logdesc="Admin login failed"'),
        (r"abc(?:xyz)?defg", "defg"),  # an optional part ends a run
        (r"(?:abcd|efgh) x", None),  # alternatives: neither is required
        (r"(?i)Access denied", None),  # case-insensitive: no exact text
        (r"(?=.*?\beventtime=\d+)", "eventtime="),  # what a lookahead requires is required
        (r"x(?!abcdef)", None),  # a negative lookahead requires nothing
        (r"client (abcd) denied", "client abcd denied"),  # a group that must match continues the run
    ],
)
def test_the_required_text_of_a_pattern(pattern: str, needs: str | None) -> None:
    import re

    assert required_literal(re.compile(pattern)) == needs
