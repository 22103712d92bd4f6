"""Report layouts: the monthly security report and the national summary, HTML and PDF, en and sw.

``ReportLayout`` renders ``sentinel.reports`` figures; the words are in ``i18n/<language>.yaml``.
"""

from dashboards.reports.render import LayoutError, ReportLayout

__all__ = ["LayoutError", "ReportLayout"]
