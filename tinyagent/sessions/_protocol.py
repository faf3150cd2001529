"""What a session is: where an agent's transcript lives between runs and processes.

An :class:`Agent` given a session loads the transcript from it before its first run and
appends each message the moment the run adds it (before the message's events reach any
listener), so that a crash loses at most the reply being streamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .._messages import AssistantMessage, Message, ToolCall, ToolResultMessage
from ..tools._runner import aborted_result

__all__ = ["Session", "unanswered_calls", "unanswered_results"]

INTERRUPTED = "the process ended before the call finished"


@runtime_checkable
class Session(Protocol):
    """A stored transcript. Methods are async (a store may do I/O) and each call is
    atomic: ``append`` stores all of its messages or none."""

    async def load(self) -> list[Message]:
        """The stored messages, oldest first."""
        ...

    async def append(self, messages: Sequence[Message]) -> None:
        """Store ``messages`` after the ones already stored; returns once they are."""
        ...

    async def clear(self) -> None:
        """Forget every stored message of this session."""
        ...


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


def unanswered_results(messages: Sequence[Message]) -> list[ToolResultMessage]:
    """Results for the calls :func:`unanswered_calls` finds (a run cut off by a crash
    mid-batch), answered as aborted, as an abort would: the transcript can then be sent
    to a model again."""
    return [aborted_result(c, INTERRUPTED) for c in unanswered_calls(messages)]
