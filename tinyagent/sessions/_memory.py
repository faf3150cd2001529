"""A session in memory: for tests, and for scripts that only want the protocol."""

from __future__ import annotations

from collections.abc import Sequence

import anyio.lowlevel

from ..messages import Message
from ._lease import SessionInUseError, owner_words

__all__ = ["InMemorySession"]


class InMemorySession:
    """Messages in a list; gone with the process."""

    def __init__(self, messages: Sequence[Message] = ()) -> None:
        self._messages = list(messages)
        self._owner: str | None = None

    async def acquire(self, owner: str) -> None:
        """Hold this session for ``owner``, or raise :class:`SessionInUseError`."""
        await anyio.lowlevel.checkpoint()
        if self._owner is not None and self._owner != owner:
            raise SessionInUseError(f"{self!r} is in use by {owner_words(self._owner)}")
        self._owner = owner

    async def release(self, owner: str) -> None:
        if self._owner == owner:
            self._owner = None

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
