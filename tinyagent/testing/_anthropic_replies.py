"""Scripted Anthropic Messages streams for the local test server.

The same :class:`Reply` as the OpenAI builders; the events follow the real wire order
(``message_start``, blocks, ``message_delta``, ``message_stop``, with ``ping``s), each
with its ``event:`` line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._replies import Reply, ToolCallSpec, _pieces, _split

__all__ = [
    "anthropic_error_event_reply",
    "anthropic_events_reply",
    "anthropic_overloaded_reply",
    "anthropic_text_reply",
    "anthropic_tool_call_reply",
]


def _event(obj: Mapping[str, Any]) -> bytes:
    data = json.dumps(obj, separators=(",", ":"))
    return f"event: {obj['type']}\ndata: {data}\n\n".encode()


def anthropic_events_reply(
    events: Sequence[Mapping[str, Any]], *, per_write: int = 1, **reply: Any
) -> Reply:
    """A stream of the given event objects, verbatim."""
    return Reply(pieces=_pieces([_event(e) for e in events], per_write), **reply)


def _start(model: str, usage: Mapping[str, Any] | None, message_id: str) -> dict[str, Any]:
    u = {"input_tokens": 10, "output_tokens": 1, **(usage or {})}
    return {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": u,
        },
    }


def _end(stop_reason: str, output_tokens: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


def _block(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One content block's events: its start, its deltas, its stop."""
    return [
        {"type": "content_block_start", "index": index, "content_block": start},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def _text_block(index: int, text: str, chunk_size: int) -> list[dict[str, Any]]:
    parts = [{"type": "text_delta", "text": p} for p in _split(text, chunk_size)]
    return _block(index, {"type": "text", "text": ""}, parts)


def _thinking_block(
    index: int, thinking: str, signature: str, chunk_size: int
) -> list[dict[str, Any]]:
    parts = [{"type": "thinking_delta", "thinking": p} for p in _split(thinking, chunk_size)]
    parts.append({"type": "signature_delta", "signature": signature})
    return _block(index, {"type": "thinking", "thinking": "", "signature": ""}, parts)


def anthropic_text_reply(
    text: str,
    *,
    thinking: str = "",
    signature: str = "c2lnbmF0dXJl",
    chunk_size: int = 8,
    stop_reason: str = "end_turn",
    usage: Mapping[str, Any] | None = None,
    model: str = "mock-model",
    message_id: str = "msg_mock",
    per_write: int = 1,
    **reply: Any,
) -> Reply:
    """A streamed text answer, optionally after a signed thinking block."""
    events = [_start(model, usage, message_id), {"type": "ping"}]
    index = 0
    if thinking:
        events += _thinking_block(index, thinking, signature, chunk_size)
        index += 1
    events += _text_block(index, text, chunk_size)
    events += _end(stop_reason, max(1, len(text) // 4))
    return anthropic_events_reply(events, per_write=per_write, **reply)


def anthropic_tool_call_reply(
    calls: Sequence[ToolCallSpec | tuple[str, Mapping[str, Any] | str]],
    *,
    text: str = "",
    thinking: str = "",
    signature: str = "c2lnbmF0dXJl",
    chunk_size: int = 16,
    stop_reason: str = "tool_use",
    usage: Mapping[str, Any] | None = None,
    model: str = "mock-model",
    message_id: str = "msg_mock",
    per_write: int = 1,
    **reply: Any,
) -> Reply:
    """``tool_use`` blocks with their input streamed as ``input_json_delta`` fragments
    (the first one empty, as the API sends it)."""
    specs = [c if isinstance(c, ToolCallSpec) else ToolCallSpec(c[0], c[1]) for c in calls]
    events = [_start(model, usage, message_id)]
    index = 0
    if thinking:
        events += _thinking_block(index, thinking, signature, chunk_size)
        index += 1
    if text:
        events += _text_block(index, text, chunk_size)
        index += 1
    for i, spec in enumerate(specs):
        args = spec.arguments if isinstance(spec.arguments, str) else json.dumps(spec.arguments)
        start = {"type": "tool_use", "id": spec.id or f"toolu_{i}", "name": spec.name, "input": {}}
        parts = ["", *_split(args, chunk_size)]  # the API's first fragment is empty
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in parts]
        events += _block(index, start, deltas)
        index += 1
    events += _end(stop_reason, 20)
    return anthropic_events_reply(events, per_write=per_write, **reply)


def anthropic_error_event_reply(
    error_type: str = "overloaded_error",
    message: str = "Overloaded",
    *,
    text: str = "",
    model: str = "mock-model",
    **reply: Any,
) -> Reply:
    """A 200 stream whose ``error`` event comes first, or after some ``text``."""
    events: list[dict[str, Any]] = [_start(model, None, "msg_mock")]
    if text:
        events += _text_block(0, text, 8)[:-1]
    events.append({"type": "error", "error": {"type": error_type, "message": message}})
    return anthropic_events_reply(events, **reply)


def anthropic_overloaded_reply(status: int = 529, **reply: Any) -> Reply:
    """An HTTP error status with an Anthropic-shaped error body."""
    body = json.dumps(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    ).encode()
    return Reply(status=status, body=body, content_type="application/json", **reply)
