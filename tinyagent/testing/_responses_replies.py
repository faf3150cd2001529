"""Scripted OpenAI Responses streams for the local test server.

The events follow the real wire order (``response.created``, then per output item
``output_item.added``, its deltas, ``output_item.done``, then ``response.completed``),
each with its ``event:`` line and a ``sequence_number``. A reasoning item comes first
when asked for, with an encrypted payload and a streamed summary, as reasoning models
send it with ``include: ["reasoning.encrypted_content"]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._replies import Reply, ToolCallSpec, _pieces, _split

__all__ = [
    "responses_error_reply",
    "responses_events_reply",
    "responses_text_reply",
    "responses_tool_call_reply",
]


def responses_events_reply(
    events: Sequence[Mapping[str, Any]], *, per_write: int = 1, **reply: Any
) -> Reply:
    """A stream of the given event objects, numbered in order (``sequence_number``)."""
    out = []
    for n, e in enumerate(events):
        data = json.dumps({"type": e["type"], "sequence_number": n, **e}, separators=(",", ":"))
        out.append(f"event: {e['type']}\ndata: {data}\n\n".encode())
    return Reply(pieces=_pieces(out, per_write), **reply)


def _response(rid: str, model: str, status: str, usage: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"id": rid, "object": "response", "model": model, "status": status, "usage": usage}


def _reasoning(
    index: int, rid: str, summary: str, encrypted: str, chunk: int
) -> list[dict[str, Any]]:
    item_id = f"rs_{rid}_{index}"
    added = {"id": item_id, "type": "reasoning", "summary": []}
    done = {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": summary}] if summary else [],
        "encrypted_content": encrypted,
    }
    deltas = [
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": item_id,
            "output_index": index,
            "summary_index": 0,
            "delta": p,
        }
        for p in _split(summary, chunk)
    ]
    return [
        {"type": "response.output_item.added", "output_index": index, "item": added},
        *deltas,
        {"type": "response.output_item.done", "output_index": index, "item": done},
    ]


def _message(index: int, rid: str, text: str, chunk: int) -> list[dict[str, Any]]:
    item_id = f"msg_{rid}_{index}"
    part = {"type": "output_text", "text": text, "annotations": []}
    return [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {
                "id": item_id,
                "type": "message",
                "role": "assistant",
                "content": [],
                "status": "in_progress",
            },
        },
        *(
            {
                "type": "response.output_text.delta",
                "item_id": item_id,
                "output_index": index,
                "content_index": 0,
                "delta": p,
            }
            for p in _split(text, chunk)
        ),
        {
            "type": "response.output_item.done",
            "output_index": index,
            "item": {
                "id": item_id,
                "type": "message",
                "role": "assistant",
                "content": [part],
                "status": "completed",
            },
        },
    ]


def _call(index: int, rid: str, spec: ToolCallSpec, n: int, chunk: int) -> list[dict[str, Any]]:
    item_id = f"fc_{rid}_{index}"
    call_id = spec.id or f"call_{rid}_{n}"
    args = spec.arguments if isinstance(spec.arguments, str) else json.dumps(spec.arguments)
    item = {"id": item_id, "type": "function_call", "call_id": call_id, "name": spec.name}
    return [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "arguments": "", "status": "in_progress"},
        },
        *(
            {
                "type": "response.function_call_arguments.delta",
                "item_id": item_id,
                "output_index": index,
                "delta": p,
            }
            for p in _split(args, chunk)
        ),
        {
            "type": "response.function_call_arguments.done",
            "item_id": item_id,
            "output_index": index,
            "arguments": args,
        },
        {
            "type": "response.output_item.done",
            "output_index": index,
            "item": {**item, "arguments": args, "status": "completed"},
        },
    ]


def _events(
    items: list[list[dict[str, Any]]],
    rid: str,
    model: str,
    usage: Mapping[str, Any] | None,
    status: str,
    incomplete: str | None,
) -> list[dict[str, Any]]:
    u = usage if usage is not None else {"input_tokens": 10, "output_tokens": 5}
    end = _response(rid, model, status, u)
    if incomplete is not None:
        end["incomplete_details"] = {"reason": incomplete}
    kind = {"completed": "response.completed", "incomplete": "response.incomplete"}[status]
    return [
        {"type": "response.created", "response": _response(rid, model, "in_progress", None)},
        *(e for item in items for e in item),
        {"type": kind, "response": end},
    ]


def responses_text_reply(
    text: str,
    *,
    reasoning: str | None = None,
    encrypted: str = "ZW5jcnlwdGVk",
    chunk_size: int = 8,
    usage: Mapping[str, Any] | None = None,
    incomplete: str | None = None,
    model: str = "mock-model",
    response_id: str = "resp_mock",
    per_write: int = 1,
    **reply: Any,
) -> Reply:
    """A streamed text answer, after a reasoning item when ``reasoning`` is given (its
    summary; ``""`` for an encrypted item with no summary). ``incomplete="max_output_tokens"``
    ends it as ``response.incomplete``."""
    items = []
    if reasoning is not None:
        items.append(_reasoning(0, response_id, reasoning, encrypted, chunk_size))
    items.append(_message(len(items), response_id, text, chunk_size))
    status = "completed" if incomplete is None else "incomplete"
    events = _events(items, response_id, model, usage, status, incomplete)
    return responses_events_reply(events, per_write=per_write, **reply)


def responses_tool_call_reply(
    calls: Sequence[ToolCallSpec | tuple[str, Mapping[str, Any] | str]],
    *,
    reasoning: str | None = None,
    encrypted: str = "ZW5jcnlwdGVk",
    text: str = "",
    chunk_size: int = 16,
    usage: Mapping[str, Any] | None = None,
    model: str = "mock-model",
    response_id: str = "resp_mock",
    per_write: int = 1,
    **reply: Any,
) -> Reply:
    """``function_call`` items with their arguments streamed in fragments (and restated
    whole at the end, as the API does), after a reasoning item when asked for."""
    specs = [c if isinstance(c, ToolCallSpec) else ToolCallSpec(c[0], c[1]) for c in calls]
    items = []
    if reasoning is not None:
        items.append(_reasoning(0, response_id, reasoning, encrypted, chunk_size))
    if text:
        items.append(_message(len(items), response_id, text, chunk_size))
    for n, spec in enumerate(specs):
        items.append(_call(len(items), response_id, spec, n, chunk_size))
    events = _events(items, response_id, model, usage, "completed", None)
    return responses_events_reply(events, per_write=per_write, **reply)


def responses_error_reply(
    message: str, *, code: str = "server_error", model: str = "mock-model", **reply: Any
) -> Reply:
    """An ``error`` event, then the failed response, as the API reports a failure that
    happens after the stream started."""
    err = {"type": code, "code": code, "message": message, "param": None}
    events = [
        {"type": "response.created", "response": _response("resp_err", model, "in_progress", None)},
        {"type": "error", "error": err},
        {
            "type": "response.failed",
            "response": {
                **_response("resp_err", model, "failed", None),
                "error": {"code": code, "message": message},
            },
        },
    ]
    return responses_events_reply(events, **reply)
