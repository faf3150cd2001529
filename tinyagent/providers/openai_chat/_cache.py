"""Anthropic-style cache breakpoints on OpenAI-compatible endpoints that take them.

OpenRouter passes ``cache_control`` on message content parts through to Anthropic and
Gemini models (``anthropic/…``, ``google/gemini…``); other chat-completions servers
cache prefixes on their own and get no marker. Breakpoints go on the system prompt and
the newest two user messages (rolling), at most 4 in all.
"""

from __future__ import annotations

from typing import Any

from ...messages import CacheMode, Model

__all__ = ["accepts_cache_markers", "mark_chat_body"]

_MARKER_PREFIXES = ("anthropic/", "google/gemini")
_MAX_MESSAGE_MARKS = 2


def accepts_cache_markers(model: Model, mode: CacheMode) -> bool:
    return mode != "none" and (model.id or "").startswith(_MARKER_PREFIXES)


def _marked(content: Any, marker: dict[str, Any]) -> Any:
    if isinstance(content, str):
        return [{"type": "text", "text": content, "cache_control": marker}] if content else content
    if isinstance(content, list) and content and isinstance(content[-1], dict):
        return [*content[:-1], {**content[-1], "cache_control": marker}]
    return content


def mark_chat_body(body: dict[str, Any], mode: CacheMode) -> None:
    """Add the breakpoints to a chat-completions body, in place."""
    marker: dict[str, Any] = {"type": "ephemeral"}
    if mode == "long":
        marker["ttl"] = "1h"
    messages = body["messages"]
    if messages and messages[0].get("role") == "system":
        messages[0] = {**messages[0], "content": _marked(messages[0]["content"], marker)}
    left = _MAX_MESSAGE_MARKS
    for i in range(len(messages) - 1, 0, -1):
        if left == 0:
            break
        if messages[i].get("role") == "user":
            messages[i] = {**messages[i], "content": _marked(messages[i]["content"], marker)}
            left -= 1
