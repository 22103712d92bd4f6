"""A Sigma rule as an Elasticsearch query, via pySigma's Elasticsearch (Lucene) backend.

The backend gets Sentinel's ECS pipeline (:func:`sentinel.detect.rulebook.ecs_pipeline.sentinel_pipeline`),
so field names, Windows channel/EventID conditions and keyword handling are the ones the Python
matcher and the SQLite compiler use. The result is the backend's Lucene query string and a
query DSL body that also restricts ``event.dataset`` to the rule's datasets (the events index
is shared by every source; the dataset filter is cheap and cacheable in ES).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sigma.backends.elasticsearch import LuceneBackend
from sigma.exceptions import SigmaError

from sentinel.detect.rulebook.ecs_pipeline import sentinel_pipeline
from sentinel.detect.rulebook.sigma import SigmaRule
from sentinel.errors import RuleError


@dataclass(frozen=True, slots=True)
class ElasticQuery:
    lucene: tuple[str, ...]  # one query string per rule condition (usually one)
    dsl: dict[str, Any]  # the ``query`` part of a search body


def _backend() -> LuceneBackend:
    return LuceneBackend(processing_pipeline=sentinel_pipeline())


def compile_elastic(rule: SigmaRule, *, restrict_datasets: bool = True) -> ElasticQuery:
    """Lucene string(s) and a DSL ``query`` for one rule. ``RuleError`` if the backend refuses it."""
    backend = _backend()
    try:
        # The backend applies its pipeline to the rule in place: give it a copy.
        lucene = [str(q) for q in backend.convert_rule(copy.deepcopy(rule.raw))]
        dsl_parts = backend.convert_rule(copy.deepcopy(rule.raw), "dsl_lucene")
    except SigmaError as exc:
        raise RuleError(f"cannot compile for Elasticsearch: {exc}") from exc
    queries = [part["query"] for part in dsl_parts]
    match: dict[str, Any] = (
        queries[0] if len(queries) == 1 else {"bool": {"should": queries, "minimum_should_match": 1}}
    )
    filters: list[dict[str, Any]] = []
    if restrict_datasets and rule.datasets:
        filters.append({"terms": {"event.dataset": list(rule.datasets)}})
    filters.append(match)
    return ElasticQuery(lucene=tuple(lucene), dsl={"bool": {"filter": filters}})
