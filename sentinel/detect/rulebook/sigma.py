"""Sigma rules loaded once into typed objects: detection rules and correlation rules.

pySigma parses the YAML (``SigmaCollection``, errors collected, not raised); Sentinel then maps
each rule through its ECS pipeline (:mod:`sentinel.detect.rulebook.ecs_pipeline`) to learn which datasets
it reads and which fields. A broken rule becomes a ``RuleError`` carrying its file, line where
known, and the reason; every other rule of the same file or folder still loads.

``SigmaRule.raw`` is pySigma's untouched rule (backends apply their own copy of the pipeline);
``SigmaRule.processed`` is the same rule after the Sentinel pipeline, which the matcher compiles.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaLogSource
from sigma.rule import SigmaRule as PySigmaRule
from sigma.types import SigmaExpansion, SigmaFieldReference

from sentinel.detect.rulebook.ecs_pipeline import logsource_target, map_field, sentinel_pipeline
from sentinel.errors import Location, RuleError

log = logging.getLogger(__name__)

LEVELS = ("informational", "low", "medium", "high", "critical")
# libyaml's parser where PyYAML was built with it: about ten times faster than the pure-Python one
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CorrelationType = Literal["event_count", "value_count", "temporal", "temporal_ordered"]
# Single-word ECS fields a rule may name directly; any other bare name means a missing mapping.
_BARE_ECS_FIELDS = frozenset({"message", "tags", "labels", "@timestamp"})


@dataclass(frozen=True, eq=False)
class SigmaRule:
    """One Sigma detection rule, mapped to Sentinel's ECS events. Compared by identity."""

    id: str
    title: str
    description: str
    level: str
    tags: tuple[str, ...]
    logsource: SigmaLogSource
    path: Path | None
    datasets: tuple[str, ...]  # the datasets whose events the rule can match
    fields: tuple[str, ...]  # ECS fields the rule reads
    falsepositives: tuple[str, ...]
    references: tuple[str, ...]
    name: str | None  # Sigma ``name``, by which correlations may refer to the rule
    # pySigma's rule as written and after the pipeline; None in rules from the compiled rule cache,
    # which hold ``compiled`` instead
    raw: PySigmaRule | None = field(repr=False)
    processed: PySigmaRule | None = field(repr=False)
    event_ids: tuple[int, ...] = ()  # Windows EventIDs the log source implies (empty: any)
    status: str | None = None
    custom: dict[str, Any] = field(default_factory=dict, repr=False)  # unknown top-level keys
    is_keyword_rule: bool = False  # values with no field (searched in the message or event data)
    # the matcher's compiled form (``matching.compiled.CompiledRule``): plain data, picklable
    compiled: Any = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class SigmaCorrelation:
    """A Sigma correlation rule; the engine evaluates it over the matches of ``rules``."""

    id: str
    title: str
    level: str
    tags: tuple[str, ...]
    path: Path | None
    type: CorrelationType
    rules: tuple[str, ...]  # referenced rule ids or names, as written
    group_by: tuple[str, ...]  # ECS names (aliases stay as written)
    timespan_seconds: int
    condition: dict[str, Any]  # e.g. {"gte": 10} or {"gte": 3, "field": "user.name"}
    aliases: dict[str, dict[str, str]]  # alias → {rule reference → ECS field}
    description: str = ""
    name: str | None = None
    generate: bool = False
    raw: SigmaCorrelationRule | None = field(default=None, repr=False)
    custom: dict[str, Any] = field(default_factory=dict, repr=False)


AnyRule = SigmaRule | SigmaCorrelation
# The matcher's compiler (``matching.compiled.compile_rule``), handed in by whoever loads rules to
# run them: the rule then carries its compiled form, not pySigma's objects, and a rule the
# matcher cannot run is refused as it loads, with the reason.
Compiler = Callable[[SigmaRule], Any]


def _location(path: Path | None, error: SigmaError | None = None, key: str | None = None) -> Location:
    source = getattr(error, "source", None)
    line = source.line if isinstance(source, SigmaRuleLocation) else None
    return Location(str(path) if path is not None else "<text>", line, key)


def _rule_error(path: Path | None, error: Exception, key: str | None = None) -> RuleError:
    if isinstance(error, RuleError):
        return RuleError(error.message, error.location or _location(path, None, key))
    message = str(error)
    source = getattr(error, "source", None)
    if source is not None:  # pySigma appends " in <path>"; our Location says it already
        message = message.removesuffix(f" in {source}")
    return RuleError(message, _location(path, error if isinstance(error, SigmaError) else None, key))


def _detection_items(rule: PySigmaRule) -> Iterator[SigmaDetectionItem]:
    def walk(detection: SigmaDetection) -> Iterator[SigmaDetectionItem]:
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                yield from walk(item)
            else:
                yield item

    for detection in rule.detection.detections.values():
        yield from walk(detection)


@functools.cache
def _pipeline() -> ProcessingPipeline:
    """One pipeline for every rule loaded: ``apply`` starts each rule afresh, building it costs."""
    return sentinel_pipeline()


def _rule_fields(rule: PySigmaRule) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for item in _detection_items(rule):
        if item.field is not None:
            names[item.field] = None
        for value in item.value:
            values = value.values if isinstance(value, SigmaExpansion) else [value]
            for v in values:
                if isinstance(v, SigmaFieldReference):
                    names[v.field] = None
    return tuple(names)


def _key(rule: PySigmaRule | SigmaCorrelationRule) -> str:
    return str(rule.id or rule.title or "?")


def _build_rule(rule: PySigmaRule, path: Path | None, keep_raw: bool = True) -> SigmaRule:
    if rule.id is None:
        raise RuleError("rule has no 'id'")
    target = logsource_target(rule.logsource)
    # the pipeline changes the rule it is applied to: a copy, unless the rule as written is not kept
    processed = copy.deepcopy(rule) if keep_raw else rule
    try:
        _pipeline().apply(processed)
    except SigmaError as exc:
        raise RuleError(f"cannot map the rule to ECS: {exc}") from exc
    fields = _rule_fields(processed)
    unmapped = [f for f in fields if "." not in f and f not in _BARE_ECS_FIELDS]
    if unmapped:
        ls = rule.logsource
        raise RuleError(
            f"field(s) {', '.join(sorted(unmapped))} have no ECS mapping for log source "
            f"(product={ls.product}, category={ls.category}, service={ls.service})"
        )
    level = rule.level.name.lower() if rule.level is not None else "medium"
    return SigmaRule(
        id=str(rule.id),
        title=rule.title,
        description=(rule.description or "").strip(),
        level=level,
        tags=tuple(str(t) for t in rule.tags),
        logsource=rule.logsource,
        path=path,
        datasets=target.datasets,
        fields=fields,
        falsepositives=tuple(str(f) for f in rule.falsepositives),
        references=tuple(str(r) for r in rule.references),
        name=rule.name,
        raw=rule,
        processed=processed,
        event_ids=target.event_ids,
        status=rule.status.name.lower() if rule.status is not None else None,
        custom=dict(rule.custom_attributes),
        is_keyword_rule=any(item.field in (None, "message") for item in _detection_items(rule)),
    )


def _build_correlation(rule: SigmaCorrelationRule, path: Path | None, known: dict[str, SigmaRule]) -> SigmaCorrelation:
    if rule.id is None:
        raise RuleError("correlation rule has no 'id'")
    refs = tuple(ref.reference for ref in (rule.rules or ()))
    referenced = [known[r] for r in refs if r in known]

    def ecs(ref_rule: SigmaRule | None, name: str) -> str:
        return map_field(ref_rule.logsource, name) if ref_rule is not None else name

    alias_names = {alias.alias for alias in rule.aliases}
    aliases = {
        alias.alias: {ref.reference: ecs(known.get(ref.reference), f) for ref, f in alias.mapping.items()}
        for alias in rule.aliases
    }
    first = referenced[0] if referenced else None
    group_by = tuple(g if g in alias_names else ecs(first, g) for g in (rule.group_by or ()))
    condition: dict[str, Any] = {}
    cond = rule.condition
    if isinstance(cond, SigmaCorrelationCondition):
        condition[cond.op.name.lower()] = cond.count
        fieldref = getattr(cond, "fieldref", None)
        if fieldref is not None:
            condition["field"] = (
                [ecs(first, f) for f in fieldref] if isinstance(fieldref, list) else ecs(first, fieldref)
            )
    elif cond is not None and hasattr(cond, "expression"):
        condition["expression"] = cond.expression
    level = rule.level.name.lower() if rule.level is not None else (first.level if first else "medium")
    return SigmaCorrelation(
        id=str(rule.id),
        title=rule.title,
        level=level,
        tags=tuple(str(t) for t in rule.tags),
        path=path,
        type=rule.type.name.lower(),  # type: ignore[arg-type]
        rules=refs,
        group_by=group_by,
        timespan_seconds=int(rule.timespan.seconds),
        condition=condition,
        aliases=aliases,
        description=(rule.description or "").strip(),
        name=rule.name,
        generate=bool(rule.generate),
        raw=rule,
        custom=dict(rule.custom_attributes),
    )


def yaml_documents(text: str) -> list[Any]:
    """The YAML documents of a text, parsed with libyaml where installed (``yaml.YAMLError`` if invalid)."""
    return list(yaml.load_all(text, Loader=SAFE_LOADER))


def _parse(text: str, path: Path | None) -> tuple[list[tuple[Any, Path | None]], list[RuleError]]:
    """pySigma objects of one file (rules and correlations), plus the errors of the broken ones."""
    try:
        documents = yaml_documents(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = Location(str(path) if path else "<text>", mark.line + 1 if mark is not None else None)
        return [], [RuleError(f"invalid YAML: {problem}", where)]
    return _parse_documents(documents, path)


def _parse_documents(documents: list[Any], path: Path | None) -> tuple[list[tuple[Any, Path | None]], list[RuleError]]:
    """pySigma objects of one file's YAML documents, plus the errors of the broken ones."""
    bad = [d for d in documents if d is not None and not isinstance(d, dict)]
    if bad:
        return [], [RuleError("a Sigma rule must be a YAML mapping", _location(path))]
    source = SigmaRuleLocation(path) if path is not None else None
    try:
        collection = SigmaCollection.from_dicts(documents, collect_errors=True, source=source, resolve_references=False)
    except (SigmaError, ValueError, TypeError, AttributeError) as exc:
        return [], [_rule_error(path, exc)]
    parsed: list[tuple[Any, Path | None]] = []
    errors: list[RuleError] = []
    for item in collection.rules:
        if item.errors:
            errors.extend(_rule_error(path, e, _key(item)) for e in item.errors)
        else:
            parsed.append((item, path))
    reported = {id(e) for item in collection.rules for e in item.errors}
    errors.extend(_rule_error(path, e) for e in collection.errors if id(e) not in reported)
    return parsed, errors


def _build_all(
    parsed: list[tuple[Any, Path | None]], compiler: Compiler | None = None
) -> tuple[list[AnyRule], list[RuleError]]:
    rules: list[AnyRule] = []
    errors: list[RuleError] = []
    known: dict[str, SigmaRule] = {}
    for item, path in parsed:
        if isinstance(item, PySigmaRule):
            try:
                built = _build_rule(item, path, keep_raw=compiler is None)
                if compiler is not None:
                    built = replace(built, compiled=compiler(built), raw=None, processed=None)
            except (RuleError, SigmaError) as exc:
                errors.append(_rule_error(path, exc, _key(item)))
                continue
            rules.append(built)
            known[built.id] = built
            if built.name:
                known[built.name] = built
    for item, path in parsed:
        if isinstance(item, SigmaCorrelationRule):
            try:
                correlation = _build_correlation(item, path, known)
                rules.append(replace(correlation, raw=None) if compiler is not None else correlation)
            except (RuleError, SigmaError) as exc:
                errors.append(_rule_error(path, exc, _key(item)))
        elif not isinstance(item, PySigmaRule):
            errors.append(RuleError(f"unsupported Sigma document ({type(item).__name__})", _location(path)))
    return rules, errors


def load_sigma_text(text: str, path: Path | None = None) -> tuple[list[AnyRule], list[RuleError]]:
    """Load every rule of one Sigma YAML text (one or several documents); errors are collected."""
    parsed, errors = _parse(text, path)
    rules, build_errors = _build_all(parsed)
    return rules, errors + build_errors


def load_sigma_documents(
    documents: list[Any], path: Path | None = None, compiler: Compiler | None = None
) -> tuple[list[AnyRule], list[RuleError]]:
    """``load_sigma_text`` of a text already parsed into its YAML documents (compiled by ``compiler``)."""
    parsed, errors = _parse_documents(documents, path)
    rules, build_errors = _build_all(parsed, compiler)
    return rules, errors + build_errors


def iter_rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """YAML files under the given files or folders, sorted, hidden ones skipped."""
    for path in paths:
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.suffix in (".yml", ".yaml") and p.is_file() and not any(s.startswith(".") for s in p.parts):
                    yield p
        else:
            yield path


def load_sigma_paths(paths: Iterable[Path]) -> tuple[list[AnyRule], list[RuleError]]:
    """Load all Sigma rules under files/folders; correlations may refer to rules in other files."""
    parsed: list[tuple[Any, Path | None]] = []
    errors: list[RuleError] = []
    for path in iter_rule_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(RuleError(f"cannot read rule file: {exc}", Location(str(path))))
            continue
        file_parsed, file_errors = _parse(text, path)
        parsed.extend(file_parsed)
        errors.extend(file_errors)
    rules, build_errors = _build_all(parsed)
    errors.extend(build_errors)
    for error in errors:
        log.warning("rule not loaded: %s", error)
    return rules, errors
