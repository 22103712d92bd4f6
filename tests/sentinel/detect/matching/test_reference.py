"""The optimised matcher decides exactly what the plain reference interpreter decides.

``RuleIndex`` (dataset and EventID buckets, keys, the literal prefilter, compiled programs read
back from a pickle as the compiled rule cache keeps them) against ``reference_match`` (the rule's
condition walked over the raw document), for every (rule, event) pair: over the shared corpora
(the sigma-regression rules and events, the Linux rules over real syslog lines) and over events
Hypothesis generates from each rule's own fields and values (near misses, other cases, lists,
numbers, missing fields).
"""

from __future__ import annotations

import functools
import pickle
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import SigmaNumber, SigmaString, SpecialChars

from collectors.normalize import Normalizer
from collectors.records import RawRecord
from collectors.windows.event_json import events_from_json_text
from sentinel.detect.matching.compiled import compile_rule
from sentinel.detect.matching.index import RuleIndex
from sentinel.detect.matching.reference import reference_match
from sentinel.detect.rulebook.sigma import SigmaRule, load_sigma_paths
from sentinel.errors import SentinelError
from sentinel.events import Event, new_event, set_field
from sentinel.inventory import Inventory


def cached_form(rules: list[SigmaRule]) -> list[SigmaRule]:
    """The rules as the compiled rule cache gives them back: the compiled program through pickle."""
    return [replace(r, compiled=pickle.loads(pickle.dumps(compile_rule(r)))) for r in rules]  # noqa: S301


class Checked:
    """The rules as the index runs them (built once) and as the reference reads them."""

    def __init__(self, rules: list[SigmaRule]) -> None:
        self.index = RuleIndex(cached_form(rules))
        assert self.index.unsupported == []
        self.by_dataset: dict[str, list[SigmaRule]] = {}
        for rule in rules:
            for dataset in rule.datasets:
                self.by_dataset.setdefault(dataset, []).append(rule)

    def disagreements(self, events: list[Event]) -> list[tuple[str, str, bool]]:
        """(rule, event, what the reference says) wherever the index says otherwise."""
        got = {(r.id, e.id) for r, e in self.index.match(events)}
        out = []
        for event in events:
            # the reference is False for a rule of another dataset: only those of the event's are asked
            candidates = self.by_dataset.get(event.dataset, [])
            asked = {r.id for r in candidates}
            out.extend((rule_id, eid, False) for rule_id, eid in got if eid == event.id and rule_id not in asked)
            for rule in candidates:
                want = reference_match(rule, event.doc, event.dataset)
                if want != ((rule.id, event.id) in got):
                    out.append((rule.id, event.id, want))
        return out


@pytest.fixture(scope="module")
def regression_rules(shared_data: Path) -> list[SigmaRule]:
    rules, _ = load_sigma_paths([shared_data / "sigma-regression-rules"])
    return [r for r in rules if isinstance(r, SigmaRule)]


@pytest.fixture(scope="module")
def linux_rules(shared_data: Path) -> list[SigmaRule]:
    rules, _ = load_sigma_paths([shared_data / "sigma-rules-linux"])
    return [r for r in rules if isinstance(r, SigmaRule)]


@pytest.fixture(scope="module")
def all_rules(regression_rules: list[SigmaRule], linux_rules: list[SigmaRule]) -> Checked:
    return Checked(regression_rules + linux_rules)


@pytest.mark.shared_data
def test_the_index_agrees_with_the_reference_on_the_regression_corpus(
    shared_data: Path, regression_rules: list[SigmaRule]
) -> None:
    events: list[Event] = []
    for path in sorted((shared_data / "sigma-regression").rglob("*.json")):
        events.extend(e for e in events_from_json_text(path.read_text(encoding="utf-8")) if isinstance(e, Event))
    assert len(events) >= 230 and len(regression_rules) >= 200
    assert Checked(regression_rules).disagreements(events) == []


@pytest.mark.shared_data
def test_the_index_agrees_with_the_reference_on_real_linux_lines(
    shared_data: Path, linux_rules: list[SigmaRule]
) -> None:
    normalizer = Normalizer(Inventory([]))
    received = datetime(2025, 6, 1, tzinfo=UTC).timestamp()
    files = [shared_data / "loghub" / "OpenSSH_2k.log", shared_data / "loghub" / "Linux_2k.log"]
    files += sorted(p for p in (shared_data / "fail2ban-testlogs").iterdir() if p.suffix == "" and p.is_file())
    events: list[Event] = []
    for path in files:
        for n, line in enumerate(path.read_bytes().splitlines()[:600]):
            if line.strip() and not line.startswith(b"#"):
                record = RawRecord(raw=line, received_at=received, origin=f"{path.name}:{n}", transport="file")
                try:
                    events.append(normalizer.normalize(record))
                except SentinelError:
                    continue
    assert len(events) > 1500
    assert Checked(linux_rules).disagreements(events) == []


# -- generated events ---------------------------------------------------------------------------


def _items(detection: SigmaDetection) -> list[SigmaDetectionItem]:
    out: list[SigmaDetectionItem] = []
    for item in detection.detection_items:
        out.extend(_items(item) if isinstance(item, SigmaDetection) else [item])
    return out


@functools.lru_cache(maxsize=1024)
def _samples(rule: SigmaRule) -> dict[str, list[Any]]:
    """Per field the rule reads, values taken from its own detection (wildcards left to fill)."""
    assert rule.processed is not None
    out: dict[str, list[Any]] = {}
    for detection in rule.processed.detection.detections.values():
        for item in _items(detection):
            for value in item.value:
                if item.field is None:
                    continue
                if isinstance(value, SigmaString):
                    out.setdefault(item.field, []).append(list(value.s))
                elif isinstance(value, SigmaNumber):
                    out.setdefault(item.field, []).append(value.number)
    return out


_FILLER = st.sampled_from(["", "x", "C:\\Windows\\", " -enc ", "ÄÖ", "\\", ".exe", "a?b*c"])


@st.composite
def _value(draw: st.DrawFn, samples: list[Any]) -> Any:
    choice = draw(st.integers(0, 9))
    if choice == 0 or not samples:
        return draw(st.one_of(st.text(max_size=12), st.integers(-5, 5000), st.booleans(), st.none()))
    sample = draw(st.sampled_from(samples))
    if not isinstance(sample, list):
        return draw(st.sampled_from([sample, str(sample), sample + 1, f" {sample}"]))
    text = ""
    for part in sample:
        if part is SpecialChars.WILDCARD_MULTI:
            text += draw(_FILLER)
        elif part is SpecialChars.WILDCARD_SINGLE:
            text += draw(st.sampled_from(["a", "Ä", "", "ab"]))
        elif isinstance(part, str):
            text += part
    change = draw(st.integers(0, 5))
    if change == 1:
        text = text.upper()
    elif change == 2:
        text = text[:-1]
    elif change == 3:
        text = draw(_FILLER) + text
    elif change == 4:
        return [draw(st.text(max_size=4)), text]
    return text


@st.composite
def _event(draw: st.DrawFn, rules: list[SigmaRule], n: int) -> Event:
    rule = draw(st.sampled_from(rules))
    doc: dict[str, Any] = {}
    for field, samples in _samples(rule).items():
        if field.endswith(".*") or draw(st.integers(0, 6)) == 0:
            continue  # sometimes missing
        set_field(doc, field, draw(_value(samples)))
    if rule.event_ids:
        set_field(doc, "winlog.event_id", draw(st.sampled_from([*rule.event_ids, 1])))
    dataset = draw(st.sampled_from(rule.datasets))
    return new_event(event_id=f"g{n}", timestamp=datetime(2025, 1, 1, tzinfo=UTC), dataset=dataset, fields=doc)


@pytest.mark.shared_data
@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_index_agrees_with_the_reference_on_generated_events(data: st.DataObject, all_rules: Checked) -> None:
    rules = all_rules.index.rules
    events = [data.draw(_event(rules, n)) for n in range(20)]
    assert all_rules.disagreements(events) == []
