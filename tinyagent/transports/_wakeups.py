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
from typing import Any

import anyio
import sniffio

from ._per_loop import PerLoop

__all__ = ["DISPATCHER_NAME", "Wakeups", "loop_wakeups"]

DISPATCHER_NAME = "tinyagent: native wake-ups"


class Wakeups:
    """The shared waker of one event loop, and who waits on it."""

    def __init__(self, core: Any) -> None:
        self.waker = core.NativeWaker()
        self._waiting: dict[int, Any] = {}  # a trio.Event, or an asyncio future
        self._ids = itertools.count(1)
        # A wait per wake-up, on the loop's own primitive: anyio's Event wraps one
        # (~4 µs more a wait, and a call waits once or twice).
        self._asyncio = sniffio.current_async_library() == "asyncio"

    def new_id(self) -> int:
        return next(self._ids)

    async def wait(self, stream_id: int) -> None:
        """Until the stream ``stream_id`` may have items."""
        if self._asyncio:
            import asyncio

            waiter: Any = asyncio.get_running_loop().create_future()
            woken = waiter
        else:
            import trio

            waiter = trio.Event()
            woken = waiter.wait()
        self._waiting[stream_id] = waiter
        try:
            await woken
        finally:
            if self._waiting.get(stream_id) is waiter:
                del self._waiting[stream_id]

    async def dispatch(self) -> None:
        """Run for the loop's life: wake each stream whose id the waker reports."""
        fd = self.waker.fileno()
        if self._asyncio:
            # asyncio registers and unregisters a reader on every wait_readable (two
            # epoll_ctl calls and a future per wake-up); the descriptor stays registered
            # here for the loop's life, and the callback wakes the streams.
            import asyncio

            loop = asyncio.get_running_loop()
            loop.add_reader(fd, self._wake)
            try:
                await anyio.sleep_forever()
            finally:
                loop.remove_reader(fd)
        else:
            while True:
                await anyio.wait_readable(fd)
                self._wake()

    def _wake(self) -> None:
        for stream_id in self.waker.take_ready():
            waiter = self._waiting.get(stream_id)
            if waiter is None:
                continue
            if not self._asyncio:
                waiter.set()
            elif not waiter.done():  # done: cancelled with its task
                waiter.set_result(None)


_wakeups: dict[int, PerLoop[Wakeups]] = {}  # by the native module's id (one in practice)


def loop_wakeups(core: Any) -> Wakeups:
    """This event loop's wake-ups (made, with their dispatcher task, on first use)."""
    per_loop = _wakeups.get(id(core))
    if per_loop is None:
        per_loop = _wakeups[id(core)] = PerLoop(
            lambda: Wakeups(core), Wakeups.dispatch, DISPATCHER_NAME
        )
    return per_loop.get()
