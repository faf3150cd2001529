"""``agent.stream_output``: the answer as it is written, then the typed answer."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest

from tinyagent import Agent, OutputValidationError
from tinyagent.output import FINAL_ANSWER_TOOL
from tinyagent.testing import LocalServer, ToolCallSpec, text_reply, tool_call_reply

from .test_prompt_output import ADA, Mood, Person

pytestmark = pytest.mark.anyio


async def collect(agent: Agent, output_type: Any = Person) -> tuple[list[Any], Any]:
    seen: list[Any] = []
    async with agent.stream_output("?", output_type) as answer:
        async for partial in answer:
            seen.append(copy.deepcopy(partial))
    return seen, answer.output


async def test_native_answer_streams_as_it_grows(transport: str) -> None:
    answer = {**ADA, "name": "Augusta Ada King"}
    reply = text_reply(json.dumps(answer), chunk_size=4).but(chunk_delay=0.005)
    async with LocalServer([reply]) as server:
        agent = Agent(server.model(), stream_options={"transport": transport})
        seen, person = await collect(agent)
    assert person == Person("Augusta Ada King", 36, Mood.HAPPY, ["math"])
    names = [p["name"] for p in seen if "name" in p]
    # a string shows as it streams: proper prefixes of the name come first
    assert any(n != answer["name"] and answer["name"].startswith(n) for n in names)
    assert seen[-1] == answer
    # numbers show once complete: never a truncated age
    assert all(p.get("age") in (None, 36) for p in seen)
    # every partial is a prefix-consistent view: keys only ever added
    keys = [list(p) for p in seen]
    assert all(a == b[: len(a)] for a, b in itertools.pairwise(keys))


async def test_tool_mode_streams_the_final_answer_arguments(transport: str) -> None:
    replies = [tool_call_reply([ToolCallSpec(FINAL_ANSWER_TOOL, ADA)], chunk_size=5)]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), output_mode="tool", stream_options={"transport": transport})
        seen, person = await collect(agent)
    assert person.name == "Ada" and len(seen) > 5 and seen[-1] == ADA


async def test_a_correction_starts_a_new_partial_answer() -> None:
    replies = [
        text_reply(json.dumps({"name": "Bob"}), chunk_size=4),
        text_reply(json.dumps(ADA), chunk_size=4),
    ]
    async with LocalServer(replies) as server:
        seen, person = await collect(Agent(server.model()))
    assert person.name == "Ada"
    assert {"name": "Bob"} in seen and seen[-1] == ADA
    assert len(server.requests) == 2


async def test_wrapped_types_stream_unwrapped() -> None:
    async with LocalServer([text_reply('{"result": [1, 2, 3]}', chunk_size=3)]) as server:
        seen, value = await collect(Agent(server.model()), list[int])
    assert value == [1, 2, 3] and seen[-1] == [1, 2, 3]
    assert all(a == b[: len(a)] for a, b in itertools.pairwise(seen))


async def test_giving_up_is_raised_by_the_loop() -> None:
    async with LocalServer([text_reply("no"), text_reply("still no")]) as server:
        agent = Agent(server.model())
        with pytest.raises(OutputValidationError) as info:
            await collect(agent)
    assert info.value.raw == "still no"


async def test_leaving_the_block_early_cancels_the_run() -> None:
    slow = text_reply(json.dumps(ADA), chunk_size=2).but(chunk_delay=0.05)
    async with LocalServer([slow]) as server:
        agent = Agent(server.model())
        async with agent.stream_output("?", Person) as answer:
            async for _partial in answer:
                break
        with pytest.raises(Exception, match="not complete"):
            _ = answer.output
        assert agent.state.is_streaming is False
        assert await server.wait_connections_closed()  # the server has seen the hang-up
    assert server.requests[0].client_disconnected
