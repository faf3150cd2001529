"""Native streams sharing an event loop's wake-up descriptor: each is woken for its own
items, whichever order replies come in, and whichever of them is cancelled (on trio the
first stream to wait watches the descriptor for all: when it leaves, another takes
over); a call that reads no events (``complete()``) is woken at its end, not chunk by
chunk."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from tinyagent import complete, stream
from tinyagent.messages import AssistantMessage, Context, Model, UserMessage
from tinyagent.testing import LocalServer, RecordedRequest, Reply, text_reply
from tinyagent.transports import _native_bridge
from tinyagent.transports._wakeups import Wakeups

pytestmark = pytest.mark.anyio


def ctx(n: int) -> Context:
    return Context("", (UserMessage(f"call {n}"),))


class Gated:
    """A server handler: call ``n`` is answered ``reply n`` once ``release(n)``."""

    def __init__(self, count: int) -> None:
        self.gates = [anyio.Event() for _ in range(count)]
        self.arrived: set[int] = set()
        self.arrival = anyio.Event()

    async def __call__(self, request: RecordedRequest) -> Reply:
        n = int(request.json["messages"][-1]["content"].split()[-1])
        self.arrived.add(n)
        self.arrival.set()
        await self.gates[n].wait()
        return text_reply(f"reply {n}")

    async def wait_arrived(self, *ns: int) -> None:
        with anyio.fail_after(10):
            while not set(ns) <= self.arrived:
                self.arrival = anyio.Event()
                await self.arrival.wait()


async def call(model: Model, n: int, out: dict[int, Any], scope: anyio.CancelScope) -> None:
    with scope:
        out[n] = await complete(model, ctx(n), transport="native", max_retries=0)


async def test_each_stream_gets_its_own_reply_in_any_order() -> None:
    count = 12
    handler = Gated(count)
    out: dict[int, AssistantMessage] = {}
    async with LocalServer(handler=handler) as server:
        with anyio.fail_after(10):  # a stream nobody wakes fails here, not hangs
            async with anyio.create_task_group() as tg:
                model = server.model()
                for n in range(count):
                    tg.start_soon(call, model, n, out, anyio.CancelScope())
                await handler.wait_arrived(*range(count))
                # The first to wait (on trio, the one watching for all) is answered last.
                for n in reversed(range(count)):
                    handler.gates[n].set()
                    await anyio.sleep(0.01)
    assert {n: m.text for n, m in out.items()} == {n: f"reply {n}" for n in range(count)}


@pytest.mark.parametrize("cancelled", [(0,), (0, 1), (1,), (0, 2, 4)])
async def test_the_others_are_answered_when_waiting_streams_are_cancelled(
    cancelled: tuple[int, ...],
) -> None:
    count = 6
    handler = Gated(count)
    out: dict[int, AssistantMessage] = {}
    scopes = [anyio.CancelScope() for _ in range(count)]
    async with LocalServer(handler=handler) as server:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                model = server.model()
                # Call 0 waits first (it waits before its request is even sent): on
                # trio it watches the descriptor; the others wait behind it.
                tg.start_soon(call, model, 0, out, scopes[0])
                await handler.wait_arrived(0)
                for n in range(1, count):
                    tg.start_soon(call, model, n, out, scopes[n])
                await handler.wait_arrived(*range(count))
                for n in cancelled:
                    scopes[n].cancel()
                await anyio.sleep(0.05)
                for n in range(count):
                    handler.gates[n].set()
    answered = {n: m.text for n, m in out.items()}
    assert answered == {n: f"reply {n}" for n in range(count) if n not in cancelled}


async def test_a_stream_that_waits_after_the_others_left_is_still_woken() -> None:
    handler = Gated(3)
    out: dict[int, AssistantMessage] = {}
    async with LocalServer(handler=handler) as server:
        model = server.model()
        for n in range(3):  # one after another: each waits alone, after one that left
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(call, model, n, out, anyio.CancelScope())
                    await handler.wait_arrived(n)
                    handler.gates[n].set()
    assert [out[n].text for n in range(3)] == ["reply 0", "reply 1", "reply 2"]


class CountingStream:
    """The core's stream, counting the drains Python makes."""

    def __init__(self, inner: Any, counts: list[int]) -> None:
        self._inner = inner
        self._counts = counts

    def drain(self) -> Any:
        self._counts.append(1)
        return self._inner.drain()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def drains(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counts: list[int] = []
    start = _native_bridge.NativeSource._start

    def counted(self: Any) -> None:
        start(self)
        self._stream = CountingStream(self._stream, counts)

    monkeypatch.setattr(_native_bridge.NativeSource, "_start", counted)
    return counts


def paused() -> Reply:
    # Headers and the first chunk, a pause, then the rest.
    return text_reply("a b c d").but(stall_after=1, stall=0.3)


async def test_a_call_that_reads_no_events_is_woken_at_its_end(drains: list[int]) -> None:
    async with LocalServer([paused(), paused()]) as server:
        model = server.model()
        # The control: a stream read event by event wakes at its headers' or its first
        # chunk, then again after the pause.
        async with stream(model, ctx(0), transport="native") as events:
            async for _ in events:
                pass
        assert events.message is not None and events.message.text == "a b c d"
        assert len(drains) >= 3  # one empty drain before the first wake, then 2 wakes
        drains.clear()
        reply = await complete(model, ctx(1), transport="native")
        assert reply.text == "a b c d"
        assert len(drains) == 2  # the empty one, and the end


# --- the hand-over itself, on a waker this test rings ----------------------------------


class FakeWaker:
    """The core's waker, rung by the test: ids queue, the first one makes the
    descriptor readable, ``take_ready`` clears it."""

    def __init__(self) -> None:
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._ready: list[int] = []

    def fileno(self) -> int:
        return self._read.fileno()

    def notify(self, *ids: int) -> None:
        if not self._ready:
            self._write.send(b"x")
        self._ready.extend(ids)

    def take_ready(self) -> list[int]:
        with contextlib.suppress(BlockingIOError):
            self._read.recv(64)
        out, self._ready = self._ready, []
        return out

    def close(self) -> None:
        self._read.close()
        self._write.close()


class FakeCore:
    NativeWaker = FakeWaker


class Woken:
    """The ids woken so far, in order."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self._more = anyio.Event()

    def add(self, i: int) -> None:
        self.ids.append(i)
        self._more.set()

    async def until(self, *ids: int) -> None:
        while not set(ids) <= set(self.ids):
            self._more = anyio.Event()
            await self._more.wait()


class Waiting:
    """Streams ``1..count`` waiting on one loop's wake-ups, in order (each waits before
    the next starts), each in a cancel scope of its own."""

    def __init__(self, count: int) -> None:
        self.wakeups = Wakeups(FakeCore())
        self.woken = Woken()
        self.scopes = {i: anyio.CancelScope() for i in range(1, count + 1)}

    def notify(self, *ids: int) -> None:
        self.wakeups.waker.notify(*ids)

    async def _wait(self, i: int, *, task_status: Any) -> None:
        with self.scopes[i]:
            task_status.started()
            await self.wakeups.wait(i)
            self.woken.add(i)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Waiting]:
        try:
            with anyio.fail_after(5):  # a stream nobody wakes fails here, not hangs
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self.wakeups.dispatch)
                    for i in self.scopes:
                        await tg.start(self._wait, i)
                    yield self
                    tg.cancel_scope.cancel()  # those still waiting, and the dispatcher
        finally:
            self.wakeups.waker.close()


async def test_every_waiting_stream_is_woken_for_its_id_in_any_order() -> None:
    async with Waiting(5).running() as w:
        for ids in ([5], [1, 3], [4], [2]):  # the first to wait is not the first woken
            w.notify(*ids)
            await w.woken.until(*ids)
    assert (w.woken.ids[0], sorted(w.woken.ids[1:3]), w.woken.ids[3:]) == (5, [1, 3], [4, 2])


@pytest.mark.parametrize("round_", range(12))  # the cancelled tasks run in either order
async def test_cancelled_waiters_and_leaders_leave_the_others_woken(round_: int) -> None:
    async with Waiting(5).running() as w:
        # On trio 1 leads and 2 waits first behind it: cancelled together, 1 may make 2
        # its heir before 2 has run its cancellation.
        w.scopes[1].cancel()
        w.scopes[2].cancel()
        if round_ % 2:
            w.scopes[3].cancel()
        await anyio.sleep(0.01)
        w.notify(4, 5)
        await w.woken.until(4, 5)
    assert sorted(w.woken.ids) == [4, 5]


async def test_a_leader_woken_for_itself_hands_the_descriptor_on() -> None:
    async with Waiting(3).running() as w:
        for i in (1, 2, 3):  # each time the one watching is the one woken
            w.notify(i)
            await w.woken.until(i)
    assert w.woken.ids == [1, 2, 3]
