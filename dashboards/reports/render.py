"""The report layout: figures → HTML (sandboxed, autoescaped Jinja2) → PDF (WeasyPrint).

``ReportLayout`` is what the core's ``ReportPublisher`` is given as its renderer by the composition
root. The HTML is one self-contained file (styles inside, charts as ``data:`` images, no script and
nothing fetched), so it can be saved, mailed or printed as it is; WeasyPrint is told not to fetch
anything either.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from dashboards.reports.view import institution_view, national_view
from dashboards.reports.words import Words
from sentinel.detect.rulebook.controls import Catalogue, load_controls
from sentinel.errors import SentinelError
from sentinel.reports.figures import InstitutionFigures, NationalFigures

_PAGE_PLACEHOLDER = re.compile(r"\{(page|pages)\}")


class LayoutError(SentinelError):
    """A report could not be laid out or printed."""


def css_string(text: str) -> str:
    """``text`` as a CSS string literal that cannot end the string or the ``<style>`` element."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ").replace("<", "\\3c ")
    return f'"{escaped}"'


def page_css(words: Words, left: str) -> str:
    """Running footer: who and when on the left, "Page 2 of 5" (in the language) on the right."""
    parts = []
    pos = 0
    template = words.t("page", page="{page}", pages="{pages}")
    for match in _PAGE_PLACEHOLDER.finditer(template):
        if match.start() > pos:
            parts.append(css_string(template[pos : match.start()]))
        parts.append(f"counter({match.group(1)})")
        pos = match.end()
    if pos < len(template):
        parts.append(css_string(template[pos:]))
    return (
        "@page { @bottom-left { content: " + css_string(left) + "; font: 7.5pt 'DejaVu Sans', Arial, sans-serif;"
        " color: #52606d; } @bottom-right { content: " + " ".join(parts) + "; font: 7.5pt 'DejaVu Sans', Arial,"
        " sans-serif; color: #52606d; } }"
    )


class ReportLayout:
    def __init__(self, catalogue: Catalogue | None = None, template_dir: str | None = None) -> None:
        folder = template_dir or str(resources.files("dashboards.reports").joinpath("templates"))
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(folder), autoescape=True, undefined=StrictUndefined, trim_blocks=True
        )
        self.catalogue = catalogue or load_controls()
        self.css = resources.files("dashboards.reports").joinpath("report.css").read_text(encoding="utf-8")

    def context(self, figures: InstitutionFigures | NationalFigures) -> tuple[str, dict[str, Any]]:
        if isinstance(figures, InstitutionFigures):
            return "institution.html.j2", institution_view(figures, self.catalogue)
        return "national.html.j2", national_view(figures)

    def html(self, figures: InstitutionFigures | NationalFigures) -> str:
        template, context = self.context(figures)
        words = Words(figures.language)
        left = f"{context['institution']} · {context['month']}" if context["institution"] else context["title"]
        css = self.css + "\n" + page_css(words, f"{left} · {context['title']}" if context["institution"] else left)
        if "</" in css:
            raise LayoutError("the report stylesheet may not contain '</'")
        try:
            return self.env.get_template(template).render({**context, "css": Markup(css)})  # noqa: S704 (checked above)
        except SentinelError:
            raise
        except Exception as exc:  # jinja2 errors of every kind: name the template
            raise LayoutError(f"report template {template} failed: {exc}") from exc

    def pdf(self, html: str) -> bytes:
        # The page's own data: images only; nothing is fetched from files or the network.
        data = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=("data",))).write_pdf()
        if not data:
            raise LayoutError("WeasyPrint produced no PDF")
        return bytes(data)
