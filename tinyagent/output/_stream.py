"""What ``Agent.stream_output()`` gives: the answer as it streams, then the typed answer.

The runs (one per attempt) go on in a task of the block's own task group, so each run's
task group opens and closes in one task whatever the consumer does between values. A
fragment's arrival crosses over a zero-buffer stream (the consumer sets the pace), and
the consumer reads the parser's value when it runs. Leaving the block early cancels
the run in progress.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..messages import Message, OutputError
from ._attempts import OutputAttempts
from ._partial_json import PartialJSON, PartialJSONError

__all__ = ["OutputStream", "output_stream"]

T = TypeVar("T")


class OutputStream(Generic[T]):
    """``async for partial in out:`` — the answer so far, as JSON-shaped values (dicts,
    lists, strings…; the same live object grown in place within one attempt; a new one
    if the model is asked to correct itself). After the loop, :attr:`output` is the
    validated, typed answer; a failure is raised by the loop itself."""

    def __init__(self, receive: MemoryObjectReceiveStream[Any], attempts: OutputAttempts[T]):
        self._receive = receive
        self._attempts = attempts
        self._error: BaseException | None = None
        self._finished = False

    def __aiter__(self) -> OutputStream[T]:
        return self

    async def __anext__(self) -> Any:
        unwrap = self._attempts.spec.unwrap
        while True:
            try:
                parser = await self._receive.receive()
            except anyio.EndOfStream:
                self._finished = True
                if self._error is not None:
                    raise self._error from None
                raise StopAsyncIteration from None
            # Read when the consumer runs, not when the fragment came: the value is then
            # the answer as it stands now (intermediate states may be skipped), never a
            # view the producer is changing under the consumer.
            value = unwrap(parser.value())
            if value is not None:
                return value

    @property
    def output(self) -> T:
        """The typed answer (after the ``async for`` loop has ended)."""
        if not self._finished:
            raise OutputError("the answer is not complete: iterate the stream to its end first")
        return self._attempts.value

    @property
    def attempts(self) -> int:
        return self._attempts.attempts


@asynccontextmanager
async def output_stream(
    attempts: OutputAttempts[T],
    prompts: Sequence[Message],
    run_attempt: Callable[[list[Message], Callable[[Any], Awaitable[None]]], Awaitable[Any]],
) -> AsyncIterator[OutputStream[T]]:
    """``run_attempt(prompts, on_event)`` runs once, calling ``on_event`` for each stream
    event, and returns the run's new messages."""
    send: MemoryObjectSendStream[Any]
    send, receive = anyio.create_memory_object_stream[Any](0)
    out: OutputStream[T] = OutputStream(receive, attempts)

    async def produce() -> None:
        async with send:
            try:
                batch: list[Message] = list(prompts)
                while True:
                    parser: PartialJSON | None = None

                    async def on_event(event: Any) -> None:
                        nonlocal parser
                        if attempts.opens_answer(event):
                            parser = PartialJSON()
                        fragment = attempts.fragment(event)
                        if fragment is None or parser is None:
                            return
                        try:
                            parser.feed(fragment)
                        except PartialJSONError:
                            parser = None  # not JSON: the judge will say why
                            return
                        await send.send(parser)

                    new = await run_attempt(batch, on_event)
                    correction = attempts.judge(new)
                    if correction is None:
                        return
                    batch = [correction]
            except OutputError as exc:
                out._error = exc

    failed: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        try:
            yield out
        except Exception as exc:  # raised in the block (by the loop, or the user's code)
            failed = exc  # re-raised as itself below, not inside an exception group
        finally:
            tg.cancel_scope.cancel()
            receive.close()
    if failed is not None:
        raise failed
