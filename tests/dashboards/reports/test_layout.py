"""The report layout: the same words in both languages, hostile values inert, nothing fetched."""

from __future__ import annotations

import functools
import logging
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dashboards.reports import ReportLayout
from dashboards.reports.render import css_string
from dashboards.reports.words import Words, strings
from sentinel.detect.rulebook.controls import load_controls
from sentinel.detect.rulebook.pack import RulePack, builtin_rules_dir, load_rule_pack
from sentinel.notify.responses import tactics_of
from sentinel.reports.controls import Evidence, control_figures
from sentinel.reports.figures import (
    AttackFigures,
    Count,
    CoverageFigures,
    IncidentFigures,
    InstitutionFigures,
    ScanFigures,
    SlaFigures,
    Source,
    SourceCoverage,
)
from sentinel.reports.rules import ReportRules

HOSTILE = '</style><script>alert(1)</script>{{ 7*7 }}"\\'


def _keys(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, dict):
        out: set[str] = set()
        for key, value in node.items():
            out |= _keys(value, f"{prefix}{key}.")
        return out
    return {prefix.rstrip(".")}


def test_swahili_has_exactly_the_english_keys() -> None:
    en, sw = dict(strings("en")), dict(strings("sw"))
    en.pop("control_title"), sw.pop("control_title")
    assert _keys(sw) == _keys(en)


@pytest.mark.parametrize("language", ["en", "sw"])
def test_every_label_the_figures_can_hold_has_words(language: str) -> None:
    words = Words(language)
    tactics = {t for r in _pack().rules for t in tactics_of(r.tags)}
    assert tactics <= set(words.data["tactic"])
    assert {c.id.split("-")[0] for c in load_controls().controls} <= set(words.data["area"])
    if language == "sw":  # a Swahili title for every control whose catalogue title still awaits one
        waiting = {c.id for c in load_controls().controls if c.sw_review}
        assert waiting <= set(words.data["control_title"])


@functools.cache
def _pack() -> RulePack:
    return load_rule_pack([builtin_rules_dir()], builtin=True)


@functools.cache
def _rules() -> ReportRules:
    return ReportRules.from_rules(_pack().rules)


def hostile_figures(language: str) -> InstitutionFigures:
    rules = _rules()
    nothing = Evidence(Counter(), frozenset(), False, SlaFigures())
    return InstitutionFigures(
        institution_id="x",
        institution_name=f"Ministry {HOSTILE}",
        language=language,  # type: ignore[arg-type]
        timezone="Africa/Dar_es_Salaam",
        month="2026-11",
        period_start="2026-10-31T21:00:00.000Z",
        period_end="2026-11-30T21:00:00.000Z",
        as_of="2026-12-01T03:00:00.000Z",
        incidents=IncidentFigures(
            total=1, by_severity=[Count(key="high", count=1)], by_category=[Count(key="other", count=1)]
        ),
        sla=SlaFigures(),
        attacks=AttackFigures(
            top_sources=[Source(address="203.0.113.9", alerts=1, events=12)], top_accounts=[Count(key=HOSTILE, count=1)]
        ),
        scans=ScanFigures(),
        coverage=CoverageFigures(
            expected=[SourceCoverage(name=HOSTILE, dataset=None, host=None, events=0, days_reporting=0, silent_days=30)]
        ),
        controls=control_figures(load_controls(), rules, nothing, nothing),
        actions=[],
        rules=[],
    )


@pytest.mark.parametrize("language", ["en", "sw"])
def test_hostile_values_stay_text_in_html_and_pdf(language: str, tmp_path: Path) -> None:
    layout = ReportLayout()
    html = layout.html(hostile_figures(language))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("</style>") == 1  # the name cannot close the stylesheet, even in the page footer
    assert "{{ 7*7 }}" in html and "49" not in html.split("<body>")[1].split("Ministry")[1][:80]
    if language == "sw":
        return  # one PDF is enough to show the text printed as text
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(layout.pdf(html))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "<script>alert(1)</script>{{ 7*7 }}" in " ".join(text.split())


def test_css_strings_cannot_escape() -> None:
    assert css_string('a"b\\c</style>') == '"a\\"b\\\\c\\3c /style>"'


def test_the_pdf_loads_nothing_from_outside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not an image")
    extra = f'<img src="file://{secret}"><img src="http://127.0.0.1:9/x.png"></body>'
    html = "<html><body><p>x</p>" + extra + "</html>"
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        assert ReportLayout().pdf(html).startswith(b"%PDF")  # rendered without them, no error
    refused = [r.getMessage() for r in caplog.records if "disallowed protocol" in r.getMessage()]
    assert len(refused) == 2, [r.getMessage() for r in caplog.records]
