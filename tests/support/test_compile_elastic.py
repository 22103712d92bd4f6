"""Rules compiled for Elasticsearch through pySigma's Lucene backend and Sentinel's ECS pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.detect.rulebook.sigma import SigmaRule, load_sigma_paths, load_sigma_text
from tests.support.compile_elastic import compile_elastic


def _rule(text: str) -> SigmaRule:
    (rule,), errors = load_sigma_text(text)
    assert not errors and isinstance(rule, SigmaRule)
    return rule


SYSMON = """
title: cmd from Word
id: 7c3b1d38-9c7f-4d8b-9bb7-5b2f2c1f0a11
logsource: {product: windows, category: process_creation}
detection:
    selection:
        ParentImage|endswith: '\\winword.exe'
        Image|endswith:
            - '\\cmd.exe'
            - '\\powershell.exe'
    condition: selection
"""


def test_windows_rule_query_uses_winlog_fields_channel_and_event_id() -> None:
    query = compile_elastic(_rule(SYSMON))
    lucene = (
        "(winlog.channel:Microsoft\\-Windows\\-Sysmon\\/Operational AND winlog.event_id:1) AND "
        "(winlog.event_data.ParentImage:*\\\\winword.exe AND "
        "(winlog.event_data.Image:(*\\\\cmd.exe OR *\\\\powershell.exe)))"
    )
    assert query.lucene == (lucene,)
    assert query.dsl == {
        "bool": {
            "filter": [
                {"terms": {"event.dataset": ["windows.sysmon_operational"]}},
                {"bool": {"must": [{"query_string": {"query": lucene, "analyze_wildcard": True}}]}},
            ]
        }
    }


def test_keyword_rule_searches_message_and_event_original() -> None:
    query = compile_elastic(
        _rule(
            """
title: kw
id: 00000000-0000-0000-0000-000000000001
logsource: {product: linux, service: syslog}
detection:
    keywords:
        - 'segfault at'
        - 'oom-killer'
    condition: keywords
"""
        ),
        restrict_datasets=False,
    )
    assert query.lucene == (
        "(message:(*segfault\\ at* OR *oom\\-killer*)) OR (event.original:(*segfault\\ at* OR *oom\\-killer*))",
    )
    assert len(query.dsl["bool"]["filter"]) == 1


def test_linux_process_rule_uses_ecs_process_fields() -> None:
    query = compile_elastic(
        _rule(
            """
title: nc reverse shell
id: 00000000-0000-0000-0000-000000000002
logsource: {product: linux, category: process_creation}
detection:
    sel:
        Image|endswith: '/nc'
        CommandLine|contains: ' -e '
    condition: sel
"""
        )
    )
    assert query.lucene == ("process.executable:*\\/nc AND process.command_line:*\\ \\-e\\ *",)
    assert query.dsl["bool"]["filter"][0] == {"terms": {"event.dataset": ["linux.process"]}}


def test_compiling_does_not_change_the_loaded_rule() -> None:
    rule = _rule(SYSMON)
    first = compile_elastic(rule)
    assert compile_elastic(rule) == first
    assert [item.field for item in rule.raw.detection.detections["selection"].detection_items] == [  # type: ignore[union-attr]
        "ParentImage",
        "Image",
    ]


@pytest.mark.shared_data
def test_every_linux_corpus_rule_compiles_for_elasticsearch(shared_data: Path) -> None:
    rules, errors = load_sigma_paths([shared_data / "sigma-rules-linux"])
    assert errors == []
    compiled = [compile_elastic(r) for r in rules if isinstance(r, SigmaRule)]
    assert len(compiled) == 210
    assert all(q.lucene and all(q.lucene) for q in compiled)
