"""A session in memory: for tests, and for scripts that only want the protocol."""

from __future__ import annotations

from collections.abc import Sequence

import anyio.lowlevel

from ..messages import Message

__all__ = ["InMemorySession"]


class InMemorySession:
    """Messages in a list; gone with the process."""

    def __init__(self, messages: Sequence[Message] = ()) -> None:
        self._messages = list(messages)

    async def load(self) -> list[Message]:
        await anyio.lowlevel.checkpoint()
        return list(self._messages)

    async def append(self, messages: Sequence[Message]) -> None:
        await anyio.lowlevel.checkpoint()
        self._messages.extend(messages)

    async def replace(self, messages: Sequence[Message]) -> None:
        await anyio.lowlevel.checkpoint()
        self._messages[:] = messages

    async def clear(self) -> None:
        await anyio.lowlevel.checkpoint()
        self._messages.clear()

    def __repr__(self) -> str:
        return f"InMemorySession({len(self._messages)} messages)"
