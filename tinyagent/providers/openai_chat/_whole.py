"""A whole ``chat.completion`` (a proxy that ignored ``stream: true``) as the chunks a
stream of it would have sent, so that one parser reads both."""

from __future__ import annotations

from typing import Any

from ..._util.json import dumps

__all__ = ["chat_whole_reply"]


def chat_whole_reply(obj: Any) -> list[bytes] | None:
    """The stream payloads equivalent to ``obj``, or None if it is no completion."""
    if not isinstance(obj, dict):
        return None
    choices = obj.get("choices")
    if "error" in obj and choices is None:
        return [dumps(obj)]  # an error object: the parser reads it as a stream's
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        return None
    delta: dict[str, Any] = {"role": "assistant"}
    for key in ("reasoning_content", "reasoning", "content", "refusal"):
        if message.get(key) is not None:
            delta[key] = message[key]
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        delta["tool_calls"] = [
            {"index": i, **call} for i, call in enumerate(calls) if isinstance(call, dict)
        ]
    head = {k: obj[k] for k in ("id", "model", "created", "system_fingerprint") if k in obj}
    head["object"] = "chat.completion.chunk"
    finish = choice.get("finish_reason")
    chunks = [{**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}]
    if obj.get("usage") is not None:
        chunks.append({**head, "choices": [], "usage": obj["usage"]})
    return [*(dumps(c) for c in chunks), b"[DONE]"]
