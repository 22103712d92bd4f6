"""Building the official Elasticsearch client, and turning its errors into ``StoreError``.

Compatibility: the 9.x Python client asks for ``compatible-with=9`` on every request, which an
Elasticsearch 8.x server refuses (400 ``media_type_header_exception``: "Accept version must be
either version 8 or 7"). Sentinel supports both server majors, so requests ask for
``compatible-with=8``: 8.x serves it natively and 9.x through REST API compatibility (N-1).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import elasticsearch
from elastic_transport import HttpHeaders, Transport, TransportApiResponse

from sentinel.config import ElasticsearchSettings
from sentinel.errors import StoreError

log = logging.getLogger(__name__)

COMPATIBLE_MAJOR = 8
_COMPAT_RE = re.compile(r"compatible-with=\d+")


class CompatibleTransport(Transport):
    """The standard transport, asking the server for the 8.x REST API (see module docstring)."""

    def perform_request(self, method: str, target: str, **kwargs: Any) -> TransportApiResponse:  # type: ignore[override]
        headers = kwargs.get("headers")
        if isinstance(headers, Mapping):
            fixed = HttpHeaders(headers)
            for name in ("accept", "content-type"):
                value = fixed.get(name)
                if value and "compatible-with=" in value:
                    fixed[name] = _COMPAT_RE.sub(f"compatible-with={COMPATIBLE_MAJOR}", value)
            kwargs["headers"] = fixed
        return super().perform_request(method, target, **kwargs)


def build_client(es: ElasticsearchSettings) -> elasticsearch.Elasticsearch:
    options: dict[str, Any] = {
        "request_timeout": es.request_timeout,
        "verify_certs": es.verify_certs,
        "transport_class": CompatibleTransport,
        "max_retries": 2,
        "retry_on_timeout": True,
    }
    if es.api_key:
        options["api_key"] = es.api_key
    elif es.username is not None:
        options["basic_auth"] = (es.username, es.password or "")
    if es.ca_certs is not None:
        options["ca_certs"] = str(es.ca_certs)
    if not es.verify_certs:
        # The operator chose this explicitly; do not warn on every request.
        options["ssl_show_warn"] = False
    try:
        return elasticsearch.Elasticsearch(es.url, **options)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"invalid Elasticsearch settings for {es.url!r}: {exc}") from exc


def api_reason(exc: elasticsearch.ApiError) -> str:
    """The server's own explanation of an API error (type, reason and the cause's reason)."""
    body = exc.body
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
            cause = error.get("caused_by")
            if isinstance(cause, Mapping) and cause.get("reason"):
                text += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
            return text
        if isinstance(error, str):
            return error
    return str(exc.message)


def error_type(exc: elasticsearch.ApiError) -> str | None:
    body = exc.body
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        value = body["error"].get("type")
        return str(value) if value is not None else None
    return None


@contextmanager
def translated_errors(action: str, url: str) -> Iterator[None]:
    """Raise every client failure as a ``StoreError`` that says what Sentinel was doing."""
    try:
        yield
    except StoreError:
        raise
    except elasticsearch.UnsupportedProductError as exc:
        raise StoreError(f"the server at {url} is not Elasticsearch (no X-Elastic-Product header)") from exc
    except elasticsearch.AuthenticationException as exc:
        raise StoreError(f"Elasticsearch at {url} refused the credentials while {action} (401)") from exc
    except elasticsearch.AuthorizationException as exc:
        raise StoreError(
            f"the Elasticsearch user lacks a privilege needed for {action} (403): {api_reason(exc)}"
        ) from exc
    except elasticsearch.ApiError as exc:
        raise StoreError(f"Elasticsearch failed {action} ({exc.meta.status}): {api_reason(exc)}") from exc
    except elasticsearch.ConnectionTimeout as exc:
        raise StoreError(f"Elasticsearch at {url} did not answer in time while {action}") from exc
    except elasticsearch.ConnectionError as exc:
        raise StoreError(f"cannot reach Elasticsearch at {url} while {action}: {exc.message}") from exc
    except elasticsearch.TransportError as exc:
        raise StoreError(f"Elasticsearch transport error while {action}: {exc.message}") from exc
