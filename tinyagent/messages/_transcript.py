"""Rules every holder of a transcript keeps alike: a tool call never stays without a
result (one that was cut off gets an "aborted" one, so the transcript can be sent to a
model again). The run, the session's load-time repair and ``Agent`` share them."""

from __future__ import annotations

from collections.abc import Sequence

from .._util import wording as words
from ._records import AssistantMessage, Message, ToolCall, ToolResultMessage

__all__ = ["aborted_result", "unanswered_calls"]


def aborted_result(call: ToolCall, why: str) -> ToolResultMessage:
    """The result of a call that was cut off (an abort, a deadline, a crash)."""
    return ToolResultMessage(call.id, call.name, words.tool_aborted(why), is_error=True)


def unanswered_calls(messages: Sequence[Message]) -> tuple[ToolCall, ...]:
    """The tool calls of the last assistant message that have no result yet."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, AssistantMessage):
            answered = {
                r.tool_call_id for r in messages[i + 1 :] if isinstance(r, ToolResultMessage)
            }
            return tuple(c for c in m.tool_calls if c.id not in answered)
    return ()
