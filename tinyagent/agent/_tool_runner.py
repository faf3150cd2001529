"""The tool runner of one run: a batch of tool calls, each a child task under its own
cancel scope, with a timeout; results in call order, every call answered."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import attrs

from .._util import wording as words
from .._util.log import logger
from ..messages import (
    AgentEvent,
    AssistantMessage,
    Message,
    MessageEndEvent,
    MessageStartEvent,
    StopReason,
    ToolCall,
    ToolError,
    ToolExecutionEndEvent,
    ToolExecutionStartEvent,
    ToolExecutionUpdateEvent,
    ToolResultMessage,
    aborted_result,
)
from ..tools import Approval, RunContext, Tool, ToolResult, argument_problem, run_context_var
from ..tracing import RunSpans, Span
from ._outbox import EventOutbox

if TYPE_CHECKING:
    from ._config import LoopConfig

__all__ = ["RunHooks", "ToolRunner"]


def _error_result(call: ToolCall, text: str) -> ToolResultMessage:
    return ToolResultMessage(call.id, call.name, text, is_error=True)


class RunHooks(Protocol):
    """What the tool runner needs of its run: one object, not a handful of closures."""

    def add(self, message: Message) -> None:
        """Append a result to the transcript (and the session)."""
        ...

    def why(self) -> str:
        """Why the run is ending (for the results of calls it cut off)."""
        ...

    async def call_hook(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a user hook under the run's rule for raising callbacks."""
        ...

    async def stop_if_ending(self) -> None:
        """Deliver an end requested from sync code (an abort) here."""
        ...

    def run_context(self) -> RunContext:
        """The run as a tool may read it (``RunContext``)."""
        ...


class ToolRunner:
    """Runs the tool calls of each turn. ``scopes`` are the running calls' cancel scopes
    (``AgentRun.cancel_tool_call`` cancels one)."""

    def __init__(
        self,
        tools: Sequence[Tool],
        config: LoopConfig,
        events: EventOutbox,
        run: RunHooks,
        spans: RunSpans,
    ) -> None:
        self._by_name = {t.name: t for t in tools}
        self.config = config
        self._events = events
        self._run = run
        self._spans = spans
        self.scopes: dict[str, anyio.CancelScope] = {}
        self._limiter = (
            anyio.CapacityLimiter(config.max_concurrent_tools)
            if config.max_concurrent_tools
            else None
        )

    def _batches(self, calls: Sequence[ToolCall]) -> list[list[int]]:
        """Consecutive concurrent calls share a batch; a sequential call runs alone."""
        batches: list[list[int]] = []
        current: list[int] = []
        for i, call in enumerate(calls):
            tool = self._by_name.get(call.name)
            alone = self.config.sequential_tools or (tool is not None and tool.sequential)
            if alone:
                if current:
                    batches.append(current)
                    current = []
                batches.append([i])
            else:
                current.append(i)
        if current:
            batches.append(current)
        return batches

    async def run(
        self, assistant: AssistantMessage, calls: Sequence[ToolCall]
    ) -> tuple[list[ToolResultMessage], bool]:
        """The results of ``calls``, in call order (every call answered, on every path),
        and whether a tool asked the run to end (``ToolResult.terminate``)."""
        terminate: list[bool] = []
        results: list[ToolResultMessage | None] = [None] * len(calls)
        started = [False] * len(calls)
        if assistant.stop_reason is StopReason.LENGTH:
            for i, call in enumerate(calls):
                results[i] = _error_result(call, words.tool_cut_off())
        completed = False
        try:
            for batch in self._batches(calls):
                if all(results[i] is not None for i in batch):
                    continue
                await self._run.stop_if_ending()  # an abort from the reply's last event
                async with anyio.create_task_group() as tg:
                    for i in batch:
                        tg.start_soon(self._run_one, i, calls[i], results, started, terminate)
            completed = True
        finally:
            events: list[AgentEvent] = []
            why = None
            for i, call in enumerate(calls):
                r = results[i]
                if r is None:
                    why = why or self._run.why()
                    r = results[i] = aborted_result(call, why)
                    if not started[i]:
                        events.append(ToolExecutionStartEvent(call))
                    events.append(ToolExecutionEndEvent(call, r))
                elif not started[i]:  # decided without running (output limit)
                    events += [ToolExecutionStartEvent(call), ToolExecutionEndEvent(call, r)]
            for r in results:
                assert r is not None
                self._run.add(r)
                events += [MessageStartEvent(r.role, r), MessageEndEvent(r)]
            self._events.extend(events)
        if completed:
            await self._events.flush()
        return [r for r in results if r is not None], bool(terminate)

    async def _run_one(
        self,
        i: int,
        call: ToolCall,
        results: list[ToolResultMessage | None],
        started: list[bool],
        terminate: list[bool],
    ) -> None:
        started[i] = True
        # Registered before the start event, so that a listener (or anyone) may cancel
        # the call as soon as it is announced.
        scope = anyio.CancelScope()
        self.scopes[call.id] = scope
        span = self._spans.start_tool(call)
        try:
            await self._run_call(i, call, results, scope, span, terminate)
        finally:
            self._spans.end_tool(span, results[i])

    async def _run_call(
        self,
        i: int,
        call: ToolCall,
        results: list[ToolResultMessage | None],
        scope: anyio.CancelScope,
        span: Span,
        terminate: list[bool],
    ) -> None:
        try:
            await self._events.emit(ToolExecutionStartEvent(call))
            tool = self._by_name.get(call.name)
            problem = argument_problem(tool, call, list(self._by_name))
            result: ToolResult | None = None
            is_error = False
            if problem is not None or tool is None:
                own = None
                if tool is not None and problem is not None:
                    own = await tool.unusable_arguments(call, problem)
                result, is_error = own or ToolResult(problem or "unknown tool"), True
            elif tool.requires_approval:
                call, result = await self._approval(tool, call)
                is_error = result is not None
            if result is None and self.config.before_tool_call is not None:
                result = await self._run.call_hook(
                    "before_tool_call", self.config.before_tool_call, call
                )
            if result is None:
                assert tool is not None
                result, is_error = await self._execute(tool, call, scope, span)
            if self.config.after_tool_call is not None and problem is None:
                replaced = await self._run.call_hook(
                    "after_tool_call", self.config.after_tool_call, call, result
                )
                if replaced is not None:
                    result = replaced
        finally:
            self.scopes.pop(call.id, None)
        if result.terminate:
            terminate.append(True)
        r = ToolResultMessage(call.id, call.name, result.content, is_error, result.details)
        results[i] = r
        await self._events.emit(ToolExecutionEndEvent(call, r))

    async def _approval(self, tool: Tool, call: ToolCall) -> tuple[ToolCall, ToolResult | None]:
        """Ask the agent's ``approve`` callback (it may wait for a person; the call can be
        cancelled, and the run aborted, meanwhile). Returns the call to run (its arguments
        possibly edited), or the result that stands instead of running it."""
        if self.config.approve is None:
            return call, ToolResult(words.tool_needs_approver(call.name))
        waiting = anyio.CancelScope()
        running, self.scopes[call.id] = self.scopes[call.id], waiting
        try:
            with waiting:
                decision = Approval.of(
                    await self._run.call_hook("approve", self.config.approve, call)
                )
        finally:
            self.scopes[call.id] = running
        if waiting.cancelled_caught:
            return call, ToolResult(words.tool_cancelled(call.name))
        if not decision.allowed:
            logger.info("tool %s (%s) denied: %s", call.name, call.id, decision.reason)
            return call, ToolResult(words.tool_denied(call.name, decision.reason))
        if decision.arguments is not None:
            call = attrs.evolve(
                call, arguments=dict(decision.arguments), raw_arguments=None, arguments_error=None
            )
            problems = tool.validate(call.arguments)
            if problems:
                lines = "\n".join(f"- {p}" for p in problems)
                return call, ToolResult(words.tool_invalid_arguments(call.name, lines))
        return call, None

    async def _execute(
        self, tool: Tool, call: ToolCall, scope: anyio.CancelScope, span: Span
    ) -> tuple[ToolResult, bool]:
        async def send(partial: Any) -> None:
            await self._run.stop_if_ending()
            await self._events.emit(ToolExecutionUpdateEvent(call.id, call.name, partial))

        unawaited: list[Coroutine[Any, Any, None]] = []

        def update(partial: Any) -> Coroutine[Any, Any, None]:
            # The seed's on_update was a plain call; here it must be awaited (the events
            # go through a bounded channel). One left un-awaited is caught below.
            pending = send(partial)
            unawaited[:] = [c for c in unawaited if inspect.getcoroutinestate(c) == "CORO_CREATED"]
            unawaited.append(pending)
            return pending

        timeout = tool.timeout if tool.timeout is not None else self.config.tool_timeout
        out: Any = None
        try:
            await self._run.stop_if_ending()  # not started if the run ended meanwhile
            run_context_var.set(self._run.run_context)  # this call's task only
            with scope, span.activate():
                with anyio.move_on_after(math.inf if timeout is None else timeout) as limit:
                    if self._limiter is not None:
                        async with self._limiter:
                            out = await tool.execute(call.id, dict(call.arguments), update)
                    else:
                        out = await tool.execute(call.id, dict(call.arguments), update)
            if scope.cancelled_caught:
                logger.info("tool %s (%s) cancelled", call.name, call.id)
                return ToolResult(words.tool_cancelled(call.name)), True
            if limit.cancelled_caught and timeout is not None:
                logger.info("tool %s (%s) timed out after %s s", call.name, call.id, timeout)
                return ToolResult(words.tool_timed_out(call.name, timeout)), True
        except ToolError as exc:
            logger.info("tool %s (%s) refused: %s", call.name, call.id, exc)
            return ToolResult(str(exc)), True
        except Exception as exc:
            logger.info("tool %s (%s) raised", call.name, call.id, exc_info=exc)
            return ToolResult(words.tool_failed(call.name, exc)), True
        finally:
            # Closed on every path: no "never awaited" RuntimeWarning (the error says it).
            never = _close_unstarted(unawaited) if unawaited else 0
        if never:
            return ToolResult(words.tool_update_not_awaited(call.name, never)), True
        if isinstance(out, ToolResult):
            return out, False
        if isinstance(out, str):
            return ToolResult(out), False
        return ToolResult(words.tool_bad_return(call.name, out)), True


def _close_unstarted(pending: list[Coroutine[Any, Any, None]]) -> int:
    """Close the updates never awaited, and say how many there were."""
    never = [c for c in pending if inspect.getcoroutinestate(c) == "CORO_CREATED"]
    for coroutine in never:
        coroutine.close()
    return len(never)
