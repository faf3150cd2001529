"""The OpenAI chat-completions request: our records as ``/chat/completions`` JSON.

Works for any server that speaks ``/chat/completions`` with ``stream: true``: OpenAI,
OpenRouter, Groq, DeepSeek, Mistral, xAI, vLLM, llama.cpp, Ollama.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..._util.json import dumps
from ...messages import (
    AssistantMessage,
    Context,
    ImageContent,
    Message,
    Model,
    TextContent,
    ToolCall,
    ToolResultMessage,
    ToolSchema,
    UserContent,
    UserMessage,
)
from ...wire import ResponseFormat
from .._encoded import EncodedItems, extends

__all__ = [
    "WireCache",
    "build_body",
    "build_body_bytes",
    "encode_message",
    "encode_messages",
    "encode_tool",
]


# --- the request ----------------------------------------------------------------


def _user_parts(content: tuple[UserContent, ...]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for c in content:
        if isinstance(c, TextContent):
            parts.append({"type": "text", "text": c.text})
        else:
            parts.append({"type": "image_url", "image_url": {"url": _image_url(c)}})
    return parts


def _image_url(c: ImageContent) -> str:
    return c.url if c.url is not None else f"data:{c.mime_type};base64,{c.data}"


def _call_arguments(tc: ToolCall) -> str:
    if tc.raw_arguments is not None:
        return tc.raw_arguments  # what the model really sent, even if not valid JSON
    return json.dumps(tc.arguments, ensure_ascii=False, separators=(",", ":"))


def encode_message(m: Message) -> list[dict[str, Any]]:
    """One transcript message as chat-completions messages (zero, one or two)."""
    if isinstance(m, UserMessage):
        if isinstance(m.content, str):
            return [{"role": "user", "content": m.content}]
        return [{"role": "user", "content": _user_parts(m.content)}]
    if isinstance(m, AssistantMessage):
        text = "".join(c.text for c in m.content if isinstance(c, TextContent))
        calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": _call_arguments(c)},
            }
            for c in m.content
            if isinstance(c, ToolCall)
        ]
        if not text and not calls:
            return []  # an empty (e.g. aborted before any text) reply: servers reject it
        msg: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            msg["tool_calls"] = calls
        return [msg]
    if isinstance(m, ToolResultMessage):
        return [_tool_message(m), *_tool_images(m)]
    raise TypeError(f"cannot send a {type(m).__name__} to an openai-chat model; convert it first")


def _tool_message(m: ToolResultMessage) -> dict[str, Any]:
    text = "".join(c.text for c in m.content if isinstance(c, TextContent))
    if not text:
        has_images = any(isinstance(c, ImageContent) for c in m.content)
        text = "(see attached image)" if has_images else "(no output)"
    return {"role": "tool", "tool_call_id": m.tool_call_id, "content": text}


def _tool_images(m: ToolResultMessage) -> list[dict[str, Any]]:
    """Tool messages cannot hold images in this API: they go in a user message, which
    must wait until the run of tool messages after the assistant's calls has ended."""
    images = [c for c in m.content if isinstance(c, ImageContent)]
    if not images:
        return []
    parts = [{"type": "text", "text": f"Image(s) from tool {m.tool_name}:"}]
    return [{"role": "user", "content": [*parts, *_user_parts(tuple(images))]}]


def _settle(m: Message, waiting: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat messages ``m`` adds now. A tool result's images wait in ``waiting`` until
    a message that is not a tool result ends the run of ``tool`` messages (a ``user``
    message between them is rejected); that message brings them out first."""
    if isinstance(m, ToolResultMessage):
        waiting += _tool_images(m)
        return [_tool_message(m)]
    out = [*waiting, *encode_message(m)]
    waiting.clear()
    return out


def encode_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """A transcript as chat-completions messages: every ``tool`` message directly after
    the assistant message (or the other ``tool`` messages) it answers, the images of a
    run of tool results after that run."""
    out: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    for m in messages:
        out += _settle(m, waiting)
    return out + waiting


def encode_tool(t: ToolSchema) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": t.name,
            "description": t.description,
            "parameters": dict(t.parameters),
        },
    }


class WireCache:
    """Encoded messages of a growing transcript, reused across calls.

    A transcript only grows between turns, and its records are frozen, so the encoding
    of the messages sent last time is still right: a turn checks by identity that the
    prefix is unchanged (a C-speed scan) and encodes only the new messages. If the
    prefix changed (a ``transform_context`` hook pruned history), it starts over.
    """

    __slots__ = ("items", "messages", "waiting")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.items = EncodedItems()
        # The image messages of the trailing run of tool results: they go after the
        # run, so they are not settled into ``items`` until a later message ends it.
        self.waiting: list[dict[str, Any]] = []

    def pieces(self, messages: Sequence[Message]) -> list[bytes]:
        """The history's array items as pieces to join (see :class:`EncodedItems`)."""
        known = self.messages
        k = len(known)
        if not extends(messages, known):
            known.clear()
            self.items.clear()
            self.waiting.clear()
            k = 0
        new: list[bytes] = []
        for m in messages[k:]:
            new += [dumps(x) for x in _settle(m, self.waiting)]
            known.append(m)
        self.items.extend(new)
        pieces = self.items.pieces()
        if not self.waiting:
            return pieces
        waiting = b",".join(dumps(x) for x in self.waiting)
        return [*pieces, b",", waiting] if pieces else [waiting]

    def encode(self, messages: Sequence[Message]) -> bytes:
        return b"".join(self.pieces(messages))


def build_body_bytes(
    model: Model,
    context: Context,
    cache: WireCache | None = None,
    **options: Any,
) -> bytes:
    """The request body as bytes; with ``cache``, history is encoded once (see
    :class:`WireCache`), so a turn costs one copy of the history, not a re-encoding."""
    if cache is None:
        return dumps(build_body(model, context, **options))
    head = build_body(model, Context(tools=context.tools), **options)
    head.pop("messages")
    history = cache.pieces(context.messages)
    pieces = [b'{"messages":[']
    if context.system_prompt:
        pieces.append(dumps({"role": "system", "content": context.system_prompt}))
        if history:
            pieces.append(b",")
    pieces += history
    pieces += (b"],", dumps(head)[1:])
    return b"".join(pieces)


def build_body(
    model: Model,
    context: Context,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    reasoning_effort: str | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    session_id: str | None = None,
    response_format: ResponseFormat | None = None,
) -> dict[str, Any]:
    """The JSON body of a streaming ``/chat/completions`` request."""
    messages: list[dict[str, Any]] = []
    if context.system_prompt:
        messages.append({"role": "system", "content": context.system_prompt})
    messages.extend(encode_messages(context.messages))
    body: dict[str, Any] = {
        "model": model.id,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if context.tools:
        body["tools"] = [encode_tool(t) for t in context.tools]
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    if temperature is not None:
        body["temperature"] = temperature
    limit = max_tokens if max_tokens is not None else model.max_tokens
    if limit is not None:
        body["max_tokens"] = limit
    if reasoning_effort is not None:
        body["reasoning_effort"] = reasoning_effort
    if session_id:
        body["prompt_cache_key"] = session_id  # OpenAI routes equal keys to one cache
    if response_format is not None:
        spec: dict[str, Any] = {
            "name": response_format.name,
            "schema": response_format.schema,
            "strict": response_format.strict,
        }
        if response_format.description:
            spec["description"] = response_format.description
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    if extra_body:
        body.update(extra_body)
    return body
