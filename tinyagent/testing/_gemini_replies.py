"""Scripted Gemini replies (``streamGenerateContent?alt=sse`` bodies), as the API sends
them: whole ``GenerateContentResponse`` chunks, CRLF line ends, no end marker."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._replies import Reply, ToolCallSpec

__all__ = ["gemini_chunks_reply", "gemini_text_reply", "gemini_tool_call_reply"]


def gemini_chunks_reply(chunks: Sequence[Mapping[str, Any]], **reply: Any) -> Reply:
    """Each chunk one SSE event (``data: {...}`` and a blank line, CRLF)."""
    pieces = tuple(
        b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\r\n\r\n" for c in chunks
    )
    return Reply(pieces=pieces, **reply)


def _usage(prompt: int, output: int, thoughts: int = 0) -> dict[str, int]:
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "thoughtsTokenCount": thoughts,
        "totalTokenCount": prompt + output + thoughts,
    }


def _chunk(parts: list[dict[str, Any]], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "mock-model", **extra}


def gemini_text_reply(
    text: str,
    *,
    thought: str = "",
    signature: str | None = None,
    chunk_size: int = 8,
    finish_reason: str = "STOP",
    **reply: Any,
) -> Reply:
    """A streamed text answer, optionally after a thought summary; ``signature`` rides
    on an empty text part at the end, as Gemini sends it."""
    chunks = [_chunk([{"text": thought, "thought": True}])] if thought else []
    pieces = [text[i : i + chunk_size] for i in range(0, len(text), chunk_size)] or [""]
    chunks += [_chunk([{"text": p}]) for p in pieces]
    last: list[dict[str, Any]] = [{"text": "", "thoughtSignature": signature}] if signature else []
    usage = _usage(10, max(1, len(text) // 4), len(thought) // 4)
    chunks.append(_chunk(last, finish_reason, usageMetadata=usage))
    return gemini_chunks_reply(chunks, **reply)


def gemini_tool_call_reply(
    calls: Sequence[ToolCallSpec | tuple[str, Mapping[str, Any] | str]],
    *,
    text: str = "",
    signature: str | None = "c2lnbmF0dXJl",
    **reply: Any,
) -> Reply:
    """``functionCall`` parts, whole, in one chunk (the first one signed, as Gemini signs
    parallel calls), then the chunk with ``finishReason: STOP`` and usage."""
    specs = [c if isinstance(c, ToolCallSpec) else ToolCallSpec(c[0], c[1]) for c in calls]
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    for i, spec in enumerate(specs):
        args = json.loads(spec.arguments) if isinstance(spec.arguments, str) else spec.arguments
        part: dict[str, Any] = {"functionCall": {"name": spec.name, "args": dict(args)}}
        if i == 0 and signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    chunks = [_chunk(parts), _chunk([], "STOP", usageMetadata=_usage(20, 10))]
    return gemini_chunks_reply(chunks, **reply)
