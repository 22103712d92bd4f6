"""``WebServices``: everything the HTTP layer uses, built once by the composition root.

``sentinel serve`` builds the store, the inventory, the response (playbooks, notices, the ack
signer) and the collectors; ``sentinel.app.create_app`` hands them here, and request handlers
read them through ``deps.ServicesDep``. Nothing is built inside a request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collectors.normalize import Normalizer
from playbooks.wiring import Response
from sentinel.collection_health import CollectionHealth
from sentinel.config import Settings
from sentinel.incidents.service import IncidentService
from sentinel.inventory import Inventory
from sentinel.notify.ack import AckSigner
from sentinel.notify.render import Renderer
from sentinel.sessions import SessionStore
from sentinel.store.base import Store
from sentinel.web.i18n import PageText
from sentinel.web.security.throttle import SignInThrottle

# Live counters of the collectors running in this process (``None`` when none run here).
CollectorHealth = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class WebServices:
    settings: Settings
    store: Store
    inventory: Inventory
    incidents: IncidentService
    response: Response  # playbook runner (approvals), notices
    ack_signer: AckSigner  # verifies the links in institution notices
    notice_renderer: Renderer  # the acknowledgement page shares the notices' templates and words
    normalizer: Normalizer  # log lines posted to /api/v1/ingest
    sessions: SessionStore
    sign_in_throttle: SignInThrottle
    page_text: PageText  # the pages' words in every language
    collector_health: CollectorHealth | None = None
    collection_health: CollectionHealth | None = None  # what /healthz reports (None: no collectors here)
