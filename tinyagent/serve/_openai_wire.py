"""What the OpenAI-compatible routes share: reading a request's fields with errors that
name them, the messages of a chat history, and a run's failure as an API error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..messages import (
    AssistantContent,
    AssistantMessage,
    FailureKind,
    ImageContent,
    Message,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolResultMessage,
    UserContent,
    UserMessage,
)
from ..wire import parse_tool_arguments
from ._errors import ApiError
from ._runs import RunOutcome

__all__ = [
    "TOOLS_REFUSED",
    "agent_request",
    "bad",
    "chat_history",
    "failure_status",
    "number",
    "optional_str",
    "split_prompt",
    "usage_counts",
    "user_parts",
]


TOOLS_REFUSED = "client tools are not run here: the agent's own tools run on the server"


def agent_request(body: Any, limit_keys: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """What both OpenAI routes read first: the agent a body names, and the call options
    it sets (``temperature``; the first of ``limit_keys`` given, as ``max_tokens``).
    Client tools are refused: the agent's own run here."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise bad("model", "must name a served agent")
    if body.get("tools"):
        raise bad("tools", TOOLS_REFUSED)
    options: dict[str, Any] = {}
    temperature = number(body, "temperature")
    if temperature is not None:
        options["temperature"] = float(temperature)
    for key in limit_keys:
        limit = number(body, key, whole=True)
        if limit is not None:
            options["max_tokens"] = limit
            break
    return name, options


def bad(param: str, message: str) -> ApiError:
    return ApiError(400, f"{param}: {message}", param=param, code="invalid_value")


def optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad(key, "must be a string")
    return value


def number(body: Mapping[str, Any], key: str, *, whole: bool = False) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
        raise bad(key, "must be a whole number" if whole else "must be a number")
    if whole and value < 1:
        raise bad(key, "must be at least 1")
    return value


def _image(url: Any, where: str) -> ImageContent:
    if not isinstance(url, str):
        raise bad(where, "an image needs a URL (https: or data:)")
    try:
        return ImageContent.from_url(url)
    except ValueError as exc:
        raise bad(where, str(exc)) from None


def user_parts(content: Any, where: str) -> str | list[UserContent]:
    """A user turn's content: text, or chat/Responses parts (text and images)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad(where, "must be a string or a list of content parts")
    parts: list[UserContent] = []
    for i, part in enumerate(content):
        at = f"{where}[{i}]"
        if not isinstance(part, Mapping):
            raise bad(at, "must be an object")
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise bad(f"{at}.text", "must be a string")
            parts.append(TextContent(text))
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            parts.append(_image(url, f"{at}.image_url"))
        elif kind == "input_image":
            parts.append(_image(part.get("image_url"), f"{at}.image_url"))
        else:
            raise bad(f"{at}.type", f"unsupported content part {kind!r}")
    return parts


def _text_of(content: Any, where: str) -> str:
    got = user_parts(content, where) if content is not None else ""
    if isinstance(got, str):
        return got
    if any(not isinstance(p, TextContent) for p in got):
        raise bad(where, "only text is accepted here")
    return "".join(p.text for p in got if isinstance(p, TextContent))


def chat_history(messages: Any) -> tuple[str, list[Message]]:
    """A chat completions ``messages`` list: the system text the client adds, and the
    turns as our records."""
    if not isinstance(messages, list) or not messages:
        raise bad("messages", "must be a non-empty list")
    system: list[str] = []
    out: list[Message] = []
    names: dict[str, str] = {}
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, Mapping):
            raise bad(where, "must be an object")
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(_text_of(m.get("content"), f"{where}.content"))
        elif role == "user":
            out.append(UserMessage(user_parts(m.get("content"), f"{where}.content")))
        elif role == "assistant":
            out.append(_assistant(m, where, names))
        elif role == "tool":
            call_id = m.get("tool_call_id")
            if not isinstance(call_id, str) or call_id not in names:
                raise bad(f"{where}.tool_call_id", "must name a tool call of an earlier message")
            text = _text_of(m.get("content"), f"{where}.content")
            out.append(ToolResultMessage(call_id, names[call_id], [TextContent(text)]))
        else:
            raise bad(f"{where}.role", f"unknown role {role!r} (known: system, developer, "
                      "user, assistant, tool)")  # fmt: skip
    return "\n\n".join(s for s in system if s), out


def _assistant(m: Mapping[str, Any], where: str, names: dict[str, str]) -> AssistantMessage:
    content: list[AssistantContent] = []
    reasoning = m.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        content.append(ThinkingContent(reasoning))
    text = _text_of(m.get("content"), f"{where}.content")
    if text:
        content.append(TextContent(text))
    calls = m.get("tool_calls") or []
    if not isinstance(calls, list):
        raise bad(f"{where}.tool_calls", "must be a list")
    for j, call in enumerate(calls):
        at = f"{where}.tool_calls[{j}]"
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(call.get("id"), str):
            raise bad(at, "must have an id and a function")
        name, args = fn.get("name"), fn.get("arguments") or "{}"
        if not isinstance(name, str) or not isinstance(args, str):
            raise bad(f"{at}.function", "needs a string name and string arguments")
        content.append(parse_tool_arguments(call["id"], name, args))
        names[call["id"]] = name
    stop = StopReason.TOOL_USE if calls else StopReason.STOP
    return AssistantMessage(content, stop)


def split_prompt(history: list[Message]) -> tuple[list[Message], list[Message]]:
    """The turns before the prompt, and the prompt: the user turns at the end."""
    cut = len(history)
    while cut and isinstance(history[cut - 1], UserMessage):
        cut -= 1
    if cut == len(history):
        raise bad("messages", "the last message must be the user's (the prompt to answer)")
    return history[:cut], history[cut:]


_STATUS = {
    FailureKind.RATE_LIMIT: 429,
    FailureKind.OVERLOADED: 503,
    FailureKind.CONTEXT_OVERFLOW: 400,
    FailureKind.TIMEOUT: 504,
    FailureKind.BUDGET: 402,
}


def failure_status(outcome: RunOutcome) -> ApiError:
    """A failed run as the API error a client of OpenAI's would get."""
    kind = outcome.failure.kind if outcome.failure is not None else None
    status = _STATUS.get(kind, 502) if kind is not None else 502
    if outcome.end.value == "deadline":
        status = 504
    code = str(kind) if kind is not None else outcome.end.value
    if kind in (FailureKind.AUTHENTICATION, FailureKind.PERMISSION):
        message = (
            "the agent's model refused the server's credentials; this is the server's configuration"
        )
    else:
        message = outcome.error or "the agent's run failed"
    return ApiError(status, message, code=code)


def usage_counts(outcome: RunOutcome) -> tuple[int, int, int, int]:
    """Prompt, completion, cached and reasoning tokens of a whole run."""
    u = outcome.usage
    return u.input + u.cache_read + u.cache_write, u.output, u.cache_read, u.reasoning
