"""Sentinel's rule files: Sigma rules (and correlations) plus a ``sentinel:`` block, or typed rules.

Format (one YAML file per rule; documents separated by ``---``):

* A **Sigma** detection or correlation rule, exactly as SigmaHQ writes it. A file may hold a
  correlation together with the base rules it references. Sentinel's own settings sit in one
  optional top-level key, ``sentinel:``, which pySigma keeps as a custom attribute, so the file is
  still a valid Sigma rule for any other tool::

      sentinel:
        interval: 1m        # how often the rule runs (default: detect.interval_seconds)
        lookback: 5m        # events up to this late still match (default: detect.lookback_seconds)
        suppress: 1h        # one alert per rule, group key and this window (realert)
        group_by: [source.ip]   # detection rules only: what makes two matches the same alert
        first_min: 5        # temporal_ordered only: matches of the first rule needed before the next
        datasets: [nmap.port]   # override the datasets the log source maps to
        enabled: true
        samples:
          match: [...]      # events (or scenarios) that MUST raise an alert
          no_match: [...]   # events (or scenarios) that must NOT

  A SigmaHQ rule with no ``sentinel:`` key loads unchanged, with the defaults.
* A **typed** rule beyond Sigma (``type: silence | new_value | threshold``), see ``rule_types``.
  It takes the same ``sentinel:`` block for scheduling and samples.

A sample is an ECS event written as nested or dotted keys, or a scenario ``{events: [...]}``
for rules that need several events (correlations, thresholds); see ``samples``.

Loading never stops at the first bad file: every error is collected as a ``RuleError`` with the
file, line and reason, and the good rules load.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sentinel.config import Settings
from sentinel.detect.rulebook.cache import RuleCache
from sentinel.detect.rulebook.sigma import SAFE_LOADER, Compiler, SigmaCorrelation, SigmaRule, load_sigma_documents
from sentinel.detect.rulebook.typed_rules import TYPED_RULE_KINDS, TypedRule, parse_typed_rule
from sentinel.durations import duration_seconds
from sentinel.errors import Location, RuleError

log = logging.getLogger(__name__)

RuleKind = Literal["sigma", "correlation", "silence", "new_value", "threshold"]
LEVELS = ("informational", "low", "medium", "high", "critical")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SampleSet(_Strict):
    match: list[Any] = []
    no_match: list[Any] = []


class RuleOptions(_Strict):
    """The ``sentinel:`` block of a rule file (all optional)."""

    interval: int | None = None
    lookback: int | None = None
    suppress: int | None = None
    group_by: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    enabled: bool = True
    max_run_seconds: float | None = Field(default=None, gt=0)
    # temporal_ordered correlations: the first rule must match this often before the next one
    # counts (e.g. 5 failures, then a success); Sigma itself has no such count.
    first_min: int = Field(default=1, ge=1)
    samples: SampleSet = SampleSet()

    @field_validator("interval", "lookback", "suppress", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int | None:
        if value is None:
            return None
        return duration_seconds(value)

    @field_validator("interval", "suppress")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("must be at least 1 second")
        return value


@dataclass(frozen=True)
class PackRule:
    """One runnable rule: its definition (Sigma or typed), Sentinel options and where it came from."""

    id: str
    title: str
    kind: RuleKind
    level: str
    description: str
    tags: tuple[str, ...]
    path: Path | None
    options: RuleOptions
    definition: SigmaRule | SigmaCorrelation | TypedRule
    base_rules: tuple[SigmaRule, ...] = ()  # correlations: the detection rules they count
    name: str | None = None
    builtin: bool = False

    @property
    def datasets(self) -> tuple[str, ...]:
        if self.options.datasets:
            return self.options.datasets
        if isinstance(self.definition, SigmaRule):
            return tuple(self.definition.datasets)
        if isinstance(self.definition, SigmaCorrelation):
            out: list[str] = []
            for base in self.base_rules:
                out.extend(d for d in base.datasets if d not in out)
            return tuple(out)
        return tuple(self.definition.datasets)

    @property
    def attack(self) -> tuple[str, ...]:
        return tuple(t for t in self.tags if t.lower().startswith("attack."))

    @property
    def controls(self) -> tuple[str, ...]:
        """Control ids (``AUTH-02``) from ``sentinel.control.auth-02`` tags."""
        prefix = "sentinel.control."
        return tuple(t[len(prefix) :].upper() for t in self.tags if t.lower().startswith(prefix))

    def matches_name(self, wanted: str) -> bool:
        stem = self.path.stem if self.path is not None else None
        return wanted in {self.id, self.name, stem}


@dataclass
class RulePack:
    """Every loaded rule plus every error found while loading (one per bad rule or file)."""

    rules: list[PackRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)

    def get(self, wanted: str) -> PackRule | None:
        for rule in self.rules:
            if rule.matches_name(wanted):
                return rule
        return None

    def runnable(self, disabled: Iterable[str] = ()) -> list[PackRule]:
        """Rules the engine schedules: enabled, not disabled by config, not only a correlation's base."""
        off = set(disabled)
        return [r for r in self.rules if r.options.enabled and not (off & {r.id, r.name or "", _stem(r)})]


def _stem(rule: PackRule) -> str:
    return rule.path.stem if rule.path is not None else ""


# ------------------------------------------------------------------------------------------
# loading


def builtin_rules_dir() -> Path:
    return Path(str(resources.files("sentinel.detect") / "rules"))


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Rule files under the given files/folders (``*.yml``/``*.yaml``, sorted, recursive)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()))
        else:
            out.append(path)
    return out


def load_rule_pack(
    paths: Iterable[Path], *, builtin: bool = False, compiler: Compiler | None = None, cache: RuleCache | None = None
) -> RulePack:
    """Every rule under the files/folders; ``compiler`` compiles each Sigma rule for the matcher and
    ``cache`` (with a compiler) keeps what each rule file gave, so an unchanged file is not parsed again."""
    pack = RulePack()
    paths = list(paths)
    for missing in (p for p in paths if not p.exists()):
        pack.errors.append(RuleError("no such rule file or folder", _loc(missing)))
    for path in rule_files(p for p in paths if p.exists()):
        rules, errors = load_rule_file(path, builtin=builtin, compiler=compiler, cache=cache)
        pack.rules.extend(rules)
        pack.errors.extend(errors)
    _check_unique(pack)
    return pack


def load_configured_pack(
    rules_dirs: Sequence[Path],
    *,
    builtin: bool = True,
    base_dir: Path | None = None,
    compiler: Compiler | None = None,
    cache: RuleCache | None = None,
) -> RulePack:
    """The shipped pack (if enabled) plus the configured folders (relative to ``base_dir``)."""
    how: dict[str, Any] = {"compiler": compiler, "cache": cache}
    pack = load_rule_pack([builtin_rules_dir()], builtin=True, **how) if builtin else RulePack()
    extra = [p if p.is_absolute() or base_dir is None else base_dir / p for p in rules_dirs]
    more = load_rule_pack(extra, **how)
    pack.rules.extend(more.rules)
    pack.errors.extend(more.errors)
    _check_unique(pack)
    return pack


def _check_unique(pack: RulePack) -> None:
    seen: dict[str, PackRule] = {}
    kept: list[PackRule] = []
    for rule in pack.rules:
        if rule.id in seen:
            first = seen[rule.id]
            pack.errors.append(
                RuleError(f"rule id {rule.id} is also used by {first.path}; this copy is ignored", _loc(rule.path))
            )
            continue
        seen[rule.id] = rule
        kept.append(rule)
    pack.rules[:] = kept


def _loc(path: Path | None, line: int | None = None, key: str | None = None) -> Location:
    return Location(str(path) if path is not None else "<string>", line, key)


def load_rule_file(
    path: Path, *, builtin: bool = False, compiler: Compiler | None = None, cache: RuleCache | None = None
) -> tuple[list[PackRule], list[RuleError]]:
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [RuleError(f"cannot read rule file: {exc}", _loc(path))]
    if cache is None or compiler is None:
        return load_rule_text(text, path, builtin=builtin, compiler=compiler)
    found = cache.get(data, path, builtin)
    if found is not None:
        return found
    rules, errors = load_rule_text(text, path, builtin=builtin, compiler=compiler)
    cache.put(data, path, builtin, rules, errors)
    return rules, errors


def load_rule_text(
    text: str, path: Path | None = None, *, builtin: bool = False, compiler: Compiler | None = None
) -> tuple[list[PackRule], list[RuleError]]:
    """Parse one rule file's text into rules; errors are returned, never raised."""
    try:
        docs, lines = _documents(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return [], [RuleError(f"invalid YAML: {problem}", _loc(path, mark.line + 1 if mark else None))]
    if not docs:
        return [], [RuleError("the file holds no rule", _loc(path))]
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            return [], [RuleError("each YAML document must be a mapping", _loc(path, lines[i].get("", None)))]
    if any(doc.get("type") in TYPED_RULE_KINDS for doc in docs):
        return _load_typed(docs, lines, path, builtin)
    return _load_sigma(docs, lines, path, builtin, compiler)


def _documents(text: str) -> tuple[list[Any], list[dict[str, int]]]:
    """The YAML documents and, per document, the 1-based line of each top-level key."""
    nodes = [n for n in yaml.compose_all(text, Loader=SAFE_LOADER) if n is not None]
    constructor = SAFE_LOADER("")  # the documents built from the same nodes: the text is parsed once
    docs = [d for d in (constructor.construct_document(n) for n in nodes) if d is not None]
    lines: list[dict[str, int]] = []
    for node in nodes:
        entry: dict[str, int] = {"": node.start_mark.line + 1}
        if isinstance(node, yaml.MappingNode):
            for key, _ in node.value:
                entry[str(key.value)] = key.start_mark.line + 1
        lines.append(entry)
    return docs, lines


def _options(doc: dict[str, Any], line: int | None, path: Path | None) -> RuleOptions:
    raw = doc.get("sentinel") or {}
    if not isinstance(raw, dict):
        raise RuleError("'sentinel' must be a mapping of Sentinel options", _loc(path, line, "sentinel"))
    try:
        return RuleOptions.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in ("sentinel", *err.get("loc", ())))
        msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid value")
        raise RuleError(msg, _loc(path, line, key)) from exc


def _load_typed(
    docs: list[dict[str, Any]], lines: list[dict[str, int]], path: Path | None, builtin: bool
) -> tuple[list[PackRule], list[RuleError]]:
    rules: list[PackRule] = []
    errors: list[RuleError] = []
    for doc, doc_lines in zip(docs, lines, strict=True):
        try:
            options = _options(doc, doc_lines.get("sentinel"), path)
            # ``response`` is read by sentinel.notify.responses, not by the typed rule model.
            body = {k: v for k, v in doc.items() if k not in ("sentinel", "response")}
            typed = parse_typed_rule(body, path, doc_lines)
        except RuleError as exc:
            errors.append(exc)
            continue
        rules.append(
            PackRule(
                id=typed.id,
                title=typed.title,
                kind=typed.kind,
                level=typed.level,
                description=typed.description,
                tags=tuple(typed.tags),
                path=path,
                options=options,
                definition=typed,
                name=typed.name,
                builtin=builtin,
            )
        )
    return rules, errors


def _load_sigma(
    docs: list[dict[str, Any]],
    lines: list[dict[str, int]],
    path: Path | None,
    builtin: bool,
    compiler: Compiler | None,
) -> tuple[list[PackRule], list[RuleError]]:
    errors: list[RuleError] = []
    options_by_id: dict[str, RuleOptions] = {}
    for doc, doc_lines in zip(docs, lines, strict=True):
        try:
            options_by_id[str(doc.get("id"))] = _options(doc, doc_lines.get("sentinel"), path)
        except RuleError as exc:
            errors.append(exc)
    if errors:
        return [], errors
    loaded, sigma_errors = load_sigma_documents(docs, path, compiler)
    errors.extend(sigma_errors)
    detections = [r for r in loaded if isinstance(r, SigmaRule)]
    correlations = [r for r in loaded if isinstance(r, SigmaCorrelation)]
    referenced: set[str] = set()
    rules: list[PackRule] = []
    for corr in correlations:
        bases = []
        for ref in corr.rules:
            base = next((d for d in detections if ref in {d.id, d.name}), None)
            if base is None:
                errors.append(
                    RuleError(f"correlation {corr.id} references rule {ref!r}, not in the same file", _loc(path))
                )
                break
            bases.append(base)
        else:
            if not _generates(corr):
                referenced.update(b.id for b in bases)
            rules.append(_from_sigma(corr, options_by_id, path, builtin, tuple(bases)))
    for det in detections:
        if det.id in referenced:
            continue
        rules.append(_from_sigma(det, options_by_id, path, builtin, ()))
    return rules, errors


def _generates(corr: SigmaCorrelation) -> bool:
    """Sigma's ``generate``: do the base rules also raise alerts of their own? (default: no)"""
    return bool(corr.generate)


def _from_sigma(
    rule: SigmaRule | SigmaCorrelation,
    options_by_id: dict[str, RuleOptions],
    path: Path | None,
    builtin: bool,
    bases: tuple[SigmaRule, ...],
) -> PackRule:
    options = options_by_id.get(str(rule.id), RuleOptions())
    level = str(rule.level or "medium").lower()
    description = str(getattr(rule, "description", "") or "")
    kind: RuleKind = "correlation" if isinstance(rule, SigmaCorrelation) else "sigma"
    if kind == "correlation" and options.group_by:
        options = replace_options(options, group_by=())  # a correlation's group-by is its own
    return PackRule(
        id=str(rule.id),
        title=str(rule.title),
        kind=kind,
        level=level if level in LEVELS else "medium",
        description=description,
        tags=tuple(str(t) for t in rule.tags),
        path=path,
        options=options,
        definition=rule,
        base_rules=bases,
        name=getattr(rule, "name", None),
        builtin=builtin,
    )


def replace_options(options: RuleOptions, **changes: Any) -> RuleOptions:
    return options.model_copy(update=changes)


def with_datasets(rule: PackRule, datasets: Sequence[str]) -> PackRule:
    return replace(rule, options=replace_options(rule.options, datasets=tuple(datasets)))


def rules_dirs_of(settings: Settings) -> list[Path]:
    """The configured extra rule folders, resolved against the configuration file's folder."""
    base = settings.source_path.parent if settings.source_path is not None else None
    return [p if p.is_absolute() or base is None else base / p for p in settings.detect.rules_dirs]


def pack_from_settings(
    settings: Settings, *, compiler: Compiler | None = None, cache: RuleCache | None = None
) -> RulePack:
    """The rules ``sentinel serve`` runs: the shipped pack (unless disabled) plus the configured folders."""
    return load_configured_pack(
        rules_dirs_of(settings), builtin=settings.detect.builtin_rules, compiler=compiler, cache=cache
    )
