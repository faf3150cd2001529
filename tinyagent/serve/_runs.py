"""One served run: a fresh agent, the server's bounds on it, its events handed to the
route that writes them, and what the run came to.

Every protocol route writes the same run; only the words differ. The run is bounded by
the server's deadline (the agent's own, if shorter, stands), and a client that leaves
cancels it: the agent's cancellation rules keep the transcript valid.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio
import attrs
from starlette.requests import Request

from .._util.groups import innermost
from ..agent import Agent
from ..messages import (
    AgentEndEvent,
    AgentEvent,
    AssistantMessage,
    Failure,
    Message,
    RunEnd,
    StopReason,
    Usage,
)

__all__ = ["RunOutcome", "bound", "run_agent", "run_whole"]


@attrs.frozen
class RunOutcome:
    """How a served run ended: its new messages, usage, why it ended, and the error
    (scrubbed of the server's secrets) when it failed."""

    messages: tuple[Message, ...]
    usage: Usage
    end: RunEnd
    error: str | None
    failure: Failure | None

    @property
    def replies(self) -> list[AssistantMessage]:
        return [m for m in self.messages if isinstance(m, AssistantMessage)]

    @property
    def text(self) -> str:
        return "".join(m.text for m in self.replies)

    @property
    def thinking(self) -> str:
        return "".join(m.thinking for m in self.replies)

    @property
    def failed(self) -> bool:
        return self.end in (RunEnd.ERROR, RunEnd.DEADLINE, RunEnd.BUDGET)

    @property
    def truncated(self) -> bool:
        last = self.replies[-1] if self.replies else None
        return self.end is RunEnd.MAX_TURNS or (
            last is not None and last.stop_reason is StopReason.LENGTH
        )


def bound(agent: Agent, deadline: float) -> None:
    """The server's deadline on the agent's runs (a shorter one of its own stands)."""
    own = agent.loop_options.get("deadline")
    if own is None or own > deadline:
        agent.set_loop_options(deadline=deadline)


async def run_agent(
    agent: Agent,
    prompts: Sequence[Message],
    on_event: Callable[[AgentEvent], Awaitable[None]],
    scrub: Callable[[str], str],
) -> RunOutcome:
    """Run ``agent`` on ``prompts``, handing each event to ``on_event``."""
    end: AgentEndEvent | None = None
    # no prompt: the run resumes from the transcript (a tool result the client gave)
    async with agent.stream(list(prompts) if prompts else None) as events:
        async for event in events:
            if isinstance(event, AgentEndEvent):
                end = event
            await on_event(event)
    assert end is not None
    failure = None
    for m in reversed(end.messages):
        if isinstance(m, AssistantMessage):
            failure = m.failure
            break
    error = scrub(end.error_message) if end.error_message else None
    return RunOutcome(end.messages, end.usage, end.stop_reason, error, failure)


async def run_whole(
    request: Request,
    agent: Agent,
    prompts: Sequence[Message],
    on_event: Callable[[AgentEvent], Awaitable[None]],
    scrub: Callable[[str], str],
) -> RunOutcome | None:
    """:func:`run_agent` for an answer sent whole (after the body was read), cancelled if
    the client hangs up meanwhile; None then. An error of the run is raised as itself."""
    box: list[RunOutcome] = []
    try:
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                while True:
                    message = await request.receive()
                    if message["type"] == "http.disconnect":
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(watch)
            box.append(await run_agent(agent, prompts, on_event, scrub))
            tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # the run's own error, not the group around it
        raise innermost(group) from None
    return box[0] if box else None
