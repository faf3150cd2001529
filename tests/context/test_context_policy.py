"""Context overflow: the local server refuses prompts past a size, as providers do, and
the policy trims what is sent (never the transcript) and the call is retried once."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tinyagent import (
    Agent,
    AssistantMessage,
    StopReason,
    TextContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    tool,
)
from tinyagent.context import DropOldest, Summarize, cut_points, estimate_tokens
from tinyagent.testing import (
    LocalServer,
    RecordedRequest,
    Reply,
    anthropic_text_reply,
    error_reply,
    text_reply,
    tool_call_reply,
)

pytestmark = pytest.mark.anyio

LIMIT = 800  # characters of message content the server accepts in one request


def sent(request: RecordedRequest) -> list[dict[str, Any]]:
    return request.json["messages"]


def size(messages: list[dict[str, Any]]) -> int:
    return sum(len(json.dumps(m.get("content"))) for m in messages)


def too_long() -> Reply:
    return error_reply(
        400,
        f"This model's maximum context length is {LIMIT} characters. Please reduce the length.",
        error_type="invalid_request_error",
    )


def limited(request: RecordedRequest) -> Reply:
    messages = sent(request)
    if messages[0] == {"role": "system", "content": Summarize.PROMPT}:
        return text_reply("they talked about numbers")
    if size(messages) > LIMIT:
        return too_long()
    return text_reply(f"reply to {len(messages)} messages")


def history(turns: int) -> list[Any]:
    out: list[Any] = []
    for i in range(turns):
        out.append(UserMessage(f"question {i} " + "x" * 200))
        out.append(AssistantMessage((TextContent(f"answer {i}"),), StopReason.STOP))
    return out


async def test_without_a_policy_the_overflow_is_the_runs_error() -> None:
    async with LocalServer(handler=limited) as server:
        agent = Agent(server.model(), messages=history(5))
        new = await agent.prompt("and now?")
    last = new[-1]
    assert isinstance(last, AssistantMessage) and last.stop_reason is StopReason.ERROR
    assert last.failure is not None and last.failure.kind == "context_overflow"


async def test_an_overflow_is_trimmed_and_retried_once(transport: str) -> None:
    async with LocalServer(handler=limited) as server:
        agent = Agent(
            server.model(),
            messages=history(5),
            context_policy=DropOldest(),
            stream_options={"transport": transport},
        )
        new = await agent.prompt("and now?")
    assert len(server.requests) == 2
    first, retry = sent(server.requests[0]), sent(server.requests[1])
    assert len(first) == 11 and size(retry) <= LIMIT
    assert retry[0]["content"].startswith("(Earlier messages")
    assert retry[-1]["content"] == "and now?"
    # the transcript is whole: the failed (empty) reply, then the answer
    assert len(agent.messages) == 10 + 3
    failed, answer = new[-2], new[-1]
    assert isinstance(failed, AssistantMessage) and failed.stop_reason is StopReason.ERROR
    assert isinstance(answer, AssistantMessage) and answer.text.startswith("reply to")


async def test_the_policy_acts_before_an_overflow_from_estimates() -> None:
    budget = 3 * estimate_tokens(UserMessage("question 0 " + "x" * 200))
    async with LocalServer(handler=limited) as server:
        agent = Agent(server.model(), messages=history(5), context_policy=DropOldest(budget))
        await agent.prompt("and now?")
        await agent.prompt("and then?")
    assert len(server.requests) == 2  # no overflow at all
    one, two = sent(server.requests[0]), sent(server.requests[1])
    assert size(one) <= LIMIT and one[0]["content"].startswith("(Earlier")
    # the second call starts where the first cut, or later: a stable prefix
    assert one[1] in two


async def test_a_context_window_sets_the_default_budget() -> None:
    policy = DropOldest()
    async with LocalServer(handler=limited) as server:
        model = server.model(context_window=200)
        assert policy.budget(model) == 150
        agent = Agent(model, messages=history(5), context_policy=policy)
        await agent.prompt("hi")
    assert len(server.requests) == 1 and size(sent(server.requests[0])) <= LIMIT


async def test_tool_calls_stay_with_their_results() -> None:
    @tool
    def look(n: int) -> str:
        """Look."""
        return "seen " + "y" * 300

    def handler(request: RecordedRequest) -> Reply:
        messages = sent(request)
        if size(messages) > 2 * LIMIT:
            return too_long()
        if messages[-1]["role"] == "user" or len([m for m in messages if m["role"] == "tool"]) < 6:
            calls = [("look", {"n": len(messages)}), ("look", {"n": len(messages) + 1})]
            return tool_call_reply(calls)
        return text_reply("done")

    async with LocalServer(handler=handler) as server:
        agent = Agent(server.model(), tools=[look], context_policy=DropOldest(), max_turns=8)
        await agent.prompt("look around")
    for request in server.requests:
        messages = sent(request)
        calls = {c["id"] for m in messages for c in m.get("tool_calls") or ()}
        results = {m["tool_call_id"] for m in messages if m["role"] == "tool"}
        assert results <= calls, "a result was sent without its call"
        assert messages[0]["role"] == "user"


def test_cut_points_never_split_a_call_from_its_result() -> None:
    call = ToolCall("c1", "t", {})
    messages: list[Any] = [
        UserMessage("a"),
        AssistantMessage((call,), StopReason.TOOL_USE),
        ToolResultMessage("c1", "t", "r"),
        AssistantMessage((TextContent("b"),), StopReason.STOP),
        UserMessage("c"),
        UserMessage("d"),
    ]
    assert cut_points(messages) == [0, 1, 3, 4, 5]


async def test_summarize_replaces_what_is_left_out_with_a_summary() -> None:
    async with LocalServer(handler=limited) as server:
        agent = Agent(server.model(), messages=history(5), context_policy=Summarize())
        await agent.prompt("and now?")
    retry = server.requests[-1]
    assert sent(retry)[0]["content"].startswith("Summary of the earlier conversation:")
    assert "they talked about numbers" in sent(retry)[0]["content"]
    summary_call = [r for r in server.requests if "Summarise" in json.dumps(sent(r)[:1])]
    assert len(summary_call) == 1


async def test_anthropic_gets_a_valid_trimmed_transcript() -> None:
    def handler(request: RecordedRequest) -> Reply:
        if len(request.json["messages"]) > 6:
            return error_reply(400, "prompt is too long: 300000 tokens > 200000 maximum")
        return anthropic_text_reply("fine")

    async with LocalServer(handler=handler) as server:
        model = server.model(api="anthropic-messages")
        agent = Agent(model, messages=history(4), context_policy=DropOldest())
        new = await agent.prompt("go")
    assert new[-1].text == "fine"  # type: ignore[union-attr]
    roles = [m["role"] for m in server.requests[-1].json["messages"]]
    assert roles[0] == "user" and all(a != b for a, b in itertools.pairwise(roles))
