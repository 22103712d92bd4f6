"""``create_app``: the one place the web service is put together (composition root).

Everything the app uses is built by the caller or here, once, before the first request: ``serve``
passes what it already built (the response with its playbooks and ack signer, the collectors'
normaliser and live counters); tests pass a real store on a temporary file and get the rest built
the same way. Request handlers build nothing (``sentinel.web.services``).
"""

from __future__ import annotations

from fastapi import FastAPI

from collectors.normalize import Normalizer
from playbooks.wiring import Response, build_response
from sentinel.collection_health import CollectionHealth
from sentinel.config import Settings
from sentinel.inventory import Inventory
from sentinel.sessions import SessionStore
from sentinel.store.base import Store
from sentinel.web.app import build_app
from sentinel.web.i18n import PageText
from sentinel.web.security.throttle import SignInThrottle
from sentinel.web.services import CollectorHealth, WebServices


def build_web_services(
    settings: Settings,
    *,
    store: Store,
    inventory: Inventory,
    response: Response | None = None,
    normalizer: Normalizer | None = None,
    collector_health: CollectorHealth | None = None,
    collection_health: CollectionHealth | None = None,
) -> WebServices:
    response = response or build_response(settings, store, inventory)
    return WebServices(
        settings=settings,
        store=store,
        inventory=inventory,
        incidents=response.incidents,
        response=response,
        ack_signer=response.notices.ack_signer,
        notice_renderer=response.notices.renderer,
        normalizer=normalizer or Normalizer(inventory, default_timezone=settings.timezone),
        sessions=SessionStore(store),
        sign_in_throttle=SignInThrottle(),
        page_text=PageText(),
        collector_health=collector_health,
        collection_health=collection_health,
    )


def create_app(
    settings: Settings,
    *,
    store: Store,
    inventory: Inventory,
    response: Response | None = None,
    normalizer: Normalizer | None = None,
    collector_health: CollectorHealth | None = None,
    collection_health: CollectionHealth | None = None,
) -> FastAPI:
    return build_app(
        build_web_services(
            settings,
            store=store,
            inventory=inventory,
            response=response,
            normalizer=normalizer,
            collector_health=collector_health,
            collection_health=collection_health,
        )
    )
