"""What ``Agent.stream()`` returns: an async context manager, and a clear error for the
seed's ``async for e in agent.stream(x)`` form."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, NoReturn, TypeVar

__all__ = ["RunStream"]

T = TypeVar("T")


class RunStream(Generic[T]):
    """``async with agent.stream("hi") as events: async for e in events: ...``

    A run's task group must close where it opened, so the stream is a block, not a
    bare iterator (the seed's ``async for e in agent.stream(x)``)."""

    def __init__(self, cm: AbstractAsyncContextManager[T], method: str) -> None:
        self._cm = cm
        self._method = method

    async def __aenter__(self) -> T:
        return await self._cm.__aenter__()

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._cm.__aexit__(*exc)

    def __aiter__(self) -> NoReturn:
        raise TypeError(
            f"agent.{self._method}(...) is an async context manager, not an async iterator: "
            f"write `async with agent.{self._method}(prompt) as events:` and then "
            "`async for event in events:` inside the block (the run's tasks live in it)"
        )
