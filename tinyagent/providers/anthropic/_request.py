"""The Anthropic Messages request: our records as ``/messages`` JSON.

Conversations move between providers, so the transcript is converted for the target
model here: tool-call ids rewritten to Anthropic's ``^[a-zA-Z0-9_-]{1,64}$``
(consistently in calls and results, distinct ids kept distinct), thinking sent back
unchanged only to the very model that signed it (from anyone else it becomes text, or
nothing when empty; a signature never leaves its model), empty text dropped,
consecutive tool results merged into one user message, and a half-received tool call
of an aborted or failed reply never replayed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..._util import wording as words
from ...messages import (
    AssistantMessage,
    CacheMode,
    Context,
    ImageContent,
    Message,
    Model,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    ToolSchema,
    UserContent,
    UserMessage,
)
from ...wire import ResponseFormat
from .._replay import safe_tool_id, same_model

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_MAX_TOKENS",
    "MAX_CACHE_BREAKPOINTS",
    "MESSAGE_BREAKPOINTS",
    "THINKING_BUDGETS",
    "anthropic_tool_id",
    "append_message",
    "build_body",
    "cache_marker",
    "encode_messages",
    "mark_messages",
]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
MAX_CACHE_BREAKPOINTS = 4
MESSAGE_BREAKPOINTS = MAX_CACHE_BREAKPOINTS - 2  # system and tools take the other two
MIN_THINKING_BUDGET = 1024
THINKING_BUDGETS = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
}
_NO_THINKING = frozenset({"none", "off", "disabled"})
_DATA_URL = re.compile(r"data:([^;,]+);base64,(.*)", re.DOTALL)


def anthropic_tool_id(original: str) -> str:
    """The id Anthropic accepts (``^[a-zA-Z0-9_-]{1,64}$``) for a tool call id from
    anywhere: :func:`safe_tool_id`."""
    return safe_tool_id(original)


def _image(c: ImageContent) -> dict[str, Any]:
    if c.data is not None:
        source = {"type": "base64", "media_type": c.mime_type, "data": c.data}
    else:
        url = c.url or ""
        m = _DATA_URL.fullmatch(url)
        if m is not None:
            source = {"type": "base64", "media_type": m.group(1), "data": m.group(2)}
        else:
            source = {"type": "url", "url": url}
    return {"type": "image", "source": source}


def _user_blocks(content: str | tuple[UserContent, ...]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks: list[dict[str, Any]] = []
    for c in content:
        if isinstance(c, TextContent):
            if c.text.strip():
                blocks.append({"type": "text", "text": c.text})
        else:
            blocks.append(_image(c))
    return blocks


def _assistant_blocks(m: AssistantMessage, model: Model, dropped: set[str]) -> list[dict[str, Any]]:
    same = same_model(m, model)
    broken = m.stop_reason in (StopReason.ERROR, StopReason.ABORTED)
    blocks: list[dict[str, Any]] = []
    for c in m.content:
        if isinstance(c, TextContent):
            if c.text.strip():
                blocks.append({"type": "text", "text": c.text})
        elif isinstance(c, ThinkingContent):
            if same and c.signature and c.redacted:
                blocks.append({"type": "redacted_thinking", "data": c.signature})
            elif same and c.signature:
                blocks.append(
                    {"type": "thinking", "thinking": c.thinking, "signature": c.signature}
                )
            elif not c.redacted and c.thinking.strip():
                blocks.append({"type": "text", "text": c.thinking})
        elif isinstance(c, ToolCall):
            if broken and not c.arguments_valid:
                dropped.add(c.id)  # cut off mid-call: never replayed, nor its result
                continue
            blocks.append(
                {
                    "type": "tool_use",
                    "id": anthropic_tool_id(c.id),
                    "name": c.name,
                    "input": dict(c.arguments),
                }
            )
    return blocks


def _tool_result(m: ToolResultMessage) -> dict[str, Any]:
    text = "".join(c.text for c in m.content if isinstance(c, TextContent))
    images = [_image(c) for c in m.content if isinstance(c, ImageContent)]
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": anthropic_tool_id(m.tool_call_id),
    }
    if images:
        # Anthropic rejects an empty text block: an image-only result gets a caption.
        block["content"] = [{"type": "text", "text": text or "(see attached image)"}, *images]
    else:
        block["content"] = text or "(no output)"
    if m.is_error:
        block["is_error"] = True
    return block


def encode_messages(messages: Sequence[Message], model: Model) -> list[dict[str, Any]]:
    """The transcript as Anthropic ``messages``: alternating roles, same-role messages
    merged (tool results first in their user message), nothing empty."""
    out: list[dict[str, Any]] = []
    dropped: set[str] = set()
    for m in messages:
        append_message(out, dropped, m, model)
    return out


def append_message(out: list[dict[str, Any]], dropped: set[str], m: Message, model: Model) -> None:
    """Add one message to ``out`` (merged into the last one when the role repeats);
    ``dropped`` collects the calls not replayed, whose results are dropped too."""
    if isinstance(m, UserMessage):
        _add(out, "user", _user_blocks(m.content))
    elif isinstance(m, AssistantMessage):
        _add(out, "assistant", _assistant_blocks(m, model, dropped))
    elif isinstance(m, ToolResultMessage):
        if m.tool_call_id not in dropped:
            _add(out, "user", [_tool_result(m)])
    else:
        raise TypeError(
            f"cannot send a {type(m).__name__} to an anthropic-messages model; convert it first"
        )


def _add(out: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def _encode_tool(t: ToolSchema) -> dict[str, Any]:
    schema = dict(t.parameters)
    schema.setdefault("type", "object")
    return {"name": t.name, "description": t.description, "input_schema": schema}


def _tool_choice(choice: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(choice, str):
        kind = {"required": "any"}.get(choice, choice)
        if kind not in ("auto", "any", "none"):
            raise ValueError(f"tool_choice {choice!r}: use auto, any (required), none or a tool")
        return {"type": kind}
    if choice.get("type") == "function":  # the OpenAI form names the tool under function
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else None
        return {"type": "tool", "name": name}
    return dict(choice)


def _thinking_budget(effort: str | None) -> int | None:
    if effort is None or effort in _NO_THINKING:
        return None
    if effort in THINKING_BUDGETS:
        return THINKING_BUDGETS[effort]
    if effort.isdigit():
        return max(int(effort), MIN_THINKING_BUDGET)
    raise ValueError(
        f"reasoning_effort {effort!r}: use one of {', '.join(THINKING_BUDGETS)}, none, "
        "or a token budget such as '4000'"
    )


def cache_marker(mode: CacheMode) -> dict[str, Any] | None:
    if mode == "none":
        return None
    return {"type": "ephemeral", "ttl": "1h"} if mode == "long" else {"type": "ephemeral"}


def mark_messages(messages: list[dict[str, Any]], marker: dict[str, Any], budget: int) -> None:
    """Breakpoints on the last block of the newest user messages (rolling: each request
    marks where the next one will find its prefix cached)."""
    for msg in reversed(messages):
        if budget <= 0:
            return
        if msg["role"] == "user":
            msg["content"][-1] = {**msg["content"][-1], "cache_control": marker}
            budget -= 1


def build_body(
    model: Model,
    context: Context,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    reasoning_effort: str | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    cache: CacheMode | None = None,
    session_id: str | None = None,
    response_format: ResponseFormat | None = None,
) -> dict[str, Any]:
    """The JSON body of a streaming ``/messages`` request."""
    if response_format is not None:
        raise ValueError(words.response_format_not_sent("anthropic-messages"))
    budget = _thinking_budget(reasoning_effort)
    limit = max_tokens if max_tokens is not None else model.max_tokens
    if budget is not None:
        if limit is None:
            limit = budget + DEFAULT_MAX_TOKENS
        elif limit <= MIN_THINKING_BUDGET:
            raise ValueError(
                f"thinking needs max_tokens above {MIN_THINKING_BUDGET} (its budget must be "
                f"at least {MIN_THINKING_BUDGET} and below max_tokens), got {limit}"
            )
        budget = min(budget, limit - 1)
    body: dict[str, Any] = {
        "model": model.id,
        "max_tokens": limit if limit is not None else DEFAULT_MAX_TOKENS,
        "stream": True,
    }
    marker = cache_marker(cache or model.cache)
    if context.system_prompt:
        system: dict[str, Any] = {"type": "text", "text": context.system_prompt}
        if marker is not None:
            system["cache_control"] = marker
        body["system"] = [system]
    messages = encode_messages(context.messages, model)
    if context.tools:
        tools = [_encode_tool(t) for t in context.tools]
        if marker is not None:
            tools[-1]["cache_control"] = marker
        body["tools"] = tools
    if marker is not None:
        # Tools and system take at most two of the four breakpoints (MESSAGE_BREAKPOINTS
        # stay for the newest user messages).
        mark_messages(messages, marker, MESSAGE_BREAKPOINTS)
    body["messages"] = messages
    if tool_choice is not None:
        choice = _tool_choice(tool_choice)
        if budget is not None and choice.get("type") in ("any", "tool"):
            raise ValueError(
                "Anthropic rejects a forced tool_choice (any or a named tool) while thinking "
                "is on: use tool_choice='auto' or reasoning_effort='none'"
            )
        body["tool_choice"] = choice
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    elif temperature is not None:
        body["temperature"] = temperature  # thinking forbids sampling options
    if session_id:
        body["metadata"] = {"user_id": session_id}
    if extra_body:
        body.update(extra_body)
    return body
