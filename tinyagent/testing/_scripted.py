"""A scripted model for the built-in local server: it answers any request, in any of the
three wire formats, without a network or a key.

Why: a quick start, the docs' examples and a user's first experiments must run offline
and end in a real answer that went through a real transport, a real parser and the real
loop. The rules are few and predictable, so what a program prints can be checked:

- each user turn, every tool offered is called once, with arguments built from its JSON
  Schema (numbers taken in order from the user's text, an enum's first value, the text
  itself for strings);
- once the turn's tool results are in, the answer is those results, joined by ``"; "``;
- a request for structured output is answered with JSON that fits its schema;
- anything else is answered with ``"You said: <the user's text>"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ._anthropic_replies import anthropic_text_reply, anthropic_tool_call_reply
from ._bedrock_replies import bedrock_text_reply, bedrock_tool_call_reply
from ._gemini_replies import gemini_text_reply, gemini_tool_call_reply
from ._replies import Reply, ToolCallSpec, error_reply, text_reply, tool_call_reply
from ._responses_replies import responses_text_reply, responses_tool_call_reply
from ._server import RecordedRequest

__all__ = ["scripted_reply"]

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def scripted_reply(request: RecordedRequest) -> Reply:
    """The scripted model's reply to one request (any of the three wire formats)."""
    try:
        body = request.json
    except ValueError:
        return error_reply(
            400, "the scripted model takes a JSON body", error_type="invalid_request"
        )
    if not isinstance(body, dict):
        return error_reply(
            400, "the scripted model takes a JSON object", error_type="invalid_request"
        )
    if request.path.endswith("/messages"):
        turn = _anthropic_turn(body)
        text_r, calls_r = anthropic_text_reply, anthropic_tool_call_reply
    elif request.path.endswith("/converse-stream"):
        turn = _bedrock_turn(body)
        text_r, calls_r = bedrock_text_reply, bedrock_tool_call_reply
    elif ":streamGenerateContent" in request.path:
        turn = _gemini_turn(body)
        text_r, calls_r = gemini_text_reply, gemini_tool_call_reply
    elif request.path.endswith("/responses"):
        turn = _responses_turn(body)
        text_r, calls_r = responses_text_reply, responses_tool_call_reply
    else:
        turn = _chat_turn(body)
        text_r, calls_r = text_reply, tool_call_reply
    prompt, results, tools, schema = turn
    if tools and not results:
        numbers = iter(_NUMBER.findall(prompt))
        calls = [
            ToolCallSpec(name, _example(params, params, numbers, prompt), id=f"call_{i}")
            for i, (name, params) in enumerate(tools)
        ]
        return calls_r(calls)
    if schema is not None:
        numbers = iter(_NUMBER.findall(prompt))
        return text_r(json.dumps(_example(schema, schema, numbers, prompt)))
    if results:
        return text_r("; ".join(results))
    return text_r(f"You said: {prompt}")


Turn = tuple[str, list[str], list[tuple[str, Mapping[str, Any]]], Mapping[str, Any] | None]


def _text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            _text(p.get("text", p.get("content", ""))) for p in content if isinstance(p, dict)
        )
    return ""


def _chat_turn(body: Mapping[str, Any]) -> Turn:
    prompt, results = "", list[str]()
    for m in body.get("messages") or []:
        if m.get("role") == "user":
            prompt, results = _text(m.get("content")), []
        elif m.get("role") == "tool":
            results.append(_text(m.get("content")))
    tools = [
        (t["function"]["name"], t["function"].get("parameters") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    fmt = body.get("response_format") or {}
    schema = (
        (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    )
    return prompt, results, tools, schema


def _anthropic_turn(body: Mapping[str, Any]) -> Turn:
    prompt, results = "", list[str]()
    for m in body.get("messages") or []:
        if m.get("role") != "user":
            continue
        content = m.get("content")
        blocks = content if isinstance(content, list) else []
        answers = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]
        if answers:
            results += [_text(b.get("content")) for b in answers]
        else:
            prompt, results = _text(content), []
    tools = [
        (t["name"], t.get("input_schema") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict) and "name" in t
    ]
    fmt = (body.get("output_format") or {}) if isinstance(body.get("output_format"), dict) else {}
    return prompt, results, tools, fmt.get("schema")


def _bedrock_turn(body: Mapping[str, Any]) -> Turn:
    prompt, results = "", list[str]()
    for m in body.get("messages") or []:
        if m.get("role") != "user":
            continue
        blocks = [b for b in m.get("content") or [] if isinstance(b, dict)]
        answers = [b["toolResult"] for b in blocks if isinstance(b.get("toolResult"), dict)]
        if answers:
            results += [_text(a.get("content")) for a in answers]
        else:
            prompt, results = _text(blocks), []
    tools = [
        (t["toolSpec"]["name"], (t["toolSpec"].get("inputSchema") or {}).get("json") or {})
        for t in (body.get("toolConfig") or {}).get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("toolSpec"), dict)
    ]
    return prompt, results, tools, None


def _gemini_turn(body: Mapping[str, Any]) -> Turn:
    prompt, results = "", list[str]()
    for turn in body.get("contents") or []:
        if turn.get("role") != "user":
            continue
        parts = [p for p in turn.get("parts") or [] if isinstance(p, dict)]
        answers = [
            p["functionResponse"] for p in parts if isinstance(p.get("functionResponse"), dict)
        ]
        if answers:
            results += [_gemini_result(a.get("response")) for a in answers]
        else:
            prompt, results = " ".join(str(p.get("text", "")) for p in parts), []
    tools = [
        (d["name"], d.get("parameters") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict)
        for d in t.get("functionDeclarations") or []
        if isinstance(d, dict) and "name" in d
    ]
    config = body.get("generationConfig") or {}
    return prompt, results, tools, config.get("responseJsonSchema")


def _gemini_result(response: Any) -> str:
    if isinstance(response, dict) and set(response) in ({"result"}, {"error"}):
        return str(next(iter(response.values())))
    return json.dumps(response)


def _responses_turn(body: Mapping[str, Any]) -> Turn:
    prompt, results = "", list[str]()
    items = body.get("input")
    for item in items if isinstance(items, list) else [{"role": "user", "content": items}]:
        if item.get("role") == "user":
            prompt, results = _text(item.get("content")), []
        elif item.get("type") == "function_call_output":
            results.append(_text(item.get("output")))
    tools = [
        (t["name"], t.get("parameters") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("type") == "function"
    ]
    fmt = ((body.get("text") or {}).get("format")) or {}
    return prompt, results, tools, fmt.get("schema") if fmt.get("type") == "json_schema" else None


def _example(schema: Any, root: Mapping[str, Any], numbers: Iterator[str], prompt: str) -> Any:
    """A value that fits ``schema``: the simplest one, with the user's numbers and text."""
    if not isinstance(schema, Mapping):
        return None
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return _example(
            (root.get("$defs") or root.get("definitions") or {}).get(name), root, numbers, prompt
        )
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [s for s in schema.get(key) or [] if s.get("type") != "null"]
        if options:
            return _example(options[0], root, numbers, prompt)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {
            k: _example(props[k], root, numbers, prompt)
            for k in schema.get("required") or []
            if k in props
        }
    if kind == "array":
        return [_example(schema.get("items") or {}, root, numbers, prompt)] * max(
            1, schema.get("minItems", 1)
        )
    if kind in ("integer", "number"):
        found = next(numbers, None)
        value = float(found) if found is not None else 1.0
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, prompt)


def _string(schema: Mapping[str, Any], prompt: str) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2026-01-01T09:30:00"
    if fmt == "date":
        return "2026-01-01"
    if fmt == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    return prompt[:200] or "text"
