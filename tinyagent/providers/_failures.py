"""Failures as typed data: HTTP errors and in-stream error objects.

Every provider and every transport classifies through these functions, so the same
failure gives the same :class:`Failure` (and the same words, from ``_wording``) on every
path. Context overflow is recognised from each provider's codes and messages, so that a
caller can trim the history and retry.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from .._util.json import loads
from ..messages import Failure, FailureKind, Model, ProviderError

__all__ = [
    "SharedFailureRules",
    "error_excerpt",
    "failure_from_error_object",
    "http_failure",
    "is_context_overflow",
    "parse_retry_after",
    "redirect_failure",
]

_BY_STATUS = {
    400: FailureKind.INVALID_REQUEST,
    401: FailureKind.AUTHENTICATION,
    402: FailureKind.PERMISSION,
    403: FailureKind.PERMISSION,
    404: FailureKind.NOT_FOUND,
    407: FailureKind.AUTHENTICATION,  # a proxy's, for a plain-HTTP endpoint behind it
    408: FailureKind.TIMEOUT,
    409: FailureKind.SERVER,
    413: FailureKind.CONTEXT_OVERFLOW,
    422: FailureKind.INVALID_REQUEST,
    429: FailureKind.RATE_LIMIT,
    503: FailureKind.OVERLOADED,
    529: FailureKind.OVERLOADED,
}

# Provider error codes and types (OpenAI, Anthropic, OpenRouter, Groq…).
_BY_CODE = {
    "authentication_error": FailureKind.AUTHENTICATION,
    "invalid_api_key": FailureKind.AUTHENTICATION,
    "permission_error": FailureKind.PERMISSION,
    "billing_error": FailureKind.PERMISSION,
    "insufficient_quota": FailureKind.RATE_LIMIT,
    "not_found_error": FailureKind.NOT_FOUND,
    "model_not_found": FailureKind.NOT_FOUND,
    "rate_limit_error": FailureKind.RATE_LIMIT,
    "rate_limit_exceeded": FailureKind.RATE_LIMIT,
    "overloaded_error": FailureKind.OVERLOADED,
    "invalid_request_error": FailureKind.INVALID_REQUEST,
    "api_error": FailureKind.SERVER,
    "server_error": FailureKind.SERVER,
    "internal_server_error": FailureKind.SERVER,
    "internal_error": FailureKind.SERVER,
    "service_unavailable": FailureKind.SERVER,
    "timeout_error": FailureKind.TIMEOUT,
    "context_length_exceeded": FailureKind.CONTEXT_OVERFLOW,
    "model_context_window_exceeded": FailureKind.CONTEXT_OVERFLOW,
}

# How providers word an over-long prompt (lower case). OpenAI: "maximum context length
# is … tokens"; Anthropic: "prompt is too long: N tokens > M maximum"; vLLM, Groq,
# Mistral, llama.cpp, Ollama have their own.
_OVERFLOW_PHRASES = (
    "context_length_exceeded",
    "context window",
    "context length",
    "maximum context",
    "prompt is too long",
    "input is too long",
    "too many tokens",
    "exceeds the context",
    "exceed context",
    "exceeds the available context",
    "reduce the length of the messages",
    "request too large",
)


def is_context_overflow(text: str) -> bool:
    """Whether an error text says the prompt did not fit the model's context window."""
    low = text.lower()
    return any(p in low for p in _OVERFLOW_PHRASES)


# A wait longer than this is no plan a client can keep: such a value is read as absent.
_ABSURD_RETRY_AFTER = 24 * 3600.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date), or None
    when it gives no usable wait — unparsable, not finite, negative, a date already
    past, or more than a day — so that the caller falls back to its backoff policy."""
    if not value:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
            seconds = (when - datetime.datetime.now(when.tzinfo)).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
        if seconds < 0:
            return None  # the date is past: nothing to honour
    if not math.isfinite(seconds) or seconds < 0 or seconds > _ABSURD_RETRY_AFTER:
        return None
    return seconds


# Codes that only restate a class of status: they never outrank the status itself
# (a 429 whose body says "server_error" is a rate limit).
_GENERIC_CODES = frozenset({"invalid_request_error", "api_error", "server_error"})


def _kind(status: int | None, code: str | None, text: str) -> FailureKind:
    if code is not None and code in _BY_CODE and code not in _GENERIC_CODES:
        kind = _BY_CODE[code]
    elif status is not None and status in _BY_STATUS:
        kind = _BY_STATUS[status]
    elif code is not None and code in _BY_CODE:
        kind = _BY_CODE[code]
    elif status is not None and status >= 500:
        kind = FailureKind.SERVER
    else:
        kind = FailureKind.UNKNOWN
    if kind in (FailureKind.INVALID_REQUEST, FailureKind.UNKNOWN) and is_context_overflow(text):
        return FailureKind.CONTEXT_OVERFLOW
    return kind


def _code_of(err: Mapping[str, Any]) -> str | None:
    for key in ("type", "code"):
        value = err.get(key)
        # "error" only says it is one (a Responses ``error`` event's own type)
        if isinstance(value, str) and value and value != "error":
            return value
    return None


def error_excerpt(body: bytes, limit: int = 500) -> str:
    """The provider's own message from an error body, else a bounded excerpt of it."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or err.get("msg")
            if isinstance(msg, str) and msg:
                return msg[:limit]
        elif isinstance(err, str) and err:
            return err[:limit]
        detail = data.get("detail") or data.get("message")
        if isinstance(detail, str) and detail:
            return detail[:limit]
    text = " ".join(text.split())
    return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")


def http_failure(
    model: Model, status: int, body: bytes, retry_after: str | None = None
) -> ProviderError:
    """The error for an HTTP error status, worded and classified the same on every
    transport; ``.failure`` holds the typed description."""
    text = f"HTTP {status} from {model.provider_name} ({model.id}): {error_excerpt(body)}"
    code = None
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            code = _code_of(err)
    failure = Failure(_kind(status, code, text), status, code, parse_retry_after(retry_after))
    return ProviderError(
        text,
        status=status,
        provider=model.provider_name,
        model=model.id,
        body=body[:2000].decode("utf-8", "replace"),
        failure=failure,
    )


def redirect_failure(model: Model, status: int, location: str | None) -> ProviderError:
    """A redirect (3xx) answer. No transport follows one: a request and its API key go
    only to the address the model names, and a 301 or 302 would turn the POST into a
    GET. It is not retried either (``not_found``: the endpoint is not at this address)."""
    where = f"redirects to {location}" if location else "redirects, with no Location header"
    text = (
        f"HTTP {status} from {model.provider_name} ({model.id}): the server {where}, and "
        "tinyagent follows no redirects (a request and its API key go only where base_url "
        "says): change base_url to the address the server names"
    )
    return ProviderError(
        text,
        status=status,
        provider=model.provider_name,
        model=model.id,
        body="",
        failure=Failure(FailureKind.NOT_FOUND, status, "redirect"),
    )


def failure_from_error_object(err: Any, provider: str, model: str) -> ProviderError:
    """An ``error`` object inside a stream (OpenRouter, Groq, Anthropic's ``error``
    event): its message verbatim, its status or type classified."""
    if isinstance(err, Mapping):
        message = str(err.get("message") or json.dumps(err)[:500])
        raw_status = err.get("status_code")
        if raw_status is None:
            raw_status = err.get("code")
        code = _code_of(err)
    else:
        message, raw_status, code = str(err), None, None
    if isinstance(raw_status, str) and raw_status.isdigit() and len(raw_status) == 3:
        raw_status = int(raw_status)  # {"code": "500"}: a status written as text
    status = (
        raw_status if isinstance(raw_status, int) and not isinstance(raw_status, bool) else None
    )
    if code is not None and code.isdigit():
        code = None
    return ProviderError(
        message,
        status=status,
        provider=provider,
        model=model,
        body=json.dumps(err)[:2000],
        failure=Failure(_kind(status, code, message), status, code),
    )


class SharedFailureRules:
    """The failure half of a provider, as every provider here has it: an in-stream
    ``{"error": …}`` payload and HTTP error answers classified by the shared tables. A
    provider with its own rules overrides either method."""

    def stream_error(self, payload: bytes, model: Model) -> ProviderError:
        err = loads(payload).get("error")  # the reader the pure parsers use
        return failure_from_error_object(err, model.provider_name, model.id)

    def http_error(
        self, model: Model, status: int, body: bytes, retry_after: str | None
    ) -> ProviderError:
        return http_failure(model, status, body, retry_after)
