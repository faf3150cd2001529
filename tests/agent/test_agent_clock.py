"""Agent timing behaviour on trio's MockClock: timeouts and deadlines, no real waiting."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from tinyagent import (
    AgentEndEvent,
    AssistantMessage,
    StopReason,
    ToolResultMessage,
    UserMessage,
    agent_loop,
)
from tinyagent.testing import LocalServer, text_reply, tool_call_reply

from ..agent_helpers import sleeper

pytestmark = pytest.mark.trio

# trio's MockClock drives the httpx path; the native transport waits in real time on tokio.
HTTPX = {"transport": "httpx"}


async def test_parallel_tools_take_the_slower_time_not_the_sum(
    autojump_clock: trio.testing.MockClock,
) -> None:
    tools = [sleeper("ten", 10), sleeper("twenty", 20)]
    async with LocalServer(
        [tool_call_reply([("twenty", {}), ("ten", {})]), text_reply("ok")]
    ) as server:
        start = trio.current_time()
        async with agent_loop(
            server.model(), [], prompts=[UserMessage("go")], stream_options=HTTPX, tools=tools
        ) as run:
            async for _ in run:
                pass
        elapsed = trio.current_time() - start
    assert 20 <= elapsed < 25
    results = [m for m in run.new_messages if isinstance(m, ToolResultMessage)]
    assert [r.text for r in results] == ["twenty done", "ten done"]


async def test_default_tool_timeout_applies(autojump_clock: trio.testing.MockClock) -> None:
    async with LocalServer([tool_call_reply([("slow", {})]), text_reply("ok")]) as server:
        async with agent_loop(
            server.model(),
            [],
            prompts=[UserMessage("go")],
            stream_options=HTTPX,
            tools=[sleeper("slow", 1000)],
            tool_timeout=180,
        ) as run:
            async for _ in run:
                pass
    (r,) = [m for m in run.new_messages if isinstance(m, ToolResultMessage)]
    assert r.is_error and "timed out after 180 s" in r.text


async def test_per_tool_timeout_overrides_the_agents(
    autojump_clock: trio.testing.MockClock,
) -> None:
    tools = [sleeper("short", 50, timeout=5), sleeper("long", 50)]
    async with LocalServer(
        [tool_call_reply([("short", {}), ("long", {})]), text_reply("ok")]
    ) as server:
        async with agent_loop(
            server.model(),
            [],
            prompts=[UserMessage("go")],
            stream_options=HTTPX,
            tools=tools,
            tool_timeout=100,
        ) as run:
            async for _ in run:
                pass
    short, long = [m for m in run.new_messages if isinstance(m, ToolResultMessage)]
    assert short.is_error and "5 s" in short.text
    assert not long.is_error


async def test_deadline_during_tools_ends_the_run_like_an_abort(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with LocalServer([tool_call_reply([("slow", {})]), text_reply("never")]) as server:
        start = trio.current_time()
        async with agent_loop(
            server.model(),
            [],
            prompts=[UserMessage("go")],
            stream_options=HTTPX,
            tools=[sleeper("slow", 100)],
            deadline=30,
        ) as run:
            events = [e async for e in run]
        assert 30 <= trio.current_time() - start < 31
        assert len(server.requests) == 1
    end = events[-1]
    assert isinstance(end, AgentEndEvent) and end.stop_reason == "deadline"
    assert "deadline of 30 s passed" in (end.error_message or "")
    (r,) = [m for m in run.new_messages if isinstance(m, ToolResultMessage)]
    assert r.is_error and "deadline" in r.text


async def test_deadline_during_model_stream_keeps_partial_as_aborted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reply = text_reply("abcdefghij" * 10, chunk_size=1, chunk_delay=1)
    async with LocalServer([reply]) as server:
        async with agent_loop(
            server.model(), [], prompts=[UserMessage("go")], stream_options=HTTPX, deadline=20.5
        ) as run:
            events = [e async for e in run]
        assert await server.wait_connections_closed()
    last = run.new_messages[-1]
    assert isinstance(last, AssistantMessage) and last.stop_reason is StopReason.ABORTED
    assert "deadline" in (last.error_message or "") and 15 <= len(last.text) <= 22
    assert [e.type for e in events].count("agent_end") == 1
