"""The OpenAI Responses request: our records as ``/responses`` JSON.

``store`` is false and encrypted reasoning is requested, so nothing lives on the server:
the reasoning items come back with each reply and are replayed with the next request,
exactly as received, together with the id of the item that followed each one (the API
pairs them by id). Only the model that produced them gets them back; for any other model
they are dropped, as the other providers drop foreign thinking. A half-received tool call
of an aborted or failed reply is never replayed, nor its result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..._util.json import dumps, loads
from ...messages import (
    AssistantMessage,
    Context,
    ImageContent,
    Message,
    Model,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    ToolSchema,
    UserContent,
    UserMessage,
)
from ...wire import ResponseFormat
from .._encoded import EncodedItems, extends
from .._replay import same_model

__all__ = ["ResponsesWireCache", "build_body", "build_body_bytes", "encode_items"]


def _image_url(c: ImageContent) -> str:
    return c.url if c.url is not None else f"data:{c.mime_type};base64,{c.data}"


def _input_parts(content: Sequence[UserContent]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for c in content:
        if isinstance(c, TextContent):
            parts.append({"type": "input_text", "text": c.text})
        else:
            parts.append({"type": "input_image", "image_url": _image_url(c)})
    return parts


def _arguments(tc: ToolCall) -> str:
    if tc.raw_arguments is not None:
        return tc.raw_arguments  # what the model really sent, even if not valid JSON
    return json.dumps(tc.arguments, ensure_ascii=False, separators=(",", ":"))


def _payload(c: ThinkingContent) -> dict[str, Any] | None:
    """The Responses item a thinking block carries (see the parser), or None."""
    if not c.signature or not c.signature.startswith('{"item":'):
        return None
    try:
        value = loads(c.signature)
    except ValueError:
        return None
    return value if isinstance(value, dict) and isinstance(value.get("item"), dict) else None


def _assistant_items(m: AssistantMessage, model: Model, dropped: set[str]) -> list[dict[str, Any]]:
    replay = same_model(m, model) and m.stop_reason not in (StopReason.ERROR, StopReason.ABORTED)
    broken = m.stop_reason in (StopReason.ERROR, StopReason.ABORTED)
    items: list[dict[str, Any]] = []
    follower: str | None = None  # the id the last replayed reasoning item pairs with

    def with_id(item: dict[str, Any]) -> dict[str, Any]:
        nonlocal follower
        if follower:
            item = {"id": follower, **item}
            follower = None
        return item

    for c in m.content:
        if isinstance(c, ThinkingContent):
            payload = _payload(c) if replay else None
            if payload is None:
                continue  # foreign, unsigned or cut off: dropped
            item = payload["item"]
            if c.redacted:
                items.append(item)  # an item the SDK does not model, as it came
            elif item.get("encrypted_content"):
                # Without its encrypted content a reasoning item would be looked up by
                # id, and with store=false there is nothing to find.
                items.append(item)
                nxt = payload.get("next")
                follower = nxt if isinstance(nxt, str) else None
        elif isinstance(c, TextContent):
            if c.text.strip():
                if follower:
                    items.append(
                        with_id(
                            {
                                "type": "message",
                                "role": "assistant",
                                "status": "completed",
                                "content": [
                                    {"type": "output_text", "text": c.text, "annotations": []}
                                ],
                            }
                        )
                    )
                else:
                    items.append({"role": "assistant", "content": c.text})
        elif isinstance(c, ToolCall):
            if broken and not c.arguments_valid:
                dropped.add(c.id)  # cut off mid-call: never replayed, nor its result
                continue
            items.append(
                with_id(
                    {
                        "type": "function_call",
                        "call_id": c.id,
                        "name": c.name,
                        "arguments": _arguments(c),
                    }
                )
            )
    return items


def _result_item(m: ToolResultMessage) -> dict[str, Any]:
    text = "".join(c.text for c in m.content if isinstance(c, TextContent))
    images = [c for c in m.content if isinstance(c, ImageContent)]
    output: str | list[dict[str, Any]]
    if images:
        output = [{"type": "input_text", "text": text or "(see attached image)"}]
        output += [{"type": "input_image", "image_url": _image_url(c)} for c in images]
    else:
        output = text or "(no output)"
    return {"type": "function_call_output", "call_id": m.tool_call_id, "output": output}


def append_items(out: list[dict[str, Any]], dropped: set[str], m: Message, model: Model) -> None:
    """Add the input items of one transcript message to ``out``."""
    if isinstance(m, UserMessage):
        if isinstance(m.content, str):
            out.append({"role": "user", "content": m.content})
        else:
            out.append({"role": "user", "content": _input_parts(m.content)})
    elif isinstance(m, AssistantMessage):
        out.extend(_assistant_items(m, model, dropped))
    elif isinstance(m, ToolResultMessage):
        if m.tool_call_id not in dropped:
            out.append(_result_item(m))
    else:
        raise TypeError(
            f"cannot send a {type(m).__name__} to an openai-responses model; convert it first"
        )


def encode_items(messages: Sequence[Message], model: Model) -> list[dict[str, Any]]:
    """The transcript as Responses ``input`` items."""
    out: list[dict[str, Any]] = []
    dropped: set[str] = set()
    for m in messages:
        append_items(out, dropped, m, model)
    return out


def _encode_tool(t: ToolSchema) -> dict[str, Any]:
    # strict is sent false: the API's default (true) rejects ordinary JSON Schemas.
    return {
        "type": "function",
        "name": t.name,
        "description": t.description,
        "parameters": dict(t.parameters),
        "strict": False,
    }


def _tool_choice(choice: str | Mapping[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, str):
        return {"any": "required"}.get(choice, choice)
    fn = choice.get("function")
    if choice.get("type") == "function" and isinstance(fn, Mapping):  # the chat form
        return {"type": "function", "name": fn.get("name")}
    if choice.get("type") == "tool":  # the Anthropic form
        return {"type": "function", "name": choice.get("name")}
    return dict(choice)


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
    """The JSON body of a streaming ``/responses`` request."""
    body: dict[str, Any] = {
        "model": model.id,
        "input": encode_items(context.messages, model),
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
    }
    if context.system_prompt:
        body["instructions"] = context.system_prompt
    if context.tools:
        body["tools"] = [_encode_tool(t) for t in context.tools]
    if tool_choice is not None:
        body["tool_choice"] = _tool_choice(tool_choice)
    if reasoning_effort is not None:
        body["reasoning"] = {"effort": reasoning_effort, "summary": "auto"}
    if temperature is not None:
        body["temperature"] = temperature
    limit = max_tokens if max_tokens is not None else model.max_tokens
    if limit is not None:
        body["max_output_tokens"] = limit
    if session_id:
        body["prompt_cache_key"] = session_id
    if response_format is not None:
        fmt: dict[str, Any] = {
            "type": "json_schema",
            "name": response_format.name,
            "schema": response_format.schema,
            "strict": response_format.strict,
        }
        if response_format.description:
            fmt["description"] = response_format.description
        body["text"] = {"format": fmt}
    if extra_body:
        body.update(extra_body)
    return body


class ResponsesWireCache:
    """Encoded input items of a growing transcript, reused across requests: each
    message is converted and encoded once (see ``WireCache`` for chat completions)."""

    __slots__ = ("_dropped", "_items", "_known", "_model")

    def __init__(self) -> None:
        self._reset(None)

    def _reset(self, model: Model | None) -> None:
        self._model = model
        self._known: list[Message] = []
        self._dropped: set[str] = set()
        self._items = EncodedItems()

    def pieces(self, messages: Sequence[Message], model: Model) -> list[bytes]:
        known = self._known
        k = len(known)
        if model != self._model or not extends(messages, known):
            self._reset(model)
            known = self._known
            k = 0
        new: list[dict[str, Any]] = []
        for m in messages[k:]:
            append_items(new, self._dropped, m, model)
            known.append(m)
        self._items.extend([dumps(x) for x in new])
        return self._items.pieces()


def build_body_bytes(
    model: Model, context: Context, cache: ResponsesWireCache | None, **options: Any
) -> bytes:
    """The body as bytes; with ``cache``, the input items are encoded once."""
    extra = options.get("extra_body") or {}
    if cache is None or "input" in extra:
        return dumps(build_body(model, context, **options))
    head = build_body(model, Context(context.system_prompt, [], context.tools), **options)
    head.pop("input")
    return b"".join([b'{"input":[', *cache.pieces(context.messages, model), b"],", dumps(head)[1:]])
