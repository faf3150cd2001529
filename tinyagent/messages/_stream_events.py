"""Events of one streamed assistant message.

Each event carries only what is new (a delta) and the index of the content block it
belongs to, never a copy of the partial message: the cost of an event does not grow
with the length of the reply. The block-end events carry the finished block, and the
last event (:class:`DoneEvent` or :class:`ErrorEvent`) carries the final message.
"""

from __future__ import annotations

from typing import ClassVar, TypeAlias

import attrs

from ._records import AssistantMessage, TextContent, ThinkingContent, ToolCall

__all__ = [
    "DoneEvent",
    "ErrorEvent",
    "StartEvent",
    "StreamEvent",
    "TextDeltaEvent",
    "TextEndEvent",
    "TextStartEvent",
    "ThinkingDeltaEvent",
    "ThinkingEndEvent",
    "ThinkingStartEvent",
    "ToolCallDeltaEvent",
    "ToolCallEndEvent",
    "ToolCallStartEvent",
]


@attrs.frozen
class StartEvent:
    """The response began (headers received); nothing has been assembled yet."""

    model: str
    provider: str
    type: ClassVar[str] = "start"


@attrs.frozen
class TextStartEvent:
    index: int
    type: ClassVar[str] = "text_start"


@attrs.frozen
class TextDeltaEvent:
    index: int
    delta: str
    type: ClassVar[str] = "text_delta"


@attrs.frozen
class TextEndEvent:
    index: int
    content: TextContent
    type: ClassVar[str] = "text_end"


@attrs.frozen
class ThinkingStartEvent:
    index: int
    type: ClassVar[str] = "thinking_start"


@attrs.frozen
class ThinkingDeltaEvent:
    index: int
    delta: str
    type: ClassVar[str] = "thinking_delta"


@attrs.frozen
class ThinkingEndEvent:
    index: int
    content: ThinkingContent
    type: ClassVar[str] = "thinking_end"


@attrs.frozen
class ToolCallStartEvent:
    """A tool call began. ``id`` and ``name`` are as known so far (some servers send
    them late); the final values are on :class:`ToolCallEndEvent`."""

    index: int
    id: str
    name: str
    type: ClassVar[str] = "toolcall_start"


@attrs.frozen
class ToolCallDeltaEvent:
    """A fragment of the call's argument JSON text, as the server sent it."""

    index: int
    delta: str
    type: ClassVar[str] = "toolcall_delta"


@attrs.frozen
class ToolCallEndEvent:
    index: int
    tool_call: ToolCall
    type: ClassVar[str] = "toolcall_end"


@attrs.frozen
class DoneEvent:
    """The message finished normally (stop, length or tool_use)."""

    message: AssistantMessage
    type: ClassVar[str] = "done"


@attrs.frozen
class ErrorEvent:
    """The message ended in failure or was aborted; ``message`` keeps what arrived.

    ``error`` is the exception behind it when there is one (a :class:`ProviderError`
    with the HTTP status, a :class:`StreamFormatError`, a transport error); the message's
    ``error_message`` always says the same in words.
    """

    message: AssistantMessage
    error: BaseException | None = attrs.field(default=None, eq=False)
    type: ClassVar[str] = "error"


StreamEvent: TypeAlias = (
    StartEvent
    | TextStartEvent
    | TextDeltaEvent
    | TextEndEvent
    | ThinkingStartEvent
    | ThinkingDeltaEvent
    | ThinkingEndEvent
    | ToolCallStartEvent
    | ToolCallDeltaEvent
    | ToolCallEndEvent
    | DoneEvent
    | ErrorEvent
)
