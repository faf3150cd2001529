"""One object per event loop, with a task that lives as long as the loop.

The default session and the native wake-ups both need this: made on first use in a
loop, kept for that loop only, and served by a task (a trio system task, an asyncio
task) that the loop's own shutdown cancels — trio cancels its system tasks at the end of
a run, and ``asyncio.run`` (and anyio's runner) cancel and await every task left.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

import sniffio

__all__ = ["PerLoop"]

T = TypeVar("T")


class PerLoop(Generic[T]):
    """``PerLoop(make, serve, name).get()``: this loop's ``make()``, with ``serve(it)``
    started as a task named ``name`` the first time."""

    def __init__(
        self,
        make: Callable[[], T],
        serve: Callable[[T], Coroutine[Any, Any, None]],
        name: str,
    ) -> None:
        self._make = make
        self._serve = serve
        self._name = name
        self._trio_var: Any = None
        # asyncio holds only weak references to tasks: the task is kept here with it.
        self._asyncio: weakref.WeakKeyDictionary[Any, tuple[T, Any]] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        if sniffio.current_async_library() == "trio":
            import trio

            if self._trio_var is None:
                self._trio_var = trio.lowlevel.RunVar(self._name)
            try:
                found: T = self._trio_var.get()
            except LookupError:
                found = self._make()
                self._trio_var.set(found)
                trio.lowlevel.spawn_system_task(self._serve, found, name=self._name)
            return found
        import asyncio

        loop = asyncio.get_running_loop()
        entry = self._asyncio.get(loop)
        if entry is None:
            made = self._make()
            task = loop.create_task(self._serve(made), name=self._name)
            entry = self._asyncio[loop] = (made, task)
        return entry[0]
