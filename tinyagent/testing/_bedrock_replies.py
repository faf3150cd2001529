"""Scripted Bedrock ConverseStream replies: AWS event-stream frames, as the API sends
them (``application/vnd.amazon.eventstream``), each event a frame with its headers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..wire import encode_frame
from ._replies import Reply, ToolCallSpec

__all__ = ["bedrock_events_reply", "bedrock_text_reply", "bedrock_tool_call_reply"]

CONTENT_TYPE = "application/vnd.amazon.eventstream"


def bedrock_events_reply(events: Sequence[tuple[str, Mapping[str, Any]]], **reply: Any) -> Reply:
    """Each ``(event type, member)`` one frame (an event type ending in ``Exception`` an
    exception frame)."""
    pieces = []
    for kind, member in events:
        exception = kind.endswith("Exception")
        headers = {
            (":exception-type" if exception else ":event-type"): kind,
            ":content-type": "application/json",
            ":message-type": "exception" if exception else "event",
        }
        pieces.append(encode_frame(headers, json.dumps(member, separators=(",", ":")).encode()))
    reply.setdefault("content_type", CONTENT_TYPE)
    return Reply(pieces=tuple(pieces), **reply)


def _end(reason: str, output: int) -> list[tuple[str, Mapping[str, Any]]]:
    usage = {"inputTokens": 10, "outputTokens": output, "totalTokens": 10 + output}
    return [
        ("messageStop", {"stopReason": reason}),
        ("metadata", {"usage": usage, "metrics": {"latencyMs": 1}}),
    ]


def bedrock_text_reply(
    text: str,
    *,
    reasoning: str = "",
    signature: str = "c2lnbmF0dXJl",
    chunk_size: int = 8,
    **reply: Any,
) -> Reply:
    """A streamed text answer, optionally after signed reasoning."""
    events: list[tuple[str, Mapping[str, Any]]] = [("messageStart", {"role": "assistant"})]
    index = 0
    if reasoning:
        events += [("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": reasoning}}}),
                   ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": signature}}}),
                   ("contentBlockStop", {"contentBlockIndex": 0})]  # fmt: skip
        index = 1
    for i in range(0, len(text), chunk_size):
        delta = {"contentBlockIndex": index, "delta": {"text": text[i : i + chunk_size]}}
        events.append(("contentBlockDelta", delta))
    events.append(("contentBlockStop", {"contentBlockIndex": index}))
    return bedrock_events_reply(events + _end("end_turn", max(1, len(text) // 4)), **reply)


def bedrock_tool_call_reply(
    calls: Sequence[ToolCallSpec | tuple[str, Mapping[str, Any] | str]],
    *,
    text: str = "",
    chunk_size: int = 16,
    **reply: Any,
) -> Reply:
    """``toolUse`` blocks with their input streamed in fragments of ``chunk_size``."""
    specs = [c if isinstance(c, ToolCallSpec) else ToolCallSpec(c[0], c[1]) for c in calls]
    events: list[tuple[str, Mapping[str, Any]]] = [("messageStart", {"role": "assistant"})]
    index = 0
    if text:
        events += [("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}}),
                   ("contentBlockStop", {"contentBlockIndex": 0})]  # fmt: skip
        index = 1
    for i, spec in enumerate(specs):
        args = spec.arguments if isinstance(spec.arguments, str) else json.dumps(spec.arguments)
        start = {"toolUse": {"toolUseId": spec.id or f"tooluse_{i}", "name": spec.name}}
        events.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        for j in range(0, len(args), chunk_size):
            piece = {"toolUse": {"input": args[j : j + chunk_size]}}
            events.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": piece}))
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    return bedrock_events_reply(events + _end("tool_use", 20), **reply)
