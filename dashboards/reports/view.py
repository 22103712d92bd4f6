"""Report figures in one language: formatted numbers and dates, labels, tables and charts.

Everything a template shows is prepared here as plain strings and ``Chart`` objects; the templates
only arrange them (and autoescape every value).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dashboards.charts import SEVERITY, Chart, Look, Series, bar, donut, line
from dashboards.reports.words import Words
from sentinel.detect.rulebook.controls import Catalogue
from sentinel.events import parse_timestamp
from sentinel.notify.view import duration_words
from sentinel.reports import formats
from sentinel.reports.figures import Count, InstitutionFigures, NationalFigures, RuleName
from sentinel.reports.period import Month

CHART_WIDTH = 640  # a full-width chart; half-width ones are drawn at HALF so their text keeps its size
HALF = 330
MAX_RANKING_BARS = 30
LAST_MONTH_COLOR = "#9aa5b1"
THIS_MONTH_COLOR = "#1d4ed8"


class Formatter:
    """Numbers, percentages and dates for one language and time zone."""

    def __init__(self, words: Words, timezone: str) -> None:
        self.words = words
        self.lang = words.language
        self.tz = ZoneInfo(timezone)

    def n(self, value: float | int) -> str:
        return formats.number(value, self.lang)

    def pct(self, ratio: float | None) -> str:
        return formats.percent(ratio, self.lang, none=self.words.t("tile.none"))

    def score(self, value: float | None) -> str:
        return self.pct(value / 100 if value is not None else None)

    def hours(self, seconds: float | None) -> str:
        return formats.hours(seconds, self.lang)

    def moment(self, iso: str | None) -> str:
        return formats.moment(parse_timestamp(iso), self.lang, self.tz) if iso else "-"

    def day(self, iso: str) -> str:
        return formats.day(parse_timestamp(iso), self.lang, self.tz)

    def change(self, now: float | None, before: float | None) -> str:
        if now is None:
            return "-"
        if before is None:
            return self.words.t("tile.change_none")
        points = round(now - before)
        if points > 0:
            return self.words.t("tile.change_up", points=self.n(points))
        if points < 0:
            return self.words.t("tile.change_down", points=self.n(-points))
        return self.words.t("tile.change_same")

    def arrow(self, now: float | None, before: float | None) -> str:
        """``▲ 5`` / ``▼ 12`` / ``=``: the change in score points since last month (blank without both)."""
        if now is None or before is None:
            return ""
        points = round(now - before)
        return f"▲ {self.n(points)}" if points > 0 else f"▼ {self.n(-points)}" if points < 0 else "="


def _rule_name(rules: Sequence[RuleName], rule_id: str | None, lang: str) -> str:
    for rule in rules:
        if rule.rule_id == rule_id:
            return rule.sw if lang == "sw" else rule.en
    return rule_id or "-"


def _control_title(catalogue: Catalogue, words: Words, control_id: str) -> str:
    own = (words.data.get("control_title") or {}).get(control_id)
    if own:
        return str(own)
    control = catalogue.get(control_id)
    return control.title_in(words.language) if control else control_id


def _look(words: Words, fmt: Formatter, height: int = 300, width: int = CHART_WIDTH, **extra: Any) -> Look:
    return Look(width=width, height=height, no_data=words.t("chart.no_data"), formatter=fmt.n, extra=extra)


def _bars(
    words: Words,
    fmt: Formatter,
    title: str,
    pairs: list[tuple[str, int]],
    color: str,
    width: int = CHART_WIDTH,
    **extra: Any,
) -> Chart:
    height = max(120, 30 * len(pairs) + 60)
    return bar(
        title,
        [label for label, _ in pairs],
        [Series(title, [v for _, v in pairs], color)],
        _look(words, fmt, height, width, show_legend=False, truncate_label=40, **extra),
        horizontal=True,
    )


def institution_view(figures: InstitutionFigures, catalogue: Catalogue) -> dict[str, Any]:
    words = Words(figures.language)
    fmt = Formatter(words, figures.timezone)
    lang = figures.language
    t, label = words.t, words.label
    month = Month.parse(figures.month)
    inc, sla, att, scans, cov, ctl = (
        figures.incidents,
        figures.sla,
        figures.attacks,
        figures.scans,
        figures.coverage,
        figures.controls,
    )
    end_local = parse_timestamp(figures.period_end) - timedelta(seconds=1)
    donut_height = 200 + 18 * max(len(inc.by_category), sum(1 for c in inc.by_severity if c.count))
    serious = sum(c.count for c in inc.by_severity if c.key in ("critical", "high"))
    severity_chart = donut(
        t("chart.severity"),
        [(label("severity", c.key), c.count, SEVERITY[c.key]) for c in inc.by_severity],
        _look(words, fmt, donut_height, HALF, legend_at_bottom=True, legend_at_bottom_columns=1),
    )
    category_chart = donut(
        t("chart.category"),
        [(label("category", c.key), c.count, None) for c in inc.by_category],
        _look(words, fmt, donut_height, HALF, legend_at_bottom=True, legend_at_bottom_columns=1),
    )
    tactic_chart = _bars(
        words, fmt, t("chart.tactic"), [(label("tactic", c.key), c.count) for c in inc.by_tactic], "#0891b2", HALF
    )
    sources_chart = _bars(
        words, fmt, t("chart.sources"), [(s.address, s.events) for s in att.top_sources], "#b00020", HALF
    )
    areas_chart = bar(
        t("chart.areas"),
        [label("area", a.area) for a in ctl.areas],
        [
            Series(t("chart.this_month"), [a.score for a in ctl.areas], THIS_MONTH_COLOR),
            Series(t("chart.last_month"), [a.previous for a in ctl.areas], LAST_MONTH_COLOR),
        ],
        _look(words, fmt, 40 * len(ctl.areas) + 90, range=(0, 100), truncate_label=40),
        horizontal=True,
    )
    actions = []
    for action in figures.actions:
        values = ", ".join(action.values)
        actions.append(t(f"action.{action.key}", count=fmt.n(action.count), values=values or "-"))
    target_words = {c.key: duration_words(lang, c.count) for c in sla.ack_targets} or dict.fromkeys(
        ("critical", "high", "medium", "low"), "-"
    )
    return {
        "lang": lang,
        "t": t,
        "title": t("title.institution"),
        "institution": figures.institution_name,
        "month": formats.month_name(month, lang),
        "period": t(
            "period",
            month=formats.month_name(month, lang),
            start=fmt.day(figures.period_start),
            end=formats.day(end_local, lang, fmt.tz),
            timezone=figures.timezone,
        ),
        "prepared": t("prepared", date=fmt.day(figures.as_of)),
        "confidential": t("confidential"),
        "tiles": [
            (t("tile.incidents"), fmt.n(inc.total), t("tile.serious", count=fmt.n(serious))),
            (
                t("tile.sla"),
                fmt.pct(sla.compliance),
                f"{label('sla_kind', 'acknowledge')} {fmt.pct(sla.acknowledge.compliance)} · "
                f"{label('sla_kind', 'resolve')} {fmt.pct(sla.resolve.compliance)}",
            ),
            (t("tile.score"), fmt.score(ctl.score), fmt.change(ctl.score, ctl.previous_score)),
            (
                t("tile.coverage"),
                t("tile.coverage_value", reporting=fmt.n(cov.reporting), expected=fmt.n(len(cov.expected)))
                if cov.expected
                else t("tile.none"),
                fmt.pct(cov.ratio) if cov.expected else "",
            ),
        ],
        "actions": actions,
        "incidents": {
            "total": inc.total,
            "severity": [(label("severity", c.key), fmt.n(c.count)) for c in inc.by_severity],
            "category": [(label("category", c.key), fmt.n(c.count)) for c in inc.by_category],
            "tactic": [(label("tactic", c.key), fmt.n(c.count)) for c in inc.by_tactic],
            "charts": {"severity": severity_chart, "category": category_chart, "tactic": tactic_chart},
        },
        "sla": {
            "rows": [
                (
                    label("sla_kind", kind),
                    fmt.n(target.met),
                    fmt.n(target.missed),
                    fmt.n(target.pending),
                    fmt.pct(target.compliance),
                )
                for kind, target in (("acknowledge", sla.acknowledge), ("resolve", sla.resolve))
            ],
            "targets": t("text.sla_targets", **target_words),
            "median": t(
                "text.sla_median",
                ack=fmt.hours(sla.median_ack_seconds),
                resolve=fmt.hours(sla.median_resolve_seconds),
            ),
            "breaches": [
                (
                    _rule_name(figures.rules, b.rule_id, lang),
                    b.about,
                    label("severity", b.severity),
                    label("sla_kind", b.kind),
                    fmt.moment(b.due_at),
                    fmt.moment(b.done_at),
                    formats.number(b.late_seconds / 3600.0, lang, digits=1),
                )
                for b in sla.breaches[:25]
            ],
            "more_breaches": max(0, len(sla.breaches) - 25),
        },
        "attacks": {
            "sources": [(s.address, fmt.n(s.alerts), fmt.n(s.events)) for s in att.top_sources],
            "accounts": [(c.key, fmt.n(c.count)) for c in att.top_accounts],
            "hosts": [(c.key, fmt.n(c.count)) for c in att.top_hosts],
            "rules": [(_rule_name(figures.rules, c.key, lang), fmt.n(c.count)) for c in att.rules[:10]],
            "chart": sources_chart if att.top_sources else None,
        },
        "scans": {
            "scanned": scans.scanned,
            "rows": [
                (
                    label("finding", now.key),
                    fmt.n(now.count),
                    fmt.n(_get(scans.previous, now.key)),
                    fmt.n(_get(scans.new, now.key)),
                    fmt.n(_get(scans.fixed, now.key)),
                )
                for now in scans.current
            ],
            "findings": [(label("finding", f.kind), f.address, str(f.port), f.detail) for f in scans.findings],
        },
        "coverage": {
            "total": t("text.events_total", events=fmt.n(cov.events)),
            "expected": [
                (
                    s.name,
                    s.dataset or "-",
                    s.host or "-",
                    fmt.n(s.events),
                    fmt.n(s.days_reporting),
                    fmt.n(s.silent_days),
                )
                for s in cov.expected
            ],
            "datasets": [(c.key, fmt.n(c.count)) for c in cov.by_dataset[:12]],
            "silence": t("text.silence_alerts", count=fmt.n(cov.silence_alerts)) if cov.silence_alerts else None,
        },
        "controls": {
            "areas": [
                (
                    label("area", a.area),
                    fmt.score(a.score),
                    fmt.score(a.previous),
                    fmt.arrow(a.score, a.previous),
                    fmt.n(a.met),
                    fmt.n(a.breached),
                    fmt.n(a.no_evidence),
                )
                for a in ctl.areas
            ],
            "list": [
                (
                    c.control_id,
                    _control_title(catalogue, words, c.control_id),
                    label("status", c.status),
                    c.status,
                    fmt.n(c.alerts) if c.alerts else "",
                )
                for c in ctl.controls
            ],
            "chart": areas_chart,
        },
    }


def _get(counts: list[Count], key: str) -> int:
    return next((c.count for c in counts if c.key == key), 0)


def national_view(figures: NationalFigures) -> dict[str, Any]:
    words = Words(figures.language)
    fmt = Formatter(words, figures.timezone)
    lang = figures.language
    t, label = words.t, words.label
    month = Month.parse(figures.month)
    months = [formats.month_short(Month.parse(p.month), lang) for p in figures.trend]
    trend_incidents = bar(
        t("chart.trend_incidents"),
        months,
        [Series(t("col.incidents"), [p.incidents for p in figures.trend], "#e8590c")],
        _look(words, fmt, 260, show_legend=False, x_label_rotation=30),
    )
    trend_score = line(
        t("chart.trend_score"),
        months,
        [
            Series(t("chart.score"), [p.score for p in figures.trend], THIS_MONTH_COLOR),
            Series(t("chart.sla"), [p.sla * 100 if p.sla is not None else None for p in figures.trend], "#0f9d58"),
        ],
        _look(words, fmt, 260, range=(0, 100), x_label_rotation=30),
    )
    scored = [r for r in figures.institutions if r.score is not None]
    shown = scored if len(scored) <= MAX_RANKING_BARS else scored[:15] + scored[-15:]
    ranking_chart = _bars(
        words, fmt, t("chart.ranking"), [(r.name, round(r.score or 0)) for r in shown], THIS_MONTH_COLOR, range=(0, 100)
    )
    serious = sum(c.count for c in figures.by_severity if c.key in ("critical", "high"))
    return {
        "lang": lang,
        "t": t,
        "title": t("title.national"),
        "institution": "",
        "month": formats.month_name(month, lang),
        "period": formats.month_name(month, lang),
        "prepared": t("prepared", date=fmt.day(figures.as_of)),
        "confidential": t("confidential_national"),
        "tiles": [
            (t("col.institutions"), fmt.n(len(figures.institutions)), ""),
            (t("tile.incidents"), fmt.n(figures.incidents), t("tile.serious", count=fmt.n(serious))),
            (t("tile.sla"), fmt.pct(figures.sla), ""),
            (t("tile.score"), fmt.score(figures.score), ""),
        ],
        "ranking": [
            (
                fmt.n(r.rank),
                r.name,
                fmt.score(r.score),
                fmt.arrow(r.score, r.previous_score),
                fmt.n(r.incidents),
                fmt.n(r.serious),
                fmt.pct(r.sla),
                fmt.pct(r.coverage),
            )
            for r in figures.institutions
        ],
        "ranking_chart": ranking_chart,
        "trend": [
            (
                formats.month_name(Month.parse(p.month), lang),
                fmt.n(p.incidents),
                fmt.score(p.score) if p.reports else t("text.no_trend"),
                fmt.pct(p.sla) if p.reports else t("text.no_trend"),
                fmt.n(p.reports),
            )
            for p in figures.trend
        ],
        "trend_charts": [trend_incidents, trend_score],
        "rules": [
            (_rule_name(figures.rule_names, s.key, lang), fmt.n(s.institutions), fmt.n(s.alerts)) for s in figures.rules
        ],
        "techniques": [(s.key, fmt.n(s.institutions), fmt.n(s.alerts)) for s in figures.techniques],
        "severity": [(label("severity", c.key), fmt.n(c.count)) for c in figures.by_severity],
    }
