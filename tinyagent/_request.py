"""What every transport needs before it sends: options, the URL, headers and body.

Kept apart from the transports so that the httpx path and the native path build the
very same request from the same options.
"""

from __future__ import annotations

import datetime
import json
import os
import random
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import attrs

from ._errors import ProviderError
from ._messages import Context, Model
from ._openai_chat import WireCache, build_body_bytes

__all__ = [
    "RETRY_STATUS",
    "PreparedRequest",
    "StreamOptions",
    "backoff",
    "error_excerpt",
    "prepare_request",
    "resolve_api_key",
]

_APIS = ("openai-chat",)

# Answers worth another try (before any event was produced), on every transport.
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def _positive(_inst: Any, attr: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attr.name} must be positive, got {value!r}")


@attrs.frozen(kw_only=True)
class StreamOptions:
    """Options of one model call (``tinyagent.stream(model, ctx, **options)``).

    ``read_timeout`` bounds how long the server may stay silent (a stall), not the
    length of the whole reply; ``connect_timeout`` bounds connecting. ``max_retries``
    retries connection failures and 408/409/429/5xx answers before any event was
    produced, with exponential backoff that honours ``Retry-After``. Pass ``client``
    to reuse one ``httpx.AsyncClient`` (and its connections) across calls.
    """

    transport: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    reasoning_effort: str | None = None
    tool_choice: str | Mapping[str, Any] | None = None
    extra_body: Mapping[str, Any] | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    headers: Mapping[str, str] | None = attrs.field(default=None, repr=False)
    connect_timeout: float = attrs.field(default=10.0, validator=_positive)
    read_timeout: float = attrs.field(default=120.0, validator=_positive)
    max_retries: int = 2
    client: Any = None  # httpx.AsyncClient; Any keeps httpx out of the public signature
    max_line_bytes: int = 16 * 1024 * 1024
    max_argument_bytes: int = 16 * 1024 * 1024
    wire_cache: WireCache | None = attrs.field(default=None, repr=False, eq=False)
    """Encoded messages by identity, reused across calls (the agent loop passes one per
    run: records are frozen, so a message is encoded once, not once per turn)."""


@attrs.frozen
class PreparedRequest:
    url: str
    headers: dict[str, str] = attrs.field(repr=False)  # may hold the key
    body: bytes = attrs.field(repr=False)


def resolve_api_key(model: Model, options: StreamOptions) -> str | None:
    if options.api_key is not None:
        return options.api_key
    if model.api_key is not None:
        return model.api_key
    if model.api_key_env:
        return os.environ.get(model.api_key_env) or None
    return None


def prepare_request(model: Model, context: Context, options: StreamOptions) -> PreparedRequest:
    if model.api not in _APIS:
        raise ValueError(
            f"unknown model api {model.api!r}: this version of tinyagent speaks {', '.join(_APIS)}"
        )
    data = build_body_bytes(
        model,
        context,
        options.wire_cache,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        reasoning_effort=options.reasoning_effort,
        tool_choice=options.tool_choice,
        extra_body=options.extra_body,
    )
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream",
        **model.headers,
        **(options.headers or {}),
    }
    key = resolve_api_key(model, options)
    if key:
        headers["authorization"] = f"Bearer {key}"
    url = model.base_url.rstrip("/") + "/chat/completions"
    return PreparedRequest(url, headers, data)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(float(str(value)), 0.0)  # seconds
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        seconds: float = (when - datetime.datetime.now(when.tzinfo)).total_seconds()
        return max(seconds, 0.0)
    except (TypeError, ValueError):
        return None


def backoff(attempt: int) -> float:
    return min(0.5 * 2.0**attempt, 8.0) * (0.75 + random.random() / 2)


def http_error(model: Model, status: int, body: bytes) -> ProviderError:
    """The error for an HTTP error status, worded the same on every transport."""
    text = f"HTTP {status} from {model.provider_name} ({model.id}): {error_excerpt(body)}"
    return ProviderError(
        text,
        status=status,
        provider=model.provider_name,
        model=model.id,
        body=body[:2000].decode("utf-8", "replace"),
    )


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
