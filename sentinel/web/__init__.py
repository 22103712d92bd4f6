"""The HTTP layer: the JSON API under ``/api/v1`` and the browser pages, in one package.

Layout (one job per module)::

    app.py        build_app(services): middleware, error handlers, the route table
    routes.py     THE route table (API, SERVICE, PAGES), body limits, route_table(), full_description()
    services.py   WebServices: everything built once by the composition root (sentinel.app)
    deps.py       ServicesDep, CurrentPrincipal (bearer token or session + CSRF)
    errors.py     one mapping of errors to answers: JSON under /api, a page elsewhere
    render.py     render(request, template, context): sandboxed templates with t/date/number/csrf
    i18n.py       page words (dashboards/i18n/{en,sw}.yaml), Babel dates and numbers
    queries/      one function per question, shared by the JSON route and its page
    api/          JSON routers, one per resource
    pages/        page routers, one per page family
    security/     headers, streaming body limit, sign-in throttle

Adding a page with its JSON twin (the alert queue, say):

1. ``queries/alerts.py``: a pydantic parameter model (``extra="forbid"``, bounds on every field)
   and a function ``(services, principal, params) -> result`` that reads through
   ``principal.scope``.
2. ``api/alerts.py``: ``@router.get("")`` taking ``Annotated[Params, Query()]``, returning the
   result as a response model.
3. ``pages/alerts.py``: the same parameters, ``render(request, "alerts.html", {...})``; forms post
   a ``csrf`` field (``{{ csrf }}``); every word in the template is ``{{ t("alerts.<key>") }}`` with the
   key in both ``dashboards/i18n`` files (``tests/sentinel/web/test_i18n.py`` fails otherwise).
4. Add the routers to ``routes.API`` / ``routes.PAGES``. The tenancy sweep and the authentication
   test walk them from there, with no change to those tests.

Raise ``SentinelError`` subclasses (or ``ValueError`` for a bad parameter) and let ``errors`` answer;
never build a service inside a handler: add it to ``WebServices`` and build it in ``sentinel.app``.
"""
