"""One wake-up descriptor per event loop for every native stream running on it.

A native stream used to hold a pipe of its own to wake Python, so each stream cost two
descriptors (its socket and its pipe) and ten thousand streams ran out of them. Now the
streams of an event loop share one :class:`NativeWaker`: a stream with items queues its
id and the first id writes one byte. A stream waits only after a drain found nothing,
with no await between, so no wake-up can be missed; a late one only causes an extra,
empty drain.

Who watches the descriptor differs by loop. On asyncio it stays registered for the
loop's life and a callback wakes the streams whose ids it reads. Trio has no such
callback: there the stream that waits first watches it itself (it *leads*), and wakes
the others whose ids it reads, until its own id comes. A task that another task woke
runs one scheduler pass later, so a call waiting alone (a ``complete()``, an agent's
turn) is woken by the loop directly, not through a task of ours. A leader that leaves
while others wait hands the descriptor to one of them (its heir), which leads from then
on.
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
        self._fd: int = self.waker.fileno()
        # Trio: whether a stream watches the descriptor, and the one woken to take it over.
        self._leading = False
        self._heir: int | None = None
        # A wait per wake-up, on the loop's own primitive: anyio's Event wraps one
        # (~4 µs more a wait, and a call waits once or twice).
        self._asyncio = sniffio.current_async_library() == "asyncio"

    def new_id(self) -> int:
        return next(self._ids)

    async def wait(self, stream_id: int) -> None:
        """Until the stream ``stream_id`` may have items."""
        if not self._asyncio:
            await self._wait_trio(stream_id)
            return
        import asyncio

        waiter = asyncio.get_running_loop().create_future()
        self._waiting[stream_id] = waiter
        try:
            await waiter
        finally:
            if self._waiting.get(stream_id) is waiter:
                del self._waiting[stream_id]

    async def _wait_trio(self, stream_id: int) -> None:
        import trio

        if self._leading or self._heir is not None:
            waiter = trio.Event()
            self._waiting[stream_id] = waiter
            try:
                await waiter.wait()
            except BaseException:
                if self._waiting.get(stream_id) is waiter:
                    del self._waiting[stream_id]
                if self._heir == stream_id:
                    # Cancelled, then made heir by a leader that left before this task
                    # ran: someone else must lead.
                    self._heir = None
                    self._hand_on()
                raise
            if self._heir != stream_id:
                return  # woken for its own items
            self._heir = None  # woken to lead: its own id has not come (or it reads it now)
        self._leading = True
        try:
            while True:
                await trio.lowlevel.wait_readable(self._fd)
                if self._wake(stream_id):
                    return
        finally:
            self._leading = False
            self._hand_on()

    def _hand_on(self) -> None:
        """Trio: with no leader, wake one waiting stream to lead (it has no items: those
        that had were woken and left ``_waiting``)."""
        if self._waiting and not self._leading and self._heir is None:
            heir = next(iter(self._waiting))
            self._heir = heir
            self._waiting.pop(heir).set()

    async def dispatch(self) -> None:
        """Asyncio: run for the loop's life, waking each stream whose id the waker
        reports (on trio the waiting streams watch the descriptor themselves)."""
        if not self._asyncio:
            return
        # asyncio registers and unregisters a reader on every wait_readable (two
        # epoll_ctl calls and a future per wake-up); the descriptor stays registered here
        # for the loop's life, and the callback wakes the streams.
        import asyncio

        loop = asyncio.get_running_loop()
        loop.add_reader(self._fd, self._wake)
        try:
            await anyio.sleep_forever()
        finally:
            loop.remove_reader(self._fd)

    def _wake(self, own: int | None = None) -> bool:
        """Wake each waiting stream whose id the waker reports; whether ``own`` (the
        leader's id) was among them."""
        found = False
        for stream_id in self.waker.take_ready():
            if stream_id == own:
                found = True
                continue
            waiter = self._waiting.pop(stream_id, None)
            if waiter is None:
                continue
            if not self._asyncio:
                waiter.set()
            elif not waiter.done():  # done: cancelled with its task
                waiter.set_result(None)
        return found


_wakeups: dict[int, PerLoop[Wakeups]] = {}  # by the native module's id (one in practice)


def loop_wakeups(core: Any) -> Wakeups:
    """This event loop's wake-ups (made, with their dispatcher task, on first use)."""
    per_loop = _wakeups.get(id(core))
    if per_loop is None:
        per_loop = _wakeups[id(core)] = PerLoop(
            lambda: Wakeups(core), Wakeups.dispatch, DISPATCHER_NAME
        )
    return per_loop.get()
