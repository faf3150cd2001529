"""Scripted replies for the local test server: what it sends, and how.

A :class:`Reply` is the exact bytes of one HTTP response plus the misbehaviour to
apply while sending them (delays, a stall, a mid-stream disconnect). The builders make
the common OpenAI-style streams without writing JSON by hand.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = [
    "Reply",
    "ToolCallSpec",
    "chunk",
    "chunks_reply",
    "error_reply",
    "sse_file_reply",
    "sse_reply",
    "stream_error_reply",
    "text_reply",
    "tool_call_reply",
]


@attrs.frozen(kw_only=True)
class Reply:
    """One scripted response.

    ``pieces`` are written one per TCP write (as HTTP chunks) when ``status`` is 200;
    otherwise ``body`` is sent whole. ``delay`` waits before the headers,
    ``chunk_delay`` between pieces; ``stall_after=n`` pauses ``stall`` seconds after the
    n-th piece; ``disconnect_after=n`` drops the connection after n pieces, mid-body;
    ``no_response`` drops it as the request arrives, before any byte of a response (what
    a server does to an idle keep-alive connection it has timed out).
    """

    status: int = 200
    pieces: tuple[bytes, ...] = ()
    body: bytes = b""
    content_type: str = "text/event-stream"
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0
    stall_after: int | None = None
    stall: float = 0.0
    disconnect_after: int | None = None
    no_response: bool = False

    def but(self, **changes: Any) -> Reply:
        """A copy with some fields changed: ``text_reply("hi").but(delay=1.0)``."""
        return attrs.evolve(self, **changes)


@attrs.frozen
class ToolCallSpec:
    """A tool call to script: arguments as a dict, or as raw text (even invalid JSON)."""

    name: str
    arguments: Mapping[str, Any] | str = attrs.field(factory=dict)
    id: str | None = None


def chunk(
    delta: Mapping[str, Any] | None = None,
    *,
    finish_reason: str | None = None,
    usage: Mapping[str, Any] | None = None,
    model: str = "mock-model",
    id: str = "chatcmpl-mock",
    choices: bool = True,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` object."""
    c: dict[str, Any] = {
        "id": id,
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "delta": dict(delta or {}), "finish_reason": finish_reason}]
        if choices
        else [],
    }
    if usage is not None:
        c["usage"] = dict(usage)
    return c


def _sse(obj: Any) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return b"data: " + data.encode() + b"\n\n"


def _pieces(events: Iterable[bytes], per_write: int) -> tuple[bytes, ...]:
    events = list(events)
    if per_write <= 1:
        return tuple(events)
    return tuple(b"".join(events[i : i + per_write]) for i in range(0, len(events), per_write))


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] if text else []


def _usage(prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def chunks_reply(
    chunks: Iterable[Mapping[str, Any] | str],
    *,
    done: bool = True,
    per_write: int = 1,
    **reply: Any,
) -> Reply:
    """A stream of the given chunk objects (or raw data strings), then ``[DONE]``."""
    events = [_sse(c) for c in chunks]
    if done:
        events.append(b"data: [DONE]\n\n")
    return Reply(pieces=_pieces(events, per_write), **reply)


def text_reply(
    text: str,
    *,
    reasoning: str = "",
    chunk_size: int = 8,
    finish_reason: str | None = "stop",
    usage: Mapping[str, Any] | None = None,
    model: str = "mock-model",
    per_write: int = 1,
    **reply: Any,
) -> Reply:
    """A streamed text answer (optionally after reasoning), with usage and ``[DONE]``."""
    chunks: list[Mapping[str, Any]] = [chunk({"role": "assistant", "content": ""}, model=model)]
    chunks += [chunk({"reasoning_content": r}, model=model) for r in _split(reasoning, chunk_size)]
    chunks += [chunk({"content": t}, model=model) for t in _split(text, chunk_size)]
    chunks.append(chunk({}, finish_reason=finish_reason, model=model))
    if usage is None:
        usage = _usage(10, max(1, len(text) // 4), reasoning=len(reasoning) // 4)
    chunks.append(chunk(usage=usage, model=model, choices=False))
    return chunks_reply(chunks, per_write=per_write, **reply)


def tool_call_reply(
    calls: Sequence[ToolCallSpec | tuple[str, Mapping[str, Any] | str]],
    *,
    text: str = "",
    chunk_size: int = 16,
    finish_reason: str | None = "tool_calls",
    usage: Mapping[str, Any] | None = None,
    model: str = "mock-model",
    interleave: bool = False,
    per_write: int = 1,
    **reply: Any,
) -> Reply:
    """Tool calls with their argument JSON streamed in fragments of ``chunk_size``.

    ``interleave=True`` alternates fragments of parallel calls, as some servers do.
    """
    specs = [c if isinstance(c, ToolCallSpec) else ToolCallSpec(c[0], c[1]) for c in calls]
    chunks: list[Mapping[str, Any]] = [chunk({"role": "assistant", "content": ""}, model=model)]
    chunks += [chunk({"content": t}, model=model) for t in _split(text, chunk_size)]
    streams: list[list[dict[str, Any]]] = []
    for i, spec in enumerate(specs):
        args = spec.arguments if isinstance(spec.arguments, str) else json.dumps(spec.arguments)
        call_id = spec.id or f"call_{i}"
        frags = _split(args, chunk_size) or [""]
        first = {
            "index": i,
            "id": call_id,
            "type": "function",
            "function": {"name": spec.name, "arguments": frags[0]},
        }
        deltas = [first] + [{"index": i, "function": {"arguments": f}} for f in frags[1:]]
        streams.append(deltas)
    if interleave:
        order: list[dict[str, Any]] = []
        for k in range(max((len(s) for s in streams), default=0)):
            order += [s[k] for s in streams if k < len(s)]
    else:
        order = [d for s in streams for d in s]
    chunks += [chunk({"tool_calls": [d]}, model=model) for d in order]
    chunks.append(chunk({}, finish_reason=finish_reason, model=model))
    chunks.append(chunk(usage=usage or _usage(20, 10), model=model, choices=False))
    return chunks_reply(chunks, per_write=per_write, **reply)


def error_reply(
    status: int, message: str = "", *, error_type: str = "server_error", **reply: Any
) -> Reply:
    """An HTTP error with an OpenAI-style JSON body."""
    body = json.dumps({"error": {"message": message or f"mock error {status}", "type": error_type}})
    return Reply(status=status, body=body.encode(), content_type="application/json", **reply)


def stream_error_reply(message: str, *, text: str = "", **reply: Any) -> Reply:
    """A 200 stream that carries an ``error`` object mid-way (as OpenRouter does)."""
    chunks: list[Mapping[str, Any]] = [chunk({"content": t}) for t in _split(text, 8)]
    chunks.append({"error": {"message": message, "code": 502}})
    return chunks_reply(chunks, done=False, **reply)


def sse_reply(
    raw: bytes, *, slices: tuple[int, int] | None = None, seed: int | None = None, **reply: Any
) -> Reply:
    """Replay a recorded body. With ``slices=(lo, hi)``, it is cut into random pieces of
    ``lo..hi`` bytes (deterministic for a given ``seed``), one per write."""
    if slices is None:
        return Reply(pieces=(raw,), **reply)
    rng = random.Random(seed)
    lo, hi = slices
    pieces: list[bytes] = []
    i = 0
    while i < len(raw):
        n = rng.randint(lo, hi)
        pieces.append(raw[i : i + n])
        i += n
    return Reply(pieces=tuple(pieces), **reply)


def sse_file_reply(path: str | Path, **kwargs: Any) -> Reply:
    """Replay a recorded ``.sse`` file (see :func:`sse_reply`)."""
    return sse_reply(Path(path).read_bytes(), **kwargs)
