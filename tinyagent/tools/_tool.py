"""Tools: what the model can call, how arguments are checked, and what comes back.

A tool's JSON Schema is compiled once, when the :class:`Tool` is made, so a bad schema
fails at definition time with a clear error and each call only pays for validation.
Cancellation reaches a running tool as ordinary anyio cancellation of its task: there is
no ``signal`` argument to thread through.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs
import jsonschema
import jsonschema.exceptions

from .._util import wording as words
from .._util.checks import seconds_or_none
from ..messages import ImageContent, TextContent, ToolCall, UserContent

__all__ = [
    "Approval",
    "Tool",
    "ToolResult",
    "ToolUpdate",
    "argument_problem",
]

ToolUpdate: TypeAlias = Callable[[Any], Awaitable[None]]
"""``await update(partial)`` streams progress; it becomes a tool-execution update event."""

ToolExecute: TypeAlias = Callable[[str, dict[str, Any], ToolUpdate], Awaitable["ToolResult | str"]]


def _content(value: str | Sequence[UserContent | str]) -> tuple[UserContent, ...]:
    """Text, or a sequence of content parts (a plain ``str`` part is text). Anything else
    fails here, in the tool, so that it becomes the call's error result instead of a
    transcript that cannot be sent."""
    if isinstance(value, str):
        return (TextContent(value),)
    if isinstance(value, bytes | bytearray) or not isinstance(value, Sequence):
        raise TypeError(
            f"ToolResult content must be a str or a sequence of TextContent, ImageContent "
            f"or str parts, got {type(value).__name__}"
        )
    parts: list[UserContent] = []
    for part in value:
        if isinstance(part, str):
            parts.append(TextContent(part))
        elif isinstance(part, TextContent | ImageContent):
            parts.append(part)
        elif isinstance(part, Mapping) and (read := _dict_part(part)) is not None:
            parts.append(read)
        else:
            raise TypeError(
                f"ToolResult content parts must be TextContent, ImageContent, str, or a dict "
                f"{{'type': 'text', 'text': ...}} or {{'type': 'image', 'data'|'url': ...}}, "
                f"got {type(part).__name__}: {part!r:.80}"
            )
    return tuple(parts)


_IMAGE_KEYS = {"type", "data", "mime_type", "mimeType", "url"}


def _dict_part(part: Mapping[str, Any]) -> UserContent | None:
    """A content part written as a dict, as the seed's docs and JSON write it: text
    ``{"type": "text", "text": ...}`` or an image (``data`` with ``mime_type`` or
    ``mimeType``, or ``url``). Any other dict is None (an error for the caller)."""
    if part.get("type") == "text" and set(part) == {"type", "text"}:
        if isinstance(part["text"], str):
            return TextContent(part["text"])
    elif part.get("type") == "image" and set(part) <= _IMAGE_KEYS:
        mime = part.get("mime_type", part.get("mimeType", "image/png"))
        return ImageContent(part.get("data"), mime, url=part.get("url"))
    return None


@attrs.frozen
class ToolResult:
    """What a tool returns: content for the model, ``details`` for the application only,
    and ``terminate=True`` to end the run after this tool batch."""

    content: tuple[UserContent, ...] = attrs.field(converter=_content)
    details: Any = None
    terminate: bool = False

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.content if isinstance(c, TextContent))


def _compile(tool: Tool) -> Any:
    schema = dict(tool.parameters)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        raise ValueError(f"tool {tool.name!r} has an invalid JSON Schema: {exc.message}") from None
    return cls(schema)


def _check_execute(tool: Tool, _a: attrs.Attribute[Any], value: Any) -> None:
    if not callable(value):
        raise TypeError(f"tool {tool.name!r}: execute must be an async callable")
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):  # a callable Python cannot describe: trust it
        return
    try:
        signature.bind("call-id", {}, None)
    except TypeError:
        needs = [
            p.name
            for p in signature.parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        seed = (
            " (the seed's execute(tool_call_id, args, signal, on_update)? drop `signal`: "
            "cancelling a tool is ordinary anyio cancellation)"
            if len(needs) == 4
            else ""
        )
        raise TypeError(
            f"tool {tool.name!r}: execute is called as execute(call_id, args, update), "
            f"but it takes ({', '.join(needs)}){seed}"
        ) from None


@attrs.frozen
class Tool:
    """A tool the model can call.

    ``execute(call_id, args, update)`` is async and returns a :class:`ToolResult` (a
    plain string is taken as its text). ``timeout`` overrides the agent's per-tool
    timeout (None: the agent's ``tool_timeout``); ``sequential=True`` makes the call run alone, after the calls before it and
    before the calls after it, instead of concurrently with its siblings.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    execute: ToolExecute = attrs.field(validator=_check_execute)
    timeout: float | None = attrs.field(default=None, validator=seconds_or_none)
    sequential: bool = False
    requires_approval: bool = False
    """Ask the agent's ``approve`` callback before each call (human in the loop)."""
    label: str = attrs.field(default="", kw_only=True, eq=False, repr=False)
    """A display name for your UI (the seed's ``AgentTool(label=)``): kept, never sent."""
    _validator: Any = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_validator", _compile(self))

    def validate(self, args: Mapping[str, Any]) -> list[str]:
        """Every way ``args`` breaks the schema, as readable lines (empty if none)."""
        problems = []
        for err in sorted(self._validator.iter_errors(args), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in err.absolute_path)
            problems.append(f"{where or '(root)'}: {err.message}")
        return problems

    async def unusable_arguments(self, call: ToolCall, problem: str) -> ToolResult | None:
        """Answer a call whose arguments could not be read or do not fit (``problem``
        says how). None, the default: the model gets ``problem`` as an error result. A
        tool that judges its own arguments (structured output's answer tool) counts it
        here, and may end the run."""
        return None


@attrs.frozen
class Approval:
    """What an ``approve`` callback decides for a call: ``Approval.allow()`` (optionally
    with edited ``arguments``) or ``Approval.deny(reason)``, whose reason the model sees.
    A callback may also return ``True``/``False``, or a dict of edited arguments."""

    allowed: bool
    reason: str | None = None
    arguments: Mapping[str, Any] | None = None

    @classmethod
    def allow(cls, arguments: Mapping[str, Any] | None = None) -> Approval:
        return cls(True, None, arguments)

    @classmethod
    def deny(cls, reason: str | None = None) -> Approval:
        return cls(False, reason)

    @classmethod
    def of(cls, value: Any) -> Approval:
        if isinstance(value, Approval):
            return value
        if isinstance(value, bool):
            return cls(value)
        if isinstance(value, Mapping):
            return cls(True, None, value)
        raise TypeError(
            f"approve must return an Approval, a bool or a dict of arguments, got "
            f"{type(value).__name__}"
        )


def argument_problem(tool: Tool | None, call: ToolCall, known: Sequence[str]) -> str | None:
    """Why ``call`` cannot run, in words the model can act on; None if it can."""
    if tool is None:
        names = ", ".join(sorted(known)) or "(none)"
        return words.tool_unknown(call.name, names)
    if call.arguments_error is not None:
        return words.tool_unusable_arguments(call.name, call.arguments_error, call.raw_arguments)
    problems = tool.validate(call.arguments)
    if problems:
        lines = "\n".join(f"- {p}" for p in problems)
        return words.tool_invalid_arguments(call.name, lines)
    return None
