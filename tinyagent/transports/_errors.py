"""One table maps every transport's low-level failures to the same error kinds, so the
same failure reads the same on httpx and on the native core."""

from __future__ import annotations

import math
from collections.abc import Mapping
from urllib.parse import urljoin

import attrs

from .._util.wording import transport_failure
from ..messages import Failure, FailureKind, Model, ProviderError, TransportError
from ..providers import Provider, redirect_failure
from ..wire import PreparedRequest
from ._network import proxy_shown

__all__ = ["answer_error", "transport_error"]


_TRANSPORT_KINDS = {
    "connect_timeout": FailureKind.TIMEOUT,
    "read_timeout": FailureKind.TIMEOUT,
    "connect": FailureKind.CONNECTION,
    "tls": FailureKind.CONNECTION,
    "proxy_auth": FailureKind.AUTHENTICATION,
    "proxy_refused": FailureKind.CONNECTION,
    "no_response": FailureKind.CONNECTION,
    "closed": FailureKind.CONNECTION,
    "local": FailureKind.CONNECTION,
    "other": FailureKind.CONNECTION,
    "decode": FailureKind.MALFORMED_STREAM,
    "bad_response": FailureKind.MALFORMED_STREAM,
}


def transport_error(
    kind: str,
    url: str,
    detail: str,
    connect_timeout: float,
    read_timeout: float,
    proxy: str | None = None,
) -> TransportError:
    """A transport failure as the one exception type every transport reports (through
    ``proxy``, if the request went through one)."""
    shown = proxy_shown(proxy) if proxy else None
    text = transport_failure(kind, url, detail, connect_timeout, read_timeout, shown)
    failure = Failure(_TRANSPORT_KINDS[kind], None, kind)
    return TransportError(text, kind=kind, detail=detail, failure=failure)


_LOCATION_SHOWN = 500
_REQUEST_ID_SHOWN = 200
# Where providers put their id of a request: OpenAI (and most compatible servers),
# Anthropic, AWS. Read in this order.
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid")


def answer_error(
    provider: Provider,
    model: Model,
    request: PreparedRequest,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
) -> ProviderError:
    """The error for an answer that is no reply (a status of 300 or more), read from
    its status, body and headers (names in lower case) the same on every transport: a
    redirect says where to (no transport follows one); anything else is the provider's
    to classify, with the server's wait (in milliseconds, OpenAI's ``retry-after-ms`` or
    Azure's ``x-ms-retry-after-ms``, wins over ``retry-after`` when it reads as one)
    and its id of the request named. Secrets the server echoes are redacted."""
    if 300 <= status < 400:
        location = headers.get("location")
        where = request.redact_text(urljoin(request.url, location)) if location else None
        if where is not None and len(where) > _LOCATION_SHOWN:
            where = where[:_LOCATION_SHOWN] + "…"  # a head may hold 100 KiB of it
        return redirect_failure(model, status, where)
    wait_ms = headers.get("retry-after-ms") or headers.get("x-ms-retry-after-ms")
    wait = _milliseconds_as_seconds(wait_ms) or headers.get("retry-after")
    exc = provider.http_error(model, status, request.redact(body), wait)
    request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    if request_id:
        _name_request(exc, request_id[:_REQUEST_ID_SHOWN])
    return exc


def _name_request(exc: ProviderError, request_id: str) -> None:
    """Put the provider's id of the request on its error (made just now, for this call):
    in the words, which get logged and pasted into a support ticket, and typed."""
    exc.message = f"{exc.message} (request id {request_id})"
    exc.args = (exc.message,)
    failure = exc.failure or Failure(FailureKind.UNKNOWN, exc.status)
    exc.failure = attrs.evolve(failure, request_id=request_id)


def _milliseconds_as_seconds(value: str | None) -> str | None:
    if not value:
        return None
    try:
        ms = float(value.strip())
    except ValueError:
        return None
    return repr(ms / 1000) if math.isfinite(ms) and ms >= 0 else None
