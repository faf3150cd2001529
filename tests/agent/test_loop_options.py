"""Options are checked where they are written (``Agent(...)``, ``Tool(...)``,
``stream(...)``), in our words: a bad value never silently means something else."""

from __future__ import annotations

import math
from typing import Any

import pytest

import tinyagent
from tinyagent import Agent, Context, Model, Tool, UserMessage

MODEL = Model("m", "http://127.0.0.1:9/v1")


async def _noop(call_id: str, args: dict[str, Any], update: Any) -> str:
    return ""


BAD_AGENT_OPTIONS = [
    ({"tool_timeout": 0}, "tool_timeout must be a positive number of seconds, or None"),
    ({"tool_timeout": -1}, "tool_timeout must be a positive number"),
    ({"tool_timeout": math.nan}, "tool_timeout must be a positive number"),
    ({"tool_timeout": "5"}, "got '5' (str)"),
    ({"deadline": math.nan}, "deadline must be a positive number of seconds"),
    ({"deadline": 0}, "deadline must be a positive number of seconds"),
    ({"max_turns": -1}, "max_turns must be a whole number >= 1, or None for no limit; got -1"),
    ({"max_turns": 0}, "max_turns must be a whole number >= 1"),
    ({"max_turns": True}, "got True (bool)"),
    ({"max_turns": 2.5}, "max_turns must be a whole number"),
    ({"max_concurrent_tools": -1}, "max_concurrent_tools must be a whole number >= 1"),
    ({"max_concurrent_tools": 0}, "max_concurrent_tools must be a whole number >= 1"),
    ({"event_buffer": -1}, "event_buffer must be a whole number >= 0"),
    ({"before_turn": 3}, "before_turn must be a function"),
    ({"should_stop_after_turn": "yes"}, "should_stop_after_turn must be a function"),
    ({"temperature": 0.5}, "pass model-call options in stream_options"),
    ({"stream_options": {"temprature": 1}}, "unknown stream option(s) 'temprature'"),
    ({"stream_options": {"read_timeout": 0}}, "read_timeout must be a positive number"),
    ({"stream_options": {"max_retries": -1}}, "max_retries must be a whole number >= 0"),
    ({"stream_options": {"max_tokens": 0}}, "max_tokens must be a whole number >= 1"),
    ({"stream_options": {"temperature": math.inf}}, "temperature must be a finite number"),
    ({"stream_options": {"transport": "htpx"}}, "unknown transport 'htpx'"),
    ({"stream_options": ["transport"]}, "stream_options must be a mapping"),
]


@pytest.mark.parametrize(("options", "words"), BAD_AGENT_OPTIONS)
def test_bad_agent_options_fail_when_the_agent_is_built(
    options: dict[str, Any], words: str
) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        Agent(MODEL, **options)
    assert words in str(info.value)


def test_good_options_are_accepted() -> None:
    Agent(
        MODEL,
        tool_timeout=None,
        deadline=math.inf,
        max_turns=1,
        max_concurrent_tools=1,
        event_buffer=0,
        before_turn=lambda turn, model: None,
        stream_options={"transport": "httpx", "max_retries": 0, "temperature": 0},
    )


@pytest.mark.parametrize("timeout", [0, -2, math.nan, "1"])
def test_bad_tool_timeouts_fail_when_the_tool_is_made(timeout: Any) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        Tool("t", "t", {"type": "object"}, _noop, timeout=timeout)
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):

        @tinyagent.tool(timeout=timeout)
        def t() -> str:
            return ""


def test_bad_stream_options_fail_before_any_io() -> None:
    ctx = Context("", [UserMessage("hi")])
    with pytest.raises(ValueError, match="connect_timeout must be a positive number"):
        tinyagent.stream(MODEL, ctx, connect_timeout=-1)
    with pytest.raises(TypeError, match="unknown stream option"):
        tinyagent.stream(MODEL, ctx, max_token=5)


@pytest.mark.anyio
async def test_no_tool_timeout_means_none(transport: str) -> None:
    # None is the one way to say "no timeout"; a tool that takes a while finishes.
    import anyio

    from tinyagent.testing import LocalServer, ToolCallSpec, text_reply, tool_call_reply

    async def slowish(call_id: str, args: dict[str, Any], update: Any) -> str:
        await anyio.sleep(0.05)
        return "finished"

    tool = Tool("slowish", "s", {"type": "object"}, slowish)
    replies = [tool_call_reply([ToolCallSpec("slowish", {})]), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(
            server.model(), tools=[tool], tool_timeout=None, stream_options={"transport": transport}
        )
        new = await agent.prompt("go")
        (result,) = [m for m in new if m.role == "toolResult"]
        assert result.text == "finished" and not result.is_error
