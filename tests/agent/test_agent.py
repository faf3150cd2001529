"""The agent loop and the Agent facade, end to end through the local server."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

import tinyagent
from tinyagent import (
    Agent,
    AgentBusyError,
    AgentEndEvent,
    AssistantMessage,
    MessageUpdateEvent,
    StopReason,
    TextDeltaEvent,
    Tool,
    ToolError,
    ToolExecutionUpdateEvent,
    ToolResult,
    ToolResultMessage,
    TurnSettings,
    UserMessage,
    agent_loop,
)
from tinyagent.testing import (
    LocalServer,
    RecordedRequest,
    Reply,
    ToolCallSpec,
    error_reply,
    text_reply,
    tool_call_reply,
)

from ..agent_helpers import add_tool, blocker, failing, settled_task_count, sleeper

pytestmark = pytest.mark.anyio


def results_of(messages: list[Any]) -> list[ToolResultMessage]:
    return [m for m in messages if isinstance(m, ToolResultMessage)]


def assert_valid_transcript(messages: list[Any]) -> None:
    """Every tool call has exactly one result, after it."""
    seen_calls: list[str] = []
    answered: dict[str, int] = {}
    for m in messages:
        if isinstance(m, AssistantMessage):
            seen_calls += [c.id for c in m.tool_calls]
        elif isinstance(m, ToolResultMessage):
            assert m.tool_call_id in seen_calls, f"result for unknown call {m.tool_call_id}"
            answered[m.tool_call_id] = answered.get(m.tool_call_id, 0) + 1
    assert answered == dict.fromkeys(seen_calls, 1), (seen_calls, answered)


async def test_plain_reply() -> None:
    async with LocalServer([text_reply("Hello there.")]) as server:
        agent = Agent(server.model(), "Be brief.")
        assert await agent.prompt_text("hi") == "Hello there."
        body = server.requests[0].json
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    roles = [m.role for m in agent.state.messages]
    assert roles == ["user", "assistant"]
    assert agent.state.is_streaming is False


async def test_tool_round_trip_with_updates_and_details() -> None:
    async with LocalServer(
        [tool_call_reply([("add", {"a": 2, "b": 3})]), text_reply("5")]
    ) as server:
        agent = Agent(server.model(), tools=[add_tool])
        events: list[Any] = []
        agent.subscribe(events.append)
        assert await agent.prompt_text("2+3?") == "5"
        second = server.requests[1].json["messages"]
    (result,) = results_of(list(agent.state.messages))
    assert result.text == "5" and not result.is_error and result.details == {"sum": 5}
    assert second[-1] == {"role": "tool", "tool_call_id": "call_0", "content": "5"}
    updates = [e for e in events if isinstance(e, ToolExecutionUpdateEvent)]
    assert [u.partial for u in updates] == [{"step": "adding"}]
    types = [e.type for e in events]
    assert types[0] == "agent_start" and types[-1] == "agent_end" and types.count("agent_end") == 1
    assert types.count("turn_start") == 2 == types.count("turn_end")


async def test_parallel_tools_finish_out_of_order_results_in_call_order() -> None:
    fast_done = anyio.Event()
    order: list[str] = []

    async def slow(call_id: str, args: dict[str, Any], update: Any) -> str:
        await fast_done.wait()  # only finishes if "fast" ran concurrently
        order.append("slow")
        return "slow result"

    async def fast(call_id: str, args: dict[str, Any], update: Any) -> str:
        order.append("fast")
        fast_done.set()
        return "fast result"

    tools = [Tool("slow", "", {"type": "object"}, slow), Tool("fast", "", {"type": "object"}, fast)]
    replies = [tool_call_reply([("slow", {}), ("fast", {})]), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=tools)
        with anyio.fail_after(10):
            await agent.prompt("go")
    assert order == ["fast", "slow"]
    assert [r.text for r in results_of(list(agent.state.messages))] == [
        "slow result",
        "fast result",
    ]


@pytest.mark.parametrize(
    ("call", "expect"),
    [
        (ToolCallSpec("missing", {}), "Unknown tool 'missing'. Available tools: add."),
        (ToolCallSpec("add", '{"a": 1, "b":'), "could not be used: arguments are not valid JSON"),
        (ToolCallSpec("add", {"a": 1}), "'b' is a required property"),
        (ToolCallSpec("add", {"a": 1, "b": "two"}), "b: 'two' is not of type 'number'"),
        (ToolCallSpec("add", {"a": 1, "b": 2, "c": 3}), "Additional properties are not allowed"),
    ],
)
async def test_bad_calls_become_error_results_and_the_run_goes_on(
    call: ToolCallSpec, expect: str
) -> None:
    async with LocalServer([tool_call_reply([call]), text_reply("sorry")]) as server:
        agent = Agent(server.model(), tools=[add_tool])
        text = await agent.prompt_text("go")
        sent = server.requests[1].json["messages"]
    assert text == "sorry"
    (r,) = results_of(list(agent.state.messages))
    assert r.is_error and expect in r.text
    assert sent[-1]["role"] == "tool" and expect in sent[-1]["content"]
    if isinstance(call.arguments, str):  # the raw text is quoted back to the model
        assert call.arguments in r.text


async def test_tool_exceptions_become_error_results() -> None:
    tools = [
        failing("boom", RuntimeError("disk full")),
        failing("polite", ToolError("Say please.")),
    ]
    replies = [tool_call_reply([("boom", {}), ("polite", {})]), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=tools)
        await agent.prompt("go")
    boom, polite = results_of(list(agent.state.messages))
    assert boom.is_error and "RuntimeError: disk full" in boom.text
    assert polite.is_error and polite.text == "Say please."


async def test_tool_timeout_is_an_error_result() -> None:
    tools = [sleeper("slow", 30, timeout=0.05), sleeper("quick", 0)]
    replies = [tool_call_reply([("slow", {}), ("quick", {})]), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=tools)
        await agent.prompt("go")
    slow, quick = results_of(list(agent.state.messages))
    assert slow.is_error and "timed out after 0.05 s" in slow.text
    assert not quick.is_error and quick.text == "quick done"


async def test_output_limit_means_tool_calls_are_not_run() -> None:
    ran: list[str] = []

    async def record(call_id: str, args: dict[str, Any], update: Any) -> str:
        ran.append(call_id)
        return "ran"

    tool = Tool("t", "", {"type": "object"}, record)
    replies = [tool_call_reply([("t", {})], finish_reason="length"), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[tool])
        await agent.prompt("go")
    assert ran == []
    (r,) = results_of(list(agent.state.messages))
    assert r.is_error and "cut off by the output token limit" in r.text and "again" in r.text


async def test_sequential_tools_run_one_at_a_time_in_order() -> None:
    running = 0
    peak = 0
    order: list[str] = []

    def make(name: str, sequential: bool) -> Tool:
        async def run(call_id: str, args: dict[str, Any], update: Any) -> str:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            order.append(name)
            await anyio.sleep(0.01)
            running -= 1
            return name

        return Tool(name, "", {"type": "object"}, run, sequential=sequential)

    tools = [make("a", True), make("b", True)]
    replies = [tool_call_reply([("a", {}), ("b", {}), ("a", {})]), text_reply("ok")]
    async with LocalServer(replies) as server:
        await Agent(server.model(), tools=tools).prompt("go")
    assert peak == 1 and order == ["a", "b", "a"]


async def test_max_concurrent_tools_limits_parallelism() -> None:
    running = 0
    peak = 0

    async def run(call_id: str, args: dict[str, Any], update: Any) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.01)
        running -= 1
        return "ok"

    tool = Tool("w", "", {"type": "object"}, run)
    replies = [tool_call_reply([("w", {})] * 5), text_reply("ok")]
    async with LocalServer(replies) as server:
        await Agent(server.model(), tools=[tool], max_concurrent_tools=2).prompt("go")
    assert peak == 2


async def test_steering_arrives_after_the_tool_batch_before_next_call() -> None:
    agent: Agent

    async def steer_now(call_id: str, args: dict[str, Any], update: Any) -> str:
        agent.steer("Actually, use metric units.")
        return "tool output"

    tool = Tool("t", "", {"type": "object"}, steer_now)
    replies = [tool_call_reply([("t", {})]), text_reply("Metric it is.")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[tool])
        await agent.prompt("go")
        second = server.requests[1].json["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "tool", "user"]
    assert second[-1]["content"] == "Actually, use metric units."


async def test_follow_up_starts_another_turn_when_the_run_would_stop() -> None:
    replies = [text_reply("first answer"), text_reply("second answer")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model())
        agent.follow_up("And another thing.")
        new = await agent.prompt("first")
        assert len(server.requests) == 2
    assert [m.role for m in new] == ["user", "assistant", "user", "assistant"]
    assert new[-1].text == "second answer"  # type: ignore[union-attr]


async def test_terminate_ends_the_run_after_the_batch() -> None:
    async def stop(call_id: str, args: dict[str, Any], update: Any) -> ToolResult:
        return ToolResult("final", terminate=True)

    tool = Tool("stop", "", {"type": "object"}, stop)
    async with LocalServer([tool_call_reply([("stop", {})])]) as server:
        agent = Agent(server.model(), tools=[tool])
        async with agent.stream("go") as run:
            events = [e async for e in run]
        assert len(server.requests) == 1
    end = events[-1]
    assert isinstance(end, AgentEndEvent) and end.stop_reason == "terminated"


async def test_before_and_after_tool_call_hooks() -> None:
    def before(call: Any) -> ToolResult | None:
        return ToolResult("blocked by policy") if call.arguments.get("a") == 666 else None

    async def after(call: Any, result: ToolResult) -> ToolResult | None:
        return ToolResult(result.text + " (checked)")

    replies = [
        tool_call_reply([("add", {"a": 666, "b": 1}), ("add", {"a": 1, "b": 1})]),
        text_reply("ok"),
    ]
    async with LocalServer(replies) as server:
        agent = Agent(
            server.model(), tools=[add_tool], before_tool_call=before, after_tool_call=after
        )
        await agent.prompt("go")
    blocked, ok = results_of(list(agent.state.messages))
    assert blocked.text == "blocked by policy (checked)"
    assert ok.text == "2 (checked)"


async def test_should_stop_after_turn_and_max_turns() -> None:
    replies = [tool_call_reply([("add", {"a": 1, "b": 1})])] * 3
    async with LocalServer(replies) as server:
        agent = Agent(
            server.model(), tools=[add_tool], should_stop_after_turn=lambda end: end.turn >= 1
        )
        async with agent.stream("go") as run:
            events = [e async for e in run]
        assert events[-1].stop_reason == "stopped" and len(server.requests) == 1
        agent2 = Agent(server.model(), tools=[add_tool], max_turns=2)
        async with agent2.stream("go") as run:
            events = [e async for e in run]
        assert events[-1].stop_reason == "max_turns" and len(server.requests) == 3


async def test_transform_context_and_convert_to_llm() -> None:
    class Note:
        role = "note"

        def __init__(self, text: str) -> None:
            self.text = text

    def convert(messages: list[Any]) -> list[Any]:
        return [UserMessage(f"[note] {m.text}") if isinstance(m, Note) else m for m in messages]

    def keep_last_two(messages: list[Any]) -> list[Any]:
        return messages[-2:]

    async with LocalServer([text_reply("ok")]) as server:
        agent = Agent(
            server.model(),
            messages=[UserMessage("old 1"), UserMessage("old 2"), Note("remember")],  # type: ignore[list-item]
            transform_context=keep_last_two,
            convert_to_llm=convert,
        )
        await agent.prompt("now")
        sent = server.requests[0].json["messages"]
    assert sent == [
        {"role": "user", "content": "[note] remember"},
        {"role": "user", "content": "now"},
    ]


async def test_api_key_callback_and_before_turn_model_switch() -> None:
    keys = iter(["key-1", "key-2"])
    replies = [tool_call_reply([("add", {"a": 1, "b": 1})]), text_reply("ok")]
    async with LocalServer(replies) as server:

        def before_turn(turn: int, model: Any) -> TurnSettings | None:
            return TurnSettings(server.model("bigger-model"), "high") if turn == 2 else None

        agent = Agent(
            server.model(),
            tools=[add_tool],
            get_api_key=lambda m: next(keys),
            before_turn=before_turn,
        )
        await agent.prompt("go")
        auth = [r.headers["authorization"] for r in server.requests]
        bodies = [r.json for r in server.requests]
    assert auth == ["Bearer key-1", "Bearer key-2"]
    assert bodies[0]["model"] == "mock-model" and "reasoning_effort" not in bodies[0]
    assert bodies[1]["model"] == "bigger-model" and bodies[1]["reasoning_effort"] == "high"


async def test_provider_error_ends_run_with_error_and_continue_retries() -> None:
    async with LocalServer([error_reply(500, "overloaded"), text_reply("recovered")]) as server:
        agent = Agent(server.model(), stream_options={"max_retries": 0})
        new = await agent.prompt("hi")
        assert isinstance(new[-1], AssistantMessage) and new[-1].stop_reason is StopReason.ERROR
        assert agent.state.last_error is not None and "overloaded" in agent.state.last_error
        again = await agent.continue_()
    assert again[-1].text == "recovered"  # type: ignore[union-attr]
    assert [m.role for m in agent.state.messages] == ["user", "assistant"]
    assert agent.state.last_error is None


async def test_second_prompt_while_running_raises() -> None:
    started = anyio.Event()
    replies = [tool_call_reply([("block", {})]), text_reply("done")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[blocker("block", started)])
        async with anyio.create_task_group() as tg:
            tg.start_soon(agent.prompt, "first")
            await started.wait()
            with pytest.raises(AgentBusyError, match="already running"):
                await agent.prompt("second")
            agent.abort()


async def test_usage_summed_per_run_and_over_life() -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 5}
    async with LocalServer([text_reply("a", usage=usage), text_reply("b", usage=usage)]) as server:
        agent = Agent(server.model())
        async with agent.stream("one") as run:
            async for _ in run:
                pass
        assert run.usage.output == 5
        await agent.prompt("two")
    assert (agent.usage.input, agent.usage.output) == (20, 10)


async def test_stream_text_yields_only_text() -> None:
    async with LocalServer([text_reply("chunked text here", chunk_size=4)]) as server:
        agent = Agent(server.model())
        async with agent.stream_text("hi") as texts:
            parts = [t async for t in texts]
    assert "".join(parts) == "chunked text here" and len(parts) == 5


async def test_unsubscribe_stops_callbacks() -> None:
    async with LocalServer([text_reply("a"), text_reply("b")]) as server:
        agent = Agent(server.model())
        seen: list[str] = []
        off = agent.subscribe(lambda e: seen.append(e.type))
        await agent.prompt("one")
        n = len(seen)
        off()
        await agent.prompt("two")
    assert n > 0 and len(seen) == n


async def test_cancel_one_tool_call_while_siblings_go_on() -> None:
    started = anyio.Event()
    agent: Agent

    async def fine(call_id: str, args: dict[str, Any], update: Any) -> str:
        await started.wait()
        assert agent.cancel_tool_call("call_0") is True
        await anyio.sleep(0.01)
        return "sibling finished"

    tools = [blocker("stuck", started), Tool("fine", "", {"type": "object"}, fine)]
    replies = [tool_call_reply([("stuck", {}), ("fine", {})]), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=tools)
        with anyio.fail_after(10):
            text = await agent.prompt_text("go")
    stuck, sibling = results_of(list(agent.state.messages))
    assert stuck.is_error and "aborted" in stuck.text
    assert not sibling.is_error and sibling.text == "sibling finished"
    assert text == "ok"


async def test_backpressure_slow_consumer_bounds_the_run() -> None:
    produced = 0

    def count(e: Any) -> None:
        nonlocal produced
        produced += 1

    async with LocalServer([text_reply("x" * 200, chunk_size=1)]) as server:
        async with agent_loop(
            server.model(), [], prompts=[UserMessage("go")], listeners=[count], event_buffer=2
        ) as run:
            consumed = 0
            max_ahead = 0
            async for _ in run:
                consumed += 1
                await anyio.lowlevel.checkpoint()
                max_ahead = max(max_ahead, produced - consumed)
    assert consumed > 200
    assert max_ahead <= 4  # buffer of 2, one in flight, one being listened to


def _stop_reasons(events: list[Any]) -> list[str]:
    return [e.stop_reason for e in events if isinstance(e, AgentEndEvent)]


# --- abort at each phase: transcript valid, agent_end once, no task or connection left ---


async def _abort_scenario(phase: str, transport: str) -> None:
    started = anyio.Event()
    replies: list[Reply]
    if phase == "model_stream":
        replies = [text_reply("y" * 500, chunk_size=1, chunk_delay=0.005)]
    elif phase == "tools":
        replies = [tool_call_reply([("block", {}), ("add", {"a": 1, "b": 2})])]
    else:  # between turns: abort from the end of the first turn
        replies = [tool_call_reply([("add", {"a": 1, "b": 2})]), text_reply("never", delay=5)]
    async with LocalServer(replies) as server:
        before = await settled_task_count()
        agent = Agent(
            server.model(),
            tools=[blocker("block", started), add_tool],
            stream_options={"transport": transport},
        )
        events: list[Any] = []

        def watch(e: Any) -> None:
            events.append(e)
            if (
                phase == "model_stream"
                and isinstance(e, MessageUpdateEvent)
                and isinstance(e.event, TextDeltaEvent)
            ):
                started.set()
            if phase == "between_turns" and e.type == "turn_end":
                agent.abort("user pressed stop")

        agent.subscribe(watch)
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                await agent.prompt("go")

            tg.start_soon(run)
            if phase != "between_turns":
                await started.wait()
                agent.abort("user pressed stop")
        assert await server.wait_responses_done()
        if transport == "httpx":
            # The run's own connection pool is closed with the run.
            assert await server.wait_connections_closed()
        assert await settled_task_count() == before
        assert all(r.finished or r.client_disconnected for r in server.requests)
    msgs = list(agent.state.messages)
    assert_valid_transcript(msgs)
    assert _stop_reasons(events) == ["aborted"] and events[-1].type == "agent_end"
    assert agent.state.is_streaming is False
    if phase == "model_stream":
        assert server.requests[0].client_disconnected  # the aborted stream's connection closed
        last = msgs[-1]
        assert isinstance(last, AssistantMessage) and last.stop_reason is StopReason.ABORTED
        assert last.error_message == "user pressed stop" and 0 < len(last.text) < 500
    if phase == "tools":
        block, _ = results_of(msgs)
        assert block.is_error and "Tool call aborted: user pressed stop" in block.text
    if phase == "between_turns":
        assert len(server.requests) in (1, 2)


@pytest.mark.parametrize("phase", ["model_stream", "tools", "between_turns"])
async def test_abort_at_each_phase(phase: str, transport: str) -> None:
    with anyio.fail_after(20):
        await _abort_scenario(phase, transport)


async def test_abort_keeps_queued_messages() -> None:
    started = anyio.Event()
    async with LocalServer([tool_call_reply([("block", {})]), text_reply("later")]) as server:
        agent = Agent(server.model(), tools=[blocker("block", started)])
        async with anyio.create_task_group() as tg:
            tg.start_soon(agent.prompt, "go")
            await started.wait()
            agent.follow_up("don't lose me")
            agent.abort()
        assert [m.text for m in agent.queued] == ["don't lose me"]  # type: ignore[union-attr]
        new = await agent.continue_()
    assert new[0].text == "don't lose me"  # type: ignore[union-attr]


async def test_cancelling_the_caller_scope_cleans_up_like_abort() -> None:
    started = anyio.Event()
    async with LocalServer([tool_call_reply([("block", {})])]) as server:
        before = await settled_task_count()
        agent = Agent(server.model(), tools=[blocker("block", started)])
        with anyio.move_on_after(10) as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(agent.prompt, "go")
                await started.wait()
                tg.cancel_scope.cancel()
        assert not scope.cancelled_caught
        assert await server.wait_responses_done()
        assert await settled_task_count() == before
    assert_valid_transcript(list(agent.state.messages))
    assert agent.state.is_streaming is False


async def test_leaving_agent_loop_early_aborts_and_cleans_up() -> None:
    async with LocalServer([text_reply("z" * 300, chunk_size=1, chunk_delay=0.005)]) as server:
        before = await settled_task_count()
        transcript: list[Any] = []
        async with agent_loop(server.model(), transcript, prompts=[UserMessage("go")]) as run:
            async for e in run:
                if isinstance(e, MessageUpdateEvent) and isinstance(e.event, TextDeltaEvent):
                    break
        assert run.result is not None and run.result.stop_reason == "aborted"
        assert await server.wait_responses_done()
        assert await settled_task_count() == before
    assert (
        isinstance(transcript[-1], AssistantMessage)
        and transcript[-1].stop_reason is StopReason.ABORTED
    )


async def test_handler_driven_multi_turn_conversation() -> None:
    # A server that answers from the request: tool call until 3 results, then text.
    def handler(req: RecordedRequest) -> Reply:
        n = sum(1 for m in req.json["messages"] if m["role"] == "tool")
        if n < 3:
            return tool_call_reply([ToolCallSpec("add", {"a": n, "b": 1}, f"c{n}")])
        return text_reply(f"done after {n}")

    async with LocalServer(handler=handler) as server:
        agent = Agent(server.model(), tools=[add_tool])
        assert await agent.prompt_text("count") == "done after 3"
    assert [r.text for r in results_of(list(agent.state.messages))] == ["1", "2", "3"]


async def test_run_sync_from_a_script() -> None:
    # run_sync starts its own trio loop, so it must run outside this one: in a thread.
    import threading

    out: list[str] = []

    def script() -> None:
        async def main() -> str:
            async with LocalServer([text_reply("sync hello")]) as server:
                return await Agent(server.model()).prompt_text("hi")

        out.append(tinyagent.run_sync(main))

    t = threading.Thread(target=script)
    t.start()
    await anyio.to_thread.run_sync(t.join)
    assert out == ["sync hello"]


async def test_deadline_in_real_time_on_both_backends() -> None:
    # The MockClock tests cover the timing on trio; this checks the same ending on both
    # event loops (and the native transport) with a short real deadline.
    async with LocalServer([tool_call_reply([("block", {})]), text_reply("never")]) as server:
        before = await settled_task_count()
        async with agent_loop(
            server.model(), [], prompts=[UserMessage("go")], tools=[blocker("block")], deadline=0.5
        ) as run:
            events = [e async for e in run]
        assert await server.wait_responses_done()
        assert await settled_task_count() == before
    end = events[-1]
    assert isinstance(end, AgentEndEvent) and end.stop_reason == "deadline"
    (r,) = results_of(run.new_messages)
    assert r.is_error and "deadline of 0.5 s passed" in r.text
    assert_valid_transcript(run.new_messages)


def test_unanswered_tool_calls_and_state_snapshot() -> None:
    call = tinyagent.ToolCall("c9", "add", {"a": 1, "b": 2})
    agent = Agent(
        None,
        messages=[UserMessage("hi"), AssistantMessage([call], "tool_use")],
    )
    assert agent.unanswered_tool_calls() == (call,)
    state = agent.state
    assert state.is_streaming is False and state.pending_tool_calls == frozenset()
    assert state.messages == agent.messages and len(state.messages) == 2
