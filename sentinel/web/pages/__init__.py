"""The browser pages: one router per page family, listed in ``sentinel.web.routes``.

A page handler asks a query in ``sentinel.web.queries`` (the same one its JSON twin asks) and
renders a template of ``dashboards/templates`` with ``render``; every word comes from the language
files through ``t``. Forms post with the session's ``csrf`` field; ``deps.get_principal`` checks it.
"""
