"""Loading decoder files: every problem names the file, the line and the key; a broken decoder is
reported and left out, the others load."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.decoders.loader import load_decoder_file, load_decoders

GOOD = """\
id: portal
title: Ministry portal
dataset: portal.auth
programs: [portal]
rules:
  - action: login_failed
    match: 'login failed for %{USERNAME:user.name} from %{IP:source.ip}'
    category: [authentication]
    type: [start]
    outcome: failure
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def only_error(path: Path) -> str:
    decoder, errors = load_decoder_file(path)
    assert decoder is None
    assert len(errors) == 1, errors
    return str(errors[0])


def test_a_good_file_compiles(tmp_path: Path) -> None:
    decoder, errors = load_decoder_file(write(tmp_path, "portal.yaml", GOOD))
    assert errors == [] and decoder is not None
    assert (decoder.id, decoder.dataset, decoder.programs, decoder.rule_count) == (
        "portal",
        "portal.auth",
        ("portal",),
        1,
    )


@pytest.mark.parametrize(
    ("replace", "by", "line", "message"),
    [
        ("    outcome: failure\n", "    outcome: failure\n    colour: blue\n", 11, "(rules[0].colour): unknown key"),
        ("category: [authentication]", "category: [authentcation]", 8, "'authentcation' is not an ECS category"),
        ("type: [start]", "type: [denied]", 9, "event.type 'denied' does not go with event.category authentication"),
        ("outcome: failure", "outcome: failed", 10, "event.outcome 'failed' is not one of"),
        ("%{IP:source.ip}", "%{ADDRESS:source.ip}", 7, "(rules[0].match): unknown pattern %{ADDRESS}"),
        ("%{IP:source.ip}", "(?P<ip>[\\d.]+", 7, "not a valid regular expression"),
        ("%{IP:source.ip}", "(?P<ip>[\\d.]+)", 7, "group (?P<ip>...) names no field"),
        ("%{IP:source.ip}", "%{IP:organization.id}", 7, "organization.id is set by the normaliser"),
        ("%{IP:source.ip}", "%{IP:event.outcome}", 7, "event.outcome is set by the normaliser or by a rule's own keys"),
        ("%{IP:source.ip}", "%{IP:Source.IP}", 7, "is not a field name"),
        ("programs: [portal]", "programs: ['por tal']", 4, "program 'por tal'"),
        ("programs: [portal]\n", "", 1, "needs at least one of `programs`, `formats` or `prefilter`"),
        ("id: portal", "id: Portal Login", 1, "(id): String should match pattern"),
        ("programs: [portal]", "programs: [portal]\nformats: [portal.auth]", 5, "`formats` needs `lines`"),
        ("    outcome: failure\n", "    outcome: failure\n    set: {host.name: x}\n", 11, "(rules[0].set.host.name)"),
    ],
)
def test_problems_name_file_line_and_key(tmp_path: Path, replace: str, by: str, line: int, message: str) -> None:
    assert replace in GOOD
    path = write(tmp_path, "portal.yaml", GOOD.replace(replace, by, 1))
    error = only_error(path)
    assert error.startswith(f"{path}:{line}"), error
    assert message in error, error


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "portal.yaml", GOOD.replace("rules:", "rules: [", 1))
    assert only_error(path).startswith(f"{path}:")
    assert "invalid YAML" in only_error(path)


def test_on_is_not_a_key_yaml_would_read_as_true(tmp_path: Path) -> None:
    # YAML 1.1 reads "on:" as the boolean true: the key that picks the text is called "reads".
    path = write(tmp_path, "portal.yaml", GOOD.replace("    outcome: failure", "    outcome: failure\n    on: line"))
    assert "Keys should be strings" in only_error(path)


def test_a_line_header_must_capture_the_time(tmp_path: Path) -> None:
    text = GOOD.replace(
        "programs: [portal]", "formats: [portal.auth]\nlines:\n  - match: '%{WORD} '\n    time: iso8601"
    )
    path = write(tmp_path, "portal.yaml", text)
    assert "a line header must capture the time" in only_error(path)
    bad_format = text.replace("%{WORD} ", "%{WORD:@timestamp} ").replace("time: iso8601", "time: '%H:%M'")
    assert "needs a day" in only_error(write(tmp_path, "portal.yaml", bad_format))


def test_one_broken_decoder_is_reported_and_the_others_load(tmp_path: Path) -> None:
    write(tmp_path, "a-portal.yaml", GOOD)
    write(tmp_path, "b-broken.yaml", GOOD.replace("id: portal", "id: broken").replace("%{IP:", "%{NOPE:"))
    write(tmp_path, "c-other.yaml", GOOD.replace("id: portal", "id: other").replace("[portal]", "[other]"))
    loaded = load_decoders([tmp_path], builtin=False)
    assert sorted(d.id for d in loaded.decoders) == ["other", "portal"]
    assert len(loaded.errors) == 1 and "b-broken.yaml:7" in str(loaded.errors[0])


def test_a_site_decoder_replaces_the_shipped_one_with_its_id(tmp_path: Path) -> None:
    write(tmp_path, "postfix.yaml", GOOD.replace("id: portal", "id: postfix"))
    loaded = load_decoders([tmp_path])
    postfix = [d for d in loaded.decoders if d.id == "postfix"]
    assert len(postfix) == 1 and not postfix[0].shipped and postfix[0].dataset == "portal.auth"
    assert loaded.errors == []


def test_two_site_decoders_with_one_id_are_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    loaded = load_decoders([tmp_path], builtin=False)
    assert [d.path.name for d in loaded.decoders if d.path] == ["a.yaml"]
    assert "decoder id 'portal' is also defined in" in str(loaded.errors[0])


def test_disabled_decoders_are_left_out() -> None:
    loaded = load_decoders((), disabled=["postfix"])
    ids = {d.id for d in loaded.decoders}
    assert "postfix" not in ids and "dovecot" in ids
