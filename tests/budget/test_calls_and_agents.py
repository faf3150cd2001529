"""Budgets on real calls against the local server: a single call, an agent's tool
loop, a sub-agent under its caller's budget, and a transcript that goes on after a
stop. On trio and asyncio."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tinyagent import Agent, AgentEndEvent, AgentEvent, complete, serde, stream, tool
from tinyagent.budget import Budget, BudgetError, Spend, charging
from tinyagent.messages import (
    BudgetStopEvent,
    Context,
    FailureKind,
    ModelCost,
    RunEnd,
    StopReason,
    UserMessage,
)
from tinyagent.testing import (
    LocalServer,
    RecordedRequest,
    Reply,
    ToolCallSpec,
    anthropic_text_reply,
    anthropic_tool_call_reply,
    text_reply,
    tool_call_reply,
)

pytestmark = pytest.mark.anyio
PRICES = ModelCost(input=100.0, output=100.0)  # dear, so that pennies are whole calls
CTX = Context("", (UserMessage("hi"),))


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def adding(request: RecordedRequest) -> Reply:
    return tool_call_reply([("add", {"a": 1, "b": 2})], usage=_usage(request))


def _usage(request: RecordedRequest, output: int = 10) -> dict[str, int]:
    return {"prompt_tokens": 40, "completion_tokens": output, "total_tokens": 40 + output}


async def test_a_call_that_does_not_fit_is_not_sent_and_says_why() -> None:
    async with LocalServer(handler=lambda r: text_reply("hello", usage=_usage(r))) as server:
        model = server.model(cost=PRICES)
        b = Budget(max_cost=0.017)
        replies = [await complete(model, CTX, budget=b, max_tokens=50) for _ in range(4)]
    sent = [r for r in replies if r.stop_reason is StopReason.STOP]
    refused = [r for r in replies if r.stop_reason is StopReason.ERROR]
    assert len(server.requests) == len(sent) == 2  # $0.005 each; the third's worst case passes
    assert len(refused) == 2
    failure = refused[0].failure
    assert failure is not None and failure.kind is FailureKind.BUDGET
    assert refused[0].error_message is not None
    assert refused[0].error_message.startswith("budget: the next call (worst case $0.00")
    assert "max_cost cap: $0.0100 of $0.0170 spent" in refused[0].error_message
    assert b.spent == Spend(0.01, 80, 20, 2) and b.in_flight == 0


async def test_calls_inside_charging_draw_on_it_and_a_token_cap_counts_tokens() -> None:
    async with LocalServer(handler=lambda r: text_reply("hello", usage=_usage(r))) as server:
        b = Budget(max_total_tokens=90)
        with charging(b):
            first = await complete(server.model(), CTX, max_tokens=20)
            second = await complete(server.model(), CTX, max_tokens=20)
        outside = await complete(server.model(), CTX, max_tokens=20)
    assert first.stop_reason is StopReason.STOP
    assert second.failure is not None and second.failure.kind is FailureKind.BUDGET
    assert outside.stop_reason is StopReason.STOP  # the block ended: no budget
    assert b.spent.total == 50 and len(server.requests) == 2


async def test_a_stream_left_early_is_charged_for_what_arrived() -> None:
    long_text = "word " * 400
    async with LocalServer(handler=lambda r: text_reply(long_text, chunk_size=20)) as server:
        b = Budget(max_output_tokens=10_000)
        async with stream(server.model(), CTX, budget=b, max_tokens=5000) as events:
            seen = 0
            async for _ in events:
                seen += 1
                if seen == 5:
                    break
        assert b.in_flight == 0 and b.reserved == Spend()
        assert b.spent.requests == 1
        assert 0 < b.spent.output < 5000  # what arrived, not the worst case, not nothing


async def test_an_agent_stops_at_its_cap_with_its_own_stop_reason() -> None:
    async with LocalServer(handler=adding) as server:
        agent = Agent(
            server.model(cost=PRICES), tools=[add], budget=Budget(max_cost=0.05),
            stream_options={"max_tokens": 100},
        )  # fmt: skip
        events: list[Any] = []
        agent.subscribe(events.append)
        messages = await agent.prompt("add forever")  # no exception
    end = events[-1]
    assert isinstance(end, AgentEndEvent) and end.stop_reason is RunEnd.BUDGET
    stop = events[-2]
    assert isinstance(stop, BudgetStopEvent) and stop.limit == "cost" and stop.cap == 0.05
    assert stop.spent.cost <= 0.05 < stop.spent.cost + stop.needed.cost
    assert stop.spent.requests == len(server.requests) >= 2
    assert end.error_message == stop.message
    # It travels as JSON like every event (a served agent sends it).
    data = serde.unstructure(stop)
    assert data["type"] == "budget_stop" and data["spent"]["requests"] == stop.spent.requests
    assert serde.structure(data, AgentEvent) == stop
    last = messages[-1]
    assert last.stop_reason is StopReason.ERROR and not last.content
    # Every tool call was answered before the stop: the transcript can go on.
    calls = [c.id for m in messages if m.role == "assistant" for c in m.tool_calls]
    results = [m.tool_call_id for m in messages if m.role == "toolResult"]
    assert calls == results


async def test_the_next_prompt_continues_the_transcript_after_a_stop() -> None:
    turn = 0

    def script(request: RecordedRequest) -> Reply:
        nonlocal turn
        turn += 1
        return adding(request) if turn == 1 else text_reply("done", usage=_usage(request))

    async with LocalServer(handler=script) as server:
        agent = Agent(server.model(), tools=[add], budget=Budget(max_requests=1))
        first = await agent.prompt("add")
        assert agent.state.messages[-1].failure is not None
        second = await agent.prompt("and now?")
    assert first[-1].failure is not None and first[-1].failure.kind is FailureKind.BUDGET
    assert second[-1].text == "done"
    sent = server.requests[-1].json["messages"]
    roles = [m["role"] for m in sent]
    assert roles == ["user", "assistant", "tool", "user"]  # the unsent reply is not sent


async def test_an_anthropic_transcript_goes_on_after_a_stop() -> None:
    turn = 0

    def script(request: RecordedRequest) -> Reply:
        nonlocal turn
        turn += 1
        if turn == 1:
            return anthropic_tool_call_reply([ToolCallSpec("add", {"a": 1, "b": 2}, "t1")])
        return anthropic_text_reply("done")

    async with LocalServer(handler=script) as server:
        model = server.model(api="anthropic-messages")
        agent = Agent(model, tools=[add], budget=Budget(max_requests=1))
        await agent.prompt("add")
        second = await agent.prompt("and now?")
    assert second[-1].text == "done"
    sent = server.requests[-1].json["messages"]
    roles = [m["role"] for m in sent]
    assert roles[:2] == ["user", "assistant"] and roles[-1] == "user"
    assert all(a != b for a, b in itertools.pairwise(roles))  # alternating


async def test_each_run_gets_the_caps_afresh_unless_the_agent_s_life_is_capped() -> None:
    async with LocalServer(handler=lambda r: text_reply("hi", usage=_usage(r))) as server:
        per_run = Agent(server.model(), budget=Budget(max_requests=1))
        for _ in range(3):
            assert (await per_run.prompt("hello"))[-1].text == "hi"
        life = Budget(max_requests=2)
        lifelong = Agent(server.model(), budget=life, budget_scope="agent")
        texts = [(await lifelong.prompt("hello"))[-1].text for _ in range(3)]
    assert texts == ["hi", "hi", ""]
    assert life.spent.requests == 2 and len(server.requests) == 5


async def test_a_sub_agent_draws_on_its_caller_s_budget() -> None:
    def script(request: RecordedRequest) -> Reply:
        system = request.json["messages"][0]["content"]
        if system == "worker":  # the worker adds forever
            return adding(request)
        done = any(m["role"] == "tool" for m in request.json["messages"])
        if done:
            return text_reply("finished", usage=_usage(request))
        return tool_call_reply([ToolCallSpec("helper", {"task": "add"}, "h1")])

    async with LocalServer(handler=script) as server:
        worker = Agent(server.model(), "worker", [add])
        budget = Budget(max_requests=4)
        boss = Agent(
            server.model(), "boss", [worker.as_tool("helper", "Adds.")],
            budget=budget, budget_scope="agent",
        )  # fmt: skip
        events: list[Any] = []
        boss.subscribe(events.append)
        await boss.prompt("get it done")
    # The boss's first call, then the worker's three: the fifth call (the boss's
    # second, or the worker's fourth) does not fit the caller's cap of four.
    assert len(server.requests) == 4
    assert budget.spent.requests == 4
    assert events[-1].stop_reason is RunEnd.BUDGET


async def test_a_dollar_cap_with_no_price_fails_before_anything_is_sent() -> None:
    async with LocalServer(handler=lambda r: text_reply("hi")) as server:
        agent = Agent(server.model(), budget=Budget(max_cost=1.0))
        with pytest.raises(BudgetError, match="has none in the catalogue"):
            await agent.prompt("hello")
        assert server.requests == []
        with pytest.raises(BudgetError, match="no known maximum output"):
            await Agent(server.model(), budget=Budget(max_total_tokens=9)).prompt("hello")
        ok = Agent(
            server.model(), budget=Budget(max_cost=1.0, prices=PRICES),
            stream_options={"max_tokens": 10},
        )  # fmt: skip
        assert (await ok.prompt("hello"))[-1].text == "hi"


async def test_bad_budget_options_are_refused_where_they_are_written() -> None:
    with pytest.raises(TypeError, match=r"budget must be a tinyagent\.budget\.Budget"):
        Agent(budget=5.0)
    with pytest.raises(ValueError, match="budget_scope must be 'run' or 'agent'"):
        Agent(budget=Budget(max_requests=1), budget_scope="life")
    async with LocalServer(handler=lambda r: text_reply("hi")) as server:
        with pytest.raises(TypeError, match=r"budget must be a tinyagent\.budget\.Budget"):
            await complete(server.model(), CTX, budget="lots")
