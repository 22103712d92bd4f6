"""Server-side SVG charts drawn with pygal, safe to show anywhere Sentinel's pages and reports go.

Every chart is a standalone SVG document with no script and no external reference: pygal's own
tooltip script (a CDN URL by default) is turned off, and the inline config script and comments it
writes anyway are removed. Its colours live in a ``<style>`` inside the SVG, so:

- in a PDF (WeasyPrint) the chart can be inline or an ``<img>``;
- in a browser page under a strict Content-Security-Policy (no ``'unsafe-inline'``), show it as
  an image: ``<img src="{{ chart.data_uri() }}">`` (needs ``img-src data:``) or serve ``chart.svg``
  as ``image/svg+xml`` from a URL (``img-src 'self'``). An SVG image runs no script and loads
  nothing, and the page's CSP does not apply to its own styles. Inline ``<svg>`` would need
  ``style-src 'unsafe-inline'``: do not inline.

Charts are deterministic (same data, same bytes): the id pygal makes random is derived from the
chart's content, so two different charts on one page never share it.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pygal
from pygal.style import Style

# pygal installs an import hook (for its optional map plugins) that has no find_spec(): from then on
# every import that fails elsewhere (optional dependencies probing) warns, an error under our tests.
# No plugin is used here: take the hook out again.
sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__module__ != "pygal"]

FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"  # DejaVu is installed by `make system-deps`
PALETTE = ("#1d4ed8", "#e8590c", "#0f9d58", "#b00020", "#7c3aed", "#f2c744", "#0891b2", "#8a94a6")
SEVERITY = {"critical": "#b00020", "high": "#e8590c", "medium": "#f2c744", "low": "#2f80ed"}

Formatter = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One named row of values (None: no value at that label, e.g. a month without a report)."""

    name: str
    values: Sequence[float | None]
    color: str | None = None


@dataclass(frozen=True)
class Chart:
    """A drawn chart: the SVG document and the words that stand for it (``alt`` text)."""

    svg: str
    title: str
    width: int
    height: int

    def data_uri(self) -> str:
        """For ``<img src=...>``: works under a CSP with ``img-src data:`` and in WeasyPrint."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class Look:
    """Size and words around a chart. ``no_data`` is shown when every value is empty (translate it)."""

    width: int = 640
    height: int = 300
    no_data: str = "No data"
    formatter: Formatter | None = None  # numbers as the language writes them
    legend: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _style(colors: Sequence[str]) -> Style:
    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#1f2933",
        foreground_strong="#1f2933",
        foreground_subtle="#52606d",
        font_family=FONT,
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
        value_font_size=10,
        title_font_size=14,
        no_data_font_size=18,
        opacity=".9",
        opacity_hover=".9",
        guide_stroke_color="#d9e2ec",
        major_guide_stroke_color="#c3cfdd",
        guide_stroke_dasharray="1,0",
        major_guide_stroke_dasharray="1,0",
        colors=tuple(colors) or PALETTE,
    )


def _strip(root: Any) -> Any:
    """Remove every script and comment pygal writes (an XML filter, run before serialising)."""
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag if isinstance(child.tag, str) else ""
            if callable(child.tag) or tag == "script" or tag.endswith("}script"):  # comments' tag is a function
                parent.remove(child)
    return root


def _draw(chart: Any, kind: str, title: str, labels: Sequence[str], series: Sequence[Series], look: Look) -> Chart:
    identity = repr((kind, title, list(labels), [(s.name, list(s.values), s.color) for s in series], look.width))
    chart.uuid = hashlib.blake2b(identity.encode(), digest_size=8).hexdigest()
    chart.title = None  # the report puts the title in the page, where it can wrap and be read out
    chart.add_xml_filter(_strip)
    svg = chart.render(is_unicode=True)
    return Chart(svg=svg, title=title, width=look.width, height=look.height)


def _config(look: Look, colors: Sequence[str], **more: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "style": _style(colors),
        "width": look.width,
        "height": look.height,
        "js": [],  # no tooltip script from a CDN
        "disable_xml_declaration": True,
        "show_legend": look.legend,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 4,
        "no_data_text": look.no_data,
        "margin": 20,  # less clips pygal's bottom legend
        "spacing": 8,
        "truncate_legend": 60,
        "truncate_label": 24,
        "print_values": False,
        **more,
        **look.extra,
    }
    if look.formatter is not None:
        config["value_formatter"] = look.formatter
    return config


def _colors(series: Sequence[Series]) -> list[str]:
    return [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]


def _ticks(series: Sequence[Series], look: Look) -> dict[str, Any]:
    """Whole-number axis labels when every value is whole (counts: no 0.4 incidents), 0-100 for a range."""
    if "range" in look.extra:
        low, high = look.extra["range"]
        return {"y_labels": list(range(int(low), int(high) + 1, max(1, int(high - low) // 5)))}
    values = [v for s in series for v in s.values if v is not None]
    if not values or any(float(v) != int(v) for v in values):
        return {}
    top = max(1, int(max(values)))
    step = _nice_step(top / 5)
    return {"y_labels": list(range(0, top + step, step))}


def _nice_step(raw: float) -> int:
    """The step of about five ticks a reader expects: 1, 2, 5, 10, 20, 50, ..."""
    magnitude = 1
    while magnitude * 10 <= raw:
        magnitude *= 10
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    return 10 * magnitude


def bar(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    look: Look = Look(),
    *,
    stacked: bool = False,
    horizontal: bool = False,
) -> Chart:
    """Bars per label, one colour per series; ``stacked`` piles the series, ``horizontal`` for long labels."""
    kinds = {
        (False, False): pygal.Bar,
        (True, False): pygal.StackedBar,
        (False, True): pygal.HorizontalBar,
        (True, True): pygal.HorizontalStackedBar,
    }
    cls = kinds[(stacked, horizontal)]
    if stacked:
        totals = [sum(v or 0 for v in column) for column in zip(*(s.values for s in series), strict=True)]
        ticks = _ticks([Series("total", totals)], look)
    else:
        ticks = _ticks(series, look)
    chart = cls(**_config(look, _colors(series), x_labels=list(labels), **ticks))
    if horizontal:
        chart.x_labels = list(reversed(labels))  # first label on top
    for s in series:
        values = list(reversed(s.values)) if horizontal else list(s.values)
        chart.add(s.name, values)
    return _draw(chart, "bar", title, labels, series, look)


def line(title: str, labels: Sequence[str], series: Sequence[Series], look: Look = Look()) -> Chart:
    """A trend: one line per series over the labels (months); gaps where a value is None."""
    chart = pygal.Line(
        **_config(
            look,
            _colors(series),
            **_ticks(series, look),
            x_labels=list(labels),
            allow_interruptions=True,
            dots_size=3,
            stroke_style={"width": 2},
            x_label_rotation=0,
        )
    )
    for s in series:
        chart.add(s.name, list(s.values))
    return _draw(chart, "line", title, labels, series, look)


def donut(title: str, slices: Sequence[tuple[str, float, str | None]], look: Look = Look()) -> Chart:
    """Shares of a whole: (name, value, colour or None) per slice; empty slices are left out."""
    # colours follow the slice's place in the list, so a slice keeps its colour when another is empty
    colored = [(name, value, color or PALETTE[i % len(PALETTE)]) for i, (name, value, color) in enumerate(slices)]
    series = [Series(name, [value], color) for name, value, color in colored if value]
    chart = pygal.Pie(**_config(look, _colors(series), inner_radius=0.55, legend_at_bottom=False))
    for s in series:
        chart.add(s.name, list(s.values))
    return _draw(chart, "donut", title, [s.name for s in series], series, look)
