"""Chat-completions shapes read into tinyagent's records: the ``messages`` of an input
line, and an OpenAI Batch request body — checked as they are read (a wrong shape is
that line's error, named), and translated for the provider the batch runs on.

Nothing is dropped in silence: an image part becomes an image; a content part or a
body field with no equivalent in the batch's wire format is refused, naming it, rather
than sent where it means nothing (or something else).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._util.json import loads
from ..messages import (
    AssistantMessage,
    ImageContent,
    Message,
    StopReason,
    TextContent,
    TinyAgentError,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)
from ..wire import ResponseFormat

__all__ = [
    "BodyError",
    "as_list",
    "chat_message",
    "chat_options",
    "for_api",
    "system_text",
    "tool_definitions",
]


class BodyError(TinyAgentError, ValueError):
    """A request body this batch's wire format cannot send as it is."""


# Body fields each wire format takes, and under which name (None: as they are).
_PORTABLE = {"temperature", "tool_choice", "reasoning_effort"}
_ANTHROPIC = {"top_p": "top_p", "stop": "stop_sequences", "user": "metadata", "metadata": None}
_RESPONSES = {
    "top_p": "top_p", "user": "user", "metadata": "metadata", "store": "store",
    "parallel_tool_calls": "parallel_tool_calls", "service_tier": "service_tier",
}  # fmt: skip


def as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list, got {type(value).__name__} {value!r:.60}")
    return value


def _image(part: Mapping[str, Any], where: str) -> ImageContent:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str) or not url:
        raise ValueError(f"{where}: an image_url part needs image_url.url, got {part!r:.80}")
    try:
        return ImageContent.from_url(url)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _parts(content: Any, where: str, images: bool) -> str | tuple[Any, ...]:
    """A message's content: a string, or its parts (text, and images where taken)."""
    if content is None or isinstance(content, str):
        return content or ""
    parts: list[Any] = []
    for part in as_list(content, f"{where}.content"):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(TextContent(part["text"]))
        elif kind == "image_url" and images:
            parts.append(_image(part, where))
        else:
            shown = kind if isinstance(kind, str) else repr(part)[:60]
            raise ValueError(f"{where}: a content part of type {shown!r} cannot be sent here")
    if all(isinstance(p, TextContent) for p in parts):
        return "".join(p.text for p in parts)
    return tuple(parts)


def _text(content: Any, where: str) -> str:
    out = _parts(content, where, images=False)
    assert isinstance(out, str)
    return out


def chat_message(m: Any, where: str) -> Message:
    """One chat message (user, assistant or tool) as a record."""
    if not isinstance(m, dict) or m.get("role") not in ("user", "assistant", "tool"):
        raise ValueError(f"{where}: a message is {{'role': user|assistant|tool, ...}}, got {m!r}")
    role = m["role"]
    if role == "user":
        return UserMessage(_parts(m.get("content"), where, images=True))
    text = _text(m.get("content"), where)
    if role == "tool":
        return ToolResultMessage(str(m.get("tool_call_id", "")), str(m.get("name", "")), text)
    parts: list[Any] = [TextContent(text)] if text else []
    calls = as_list(m.get("tool_calls"), f"{where}.tool_calls")
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ValueError(
                f"{where}: a tool call is {{'id', 'function': {{'name', 'arguments'}}}}"
            )
        raw = fn.get("arguments") or "{}"
        if not isinstance(raw, str):
            raise ValueError(f"{where}: a tool call's arguments are a JSON string, got {raw!r:.60}")
        parts.append(ToolCall(str(call.get("id", "")), fn["name"], loads(raw), raw))
    stop = StopReason.TOOL_USE if calls else StopReason.STOP
    return AssistantMessage(tuple(parts), stop)


def system_text(m: Mapping[str, Any], where: str) -> str:
    return _text(m.get("content"), where)


def tool_definitions(tools: Any) -> list[ToolDefinition]:
    out = []
    for t in as_list(tools, "body.tools"):
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ValueError(
                f"body.tools: a tool is {{'type': 'function', 'function': {{'name', ...}}}}, got {t!r:.80}"
            )
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(params, dict):
            raise ValueError(f"body.tools: {fn['name']}'s parameters must be a JSON Schema object")
        description = fn.get("description") or ""
        out.append(ToolDefinition(fn["name"], str(description), params))
    return out


def chat_options(body: Mapping[str, Any]) -> dict[str, Any]:
    """A body's call options: the portable ones by name, the rest (``top_p``, ``stop``,
    ``seed``…) under ``chat_extras`` until :func:`for_api` knows where they go."""
    options: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("model", "messages", "tools", "stream", "stream_options", "n"):
            continue
        if key in ("max_completion_tokens", "max_tokens"):
            options["max_tokens"] = value
        elif key in _PORTABLE:
            options[key] = value
        else:
            extras[key] = value
    if extras:
        options["chat_extras"] = extras
    return options


def _response_format(value: Any) -> ResponseFormat:
    spec = value.get("json_schema") if isinstance(value, Mapping) else None
    if (
        not isinstance(value, Mapping)
        or value.get("type") != "json_schema"
        or not isinstance(spec, Mapping)
    ):
        raise BodyError(
            f"body.response_format {value!r:.80} has no equivalent here: only "
            "{'type': 'json_schema', 'json_schema': {...}} is translated"
        )
    return ResponseFormat(
        str(spec.get("name") or "answer"), spec.get("schema") or {}, bool(spec.get("strict")),
        spec.get("description"),
    )  # fmt: skip


def for_api(options: Mapping[str, Any], api: str) -> dict[str, Any]:
    """A parsed body's options for a call in wire format ``api``: chat completions take
    the body's fields as they are; Anthropic's Messages and OpenAI's Responses take
    those with an equivalent, renamed; a field with none is refused, naming it."""
    out = dict(options)
    extras: dict[str, Any] = out.pop("chat_extras", None) or {}
    if not extras:
        return out
    if api == "openai-chat":
        out["extra_body"] = extras
        return out
    names = (
        _ANTHROPIC
        if api == "anthropic-messages"
        else _RESPONSES
        if api == "openai-responses"
        else {}
    )
    body: dict[str, Any] = {}
    for key, value in extras.items():
        if key == "response_format":
            out["response_format"] = _response_format(value)
            continue
        if key not in names:
            raise BodyError(
                f"body.{key} has no equivalent in {api}; remove it, or run the batch on "
                "--api openai-chat"
            )
        target = names[key] or key
        if key == "stop":
            value = [value] if isinstance(value, str) else value
        elif key == "user" and api == "anthropic-messages":
            value = {"user_id": value}
        body[target] = value
    if body:
        out["extra_body"] = body
    return out
