"""The ``response:`` section of each rule: what an institution reads about it, in English and Swahili.

Every shipped rule file carries, beside its Sigma (or typed) definition, a top-level section::

    response:
      category: login_attack          # one of CATEGORIES: groups incidents in reports
      en:
        name: SSH password guessing from one address
        description: Plain words for the ICT officer: what happened and why it matters.
        steps:                        # the rule's own advice, in order
          - Block {addresses} at the perimeter firewall.
        account_steps:                # only shown for accounts that exist (never for guessed names)
          - Change the password of {accounts} and check what was done with them.
      sw:
        name: ...                     # the same keys, translated (lines not from the glossary: "# REVIEW")

Placeholders are the incident's own values: ``{addresses}``, ``{hosts}``, ``{accounts}`` (the last one
only in ``account_steps``). The section is read through the loaded rule's custom attributes (unknown
top-level Sigma keys), or from the rule's file when the loader does not keep them, and validated here:
a broken section is reported with the rule's file and the notice falls back to the generic advice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sentinel.errors import Location, RuleError

log = logging.getLogger(__name__)

Category = Literal[
    "login_attack",
    "account_misuse",
    "privilege_change",
    "persistence",
    "log_tampering",
    "logging_gap",
    "exposure",
    "weak_crypto",
    "outdated_software",
    "web_attack",
    "reconnaissance",
    "network_attack",
    "policy",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
PLACEHOLDERS = frozenset({"addresses", "hosts", "accounts"})
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseText(_Strict):
    """One language's words for one rule."""

    name: str = Field(min_length=3, max_length=120)
    description: str = Field(min_length=20, max_length=1200)
    steps: list[str] = Field(min_length=1, max_length=8)
    account_steps: list[str] = Field(default=[], max_length=4)

    @field_validator("name", "description")
    @classmethod
    def _no_placeholders(cls, value: str) -> str:
        if placeholders(value):
            raise ValueError("the name and description take no {placeholders}")
        return " ".join(value.split())

    @field_validator("steps")
    @classmethod
    def _steps(cls, values: list[str]) -> list[str]:
        for value in values:
            unknown = placeholders(value) - (PLACEHOLDERS - {"accounts"})
            if unknown:
                raise ValueError(f"unknown placeholder(s) {sorted(unknown)} in a step (use addresses, hosts)")
        return [" ".join(v.split()) for v in values]

    @field_validator("account_steps")
    @classmethod
    def _account_steps(cls, values: list[str]) -> list[str]:
        for value in values:
            unknown = placeholders(value) - PLACEHOLDERS
            if unknown:
                raise ValueError(f"unknown placeholder(s) {sorted(unknown)} in an account step")
        return [" ".join(v.split()) for v in values]


class RuleResponse(_Strict):
    category: Category
    en: ResponseText
    sw: ResponseText

    @model_validator(mode="after")
    def _same_shape(self) -> RuleResponse:
        for part in ("steps", "account_steps"):
            en, sw = getattr(self.en, part), getattr(self.sw, part)
            if len(en) != len(sw):
                raise ValueError(f"en has {len(en)} {part}, sw has {len(sw)}: translate each one")
            for i, (a, b) in enumerate(zip(en, sw, strict=True)):
                if placeholders(a) != placeholders(b):
                    raise ValueError(f"{part}[{i}]: en and sw use different placeholders")
        return self

    def text(self, language: str) -> ResponseText:
        return self.sw if language == "sw" else self.en


@dataclass(frozen=True)
class RuleText:
    """What notices and reports say about one rule: its response plus the rule's ATT&CK/control tags."""

    rule_id: str
    title: str  # the rule's own title (English), used only where no response exists
    response: RuleResponse | None
    tactics: tuple[str, ...] = ()  # attack.credential_access -> credential_access
    techniques: tuple[str, ...] = ()  # attack.t1110.001 -> T1110.001
    controls: tuple[str, ...] = ()

    def name(self, language: str) -> str:
        return self.response.text(language).name if self.response else self.title

    @property
    def category(self) -> str | None:
        return self.response.category if self.response else None


@dataclass
class RuleTexts:
    """Rule id → ``RuleText`` for every loaded rule, plus the errors of broken response sections."""

    by_id: dict[str, RuleText] = field(default_factory=dict)
    errors: list[RuleError] = field(default_factory=list)

    def get(self, rule_id: str) -> RuleText | None:
        return self.by_id.get(rule_id)

    def name(self, rule_id: str, language: str) -> str:
        text = self.by_id.get(rule_id)
        return text.name(language) if text else rule_id

    @classmethod
    def from_rules(cls, rules: Iterable[Any]) -> RuleTexts:
        """From loaded rules (``PackRule``-like: id, title, tags, path, definition)."""
        out = cls()
        file_cache: dict[Path, dict[str, Any]] = {}
        for rule in rules:
            response: RuleResponse | None = None
            try:
                raw = raw_response(rule, file_cache)
                if raw is not None:
                    response = parse_response(raw, getattr(rule, "path", None))
            except RuleError as exc:
                out.errors.append(exc)
                log.error("rule %s: response section not used: %s", rule.id, exc)
            tags = tuple(str(t) for t in getattr(rule, "tags", ()))
            out.by_id[str(rule.id)] = RuleText(
                rule_id=str(rule.id),
                title=str(rule.title),
                response=response,
                tactics=tactics_of(tags),
                techniques=techniques_of(tags),
                controls=tuple(getattr(rule, "controls", ()) or ()),
            )
        return out


def tactics_of(tags: Iterable[str]) -> tuple[str, ...]:
    """ATT&CK tactics from ``attack.<tactic>`` tags (technique tags ``attack.t1110`` are not tactics)."""
    out = []
    for tag in tags:
        low = tag.lower()
        if low.startswith("attack.") and not re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", low):
            out.append(low[len("attack.") :])
    return tuple(dict.fromkeys(out))


def techniques_of(tags: Iterable[str]) -> tuple[str, ...]:
    out = []
    for tag in tags:
        m = re.fullmatch(r"attack\.(t\d{4}(?:\.\d{3})?)", tag.lower())
        if m:
            out.append(m.group(1).upper())
    return tuple(dict.fromkeys(out))


def raw_response(rule: Any, file_cache: dict[Path, dict[str, Any]] | None = None) -> Any:
    """The rule's ``response`` section as written, or None when it has none.

    The loaded rule's custom attributes (unknown top-level keys) come first; a loader that does not
    keep them (typed rules) is read through the rule's own file, the document with the rule's id.
    """
    for holder in (rule, getattr(rule, "definition", None)):
        custom = getattr(holder, "custom", None)
        if isinstance(custom, Mapping) and "response" in custom:
            return custom["response"]
    path = getattr(rule, "path", None)
    if path is None:
        return None
    cache = file_cache if file_cache is not None else {}
    if path not in cache:
        cache[path] = _responses_in_file(Path(path))
    return cache[path].get(str(rule.id))


def _responses_in_file(path: Path) -> dict[str, Any]:
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleError(f"cannot read the rule file for its response section: {exc}", Location(str(path))) from exc
    return {str(d.get("id")): d["response"] for d in docs if "response" in d}


def parse_response(raw: Any, path: Path | str | None = None) -> RuleResponse:
    where = Location(str(path) if path is not None else "<rule>", None, "response")
    if not isinstance(raw, Mapping):
        raise RuleError("'response' must be a mapping with category, en and sw", where)
    try:
        return RuleResponse.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in ("response", *err.get("loc", ())))
        msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid value")
        raise RuleError(msg, Location(where.path, None, key)) from exc


__all__ = [
    "CATEGORIES",
    "PLACEHOLDERS",
    "ResponseText",
    "RuleResponse",
    "RuleText",
    "RuleTexts",
    "parse_response",
    "raw_response",
    "tactics_of",
    "techniques_of",
]
