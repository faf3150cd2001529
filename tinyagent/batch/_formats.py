"""The two line formats a batch reads and writes.

``tinyagent``: ``{"id", "prompt"}`` with optional ``system``, ``messages`` (chat-style
``{"role", "content"}``) and ``options`` (``temperature``, ``max_tokens``…) in; ``{"id",
"text", "error", "usage", "cost", "attempts", "duration", ...}`` out, ``error`` null on
success.

``openai-batch``: the OpenAI Batch API's files exactly. In: ``{"custom_id", "method",
"url", "body"}`` with a chat-completions body, translated to a context for whichever
provider the batch runs against. Out: ``{"id", "custom_id", "response": {"status_code",
"request_id", "body"}, "error"}`` with a non-streaming ``chat.completion`` body.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from .._util.json import dumps, loads
from ..messages import (
    AssistantMessage,
    Context,
    Message,
    StopReason,
    Usage,
    UserMessage,
)
from ..serde import unstructure
from ._chat import as_list as _list
from ._chat import chat_message, chat_options, system_text, tool_definitions

__all__ = ["BatchItem", "Format", "error_line", "parse_line", "result_line"]

Format = Literal["tinyagent", "openai-batch"]
FORMATS: tuple[Format, ...] = ("tinyagent", "openai-batch")
# What an item's options may set on its call (the rest of a call's options are the batch's).
ITEM_OPTIONS = frozenset({"temperature", "max_tokens", "reasoning_effort", "tool_choice"})
_FINISH = {
    StopReason.STOP: "stop",
    StopReason.LENGTH: "length",
    StopReason.TOOL_USE: "tool_calls",
    StopReason.ERROR: "stop",
    StopReason.ABORTED: "stop",
}


class BadLine(ValueError):
    """A line that cannot be an item; ``item_id`` is its id when one could be read."""

    def __init__(self, message: str, item_id: str | None = None) -> None:
        super().__init__(message)
        self.item_id = item_id


@attrs.frozen
class BatchItem:
    """One line of input, ready to run: ``context`` for a single call; ``prompt`` for an
    agent per item."""

    id: str
    line: int
    context: Context
    prompt: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)


def line_id(data: Any, fmt: Format) -> str | None:
    key = "custom_id" if fmt == "openai-batch" else "id"
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def row_failed(row: Any, fmt: Format) -> bool:
    """Whether an output row records a failure: ours carries an ``error``; an OpenAI
    Batch row carries an ``error`` or a response whose status is not 200 (its ``error``
    is then null, as OpenAI writes it). One rule for the resume, ``--retry-failed`` and
    the summaries."""
    if not isinstance(row, dict):
        return True
    if row.get("error") is not None:
        return True
    if fmt == "openai-batch":
        response = row.get("response")
        return not isinstance(response, dict) or response.get("status_code") != 200
    return False


def parse_line(
    text: bytes, number: int, fmt: Format, skip: Callable[[str], bool] | None = None
) -> BatchItem | None:
    """One input line as an item; :class:`BadLine` says what is wrong with it. None if
    ``skip`` says its id is to be skipped (done already): nothing more is read of it."""
    try:
        data = loads(text)
    except ValueError as exc:
        raise BadLine(f"line {number}: not JSON ({exc})") from None
    item_id = line_id(data, fmt)
    if skip is not None and item_id is not None and skip(item_id):
        return None
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:  # read as it is, it would be sent with U+FFFD in it
        bad = text[exc.start : exc.start + 1].hex()
        raise BadLine(
            f"line {number}: not UTF-8 (byte 0x{bad} at position {exc.start}); save the file "
            "as UTF-8",
            item_id,
        ) from None
    if item_id is None:
        key = "custom_id" if fmt == "openai-batch" else "id"
        raise BadLine(f"line {number}: no {key!r} (a non-empty string)")
    try:
        if fmt == "openai-batch":
            return _openai_item(data, item_id, number)
        return _our_item(data, item_id, number)
    except Exception as exc:  # whatever shape a hostile line has, it is that line's error
        detail = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        raise BadLine(f"line {number} ({item_id}): {detail}", item_id) from None


def _our_item(data: dict[str, Any], item_id: str, number: int) -> BatchItem:
    prompt = data.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ValueError("'prompt' must be a string")
    messages = [chat_message(m, "messages") for m in _list(data.get("messages"), "'messages'")]
    if prompt is not None:
        messages.append(UserMessage(prompt))
    if not messages:
        raise ValueError("give a 'prompt' (or 'messages')")
    system = data.get("system") or ""
    if not isinstance(system, str):
        raise ValueError("'system' must be a string")
    options = data.get("options") or {}
    if not isinstance(options, dict) or set(options) - ITEM_OPTIONS:
        raise ValueError(f"'options' may set {', '.join(sorted(ITEM_OPTIONS))}, got {options!r}")
    return BatchItem(item_id, number, Context(system, messages), prompt, options)


def _openai_item(data: dict[str, Any], item_id: str, number: int) -> BatchItem:
    if data.get("method", "POST") != "POST":
        raise ValueError(f"method {data.get('method')!r}: only POST requests are batched")
    url = data.get("url", "/v1/chat/completions")
    if url not in ("/v1/chat/completions", "/chat/completions"):
        raise ValueError(f"url {url!r}: only /v1/chat/completions bodies are run")
    body = data.get("body")
    if not isinstance(body, dict):
        raise ValueError("'body' must be a chat-completions request object")
    system: list[str] = []
    messages: list[Message] = []
    for m in _list(body.get("messages"), "body.messages"):
        if isinstance(m, dict) and m.get("role") in ("system", "developer"):
            system.append(system_text(m, "body.messages"))
        else:
            messages.append(chat_message(m, "body.messages"))
    if not messages:
        raise ValueError("body.messages has no user message")
    tools = tool_definitions(body.get("tools"))
    if body.get("n", 1) != 1:
        raise ValueError("n must be 1: one completion per request")
    context = Context("\n\n".join(system), messages, tools)
    return BatchItem(item_id, number, context, None, chat_options(body))


def _usage(u: Usage) -> dict[str, Any]:
    return {
        "input": u.input,
        "output": u.output,
        "cache_read": u.cache_read,
        "cache_write": u.cache_write,
        "reasoning": u.reasoning,
        "total": u.total,
    }


def _error(message: AssistantMessage) -> dict[str, Any]:
    f = message.failure
    return {
        "kind": f.kind.value if f is not None else "unknown",
        "message": message.error_message or message.stop_reason.value,
        "status": f.status if f is not None else None,
        "code": f.code if f is not None else None,
    }


def result_line(
    fmt: Format,
    item: BatchItem,
    reply: AssistantMessage,
    *,
    attempts: int,
    duration: float,
    transcript: list[Message] | None = None,
    answer: tuple[Any, str | None] | None = None,
    usage: Usage | None = None,
    requests: int = 1,
) -> bytes:
    """The output line of an item that ran (its reply may be a failure). ``answer`` is
    an agent's structured answer as JSON data, or why its answers did not validate;
    ``usage`` the whole run's (an agent's: all its calls), else the reply's;
    ``requests`` how many calls were sent."""
    failed = reply.stop_reason in (StopReason.ERROR, StopReason.ABORTED)
    if fmt == "openai-batch":
        return dumps(_openai_result(item, reply, failed)) + b"\n"
    u = usage if usage is not None else reply.usage
    cost = u.cost.total if u.cost is not None else None
    out: dict[str, Any] = {
        "id": item.id,
        "text": None if failed else reply.text,
        "error": _error(reply) if failed else None,
        "usage": _usage(u),
        "cost": cost,
        "requests": requests,
        "finish_reason": reply.stop_reason.value,
        "model": reply.model or None,
        "attempts": attempts,
        "duration": round(duration, 4),
    }
    if answer is not None:
        value, why = answer
        out["output"] = value
        if why is not None and not failed:
            out["text"] = None
            out["error"] = {"kind": "output_invalid", "message": why, "status": None, "code": None}
    if transcript is not None:
        out["transcript"] = [unstructure(m) for m in transcript]
    return dumps(out) + b"\n"


def error_line(fmt: Format, item_id: str, kind: str, message: str) -> bytes:
    """The output line of an item that could not run at all (a malformed input line)."""
    if fmt == "openai-batch":
        out: dict[str, Any] = {
            "id": f"batch_req_{uuid.uuid4().hex}",
            "custom_id": item_id,
            "response": None,
            "error": {"code": kind, "message": message},
        }
        return dumps(out) + b"\n"
    error = {"kind": kind, "message": message, "status": None, "code": None}
    ours = {"id": item_id, "text": None, "error": error, "usage": None, "cost": None,
            "attempts": 0, "duration": 0.0}  # fmt: skip
    return dumps(ours) + b"\n"


def _openai_result(item: BatchItem, reply: AssistantMessage, failed: bool) -> dict[str, Any]:
    request_id = reply.response_id or f"req_{uuid.uuid4().hex}"
    out: dict[str, Any] = {"id": f"batch_req_{uuid.uuid4().hex}", "custom_id": item.id}
    f = reply.failure
    if failed:
        if f is not None and f.status is not None:
            error = {"message": reply.error_message, "type": f.kind.value, "code": f.code}
            out["response"] = {
                "status_code": f.status,
                "request_id": request_id,
                "body": {"error": error},
            }
            out["error"] = None
        else:
            kind = f.kind.value if f is not None else "unknown"
            out["response"] = None
            out["error"] = {"code": kind, "message": reply.error_message or "failed"}
        return out
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    calls = [
        {
            "id": c.id,
            "type": "function",
            "function": {
                "name": c.name,
                "arguments": c.raw_arguments or dumps(c.arguments).decode(),
            },
        }
        for c in reply.tool_calls
    ]
    if calls:
        message["tool_calls"] = calls
    u = reply.usage
    prompt = u.input + u.cache_read + u.cache_write
    body = {
        "id": reply.response_id or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(reply.timestamp or time.time()),
        "model": reply.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _FINISH[reply.stop_reason],
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": u.output,
            "total_tokens": prompt + u.output,
            "prompt_tokens_details": {"cached_tokens": u.cache_read},
            "completion_tokens_details": {"reasoning_tokens": u.reasoning},
        },
        "system_fingerprint": None,
    }
    out["response"] = {"status_code": 200, "request_id": request_id, "body": body}
    out["error"] = None
    return out
