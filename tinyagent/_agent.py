"""The stateful ``Agent``: a transcript, tools and queues around the agent loop.

It keeps what users of the seed project know (``set_system_prompt``, ``set_model``,
``set_tools``, ``prompt``, ``prompt_text``, ``stream``, ``subscribe``, ``steer``,
``follow_up``, ``abort``) on top of :func:`agent_loop`, which does the work.

After ``abort()``, a pending ``prompt()`` returns promptly with the messages so far (the
last assistant message has ``stop_reason="aborted"``); it does not raise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import attrs

from ._agent_events import AgentEvent, MessageUpdateEvent, ToolExecutionStartEvent
from ._errors import AgentBusyError, TinyAgentError, ToolError
from ._loop import AgentRun, agent_loop, loop_config, make_run
from ._messages import (
    AssistantMessage,
    Message,
    Model,
    StopReason,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserContent,
    UserMessage,
    as_model,
)
from ._request import RequestCaches
from ._stream_events import TextDeltaEvent
from ._tools import Tool, ToolResult, ToolUpdate

__all__ = ["Agent", "AgentState", "run_sync"]

T = TypeVar("T")

PromptInput = str | Message | Sequence[UserContent]


@attrs.frozen
class AgentState:
    """A snapshot of the agent: the transcript, whether it runs, which tool calls are
    running, the last error, and usage over the agent's life."""

    messages: tuple[Message, ...]
    is_streaming: bool
    pending_tool_calls: frozenset[str]
    last_error: str | None
    usage: Usage


def _as_message(value: PromptInput) -> Message:
    if isinstance(value, str):
        return UserMessage(value)
    if isinstance(value, UserMessage | AssistantMessage | ToolResultMessage) or hasattr(
        value, "role"
    ):
        return value  # type: ignore[return-value]  # a message, or a custom kind with a role
    return UserMessage(value)


class Agent:
    """An agent with a transcript: ``await agent.prompt_text("hi")``.

    Loop options (``tool_timeout``, ``max_turns``, ``deadline``, hooks, ``stream_options``…)
    are those of :class:`LoopConfig`.
    """

    def __init__(
        self,
        model: Model | str | None = None,
        system_prompt: str = "",
        tools: Sequence[Tool] = (),
        *,
        messages: Sequence[Message] = (),
        **loop_options: Any,
    ) -> None:
        loop_config(loop_options)  # reject bad options now, not at the first prompt
        self._model = as_model(model) if model is not None else None
        self._system_prompt = system_prompt
        self._tools = tuple(tools)
        self._options = loop_options
        self._messages: list[Message] = list(messages)
        self._steering: deque[Message] = deque()
        self._follow_up: deque[Message] = deque()
        self._listeners: list[Callable[[AgentEvent], Any]] = []
        self._run: AgentRun | None = None
        self._last_error: str | None = None
        self._usage = Usage()
        self._request_caches = RequestCaches()  # the encoded transcript, kept across runs

    # --- configuration -----------------------------------------------------------

    def set_system_prompt(self, prompt: str) -> None:
        self._system_prompt = prompt

    def set_model(self, model: Model | str) -> None:
        """A :class:`Model`, or a name such as ``"anthropic:claude-sonnet-4-5"``."""
        self._model = as_model(model)

    def set_tools(self, tools: Sequence[Tool]) -> None:
        self._tools = tuple(tools)

    @property
    def model(self) -> Model | None:
        return self._model

    @property
    def system_prompt(self) -> str:
        return self._system_prompt

    @property
    def tools(self) -> tuple[Tool, ...]:
        return self._tools

    @property
    def state(self) -> AgentState:
        run = self._run
        return AgentState(
            tuple(self._messages),
            run is not None,
            run.running_tool_calls if run is not None else frozenset(),
            self._last_error,
            self._usage,
        )

    @property
    def messages(self) -> tuple[Message, ...]:
        return tuple(self._messages)

    @property
    def usage(self) -> Usage:
        """Usage summed over every run of this agent."""
        return self._usage

    # --- control -------------------------------------------------------------------

    def subscribe(self, callback: Callable[[AgentEvent], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` (sync or async) for every event of every run;
        returns a function that unsubscribes."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def steer(self, message: PromptInput) -> None:
        """Deliver after the current tool batch, before the next model call (or, if the
        agent is idle, at the start of the next run)."""
        self._steering.append(_as_message(message))

    def follow_up(self, message: PromptInput) -> None:
        """Start another turn with this message when the run would otherwise stop."""
        self._follow_up.append(_as_message(message))

    def abort(self, reason: str = "aborted") -> None:
        """Abort the current run, if any. Synchronous; safe from any task of the loop.
        Queued steering and follow-up messages stay queued."""
        if self._run is not None:
            self._run.abort(reason)

    def cancel_tool_call(self, call_id: str) -> bool:
        """Cancel one running tool call; its siblings go on."""
        return self._run.cancel_tool_call(call_id) if self._run is not None else False

    def clone(self) -> Agent:
        """A new agent with the same model, prompt, tools and options, and no transcript."""
        return Agent(self._model, self._system_prompt, self._tools, **self._options)

    def as_tool(
        self,
        name: str,
        description: str,
        *,
        timeout: float | None = None,
    ) -> Tool:
        """This agent as a tool for another agent (an orchestrator).

        Each call runs a fresh :meth:`clone` on the ``task`` argument and returns its final
        text, so parallel calls do not share a transcript. The sub-agent runs inside the
        calling tool's task: cancelling the call, or the orchestrator's run, aborts it
        cleanly. Its tool executions are forwarded as progress updates.
        """

        async def execute(call_id: str, args: dict[str, Any], update: ToolUpdate) -> ToolResult:
            worker = self.clone()

            async def forward(event: AgentEvent) -> None:
                if isinstance(event, ToolExecutionStartEvent):
                    await update(
                        {"agent": name, "tool": event.call.name, "arguments": event.call.arguments}
                    )

            worker.subscribe(forward)
            new = await worker.prompt(args["task"])
            replies = [m for m in new if isinstance(m, AssistantMessage)]
            last = replies[-1] if replies else None
            if last is None or last.stop_reason in (StopReason.ERROR, StopReason.ABORTED):
                why = last.error_message if last is not None else "no reply"
                raise ToolError(f"The {name} agent failed: {why}")
            return ToolResult(last.text, details={"usage": worker.usage, "messages": len(new)})

        parameters = {
            "type": "object",
            "properties": {"task": {"type": "string", "description": f"What {name} should do."}},
            "required": ["task"],
        }
        return Tool(name, description, parameters, execute, timeout=timeout)

    def reset(self) -> None:
        """Forget the transcript, the queues and the last error (not while running)."""
        self._check_idle()
        self._messages.clear()
        self._steering.clear()
        self._follow_up.clear()
        self._last_error = None

    @property
    def queued(self) -> tuple[Message, ...]:
        """Steering and follow-up messages not yet delivered."""
        return (*self._steering, *self._follow_up)

    # --- running -------------------------------------------------------------------

    def _check_idle(self) -> None:
        if self._run is not None:
            raise AgentBusyError(
                "the agent is already running a prompt; await it, or use steer()/follow_up() "
                "to add to it, or abort() it"
            )

    def _drain(self, queue: deque[Message]) -> Callable[[], list[Message]]:
        def take() -> list[Message]:
            out = list(queue)
            queue.clear()
            return out

        return take

    def _check_ready(self) -> None:
        self._check_idle()
        if self._model is None:
            raise TinyAgentError("the agent has no model: pass model= or call set_model()")

    def _loop_arguments(self, prompts: list[Message]) -> dict[str, Any]:
        self._check_ready()
        # Messages steered while idle open the run, before the prompt's own.
        return {
            "model": self._model,
            "messages": self._messages,
            "prompts": [*self._drain(self._steering)(), *prompts],
            "system_prompt": self._system_prompt,
            "tools": self._tools,
            "steering": self._drain(self._steering),
            "follow_up": self._drain(self._follow_up),
            "listeners": self._listeners,
            "request_caches": self._request_caches,
            **self._options,
        }

    @asynccontextmanager
    async def _running(self, prompts: list[Message]) -> AsyncIterator[AgentRun]:
        async with agent_loop(**self._loop_arguments(prompts)) as run:
            self._run = run
            try:
                yield run
            finally:
                self._run = None
                self._finish(run)

    def _finish(self, run: AgentRun) -> None:
        self._usage = self._usage + run.usage
        end = run.result
        if end is not None and end.stop_reason in ("error", "deadline"):
            self._last_error = end.error_message
        elif end is not None:
            self._last_error = None

    @asynccontextmanager
    async def stream(self, message: PromptInput | None = None) -> AsyncIterator[AgentRun]:
        """``async with agent.stream("hi") as events: async for e in events: ...``"""
        prompts = [] if message is None else [_as_message(message)]
        async with self._running(prompts) as run:
            yield run

    @asynccontextmanager
    async def stream_text(self, message: PromptInput) -> AsyncIterator[AsyncIterator[str]]:
        """Like :meth:`stream`, but yields only the assistant's text deltas."""
        async with self._running([_as_message(message)]) as run:

            async def texts() -> AsyncGenerator[str, None]:
                async for e in run:
                    if isinstance(e, MessageUpdateEvent) and isinstance(e.event, TextDeltaEvent):
                        yield e.event.delta

            gen = texts()
            try:
                yield gen
            finally:
                await gen.aclose()

    async def _consume(self, prompts: list[Message]) -> AgentRun:
        # No consumer of events here: run in this task, listeners only.
        run = make_run(**self._loop_arguments(prompts))
        self._run = run
        try:
            await run.run()
        finally:
            self._run = None
            self._finish(run)
        return run

    async def prompt(self, message: PromptInput) -> list[Message]:
        """Run until the agent stops; return the messages this prompt added."""
        run = await self._consume([_as_message(message)])
        return run.new_messages

    async def prompt_text(self, message: PromptInput) -> str:
        """Run until the agent stops; return the text of its last reply."""
        new = await self.prompt(message)
        for m in reversed(new):
            if isinstance(m, AssistantMessage):
                return m.text
        return ""

    async def continue_(self) -> list[Message]:
        """Resume from the transcript as it is: answer pending tool results, deliver
        queued messages, or retry after a failed or aborted reply."""
        # Every check first: a call that cannot run changes nothing (no queued message
        # drained, no reply dropped), and one made during a run leaves that run alone.
        self._check_ready()
        retry = False
        last = self._messages[-1] if self._messages else None
        if (
            isinstance(last, AssistantMessage)
            and last.stop_reason in (StopReason.ERROR, StopReason.ABORTED)
            and not last.tool_calls
        ):
            retry = True  # a failed reply with nothing to answer: ask again
            last = self._messages[-2] if len(self._messages) > 1 else None
        has_queued = bool(self._steering or self._follow_up)
        if isinstance(last, AssistantMessage) and not has_queued:
            raise TinyAgentError(
                "nothing to continue: the transcript ends with the assistant's reply; "
                "use prompt() to say something new"
            )
        if last is None and not has_queued:
            raise TinyAgentError("nothing to continue: the transcript is empty")
        if retry:
            self._messages.pop()
        prompts = self._drain(self._follow_up)() if not self._steering else []
        run = await self._consume(prompts)
        return run.new_messages

    def unanswered_tool_calls(self) -> tuple[ToolCall, ...]:
        """Tool calls of the last assistant message that have no result yet."""
        answered = {getattr(m, "tool_call_id", None) for m in self._messages}
        for m in reversed(self._messages):
            if isinstance(m, AssistantMessage):
                return tuple(c for c in m.tool_calls if c.id not in answered)
        return ()


def run_sync(fn: Callable[..., Coroutine[Any, Any, T]] | Coroutine[Any, Any, T], *args: Any) -> T:
    """Run async tinyagent code from a plain script, on trio.

    ``run_sync(agent.prompt_text("hi"))`` or ``run_sync(main, arg)``.
    """
    import trio

    if callable(fn):
        return trio.run(fn, *args)
    coro = fn

    async def main() -> T:
        return await coro

    return trio.run(main)
