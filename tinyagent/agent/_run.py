"""The agent loop: one task group per run, each tool call a child task.

Per turn (``_turns.py``): stream the assistant's reply; run its tool calls concurrently
(each under its own cancel scope, with a timeout); append the results in call order;
deliver steering messages; go again while there are tool results to answer or
follow-ups to start.

The run lives in an async context manager, never in an async generator: a task group
cannot stay open across an async generator's ``yield`` (trio forbids it). Events reach
the consumer through a bounded memory channel, so a slow consumer slows the run instead
of growing memory.

Abort, the run-wide deadline and an outside cancellation all end the run the same way:
the partial assistant message is kept with ``stop_reason="aborted"``, every tool call
without a result gets an "aborted" error result (so the transcript can be sent to the
model again), ``agent_end`` is still emitted, and no task or connection is left behind.
Why a run ended is recorded once, when it is decided (an abort, a raising callback, the
deadline seen, or the end the turns return), and read from that record afterwards.
Bookkeeping that must survive cancellation happens synchronously in ``finally`` blocks;
the events it produces are sent afterwards from a shielded scope.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar

import anyio
import anyio.abc
import anyio.lowlevel
import attrs

from .._util import wording as words
from .._util.calls import call_maybe_async
from .._util.log import logger
from ..budget import Budget, BudgetExceeded, charging
from ..call import ModelCaller
from ..catalogue import as_model
from ..messages import (
    AgentEndEvent,
    AgentEvent,
    AgentStartEvent,
    AssistantMessage,
    CallbackError,
    Message,
    MessageEndEvent,
    MessageStartEvent,
    Model,
    RunEnd,
    StopReason,
    ToolResultMessage,
    TurnEndEvent,
    Usage,
    aborted_result,
)
from ..tools import RunContext, Tool
from ..tracing import run_spans
from ..wire import RequestCaches
from ._config import LoopConfig, TurnSettings, loop_config
from ._outbox import EventOutbox, Listener
from ._partial import PartialReply
from ._tool_runner import ToolRunner
from ._turns import Ending, turns

__all__ = ["AgentRun", "LoopConfig", "RunSpec", "TurnSettings", "agent_loop", "make_run"]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class RunSpec:
    """Everything a run is made from, fixed before it starts: ``agent_loop`` builds one
    from its arguments, an :class:`Agent` from its state."""

    model: Model
    prompts: tuple[Message, ...] = ()
    system_prompt: str = ""
    tools: tuple[Tool, ...] = ()
    config: LoopConfig = attrs.field(factory=LoopConfig)
    steering: Callable[[], list[Message]] | None = None
    follow_up: Callable[[], list[Message]] | None = None
    listeners: Sequence[Listener] = attrs.field(default=(), eq=False)  # live: read per event
    request_caches: RequestCaches | None = attrs.field(default=None, eq=False)
    store: Callable[[list[Message]], Awaitable[None]] | None = None
    """Awaited with each batch of messages the run adds, before their events are
    delivered (a session's ``append``)."""


class _NoPublicConstructor(type):
    """``AgentRun(...)`` is refused: a run is made whole by ``agent_loop`` or an
    ``Agent`` (as trio's ``Nursery`` is by ``open_nursery``)."""

    def __call__(cls, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} has no public constructor: "
            "use `async with agent_loop(...) as run` or an Agent"
        )

    def _create(cls: type[T], *args: object, **kwargs: object) -> T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc, no-any-return]


class _ToolRunnerHooks:
    """The run as its tool runner sees it (the ``RunHooks`` protocol)."""

    __slots__ = ("_run",)

    def __init__(self, run: AgentRun) -> None:
        self._run = run

    def add(self, message: Message) -> None:
        self._run._add(message)

    def why(self) -> str:
        return self._run._why()

    async def call_hook(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        return await self._run._hook(name, fn, *args)

    async def stop_if_ending(self) -> None:
        await self._run._stop_if_ending()

    def run_context(self) -> RunContext:
        return RunContext(tuple(self._run.transcript), self._run.usage)


class AgentRun(metaclass=_NoPublicConstructor):
    """One run of the loop: iterate it for events; steer, abort or cancel a tool call.

    ``transcript`` is the list the run appends to (the agent's own list, when run by an
    :class:`Agent`); ``new_messages`` are the ones this run added.
    """

    def __init__(
        self,
        spec: RunSpec,
        transcript: list[Any],
        receive: anyio.abc.ObjectReceiveStream[AgentEvent] | None = None,
        send: anyio.abc.ObjectSendStream[AgentEvent] | None = None,
    ) -> None:
        self.model = spec.model
        self.transcript = transcript
        self.system_prompt = spec.system_prompt
        self.tools = spec.tools
        self.config = config = spec.config
        self.usage = Usage()
        self.result: AgentEndEvent | None = None
        self.callback_error: CallbackError | None = None
        self._spec = spec
        self._start_len = len(transcript)
        self._receive = receive
        self._send = send
        self._own_steering: deque[Message] = deque()
        self._own_follow_up: deque[Message] = deque()
        self._unsaved: list[Message] = []
        self._events = EventOutbox(
            spec.listeners,
            self._listener_failed,
            send=send,
            before_delivery=self._save if spec.store is not None else None,
            unsaved=self._unsaved,
        )
        self._spans = run_spans(config.tracer)
        self._tools = ToolRunner(
            self.tools, config, self._events, _ToolRunnerHooks(self), self._spans
        )
        # The run's connections, and the encoded history per provider: an Agent passes
        # its own caches, so that a prompt encodes only what is new since the last one.
        self._caller = ModelCaller(config.stream_options, spec.request_caches)
        self._scope: anyio.CancelScope | None = None
        self._ending: Ending | None = None  # why the run ends: set once, when decided
        self._partial: PartialReply | None = None  # the reply being streamed
        self._open_turn: int | None = None  # a turn started and not yet ended
        self._turn_reply: AssistantMessage | None = None
        self._refused: BudgetExceeded | None = None  # why the last call was not sent
        # What the run draws on: its own account (a fresh one per run, or the budget
        # itself for an agent's whole life), checked now: a dollar cap with no price
        # fails here, before anything is sent.
        self._budget: Budget | None = None
        if config.budget is not None:
            budget = config.budget
            self._budget = budget if config.budget_scope == "agent" else budget.fresh()
            self._budget.check(self.model, config.stream_options.get("max_tokens"))

    # --- control, from any task of the same event loop ------------------------

    def abort(self, reason: str = "aborted") -> None:
        """End the run as soon as possible; safe to call at any time, more than once."""
        self._end(RunEnd.ABORTED, reason)

    def _end(self, reason: RunEnd, message: str | None, *, cancel: bool = True) -> None:
        """Record why the run ends, if nothing was recorded before (the first reason
        wins). ``cancel``: the end is requested (an abort, a raising callback), so the
        run's work stops now, and what it cuts off is answered with ``message``."""
        if self._ending is None and self.result is None:
            cuts_off = cancel or reason is RunEnd.DEADLINE
            self._ending = Ending(reason, message, cuts_off=cuts_off)
            if cancel and self._scope is not None:
                self._scope.cancel()

    # --- your code: listeners and hooks --------------------------------------

    def _callback_failed(self, err: CallbackError, exc: Exception) -> None:
        """One rule for a raising listener or hook: the run ends as if aborted, with
        ``stop_reason="error"``, and the error is raised once the run is closed out."""
        err.__cause__ = exc
        if self.callback_error is None:
            self.callback_error = err
        self._end(RunEnd.ERROR, err.message)

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
        if self._ending is not None:
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
        if self._receive is None:
            raise TypeError(
                "this run has no event channel: iterate the run of "
                "`async with agent_loop(...) as run`, or subscribe a listener"
            )
        return self._receive.__aiter__()

    # --- the transcript ---------------------------------------------------------

    async def _emit(self, event: AgentEvent) -> None:
        await self._events.emit(event)

    def _add(self, message: Message) -> None:
        self.transcript.append(message)
        if self._spec.store is not None:
            self._unsaved.append(message)
        if isinstance(message, AssistantMessage):
            self.usage = self.usage + message.usage

    async def _save(self) -> None:
        """Store the messages added since the last save (in a session), before their
        events are delivered. The store's call is not abandoned on cancellation: a
        write that was started is finished, so what was acknowledged is stored."""
        if not self._unsaved or self._spec.store is None:
            return
        batch = self._unsaved[:]
        self._unsaved.clear()  # in place: the outbox watches this list
        try:
            await self._spec.store(batch)
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

    def _take_steering(self) -> list[Message]:
        return self._take(self._spec.steering, self._own_steering)

    def _take_follow_up(self) -> list[Message]:
        return self._take(self._spec.follow_up, self._own_follow_up)

    # --- the run ------------------------------------------------------------------

    async def run(self) -> AgentEndEvent:
        """Run to the end in the calling task, with listeners but no event channel (what
        ``Agent.prompt`` does: no consumer task, no hand-off per event)."""
        await self._main()
        assert self.result is not None
        if self.callback_error is not None:
            raise self.callback_error
        return self.result

    async def _main(self) -> None:
        try:
            with anyio.CancelScope() as scope:
                if self.config.deadline is not None:
                    scope.deadline = anyio.current_time() + self.config.deadline
                self._scope = scope
                if self._ending is not None:  # aborted before it started
                    scope.cancel()
                self._spans.start_run(self.model, self.system_prompt)
                await self._emit(AgentStartEvent())
                with charging(self._budget):  # its calls, and its tools' calls, draw on it
                    ending = await turns(self, self._spec.prompts)
                self._end(ending.reason, ending.message, cancel=False)
            if scope.cancelled_caught:
                self._end(RunEnd.DEADLINE, self._deadline_passed(), cancel=False)
        except BaseException as exc:
            # Cancelled from outside, or a bug of ours: still close out the run.
            cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
            reason = RunEnd.ABORTED if cancelled else RunEnd.ERROR
            self._end(reason, f"{type(exc).__name__}: {exc}", cancel=False)
            raise
        finally:
            ending = self._ending or Ending(RunEnd.STOP, None, cuts_off=False)
            self._answer_unanswered_calls()
            self._close_open_turn(ending)
            with anyio.CancelScope(shield=True):
                await self._caller.aclose()  # the run's connections
                self.result = AgentEndEvent(
                    tuple(self.new_messages), self.usage, ending.reason, ending.message
                )
                self._spans.end_run(str(ending.reason), ending.message, self.usage)
                if ending.reason in (RunEnd.ABORTED, RunEnd.DEADLINE, RunEnd.ERROR):
                    logger.info("run ended %s: %s", ending.reason, ending.message)
                self._events.put(self.result)
                # If the consumer is gone (or cancelled with us), its side of the channel
                # is closed and sending fails at once; the bound only guards a consumer
                # that stopped reading without leaving.
                with anyio.move_on_after(30):
                    await self._events.flush()
                if self._send is not None:
                    await self._send.aclose()

    def _deadline_passed(self) -> str:
        return words.run_deadline_passed(self.config.deadline)

    def _why(self) -> str:
        """Why the run's work is being cut off: the recorded end; else, if the run's own
        scope was cancelled, its deadline, recorded now that it is first seen; else a
        cancellation from outside."""
        if self._ending is None and self._scope is not None and self._scope.cancel_called:
            self._end(RunEnd.DEADLINE, self._deadline_passed(), cancel=False)
        ending = self._ending
        if ending is not None and ending.cuts_off and ending.message is not None:
            return ending.message
        return words.RUN_CANCELLED

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

    def _close_open_turn(self, ending: Ending) -> None:
        """Give a turn cut short its ``turn_end`` (with its reply: an empty aborted one if
        none had started), so that every start event has its end on every path."""
        turn, self._open_turn = self._open_turn, None
        if turn is None:
            return
        self._spans.end_turn(str(ending.reason))
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


def run_spec(
    model: Model | str,
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
) -> RunSpec:
    """A :class:`RunSpec` from ``agent_loop``'s arguments (the loop's options checked)."""
    return RunSpec(
        model=as_model(model),
        prompts=tuple(prompts),
        system_prompt=system_prompt,
        tools=tuple(tools),
        config=loop_config(options),
        steering=steering,
        follow_up=follow_up,
        listeners=listeners,
        request_caches=request_caches,
        store=store,
    )


def make_run(spec: RunSpec, messages: list[Any] | Sequence[Message] = ()) -> AgentRun:
    """A run, not started, with no event channel: ``await run.run()`` runs it in this
    task (listeners hear its events). ``messages`` is the transcript so far (a list is
    appended to in place)."""
    transcript = messages if isinstance(messages, list) else list(messages)
    return AgentRun._create(spec, transcript)


@asynccontextmanager
async def open_run(
    spec: RunSpec, messages: list[Any] | Sequence[Message] = ()
) -> AsyncIterator[AgentRun]:
    """The run of ``spec`` in its own task, its events through a bounded channel. Leaving
    the block early aborts the run and waits for it to clean up."""
    transcript = messages if isinstance(messages, list) else list(messages)
    send, receive = anyio.create_memory_object_stream[AgentEvent](spec.config.event_buffer)
    run = AgentRun._create(spec, transcript, receive, send)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run._main)
            try:
                yield run
            finally:
                if not run.finished:
                    run.abort(words.CONSUMER_LEFT)
                await receive.aclose()
    except BaseExceptionGroup as group:
        # The run's task ends as data, never by raising: a lone exception in the group
        # is the block's own, and it leaves the block as itself, as it came in.
        inner = group.exceptions[0] if len(group.exceptions) == 1 else None
        if inner is None or isinstance(inner, BaseExceptionGroup):
            raise
        cause = inner.__cause__
        if cause is None:
            raise inner from None
        raise inner from cause
    if run.callback_error is not None:
        raise run.callback_error


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
    waits for it to clean up, so nothing outlives the block. ``store`` is awaited with
    each batch of messages the run adds, before their events are delivered (a
    session's ``append``).
    """
    spec = run_spec(
        model,
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
    async with open_run(spec, messages) as run:
        yield run
