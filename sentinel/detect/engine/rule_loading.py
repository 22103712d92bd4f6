"""Rules loaded to be run: compiled for the matcher as they load, through the compiled rule cache.

The one way ``serve``, ``detect`` and the ``rules`` commands load the configured rules: each Sigma
rule carries its compiled form (``matching.compiled``), a rule the matcher cannot run is refused
with the reason as it loads, and unchanged rule files come from the cache in the data folder
(``rulebook.cache``) instead of being parsed and compiled again.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sentinel.config import Settings
from sentinel.detect.matching.compiled import compile_rule
from sentinel.detect.rulebook.cache import RuleCache
from sentinel.detect.rulebook.pack import RulePack, load_rule_pack, pack_from_settings


def rule_cache(settings: Settings) -> RuleCache | None:
    """The compiled rule cache of this configuration (``<data_dir>/cache/rules``), unless turned off."""
    if not settings.detect.rule_cache:
        return None
    return RuleCache(settings.resolved_data_dir() / "cache" / "rules")


def load_rules(settings: Settings) -> RulePack:
    """The configured rules (shipped pack and rule folders), compiled, from the cache where unchanged."""
    return pack_from_settings(settings, compiler=compile_rule, cache=rule_cache(settings))


def load_rule_paths(paths: Iterable[Path], cache: RuleCache | None = None) -> RulePack:
    """Rules under some files/folders, compiled (``rules validate``, ``rules test PATH``, ``rules import``)."""
    return load_rule_pack(paths, compiler=compile_rule, cache=cache)
