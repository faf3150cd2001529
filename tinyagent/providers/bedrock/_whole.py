"""A whole Converse reply (``/converse``'s JSON, where a stream was asked for) as the
events a ConverseStream of it would have sent, so that one parser reads both."""

from __future__ import annotations

from typing import Any

from ..._util.json import dumps

__all__ = ["bedrock_whole_reply"]


def _block(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    at = {"contentBlockIndex": index}
    if isinstance(block.get("text"), str):
        return [{"contentBlockDelta": {**at, "delta": {"text": block["text"]}}}]
    use = block.get("toolUse")
    if isinstance(use, dict):
        start = {"toolUse": {"toolUseId": use.get("toolUseId"), "name": use.get("name")}}
        piece = {"toolUse": {"input": dumps(use.get("input") or {}).decode()}}
        return [
            {"contentBlockStart": {**at, "start": start}},
            {"contentBlockDelta": {**at, "delta": piece}},
        ]
    reasoning = block.get("reasoningContent")
    if isinstance(reasoning, dict):
        text = reasoning.get("reasoningText")
        if isinstance(text, dict):
            parts = {"text": text.get("text", ""), "signature": text.get("signature", "")}
            return [{"contentBlockDelta": {**at, "delta": {"reasoningContent": parts}}}]
        redacted = reasoning.get("redactedContent")
        delta = {"reasoningContent": {"redactedContent": redacted}}
        return [{"contentBlockDelta": {**at, "delta": delta}}]
    return [{"contentBlockStart": {**at, "start": {"other": block}}}]  # the server's own


def bedrock_whole_reply(obj: object) -> list[bytes] | None:
    """The stream payloads (``{"<event>": member}``) of a whole reply, or None when
    ``obj`` is not one."""
    if not isinstance(obj, dict) or not isinstance(obj.get("output"), dict):
        return None
    message = obj["output"].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return None
    events: list[dict[str, Any]] = [{"messageStart": {"role": "assistant"}}]
    for i, block in enumerate(b for b in content if isinstance(b, dict)):
        events += _block(i, block)
        events.append({"contentBlockStop": {"contentBlockIndex": i}})
    events.append({"messageStop": {"stopReason": obj.get("stopReason")}})
    if isinstance(obj.get("usage"), dict):
        events.append({"metadata": {"usage": obj["usage"]}})
    return [dumps(e) for e in events]
