"""Agents that orchestrate agents: a sub-agent as a tool, under the parent's run."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tinyagent import Agent, AgentEndEvent, ToolResultMessage
from tinyagent.testing import (
    LocalServer,
    RecordedRequest,
    Reply,
    ToolCallSpec,
    error_reply,
    text_reply,
    tool_call_reply,
)

from ..agent_helpers import add_tool, blocker, settled_task_count

pytestmark = pytest.mark.anyio


def script(req: RecordedRequest) -> Reply:
    msgs = req.json["messages"]
    system = msgs[0]["content"]
    tools_done = sum(1 for m in msgs if m["role"] == "tool")
    if system == "worker":
        if tools_done == 0:
            return tool_call_reply([ToolCallSpec("add", {"a": 40, "b": 2}, "w1")])
        return text_reply(f"The sum is {msgs[-1]['content']}.")
    if system == "broken worker":
        return error_reply(400, "worker model refused")
    if tools_done == 0:
        task = "add 40 and 2" if "sum" in msgs[1]["content"] else "anything"
        return tool_call_reply(
            [
                ToolCallSpec("helper", {"task": task}, "o1"),
                ToolCallSpec("helper", {"task": task}, "o2"),
            ]
        )
    return text_reply("Done: " + msgs[-1]["content"])


async def test_sub_agents_run_as_parallel_tools_with_their_own_transcripts() -> None:
    async with LocalServer(handler=script) as server:
        worker = Agent(server.model(), "worker", [add_tool])
        boss = Agent(server.model(), "boss", [worker.as_tool("helper", "Does sums.")])
        updates: list[Any] = []
        boss.subscribe(
            lambda e: updates.append(e.partial) if e.type == "tool_execution_update" else None
        )
        text = await boss.prompt_text("What is the sum?")
    assert text == "Done: The sum is 42."
    results = [m for m in boss.state.messages if isinstance(m, ToolResultMessage)]
    assert [r.text for r in results] == ["The sum is 42.", "The sum is 42."]
    assert worker.state.messages == ()  # each call ran on a fresh clone
    assert updates == [{"agent": "helper", "tool": "add", "arguments": {"a": 40, "b": 2}}] * 2


async def test_a_failing_sub_agent_is_an_error_result() -> None:
    async with LocalServer(handler=script) as server:
        worker = Agent(server.model(), "broken worker", stream_options={"max_retries": 0})
        boss = Agent(server.model(), "boss", [worker.as_tool("helper", "Helps.")])
        await boss.prompt("Do anything")
    results = [m for m in boss.state.messages if isinstance(m, ToolResultMessage)]
    assert all(r.is_error and "The helper agent failed: HTTP 400" in r.text for r in results)


async def test_aborting_the_orchestrator_aborts_its_sub_agents() -> None:
    started = anyio.Event()

    def handler(req: RecordedRequest) -> Reply:
        if req.json["messages"][0]["content"] == "worker":
            return tool_call_reply([ToolCallSpec("block", {}, "b1")])
        return tool_call_reply([ToolCallSpec("helper", {"task": "wait"}, "o1")])

    async with LocalServer(handler=handler) as server:
        before = await settled_task_count()
        worker = Agent(server.model(), "worker", [blocker("block", started)])
        boss = Agent(server.model(), "boss", [worker.as_tool("helper", "Waits.")])
        ends: list[Any] = []
        boss.subscribe(lambda e: ends.append(e) if isinstance(e, AgentEndEvent) else None)
        async with anyio.create_task_group() as tg:
            tg.start_soon(boss.prompt, "go")
            await started.wait()
            boss.abort("stop everything")
        assert await server.wait_responses_done()
        assert await settled_task_count() == before
    (r,) = [m for m in boss.state.messages if isinstance(m, ToolResultMessage)]
    assert r.is_error and "stop everything" in r.text
    assert [e.stop_reason for e in ends] == ["aborted"]
