"""The turns of a run, top to bottom: deliver the pending messages, ask the model,
run its tool calls, then steer, follow up or stop — and say how the run ended.

These are the run's own steps (they use its transcript, outbox, hooks and caller), kept
apart from ``_run.py``, which owns the run's control and lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs

from ..budget import BudgetExceeded
from ..call import ModelCaller
from ..messages import (
    AssistantMessage,
    BudgetStopEvent,
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
)
from ..tools import Tool
from ..tracing import RunSpans
from ._config import LoopConfig
from ._outbox import EventOutbox
from ._partial import PartialReply
from ._tool_runner import ToolRunner

__all__ = ["Ending", "turns"]


@attrs.frozen
class Ending:
    """Why a run ended, recorded once. ``cuts_off``: the run was stopped (an abort, a
    raising callback, the deadline), and ``message`` is what the work it cut off is
    answered with."""

    reason: RunEnd
    message: str | None
    cuts_off: bool = attrs.field(kw_only=True)


class AgentRun(Protocol):
    """What the turns use of their run (``_run.AgentRun``): its settings, its
    transcript and outbox, its hooks and collaborators, and the turn being taken."""

    model: Model
    system_prompt: str
    tools: tuple[Tool, ...]
    config: LoopConfig
    transcript: list[Any]
    _events: EventOutbox
    _spans: RunSpans
    _tools: ToolRunner
    _caller: ModelCaller
    _partial: PartialReply | None
    _open_turn: int | None
    _turn_reply: AssistantMessage | None
    _refused: BudgetExceeded | None

    def _add(self, message: Message) -> None: ...
    async def _emit(self, event: Any) -> None: ...
    async def _hook(self, name: str, fn: Callable[..., Any], *args: Any) -> Any: ...
    async def _stop_if_ending(self) -> None: ...
    def _why(self) -> str: ...
    def _take_steering(self) -> list[Message]: ...
    def _take_follow_up(self) -> list[Message]: ...


def _ended(reason: RunEnd, message: str | None = None) -> Ending:
    return Ending(reason, message, cuts_off=False)


async def turns(run: AgentRun, prompts: Sequence[Message]) -> Ending:
    """Take turns until the model is done, a limit or a hook stops the run, or a reply
    fails; return why."""
    config = run.config
    pending = list(prompts)
    turn = 0
    while True:
        for m in pending:
            run._add(m)
            await run._emit(MessageStartEvent(m.role, m))
            await run._emit(MessageEndEvent(m))
        await run._stop_if_ending()
        if config.max_turns is not None and turn >= config.max_turns:
            return _ended(RunEnd.MAX_TURNS)
        turn += 1
        run._open_turn, run._turn_reply = turn, None
        run._spans.start_turn(turn)
        await run._emit(TurnStartEvent(turn))
        model = run.model
        effort = None
        if config.before_turn is not None:
            settings = await run._hook("before_turn", config.before_turn, turn, model)
            if settings is not None:
                model = settings.model or model
                effort = settings.reasoning_effort
        assistant = await _stream_reply(run, model, effort)
        if _overflowed(run, assistant):
            # The policy sends less and the call is tried once more; the failed reply
            # stays in the transcript (empty, it is never sent again).
            assistant = await _stream_reply(run, model, effort, overflowed=True)
        if assistant.stop_reason is StopReason.ERROR:
            refused, run._refused = run._refused, None
            run._open_turn = None
            run._spans.end_turn("budget" if refused else "error")
            await run._emit(TurnEndEvent(turn, assistant, ()))
            if refused is not None:
                # Not sent: the reply is empty, and the transcript goes on from here.
                await run._emit(
                    BudgetStopEvent(
                        refused.spent, refused.needed, refused.limit, refused.cap, refused.message
                    )
                )
                return _ended(RunEnd.BUDGET, refused.message)
            return _ended(RunEnd.ERROR, assistant.error_message)
        calls = assistant.tool_calls
        results: list[ToolResultMessage] = []
        terminate = False
        if calls:
            results, terminate = await run._tools.run(assistant, calls)
        end = TurnEndEvent(turn, assistant, tuple(results))
        run._open_turn = None
        run._spans.end_turn()
        await run._emit(end)
        await run._stop_if_ending()
        if terminate:
            return _ended(RunEnd.TERMINATED)
        if config.should_stop_after_turn is not None and await run._hook(
            "should_stop_after_turn", config.should_stop_after_turn, end
        ):
            return _ended(RunEnd.STOPPED)
        pending = run._take_steering()
        if pending or calls:
            continue
        pending = run._take_follow_up()
        if pending:
            continue
        return _ended(RunEnd.STOP)


def _overflowed(run: AgentRun, reply: AssistantMessage) -> bool:
    return (
        run.config.context_policy is not None
        and reply.stop_reason is StopReason.ERROR
        and reply.failure is not None
        and reply.failure.kind is FailureKind.CONTEXT_OVERFLOW
        and not reply.content
    )


async def _stream_reply(
    run: AgentRun, model: Model, effort: str | None, overflowed: bool = False
) -> AssistantMessage:
    # An end requested with no await since (abort() from a sync listener) must not let
    # a new request start.
    await run._stop_if_ending()
    config = run.config
    messages: Sequence[Any] = run.transcript
    if config.transform_context is not None:
        messages = await run._hook("transform_context", config.transform_context, list(messages))
    if config.convert_to_llm is not None:
        messages = await run._hook("convert_to_llm", config.convert_to_llm, list(messages))
    if config.context_policy is not None:
        messages = await run._hook(
            "context_policy", config.context_policy, list(messages), model, overflowed
        )
    key = None
    if config.get_api_key is not None:
        key = await run._hook("get_api_key", config.get_api_key, model)
    options = run._caller.options(reasoning_effort=effort, api_key=key)
    ctx = Context(run.system_prompt, messages, run.tools)
    span = run._spans.start_model_call(model, ctx.messages, options)
    try:
        return await _request_reply(run, model, ctx, options)
    finally:
        run._spans.end_model_call(span, run._turn_reply)


async def _request_reply(
    run: AgentRun, model: Model, ctx: Context, options: dict[str, Any]
) -> AssistantMessage:
    await run._emit(MessageStartEvent("assistant", None))
    so_far = run._partial = PartialReply(model)
    events = run._caller.stream(model, ctx, options)
    try:
        async with events:
            try:
                async for ev in events:
                    so_far.feed(ev)
                    if isinstance(ev, ErrorEvent) and isinstance(ev.error, BudgetExceeded):
                        run._refused = ev.error  # the reply was not sent: why
                    await run._emit(MessageUpdateEvent(ev))
                    if isinstance(ev, DoneEvent | ErrorEvent):
                        break
            finally:
                run._partial = None
                if events.message is None:
                    # Cancelled mid-stream: keep what arrived, as aborted (no awaits).
                    partial = events.abort(run._why())
                    # The ends of the open blocks and the final event, then the end.
                    run._events.extend(MessageUpdateEvent(e) for e in events.take_pending())
                    _end_reply(run, partial)
    except BaseException:
        if run._turn_reply is None and events.message is not None:
            # The reply ended, but leaving the stream was cancelled (an abort from one of
            # its last events): it still enters the transcript, after the events of its
            # last batch that were not read yet, with its end.
            run._events.extend(MessageUpdateEvent(e) for e in events.take_pending())
            _end_reply(run, events.message)
        raise
    message = events.message
    assert message is not None
    if run._turn_reply is not message:
        run._add(message)
        run._turn_reply = message
        await run._emit(MessageEndEvent(message))
    return message


def _end_reply(run: AgentRun, message: AssistantMessage) -> None:
    """Record the turn's reply and queue its ``message_end`` (no await)."""
    run._add(message)
    run._turn_reply = message
    run._events.put(MessageEndEvent(message))
