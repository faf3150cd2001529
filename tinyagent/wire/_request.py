"""What every transport needs before it sends: options, the URL, headers and body.

Kept apart from the transports so that the httpx path and the native path build the
very same request from the same options.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import attrs

from .._util.checks import count_at_least, seconds
from .._version import __version__
from ..messages import SECRET_HEADERS, CacheMode, Model

__all__ = [
    "PreparedRequest",
    "RequestCaches",
    "ResponseFormat",
    "StreamOptions",
    "base_headers",
    "merge_headers",
    "resolve_api_key",
    "stream_options",
]


class RequestCaches:
    """What a run's requests may reuse, per provider (the encoded history): the loop
    keeps one for the run, so a model switch mid-run keeps each provider's own."""

    __slots__ = ("_by_api", "shared")

    def __init__(self) -> None:
        self._by_api: dict[str, object | None] = {}
        self.shared: dict[str, object] = {}
        """Other per-run caches, by name (a budget's prompt estimates)."""

    def for_provider(self, provider: Any) -> object | None:
        api = provider.api
        if api not in self._by_api:
            self._by_api[api] = provider.new_request_cache()
        return self._by_api[api]


def _schema_object(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Mapping) or value.get("type") != "object":
        raise ValueError(
            f"ResponseFormat.{attr.name} must be a JSON Schema of an object "
            f'({{"type": "object", ...}}): providers take no other root, got {value!r:.120}'
        )


@attrs.frozen
class ResponseFormat:
    """Ask the model for JSON matching ``schema`` (OpenAI's ``json_schema`` response
    format, on chat completions and Responses). ``strict`` asks the server to enforce
    the schema; it needs every property required and ``additionalProperties: false``."""

    name: str
    schema: Mapping[str, Any] = attrs.field(validator=_schema_object)
    strict: bool = False
    description: str | None = None


def _temperature(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{attr.name} must be a finite number or None, got {value!r}")


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
    temperature: float | None = attrs.field(default=None, validator=_temperature)
    max_tokens: int | None = attrs.field(
        default=None, validator=count_at_least(1, none_means="the provider's default")
    )
    reasoning_effort: str | None = None
    tool_choice: str | Mapping[str, Any] | None = None
    extra_body: Mapping[str, Any] | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    headers: Mapping[str, str] | None = attrs.field(default=None, repr=False)
    connect_timeout: float = attrs.field(default=10.0, validator=seconds)
    read_timeout: float = attrs.field(default=120.0, validator=seconds)
    max_retries: int = attrs.field(default=2, validator=count_at_least(0))
    client: Any = None  # httpx.AsyncClient; Any keeps httpx out of the public signature
    max_line_bytes: int = attrs.field(default=16 * 1024 * 1024, validator=count_at_least(1))
    max_argument_bytes: int = attrs.field(default=16 * 1024 * 1024, validator=count_at_least(1))
    cache: CacheMode | None = None
    """Prompt caching for this call; None means the model's ``cache``."""
    session_id: str | None = None
    """A cache or session key sent where the provider takes one (OpenAI's
    ``prompt_cache_key``, Anthropic's ``metadata.user_id``)."""
    wire_cache: RequestCaches | None = attrs.field(default=None, repr=False, eq=False)
    """Encoded messages by identity, reused across calls (the agent loop passes one per
    run: records are frozen, so a message is encoded once, not once per turn)."""
    proxy: str | None = attrs.field(default=None, repr=False)
    """The proxy URL for this call (``""`` for none); None: ``HTTPS_PROXY``,
    ``HTTP_PROXY`` or ``ALL_PROXY`` from the environment unless ``NO_PROXY`` covers the
    host. Honoured the same by every transport."""
    ca_bundle: str | None = None
    """A PEM file of trusted CAs (a private CA); None: ``SSL_CERT_FILE``, else the
    default roots. Honoured the same by every transport."""
    rate_gate: Any = attrs.field(default=None, repr=False, eq=False)
    """A shared pace for many calls (``tinyagent.transports.RateGate``, e.g. a batch's):
    consulted before each attempt, told how it ended."""
    budget: Any = attrs.field(default=None, repr=False, eq=False)
    """A cap on what the call may spend (``tinyagent.budget.Budget``, or a sequence of
    them): its worst case is reserved before it is sent and settled on its usage; a
    call that cannot fit ends as a ``budget`` failure, unsent. Budgets in force around
    the call (``tinyagent.budget.charging``, an agent run's) are drawn on too."""
    response_format: ResponseFormat | None = None
    """Ask for JSON matching a schema (see :class:`ResponseFormat`); ``None``: free text."""
    session: Any = attrs.field(default=None, repr=False, eq=False)
    """The connections (``tinyagent.transports.Connections``) this call reuses and
    leaves open for the next; the agent loop passes one per run."""

    def body_settings(self) -> dict[str, Any]:
        """The options every provider's body builder takes, as keyword arguments."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "reasoning_effort": self.reasoning_effort,
            "tool_choice": self.tool_choice,
            "extra_body": self.extra_body,
            "session_id": self.session_id,
            "response_format": self.response_format,
        }


def stream_options(options: Mapping[str, Any]) -> StreamOptions:
    """``StreamOptions(**options)``, with an unknown name reported in our words."""
    if not options:
        return _DEFAULT_OPTIONS  # frozen, so one is shared by every call that sets none
    # The same options come call after call (a batch, a loop): a validated record is
    # reused for them. Plain values are compared by value and type (``1 == True ==
    # 1.0``, and validation tells them apart); any other object (a client, a session,
    # a gate) by identity, as the record holds that very object (and keeps it alive, so
    # its id stays its own). A dict (extra_body) is not cached: it is built afresh.
    key = []
    for name, value in options.items():
        kind = type(value)
        if kind in _PLAIN:
            key.append((name, kind, value))
        elif kind is dict:
            return _validated(options)
        else:
            key.append((name, kind, id(value)))
    frozen_key = tuple(key)
    made = _recent.get(frozen_key)
    if made is None:
        made = _validated(options)
        if len(_recent) >= 64:
            _recent.clear()
        _recent[frozen_key] = made
    return made


def _validated(options: Mapping[str, Any]) -> StreamOptions:
    unknown = sorted(set(options) - _OPTION_NAMES)
    if unknown:
        raise TypeError(
            f"unknown stream option(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(_OPTION_NAMES))}"
        )
    return StreamOptions(**options)


_OPTION_NAMES = frozenset(a.name for a in attrs.fields(StreamOptions))
_DEFAULT_OPTIONS = StreamOptions()
_PLAIN = frozenset({str, int, float, bool, type(None)})
_recent: dict[tuple[tuple[str, type, Any], ...], StreamOptions] = {}


@attrs.frozen
class PreparedRequest:
    url: str
    headers: dict[str, str] = attrs.field(repr=False)  # may hold the key
    body: bytes = attrs.field(repr=False)

    def redact(self, data: bytes) -> bytes:
        """``data`` (a provider's answer) with this request's secrets (the key, any
        secret header) replaced by ``***``: a provider that echoes the key back in an
        error must not put it in a message, a log line or a saved transcript."""
        for secret in self._secrets():
            data = data.replace(secret, b"***")
        return data

    @property
    def has_secrets(self) -> bool:
        return bool(self._secrets())

    def redact_text(self, text: str) -> str:
        """:meth:`redact` for text already decoded (an error's message)."""
        for secret in self._secrets():
            text = text.replace(secret.decode("utf-8", "surrogatepass"), "***")
        return text

    def _secrets(self) -> list[bytes]:
        out = []
        for name, value in self.headers.items():
            if name.lower() not in SECRET_HEADERS:
                continue
            scheme, _, token = value.partition(" ")
            for v in (value, token if scheme.lower() in ("bearer", "basic") else ""):
                if len(v) >= 8:  # shorter is no key, and replacing it would garble text
                    out.append(v.encode("utf-8", "surrogatepass"))
        return sorted(out, key=len, reverse=True)  # the whole header value first


def resolve_api_key(model: Model, options: StreamOptions) -> str | None:
    if options.api_key is not None:
        return options.api_key
    if model.api_key is not None:
        return model.api_key
    if model.api_key_env:
        return os.environ.get(model.api_key_env) or None
    return None


def base_headers(model: Model, options: StreamOptions) -> tuple[dict[str, str], str | None]:
    """The headers every provider sends, and the API key (the provider decides how to
    send it: ``Authorization: Bearer`` or ``x-api-key``)."""
    headers = merge_headers(_DEFAULT_HEADERS, model.headers)
    if options.headers:
        headers = merge_headers(headers, options.headers)
    return headers, resolve_api_key(model, options)


def merge_headers(under: Mapping[str, str], over: Mapping[str, str]) -> dict[str, str]:
    """``under`` with ``over`` on top: a name set again replaces the one before in any
    letter case (HTTP names are case-blind), so none is sent twice."""
    if not over:
        return dict(under)
    again = {name.lower() for name in over}
    merged = {k: v for k, v in under.items() if k.lower() not in again}
    merged.update(over)
    return merged


# Every transport sends the same: a User-Agent of our own, so that a server (or a
# firewall in front of one) sees the same client on httpx and on the native core (which
# sends none of its own).
_DEFAULT_HEADERS = {
    "content-type": "application/json",
    "accept": "text/event-stream",
    "user-agent": f"tinyagent/{__version__}",
}
