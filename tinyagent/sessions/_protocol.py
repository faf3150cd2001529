"""What a session is: where an agent's transcript lives between runs and processes.

An :class:`Agent` given a session loads the transcript from it before its first run and
appends each message the moment the run adds it (before the message's events reach any
listener), so that a crash loses at most the reply being streamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..messages import Message, ToolResultMessage, aborted_result, unanswered_calls

__all__ = ["Session", "unanswered_results"]

INTERRUPTED = "the process ended before the call finished"

# The file stores write an append on the caller's thread when nothing can make it wait
# (no fsync, no other writer), up to this much JSON; a larger one goes to a worker
# thread, so the event loop never waits on a long write.
IN_PLACE_LIMIT = 256 * 1024


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


def unanswered_results(messages: Sequence[Message]) -> list[ToolResultMessage]:
    """Results for the calls :func:`unanswered_calls` finds (a run cut off by a crash
    mid-batch), answered as aborted, as an abort would: the transcript can then be sent
    to a model again."""
    return [aborted_result(c, INTERRUPTED) for c in unanswered_calls(messages)]
