"""A real HTTP server on loopback that answers like Elasticsearch 8.x and records every request.

No Elasticsearch can run on the development machines, so the backend's unit tests point the
official client at this server and check the exact requests it sends. The answers follow the
documented APIs closely enough for the client to accept them:

- every response carries ``X-Elastic-Product: Elasticsearch`` (the client refuses servers without it);
- like a real 8.x node, a request asking for ``compatible-with=9`` (the 9.x client's default) is
  refused with 400 ``media_type_header_exception``;
- documents are kept per index with ``_seq_no``/``_primary_term``, so ``op_type=create``,
  ``if_seq_no``/``if_primary_term`` and ``_bulk`` ``create`` answer 409 exactly when Elasticsearch would;
- ``_search``/``_count``/``_delete_by_query`` answers are queued by the test (``answer``); without
  one, document indices return their stored documents and the events stream returns nothing.
  The server does not evaluate query DSL: tests assert the DSL the backend sends.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

VERSION = "8.15.3"
_COMPAT_RE = re.compile(r"compatible-with=(\d+)")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def ndjson(self) -> list[Any]:
        return [json.loads(line) for line in self.body.split(b"\n") if line.strip()]


@dataclass
class Stored:
    source: dict[str, Any]
    seq_no: int
    primary_term: int = 1
    version: int = 1


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeElasticsearch:
    """Start with ``with FakeElasticsearch() as es:``; ``es.url`` is the address for the client."""

    def __init__(self, *, credentials: tuple[str, str] | None = None, product_header: bool = True) -> None:
        self.credentials = credentials
        self.product_header = product_header
        self.requests: list[Recorded] = []
        self.indices: dict[str, dict[str, Stored]] = {}
        self.data_streams: set[str] = set()
        self.templates: dict[str, Any] = {}  # "<kind>/<name>" -> body
        self.bulk_item_errors: dict[str, tuple[int, dict[str, Any]]] = {}
        self._answers: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self._seq: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FakeElasticsearch:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-es", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    # test helpers ----------------------------------------------------------------------
    def answer(self, method: str, path: str, body: Any, status: int = 200) -> None:
        """Queue a one-time answer for the next ``method path`` request."""
        self._answers[(method.upper(), path)].append(Reply(status, body))

    def matching(self, method: str, path: str | None = None, suffix: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == method
                and (path is None or r.path == path)
                and (suffix is None or r.path.endswith(suffix))
            ]

    def last(self, method: str, path: str | None = None, suffix: str | None = None) -> Recorded:
        found = self.matching(method, path, suffix)
        assert found, f"no {method} {path or suffix} request; got {[(r.method, r.path) for r in self.requests]}"
        return found[-1]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    # dispatch --------------------------------------------------------------------------
    def handle(self, req: Recorded) -> Reply:
        with self._lock:
            self.requests.append(req)
            problem = self._check_headers(req)
            if problem is not None:
                return problem
            queued = self._answers.get((req.method, req.path))
            if queued:
                return queued.popleft()
            return self._route(req)

    def _check_headers(self, req: Recorded) -> Reply | None:
        if self.credentials is not None:
            user, password = self.credentials
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if req.headers.get("authorization") != expected:
                reason = f"unable to authenticate user [{user}] for REST request [{req.path}]"
                return Reply(
                    401,
                    _error("security_exception", reason, 401),
                    {"WWW-Authenticate": 'Basic realm="security" charset="UTF-8"'},
                )
        accept = _COMPAT_RE.search(req.headers.get("accept", ""))
        content = _COMPAT_RE.search(req.headers.get("content-type", "")) if req.body else accept
        if accept and int(accept.group(1)) not in (7, 8):
            cause = (
                f"Accept version must be either version 8 or 7, but found {accept.group(1)}. "
                f"Accept={req.headers.get('accept')}"
            )
            return Reply(400, _media_type_error(cause))
        if req.body and bool(accept) != bool(content):
            cause = (
                "A compatible version is required on both Content-Type and Accept headers "
                "if either one has requested a compatible version."
            )
            return Reply(400, _media_type_error(cause))
        return None

    def _route(self, req: Recorded) -> Reply:
        parts = [unquote(p) for p in req.path.strip("/").split("/") if p]
        m = req.method
        if not parts:
            return Reply(200, _info()) if m in ("GET", "HEAD") else _no_handler(req)
        if parts[0] == "_ilm" and len(parts) == 3 and parts[1] == "policy" and m == "PUT":
            return self._put_template("ilm", parts[2], req)
        if parts[0] in ("_component_template", "_index_template") and len(parts) == 2 and m == "PUT":
            return self._put_template(parts[0].strip("_"), parts[1], req)
        if parts[0] == "_data_stream" and len(parts) == 2 and m == "PUT":
            return self._create_data_stream(parts[1])
        if parts[-1] == "_bulk" and m in ("POST", "PUT"):
            return self._bulk(req, parts[0] if len(parts) == 2 else None)
        if len(parts) == 1 and m == "PUT":
            return self._create_index(parts[0])
        if len(parts) == 2 and parts[1] in ("_search", "_count", "_refresh", "_delete_by_query"):
            return self._index_api(parts[0], parts[1], req)
        if len(parts) == 3 and parts[1] == "_doc":
            index, doc_id = parts[0], parts[2]
            if m in ("PUT", "POST"):
                return self._index_doc(index, doc_id, req)
            if m == "GET":
                return self._get_doc(index, doc_id)
            if m == "DELETE":
                return self._delete_doc(index, doc_id, req)
        return _no_handler(req)

    # APIs ------------------------------------------------------------------------------
    def _put_template(self, kind: str, name: str, req: Recorded) -> Reply:
        self.templates[f"{kind}/{name}"] = req.json()
        return Reply(200, {"acknowledged": True})

    def _create_data_stream(self, name: str) -> Reply:
        if name in self.data_streams:
            return Reply(400, _error("resource_already_exists_exception", f"data_stream [{name}] already exists", 400))
        if not any(
            name.startswith(b["index_patterns"][0].rstrip("*"))
            for k, b in self.templates.items()
            if k.startswith("index_template/")
        ):
            return Reply(
                400,
                _error("illegal_argument_exception", f"no matching index template found for data stream [{name}]", 400),
            )
        self.data_streams.add(name)
        self.indices.setdefault(name, {})
        return Reply(200, {"acknowledged": True})

    def _create_index(self, name: str) -> Reply:
        if name in self.indices:
            return Reply(400, _error("resource_already_exists_exception", f"index [{name}/abcDEF] already exists", 400))
        self.indices[name] = {}
        return Reply(200, {"acknowledged": True, "shards_acknowledged": True, "index": name})

    def _next_seq(self, index: str) -> int:
        seq = self._seq[index]
        self._seq[index] += 1
        return seq

    def _bulk(self, req: Recorded, default_index: str | None) -> Reply:
        lines = req.ndjson()
        items: list[dict[str, Any]] = []
        errors = False
        i = 0
        while i < len(lines):
            action_line = lines[i]
            ((action, meta),) = action_line.items()
            source = lines[i + 1] if action != "delete" else None
            i += 2 if action != "delete" else 1
            index = meta.get("_index", default_index)
            doc_id = meta.get("_id")
            result: dict[str, Any] = {"_index": _backing(index, self.data_streams), "_id": doc_id}
            docs = self.indices.setdefault(index, {})
            if index in self.data_streams and action != "create":
                status, err = (
                    400,
                    _cause(
                        "illegal_argument_exception",
                        "only write ops with an op_type of create are allowed in data streams",
                    ),
                )
            elif doc_id in self.bulk_item_errors:
                status, err = self.bulk_item_errors[doc_id]
            elif action == "create" and doc_id in docs:
                status, err = (
                    409,
                    _cause(
                        "version_conflict_engine_exception",
                        f"[{doc_id}]: version conflict, document already exists (current version [1])",
                    ),
                )
            else:
                status, err = 201, None
                docs[doc_id] = Stored(source or {}, self._next_seq(index))
                result.update({"_version": 1, "result": "created", "_seq_no": docs[doc_id].seq_no, "_primary_term": 1})
            result["status"] = status
            if err is not None:
                errors = True
                result["error"] = err
            items.append({action: result})
        return Reply(200, {"took": 3, "errors": errors, "items": items})

    def _index_doc(self, index: str, doc_id: str, req: Recorded) -> Reply:
        docs = self.indices.setdefault(index, {})
        current = docs.get(doc_id)
        q = req.query
        if q.get("op_type") == "create" and current is not None:
            return Reply(
                409,
                _conflict(
                    index,
                    doc_id,
                    f"[{doc_id}]: version conflict, document already exists (current version [{current.version}])",
                ),
            )
        if "if_seq_no" in q or "if_primary_term" in q:
            want = (int(q["if_seq_no"]), int(q["if_primary_term"]))
            if current is None:
                return Reply(409, _seq_conflict(index, doc_id, want, None))
            if (current.seq_no, current.primary_term) != want:
                return Reply(409, _seq_conflict(index, doc_id, want, current))
        version = current.version + 1 if current else 1
        stored = Stored(req.json(), self._next_seq(index), version=version)
        docs[doc_id] = stored
        body = {
            "_index": index,
            "_id": doc_id,
            "_version": version,
            "result": "updated" if current else "created",
            "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": stored.seq_no,
            "_primary_term": 1,
        }
        return Reply(200 if current else 201, body)

    def _get_doc(self, index: str, doc_id: str) -> Reply:
        if index not in self.indices:
            return Reply(404, _error("index_not_found_exception", f"no such index [{index}]", 404))
        stored = self.indices[index].get(doc_id)
        if stored is None:
            return Reply(404, {"_index": index, "_id": doc_id, "found": False})
        return Reply(
            200,
            {
                "_index": index,
                "_id": doc_id,
                "_version": stored.version,
                "_seq_no": stored.seq_no,
                "_primary_term": stored.primary_term,
                "found": True,
                "_source": stored.source,
            },
        )

    def _delete_doc(self, index: str, doc_id: str, req: Recorded) -> Reply:
        docs = self.indices.setdefault(index, {})
        current = docs.get(doc_id)
        q = req.query
        if (
            "if_seq_no" in q
            and current is not None
            and (current.seq_no, current.primary_term) != (int(q["if_seq_no"]), int(q["if_primary_term"]))
        ):
            want = (int(q["if_seq_no"]), int(q["if_primary_term"]))
            return Reply(409, _seq_conflict(index, doc_id, want, current))
        if current is None:
            return Reply(
                404,
                {
                    "_index": index,
                    "_id": doc_id,
                    "_version": 1,
                    "result": "not_found",
                    "_seq_no": self._next_seq(index),
                    "_primary_term": 1,
                },
            )
        del docs[doc_id]
        return Reply(
            200,
            {
                "_index": index,
                "_id": doc_id,
                "_version": current.version + 1,
                "result": "deleted",
                "_seq_no": self._next_seq(index),
                "_primary_term": 1,
            },
        )

    def _index_api(self, index: str, api: str, req: Recorded) -> Reply:
        if index not in self.indices and req.query.get("ignore_unavailable") != "true":
            return Reply(404, _error("index_not_found_exception", f"no such index [{index}]", 404))
        docs = self.indices.get(index, {})
        shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
        if api == "_refresh":
            return Reply(200, {"_shards": shards})
        if api == "_count":
            return Reply(200, {"count": len(docs) if index not in self.data_streams else 0, "_shards": shards})
        if api == "_delete_by_query":
            return Reply(200, {"took": 1, "timed_out": False, "total": 0, "deleted": 0, "failures": []})
        body = req.json() if req.body else {}
        hits: list[dict[str, Any]] = []
        if index not in self.data_streams:
            for doc_id, stored in list(docs.items())[: body.get("size", 10)]:
                hit: dict[str, Any] = {"_index": index, "_id": doc_id, "_score": None, "_source": stored.source}
                if body.get("seq_no_primary_term"):
                    hit.update({"_seq_no": stored.seq_no, "_primary_term": stored.primary_term})
                hits.append(hit)
        total = {"value": len(hits), "relation": "eq"}
        return Reply(
            200,
            {
                "took": 1,
                "timed_out": False,
                "_shards": shards,
                "hits": {"total": total, "max_score": None, "hits": hits},
            },
        )


def _handler_for(fake: FakeElasticsearch) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
        # Headers and body leave in one segment: written apart, Nagle + delayed ACK cost 40 ms each.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake.handle(Recorded(self.command, split.path, query, headers, body))
            payload = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            compat = _COMPAT_RE.search(headers.get("accept", ""))
            ctype = (
                f"application/vnd.elasticsearch+json;compatible-with={compat.group(1)}"
                if compat
                else "application/json"
            )
            self.send_header("Content-Type", ctype)
            if fake.product_header:
                self.send_header("X-Elastic-Product", "Elasticsearch")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean; every request is in ``fake.requests``

    return Handler


def _info() -> dict[str, Any]:
    return {
        "name": "fake-node",
        "cluster_name": "sentinel-test",
        "cluster_uuid": "Xq3bFakeUuid",
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "docker",
            "lucene_version": "9.11.1",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    }


def _cause(kind: str, reason: str) -> dict[str, Any]:
    return {"type": kind, "reason": reason}


def _error(kind: str, reason: str, status: int, **extra: Any) -> dict[str, Any]:
    err = {"root_cause": [_cause(kind, reason)], **_cause(kind, reason), **extra}
    return {"error": err, "status": status}


def _conflict(index: str, doc_id: str, reason: str) -> dict[str, Any]:
    return _error("version_conflict_engine_exception", reason, 409, index=index, shard="0", index_uuid="abcDEF")


def _seq_conflict(index: str, doc_id: str, want: tuple[int, int], current: Stored | None) -> dict[str, Any]:
    reason = f"[{doc_id}]: version conflict, required seqNo [{want[0]}], primary term [{want[1]}]"
    if current is None:
        reason += " but no document was found"
    else:
        reason += f". current document has seqNo [{current.seq_no}] and primary term [{current.primary_term}]"
    return _conflict(index, doc_id, reason)


def _media_type_error(cause: str) -> dict[str, Any]:
    reason = "Invalid media-type value on headers [Accept, Content-Type]"
    return _error("media_type_header_exception", reason, 400, caused_by=_cause("status_exception", cause))


def _no_handler(req: Recorded) -> Reply:
    return Reply(400, {"error": f"no handler found for uri [{req.path}] and method [{req.method}]"})


def _backing(index: str | None, data_streams: set[str]) -> str | None:
    return f".ds-{index}-2024.06.01-000001" if index in data_streams else index
