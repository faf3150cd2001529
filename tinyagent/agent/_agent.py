"""The stateful ``Agent``: a transcript, tools and queues around the agent loop.

It keeps what users of the seed project know (``set_system_prompt``, ``set_model``,
``set_tools``, ``prompt``, ``prompt_text``, ``stream``, ``subscribe``, ``steer``,
``follow_up``, ``abort``) on top of :func:`agent_loop`, which does the work.

After ``abort()``, a pending ``prompt()`` returns promptly with the messages so far (the
last assistant message has ``stop_reason="aborted"``); it does not raise.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager, nullcontext
from types import MappingProxyType
from typing import Any, TypeVar, overload

import anyio

from ..catalogue import as_model
from ..messages import (
    AgentBusyError,
    AgentEvent,
    AssistantMessage,
    ImageContent,
    Message,
    MessageUpdateEvent,
    Model,
    NoModelError,
    ReplyError,
    StopReason,
    TextDeltaEvent,
    TinyAgentError,
    ToolCall,
    Usage,
    unanswered_calls,
)
from ..output import (
    FINAL_ANSWER_TOOL,
    OutputAttempts,
    OutputMode,
    OutputSpec,
    OutputStream,
    check_output_mode,
    output_spec,
    output_stream,
)
from ..providers import takes_thinking_budget
from ..sessions import Session
from ..tools import Tool
from ..wire import RequestCaches, ResponseFormat
from ._as_tool import agent_tool
from ._config import loop_config
from ._queues import DeliveryMode, MessageQueue, check_mode
from ._run import AgentRun, RunSpec, make_run, open_run
from ._run_stream import RunStream
from ._session_link import SessionLink
from ._snapshot import read_snapshot, write_snapshot
from ._state import AgentState, PromptInput, ThinkingLevel, as_message, as_prompts

__all__ = ["Agent", "AgentState", "ThinkingLevel", "run_sync"]

T = TypeVar("T")


class Agent:
    """An agent with a transcript: ``await agent.prompt_text("hi")``.

    Loop options (``tool_timeout``, ``max_turns``, ``deadline``, hooks, ``stream_options``…)
    are those of :class:`LoopConfig`. ``output_type`` makes :meth:`prompt_output` (and
    :meth:`as_tool`) answer with that type by default; ``output_retries`` is how many
    corrections a wrong answer may get; ``output_mode`` is ``auto``, ``native`` (the
    provider's JSON-schema response format) or ``tool`` (a final-answer tool).
    """

    def __init__(
        self,
        model: Model | str | None = None,
        system_prompt: str = "",
        tools: Sequence[Tool] = (),
        *,
        messages: Sequence[Message] = (),
        session_id: str | None = None,
        thinking_level: ThinkingLevel | str = ThinkingLevel.OFF,
        thinking_budgets: Mapping[str, int] | None = None,
        steering_mode: DeliveryMode = "one-at-a-time",
        follow_up_mode: DeliveryMode = "one-at-a-time",
        output_type: Any = None,
        output_retries: int = 1,
        output_mode: OutputMode = "auto",
        session: Session | None = None,
        **loop_options: Any,
    ) -> None:
        loop_config(loop_options)  # reject bad options now, not at the first prompt
        self._output: OutputSpec[Any] | None = (
            output_spec(output_type) if output_type is not None else None
        )
        self._output_retries = _retries(output_retries)
        self._output_mode = check_output_mode(output_mode)
        self._link = SessionLink(session) if session is not None else None
        self._model = as_model(model) if model is not None else None
        self._system_prompt = system_prompt
        self._tools = tuple(tools)
        self._options = loop_options
        self._messages: list[Message] = list(messages)
        self._steering = MessageQueue(steering_mode)
        self._follow_up = MessageQueue(follow_up_mode)
        self._listeners: list[Callable[[AgentEvent], Any]] = []
        self._run: AgentRun | None = None
        self._idle: anyio.Event | None = None  # set when the running prompt ends
        self.session_id = session_id
        self._thinking_level = ThinkingLevel(thinking_level)
        self.thinking_budgets: dict[str, int] = dict(thinking_budgets or {})
        self._last_error: str | None = None
        self._usage = Usage()
        self._request_caches = RequestCaches()  # the encoded transcript, kept across runs

    # --- configuration -----------------------------------------------------------

    def set_system_prompt(self, prompt: str) -> None:
        self._system_prompt = prompt

    def set_model(self, model: Model | str) -> None:
        """A :class:`Model`, or a name such as ``"anthropic:claude-sonnet-4-5"``."""
        self._model = as_model(model)

    def set_stream_options(self, **options: Any) -> None:
        """Merge model-call options (``temperature``, ``transport``, ``rate_gate``…) into
        the agent's ``stream_options``; checked now."""
        self._check_idle()
        merged = {**(self._options.get("stream_options") or {}), **options}
        loop_config({**self._options, "stream_options": merged})
        self._options["stream_options"] = merged

    def set_loop_options(self, **options: Any) -> None:
        """Merge loop options (``deadline``, ``max_turns``, ``tool_timeout``, hooks…)
        into the agent's (not while running); checked now. A server uses it to bound an
        agent's run by its own deadline."""
        self._check_idle()
        merged = {**self._options, **options}
        loop_config(merged)
        self._options = merged

    @property
    def loop_options(self) -> Mapping[str, Any]:
        """The loop options in force (read-only): ``deadline``, ``max_turns``…"""
        return MappingProxyType(self._options)

    def set_session(self, session: Session | None) -> None:
        """Tie the agent to ``session`` (or to none), as ``Agent(session=...)`` does;
        the next run loads it first. Not while running."""
        self._check_idle()
        self._link = SessionLink(session) if session is not None else None

    def set_tools(self, tools: Sequence[Tool]) -> None:
        self._tools = tuple(tools)

    @property
    def output_type(self) -> Any:
        """The type :meth:`prompt_output` answers with by default (None: none set)."""
        return self._output.type if self._output is not None else None

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
            self._model,
            self._system_prompt,
            self._tools,
            self._thinking_level,
            partial=run.stream_message if run is not None else lambda: None,
        )

    # --- the seed's settings and queues ------------------------------------------

    @property
    def thinking_level(self) -> ThinkingLevel:
        return self._thinking_level

    def set_thinking_level(self, level: ThinkingLevel | str) -> None:
        """``off`` (no reasoning option), ``minimal``, ``low``, ``medium``, ``high`` or
        ``xhigh``: sent as the reasoning effort, or as the token budget that
        ``thinking_budgets`` gives the level (Anthropic takes a budget)."""
        self._thinking_level = ThinkingLevel(level)

    def set_steering_mode(self, mode: DeliveryMode) -> None:
        """``"one-at-a-time"`` (default: one queued message per turn) or ``"all"``."""
        self._steering.mode = check_mode(mode)

    def get_steering_mode(self) -> DeliveryMode:
        return self._steering.mode

    def set_follow_up_mode(self, mode: DeliveryMode) -> None:
        """``"one-at-a-time"`` (default) or ``"all"``."""
        self._follow_up.mode = check_mode(mode)

    def get_follow_up_mode(self) -> DeliveryMode:
        return self._follow_up.mode

    def clear_steering_queue(self) -> None:
        self._steering.clear()

    def clear_follow_up_queue(self) -> None:
        self._follow_up.clear()

    def clear_all_queues(self) -> None:
        self._steering.clear()
        self._follow_up.clear()

    def clear_messages(self) -> None:
        """Forget the transcript (not while running; queues and usage stay)."""
        self._check_idle()
        self._messages.clear()
        self._edited()

    def replace_messages(self, messages: Sequence[Message]) -> None:
        """Make ``messages`` the transcript (not while running)."""
        self._check_idle()
        self._messages[:] = list(messages)
        self._edited()

    def append_message(self, message: Message) -> None:
        """Add a message to the transcript without running (not while running)."""
        self._check_idle()
        self._messages.append(as_message(message))
        self._edited()

    # --- the session -----------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        return self._link.session if self._link is not None else None

    def _edited(self) -> None:
        if self._link is not None:
            self._link.edited()

    async def sync_session(self) -> None:
        """Bring the agent and its session into step now (every run does it first): the
        first time, load the stored transcript, answering any tool call a crash left
        without a result as aborted; after the transcript was edited by
        ``clear_messages``, ``replace_messages``, ``append_message``, ``reset`` or a
        ``continue_`` retry, store the edited transcript."""
        if self._link is not None:
            await self._link.sync(self._messages)

    async def wait_for_idle(self) -> None:
        """Return once no prompt is running (at once if none is)."""
        if self._run is not None and self._idle is not None:
            await self._idle.wait()

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
        self._steering.append(as_message(message))

    def follow_up(self, message: PromptInput) -> None:
        """Start another turn with this message when the run would otherwise stop."""
        self._follow_up.append(as_message(message))

    def abort(self, reason: str = "aborted") -> None:
        """Abort the current run, if any. Synchronous; safe from any task of the loop.
        Queued steering and follow-up messages stay queued."""
        if self._run is not None:
            self._run.abort(reason)

    def cancel_tool_call(self, call_id: str) -> bool:
        """Cancel one running tool call; its siblings go on."""
        return self._run.cancel_tool_call(call_id) if self._run is not None else False

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a snapshot of this agent: model (never its key), system prompt,
        transcript, usage, settings and the options that are data. Written whole or not
        at all. Tools and hooks are code: :meth:`load` takes them again."""
        write_snapshot(
            path,
            model=self._model,
            system_prompt=self._system_prompt,
            messages=self._messages,
            usage=self._usage,
            settings={
                "session_id": self.session_id,
                "thinking_level": self._thinking_level.value,
                "thinking_budgets": dict(self.thinking_budgets),
                "steering_mode": self._steering.mode,
                "follow_up_mode": self._follow_up.mode,
            },
            options=self._options,
        )

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], tools: Sequence[Tool] = (), **loop_options: Any
    ) -> Agent:
        """An agent from a snapshot made by :meth:`save`, with ``tools`` and any loop
        options (hooks) given again; options given here win over the saved ones. A
        corrupt file, or one from a newer version, raises ``ValueError`` and makes no
        agent."""
        snap = read_snapshot(path)
        settings = snap["settings"]
        agent = cls(
            snap["model"],
            snap["system_prompt"],
            tools,
            messages=snap["messages"],
            session_id=settings.get("session_id"),
            thinking_level=settings.get("thinking_level", ThinkingLevel.OFF),
            thinking_budgets=settings.get("thinking_budgets"),
            steering_mode=settings.get("steering_mode", "one-at-a-time"),
            follow_up_mode=settings.get("follow_up_mode", "one-at-a-time"),
            **{**snap["options"], **loop_options},
        )
        agent._usage = snap["usage"]
        return agent

    def clone(self) -> Agent:
        """A new agent with the same model, prompt, tools and options, and no transcript."""
        return Agent(
            self._model,
            self._system_prompt,
            self._tools,
            output_type=self._output,
            output_retries=self._output_retries,
            output_mode=self._output_mode,
            **self._options,
        )

    def as_tool(
        self,
        name: str,
        description: str,
        *,
        timeout: float | None = None,
    ) -> Tool:
        """This agent as a tool for another agent (an orchestrator).

        Each call runs a fresh :meth:`clone` on the ``task`` argument and returns its final
        text, so parallel calls do not share a transcript. An agent with an ``output_type``
        answers with its typed output: JSON for the calling model, the value itself in
        the result's ``details`` for the application. The sub-agent runs inside the
        calling tool's task: cancelling the call, or the orchestrator's run, aborts it
        cleanly. Its tool executions are forwarded as progress updates.
        """
        return agent_tool(self, name, description, timeout)

    def reset(self) -> None:
        """Forget the transcript, the queues and the last error (not while running)."""
        self._check_idle()
        self._messages.clear()
        self._steering.clear()
        self._follow_up.clear()
        self._last_error = None
        self._edited()

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

    def _check_ready(self) -> None:
        self._check_idle()
        if self._model is None:
            raise NoModelError("the agent has no model: pass model= or call set_model()")

    def _spec(
        self,
        prompts: list[Message],
        extra_tools: Sequence[Tool] = (),
        response_format: ResponseFormat | None = None,
    ) -> RunSpec:
        """The next run, from the agent's state (checked ready by the caller)."""
        assert self._model is not None
        stream_options = dict(self._options.get("stream_options") or {})
        if response_format is not None:
            stream_options["response_format"] = response_format
        if self.session_id is not None:
            stream_options.setdefault("session_id", self.session_id)
        effort = self._effort()
        if effort is not None:
            stream_options.setdefault("reasoning_effort", effort)
        return RunSpec(
            model=self._model,
            # Messages steered while idle open the run, before the prompt's own.
            prompts=(*self._steering.take(), *prompts),
            system_prompt=self._system_prompt,
            tools=(*self._tools, *extra_tools),
            config=loop_config({**self._options, "stream_options": stream_options}),
            steering=self._steering.take,
            follow_up=self._follow_up.take,
            listeners=self._listeners,
            request_caches=self._request_caches,
            store=self._link.session.append if self._link is not None else None,
        )

    def _effort(self) -> str | None:
        level = self._thinking_level
        if level is ThinkingLevel.OFF:
            return None
        budget = self.thinking_budgets.get(level.value)
        if budget is not None and self._model is not None and takes_thinking_budget(self._model):
            return str(budget)
        return level.value

    @asynccontextmanager
    async def _running(
        self, prompts: list[Message], *, streamed: bool = True, **extra: Any
    ) -> AsyncIterator[AgentRun]:
        """The one way a prompt runs: check, bring the session into step, make the run
        (with an event channel when ``streamed``, else to be run in the caller's task),
        and account for it when it ends, however it ends."""
        self._check_ready()
        # The session's lease for the whole run: another live agent on the id is
        # refused here, before anything is sent or stored.
        async with self._link.held() if self._link is not None else nullcontext():
            await self.sync_session()
            spec = self._spec(prompts, **extra)
            runs = open_run(spec, self._messages) if streamed else _unstarted(spec, self._messages)
            async with runs as run:
                self._started(run)
                try:
                    yield run
                finally:
                    self._finish(run)

    def _started(self, run: AgentRun) -> None:
        self._run = run
        self._idle = anyio.Event()

    def _finish(self, run: AgentRun) -> None:
        self._run = None
        if self._idle is not None:
            self._idle.set()
        self._usage = self._usage + run.usage
        end = run.result
        if end is not None and end.stop_reason in ("error", "deadline"):
            self._last_error = end.error_message
        elif end is not None:
            self._last_error = None

    def stream(
        self, message: PromptInput | None = None, images: Sequence[ImageContent] = ()
    ) -> RunStream[AgentRun]:
        """``async with agent.stream("hi") as events: async for e in events: ...``"""
        prompts = [] if message is None else as_prompts(message, images)
        return RunStream(self._running(prompts), "stream")

    def stream_text(
        self, message: PromptInput, images: Sequence[ImageContent] = ()
    ) -> RunStream[AsyncIterator[str]]:
        """Like :meth:`stream`, but yields only the assistant's text deltas."""
        return RunStream(self._texts(as_prompts(message, images)), "stream_text")

    @asynccontextmanager
    async def _texts(self, prompts: list[Message]) -> AsyncIterator[AsyncIterator[str]]:
        async with self._running(prompts) as run:

            async def texts() -> AsyncGenerator[str, None]:
                async for e in run:
                    if isinstance(e, MessageUpdateEvent) and isinstance(e.event, TextDeltaEvent):
                        yield e.event.delta

            gen = texts()
            try:
                yield gen
            finally:
                await gen.aclose()

    async def _consume(self, prompts: list[Message], **extra: Any) -> AgentRun:
        # No consumer of events here: run in this task, listeners only.
        async with self._running(prompts, streamed=False, **extra) as run:
            await run.run()
        return run

    async def prompt(
        self, message: PromptInput, images: Sequence[ImageContent] = ()
    ) -> list[Message]:
        """Run until the agent stops; return the messages this prompt added.

        ``message`` is text (with ``images`` after it, if given), a message, a list of
        messages (several prompts at once) or a list of text and image parts."""
        run = await self._consume(as_prompts(message, images))
        return run.new_messages

    async def prompt_text(self, message: PromptInput, images: Sequence[ImageContent] = ()) -> str:
        """Run until the agent stops; return the text of its last reply. A reply that
        failed (no key, a provider error, a budget stop) raises :class:`ReplyError`
        carrying it — never an empty string passed off as an answer; ``prompt()`` keeps
        the failure as data. An aborted reply returns what arrived."""
        new = await self.prompt(message, images)
        for m in reversed(new):
            if isinstance(m, AssistantMessage):
                if m.stop_reason is StopReason.ERROR:
                    raise ReplyError(m)
                return m.text
        return ""

    def run_sync(
        self,
        message: PromptInput,
        images: Sequence[ImageContent] = (),
        *,
        backend: str = "trio",
    ) -> str:
        """For scripts: :meth:`prompt_text` in an event loop of its own (trio, or
        ``backend="asyncio"``). A reply that failed ends the script with its reason on
        one line and exit status 1 (``SystemExit``); in a program, await
        :meth:`prompt_text` and catch :class:`ReplyError` instead."""
        try:
            return anyio.run(lambda: self.prompt_text(message, images), backend=backend)
        except ReplyError as exc:
            raise SystemExit(f"tinyagent: {exc}") from None

    # --- structured output ---------------------------------------------------------

    def _attempts(
        self, output_type: Any, retries: int | None, mode: OutputMode | None
    ) -> OutputAttempts[Any]:
        self._check_ready()
        spec = output_spec(output_type) if output_type is not None else self._output
        if spec is None:
            raise TinyAgentError(
                "no output type: pass one (agent.prompt_output(text, MyType)) or create the "
                "agent with output_type=MyType"
            )
        if any(t.name == FINAL_ANSWER_TOOL for t in self._tools):
            raise TinyAgentError(
                f"a tool is named {FINAL_ANSWER_TOOL!r}, the name structured output uses for "
                "its answer tool: rename it"
            )
        assert self._model is not None
        return OutputAttempts(
            spec,
            check_output_mode(mode if mode is not None else self._output_mode),
            self._model,
            _retries(retries if retries is not None else self._output_retries),
        )

    @overload
    async def prompt_output(
        self,
        message: PromptInput,
        output_type: type[T],
        images: Sequence[ImageContent] = (),
        *,
        retries: int | None = None,
        mode: OutputMode | None = None,
    ) -> T: ...
    @overload
    async def prompt_output(
        self,
        message: PromptInput,
        output_type: Any = None,
        images: Sequence[ImageContent] = (),
        *,
        retries: int | None = None,
        mode: OutputMode | None = None,
    ) -> Any: ...
    async def prompt_output(
        self,
        message: PromptInput,
        output_type: Any = None,
        images: Sequence[ImageContent] = (),
        *,
        retries: int | None = None,
        mode: OutputMode | None = None,
    ) -> Any:
        """Run until the model gives an answer of ``output_type`` (default: the agent's
        ``output_type``) and return it, structured: an attrs class, a dataclass, a
        ``TypedDict``, a list, a ``Literal``… A wrong answer is sent back with what was
        wrong, up to ``retries`` times (default ``output_retries``); then
        :class:`OutputValidationError` carries the last raw answer. A failed or aborted
        run raises :class:`OutputError`. The exchange stays in the transcript."""
        attempts = self._attempts(output_type, retries, mode)
        prompts = as_prompts(message, images)
        while True:
            run = await self._consume(prompts, **attempts.run_options())
            correction = attempts.judge(run.new_messages)
            if correction is None:
                return attempts.value
            prompts = [correction]

    def stream_output(
        self,
        message: PromptInput,
        output_type: Any = None,
        images: Sequence[ImageContent] = (),
        *,
        retries: int | None = None,
        mode: OutputMode | None = None,
    ) -> RunStream[OutputStream[Any]]:
        """Like :meth:`prompt_output`, streaming the answer as it is written::

        async with agent.stream_output("...", Person) as answer:
            async for partial in answer:  # {"name": "Ad"}, {"name": "Ada"}, ...
                ...
        person = answer.output
        """
        attempts = self._attempts(output_type, retries, mode)

        async def run_attempt(batch: list[Message], on_event: Callable[[Any], Any]) -> Any:
            async with self._running(batch, **attempts.run_options()) as run:
                async for e in run:
                    if isinstance(e, MessageUpdateEvent):
                        await on_event(e.event)
            return run.new_messages

        return RunStream(
            output_stream(attempts, as_prompts(message, images), run_attempt), "stream_output"
        )

    async def continue_(self) -> list[Message]:
        """Resume from the transcript as it is: answer pending tool results, deliver
        queued messages, or retry after a failed or aborted reply."""
        # Every check first: a call that cannot run changes nothing (no queued message
        # drained, no reply dropped), and one made during a run leaves that run alone.
        self._check_ready()
        await self.sync_session()
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
            self._edited()
        prompts = self._follow_up.take() if not self._steering else []
        run = await self._consume(prompts)
        return run.new_messages

    def unanswered_tool_calls(self) -> tuple[ToolCall, ...]:
        """Tool calls of the last assistant message that have no result yet."""
        return unanswered_calls(self._messages)


@asynccontextmanager
async def _unstarted(spec: RunSpec, transcript: list[Message]) -> AsyncIterator[AgentRun]:
    yield make_run(spec, transcript)


def _retries(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"output_retries must be a whole number >= 0, got {value!r}")
    return value


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
