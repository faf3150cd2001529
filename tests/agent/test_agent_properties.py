"""Property: whatever the script (text, tool calls, failures, aborts, cancellations at
random points), the transcript stays valid and agent_end comes once, last."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent import (
    Agent,
    AgentEndEvent,
    Tool,
    ToolExecutionStartEvent,
)
from tinyagent.testing import (
    LocalServer,
    RecordedRequest,
    Reply,
    ToolCallSpec,
    text_reply,
    tool_call_reply,
)

from ..agent_helpers import settled_task_count
from .test_agent import assert_valid_transcript

pytestmark = pytest.mark.anyio

BEHAVIOURS = ["ok", "fail", "slow", "bad_args", "unknown", "block_cancel", "block_abort"]


async def _tool(call_id: str, args: dict[str, Any], update: Any) -> str:
    kind = args["kind"]
    if kind == "fail":
        raise ValueError("tool failed on purpose")
    if kind == "slow":
        await anyio.sleep(0.002)
    if kind.startswith("block"):
        await anyio.sleep_forever()
    await update(kind)
    return f"did {kind}"


TOOL = Tool(
    "work", "Does work.", {"type": "object", "properties": {"kind": {"type": "string"}}}, _tool
)

script_st = st.lists(st.lists(st.sampled_from(BEHAVIOURS), max_size=5), min_size=1, max_size=4)


@settings(max_examples=25, deadline=None)
@given(script=script_st, abort_after=st.none() | st.integers(0, 80), follow_up=st.booleans())
async def test_random_scripts_keep_the_transcript_valid(
    script: list[list[str]], abort_after: int | None, follow_up: bool
) -> None:
    def handler(req: RecordedRequest) -> Reply:
        turn = sum(1 for m in req.json["messages"] if m["role"] == "assistant")
        if turn >= len(script) or not script[turn]:
            return text_reply(f"final answer {turn}", chunk_size=3)
        calls = []
        for j, kind in enumerate(script[turn]):
            cid = f"t{turn}c{j}"
            if kind == "bad_args":
                calls.append(ToolCallSpec("work", '{"kind": ', cid))
            elif kind == "unknown":
                calls.append(ToolCallSpec("nope", {}, cid))
            else:
                calls.append(ToolCallSpec("work", {"kind": kind}, cid))
        return tool_call_reply(calls, text="thinking aloud", chunk_size=5)

    async with LocalServer(handler=handler) as server:
        before = await settled_task_count()
        agent = Agent(server.model(), tools=[TOOL])
        events: list[Any] = []

        def watch(e: Any) -> None:
            events.append(e)
            if abort_after is not None and len(events) == abort_after:
                agent.abort("random abort")
            if (
                isinstance(e, ToolExecutionStartEvent)
                and e.call.arguments.get("kind") == "block_cancel"
            ):
                agent.cancel_tool_call(e.call.id)  # False if the run was aborted first
            if (
                isinstance(e, ToolExecutionStartEvent)
                and e.call.arguments.get("kind") == "block_abort"
            ):
                agent.abort("blocked tool")

        agent.subscribe(watch)
        if follow_up:
            agent.follow_up("one more thing")
        with anyio.fail_after(30):
            await agent.prompt("start")
        assert await server.wait_responses_done()
        assert await settled_task_count() == before

    assert_valid_transcript(list(agent.state.messages))
    ends = [e for e in events if isinstance(e, AgentEndEvent)]
    assert len(ends) == 1 and events[-1] is ends[0]
    assert ends[0].stop_reason in {"stop", "aborted"}
    assert events[0].type == "agent_start"
    assert agent.state.is_streaming is False and agent.state.pending_tool_calls == frozenset()
