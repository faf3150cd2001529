"""One wake-up descriptor per event loop for every native stream running on it.

A native stream used to hold a pipe of its own to wake Python, so each stream cost two
descriptors (its socket and its pipe) and ten thousand streams ran out of them. Now the
streams of an event loop share one :class:`NativeWaker`: a stream with items queues its
id and the first id writes one byte. One task per loop (a trio system task, an asyncio
task, as for the default session) waits on that descriptor and wakes the streams whose
ids it reads. A stream waits only after a drain found nothing, with no await between,
so no wake-up can be missed; a late one only causes an extra, empty drain.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

import anyio
import sniffio

__all__ = ["DISPATCHER_NAME", "Wakeups", "loop_wakeups"]

DISPATCHER_NAME = "tinyagent: native wake-ups"


class Wakeups:
    """The shared waker of one event loop, and who waits on it."""

    def __init__(self, core: Any) -> None:
        self.waker = core.NativeWaker()
        self._waiting: dict[int, anyio.Event] = {}
        self._ids = itertools.count(1)

    def new_id(self) -> int:
        return next(self._ids)

    async def wait(self, stream_id: int) -> None:
        """Until the stream ``stream_id`` may have items."""
        event = self._waiting[stream_id] = anyio.Event()
        try:
            await event.wait()
        finally:
            if self._waiting.get(stream_id) is event:
                del self._waiting[stream_id]

    async def dispatch(self) -> None:
        """Run for the loop's life: wake each stream whose id the waker reports."""
        fd = self.waker.fileno()
        while True:
            await anyio.wait_readable(fd)
            for stream_id in self.waker.take_ready():
                event = self._waiting.get(stream_id)
                if event is not None:
                    event.set()


_asyncio: weakref.WeakKeyDictionary[Any, tuple[Wakeups, Any]] = weakref.WeakKeyDictionary()
_trio_var: Any = None


def loop_wakeups(core: Any) -> Wakeups:
    """This event loop's wake-ups (made, with their dispatcher task, on first use)."""
    if sniffio.current_async_library() == "trio":
        import trio

        global _trio_var
        if _trio_var is None:
            _trio_var = trio.lowlevel.RunVar("tinyagent_native_wakeups")
        try:
            found: Wakeups = _trio_var.get()
        except LookupError:
            found = Wakeups(core)
            _trio_var.set(found)
            trio.lowlevel.spawn_system_task(found.dispatch, name=DISPATCHER_NAME)
        return found
    import asyncio

    loop = asyncio.get_running_loop()
    entry = _asyncio.get(loop)
    if entry is None:
        wakeups = Wakeups(core)
        # Kept here: asyncio holds only weak references to tasks.
        task = loop.create_task(wakeups.dispatch(), name=DISPATCHER_NAME)
        entry = _asyncio[loop] = (wakeups, task)
    return entry[0]
