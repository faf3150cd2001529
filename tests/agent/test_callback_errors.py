"""One rule for your code that raises during a run (a listener or a hook), whichever
event or hook it is, on every transport and both backends: the run is closed out as an
abort is, ``agent_end`` is delivered with ``stop_reason="error"``, and then a single
``CallbackError`` (never an exception group) is raised, with what your code raised as
its cause and the same words in ``last_error``."""

from __future__ import annotations

from typing import Any

import pytest

from tinyagent import (
    Agent,
    AgentEndEvent,
    AgentEvent,
    CallbackError,
    RunEnd,
    ToolResult,
    ToolResultMessage,
    TurnStartEvent,
)
from tinyagent.testing import LocalServer, ToolCallSpec, text_reply, tool_call_reply

from ..agent_helpers import add_tool
from .test_agent import assert_valid_transcript

pytestmark = pytest.mark.anyio

EVENT_KINDS = [
    "agent_start",
    "message_start",
    "message_end",
    "turn_start",
    "message_update",
    "tool_execution_start",
    "tool_execution_update",
    "tool_execution_end",
    "turn_end",
    "agent_end",
]


class Boom(Exception):
    pass


def replies() -> list[Any]:
    # One tool turn, a text reply, and one more for the prompt that checks the agent
    # still works afterwards.
    return [
        tool_call_reply([ToolCallSpec("add", {"a": 1, "b": 2}, id="c1")]),
        text_reply("three"),
        text_reply("still here"),
    ]


def raising_on(kind: str) -> Any:
    fired = []

    def listener(event: AgentEvent) -> None:
        if event.type == kind and not fired:
            fired.append(event)
            raise Boom(f"no {kind} for me")

    return listener


def check_end(agent: Agent, heard: list[AgentEvent], kind: str, err: CallbackError) -> None:
    assert err.callback == "listener" and err.event == kind
    assert isinstance(err.__cause__, Boom)
    assert str(err) == f"a listener raised on {kind}: Boom: no {kind} for me"
    ends = [e for e in heard if isinstance(e, AgentEndEvent)]
    assert len(ends) == 1 and heard[-1] is ends[0], "agent_end is heard once, last"
    if kind != "agent_end":  # the run was still going: it ends as an error
        assert ends[0].stop_reason is RunEnd.ERROR
        assert ends[0].error_message == str(err)
        assert agent.state.last_error == str(err)
        failed_at = next(i for i, e in enumerate(heard) if e.type == kind)
        assert not any(isinstance(e, TurnStartEvent) for e in heard[failed_at + 1 :]), (
            "no turn starts after the failure"
        )
    assert_valid_transcript(list(agent.messages))


@pytest.mark.parametrize("kind", EVENT_KINDS)
async def test_a_raising_listener_under_prompt(kind: str, transport: str) -> None:
    async with LocalServer(replies()) as server:
        agent = Agent(server.model(), tools=[add_tool], stream_options={"transport": transport})
        heard: list[AgentEvent] = []
        agent.subscribe(raising_on(kind))
        agent.subscribe(heard.append)
        with pytest.raises(CallbackError) as info:
            await agent.prompt("add 1 and 2")
        check_end(agent, heard, kind, info.value)
        # The transcript can be sent again: the agent is not poisoned.
        assert await agent.prompt_text("again") in ("three", "still here")


@pytest.mark.parametrize("kind", EVENT_KINDS)
async def test_a_raising_listener_under_stream(kind: str, transport: str) -> None:
    async with LocalServer(replies()) as server:
        agent = Agent(server.model(), tools=[add_tool], stream_options={"transport": transport})
        heard: list[AgentEvent] = []
        consumed: list[AgentEvent] = []
        agent.subscribe(raising_on(kind))
        agent.subscribe(heard.append)

        async def consume() -> None:
            async with agent.stream("add 1 and 2") as events:
                async for event in events:
                    consumed.append(event)

        with pytest.raises(CallbackError) as info:
            await consume()
        check_end(agent, heard, kind, info.value)
        assert consumed == heard, "the consumer receives every event, agent_end included"


HOOKS = [
    "before_turn",
    "before_tool_call",
    "after_tool_call",
    "should_stop_after_turn",
    "transform_context",
    "convert_to_llm",
    "get_api_key",
]


def raising_hook(name: str) -> Any:
    async def hook(*args: Any) -> None:
        raise Boom(f"{name} says no")

    return hook


@pytest.mark.parametrize("hook", HOOKS)
async def test_a_raising_hook(hook: str, transport: str) -> None:
    async with LocalServer(replies()) as server:
        agent = Agent(
            server.model(),
            tools=[add_tool],
            stream_options={"transport": transport},
            **{hook: raising_hook(hook)},
        )
        heard: list[AgentEvent] = []
        agent.subscribe(heard.append)
        with pytest.raises(CallbackError) as info:
            await agent.prompt("add 1 and 2")
        err = info.value
        assert err.callback == hook and err.event is None
        assert isinstance(err.__cause__, Boom)
        assert str(err) == f"the {hook} hook raised: Boom: {hook} says no"
        end = heard[-1]
        assert isinstance(end, AgentEndEvent) and end.stop_reason is RunEnd.ERROR
        assert agent.state.last_error == str(err)
        assert_valid_transcript(list(agent.messages))
        if hook in ("before_tool_call", "after_tool_call"):
            (result,) = [m for m in agent.messages if isinstance(m, ToolResultMessage)]
            assert result.is_error and str(err) in result.text  # answered, as aborted


async def test_a_raising_listener_cancels_sibling_tools(transport: str) -> None:
    # The failure ends the run at once: a slow sibling tool is not waited for.
    import anyio

    from tinyagent import Tool

    async def slow(call_id: str, args: dict[str, Any], update: Any) -> ToolResult:
        await anyio.sleep(30)
        return ToolResult("late")

    calls = [ToolCallSpec("slow", {}, id="s1"), ToolCallSpec("add", {"a": 1, "b": 1}, id="a1")]
    async with LocalServer([tool_call_reply(calls)]) as server:
        agent = Agent(
            server.model(),
            tools=[add_tool, Tool("slow", "slow", {"type": "object"}, slow)],
            stream_options={"transport": transport},
        )
        agent.subscribe(raising_on("tool_execution_end"))
        with anyio.fail_after(10), pytest.raises(CallbackError):
            await agent.prompt("go")
        results = {m.tool_call_id: m for m in agent.messages if isinstance(m, ToolResultMessage)}
        assert results["a1"].text == "2" and not results["a1"].is_error
        assert results["s1"].is_error and "a listener raised" in results["s1"].text
