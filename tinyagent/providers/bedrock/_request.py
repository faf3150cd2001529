"""The Bedrock ConverseStream request: our records as a ``/converse-stream`` body.

Roles alternate ``user``/``assistant``; tool results are ``toolResult`` blocks of a user
message (ids rewritten to ``^[a-zA-Z0-9_-]{1,64}$`` consistently, as for Anthropic);
reasoning goes back as ``reasoningContent`` (signed text, or redacted bytes) only to the
model that wrote it, before that turn's tool calls; empty text is dropped (Bedrock
rejects it); images go as bytes (a URL is refused: Bedrock cannot fetch one). Thinking
is asked for in ``additionalModelRequestFields``, in the model family's own words;
cache points are set where the family takes them (Anthropic's Claude, Amazon Nova).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..._util import wording as words
from ...messages import (
    AssistantMessage,
    CacheMode,
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
from .._replay import safe_tool_id, same_model

__all__ = ["THINKING_BUDGETS", "build_body", "encode_messages", "stream_url"]

THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768}
_NO_THINKING = frozenset({"none", "off", "disabled"})
_DATA_URL = re.compile(r"data:image/([a-z]+);base64,(.*)", re.DOTALL)
_FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "gif": "gif", "webp": "webp"}
DEFAULT_MAX_TOKENS = 4096


def stream_url(model: Model) -> str:
    """``{base_url}/model/{id}/converse-stream``, the id percent-encoded (``:`` and the
    ``/`` of an ARN included), as Bedrock routes it."""
    return f"{model.base_url.rstrip('/')}/model/{quote(model.id, safe='')}/converse-stream"


def _family(model: Model) -> str:
    """``anthropic``, ``nova`` or ``other``, from the id (with or without a region
    prefix such as ``us.``, or an inference-profile ARN: each holds the model's name)."""
    if "anthropic.claude" in model.id:
        return "anthropic"
    if "amazon.nova" in model.id:
        return "nova"
    return "other"


def _image(c: ImageContent) -> dict[str, Any]:
    if c.data is not None:
        mime = c.mime_type.removeprefix("image/")
        data = c.data
    else:
        m = _DATA_URL.fullmatch(c.url or "")
        if m is None:
            raise ValueError(
                "Bedrock takes images as bytes, not URLs: fetch the image and pass "
                "ImageContent(base64_data, mime_type)"
            )
        mime, data = m.group(1), m.group(2)
    fmt = _FORMATS.get(mime)
    if fmt is None:
        raise ValueError(f"Bedrock takes png, jpeg, gif or webp images, not image/{mime}")
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _user_blocks(content: str | Sequence[UserContent]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    blocks: list[dict[str, Any]] = []
    for c in content:
        if isinstance(c, TextContent):
            if c.text.strip():
                blocks.append({"text": c.text})
        else:
            blocks.append(_image(c))
    return blocks


def _assistant_blocks(m: AssistantMessage, model: Model, dropped: set[str]) -> list[dict[str, Any]]:
    same = same_model(m, model)
    broken = m.stop_reason in (StopReason.ERROR, StopReason.ABORTED)
    blocks: list[dict[str, Any]] = []
    for c in m.content:
        if isinstance(c, TextContent):
            if c.text.strip():
                blocks.append({"text": c.text})
        elif isinstance(c, ThinkingContent):
            if same and c.redacted and c.signature:
                blocks.append({"reasoningContent": {"redactedContent": c.signature}})
            elif same and c.signature:
                text = {"text": c.thinking, "signature": c.signature}
                blocks.append({"reasoningContent": {"reasoningText": text}})
            # unsigned or foreign reasoning: not sent (Bedrock takes none back)
        elif isinstance(c, ToolCall):
            if broken and not c.arguments_valid:
                dropped.add(c.id)  # cut off mid-call: never replayed, nor its result
                continue
            use = {"toolUseId": safe_tool_id(c.id), "name": c.name, "input": dict(c.arguments)}
            blocks.append({"toolUse": use})
    return blocks


def _tool_result(m: ToolResultMessage) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for c in m.content:
        if isinstance(c, TextContent):
            if c.text:
                content.append({"text": c.text})
        else:
            content.append(_image(c))
    result: dict[str, Any] = {
        "toolUseId": safe_tool_id(m.tool_call_id),
        "content": content or [{"text": "(no output)"}],
    }
    if m.is_error:
        result["status"] = "error"
    return {"toolResult": result}


def encode_messages(messages: Sequence[Message], model: Model) -> list[dict[str, Any]]:
    """The transcript as Converse ``messages``: alternating roles, same-role messages
    merged, nothing empty."""
    out: list[dict[str, Any]] = []
    dropped: set[str] = set()
    for m in messages:
        if isinstance(m, UserMessage):
            _add(out, "user", _user_blocks(m.content))
        elif isinstance(m, AssistantMessage):
            _add(out, "assistant", _assistant_blocks(m, model, dropped))
        elif isinstance(m, ToolResultMessage):
            if m.tool_call_id not in dropped:
                _add(out, "user", [_tool_result(m)])
        else:
            raise TypeError(
                f"cannot send a {type(m).__name__} to a bedrock-converse model; convert it first"
            )
    return out


def _add(out: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def _tool_spec(t: ToolSchema) -> dict[str, Any]:
    schema = dict(t.parameters)
    schema.setdefault("type", "object")
    return {
        "toolSpec": {"name": t.name, "description": t.description, "inputSchema": {"json": schema}}
    }


def _tool_choice(choice: str | Mapping[str, Any]) -> dict[str, Any] | None:
    if isinstance(choice, str):
        if choice == "none":
            return None  # Converse has no "none": the tools are not sent instead
        kind = {"required": "any"}.get(choice, choice)
        if kind not in ("auto", "any"):
            raise ValueError(f"tool_choice {choice!r}: use auto, any (required), none or a tool")
        return {kind: {}}
    fn = choice.get("function") if choice.get("type") == "function" else choice
    name = fn.get("name") if isinstance(fn, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool_choice {dict(choice)!r}: name the tool, e.g. {{'name': 'search'}}")
    return {"tool": {"name": name}}


def _reasoning(model: Model, effort: str | None, limit: int) -> tuple[dict[str, Any] | None, int]:
    """``additionalModelRequestFields`` for thinking, in the family's words, and the
    output limit it needs."""
    if effort is None or effort in _NO_THINKING:
        return None, limit
    family = _family(model)
    if family == "anthropic":
        budget = THINKING_BUDGETS.get(effort) or (int(effort) if effort.isdigit() else None)
        if budget is None:
            raise ValueError(
                f"reasoning_effort {effort!r}: use one of {', '.join(THINKING_BUDGETS)}, "
                "none, or a token budget such as '4000'"
            )
        budget = max(budget, 1024)
        limit = max(limit, budget + 1024)
        return {"thinking": {"type": "enabled", "budget_tokens": budget}}, limit
    level = {"minimal": "low", "xhigh": "high"}.get(effort, effort)
    if level not in ("low", "medium", "high"):
        raise ValueError(f"reasoning_effort {effort!r}: use minimal, low, medium, high or xhigh")
    if family == "nova":
        return {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": level}}, limit
    return {"reasoning_effort": level}, limit


def _has_tool_blocks(messages: list[dict[str, Any]]) -> bool:
    return any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])


def build_body(
    model: Model,
    context: Context,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    reasoning_effort: str | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    cache: CacheMode | None = None,
    session_id: str | None = None,
    response_format: ResponseFormat | None = None,
) -> dict[str, Any]:
    """The JSON body of a ``/converse-stream`` request (``session_id`` has no field)."""
    if response_format is not None:
        raise ValueError(words.response_format_not_sent("bedrock-converse"))
    limit = max_tokens if max_tokens is not None else (model.max_tokens or DEFAULT_MAX_TOKENS)
    fields, limit = _reasoning(model, reasoning_effort, limit)
    caching = (cache or model.cache) != "none" and _family(model) != "other"
    body: dict[str, Any] = {"messages": encode_messages(context.messages, model)}
    if context.system_prompt:
        body["system"] = [{"text": context.system_prompt}]
        if caching:
            body["system"].append({"cachePoint": {"type": "default"}})
    choice = _tool_choice(tool_choice) if tool_choice is not None else None
    if tool_choice == "none" and context.tools and _has_tool_blocks(body["messages"]):
        raise ValueError(
            "tool_choice='none' on bedrock-converse: Converse cannot forbid tool calls, and a "
            "conversation that holds tool calls must send its tools; use 'auto'"
        )
    if context.tools and tool_choice != "none":
        config: dict[str, Any] = {"tools": [_tool_spec(t) for t in context.tools]}
        if caching:
            config["tools"].append({"cachePoint": {"type": "default"}})
        if choice is not None:
            config["toolChoice"] = choice
        body["toolConfig"] = config
    if caching and body["messages"] and body["messages"][-1]["role"] == "user":
        body["messages"][-1]["content"].append({"cachePoint": {"type": "default"}})
    inference: dict[str, Any] = {"maxTokens": limit}
    if temperature is not None and fields is None:
        inference["temperature"] = temperature  # thinking forbids sampling options
    body["inferenceConfig"] = inference
    if fields is not None:
        body["additionalModelRequestFields"] = fields
    if extra_body:
        body.update(extra_body)
    return body
