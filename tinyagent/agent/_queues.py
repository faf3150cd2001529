"""The agent's steering and follow-up queues, each with its delivery mode.

``"one-at-a-time"`` (the seed's default) delivers one queued message per turn, so the
model answers each before it sees the next; ``"all"`` delivers every queued message at
once.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from ..messages import Message

__all__ = ["DeliveryMode", "MessageQueue"]

DeliveryMode = Literal["one-at-a-time", "all"]
_MODES = ("one-at-a-time", "all")


class MessageQueue:
    __slots__ = ("_items", "mode")

    def __init__(self, mode: DeliveryMode = "one-at-a-time") -> None:
        self._items: deque[Message] = deque()
        self.mode: DeliveryMode = check_mode(mode)

    def append(self, message: Message) -> None:
        self._items.append(message)

    def take(self) -> list[Message]:
        """What this turn delivers, by the queue's mode."""
        if not self._items:
            return []
        if self.mode == "one-at-a-time":
            return [self._items.popleft()]
        out = list(self._items)
        self._items.clear()
        return out

    def clear(self) -> None:
        self._items.clear()

    def __bool__(self) -> bool:
        return bool(self._items)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._items)


def check_mode(mode: str) -> DeliveryMode:
    if mode not in _MODES:
        raise ValueError(f"delivery mode {mode!r}: use 'one-at-a-time' or 'all'")
    return mode  # type: ignore[return-value]
