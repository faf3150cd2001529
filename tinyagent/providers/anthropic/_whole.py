"""A whole Messages ``message`` (a proxy that ignored ``stream: true``) as the events a
stream of it would have sent, so that one parser reads both."""

from __future__ import annotations

import json
from typing import Any

from ..._util.json import dumps

__all__ = ["anthropic_whole_reply"]


def _block(index: int, block: dict[str, Any]) -> list[dict[str, Any]] | None:
    kind = block.get("type")

    def start(b: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_start", "index": index, "content_block": b}

    def delta(d: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": index, "delta": d}

    stop = {"type": "content_block_stop", "index": index}
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str):
            return None
        return [
            start({"type": "text", "text": ""}),
            delta({"type": "text_delta", "text": text}),
            stop,
        ]
    if kind == "thinking":
        out = [start({"type": "thinking", "thinking": ""})]
        out.append(delta({"type": "thinking_delta", "thinking": block.get("thinking") or ""}))
        if block.get("signature"):
            out.append(delta({"type": "signature_delta", "signature": block["signature"]}))
        return [*out, stop]
    if kind == "tool_use":
        args = block.get("input")
        head: dict[str, Any] = {
            "type": "tool_use",
            "id": block.get("id"),
            "name": block.get("name"),
            "input": {},
        }
        partial = json.dumps(args if args is not None else {}, ensure_ascii=False)
        return [start(head), delta({"type": "input_json_delta", "partial_json": partial}), stop]
    return [start(block), stop]  # redacted thinking, server tool blocks: as they are


def anthropic_whole_reply(obj: Any) -> list[bytes] | None:
    """The stream payloads equivalent to ``obj``, or None if it is no message."""
    if not isinstance(obj, dict):
        return None
    if obj.get("type") == "error":
        return [dumps(obj)]
    content = obj.get("content")
    if obj.get("type") != "message" or not isinstance(content, list):
        return None
    raw_usage = obj.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    head: dict[str, Any] = {
        "id": obj.get("id"), "type": "message", "role": "assistant", "model": obj.get("model"),
        "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 0},
    }  # fmt: skip
    events: list[dict[str, Any]] = [{"type": "message_start", "message": head}]
    for index, block in enumerate(content):
        part = _block(index, block) if isinstance(block, dict) else None
        if part is None:
            return None
        events.extend(part)
    end = {"stop_reason": obj.get("stop_reason"), "stop_sequence": obj.get("stop_sequence")}
    output = usage.get("output_tokens", 0)
    events.append({"type": "message_delta", "delta": end, "usage": {"output_tokens": output}})
    events.append({"type": "message_stop"})
    return [dumps(e) for e in events]
