"""The run's event outbox: events in order, each heard by the listeners once and sent to
the consumer once, from any task of the run."""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import anyio
import anyio.abc

from .._util.calls import call_maybe_async
from ..messages import AgentEvent

__all__ = ["EventOutbox", "Listener"]

Listener = Callable[[AgentEvent], Any]


class EventOutbox:
    """Concurrent tool tasks emit too. One flusher at a time keeps events in order and
    each delivered once; an emitter that finds a flush under way leaves its event to it.
    An event leaves the outbox only once delivered, so bookkeeping done in ``finally``
    blocks (with :meth:`put`, no await) is sent afterwards from a shielded scope.

    ``listeners`` is read at each event, not copied once: a listener added or removed
    during a run hears, or stops hearing, from the next event on. A listener that raises
    does not stop the others hearing that event, nor the consumer receiving it; the
    first error is handed to ``on_listener_error`` (the run ends because of it)."""

    def __init__(
        self,
        listeners: Sequence[Listener],
        on_listener_error: Callable[[AgentEvent, Exception], None] | None = None,
        *,
        send: anyio.abc.ObjectSendStream[AgentEvent] | None = None,
        before_delivery: Callable[[], Awaitable[None]] | None = None,
        unsaved: Sequence[object] = (),
    ) -> None:
        self._listeners = listeners  # live: subscribe()/unsubscribe() act mid-run
        self._on_listener_error = on_listener_error
        self._queue: deque[AgentEvent] = deque()
        self._flushing = False
        self._head_heard = False
        self._send = send  # the consumer's channel; None: listeners only
        self._consumer_gone = False
        # Awaited before an event is delivered while ``unsaved`` (the run's list of
        # messages not yet stored) is not empty: the run stores them there, so a message
        # is in its session before anyone hears of it. Most events find nothing to store,
        # and cost no await for it.
        self._before_delivery = before_delivery
        self._unsaved = unsaved

    def put(self, event: AgentEvent) -> None:
        """Queue without sending (for code that must not await)."""
        self._queue.append(event)

    def extend(self, events: Iterable[AgentEvent]) -> None:
        self._queue.extend(events)

    async def emit(self, event: AgentEvent) -> None:
        self._queue.append(event)
        await self.flush()

    async def flush(self) -> None:
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._queue:
                if self._unsaved and self._before_delivery is not None:
                    await self._before_delivery()
                event = self._queue[0]
                if not self._head_heard:
                    # Listeners hear each event once, even if the send below is
                    # cancelled and the event is sent again during cleanup.
                    self._head_heard = True
                    failed: Exception | None = None
                    for listener in tuple(self._listeners):
                        try:
                            await call_maybe_async(listener, event)
                        except Exception as exc:
                            failed = failed or exc  # the others still hear the event
                    if failed is not None:
                        if self._on_listener_error is None:
                            raise failed
                        self._on_listener_error(event, failed)
                if not self._consumer_gone and self._send is not None:
                    try:
                        await self._send.send(event)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                        self._consumer_gone = True
                self._queue.popleft()
                self._head_heard = False
        finally:
            self._flushing = False
