"""The records a conversation is made of: content blocks, messages, usage, models.

Every record is a frozen, slotted attrs class. Frozen, so that a transcript can be
shared between an agent, its subscribers and a provider request without copies or
surprises; slotted, so that a long transcript stays small. JSON shaping lives in
:mod:`tinyagent.serde`, not here.
"""

from __future__ import annotations

import binascii
import enum
import functools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable
from urllib.parse import urlsplit

import attrs

from .._util.json import replace_lone_surrogates

__all__ = [
    "AssistantContent",
    "AssistantMessage",
    "Context",
    "Cost",
    "CostTier",
    "Failure",
    "FailureKind",
    "ImageContent",
    "Message",
    "Model",
    "ModelCost",
    "StopReason",
    "TextContent",
    "ThinkingContent",
    "ToolCall",
    "ToolDefinition",
    "ToolResultMessage",
    "ToolSchema",
    "Usage",
    "UserContent",
    "UserMessage",
    "install_name_resolver",
]


def _now() -> float:
    return time.time()


class StopReason(enum.StrEnum):
    """Why an assistant message ended.

    ``stop``: the model finished; ``length``: it hit the output limit; ``tool_use``: it
    asked for tools; ``error``: the provider or the stream failed (see
    ``AssistantMessage.error_message``); ``aborted``: the caller cancelled.
    """

    STOP = "stop"
    LENGTH = "length"
    TOOL_USE = "tool_use"
    ERROR = "error"
    ABORTED = "aborted"


class FailureKind(enum.StrEnum):
    """What kind of failure ended a message, the same words on every provider and
    transport, so that a caller can decide what to do (retry later, trim the history,
    fix the key) without parsing provider text."""

    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    CONTEXT_OVERFLOW = "context_overflow"
    INVALID_REQUEST = "invalid_request"
    CONTENT_FILTER = "content_filter"
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    MALFORMED_STREAM = "malformed_stream"
    BUDGET = "budget"
    """Not sent: the call's worst case did not fit its budget (``tinyagent.budget``)."""
    UNKNOWN = "unknown"


@attrs.frozen
class Failure:
    """The typed description of a failed message (``AssistantMessage.failure``).

    ``status`` is the HTTP status when there was one; ``code`` the provider's own error
    code or type (``rate_limit_error``, ``context_length_exceeded``) or, for transport
    failures, which one (``connect``, ``read_timeout``, ``closed``…); ``retry_after`` the
    seconds the provider asked us to wait; ``request_id`` the id the provider gave the
    failed request (``x-request-id``, ``request-id``, ``x-amzn-requestid``), which its
    support asks for.
    """

    kind: FailureKind = attrs.field(converter=FailureKind)
    status: int | None = None
    code: str | None = None
    retry_after: float | None = None
    request_id: str | None = None


# --- content blocks ---------------------------------------------------------------


@attrs.frozen
class TextContent:
    """Plain text, from the user or the model (a lone surrogate in it becomes U+FFFD)."""

    text: str = attrs.field(converter=replace_lone_surrogates)
    type: Literal["text"] = attrs.field(default="text", init=False, repr=False)


@attrs.frozen
class ThinkingContent:
    """The model's reasoning. ``signature`` is the provider's opaque proof (Anthropic)
    that lets the block be sent back unchanged; ``redacted`` marks an encrypted block
    that must be kept and returned but never shown."""

    thinking: str
    signature: str | None = None
    redacted: bool = False
    type: Literal["thinking"] = attrs.field(default="thinking", init=False, repr=False)


def _check_image(inst: ImageContent, _a: attrs.Attribute[Any], _v: Any) -> None:
    if (inst.data is None) == (inst.url is None):
        raise ValueError("ImageContent needs exactly one of data (base64) or url")
    mime = inst.mime_type
    if not isinstance(mime, str) or not mime.startswith("image/"):
        raise ValueError(
            f"ImageContent.mime_type must be an image type such as 'image/png', got {mime!r}"
        )
    data = inst.data
    if data is None:
        return
    if not isinstance(data, str):
        raise TypeError(f"ImageContent.data is base64 text, got {type(data).__name__}")
    if data.startswith("data:"):
        raise ValueError(
            "ImageContent.data is base64 without its 'data:<type>;base64,' prefix: pass "
            "ImageContent(b64, 'image/png'), or the whole data URL as url=..."
        )
    try:
        binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            f"ImageContent.data is not valid base64 (one line, A-Z a-z 0-9 + / and = "
            f"padding): {len(data)} characters, starting {data[:24]!r}"
        ) from None


@attrs.frozen
class ImageContent:
    """An image, either inline (``data``: base64 without a ``data:`` prefix) or by ``url``:
    ``ImageContent(b64, "image/jpeg")`` or ``ImageContent(url="https://…")``."""

    data: str | None = None
    mime_type: str = "image/png"
    url: str | None = attrs.field(default=None, validator=_check_image)
    type: Literal["image"] = attrs.field(default="image", init=False, repr=False)

    @classmethod
    def from_url(cls, url: str) -> ImageContent:
        """An image as OpenAI's APIs give one: a ``data:<mime>;base64,<data>`` URL
        inline, any other URL by reference; ``ValueError`` says what is wrong."""
        if url.startswith("data:"):
            head, sep, data = url.partition(",")
            if not sep or not head.endswith(";base64"):
                raise ValueError("a data URL image must be base64 (data:<mime>;base64,...)")
            return cls(data, head[5:-7] or "image/png")
        return cls(url=url)


@attrs.frozen
class ToolCall:
    """A call the model asked for.

    When the model's argument text is not valid JSON (or not a JSON object), the text is
    kept as received in ``raw_arguments``, ``arguments`` is left empty and
    ``arguments_error`` says what was wrong, so that nothing is silently replaced and the
    agent can tell the model exactly what to fix.
    """

    id: str
    name: str
    arguments: dict[str, Any] = attrs.field(factory=dict)
    raw_arguments: str | None = None
    arguments_error: str | None = None
    type: Literal["toolCall"] = attrs.field(default="toolCall", init=False, repr=False)

    @property
    def arguments_valid(self) -> bool:
        return self.arguments_error is None


UserContent: TypeAlias = TextContent | ImageContent
AssistantContent: TypeAlias = TextContent | ThinkingContent | ToolCall


def _user_content(value: str | Sequence[UserContent]) -> str | tuple[UserContent, ...]:
    return replace_lone_surrogates(value) if isinstance(value, str) else tuple(value)


def _tool_content(value: str | Sequence[UserContent]) -> tuple[UserContent, ...]:
    return (TextContent(value),) if isinstance(value, str) else tuple(value)


def _assistant_content(value: Sequence[AssistantContent]) -> tuple[AssistantContent, ...]:
    return tuple(value)


# --- usage and cost ---------------------------------------------------------------


@attrs.frozen
class Cost:
    """Dollars spent on one message, per usage field."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0
    total: float = 0.0


@attrs.frozen
class CostTier:
    """Prices that apply to a whole call once its prompt (input, cache reads and cache
    writes together) reaches ``start`` tokens: the long-context tier of a provider."""

    start: int
    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0


def _tiers(value: Iterable[CostTier]) -> tuple[CostTier, ...]:
    return tuple(sorted(value, key=lambda t: t.start))


@attrs.frozen
class ModelCost:
    """A model's prices in dollars per million tokens (``tiers``: the higher prices of
    long prompts, chosen per call by the prompt's size)."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0
    tiers: tuple[CostTier, ...] = attrs.field(default=(), converter=_tiers, kw_only=True)

    def price(self, usage: Usage) -> Cost:
        rates: ModelCost | CostTier = self
        prompt = usage.input + usage.cache_read + usage.cache_write
        for tier in self.tiers:
            if prompt >= tier.start:
                rates = tier
        i = usage.input * rates.input / 1e6
        o = usage.output * rates.output / 1e6
        r = usage.cache_read * rates.cache_read / 1e6
        w = usage.cache_write * rates.cache_write / 1e6
        return Cost(i, o, r, w, i + o + r + w)


@attrs.frozen
class Spend:
    """What calls cost against a budget: dollars, prompt tokens (cache reads and
    writes included), output tokens, and requests sent. ``total`` is the tokens of both
    sides; spends add up with ``+``."""

    cost: float = 0.0
    input: int = 0
    output: int = 0
    requests: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output

    def __add__(self, other: Spend) -> Spend:
        if not isinstance(other, Spend):
            return NotImplemented
        return Spend(
            self.cost + other.cost,
            self.input + other.input,
            self.output + other.output,
            self.requests + other.requests,
        )

    def __sub__(self, other: Spend) -> Spend:
        if not isinstance(other, Spend):
            return NotImplemented
        return Spend(
            self.cost - other.cost,
            self.input - other.input,
            self.output - other.output,
            self.requests - other.requests,
        )


@attrs.frozen
class Usage:
    """Token counts for one message.

    ``input`` counts the prompt tokens that were neither read from nor written to the
    cache, so that every field is priced on its own: for OpenAI-style usage,
    ``input = prompt_tokens - cached_tokens - cache_write_tokens``. ``reasoning`` is the
    part of ``output`` spent thinking (already included in ``output``). ``total`` is
    ``input + output + cache_read + cache_write``. ``cost`` is None when the model has
    no prices.
    """

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0
    total: int = 0
    cost: Cost | None = None

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        if self.cost is None and other.cost is None:
            cost = None
        else:
            a = self.cost or Cost()
            b = other.cost or Cost()
            cost = Cost(
                a.input + b.input,
                a.output + b.output,
                a.cache_read + b.cache_read,
                a.cache_write + b.cache_write,
                a.total + b.total,
            )
        return Usage(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
            self.reasoning + other.reasoning,
            self.total + other.total,
            cost,
        )


# --- messages ---------------------------------------------------------------------


@attrs.frozen
class UserMessage:
    """What the user said: a string, or a sequence of text and image blocks."""

    content: str | tuple[UserContent, ...] = attrs.field(converter=_user_content)
    timestamp: float = attrs.field(factory=_now)
    role: Literal["user"] = attrs.field(default="user", init=False, repr=False)

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(c.text for c in self.content if isinstance(c, TextContent))


@attrs.frozen
class AssistantMessage:
    """What the model said, as assembled from its stream.

    A failed or aborted stream still yields an ``AssistantMessage``: ``stop_reason`` is
    ``error`` or ``aborted``, ``error_message`` says why, and ``content`` holds whatever
    arrived before the failure. ``provider_stop_reason`` is the provider's own word for
    why it stopped (``tool_calls``, ``end_turn``, ``content_filter``…), or None if it sent
    none; ``response_id`` is the provider's id for the response.
    """

    content: tuple[AssistantContent, ...] = attrs.field(converter=_assistant_content)
    stop_reason: StopReason = attrs.field(converter=StopReason)
    usage: Usage = attrs.field(factory=Usage)
    model: str = ""
    provider: str = ""
    error_message: str | None = None
    timestamp: float = attrs.field(factory=_now)
    provider_stop_reason: str | None = attrs.field(default=None, kw_only=True)
    response_id: str | None = attrs.field(default=None, kw_only=True)
    failure: Failure | None = attrs.field(default=None, kw_only=True)
    """Why it failed, typed, when ``stop_reason`` is ``error`` (else None)."""
    api: str | None = attrs.field(default=None, kw_only=True)
    """The wire format that produced it (``openai-chat``…): with ``model`` and
    ``provider`` it tells whether a later request goes to the same model, which decides
    whether thinking signatures may be sent back."""
    role: Literal["assistant"] = attrs.field(default="assistant", init=False, repr=False)

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.content if isinstance(c, TextContent))

    @property
    def thinking(self) -> str:
        return "".join(c.thinking for c in self.content if isinstance(c, ThinkingContent))

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(c for c in self.content if isinstance(c, ToolCall))


@attrs.frozen
class ToolResultMessage:
    """A tool's answer to one ``ToolCall``; ``is_error`` tells the model the call failed.

    ``details`` carries data for the application (UI, logs) that is not sent to the model.
    """

    tool_call_id: str
    tool_name: str
    content: tuple[UserContent, ...] = attrs.field(converter=_tool_content)
    is_error: bool = False
    details: Any = None
    timestamp: float = attrs.field(factory=_now)
    role: Literal["toolResult"] = attrs.field(default="toolResult", init=False, repr=False)

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.content if isinstance(c, TextContent))


Message: TypeAlias = UserMessage | AssistantMessage | ToolResultMessage


# --- tools, models and context ----------------------------------------------------


@runtime_checkable
class ToolSchema(Protocol):
    """What a provider needs to advertise a tool: a name, a description and a JSON Schema.

    Both :class:`ToolDefinition` and the agent's ``Tool`` satisfy it.
    """

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def parameters(self) -> Mapping[str, Any]: ...


@attrs.frozen
class ToolDefinition:
    """A tool as the model sees it, without an implementation."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = attrs.field(
        factory=lambda: {"type": "object", "properties": {}}
    )


SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization"})


def _headers_repr(headers: Mapping[str, str]) -> str:
    shown = {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
    return repr(shown)


def _frozen_headers(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


API = Literal[
    "openai-chat",
    "anthropic-messages",
    "openai-responses",
    "google-gemini",
    "bedrock-converse",
    "proxy",
]
"""The wire formats this version speaks (``Model.api``)."""

CacheMode = Literal["auto", "none", "long"]


_ENDPOINTS = ("/chat/completions", "/messages", "/responses", "/completions")


def _check_base_url(_inst: Any, _attr: Any, value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"base_url must be a URL string, got {type(value).__name__}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or _has_control(value):
        raise ValueError(
            f"base_url must be an http(s) URL such as 'https://api.openai.com/v1', got {value!r}"
        )
    trimmed = value.rstrip("/")
    for endpoint in _ENDPOINTS:
        if trimmed.endswith(endpoint):
            root = trimmed[: -len(endpoint)] or "https://api.openai.com/v1"
            raise ValueError(
                f"base_url is the API root, not an endpoint: {root!r} rather than {value!r} "
                f"(the provider adds {endpoint!r} itself)"
            )


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _check_id(_inst: Any, _attr: Any, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"a model id is a non-empty string such as 'gpt-4o-mini', got {value!r}")
    if _has_control(value):
        raise ValueError(f"a model id has no control characters (newline, NUL…), got {value!r}")


_unknown_api: Callable[[str], str | None] | None = None


def install_api_check(unknown: Callable[[str], str | None]) -> None:
    """Let ``Model`` refuse an ``api`` no provider serves: ``unknown(api)`` says why, or
    None (the providers install it on import; one registered later is known from then)."""
    global _unknown_api
    _unknown_api = unknown


def _check_api(_inst: Any, _attr: Any, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise TypeError(f"api is the name of a wire format such as 'openai-chat', got {value!r}")
    why = _unknown_api(value) if _unknown_api is not None else None
    if why is not None:
        raise ValueError(why)


def _check_count(_inst: Any, attr: Any, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attr.name} must be a whole number >= 1 or None, got {value!r}")


def _check_cache(_inst: Any, _attr: Any, value: Any) -> None:
    if value not in ("auto", "none", "long"):
        raise ValueError(f"cache must be 'auto', 'none' or 'long', got {value!r}")


@attrs.frozen
class Model:
    """Which model to call, where, and how.

    ``base_url`` is the API root as the openai SDK takes it (``https://api.openai.com/v1``,
    ``http://localhost:8000/v1``); ``api`` names the wire protocol. The key comes from
    ``api_key`` or, when that is None, from the environment variable ``api_key_env``. The
    key never appears in ``repr``.
    """

    id: str = attrs.field(validator=_check_id)
    base_url: str = attrs.field(validator=_check_base_url)
    api: API = attrs.field(default="openai-chat", validator=_check_api)
    api_key: str | None = attrs.field(default=None, repr=False)
    api_key_env: str | None = None
    provider: str | None = None
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_headers, repr=_headers_repr
    )
    context_window: int | None = attrs.field(default=None, validator=_check_count)
    max_tokens: int | None = attrs.field(default=None, validator=_check_count)
    reasoning: bool = False
    cost: ModelCost | None = None
    cache: CacheMode = attrs.field(default="auto", validator=_check_cache)
    """Prompt caching: ``auto`` marks cache breakpoints where the provider takes them
    (Anthropic; OpenAI caches on its own), ``long`` asks for the longer retention
    (Anthropic's 1 h), ``none`` sends no marker."""
    think_tags: bool = False
    """Read ``<think>…</think>`` in the reply's text as thinking (models served by vLLM,
    llama.cpp or Ollama that stream their reasoning inside the text)."""

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> Model:
        """``Model.from_name("openai:gpt-4o-mini")``: the provider's base URL, wire format
        and key variable, and the model's prices and context window from the catalogue
        (:mod:`tinyagent.catalogue`); keyword arguments override any field."""
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"a model name is a string such as 'openai:gpt-4o-mini', got {name!r}")
        if _has_control(name):
            raise ValueError(f"a model name has no control characters, got {name!r}")
        if _name_resolver is None:  # pragma: no cover - tinyagent/__init__ installs it
            raise RuntimeError("no model catalogue: import tinyagent.catalogue first")
        return _name_resolver(name, **overrides)

    @property
    def provider_name(self) -> str:
        """``provider`` if set, else the host of ``base_url`` (for messages and errors)."""
        if self.provider:
            return self.provider
        return _host_of(self.base_url)


@functools.lru_cache(maxsize=256)
def _host_of(base_url: str) -> str:
    """A base URL's host, parsed once per URL: every call and span names its provider."""
    return urlsplit(base_url).hostname or "unknown"


_name_resolver: Callable[..., Model] | None = None


def install_name_resolver(resolve: Callable[..., Model]) -> None:
    """Let ``Model.from_name`` read names with ``resolve`` (the catalogue installs its
    own on import): the records stay below the catalogue, which reads them."""
    global _name_resolver
    _name_resolver = resolve


def _message_tuple(value: Iterable[Message]) -> tuple[Message, ...]:
    return tuple(value)


def _tool_tuple(value: Iterable[ToolSchema]) -> tuple[ToolSchema, ...]:
    return tuple(value)


@attrs.frozen
class Context:
    """Everything a model call sends: the system prompt, the transcript and the tools."""

    system_prompt: str = ""
    messages: tuple[Message, ...] = attrs.field(default=(), converter=_message_tuple)
    tools: tuple[ToolSchema, ...] = attrs.field(default=(), converter=_tool_tuple)
