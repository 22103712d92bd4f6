"""``/healthz``: for load balancers and probes, without sign-in; it says "up" and nothing else."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

router = APIRouter()


@router.get("/healthz")
def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})
