"""Request bodies are read as a stream and refused (413) as soon as they pass their limit.

A declared ``Content-Length`` over the limit is refused before reading anything; a chunked or
lying body is counted as it arrives and refused when the count passes the limit, so the service
never holds more than the limit plus one chunk of any request in memory.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_LIMIT = 1024 * 1024  # forms and JSON commands
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parsing lets it through as it is (413)."""

    def __init__(self, limit: int) -> None:
        # Close the connection after the answer: the rest of the body is never read.
        super().__init__(413, f"request body over {limit} bytes; send smaller batches", headers={"Connection": "close"})


class BodyLimit:
    def __init__(self, app: ASGIApp, *, limits: dict[str, int], default: int = DEFAULT_LIMIT) -> None:
        self.app = app
        self.limits = limits  # exact path -> bytes
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(scope, receive, send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, limit)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = JSONResponse(
        {"error": f"request body over {limit} bytes; send smaller batches"},
        status_code=413,
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)
