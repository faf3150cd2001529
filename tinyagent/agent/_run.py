"""The agent loop: one task group per run, each tool call a child task.

Per turn: stream the assistant's reply; run its tool calls concurrently (each under its
own cancel scope, with a timeout); append the results in call order; deliver steering
messages; go again while there are tool results to answer or follow-ups to start.

The run lives in an async context manager, never in an async generator: a task group
cannot stay open across an async generator's ``yield`` (trio forbids it). Events reach
the consumer through a bounded memory channel, so a slow consumer slows the run instead
of growing memory.

Abort, the run-wide deadline and an outside cancellation all end the run the same way:
the partial assistant message is kept with ``stop_reason="aborted"``, every tool call
without a result gets an "aborted" error result (so the transcript can be sent to the
model again), ``agent_end`` is still emitted, and no task or connection is left behind.
Bookkeeping that must survive cancellation happens synchronously in ``finally`` blocks;
the events it produces are sent afterwards from a shielded scope.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel

from .._util import wording as words
from .._util.calls import call_maybe_async
from .._util.log import logger
from ..call import ModelCaller
from ..catalogue import as_model
from ..messages import (
    AgentEndEvent,
    AgentEvent,
    AgentStartEvent,
    AssistantMessage,
    CallbackError,
    Context,
    DoneEvent,
    ErrorEvent,
    FailureKind,
    Message,
    MessageEndEvent,
    MessageStartEvent,
    MessageUpdateEvent,
    Model,
    RunEnd,
    StopReason,
    ToolResultMessage,
    TurnEndEvent,
    TurnStartEvent,
    Usage,
    aborted_result,
)
from ..tools import RunContext, Tool
from ..tracing import RunSpans
from ..wire import RequestCaches
from ._config import LoopConfig, TurnSettings, loop_config
from ._outbox import EventOutbox, Listener
from ._partial import PartialReply
from ._tool_runner import ToolRunner

__all__ = ["AgentRun", "LoopConfig", "TurnSettings", "agent_loop", "loop_config", "make_run"]

# The options live in ._loop_config; they are re-exported here, where users found them.


class AgentRun:
    """One run of the loop: iterate it for events; steer, abort or cancel a tool call.

    ``transcript`` is the list the run appends to (the agent's own list, when run by an
    :class:`Agent`); ``new_messages`` are the ones this run added.
    """

    def __init__(
        self,
        model: Model,
        transcript: list[Any],
        prompts: Sequence[Message],
        *,
        system_prompt: str,
        tools: Sequence[Tool],
        config: LoopConfig,
        steering: Callable[[], list[Message]] | None,
        follow_up: Callable[[], list[Message]] | None,
        listeners: Sequence[Listener] = (),
        request_caches: RequestCaches | None = None,
        store: Callable[[list[Message]], Awaitable[None]] | None = None,
    ) -> None:
        self.model = model
        self.transcript = transcript
        self._start_len = len(transcript)
        self._prompts = list(prompts)
        self.system_prompt = system_prompt
        self.tools = tuple(tools)
        self.config = config
        self._steering_source = steering
        self._follow_up_source = follow_up
        self._own_steering: deque[Message] = deque()
        self._own_follow_up: deque[Message] = deque()
        self._events = EventOutbox(listeners, self._listener_failed)
        self._spans = RunSpans(config.tracer) if config.tracer is not None else None
        self._store = store
        self._unsaved: list[Message] = []
        if store is not None:
            self._events.before_delivery = self._save
        self._tools = ToolRunner(
            self.tools,
            config,
            self._events,
            self._add,
            self._why,
            self._hook,
            self._stop_if_ending,
            lambda: RunContext(tuple(self.transcript), self.usage),
        )
        self._tools.spans = self._spans
        self.usage = Usage()
        self.result: AgentEndEvent | None = None
        self._scope: anyio.CancelScope | None = None
        self._end: RunEnd | None = None  # recorded when an end is requested (abort)
        self._end_message = "aborted"  # the abort reason, or what a callback raised
        self.callback_error: CallbackError | None = None
        self._receive: anyio.abc.ObjectReceiveStream[AgentEvent] | None = None
        self._stop_reason = RunEnd.STOP
        self._error_message: str | None = None
        self._partial: PartialReply | None = None  # the reply being streamed
        self._open_turn: int | None = None  # a turn started and not yet ended
        self._turn_reply: AssistantMessage | None = None
        # The run's connections, and the encoded history per provider: an Agent passes
        # its own caches, so that a prompt encodes only what is new since the last one.
        self._caller = ModelCaller(config.stream_options, request_caches)

    # --- control, from any task of the same event loop ------------------------

    def abort(self, reason: str = "aborted") -> None:
        """End the run as soon as possible; safe to call at any time, more than once."""
        self._request_end(RunEnd.ABORTED, reason)

    def _request_end(self, end: RunEnd, message: str) -> None:
        if self._end is None and self.result is None:
            self._end = end
            self._end_message = message
            if self._scope is not None:
                self._scope.cancel()

    # --- your code: listeners and hooks --------------------------------------

    def _callback_failed(self, err: CallbackError, exc: Exception) -> None:
        """One rule for a raising listener or hook: the run ends as if aborted, with
        ``stop_reason="error"``, and the error is raised once the run is closed out."""
        err.__cause__ = exc
        if self.callback_error is None:
            self.callback_error = err
        self._request_end(RunEnd.ERROR, err.message)

    def _listener_failed(self, event: AgentEvent, exc: Exception) -> None:
        message = words.callback_raised("listener", exc, event.type)
        self._callback_failed(CallbackError(message, callback="listener", event=event.type), exc)

    async def _hook(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await call_maybe_async(fn, *args)
        except Exception as exc:
            message = words.callback_raised(name, exc)
            self._callback_failed(CallbackError(message, callback=name), exc)
        await self._stop_if_ending()
        raise AssertionError("unreachable: the run was cancelled")  # pragma: no cover

    async def _stop_if_ending(self) -> None:
        """Deliver an end requested with no await since (``abort()`` or a raising
        callback, from sync code) here, on every backend alike, rather than at whichever
        checkpoint each backend happens to reach first."""
        if self._end is not None:
            assert self._scope is not None
            self._scope.cancel()
            await anyio.sleep_forever()  # the run's scope is cancelled: raises at once
        await anyio.lowlevel.checkpoint()

    def cancel_tool_call(self, call_id: str) -> bool:
        """Cancel one running tool call (it gets an "aborted" result); its siblings go on.
        Returns False if no such call is running."""
        scope = self._tools.scopes.get(call_id)
        if scope is None:
            return False
        scope.cancel()
        return True

    def steer(self, message: Message) -> None:
        """Deliver ``message`` after the current tool batch, before the next model call."""
        self._own_steering.append(message)

    def follow_up(self, message: Message) -> None:
        """Start another turn with ``message`` when the run would otherwise stop."""
        self._own_follow_up.append(message)

    def undelivered(self) -> list[Message]:
        """Steering and follow-up messages queued on this run and not delivered."""
        return [*self._own_steering, *self._own_follow_up]

    def stream_message(self) -> AssistantMessage | None:
        """The reply being streamed, so far (built now, not per event); None between
        replies."""
        return self._partial.message() if self._partial is not None else None

    @property
    def running_tool_calls(self) -> frozenset[str]:
        return frozenset(self._tools.scopes)

    @property
    def new_messages(self) -> list[Message]:
        return list(self.transcript[self._start_len :])

    @property
    def finished(self) -> bool:
        return self.result is not None

    def __aiter__(self) -> AsyncIterator[AgentEvent]:
        assert self._receive is not None, "iterate the run inside `async with agent_loop(...)`"
        return self._receive.__aiter__()

    async def _emit(self, event: AgentEvent) -> None:
        await self._events.emit(event)

    def _add(self, message: Message) -> None:
        self.transcript.append(message)
        if self._store is not None:
            self._unsaved.append(message)
        if isinstance(message, AssistantMessage):
            self.usage = self.usage + message.usage

    async def _save(self) -> None:
        """Store the messages added since the last save (in a session), before their
        events are delivered. The store's call is not abandoned on cancellation: a
        write that was started is finished, so what was acknowledged is stored."""
        if not self._unsaved or self._store is None:
            return
        batch, self._unsaved = self._unsaved, []
        try:
            await self._store(batch)
        except Exception as exc:
            message = words.session_write_failed(exc, len(batch))
            self._callback_failed(CallbackError(message, callback="session"), exc)

    def _take(
        self, source: Callable[[], list[Message]] | None, own: deque[Message]
    ) -> list[Message]:
        out = list(source()) if source is not None else []
        while own:
            out.append(own.popleft())
        return out

    # --- the run ------------------------------------------------------------------

    async def run(self) -> AgentEndEvent:
        """Run to the end in the calling task, with listeners but no event channel (what
        ``Agent.prompt`` does: no consumer task, no hand-off per event)."""
        await self._main(None)
        assert self.result is not None
        if self.callback_error is not None:
            raise self.callback_error
        return self.result

    async def _main(self, send: anyio.abc.ObjectSendStream[AgentEvent] | None) -> None:
        self._events.send = send
        try:
            with anyio.CancelScope() as scope:
                if self.config.deadline is not None:
                    scope.deadline = anyio.current_time() + self.config.deadline
                self._scope = scope
                if self._end is not None:
                    scope.cancel()
                if self._spans is not None:
                    self._spans.start_run(self.model, self.system_prompt)
                await self._emit(AgentStartEvent())
                await self._turns()
            if self._end is not None:  # abort() or a raising callback, however it arrived
                self._stop_reason = self._end
                self._error_message = self._end_message
            elif scope.cancelled_caught:
                self._stop_reason = RunEnd.DEADLINE
                self._error_message = words.run_deadline_passed(self.config.deadline)
        except BaseException as exc:
            # Cancelled from outside, or a bug of ours: still close out the run.
            self._stop_reason = (
                RunEnd.ABORTED if isinstance(exc, anyio.get_cancelled_exc_class()) else RunEnd.ERROR
            )
            self._error_message = self._error_message or f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._answer_unanswered_calls()
            self._close_open_turn()
            with anyio.CancelScope(shield=True):
                await self._caller.aclose()  # the run's connections
                self.result = AgentEndEvent(
                    tuple(self.new_messages), self.usage, self._stop_reason, self._error_message
                )
                if self._spans is not None:
                    self._spans.end_run(str(self._stop_reason), self._error_message, self.usage)
                if self._stop_reason in (RunEnd.ABORTED, RunEnd.DEADLINE, RunEnd.ERROR):
                    logger.info("run ended %s: %s", self._stop_reason, self._error_message)
                self._events.put(self.result)
                # If the consumer is gone (or cancelled with us), its side of the channel
                # is closed and sending fails at once; the bound only guards a consumer
                # that stopped reading without leaving.
                with anyio.move_on_after(30):
                    await self._events.flush()
                if send is not None:
                    await send.aclose()

    def _answer_unanswered_calls(self) -> None:
        """Give every tool call of this run that has no result an "aborted" one (e.g. a
        reply cut off mid-call), so the transcript can be sent to a model again."""
        new = self.transcript[self._start_len :]
        answered = {m.tool_call_id for m in new if isinstance(m, ToolResultMessage)}
        why = None
        for m in list(new):
            if isinstance(m, AssistantMessage):
                for call in m.tool_calls:
                    if call.id not in answered:
                        why = why or self._why()
                        r = aborted_result(call, why)
                        answered.add(call.id)
                        self._add(r)
                        self._events.extend([MessageStartEvent(r.role, r), MessageEndEvent(r)])

    def _close_open_turn(self) -> None:
        """Give a turn cut short its ``turn_end`` (with its reply: an empty aborted one if
        none had started), so that every start event has its end on every path."""
        turn, self._open_turn = self._open_turn, None
        if turn is None:
            return
        if self._spans is not None:
            self._spans.end_turn(str(self._stop_reason))
        reply = self._turn_reply
        if reply is None:
            m = self.model
            reply = AssistantMessage(
                (), StopReason.ABORTED, model=m.id, provider=m.provider_name,
                error_message=self._why(), api=m.api,
            )  # fmt: skip
            self._add(reply)
            self._events.extend([MessageStartEvent("assistant", None), MessageEndEvent(reply)])
        after = self.transcript[self._start_len :]
        at = next((i for i, m in enumerate(after) if m is reply), len(after))
        results = tuple(m for m in after[at + 1 :] if isinstance(m, ToolResultMessage))
        self._events.put(TurnEndEvent(turn, reply, results))

    def _why(self) -> str:
        if self._end is not None:
            return self._end_message
        if self._scope is not None and self._scope.cancel_called:
            return words.run_deadline_passed(self.config.deadline)
        return words.RUN_CANCELLED

    async def _turns(self) -> None:
        pending = self._prompts
        turn = 0
        while True:
            for m in pending:
                self._add(m)
                await self._emit(MessageStartEvent(m.role, m))
                await self._emit(MessageEndEvent(m))
            await self._stop_if_ending()
            if self.config.max_turns is not None and turn >= self.config.max_turns:
                self._stop_reason = RunEnd.MAX_TURNS
                return
            turn += 1
            self._open_turn, self._turn_reply = turn, None
            if self._spans is not None:
                self._spans.start_turn(turn)
            await self._emit(TurnStartEvent(turn))
            model = self.model
            effort = None
            if self.config.before_turn is not None:
                settings = await self._hook("before_turn", self.config.before_turn, turn, model)
                if settings is not None:
                    model = settings.model or model
                    effort = settings.reasoning_effort
            assistant = await self._stream_reply(model, effort)
            if self._overflowed(assistant):
                # The policy sends less and the call is tried once more; the failed
                # reply stays in the transcript (empty, it is never sent again).
                assistant = await self._stream_reply(model, effort, overflowed=True)
            calls = assistant.tool_calls
            results: list[ToolResultMessage] = []
            if assistant.stop_reason is StopReason.ERROR:
                self._stop_reason = RunEnd.ERROR
                self._error_message = assistant.error_message
                self._open_turn = None
                if self._spans is not None:
                    self._spans.end_turn("error")
                await self._emit(TurnEndEvent(turn, assistant, ()))
                return
            if calls:
                results = await self._tools.run(assistant, calls)
            end = TurnEndEvent(turn, assistant, tuple(results))
            self._open_turn = None
            if self._spans is not None:
                self._spans.end_turn()
            await self._emit(end)
            await self._stop_if_ending()
            if self._tools.terminate:
                self._stop_reason = RunEnd.TERMINATED
                return
            if self.config.should_stop_after_turn is not None and await self._hook(
                "should_stop_after_turn", self.config.should_stop_after_turn, end
            ):
                self._stop_reason = RunEnd.STOPPED
                return
            pending = self._take(self._steering_source, self._own_steering)
            if pending or calls:
                continue
            pending = self._take(self._follow_up_source, self._own_follow_up)
            if pending:
                continue
            self._stop_reason = RunEnd.STOP
            return

    def _overflowed(self, reply: AssistantMessage) -> bool:
        return (
            self.config.context_policy is not None
            and reply.stop_reason is StopReason.ERROR
            and reply.failure is not None
            and reply.failure.kind is FailureKind.CONTEXT_OVERFLOW
            and not reply.content
        )

    async def _stream_reply(
        self, model: Model, effort: str | None, overflowed: bool = False
    ) -> AssistantMessage:
        # An end requested with no await since (abort() from a sync listener) must not
        # let a new request start.
        await self._stop_if_ending()
        messages: Sequence[Any] = self.transcript
        if self.config.transform_context is not None:
            messages = await self._hook(
                "transform_context", self.config.transform_context, list(messages)
            )
        if self.config.convert_to_llm is not None:
            messages = await self._hook(
                "convert_to_llm", self.config.convert_to_llm, list(messages)
            )
        if self.config.context_policy is not None:
            messages = await self._hook(
                "context_policy", self.config.context_policy, list(messages), model, overflowed
            )
        key = None
        if self.config.get_api_key is not None:
            key = await self._hook("get_api_key", self.config.get_api_key, model)
        options = self._caller.options(reasoning_effort=effort, api_key=key)
        ctx = Context(self.system_prompt, messages, self.tools)
        span = None
        if self._spans is not None:
            span = self._spans.start_model_call(model, ctx.messages, options)
        try:
            reply = await self._request_reply(model, ctx, options)
        finally:
            if span is not None:
                assert self._spans is not None
                self._spans.end_model_call(span, self._turn_reply)
        return reply

    async def _request_reply(
        self, model: Model, ctx: Context, options: dict[str, Any]
    ) -> AssistantMessage:
        await self._emit(MessageStartEvent("assistant", None))
        so_far = self._partial = PartialReply(model)
        events = self._caller.stream(model, ctx, options)
        try:
            async with events:
                try:
                    async for ev in events:
                        so_far.feed(ev)
                        await self._emit(MessageUpdateEvent(ev))
                        if isinstance(ev, DoneEvent | ErrorEvent):
                            break
                finally:
                    self._partial = None
                    if events.message is None:
                        # Cancelled mid-stream: keep what arrived, as aborted (no awaits).
                        partial = events.abort(self._why())
                        # The ends of the open blocks and the final event, then the end.
                        self._events.extend(MessageUpdateEvent(e) for e in events.take_pending())
                        self._end_reply(partial)
        except BaseException:
            if self._turn_reply is None and events.message is not None:
                # The reply ended, but leaving the stream was cancelled (an abort from
                # one of its last events): it still enters the transcript, after the
                # events of its last batch that were not read yet, with its end.
                self._events.extend(MessageUpdateEvent(e) for e in events.take_pending())
                self._end_reply(events.message)
            raise
        message = events.message
        assert message is not None
        if self._turn_reply is not message:
            self._add(message)
            self._turn_reply = message
            await self._emit(MessageEndEvent(message))
        return message

    def _end_reply(self, message: AssistantMessage) -> None:
        """Record the turn's reply and queue its ``message_end`` (no await)."""
        self._add(message)
        self._turn_reply = message
        self._events.put(MessageEndEvent(message))


def make_run(
    model: Model | str,
    messages: list[Any] | Sequence[Message] = (),
    *,
    prompts: Sequence[Message] = (),
    system_prompt: str = "",
    tools: Sequence[Tool] = (),
    steering: Callable[[], list[Message]] | None = None,
    follow_up: Callable[[], list[Message]] | None = None,
    listeners: Sequence[Listener] = (),
    request_caches: RequestCaches | None = None,
    store: Callable[[list[Message]], Awaitable[None]] | None = None,
    **options: Any,
) -> AgentRun:
    """An :class:`AgentRun`, not started: ``await run.run()`` runs it in this task.
    ``store`` is awaited with each batch of messages the run adds, before their events
    are delivered (a session's ``append``)."""
    return AgentRun(
        as_model(model),
        messages if isinstance(messages, list) else list(messages),
        prompts,
        system_prompt=system_prompt,
        tools=tools,
        config=loop_config(options),
        steering=steering,
        follow_up=follow_up,
        listeners=listeners,
        request_caches=request_caches,
        store=store,
    )


@asynccontextmanager
async def agent_loop(
    model: Model | str,
    messages: list[Any] | Sequence[Message] = (),
    *,
    prompts: Sequence[Message] = (),
    system_prompt: str = "",
    tools: Sequence[Tool] = (),
    steering: Callable[[], list[Message]] | None = None,
    follow_up: Callable[[], list[Message]] | None = None,
    listeners: Sequence[Listener] = (),
    request_caches: RequestCaches | None = None,
    store: Callable[[list[Message]], Awaitable[None]] | None = None,
    **options: Any,
) -> AsyncIterator[AgentRun]:
    """Run the agent loop: ``async with agent_loop(model, history, prompts=[...]) as run:
    async for event in run: ...``

    ``messages`` is the transcript so far (a list is appended to in place); ``prompts``
    are the new messages that start the run. Leaving the block early aborts the run and
    waits for it to clean up, so nothing outlives the block.
    """
    run = make_run(
        model,
        messages,
        prompts=prompts,
        system_prompt=system_prompt,
        tools=tools,
        steering=steering,
        follow_up=follow_up,
        listeners=listeners,
        request_caches=request_caches,
        store=store,
        **options,
    )
    send, receive = anyio.create_memory_object_stream[AgentEvent](run.config.event_buffer)
    run._receive = receive
    async with anyio.create_task_group() as tg:
        tg.start_soon(run._main, send)
        try:
            yield run
        finally:
            if not run.finished:
                run.abort(words.CONSUMER_LEFT)
            await receive.aclose()
    if run.callback_error is not None:
        raise run.callback_error
