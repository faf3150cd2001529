"""One cattrs converter for every record: plain JSON data out, records back.

All JSON shaping lives here, registered once, instead of ``to_dict`` methods spread
over the classes. Stream and agent events serialise too (tagged with their ``type``),
so a run can be logged or sent to a UI as JSON and read back. Content blocks carry ``type`` and messages carry ``role``, which is
how unions come back as the right class. A ``Model`` is written without its API key or secret headers.

    >>> data = serde.unstructure(message)          # dicts, lists, str, numbers
    >>> serde.structure(data, Message) == message
    True
"""

from __future__ import annotations

import datetime
import json
import math
import pathlib
import typing
import uuid
from typing import Any, TypeVar, cast

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._util.json import replace_lone_surrogates
from .messages import (
    SECRET_HEADERS,
    AgentEndEvent,
    AgentEvent,
    AgentStartEvent,
    AssistantContent,
    AssistantMessage,
    BudgetStopEvent,
    Context,
    DoneEvent,
    ErrorEvent,
    FailureKind,
    ImageContent,
    Message,
    MessageEndEvent,
    MessageStartEvent,
    MessageUpdateEvent,
    Model,
    RunEnd,
    StartEvent,
    StopReason,
    StreamEvent,
    TextContent,
    TextDeltaEvent,
    TextEndEvent,
    TextStartEvent,
    ThinkingContent,
    ThinkingDeltaEvent,
    ThinkingEndEvent,
    ThinkingStartEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
    ToolDefinition,
    ToolExecutionEndEvent,
    ToolExecutionStartEvent,
    ToolExecutionUpdateEvent,
    ToolResultMessage,
    TurnEndEvent,
    TurnStartEvent,
    UserContent,
    UserMessage,
)

__all__ = ["converter", "dumps", "loads", "structure", "unstructure"]

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)

_BLOCKS: dict[str, type[Any]] = {
    "text": TextContent,
    "thinking": ThinkingContent,
    "image": ImageContent,
    "toolCall": ToolCall,
}
_MESSAGES: dict[str, type[Any]] = {
    "user": UserMessage,
    "assistant": AssistantMessage,
    "toolResult": ToolResultMessage,
}


def _tagged(table: dict[str, type[Any]], tag: str, allowed: tuple[type[Any], ...]) -> Any:
    names = ", ".join(sorted(k for k, v in table.items() if v in allowed))

    def hook(value: Any, _type: Any) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object with a {tag!r} field, got {type(value).__name__}")
        kind = value.get(tag)
        cls = table.get(kind) if isinstance(kind, str) else None
        if cls is None or cls not in allowed:
            raise ValueError(f"unknown {tag} {kind!r}: expected one of {names}")
        return converter.structure(value, cls)

    return hook


# Values tools take and return (dates, ids, paths), as JSON writes them.
converter.register_unstructure_hook(datetime.datetime, lambda v: v.isoformat())
converter.register_structure_hook(
    datetime.datetime, lambda v, _t: datetime.datetime.fromisoformat(v)
)
converter.register_unstructure_hook(datetime.date, lambda v: v.isoformat())
converter.register_structure_hook(datetime.date, lambda v, _t: datetime.date.fromisoformat(v))
converter.register_unstructure_hook(datetime.time, lambda v: v.isoformat())
converter.register_structure_hook(datetime.time, lambda v, _t: datetime.time.fromisoformat(v))


def _is_set_type(t: Any) -> bool:
    return t is set or t is frozenset or typing.get_origin(t) in (set, frozenset)


converter.register_unstructure_hook_func(
    _is_set_type,
    lambda v: [converter.unstructure(x) for x in v],  # JSON has no sets
)
converter.register_unstructure_hook(uuid.UUID, str)
converter.register_structure_hook(uuid.UUID, lambda v, _t: uuid.UUID(v))
converter.register_unstructure_hook(pathlib.PurePath, str)
converter.register_structure_hook(pathlib.Path, lambda v, _t: pathlib.Path(v))

converter.register_unstructure_hook(StopReason, lambda v: str(v.value))
converter.register_structure_hook(StopReason, lambda v, _t: StopReason(v))
converter.register_unstructure_hook(RunEnd, lambda v: str(v.value))
converter.register_structure_hook(RunEnd, lambda v, _t: RunEnd(v))
converter.register_unstructure_hook(FailureKind, lambda v: str(v.value))
converter.register_structure_hook(FailureKind, lambda v, _t: FailureKind(v))


def _unstructure_fn(cls: type[Any], **overrides: Any) -> Any:
    # ``type``/``role`` are init=False tags: written out, and used to pick the class back.
    return make_dict_unstructure_fn(cls, converter, _cattrs_include_init_false=True, **overrides)


_cls: type[Any]
for _cls in (TextContent, ThinkingContent, ImageContent, ToolCall):
    converter.register_unstructure_hook(_cls, _unstructure_fn(_cls))
    converter.register_structure_hook(_cls, make_dict_structure_fn(_cls, converter))

converter.register_structure_hook(
    UserContent, _tagged(_BLOCKS, "type", (TextContent, ImageContent))
)
converter.register_structure_hook(
    AssistantContent, _tagged(_BLOCKS, "type", (TextContent, ThinkingContent, ToolCall))
)
converter.register_structure_hook(
    Message, _tagged(_MESSAGES, "role", (UserMessage, AssistantMessage, ToolResultMessage))
)


def _structure_user_content(value: Any, _type: Any) -> str | tuple[UserContent, ...]:
    if isinstance(value, str):
        return value
    return tuple(converter.structure(v, UserContent) for v in value)  # type: ignore[arg-type]


converter.register_structure_hook(
    UserMessage,
    make_dict_structure_fn(
        UserMessage, converter, content=override(struct_hook=_structure_user_content)
    ),
)
for _cls in (AssistantMessage, ToolResultMessage):
    converter.register_structure_hook(_cls, make_dict_structure_fn(_cls, converter))
for _cls in (UserMessage, AssistantMessage, ToolResultMessage):
    converter.register_unstructure_hook(_cls, _unstructure_fn(_cls))

# Unions are unstructured by the runtime class of the value.
for _union in (UserContent, AssistantContent, Message):
    converter.register_unstructure_hook(_union, lambda v: converter.unstructure(v, type(v)))


def _public_headers(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}


converter.register_unstructure_hook(
    Model,
    make_dict_unstructure_fn(
        Model,
        converter,
        api_key=override(omit=True),
        headers=override(unstruct_hook=_public_headers),
    ),
)
converter.register_structure_hook(
    Model, make_dict_structure_fn(Model, converter, api_key=override(omit=True))
)


# --- events: tagged with their ``type``, for logs and UIs ------------------------------

_STREAM_EVENTS: tuple[type[Any], ...] = (
    StartEvent,
    TextStartEvent,
    TextDeltaEvent,
    TextEndEvent,
    ThinkingStartEvent,
    ThinkingDeltaEvent,
    ThinkingEndEvent,
    ToolCallStartEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    DoneEvent,
    ErrorEvent,
)
_AGENT_EVENTS: tuple[type[Any], ...] = (
    AgentStartEvent,
    AgentEndEvent,
    BudgetStopEvent,
    TurnStartEvent,
    TurnEndEvent,
    MessageStartEvent,
    MessageUpdateEvent,
    MessageEndEvent,
    ToolExecutionStartEvent,
    ToolExecutionUpdateEvent,
    ToolExecutionEndEvent,
)
_EVENTS: dict[str, type[Any]] = {cls.type: cls for cls in (*_STREAM_EVENTS, *_AGENT_EVENTS)}


def _structure_optional_message(value: Any, _type: Any) -> Any:
    return None if value is None else converter.structure(value, Message)  # type: ignore[arg-type]


# Unions first: the per-class functions below look their fields' hooks up eagerly.
converter.register_structure_hook(StreamEvent, _tagged(_EVENTS, "type", _STREAM_EVENTS))
converter.register_structure_hook(AgentEvent, _tagged(_EVENTS, "type", _AGENT_EVENTS))
converter.register_unstructure_hook(StreamEvent, lambda v: converter.unstructure(v, type(v)))
converter.register_unstructure_hook(AgentEvent, lambda v: converter.unstructure(v, type(v)))
converter.register_structure_hook(Message | None, _structure_optional_message)


def _event_hooks(cls: type[Any]) -> tuple[Any, Any]:
    # ErrorEvent.error is a live exception: its words are in the message already.
    if cls is ErrorEvent:
        base = make_dict_unstructure_fn(cls, converter, error=override(omit=True))
        structure_fn = make_dict_structure_fn(cls, converter, error=override(omit=True))
    else:
        base = make_dict_unstructure_fn(cls, converter)
        structure_fn = make_dict_structure_fn(cls, converter)
    tag = cls.type

    def unstructure_fn(event: Any) -> dict[str, Any]:
        data: dict[str, Any] = base(event)
        data["type"] = tag
        return data

    return unstructure_fn, structure_fn


for _cls in _EVENTS.values():
    _un, _st = _event_hooks(_cls)
    converter.register_unstructure_hook(_cls, _un)
    converter.register_structure_hook(_cls, _st)


def _unstructure_context(ctx: Context) -> dict[str, Any]:
    return {
        "system_prompt": ctx.system_prompt,
        "messages": [converter.unstructure(m, type(m)) for m in ctx.messages],
        "tools": [
            {"name": t.name, "description": t.description, "parameters": dict(t.parameters)}
            for t in ctx.tools
        ],
    }


def _structure_context(value: Any, _type: Any) -> Context:
    return Context(
        value.get("system_prompt", ""),
        tuple(converter.structure(m, Message) for m in value.get("messages", ())),  # type: ignore[arg-type]
        tuple(converter.structure(t, ToolDefinition) for t in value.get("tools", ())),
    )


converter.register_unstructure_hook(Context, _unstructure_context)
converter.register_structure_hook(Context, _structure_context)


def unstructure(obj: Any) -> Any:
    """A record (or a list of them) as plain JSON data."""
    if attrs.has(type(obj)):
        return converter.unstructure(obj, type(obj))
    return converter.unstructure(obj)


def structure(data: Any, cls: Any) -> Any:
    """Plain JSON data back into ``cls`` (a record class, or ``Message`` for any message)."""
    return converter.structure(data, cls)


def dumps(obj: Any) -> str:
    """A record as JSON text (a lone surrogate anywhere in it written as U+FFFD, so that
    every store can encode it).

    orjson writes it, ten times faster than ``json``, when the data is plain JSON that
    orjson writes as ``json`` would: finite floats (orjson writes NaN as null), str keys,
    no objects of other types (orjson would write a datetime ``json`` refuses). Anything
    else, or what orjson refuses (a lone surrogate, an integer past 64 bits), takes
    ``json``'s path, so both paths read back the same."""
    data = unstructure(obj)
    if _plain(data):
        try:
            return orjson.dumps(data).decode()
        except orjson.JSONEncodeError:
            pass
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return replace_lone_surrogates(text)


def _plain(value: Any) -> bool:
    """Whether ``value`` is JSON that orjson and ``json`` write alike."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)  # NaN and the infinities are not
    # Loops, not all(): a generator per container costs more than the walk itself.
    if kind is dict:
        for key, item in value.items():  # noqa: SIM110
            if type(key) is not str or not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:  # noqa: SIM110
            if not _plain(item):
                return False
        return True
    return False


def loads(text: str | bytes, cls: type[T]) -> T:
    """JSON text back into a record of ``cls``."""
    return cast(T, structure(json.loads(text), cls))
