"""How a run is made and how it records its end: whole from the start (no public
constructor), its end decided once — the first reason wins — and read from that record."""

from __future__ import annotations

from typing import Any

import pytest

from tinyagent import (
    Agent,
    AgentEvent,
    AgentRun,
    CallbackError,
    RunEnd,
    UserMessage,
    agent_loop,
)
from tinyagent.testing import LocalServer, text_reply

pytestmark = pytest.mark.anyio


def test_a_run_has_no_public_constructor() -> None:
    with pytest.raises(TypeError, match="no public constructor"):
        AgentRun()  # type: ignore[call-arg]


async def test_the_first_reason_wins_an_abort_then_a_raising_listener() -> None:
    async with LocalServer([text_reply("Hello there.", chunk_size=2)]) as server:
        agent = Agent(server.model())
        seen: list[AgentEvent] = []

        def listener(event: AgentEvent) -> None:
            seen.append(event)
            if event.type == "message_update":
                agent.abort("first: the user left")
                raise RuntimeError("second: a listener broke")

        agent.subscribe(listener)
        with pytest.raises(CallbackError):  # the listener's error is still raised
            await agent.prompt("hi")
    end = seen[-1]
    assert end.type == "agent_end"
    assert end.stop_reason is RunEnd.ABORTED  # type: ignore[union-attr]
    assert end.error_message == "first: the user left"  # type: ignore[union-attr]


async def test_a_run_made_by_prompt_has_no_event_channel_to_iterate() -> None:
    async with LocalServer([text_reply("ok")]) as server:
        agent = Agent(server.model())
        runs: list[Any] = []
        agent.subscribe(lambda e: runs.append(agent._run) if e.type == "agent_start" else None)
        await agent.prompt("hi")
    with pytest.raises(TypeError, match="no event channel"):
        runs[0].__aiter__()


async def test_a_limit_reached_is_the_recorded_end() -> None:
    more = [UserMessage("and another thing")]
    async with LocalServer([text_reply("a"), text_reply("b")]) as server:
        async with agent_loop(
            server.model(), prompts=[UserMessage("hi")], follow_up=lambda: more, max_turns=1
        ) as run:
            events = [e async for e in run]
    assert events[-1].type == "agent_end"
    assert run.result is not None and run.result.stop_reason is RunEnd.MAX_TURNS
    assert run.result.error_message is None


@pytest.mark.parametrize(
    ("prompt", "error", "words"),
    [
        (None, TypeError, "a prompt is text, .* got NoneType"),
        (5, TypeError, "got int: 5"),
        ({"role": "user"}, TypeError, "got dict"),
        ([], ValueError, "an empty prompt"),
        (["fine", 3], TypeError, "parts are text .* got int"),
    ],
)
async def test_a_prompt_that_is_no_prompt_is_refused_before_any_request(
    prompt: Any, error: type[Exception], words: str
) -> None:
    async with LocalServer([text_reply("never")]) as server:
        agent = Agent(server.model())
        with pytest.raises(error, match=words):
            await agent.prompt(prompt)
        assert server.requests == [] and agent.messages == ()


async def test_text_parts_may_be_plain_strings() -> None:
    async with LocalServer([text_reply("ok")]) as server:
        agent = Agent(server.model())
        await agent.prompt(["look at ", "this"])
    assert agent.messages[0].text == "look at this"
