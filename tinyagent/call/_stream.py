"""``tinyagent.stream`` and ``tinyagent.complete``: one model call, streamed.

``stream`` returns an async context manager rather than an async generator: the
response must be closed when the block exits, deterministically, whether the consumer
finished, broke out early or was cancelled, and trio does not finalise abandoned async
generators for you.
"""

from __future__ import annotations

from collections import deque
from types import TracebackType
from typing import Any

from ..budget import BudgetExceeded
from ..catalogue import as_model
from ..messages import AssistantMessage, Context, Model, StopReason, StreamEvent
from ..transports import make_source
from ..wire import StreamOptions, stream_options
from ._charge import CallCharge, charge_for

__all__ = ["AssistantMessageStream", "complete", "complete_with", "stream"]


class AssistantMessageStream:
    """The events of one assistant message; iterate it inside ``async with``.

    The last event is a :class:`DoneEvent` or :class:`ErrorEvent` whose ``message`` is
    the final :class:`AssistantMessage`, also available as :attr:`message` afterwards.
    """

    def __init__(
        self, model: Model, context: Context, options: StreamOptions, *, deltas: bool = True
    ) -> None:
        self._source = make_source(model, context, options, deltas=deltas)
        self._pending: deque[StreamEvent] = deque()
        self._closed = False
        # The budgets this call draws on (given, and in force around it), if any.
        self._charge: CallCharge | None = charge_for(model, context, options)

    async def __aenter__(self) -> AssistantMessageStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AssistantMessageStream:
        return self

    async def __anext__(self) -> StreamEvent:
        pending = self._pending
        while not pending:
            if self._source.message is not None or self._closed:
                raise StopAsyncIteration
            pending.extend(await self._next_batch())
        return pending.popleft()

    async def _next_batch(self) -> list[StreamEvent]:
        """The source's next events: the call admitted on its budgets first, and
        charged what it used once it ended."""
        charge = self._charge
        if charge is not None and not charge.admitted:
            try:
                await charge.admit()
            except BudgetExceeded as exc:  # not sent: the reply says why
                return self._source.abort(str(exc), StopReason.ERROR, exc)
        batch = await self._source.next_batch()
        if charge is not None and self._source.message is not None:
            charge.settle(self._source.message)
        return batch

    async def admit(self) -> None:
        """Reserve the call's worst case on its budgets now (iterating does it too),
        waiting while calls in flight may free room; raises :class:`BudgetExceeded`
        (and the call is never sent) when it cannot fit. The agent loop calls it
        before a turn's reply begins."""
        if self._charge is not None:
            await self._charge.admit()

    @property
    def message(self) -> AssistantMessage | None:
        """The final message once the stream ended (done, error or aborted), else None."""
        return self._source.message

    def abort(self, reason: str = "aborted") -> AssistantMessage:
        """End the message now as ``aborted``, keeping what arrived; returns it.

        Used after cancellation: the caller's scope was cancelled mid-stream, and the
        partial reply must still enter the transcript.
        """
        if self._source.message is None:
            self._pending.extend(self._source.abort(reason, StopReason.ABORTED))
        message = self._source.message
        assert message is not None
        return message

    def take_pending(self) -> list[StreamEvent]:
        """Events produced but not yet read (after :meth:`abort`: the ends of the blocks
        that were open, and the final error event), so that every start has its end."""
        out = list(self._pending)
        self._pending.clear()
        return out

    async def result(self) -> AssistantMessage:
        """Read to the end and return the final message."""
        # What ``async for _ in self`` does, a batch at a time instead of an event at a
        # time: a short call's events are most of its Python work.
        self._pending.clear()
        while self._source.message is None and not self._closed:
            await self._next_batch()
        message = self._source.message
        assert message is not None
        return message

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            charge = self._charge
            if charge is not None and charge.holding:
                # Left before its end (a break, a cancellation): what arrived is what
                # the call is charged for.
                message = self._source.message
                if message is None:
                    self._source.abort("closed before its end", StopReason.ABORTED)
                    message = self._source.message
                charge.settle(message)
            await self._source.aclose()


def stream(model: Model | str, context: Context, **options: Any) -> AssistantMessageStream:
    """Stream one assistant message: ``async with stream(model, ctx) as events: ...``.

    Options are those of :class:`StreamOptions` (``temperature``, ``max_tokens``,
    ``reasoning_effort``, ``transport``, ``read_timeout``…). A provider failure is not
    raised: it ends the stream with an error event whose message has
    ``stop_reason="error"``. Only programming errors (an unknown ``api`` or option)
    raise, and they raise here, before any I/O.
    """
    return AssistantMessageStream(as_model(model), context, stream_options(options))


async def complete(model: Model | str, context: Context, **options: Any) -> AssistantMessage:
    """Run one model call to the end and return the final message (see :func:`stream`)."""
    return await complete_with(as_model(model), context, stream_options(options))


async def complete_with(model: Model, context: Context, options: StreamOptions) -> AssistantMessage:
    """:func:`complete` on options already validated (a caller making many calls with
    the same options validates them once)."""
    # Nobody reads the events: the transport may leave the deltas out.
    call = AssistantMessageStream(model, context, options, deltas=False)
    async with call:
        return await call.result()
