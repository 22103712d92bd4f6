"""Server-side SVG charts (bar, stacked bar, line/trend, donut) for pages and reports.

``from dashboards.charts import Look, Series, bar, donut, line``; each returns a ``Chart`` with
``.svg`` (a standalone document) and ``.data_uri()`` for ``<img>``. See ``draw`` for the
Content-Security-Policy note: show charts as images, never inline.
"""

from dashboards.charts.draw import PALETTE, SEVERITY, Chart, Look, Series, bar, donut, line

__all__ = ["PALETTE", "SEVERITY", "Chart", "Look", "Series", "bar", "donut", "line"]
