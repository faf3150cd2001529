"""One batch item run to its output line: a call (or an agent), its attempts, and what
the batch's counts take from it. Shared by the local engine and the Ray actors."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import anyio

from ..budget import Account, BudgetError, charging
from ..call import complete_with
from ..messages import (
    AssistantMessage,
    FailureKind,
    Model,
    OutputError,
    OutputValidationError,
    StopReason,
    TinyAgentError,
    Usage,
)
from ..serde import unstructure
from ..transports import retry_delay
from ..wire import StreamOptions, stream_options
from ._chat import for_api
from ._formats import BatchItem, Format, error_line, result_line
from ._gate import BatchGate
from ._report import BatchStats

__all__ = ["AgentFactory", "Answer", "ItemRunner", "Outcome", "load_factory"]

AgentFactory = Callable[[], Any]


def load_factory(spec: str) -> AgentFactory:
    """``module:factory`` as the callable it names."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise TinyAgentError(f"--agent {spec!r}: write it as module:factory")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise TinyAgentError(f"--agent {spec!r}: {exc}") from None
    if not callable(fn):
        raise TinyAgentError(f"--agent {spec!r} is not callable")
    return fn  # type: ignore[no-any-return]


class ItemRunner:
    """One batch run's shared state: the model, options, gate, stats and channels."""

    def __init__(
        self,
        model: Model,
        fmt: Format,
        gate: BatchGate,
        stats: BatchStats,
        options: dict[str, Any],
        max_attempts: int,
        agent: AgentFactory | None,
        budget: Account | None = None,
    ) -> None:
        self.model = model
        self.format = fmt
        self.gate = gate
        self.stats = stats
        self.options = options
        self.max_attempts = max_attempts
        self.agent = agent
        self.budget = budget
        # The batch's own options, validated once (an item with none of its own, the
        # usual case, reuses them); None until the first item asks.
        self._options: StreamOptions | None = None

    async def item(self, item: BatchItem) -> bytes:
        """Run one item to its output line (a failure is a line too), counted."""
        line, outcome = await self.execute(item)
        self.count(outcome)
        return line

    async def execute(self, item: BatchItem) -> tuple[bytes, Outcome]:
        """Run one item: its output line, and what the stats should count of it. An item
        that cannot run (an option with a bad value, a malformed message, an agent
        factory that raises) is that item's error line: the batch goes on, and a resume
        skips it like any failed item instead of dying on it again."""
        started = anyio.current_time()
        try:
            if self.budget is None:
                return await self._execute(item, started)
            with charging(self.budget):  # every call of the item, an agent's too
                return await self._execute(item, started)
        except BudgetError:
            raise  # the budget cannot price this batch's calls: no item can run
        except Exception as exc:
            kind = "agent" if self.agent is not None else "invalid_item"
            text = str(exc) if isinstance(exc, TinyAgentError) else f"{type(exc).__name__}: {exc}"
            message = f"item {item.id!r} could not run: {text}"
            latency = anyio.current_time() - started
            return error_line(self.format, item.id, kind, message), (kind, 0, 0, 0.0, latency)

    async def _execute(self, item: BatchItem, started: float) -> tuple[bytes, Outcome]:
        """An item's line, or ``b""`` when its budget refused it before it spent
        anything (it is left for a resumed run)."""
        attempts = 0
        transcript: list[Any] | None = None
        answer: Answer | None = None
        requests = 0  # sent, over all attempts
        usage: Usage | None = None  # an agent run's, whole
        try:
            while True:
                attempts += 1
                if attempts == 2:
                    self.stats.retrying += 1
                if self.agent is not None:
                    reply, transcript, answer = await self._agent(item)
                    replies = [m for m in transcript if isinstance(m, AssistantMessage)]
                    sent = [m for m in replies if not _refused(m)]
                    requests += len(sent)
                    usage = sum((m.usage for m in sent), usage or Usage())
                else:
                    reply = await self._call(item)
                    requests += not _refused(reply)
                if _refused(reply) and requests == 0:
                    latency = anyio.current_time() - started
                    return b"", ("budget", 0, 0, 0.0, latency)
                if reply.stop_reason is not StopReason.ERROR:
                    break
                delay = retry_delay(reply.failure, attempts - 1, self.max_attempts - 1)
                if delay is None:
                    break
                # A rate limit pauses every worker through the gate; other failures
                # back off here, in this item's worker only.
                await anyio.sleep(0 if self.gate.paused_for > 0 else delay)
        finally:
            if attempts >= 2:
                self.stats.retrying -= 1
        took = anyio.current_time() - started
        outcome = _outcome(reply, took, usage)
        if answer is not None and answer[1] is not None and outcome[0] is None:
            outcome = ("output_invalid", *outcome[1:])
        return result_line(
            self.format,
            item,
            reply,
            attempts=attempts,
            duration=took,
            transcript=transcript,
            answer=answer,
            usage=usage,
            requests=requests,
        ), outcome

    async def _call(self, item: BatchItem) -> AssistantMessage:
        """The item's one model call: ``complete()``, with the options validated once
        per batch unless the item has its own."""
        options: StreamOptions
        if item.options:
            # A chat-completions body's fields, translated for this wire format.
            options = stream_options({**self.options, **for_api(item.options, self.model.api)})
        elif self._options is not None:
            options = self._options
        else:
            options = self._options = stream_options(self.options)
        return await complete_with(self.model, item.context, options)

    async def _agent(self, item: BatchItem) -> tuple[AssistantMessage, list[Any], Answer | None]:
        """Run the item on a fresh agent: its last reply, the messages it added, and its
        structured answer (or why there is none) when the agent has an output type."""
        agent = self.agent() if self.agent is not None else None
        if agent is None or not hasattr(agent, "prompt"):
            raise TinyAgentError("the --agent factory must return a tinyagent.Agent")
        if agent.model is None:
            agent.set_model(self.model)
        agent.set_stream_options(**self.options, **item.options)
        if item.context.system_prompt:
            agent.set_system_prompt(item.context.system_prompt)
        prompts = list(item.context.messages)
        answer: Answer | None = None
        if agent.output_type is not None:
            start = len(agent.messages)
            try:
                value = await agent.prompt_output(prompts)
                answer = (unstructure(value), None)
            except OutputValidationError as exc:
                answer = (None, str(exc))
            except OutputError:
                answer = None  # the run failed: its last reply says how
            new = list(agent.messages[start:])
        else:
            new = await agent.prompt(prompts)
        replies = [m for m in new if isinstance(m, AssistantMessage)]
        if not replies:  # pragma: no cover - a run always adds a reply
            raise TinyAgentError("the agent added no reply")
        return replies[-1], new, answer

    def count(self, outcome: Outcome) -> None:
        s = self.stats
        error, tokens_in, tokens_out, cost, latency = outcome
        s.input_tokens += tokens_in
        s.output_tokens += tokens_out
        if cost is not None:
            s.cost += cost
            s.priced += 1
        if error is not None:
            s.failed += 1
            s.errors[error] += 1
        else:
            s.done += 1
            s.latencies.append(latency)


Answer = tuple[Any, str | None]
"""A structured answer as JSON data, or None and why the answers did not validate."""

Outcome = tuple[str | None, int, int, float | None, float]
"""(error kind or None, tokens in, tokens out, cost or None when unpriced, seconds): plain data, so that it
crosses to the driver from a Ray actor."""


def _refused(reply: AssistantMessage) -> bool:
    """Not sent: its budget refused it."""
    return reply.failure is not None and reply.failure.kind is FailureKind.BUDGET


def _outcome(reply: AssistantMessage, latency: float, usage: Usage | None = None) -> Outcome:
    u = usage if usage is not None else reply.usage
    error = None
    if reply.stop_reason in (StopReason.ERROR, StopReason.ABORTED):
        error = reply.failure.kind.value if reply.failure else "unknown"
    cost = u.cost.total if u.cost is not None else None
    return error, u.input + u.cache_read + u.cache_write, u.output, cost, latency
