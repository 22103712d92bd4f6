"""A real HTTP server on loopback that answers like Slack's Web API and records every request.

slack-sdk's ``WebClient(base_url=...)`` is pointed at it. It implements what Sentinel uses, as
Slack documents it (https://api.slack.com/methods):

- ``auth.test``: ``{"ok": true, "url", "team", "user", "team_id", "user_id", "bot_id"}``;
- ``chat.postMessage``: JSON or form body; ``channel`` by name (``#soc``) or id; answers
  ``{"ok": true, "channel": <id>, "ts": <ts>, "message": {...}}``; ``thread_ts`` makes a reply;
  ``metadata`` is kept and only returned by the readers when ``include_all_metadata`` is true;
- ``conversations.history`` / ``conversations.replies``: messages newest first (replies: the
  parent first, then replies oldest first, as Slack does), ``oldest`` filter, ``limit``;
- every method checks ``Authorization: Bearer <token>`` (``not_authed`` / ``invalid_auth``);
- an incoming webhook at ``/services/...`` answering ``ok`` (text), as Slack's do.

Tests script failures with ``fail_next(method, status, error, retry_after)``: e.g. ``429`` +
``ratelimited`` + ``Retry-After``, or a 500. ``hold_next_post`` makes the next ``chat.postMessage``
store the message and then wait before answering, so a test can kill the client mid-request.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str  # HTTP verb
    api: str  # e.g. chat.postMessage, or "webhook"
    headers: dict[str, str]
    args: dict[str, Any]
    status: int = 200  # what the server answered


@dataclass
class Failure:
    status: int
    error: str
    retry_after: int | None = None
    json_body: bool = True


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    attachments: list[Any]
    blocks: list[Any]
    thread_ts: str | None
    metadata: dict[str, Any] | None
    raw: dict[str, Any] = field(default_factory=dict)

    def public(self, with_metadata: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text, "attachments": self.attachments}
        if self.blocks:
            out["blocks"] = self.blocks
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if with_metadata and self.metadata:
            out["metadata"] = self.metadata
        return out


class SlackServer:
    def __init__(self, token: str = "xoxb-test-token", channels: dict[str, str] | None = None) -> None:  # noqa: S107
        self.token = token
        self.channels = channels or {"soc": "C0SOC00001", "general": "C0GEN00001"}
        self.requests: list[Request] = []
        self.messages: list[Message] = []
        self.webhook_posts: list[dict[str, Any]] = []
        self._failures: dict[str, deque[Failure]] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self.hold = threading.Event()  # set: a held post may answer
        self.held = threading.Event()  # set by the server when a held post has been stored
        self._hold_next = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # control ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/services/T0000/B0000/secretpath"

    def start(self) -> SlackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.hold.set()
        self._server.shutdown()
        self._server.server_close()

    def fail_next(
        self, api: str, status: int, error: str, retry_after: int | None = None, *, json_body: bool = True
    ) -> None:
        with self._lock:
            self._failures.setdefault(api, deque()).append(Failure(status, error, retry_after, json_body))

    def hold_next_post(self) -> None:
        self.hold.clear()
        self.held.clear()
        self._hold_next = True

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.api == "chat.postMessage"]

    def channel_id(self, name_or_id: str) -> str | None:
        name = name_or_id.lstrip("#")
        if name in self.channels:
            return self.channels[name]
        return name_or_id if name_or_id in self.channels.values() else None

    # the API ------------------------------------------------------------------------------
    def _answer(
        self, verb: str, api: str, headers: dict[str, str], args: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        if api == "webhook":
            with self._lock:
                self.requests.append(Request(verb, api, headers, args))
                failure = self._pop(api)
                if failure is None:
                    self.webhook_posts.append(args)
            if failure is not None:
                return failure.status, failure.error, _retry_headers(failure)
            return 200, "ok", {}
        with self._lock:
            failure = self._pop(api)
        auth = headers.get("authorization", "")
        body: dict[str, object] | str
        if failure is not None:
            status, body, extra = failure.status, {"ok": False, "error": failure.error}, _retry_headers(failure)
            if not failure.json_body:
                body = f"<html><body>{failure.error}</body></html>"
        elif not auth.startswith("Bearer "):
            status, body, extra = 200, {"ok": False, "error": "not_authed"}, {}
        elif auth[7:] != self.token:
            status, body, extra = 200, {"ok": False, "error": "invalid_auth"}, {}
        else:
            status, extra = 200, {}
            body = self._method(api, args)
        with self._lock:
            self.requests.append(Request(verb, api, headers, args, status))
        return status, body, extra

    def _pop(self, api: str) -> Failure | None:
        queue = self._failures.get(api)
        return queue.popleft() if queue else None

    def _method(self, api: str, args: dict[str, Any]) -> dict[str, Any]:
        if api == "auth.test":
            return {
                "ok": True,
                "url": "https://sentinel-test.slack.com/",
                "team": "Sentinel Test",
                "user": "sentinel",
                "team_id": "T0000TEST",
                "user_id": "U0000BOT1",
                "bot_id": "B0000BOT1",
            }
        if api == "chat.postMessage":
            return self._post(args)
        if api in ("conversations.history", "conversations.replies"):
            return self._read(api, args)
        return {"ok": False, "error": "unknown_method"}

    def _post(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel_id(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            return {"ok": False, "error": "no_text"}
        attachments = _maybe_json(args.get("attachments")) or []
        blocks = _maybe_json(args.get("blocks")) or []
        metadata = _maybe_json(args.get("metadata"))
        thread_ts = args.get("thread_ts") or None
        with self._lock:
            if thread_ts and not any(m.ts == thread_ts and m.channel == channel for m in self.messages):
                return {"ok": False, "error": "thread_not_found"}
            # Like Slack: the epoch time of the message, microseconds, unique per channel.
            self._seq = max(self._seq + 1, int(time.time() * 1_000_000))
            ts = f"{self._seq // 1_000_000}.{self._seq % 1_000_000:06d}"
            message = Message(
                channel, ts, str(args.get("text") or ""), attachments, blocks, thread_ts, metadata, dict(args)
            )
            self.messages.append(message)
            hold = self._hold_next
            self._hold_next = False
        if hold:
            self.held.set()
            self.hold.wait(30)
        return {"ok": True, "channel": channel, "ts": ts, "message": message.public(False)}

    def _read(self, api: str, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel_id(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        oldest = float(args.get("oldest") or 0)
        limit = int(args.get("limit") or 100)
        with self._lock:
            if api == "conversations.history":
                found = [m for m in self.messages if m.channel == channel and not m.thread_ts and float(m.ts) > oldest]
                found.sort(key=lambda m: float(m.ts), reverse=True)
            else:
                parent_ts = str(args.get("ts", ""))
                parent = [m for m in self.messages if m.channel == channel and m.ts == parent_ts]
                if not parent:
                    return {"ok": False, "error": "thread_not_found"}
                replies = [
                    m
                    for m in self.messages
                    if m.channel == channel and m.thread_ts == parent_ts and float(m.ts) > oldest
                ]
                found = parent + sorted(replies, key=lambda m: float(m.ts))
        return {
            "ok": True,
            "messages": [m.public(with_metadata) for m in found[:limit]],
            "has_more": len(found) > limit,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self, verb: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if raw:
                    if "json" in headers.get("content-type", ""):
                        args.update(json.loads(raw))
                    else:
                        args.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
                if url.path.startswith("/services/"):
                    api = "webhook"
                elif url.path.startswith("/api/"):
                    api = url.path[len("/api/") :]
                else:
                    self.send_error(404)
                    return
                status, body, extra = server._answer(verb, api, headers, args)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type", "text/plain" if isinstance(body, str) else "application/json; charset=utf-8"
                )
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass  # the client went away (a test killed it)

            def do_POST(self) -> None:
                self._serve("POST")

            def do_GET(self) -> None:
                self._serve("GET")

        return Handler


def _retry_headers(failure: Failure) -> dict[str, str]:
    return {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
