"""Every start event has its end, properly nested, on every path: random scripts of
replies (text, thinking, tool calls; tools fast, slow, raising), aborted at a random
event, on trio and asyncio over each transport."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tinyagent import Agent, AgentEvent, MessageUpdateEvent, Tool, ToolError
from tinyagent.testing import (
    LocalServer,
    Reply,
    ToolCallSpec,
    stream_error_reply,
    text_reply,
    tool_call_reply,
)

PAIRS = {
    "agent_start": "agent_end",
    "turn_start": "turn_end",
    "message_start": "message_end",
    "text_start": "text_end",
    "thinking_start": "thinking_end",
}
ENDS = {v: k for k, v in PAIRS.items()}


def check_lifecycle(events: list[AgentEvent]) -> None:
    """Starts and ends pair up and nest (a stack); tool-call blocks pair by index inside
    their message (a format may interleave two calls' fragments, so they may overlap);
    tool executions pair by call id inside a turn; agent_end comes last, once."""
    stack: list[tuple[str, object]] = []
    running: set[str] = set()
    calls: set[object] = set()
    for e in events:
        kind = e.type
        key: object = None
        if isinstance(e, MessageUpdateEvent):
            kind = e.event.type
            key = getattr(e.event, "index", None)
            if kind in ("done", "error", "start"):
                assert stack and stack[-1][0] == "message_start", kind
                continue
            if kind == "toolcall_start":
                assert stack and stack[-1][0] == "message_start" and key not in calls
                calls.add(key)
                continue
            if kind == "toolcall_delta":
                assert key in calls
                continue
            if kind == "toolcall_end":
                calls.remove(key)
                continue
            if kind.endswith("_delta"):  # inside its own block
                assert stack and stack[-1] == (kind.replace("_delta", "_start"), key), kind
                continue
        if kind in PAIRS:
            stack.append((kind, key))
        elif kind in ENDS:
            assert stack, f"{kind} without a start"
            if kind == "message_end":
                assert not calls, "every tool-call block ends inside its message"
            start, start_key = stack.pop()
            assert start == ENDS[kind] and start_key == key, (kind, start, stack)
        elif kind == "tool_execution_start":
            assert stack and stack[-1][0] == "turn_start", "a tool runs inside a turn"
            running.add(e.call.id)  # type: ignore[union-attr]
        elif kind == "tool_execution_end":
            running.remove(e.call.id)  # type: ignore[union-attr]
    assert stack == [] and running == set()
    assert events[0].type == "agent_start" and events[-1].type == "agent_end"
    assert sum(e.type == "agent_end" for e in events) == 1


async def _ok(call_id: str, args: dict[str, Any], update: Any) -> str:
    await update("working")
    return "ok"


async def _slow(call_id: str, args: dict[str, Any], update: Any) -> str:
    await anyio.sleep(0.2)
    return "slow ok"


async def _bad(call_id: str, args: dict[str, Any], update: Any) -> str:
    raise ToolError("bad")


TOOLS = [
    Tool("ok", "Fast.", {"type": "object"}, _ok),
    Tool("slow", "Slow.", {"type": "object"}, _slow),
    Tool("bad", "Raises.", {"type": "object"}, _bad),
]

_reply = st.one_of(
    st.builds(
        lambda text, thinking: text_reply(text, reasoning=thinking, chunk_size=3),
        st.sampled_from(["Hello there.", "A much longer answer, streamed in pieces."]),
        st.sampled_from(["", "Let me think."]),
    ),
    st.builds(
        lambda names, text: tool_call_reply(
            [ToolCallSpec(n, {"x": i}) for i, n in enumerate(names)], text=text, chunk_size=4
        ),
        st.lists(st.sampled_from(["ok", "slow", "bad"]), min_size=1, max_size=3),
        st.sampled_from(["", "Calling. "]),
    ),
    st.builds(  # the provider fails mid-reply: the run ends with an error
        lambda text: stream_error_reply("upstream broke", text=text),
        st.sampled_from(["", "Half an ans"]),
    ),
)


async def _run(
    transport: str, replies: list[Reply], abort_at: int | None, deadline: float | None
) -> list[AgentEvent]:
    heard: list[AgentEvent] = []
    # A final text reply, so that a script of tool calls ends.
    async with LocalServer([*replies, text_reply("Done.")]) as server:
        agent = Agent(
            server.model(), tools=TOOLS, max_turns=len(replies) + 1, deadline=deadline,
            stream_options={"transport": transport},
        )  # fmt: skip

        def listener(event: AgentEvent) -> None:
            heard.append(event)
            if abort_at is not None and len(heard) == abort_at:
                agent.abort("random abort")

        agent.subscribe(listener)
        with anyio.fail_after(20):
            await agent.prompt("go")
    return heard


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    replies=st.lists(_reply, min_size=1, max_size=3),
    abort_at=st.none() | st.integers(1, 60),
    deadline=st.none() | st.just(0.15),  # with a slow tool, the deadline passes mid-run
)
# An abort from the last text delta, when the same read already ended the reply (httpx
# read the error with the delta): the reply's unread text_end and error still come.
@example(
    replies=[stream_error_reply("upstream broke", text="Half an ans")], abort_at=9, deadline=None
)
def test_starts_and_ends_pair_up_and_nest(
    backend: str,
    transport: str,
    replies: list[Reply],
    abort_at: int | None,
    deadline: float | None,
) -> None:
    events = anyio.run(_run, transport, replies, abort_at, deadline, backend=backend)
    check_lifecycle(events)
