"""``/healthz``: for load balancers and probes, without sign-in.

200 ``{"status": "ok"}``, or 503 with what is wrong with collection here (spool not writable,
drain stalled, store refusing writes, disk under the floor): a fixed reason per problem and
since when, never error details (``sentinel.collection_health``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sentinel.collection_health import healthz_answer
from sentinel.web.deps import ServicesDep

router = APIRouter()


@router.get("/healthz")
def healthz(services: ServicesDep) -> JSONResponse:
    health = services.collection_health
    code, body = healthz_answer(health.state() if health is not None else None)
    return JSONResponse(body, status_code=code)
