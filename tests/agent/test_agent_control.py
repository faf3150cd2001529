"""Control from careless places: abort() from sync code with no await after it,
subscribe()/unsubscribe() during a run, continue_() when it cannot run. The outcome is
the same on trio and asyncio, over every transport."""

from __future__ import annotations

from typing import Any

import pytest

from tinyagent import (
    Agent,
    AgentBusyError,
    AgentEvent,
    AssistantMessage,
    Model,
    RunEnd,
    StopReason,
    TextContent,
    TinyAgentError,
    UserMessage,
)
from tinyagent.testing import (
    LocalServer,
    ToolCallSpec,
    error_reply,
    text_reply,
    tool_call_reply,
)

from ..agent_helpers import add_tool
from .test_agent import assert_valid_transcript
from .test_callback_errors import EVENT_KINDS

pytestmark = pytest.mark.anyio


def two_turns() -> list[Any]:
    return [tool_call_reply([ToolCallSpec("add", {"a": 1, "b": 2}, id="c1")]), text_reply("3")]


# Events that may follow an abort: the close-out of what was under way (the partial
# reply, an "aborted" result for each tool call), and agent_end.
CLOSE_OUT = {
    "message_end",
    "tool_execution_start",
    "tool_execution_end",
    "message_start",
    "turn_end",
    "agent_end",
}


@pytest.mark.parametrize("kind", [k for k in EVENT_KINDS if k != "agent_end"])
async def test_abort_from_a_sync_listener_stops_at_once(kind: str, transport: str) -> None:
    async with LocalServer(two_turns()) as server:
        agent = Agent(server.model(), tools=[add_tool], stream_options={"transport": transport})
        heard: list[AgentEvent] = []

        def listener(event: AgentEvent) -> None:
            heard.append(event)
            if event.type == kind:
                agent.abort("stop now")  # sync: no await follows it here

        agent.subscribe(listener)
        await agent.prompt("add")
        at = next(i for i, e in enumerate(heard) if e.type == kind)
        after = [e.type for e in heard[at + 1 :]]
        # The rest of a read already parsed is delivered: its deltas are in the partial
        # reply that is kept, and a UI assembling deltas must agree with message_end.
        allowed = CLOSE_OUT | ({"message_update"} if kind == "message_update" else set())
        assert set(after) <= allowed, after
        assert "turn_start" not in after
        assert "tool_execution_update" not in after, "no tool starts running after it"
        # No new reply streams: an assistant message_start after the abort can only
        # close a turn that had started, with an empty aborted reply (every turn_start
        # has its turn_end, and a turn_end its reply).
        starts = [e for e in heard[at + 1 :] if e.type == "message_start" and e.message is None]
        if starts:
            assert kind == "turn_start"
            ends = [e for e in heard[at + 1 :] if e.type == "message_end"]
            assert ends[0].message.content == () and ends[0].message.stop_reason == "aborted"
        end = heard[-1]
        assert end.type == "agent_end" and end.stop_reason is RunEnd.ABORTED
        assert end.error_message == "stop now"
        assert_valid_transcript(list(agent.messages))
        replies = [m for m in agent.messages if isinstance(m, AssistantMessage)]
        assert all(m.text != "3" for m in replies), "the second turn never ran"
        assert len(server.requests) <= 1


async def test_subscribe_and_unsubscribe_during_a_run_act_at_once(transport: str) -> None:
    async with LocalServer(two_turns()) as server:
        agent = Agent(server.model(), tools=[add_tool], stream_options={"transport": transport})
        late: list[str] = []
        early: list[str] = []

        def hear_late(event: AgentEvent) -> None:
            late.append(event.type)

        def hear_early(event: AgentEvent) -> None:
            early.append(event.type)
            if event.type == "tool_execution_start":
                stop_early()
                agent.subscribe(hear_late)

        stop_early = agent.subscribe(hear_early)
        await agent.prompt("add")
        assert early[-1] == "tool_execution_start" and "turn_end" not in early
        assert late and late[0] == "tool_execution_update" and late[-1] == "agent_end"
        assert "tool_execution_start" not in late


async def test_continue_when_busy_keeps_the_queue_and_the_live_reply(transport: str) -> None:
    async with LocalServer([error_reply(400, "bad request"), text_reply("ok")]) as server:
        agent = Agent(server.model(), stream_options={"transport": transport})
        refused: list[BaseException] = []

        async def listener(event: AgentEvent) -> None:
            if event.type == "turn_end":
                agent.follow_up("later")
                try:
                    await agent.continue_()
                except AgentBusyError as exc:
                    refused.append(exc)

        agent.subscribe(listener)
        await agent.prompt("hi")
        assert len(refused) == 1
        last = agent.messages[-1]
        assert isinstance(last, AssistantMessage) and last.stop_reason is StopReason.ERROR
        assert [m.text for m in agent.queued] == ["later"], "the queued follow-up is kept"


async def test_continue_without_a_model_keeps_everything() -> None:
    failed = AssistantMessage((), StopReason.ERROR, error_message="boom")
    agent = Agent(messages=[UserMessage("hi"), failed])
    agent.follow_up("and then")
    with pytest.raises(TinyAgentError, match="no model"):
        await agent.continue_()
    assert agent.messages[-1] is failed
    assert [m.text for m in agent.queued] == ["and then"]


async def test_continue_with_nothing_to_do_changes_nothing() -> None:
    fine = AssistantMessage((TextContent("fine"),), StopReason.STOP)
    failed = AssistantMessage((), StopReason.ERROR, error_message="boom")
    model = Model("m", "http://127.0.0.1:9/v1")
    history = [UserMessage("hi"), fine, failed]
    agent = Agent(model, messages=history)
    with pytest.raises(TinyAgentError, match="nothing to continue"):
        await agent.continue_()
    assert agent.messages == tuple(history), "the failed reply is kept"
