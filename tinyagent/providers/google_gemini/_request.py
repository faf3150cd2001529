"""The Gemini request: our records as a ``streamGenerateContent`` body.

Roles are ``user`` and ``model`` only: a reply is a ``model`` turn, tool results are
``functionResponse`` parts of a ``user`` turn, and consecutive turns of one role are
merged. Thought signatures go back on the part they came with, only to the model that
made them (``same_model``); thinking from anyone else, and thought summaries without a
signature, are not sent (Gemini takes no foreign reasoning). A call cut off in an
aborted or failed reply is never replayed, nor its result. The Gemini API matches
results to calls by name and order, so call ids are not sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

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
from .._replay import same_model
from ._schema import gemini_schema

__all__ = ["THINKING_BUDGETS", "build_body", "encode_contents", "stream_url"]

THINKING_BUDGETS = {"minimal": 512, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576}
_LEVELS = {"minimal": "minimal", "low": "low", "medium": "medium", "high": "high", "xhigh": "high"}
_NO_THINKING = frozenset({"none", "off", "disabled"})
_DATA_URL = re.compile(r"data:([^;,]+);base64,(.*)", re.DOTALL)


def stream_url(model: Model) -> str:
    """``{base_url}/models/{id}:streamGenerateContent?alt=sse`` (``alt=sse``: without it
    the endpoint answers one JSON array)."""
    model_id = model.id.removeprefix("models/")
    return f"{model.base_url.rstrip('/')}/models/{model_id}:streamGenerateContent?alt=sse"


def _image(c: ImageContent) -> dict[str, Any]:
    if c.data is not None:
        return {"inlineData": {"mimeType": c.mime_type, "data": c.data}}
    url = c.url or ""
    m = _DATA_URL.fullmatch(url)
    if m is not None:
        return {"inlineData": {"mimeType": m.group(1), "data": m.group(2)}}
    return {"fileData": {"mimeType": c.mime_type, "fileUri": url}}


def _user_parts(content: str | Sequence[UserContent]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    parts: list[dict[str, Any]] = []
    for c in content:
        if isinstance(c, TextContent):
            if c.text.strip():
                parts.append({"text": c.text})
        else:
            parts.append(_image(c))
    return parts


def _model_parts(m: AssistantMessage, model: Model, dropped: set[str]) -> list[dict[str, Any]]:
    same = same_model(m, model)
    broken = m.stop_reason in (StopReason.ERROR, StopReason.ABORTED)
    parts: list[dict[str, Any]] = []
    pending: str | None = None  # a signature that belongs to the next part

    def signed(part: dict[str, Any]) -> dict[str, Any]:
        nonlocal pending
        if pending is not None:
            part["thoughtSignature"] = pending
            pending = None
        return part

    for c in m.content:
        if isinstance(c, ThinkingContent):
            if not (same and c.signature):
                continue  # foreign or unsigned reasoning: Gemini takes none back
            if c.redacted:
                if pending is not None:
                    parts.append({"text": "", "thoughtSignature": pending})
                pending = c.signature
            else:
                parts.append(
                    signed({"text": c.thinking, "thought": True, "thoughtSignature": c.signature})
                )
        elif isinstance(c, TextContent):
            if c.text or pending is not None:
                parts.append(signed({"text": c.text}))
        elif isinstance(c, ToolCall):
            if broken and not c.arguments_valid:
                dropped.add(c.id)  # cut off mid-call: never replayed, nor its result
                continue
            parts.append(signed({"functionCall": {"name": c.name, "args": dict(c.arguments)}}))
    if pending is not None:
        parts.append({"text": "", "thoughtSignature": pending})
    return parts


def _response_object(text: str, is_error: bool) -> dict[str, Any]:
    """A tool result as the JSON object ``functionResponse.response`` must be: a result
    that is a JSON object goes as it is; anything else under ``result`` (``error``)."""
    if not is_error:
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    return {"error" if is_error else "result": text}


def _tool_result_parts(m: ToolResultMessage) -> list[dict[str, Any]]:
    text = "".join(c.text for c in m.content if isinstance(c, TextContent))
    parts: list[dict[str, Any]] = [
        {"functionResponse": {"name": m.tool_name, "response": _response_object(text, m.is_error)}}
    ]
    parts += [_image(c) for c in m.content if isinstance(c, ImageContent)]
    return parts


def encode_contents(messages: Sequence[Message], model: Model) -> list[dict[str, Any]]:
    """The transcript as Gemini ``contents``: ``user``/``model`` turns, same-role turns
    merged, nothing empty."""
    out: list[dict[str, Any]] = []
    dropped: set[str] = set()
    for m in messages:
        if isinstance(m, UserMessage):
            _add(out, "user", _user_parts(m.content))
        elif isinstance(m, AssistantMessage):
            _add(out, "model", _model_parts(m, model, dropped))
        elif isinstance(m, ToolResultMessage):
            if m.tool_call_id not in dropped:
                _add(out, "user", _tool_result_parts(m))
        else:
            raise TypeError(
                f"cannot send a {type(m).__name__} to a google-gemini model; convert it first"
            )
    return out


def _add(out: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if not parts:
        return
    if out and out[-1]["role"] == role:
        out[-1]["parts"].extend(parts)
    else:
        out.append({"role": role, "parts": parts})


def _encode_tool(t: ToolSchema) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": t.name, "description": t.description}
    parameters = gemini_schema(t.parameters, t.name)
    if parameters.get("properties") or set(parameters) - {"type", "properties"}:
        declaration["parameters"] = parameters  # (a tool of no arguments declares none)
    return declaration


def _tool_config(choice: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(choice, str):
        mode = {"auto": "AUTO", "required": "ANY", "any": "ANY", "none": "NONE"}.get(choice)
        if mode is None:
            raise ValueError(f"tool_choice {choice!r}: use auto, required (any), none or a tool")
        return {"functionCallingConfig": {"mode": mode}}
    fn = choice.get("function") if choice.get("type") == "function" else choice
    name = fn.get("name") if isinstance(fn, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool_choice {dict(choice)!r}: name the tool, e.g. {{'name': 'search'}}")
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def _thinking_config(model: Model, effort: str | None) -> dict[str, Any] | None:
    """Gemini 3 takes a thinking level; Gemini 2.5 a token budget (0 turns it off)."""
    if effort is None:
        return None
    if effort in _NO_THINKING:
        return {"thinkingBudget": 0}
    if model.id.removeprefix("models/").startswith("gemini-3"):
        if effort not in _LEVELS:
            raise ValueError(
                f"reasoning_effort {effort!r}: Gemini 3 takes a level, one of {', '.join(_LEVELS)}"
            )
        return {"includeThoughts": True, "thinkingLevel": _LEVELS[effort]}
    if effort in THINKING_BUDGETS:
        return {"includeThoughts": True, "thinkingBudget": THINKING_BUDGETS[effort]}
    if effort.isdigit():
        return {"includeThoughts": True, "thinkingBudget": int(effort)}
    raise ValueError(
        f"reasoning_effort {effort!r}: use one of {', '.join(THINKING_BUDGETS)}, none, "
        "or a token budget such as '4000'"
    )


def build_body(
    model: Model,
    context: Context,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    reasoning_effort: str | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    cache: object = None,
    session_id: str | None = None,
    response_format: ResponseFormat | None = None,
) -> dict[str, Any]:
    """The JSON body of a ``streamGenerateContent`` request. (Gemini caches prompt
    prefixes implicitly; ``cache`` and ``session_id`` have nothing to set.)"""
    body: dict[str, Any] = {"contents": encode_contents(context.messages, model)}
    if context.system_prompt:
        body["systemInstruction"] = {"parts": [{"text": context.system_prompt}]}
    if context.tools:
        body["tools"] = [{"functionDeclarations": [_encode_tool(t) for t in context.tools]}]
    if tool_choice is not None:
        body["toolConfig"] = _tool_config(tool_choice)
    config: dict[str, Any] = {}
    if temperature is not None:
        config["temperature"] = temperature
    limit = max_tokens if max_tokens is not None else model.max_tokens
    if limit is not None:
        config["maxOutputTokens"] = limit
    thinking = _thinking_config(model, reasoning_effort)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    if response_format is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = dict(response_format.schema)
    if config:
        body["generationConfig"] = config
    if extra_body:
        body.update(extra_body)
    return body
