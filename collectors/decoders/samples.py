"""Run a decoder's samples through the real normaliser, as lines arriving from an institution.

A sample passes when its line, normalised exactly as a received line would be (syslog header,
dispatch, decoder), is classified by a rule (``event.action`` set) with every field the sample
names, or, for ``decodes: false``, when no rule classifies it. The active decoder set is the one the
normaliser uses: to test decoders that are not installed, install them first (``using_decoders``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from collectors.decoders.compiled import CompiledDecoder
from collectors.decoders.dispatch import DecoderSet
from collectors.decoders.model import SampleSpec
from collectors.normalize import Normalizer
from collectors.parsers import install_decoders
from collectors.records import RawRecord
from sentinel.errors import ParseError
from sentinel.events import Event
from sentinel.inventory import Institution, Inventory

SAMPLE_PEER = "192.0.2.250"  # the sending host: owned by the samples' institution


@dataclass
class SampleResult:
    decoder: str
    index: int
    sample: SampleSpec
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        kind = "must decode" if self.sample.decodes else "must not decode"
        return f"sample {self.index + 1} ({kind}): {'; '.join(self.problems)}: {self.sample.line[:160]}"


@contextmanager
def using_decoders(decoders: DecoderSet) -> Iterator[DecoderSet]:
    """Make ``decoders`` active for the block, then put the previous set back."""
    previous = install_decoders(decoders)  # None: the shipped library, not compiled yet
    try:
        yield decoders
    finally:
        install_decoders(previous)


class SampleRunner:
    """Normalisers per time zone, reused across samples."""

    def __init__(self) -> None:
        self._normalizers: dict[str, Normalizer] = {}

    def _normalizer(self, timezone: str) -> Normalizer:
        found = self._normalizers.get(timezone)
        if found is None:
            inst = Institution(id="samples", name="Decoder samples", timezone=timezone, networks=[f"{SAMPLE_PEER}/32"])
            found = self._normalizers[timezone] = Normalizer(
                Inventory([inst]), default_timezone=timezone, observer_hostname="sentinel-samples"
            )
        return found

    def normalize(self, sample: SampleSpec, origin: str) -> Event:
        record = RawRecord(
            raw=sample.line.encode("utf-8"),
            received_at=sample.received.timestamp(),
            origin=origin,
            transport="file",
            peer=SAMPLE_PEER,
            dataset_hint=sample.dataset,
        )
        return self._normalizer(sample.timezone).normalize(record)

    def run(self, decoder: CompiledDecoder) -> list[SampleResult]:
        results = []
        for index, sample in enumerate(decoder.samples):
            result = SampleResult(decoder.id, index, sample)
            try:
                event = self.normalize(sample, f"sample:{decoder.id}:{index}")
            except ParseError as exc:
                result.problems.append(f"not normalised: {exc}")
                results.append(result)
                continue
            result.problems.extend(check(decoder, sample, event))
            results.append(result)
        return results


def _found(expected: Any, actual: Any) -> bool:
    if isinstance(actual, list) and not isinstance(expected, list):
        return expected in actual
    return bool(expected == actual)


def check(decoder: CompiledDecoder, sample: SampleSpec, event: Event) -> list[str]:
    """What in ``event`` disagrees with ``sample`` (empty when it passes)."""
    problems: list[str] = []
    action = event.get("event.action")
    if not sample.decodes:
        if action is not None:
            problems.append(f"classified as {action!r}, expected no rule to match")
        for name, expected in sample.fields.items():
            if not _found(expected, event.get(name)):
                problems.append(f"{name} is {event.get(name)!r}, expected {expected!r}")
        return problems
    if action is None:
        problems.append(f"no rule matched (dataset {event.dataset})")
        return problems
    expected_dataset = sample.fields.get("event.dataset", decoder.dataset)
    if event.dataset != expected_dataset:
        problems.append(f"decoded as {event.dataset}, expected {expected_dataset}")
    for name, expected in sample.fields.items():
        actual = event.doc.get("@timestamp") if name == "@timestamp" else event.get(name)
        if not _found(expected, actual):
            problems.append(f"{name} is {actual!r}, expected {expected!r}")
    return problems
