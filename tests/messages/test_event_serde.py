"""Every event of a real run serialises to JSON and back, exactly (for logs and UIs)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tinyagent import Agent, AgentEvent, ErrorEvent, MessageUpdateEvent, serde
from tinyagent.testing import LocalServer, stream_error_reply, text_reply, tool_call_reply

from ..agent_helpers import add_tool

pytestmark = pytest.mark.anyio


async def test_every_event_of_a_run_round_trips_through_json() -> None:
    replies = [
        tool_call_reply([("add", {"a": 1, "b": 2}), ("nope", {})], text="Let me add."),
        text_reply("It is 3.", reasoning="Simple."),
    ]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[add_tool])
        events: list[Any] = []
        agent.subscribe(events.append)
        await agent.prompt("1+2?")
    kinds = {e.type for e in events}
    assert {"agent_start", "turn_start", "message_start", "message_update", "message_end",
            "tool_execution_start", "tool_execution_update", "tool_execution_end",
            "turn_end", "agent_end"} <= kinds  # fmt: skip
    for e in events:
        text = json.dumps(serde.unstructure(e))
        back = serde.structure(json.loads(text), AgentEvent)
        assert back == e
        assert type(back) is type(e)


async def test_error_events_keep_their_words_not_the_exception() -> None:
    async with LocalServer([stream_error_reply("upstream failed", text="part")]) as server:
        agent = Agent(server.model())
        events: list[Any] = []
        agent.subscribe(events.append)
        await agent.prompt("hi")
    err = next(
        e.event
        for e in events
        if isinstance(e, MessageUpdateEvent) and isinstance(e.event, ErrorEvent)
    )
    data = serde.unstructure(err)
    assert "error" not in data and data["type"] == "error"
    assert data["message"]["error_message"] == "upstream failed"
    assert serde.structure(data, type(err)) == err
