"""The relay's side of the proxy protocol: a request body read into our records, and
stream events written as the events the seed's ``stream_proxy`` (and pi's client) read.

Requests come in three spellings, all read: the seed's (snake_case, ``tool_result`` and
``tool_call``, timestamps in milliseconds), pi-mono's (camelCase, ``toolResult`` and
``toolCall``, content as a string or parts) and ours (``serde``'s). Events are written in
the dialect the request came in: a camelCase request gets ``toolUse`` and camelCase
usage, as pi's client expects; the seed's gets ``tool_use`` and snake_case usage.
Anything unusable is a :class:`RelayRequestError` that names where it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ... import serde
from ..._util.json import dumps, loads
from ...messages import (
    AssistantMessage,
    Context,
    DoneEvent,
    ErrorEvent,
    Message,
    StreamEvent,
    TextDeltaEvent,
    TextEndEvent,
    TextStartEvent,
    ThinkingDeltaEvent,
    ThinkingEndEvent,
    ThinkingStartEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
    ToolDefinition,
    Usage,
)

__all__ = ["RelayEncoder", "RelayRequest", "RelayRequestError", "read_relay_request"]

EFFORTS = ("minimal", "low", "medium", "high", "xhigh")


class RelayRequestError(ValueError):
    """A request body the relay cannot use; the text says what and where."""


@attrs.frozen
class RelayRequest:
    """What a proxy client asked for: which model (by the client's names), the context,
    the call's options (``StreamOptions`` names), and the dialect to answer in."""

    provider: str
    model_id: str
    api: str
    context: Context
    options: Mapping[str, Any]
    camel: bool
    """pi's spelling (camelCase): answered in it."""


_ROLES = {"user": "user", "assistant": "assistant", "tool_result": "toolResult",
          "toolResult": "toolResult"}  # fmt: skip
_BLOCKS = {"text": "text", "thinking": "thinking", "image": "image", "tool_call": "toolCall",
           "toolCall": "toolCall"}  # fmt: skip
_RENAMED = {
    "toolCallId": "tool_call_id",
    "toolName": "tool_name",
    "isError": "is_error",
    "stopReason": "stop_reason",
    "errorMessage": "error_message",
    "mimeType": "mime_type",
    "thinkingSignature": "signature",
    "thinking_signature": "signature",
    "providerStopReason": "provider_stop_reason",
    "responseId": "response_id",
    "rawArguments": "raw_arguments",
    "argumentsError": "arguments_error",
    "cacheRead": "cache_read",
    "cacheWrite": "cache_write",
    "totalTokens": "total",
    "total_tokens": "total",
}
# Spellings of the seed's and pi's records that ours have no field for.
_DROPPED = frozenset({"text_signature", "textSignature", "partial_json", "partialJson",
                      "cache_control", "cacheControl", "label", "terminate"})  # fmt: skip
_STOPS = {"complete": "stop", "tool_calls": "tool_use", "toolUse": "tool_use"}


def _renamed(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {_RENAMED.get(k, k): v for k, v in obj.items() if k not in _DROPPED and v is not None}


def _seconds(value: Any) -> Any:
    # Milliseconds (the seed's and pi's) to seconds (ours): no timestamp in seconds is
    # anywhere near 10**11 (the year 5138).
    if type(value) in (int, float) and value > 1e11:
        return value / 1000
    return value


def _block(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise RelayRequestError(f"{where}: a content block must be an object")
    kind = _BLOCKS.get(raw.get("type"))  # type: ignore[arg-type]
    if kind is None:
        raise RelayRequestError(
            f"{where}.type: unknown content type {raw.get('type')!r} "
            f"(known: {', '.join(sorted(_BLOCKS))})"
        )
    block = _renamed(raw)
    block["type"] = kind
    return block


def _usage(raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        return None
    usage = _renamed(raw)
    cost = usage.get("cost")
    if isinstance(cost, Mapping):
        usage["cost"] = _renamed(cost)
    return usage


def _message(raw: Any, where: str) -> Message:
    if not isinstance(raw, Mapping):
        raise RelayRequestError(f"{where}: a message must be an object")
    role = _ROLES.get(raw.get("role"))  # type: ignore[arg-type]
    if role is None:
        raise RelayRequestError(
            f"{where}.role: unknown role {raw.get('role')!r} (known: user, assistant, "
            "tool_result / toolResult)"
        )
    msg = _renamed(raw)
    msg["role"] = role
    if "timestamp" in msg:
        msg["timestamp"] = _seconds(msg["timestamp"])
    content = msg.get("content")
    if isinstance(content, list):
        msg["content"] = [
            _block(b, f"{where}.content[{i}]") for i, b in enumerate(content) if b is not None
        ]
    elif role != "user" or not isinstance(content, str):
        raise RelayRequestError(f"{where}.content: must be a list of content blocks")
    if role == "assistant":
        msg["stop_reason"] = _STOPS.get(msg.get("stop_reason"), msg.get("stop_reason", "stop"))  # type: ignore[arg-type]
        if "usage" in msg:
            usage = _usage(msg["usage"])
            if usage is None:
                del msg["usage"]
            else:
                msg["usage"] = usage
    try:
        return serde.structure(msg, Message)  # type: ignore[no-any-return]
    except Exception as exc:  # cattrs raises several kinds; each is a bad field
        raise RelayRequestError(f"{where}: {_why(exc)}") from None


def _why(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)
    if inner:
        return _why(inner[0])
    return str(exc) or type(exc).__name__


def _tool(raw: Any, where: str) -> ToolDefinition:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise RelayRequestError(f"{where}: a tool must be an object with a string name")
    params = raw.get("parameters")
    if params is None:
        params = {"type": "object", "properties": {}}
    if not isinstance(params, Mapping):
        raise RelayRequestError(f"{where}.parameters: must be a JSON Schema object")
    description = raw.get("description")
    try:
        return ToolDefinition(
            raw["name"], description if isinstance(description, str) else "", params
        )
    except (TypeError, ValueError) as exc:
        raise RelayRequestError(f"{where}: {exc}") from None


def _options(raw: Any, model: Mapping[str, Any]) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise RelayRequestError("options: must be an object")
    out: dict[str, Any] = {}
    temperature = raw.get("temperature")
    if temperature is not None:
        if type(temperature) not in (int, float):
            raise RelayRequestError("options.temperature: must be a number")
        out["temperature"] = float(temperature)
    limit = raw.get("maxTokens", raw.get("max_tokens"))
    if limit is not None:
        if type(limit) is not int or limit < 1:
            raise RelayRequestError("options.maxTokens: must be a whole number >= 1")
        out["max_tokens"] = limit
    effort = raw.get("reasoning")
    if isinstance(effort, Mapping):  # {"effort": "high"}
        effort = effort.get("effort")
    if effort is None:
        level = model.get("thinking_level", model.get("thinkingLevel"))
        effort = level if isinstance(level, str) else None
    if effort not in (None, "off", *EFFORTS):
        raise RelayRequestError(
            f"options.reasoning: unknown level {effort!r} (known: off, {', '.join(EFFORTS)})"
        )
    if effort not in (None, "off"):
        out["reasoning_effort"] = effort
    choice = raw.get("toolChoice", raw.get("tool_choice"))
    if choice is not None:
        if not isinstance(choice, str | Mapping):
            raise RelayRequestError("options.toolChoice: must be a string or an object")
        out["tool_choice"] = choice
    return out


def read_relay_request(body: bytes) -> RelayRequest:
    """A proxy request body, read; :class:`RelayRequestError` says what is wrong."""
    try:
        data = loads(body)
    except ValueError as exc:
        raise RelayRequestError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise RelayRequestError("the body must be a JSON object")
    model = data.get("model")
    if not isinstance(model, Mapping) or not isinstance(model.get("id"), str) or not model["id"]:
        raise RelayRequestError("model: must be an object with a non-empty string id")
    context = data.get("context")
    if not isinstance(context, Mapping):
        raise RelayRequestError("context: must be an object")
    camel = "systemPrompt" in context
    system = context.get("systemPrompt", context.get("system_prompt")) or ""
    if not isinstance(system, str):
        raise RelayRequestError("context.system_prompt: must be a string")
    messages = context.get("messages") or []
    if not isinstance(messages, list):
        raise RelayRequestError("context.messages: must be a list")
    tools = context.get("tools") or []
    if not isinstance(tools, list):
        raise RelayRequestError("context.tools: must be a list")
    msgs = [_message(m, f"context.messages[{i}]") for i, m in enumerate(messages)]
    camel = camel or any(isinstance(m, Mapping) and m.get("role") == "toolResult" for m in messages)
    defs = [_tool(t, f"context.tools[{i}]") for i, t in enumerate(tools)]
    provider = model.get("provider")
    api = model.get("api")
    return RelayRequest(
        provider if isinstance(provider, str) else "",
        model["id"],
        api if isinstance(api, str) else "",
        Context(system, msgs, defs),
        _options(data.get("options"), model),
        camel,
    )


class RelayEncoder:
    """Stream events written as proxy events (``data: {...}`` SSE lines), in the dialect
    of the request."""

    __slots__ = ("_camel",)

    def __init__(self, camel: bool = False) -> None:
        self._camel = camel

    def start(self) -> bytes:
        return b'data: {"type":"start"}\n\n'

    def encode(self, event: StreamEvent) -> bytes | None:
        """One stream event's SSE bytes, or None for an event the protocol has no word
        for (the start, which :meth:`start` writes)."""
        obj = self.event_object(event)
        return None if obj is None else b"data: " + dumps(obj) + b"\n\n"

    def event_object(self, event: StreamEvent) -> dict[str, Any] | None:
        if isinstance(event, TextDeltaEvent | ThinkingDeltaEvent | ToolCallDeltaEvent):
            return {"type": event.type, "contentIndex": event.index, "delta": event.delta}
        if isinstance(event, TextStartEvent | ThinkingStartEvent | TextEndEvent | ToolCallEndEvent):
            return {"type": event.type, "contentIndex": event.index}
        if isinstance(event, ThinkingEndEvent):
            out: dict[str, Any] = {"type": "thinking_end", "contentIndex": event.index}
            if event.content.signature:
                out["contentSignature"] = event.content.signature
            if event.content.redacted:
                out["redacted"] = True
            return out
        if isinstance(event, ToolCallStartEvent):
            return {"type": "toolcall_start", "contentIndex": event.index, "id": event.id,
                    "toolName": event.name}  # fmt: skip
        if isinstance(event, DoneEvent):
            return self._end("done", event.message)
        if isinstance(event, ErrorEvent):
            return self._end("error", event.message)
        return None

    def _end(self, kind: str, message: AssistantMessage) -> dict[str, Any]:
        reason = str(message.stop_reason)
        if kind == "done" and reason == "tool_use" and self._camel:
            reason = "toolUse"
        out: dict[str, Any] = {"type": kind, "reason": reason, "usage": self.usage(message.usage)}
        if kind == "error":
            out["errorMessage"] = message.error_message or "the model call failed"
            f = message.failure
            if f is not None:
                out["failure"] = {"kind": str(f.kind), "status": f.status, "code": f.code,
                                  "retryAfter": f.retry_after}  # fmt: skip
        if message.response_id is not None:
            out["responseId"] = message.response_id
        return out

    def usage(self, u: Usage) -> dict[str, Any]:
        c = u.cost
        cost = [c.input, c.output, c.cache_read, c.cache_write, c.total] if c else [0.0] * 5
        if self._camel:
            keys = ("input", "output", "cacheRead", "cacheWrite", "total")
            return {"input": u.input, "output": u.output, "cacheRead": u.cache_read,
                    "cacheWrite": u.cache_write, "totalTokens": u.total,
                    "reasoning": u.reasoning, "cost": dict(zip(keys, cost, strict=True))}  # fmt: skip
        keys = ("input", "output", "cache_read", "cache_write", "total")
        return {"input": u.input, "output": u.output, "cache_read": u.cache_read,
                "cache_write": u.cache_write, "total_tokens": u.total, "reasoning": u.reasoning,
                "cost": dict(zip(keys, cost, strict=True))}  # fmt: skip
