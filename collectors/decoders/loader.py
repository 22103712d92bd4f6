"""Decoder files → compiled decoders, with every problem named by file, line and key.

One file holds one decoder. A broken file is reported and left out; the others load. The shipped
library is read on the fast path (libyaml, no line bookkeeping); a file only pays for line
numbers when it has a problem to report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from collectors.decoders.compiled import (
    Capture,
    CompiledDecoder,
    CompiledHeader,
    CompiledJson,
    CompiledRule,
    JsonField,
)
from collectors.decoders.ecs import classification_problems, constant_writer, field_problem, writer
from collectors.decoders.model import DecoderSpec, JsonSpec
from collectors.decoders.patterns import (
    CAPTURE_PREFIX,
    PatternError,
    check_names,
    compile_pattern,
    guard_pattern,
    load_yaml,
    required_literal,
    shared_patterns,
)
from collectors.decoders.timestamps import TimeFormatError, compile_time_format
from sentinel.errors import ConfigError, Location
from sentinel.yamlfile import KeyPath, YamlDocument, validation_error_to_config_error

_PROGRAM = re.compile(r"[^\s*]+\*?$")
SUFFIXES = (".yaml", ".yml")


def shipped_library_dir() -> Path:
    return Path(str(resources.files("collectors.decoders").joinpath("library")))


@dataclass
class DecoderLoad:
    """What a set of decoder files gave: the decoders that compiled and the problems of the others."""

    decoders: list[CompiledDecoder] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)


class _Problems:
    """Problems found while compiling one decoder, each with the key path it is about."""

    def __init__(self) -> None:
        self.found: list[tuple[str, KeyPath]] = []

    def add(self, message: str, key: KeyPath) -> None:
        self.found.append((message, key))


def decoder_files(paths: Iterable[Path]) -> list[Path]:
    """The decoder files in ``paths`` (files, or folders searched recursively), in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()))
        elif path.is_file():
            files.append(path)
    return files


def load_decoder_file(path: Path, *, shipped: bool = False) -> tuple[CompiledDecoder | None, list[ConfigError]]:
    """Read and compile one decoder file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ConfigError(f"cannot read decoder file: {exc}", Location(str(path)))]
    try:
        data = load_yaml(text)
    except yaml.YAMLError:
        data = None  # the line-aware parse below names the line
        try:
            YamlDocument.parse(text, str(path))
        except ConfigError as exc:
            return None, [exc]
    if not isinstance(data, dict):
        return None, [
            ConfigError("a decoder file must be a mapping (id, title, dataset, rules...)", Location(str(path), 1))
        ]
    try:
        spec = DecoderSpec.model_validate(data)
    except ValidationError as exc:
        return None, [validation_error_to_config_error(YamlDocument.parse(text, str(path)), exc)]
    problems = _Problems()
    decoder = compile_decoder(spec, problems, path=path, shipped=shipped)
    if problems.found:
        doc = YamlDocument.parse(text, str(path))
        return None, [ConfigError(message, doc.location(key)) for message, key in problems.found]
    return decoder, []


def load_decoders(paths: Iterable[Path], *, builtin: bool = True, disabled: Iterable[str] = ()) -> DecoderLoad:
    """The shipped library (unless ``builtin`` is false) and the decoders in ``paths``.

    A site decoder with the id of a shipped one replaces it; two site decoders with one id are an
    error (the first stays). Decoders named in ``disabled`` are left out.
    """
    out = DecoderLoad()
    by_id: dict[str, CompiledDecoder] = {}
    if builtin:
        for file in decoder_files([shipped_library_dir()]):
            decoder, errors = load_decoder_file(file, shipped=True)
            out.errors.extend(errors)
            if decoder is not None:
                by_id[decoder.id] = decoder
    for file in decoder_files(paths):
        decoder, errors = load_decoder_file(file)
        out.errors.extend(errors)
        if decoder is None:
            continue
        known = by_id.get(decoder.id)
        if known is not None and not known.shipped:
            out.errors.append(
                ConfigError(f"decoder id {decoder.id!r} is also defined in {known.path}", Location(str(file)))
            )
            continue
        by_id[decoder.id] = decoder
    off = set(disabled)
    out.decoders = [d for d in by_id.values() if d.id not in off]
    return out


# ---- compiling --------------------------------------------------------------------------------


def _captures(
    regex: re.Pattern[str],
    captured: list[str],
    named: Mapping[str, str],
    problems: _Problems,
    key: KeyPath,
    *,
    header: bool = False,
) -> tuple[list[Capture], int]:
    """Writers for a pattern's groups; the 0-based group of ``@timestamp`` (-1 when none)."""
    out: list[Capture] = []
    time_group = -1
    for name, index in regex.groupindex.items():
        if name.startswith(CAPTURE_PREFIX) and name[len(CAPTURE_PREFIX) :].isdigit():
            target = captured[int(name[len(CAPTURE_PREFIX) :])]
        elif name in named:
            target = named[name]
        else:
            problems.add(f"group (?P<{name}>...) names no field: map it under `fields` or write (?:...)", key)
            continue
        problem = field_problem(target, header=header)
        if problem is not None:
            problems.add(problem, key)
            continue
        if target == "@timestamp":
            if time_group >= 0:
                problems.add("@timestamp is captured twice", key)
            time_group = index - 1
            continue
        out.append(Capture(index - 1, writer(target)))
    for name in named:
        if name not in regex.groupindex:
            problems.add(f"`fields` maps {name!r} but the pattern has no group (?P<{name}>...)", key)
    return out, time_group


def _pattern(
    text: str, library: Mapping[str, str], problems: _Problems, key: KeyPath
) -> tuple[re.Pattern[str], list[str]] | None:
    try:
        return compile_pattern(text, library)
    except PatternError as exc:
        problems.add(str(exc), key)
        return None


def _needs(pattern: str) -> str | None:
    guard = guard_pattern(pattern)
    return required_literal(guard) if guard is not None else None


def _constants(values: Mapping[str, Any], problems: _Problems, key: KeyPath) -> list[Any]:
    writers = []
    for name, value in values.items():
        problem = field_problem(name)
        if problem is not None:
            problems.add(problem, (*key, name))
            continue
        writers.append(constant_writer(name, value))
    return writers


def _json(spec: JsonSpec, library: Mapping[str, str], problems: _Problems) -> CompiledJson | None:
    try:
        parse_time = compile_time_format(spec.time.format, spec.time.zone)
    except TimeFormatError as exc:
        problems.add(str(exc), ("json", "time"))
        return None
    fields: list[JsonField] = []
    for path, target in spec.fields.items():
        key: KeyPath = ("json", "fields", path)
        if "%{" in target or "(?P<" in target:
            compiled = _pattern(target, library, problems, key)
            if compiled is None:
                continue
            regex, captured = compiled
            captures, _ = _captures(regex, captured, {}, problems, key)
            fields.append(JsonField(path, None, re.compile(regex.pattern + r"\Z").match, tuple(captures)))
            continue
        problem = field_problem(target)
        if problem is not None:
            problems.add(problem, key)
            continue
        fields.append(JsonField(path, writer(target), None, ()))
    return CompiledJson(spec.time.path, parse_time, spec.message, spec.program, tuple(fields))


def compile_decoder(
    spec: DecoderSpec, problems: _Problems, *, path: Path | None = None, shipped: bool = False
) -> CompiledDecoder | None:
    """A decoder ready for the hot path, or None (with ``problems`` filled) when it cannot be one."""
    try:
        check_names(spec.patterns)
    except PatternError as exc:
        problems.add(str(exc), ("patterns",))
    library = {**shared_patterns(), **spec.patterns}
    if not (spec.programs or spec.formats or spec.prefilter):
        problems.add(
            "a decoder needs at least one of `programs`, `formats` or `prefilter` (what it applies to)", ("id",)
        )
    for i, program in enumerate(spec.programs):
        if not _PROGRAM.match(program):
            problems.add(f"program {program!r}: a name with no spaces, '*' only at its end (a prefix)", ("programs", i))
    if spec.formats and not (spec.lines or spec.json_lines):
        problems.add(
            "`formats` needs `lines` (or `json`): how the file's lines start and where their time is", ("formats",)
        )
    if spec.lines and spec.json_lines:
        problems.add("a decoder reads either text lines (`lines`) or JSON lines (`json`), not both", ("json",))
    if not spec.rules and not (spec.json_lines and spec.json_lines.program):
        problems.add("a decoder needs `rules` (or `json.program`, to hand each message to its program)", ("rules",))
    headers: list[CompiledHeader] = []
    for i, line in enumerate(spec.lines):
        key: KeyPath = ("lines", i)
        compiled = _pattern(line.match, library, problems, (*key, "match"))
        try:
            parse_time = compile_time_format(line.time, line.zone)
        except TimeFormatError as exc:
            problems.add(str(exc), (*key, "time"))
            continue
        if compiled is None:
            continue
        regex, captured = compiled
        captures, time_group = _captures(regex, captured, {}, problems, (*key, "match"), header=True)
        if time_group < 0:
            problems.add("a line header must capture the time: %{...:@timestamp}", (*key, "match"))
            continue
        needs = _needs(line.match)
        headers.append(CompiledHeader(regex.match, needs, time_group, parse_time, tuple(captures)))
    rules: list[CompiledRule] = []
    for i, rule in enumerate(spec.rules):
        key = ("rules", i)
        for which, problem in classification_problems(rule.category, rule.types, rule.outcome, rule.kind):
            problems.add(problem, (*key, which))
        compiled = _pattern(rule.match, library, problems, (*key, "match"))
        constants = _constants(rule.constants, problems, (*key, "set"))
        if compiled is None:
            continue
        regex, captured = compiled
        captures, time_group = _captures(regex, captured, rule.fields, problems, (*key, "match"))
        rules.append(
            CompiledRule(
                action=rule.action,
                match=regex.match,
                needs=_needs(rule.match),
                on_line=rule.reads == "line",
                captures=tuple(captures),
                constants=tuple(constants),
                category=tuple(rule.category),
                types=tuple(rule.types),
                outcome=rule.outcome,
                kind=rule.kind,
            )
        )
    json_spec = _json(spec.json_lines, library, problems) if spec.json_lines is not None else None
    constants = _constants(spec.constants, problems, ("set",))
    if problems.found:
        return None
    return CompiledDecoder(
        id=spec.id,
        title=spec.title,
        dataset=spec.dataset,
        order=spec.order,
        programs=tuple(spec.programs),
        formats=tuple(spec.formats),
        prefilter=tuple(spec.prefilter),
        headers=tuple(headers),
        rules=tuple(rules),
        json=json_spec,
        constants=tuple(constants),
        path=path,
        shipped=shipped,
        rule_count=len(spec.rules),
        samples=tuple(spec.samples),
    )
