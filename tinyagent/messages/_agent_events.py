"""Events of an agent run, in the order a reader would expect them.

agent_start
  turn_start
    message_start / message_update* / message_end      (the assistant's reply)
    tool_execution_start / tool_execution_update* / tool_execution_end  (per call)
    message_start / message_end                        (each tool result, in call order)
    message_start / message_end                        (steering or follow-up messages)
  turn_end
  ...
agent_end                                              (exactly once, always last)
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar, TypeAlias

import attrs

from ._records import AssistantMessage, Message, Spend, ToolCall, ToolResultMessage, Usage
from ._stream_events import StreamEvent

__all__ = [
    "AgentEndEvent",
    "AgentEvent",
    "AgentStartEvent",
    "BudgetStopEvent",
    "MessageEndEvent",
    "MessageStartEvent",
    "MessageUpdateEvent",
    "RunEnd",
    "ToolExecutionEndEvent",
    "ToolExecutionStartEvent",
    "ToolExecutionUpdateEvent",
    "TurnEndEvent",
    "TurnStartEvent",
]


@attrs.frozen
class AgentStartEvent:
    type: ClassVar[str] = "agent_start"


class RunEnd(enum.StrEnum):
    """Why a run ended (``AgentEndEvent.stop_reason``): the model finished (``stop``),
    ``abort()`` (``aborted``, recorded when it is called), the run's ``deadline``, an
    ``error`` (a provider failure or a raising hook), ``max_turns``, a tool's
    ``terminate`` (``terminated``), ``should_stop_after_turn`` (``stopped``), or its
    budget: the next call's worst case did not fit (``budget``)."""

    STOP = "stop"
    ABORTED = "aborted"
    DEADLINE = "deadline"
    ERROR = "error"
    MAX_TURNS = "max_turns"
    TERMINATED = "terminated"
    STOPPED = "stopped"
    BUDGET = "budget"


@attrs.frozen
class AgentEndEvent:
    """The run is over. ``messages`` are the messages this run added to the transcript;
    ``stop_reason`` says why it ended (``stop``, ``aborted``, ``error``, ``max_turns``,
    ``terminated``, ``deadline``…) and ``error_message`` says more when it failed."""

    messages: tuple[Message, ...]
    usage: Usage
    stop_reason: RunEnd = attrs.field(converter=RunEnd)
    error_message: str | None = None
    type: ClassVar[str] = "agent_end"


@attrs.frozen
class BudgetStopEvent:
    """The run's next model call was not sent: its worst case (``needed``) does not fit
    the ``limit`` cap (``cost``, ``input``, ``output``, ``total`` or ``requests``, at
    ``cap``) beside what was ``spent``. The run then ends with ``stop_reason="budget"``;
    ``message`` says it in a line."""

    spent: Spend
    needed: Spend
    limit: str
    cap: float
    message: str
    type: ClassVar[str] = "budget_stop"


@attrs.frozen
class TurnStartEvent:
    turn: int
    type: ClassVar[str] = "turn_start"


@attrs.frozen
class TurnEndEvent:
    turn: int
    message: AssistantMessage
    tool_results: tuple[ToolResultMessage, ...]
    type: ClassVar[str] = "turn_end"


@attrs.frozen
class MessageStartEvent:
    """A message begins. For the assistant's streamed reply ``message`` is None (nothing
    is assembled yet); for user, steering and tool-result messages it is the message."""

    role: str
    message: Message | None
    type: ClassVar[str] = "message_start"


@attrs.frozen
class MessageUpdateEvent:
    """One provider stream event of the assistant's reply (a text delta, a tool-call
    fragment…), carrying only its delta."""

    event: StreamEvent
    type: ClassVar[str] = "message_update"


@attrs.frozen
class MessageEndEvent:
    message: Message
    type: ClassVar[str] = "message_end"


@attrs.frozen
class ToolExecutionStartEvent:
    call: ToolCall
    type: ClassVar[str] = "tool_execution_start"


@attrs.frozen
class ToolExecutionUpdateEvent:
    call_id: str
    tool_name: str
    partial: Any
    type: ClassVar[str] = "tool_execution_update"


@attrs.frozen
class ToolExecutionEndEvent:
    call: ToolCall
    result: ToolResultMessage
    type: ClassVar[str] = "tool_execution_end"

    @property
    def is_error(self) -> bool:
        return self.result.is_error


AgentEvent: TypeAlias = (
    AgentStartEvent
    | AgentEndEvent
    | BudgetStopEvent
    | TurnStartEvent
    | TurnEndEvent
    | MessageStartEvent
    | MessageUpdateEvent
    | MessageEndEvent
    | ToolExecutionStartEvent
    | ToolExecutionUpdateEvent
    | ToolExecutionEndEvent
)
