"""The shared SVG charts: self-contained, deterministic, and drawn in colour by WeasyPrint (PDF) and by
a real headless Chromium under a strict Content-Security-Policy, with no CSP violation reported."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from weasyprint import HTML

from dashboards.charts import SEVERITY, Chart, Look, Series, bar, donut, line

RED = SEVERITY["critical"]  # #b00020
BLUE = "#1d4ed8"
STRICT_CSP = "default-src 'none'; img-src data:; style-src 'self'; script-src 'none'"


def charts() -> list[Chart]:
    months = ["Jan", "Feb", "Mar", "Apr"]
    return [
        bar("Incidents by severity", months, [Series("Critical", [3, 0, 2, 5], RED), Series("Low", [1, 2, None, 1])]),
        bar("Stacked", months, [Series("Critical", [3, 0, 2, 5], RED), Series("Low", [1, 2, 2, 1])], stacked=True),
        bar("Top sources", ["203.0.113.9", "198.51.100.7"], [Series("Alerts", [7, 3], RED)], horizontal=True),
        line("Score", months, [Series("Score", [50, None, 70, 80], RED)]),
        donut("Categories", [("Login attacks", 5, RED), ("Exposure", 2, BLUE), ("Nothing", 0, None)]),
    ]


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _has_color(png: Path, color: str, tolerance: int = 40) -> bool:
    """Some pixels close to ``color`` (charts draw with opacity .9 over white: allow a margin)."""
    target = _rgb(color)
    image = Image.open(png).convert("RGB")
    image.thumbnail((400, 4000))
    data = image.tobytes()
    pixels = (data[i : i + 3] for i in range(0, len(data), 3))
    close = sum(1 for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, target, strict=True)))
    return close >= 20


def _page(chart_list: list[Chart]) -> str:
    images = "\n".join(
        f'<p>{c.title}</p><img src="{c.data_uri()}" width="{c.width}" height="{c.height}" alt="{c.title}">'
        for c in chart_list
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{STRICT_CSP}"></head><body>{images}</body></html>'
    )


def test_charts_are_self_contained_and_deterministic() -> None:
    first, again = charts(), charts()
    for a, b in zip(first, again, strict=True):
        assert a.svg == b.svg  # same data, same bytes: no random id, no date
        assert a.svg.startswith("<svg") and "<script" not in a.svg and "<!--" not in a.svg
        urls = set(re.findall(r"https?://[^\"'\s)<]+", a.svg))
        assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
        assert not re.search(r"(?:href|src)\s*=", a.svg)  # nothing fetched from anywhere
    ids = [re.search(r'id="(chart-[0-9a-f]+)"', c.svg).group(1) for c in first]  # type: ignore[union-attr]
    assert len(set(ids)) == len(ids)  # charts on one page never share their style scope


def test_empty_chart_says_no_data_in_the_given_words() -> None:
    chart = bar("Nothing", ["a"], [Series("x", [None])], Look(no_data="Hakuna data"))
    assert "Hakuna data" in chart.svg


def test_weasyprint_draws_the_charts_in_colour(tmp_path: Path) -> None:
    pdf = tmp_path / "charts.pdf"
    HTML(string=_page(charts())).write_pdf(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages and any(_has_color(p, RED) for p in pages) and any(_has_color(p, BLUE) for p in pages)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is installed by `make system-deps`")
def test_chromium_draws_the_charts_under_a_strict_csp(tmp_path: Path) -> None:
    page = tmp_path / "charts.html"
    page.write_text(_page(charts()[:2] + charts()[4:]), encoding="utf-8")
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=700,1000",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), result.stderr[-2000:]
    assert "Content Security Policy" not in result.stderr and "Refused" not in result.stderr
    assert _has_color(shot, RED) and _has_color(shot, BLUE)
